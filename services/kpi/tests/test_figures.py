from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline.contracts.interactions import InteractionOffered, InteractionWrappedUp
from coachline.contracts.kpi import Scope
from coachline_kpi.domain.figures import contributions, day_window, figures

pytestmark = pytest.mark.unit
UTC_ZONE = ZoneInfo("UTC")


def test_the_day_is_the_tenants_calendar_day() -> None:
    late_evening_utc = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert day_window(late_evening_utc, UTC_ZONE) == "day:2026-11-23"
    assert day_window(late_evening_utc, ZoneInfo("Europe/Helsinki")) == "day:2026-11-24"


def test_an_offered_contact_counts_in_its_queue_and_tenant() -> None:
    offered = InteractionOffered(interaction_id="c-1", queue_id="billing", channel="voice",
                                 occurred_at=datetime(2026, 11, 23, 9, tzinfo=UTC))
    got = {(c.scope, c.scope_id, c.offered) for c in contributions("acme", offered, UTC_ZONE)}
    assert got == {(Scope.TENANT, "acme", 1), (Scope.QUEUE, "billing", 1)}


def test_a_handled_contact_adds_talk_hold_and_wrap_up_to_its_team() -> None:
    done = InteractionWrappedUp(interaction_id="c-1", queue_id="billing", channel="voice", agent_id="a-1",
                                team_id="north", occurred_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
                                talk_s=Decimal("300.5"), hold_s=Decimal(20), after_contact_work_s=Decimal("39.5"))
    team = [c for c in contributions("acme", done, UTC_ZONE) if c.scope is Scope.TEAM]
    assert team and team[0].handled == 1 and team[0].handle_time_s == Decimal("360.0")


def test_aht_is_not_enough_data_below_the_minimum_sample() -> None:
    assert figures(10, 4, 1, 4, Decimal(1200), min_sample=5)["aht_s"] is None
    assert figures(10, 5, 1, 5, Decimal(1201), min_sample=5)["aht_s"] == Decimal("240.200")


@given(st.lists(st.decimals(min_value=0, max_value=10_000, places=3), min_size=5, max_size=50))
def test_aht_is_the_ratio_of_sums_never_an_average_of_averages(times: list[Decimal]) -> None:
    aht = figures(0, 0, 0, len(times), sum(times, Decimal(0)), min_sample=5)["aht_s"]
    assert aht == (sum(times, Decimal(0)) / len(times)).quantize(Decimal("0.001"))
