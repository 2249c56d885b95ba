"""A wallboard stream with in-memory figures: bursts coalesce, other scopes and agents stay out, resume skips
what the browser has."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from coachline_kpi.live import ChangeFeed
from coachline_kpi.wallboard.banners import Banner
from coachline_kpi.wallboard.delivery import event_id, micros
from coachline_kpi.wallboard.figures import ScopeKey, ScopeUpdate
from coachline_kpi.wallboard.layouts import Language, Layout, Wallboard
from coachline_kpi.wallboard.stream import board_events

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BOARD = Wallboard(wallboard_id="wb-0123456789abcdef", name="Floor", language=Language.EN, created_at=NOW,
                  updated_at=NOW, layout=Layout.model_validate(
                      {"scopes": [{"scope": "queue", "scope_id": "billing"}, {"scope": "team", "scope_id": "north"}]}))


class Figures:
    """Stands in for the projections: records what the stream asked for."""

    def __init__(self, updated: dict[ScopeKey, datetime]) -> None:
        self.updated = updated
        self.reads: list[set[ScopeKey]] = []
        self.kinds: set[str] = set()

    async def read(self, tenant_id: str, scopes: Iterable[ScopeKey], now: datetime,
                   member_teams: Iterable[str] = (), kinds: Iterable[str] = ()) -> list[ScopeUpdate]:
        asked = set(scopes)
        self.reads.append(asked)
        self.kinds = set(kinds)
        return [ScopeUpdate(scope=s, scope_id=i, windows={"day:2026-11-23": {"offered": Decimal(len(self.reads))}},
                            updated_at=self.updated[(s, i)]) for s, i in sorted(asked) if (s, i) in self.updated]


async def no_banners() -> list[Banner]:
    return []


async def always_open() -> bool:
    return True


def changed(feed: ChangeFeed, *keys: tuple[str, str]) -> None:
    payload = {"tenant_id": "acme", "keys": [[s, i, "day:2026-11-23"] for s, i in keys]}
    feed._on_figures(None, 0, "kpi_changed", json.dumps(payload))


@pytest.fixture
def feed() -> ChangeFeed:
    return ChangeFeed("postgresql://not-connected")  # notices are fed by hand below


async def events_of(feed: ChangeFeed, figures: Figures, last_event_id: str | None) -> AsyncIterator[dict[str, Any]]:
    return board_events(BOARD, "acme", feed, figures.read, no_banners, last_event_id, always_open, interval=0.2)


async def test_a_burst_of_changes_is_one_read_and_one_update_and_never_shows_an_agent(feed: ChangeFeed) -> None:
    figures = Figures({("queue", "billing"): NOW, ("team", "north"): NOW, ("agent", "a-1"): NOW})
    stream = await events_of(feed, figures, None)
    assert "retry" in await anext(stream)
    first = [json.loads((await anext(stream))["data"]) for _ in range(2)]
    assert {(u["scope"], u["scope_id"]) for u in first} == {("queue", "billing"), ("team", "north")}
    assert (await anext(stream))["event"] == "banners"

    for _ in range(50):
        changed(feed, ("queue", "billing"), ("agent", "a-1"), ("queue", "another-floor"))
    update = await anext(stream)
    assert update["event"] == "figures"
    assert json.loads(update["data"])["scope_id"] == "billing"
    assert figures.reads[-1] == {("queue", "billing")}
    assert len(figures.reads) == 2  # the initial read and one for the whole burst
    assert figures.kinds == {"day", "period"}  # the default tiles' windows: today and the coaching period
    assert all(("agent", "a-1") not in read for read in figures.reads)

    # The next thing out is the banner change, not a second update from the burst.
    feed._on_banners(None, 0, "kpi_banners_changed", json.dumps({"tenant_id": "acme"}))
    assert (await anext(stream))["event"] == "banners"
    await stream.aclose()


async def test_a_reconnect_gets_only_what_changed_since_its_last_event(feed: ChangeFeed) -> None:
    figures = Figures({("queue", "billing"): NOW, ("team", "north"): NOW - timedelta(hours=1)})
    stream = await events_of(feed, figures, event_id(micros(NOW - timedelta(seconds=1))))
    assert "retry" in await anext(stream)
    resent = await anext(stream)
    assert json.loads(resent["data"])["scope_id"] == "billing"
    assert resent["id"] == event_id(micros(NOW))
    assert (await anext(stream))["event"] == "banners"
    await stream.aclose()


async def test_a_stream_whose_token_was_revoked_ends(feed: ChangeFeed) -> None:
    figures = Figures({})
    answers = iter([False])

    async def revoked() -> bool:
        return next(answers)

    stream = board_events(BOARD, "acme", feed, figures.read, no_banners, None, revoked, interval=0.2)
    assert [e.get("event") async for e in stream] == [None, "banners"]
