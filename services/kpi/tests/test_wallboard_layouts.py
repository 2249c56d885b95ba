"""Wallboard layouts, the page's embedded settings, banners and words, without I/O."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.wallboard import page
from coachline_kpi.wallboard.banners import Banner, for_board
from coachline_kpi.wallboard.figures import current_windows
from coachline_kpi.wallboard.layouts import Language, Layout, Wallboard
from coachline_kpi.wallboard.tiles import DEFAULT_TILES, TILE_NAMES, TILES, Corner, Window
from coachline_kpi.wallboard.translations import TEXTS

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def board(name: str = "Billing floor", **layout: object) -> Wallboard:
    shape = {"scopes": [{"scope": "queue", "scope_id": "billing"}, {"scope": "tenant"}], **layout}
    return Wallboard(wallboard_id="wb-0123456789abcdef", name=name, language=Language.FI,
                     layout=Layout.model_validate(shape).for_tenant("acme"), created_at=NOW, updated_at=NOW)


def test_a_layout_never_shows_one_agent() -> None:
    with pytest.raises(ValidationError, match="scopes"):
        Layout.model_validate({"scopes": [{"scope": "agent", "scope_id": "a-1"}]})


@pytest.mark.parametrize("shape, field", [
    ({"scopes": []}, "scopes"),
    ({"scopes": [{"scope": "queue"}]}, "scope_id"),
    ({"scopes": [{"scope": "queue", "scope_id": "q"}], "tiles": ["made_up"]}, "unknown tiles"),
    ({"scopes": [{"scope": "queue", "scope_id": "q"}], "tiles": ["aht_s", "aht_s"]}, "twice"),
    ({"scopes": [{"scope": "queue", "scope_id": "q"}, {"scope": "queue", "scope_id": "q"}]}, "twice"),
    ({"scopes": [{"scope": "queue", "scope_id": "q"}], "colour": "red"}, "colour"),
    ({"scopes": [{"scope": "queue", "scope_id": "q", "members": True}]}, "team scope only"),
    ({"scopes": [{"scope": "team", "scope_id": "t"}], "member_tiles": []}, "member_tiles"),
    ({"scopes": [{"scope": "queue", "scope_id": "q"}], "tiles": ["aht_s"], "windows": {"csat": "week"}},
     "does not show: csat"),
    ({"scopes": [{"scope": "queue", "scope_id": "q"}], "windows": {"waiting_now": "day"}}, "always show now"),
    ({"scopes": [{"scope": "queue", "scope_id": "q"}], "windows": {"aht_s": "month"}}, "windows.aht_s"),
])
def test_a_layout_refuses_what_it_cannot_show(shape: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Layout.model_validate(shape)


def test_the_tenant_scope_is_the_callers_tenant() -> None:
    layout = Layout.model_validate({"scopes": [{"scope": "tenant", "scope_id": "someone-else"}]}).for_tenant("acme")
    assert layout.scope_keys() == {("tenant", "acme")}


def test_every_language_has_every_word_and_every_tile_a_label() -> None:
    assert set(TEXTS) == {language.value for language in Language}
    for words in TEXTS.values():
        assert set(words) == set(TEXTS["en"])
        assert all(f"kpi.{name}" in words for name in TILE_NAMES)
        assert all(f"corner.{corner.value}" in words for corner in Corner)
        assert all(f"window.{window.value}" in words for window in Window)


def test_a_layout_chooses_each_tiles_window_and_the_board_reads_just_those_windows() -> None:
    layout = Layout.model_validate({"scopes": [{"scope": "queue", "scope_id": "q"}],
                                    "tiles": ["aht_s", "csat", "offered", "waiting_now", "coaching_sessions"],
                                    "windows": {"aht_s": "15m", "csat": "30d", "offered": "week"}})
    assert [layout.window_of(t) for t in layout.tiles] == ["15m", "30d", "week", "now", "period"]
    assert layout.window_kinds() == {"15m", "day", "week", "period", "30d"}
    at = datetime(2026, 11, 29, 22, 7, tzinfo=UTC)  # Monday 00:07 in Helsinki
    assert current_windows(at, TenantPolicy(time_zone="Europe/Helsinki"), layout.window_kinds()) == [
        "15m:2026-11-29T22:00", "day:2026-11-30", "week:2026-11-30", "period:2026-11", "30d:2026-11-30"]
    assert current_windows(at, TenantPolicy(), Layout.model_validate({"scopes": [{"scope": "tenant"}]}).window_kinds()
                           ) == ["day:2026-11-29", "period:2026-11"]


def test_the_default_tiles_cover_every_corner_of_the_goal_triangle() -> None:
    corners = {t.corner for t in TILES if t.kpi in DEFAULT_TILES}
    assert corners == set(Corner)
    assert set(DEFAULT_TILES) <= TILE_NAMES


def embedded(html: str) -> dict[str, object]:
    found = re.search(r'<script id="wallboard-config" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


@given(st.text(min_size=1, max_size=120))
def test_a_board_name_cannot_break_out_of_the_page(name: str) -> None:
    html = page.render(board(name))
    assert embedded(html)["name"] == name
    assert html.count("<script") == 2  # the settings and the script, nothing injected
    assert "{{" not in html.replace(name, "")


def test_the_page_carries_layout_words_and_stream_but_no_secret() -> None:
    html = page.render(board())
    settings = embedded(html)
    assert settings["language"] == "fi"
    assert settings["texts"]["not_enough_data"] == "liian vähän tietoa"
    assert settings["stream"] == "../v1/wallboards/wb-0123456789abcdef/stream"
    assert "wbt_" not in html
    assert '<html lang="fi">' in html


def banner(banner_id: str, *, scope: str = "queue", scope_id: str = "billing", language: str = "en",
           news: str | None = None, minutes: int = 30) -> Banner:
    return Banner(banner_id=banner_id, kind="announcement", severity="info", scope=scope, scope_id=scope_id,
                  title="t", text="", language=language, source_event_id=news, published_at=NOW - timedelta(minutes=1),
                  expires_at=NOW + timedelta(minutes=minutes))


def test_a_board_shows_its_scopes_banners_in_its_own_language() -> None:
    shown = for_board([
        banner("b-1"),
        banner("b-2", scope="queue", scope_id="sales"),  # another queue
        banner("b-3", scope="tenant", scope_id="acme"),
        banner("b-4", scope="tenant", scope_id="other-tenant"),
        banner("b-5", news="al-1", language="en"),
        banner("b-6", news="al-1", language="fi"),
        banner("b-7", news="al-2", language="sv"),
        banner("b-8", minutes=-5),  # expired
        banner("b-9", scope="unit", scope_id="helsinki"),
    ], board().layout, "acme", "fi", NOW)
    assert {b.banner_id for b in shown} == {"b-1", "b-3", "b-6", "b-7"}
