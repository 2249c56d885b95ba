"""The fold: every KPI's sums, order-independence, duplicates, late events, and the figures from the sums."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.kpi import AlertLevel, KpiSnapshot, Scope
from coachline.envelope import CloudEvent
from coachline_kpi.domain.alerts import next_level
from coachline_kpi.domain.figures import figures, live_figures
from coachline_kpi.domain.fold import Fold, normalised
from coachline_kpi.domain.policy import ServiceLevelVariant, Target, TenantPolicy
from coachline_kpi.domain.windows import split, window_keys
from coachline_kpi.service import compute, snapshot_figures

from .kpi_events import day_of_events, event

pytestmark = pytest.mark.unit
POLICY = TenantPolicy()
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def fold(events: list[CloudEvent], policy: TenantPolicy = POLICY) -> Fold:
    f = Fold(lambda _t: policy)
    seen: set[str] = set()
    for e in events:
        if e.id not in seen:  # the inbox's job in the projection
            seen.add(e.id)
            f.apply(e)
    return f


def sums(events: list[CloudEvent], policy: TenantPolicy = POLICY) -> dict:
    return normalised(fold(events, policy).deltas)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=day_of_events(), data=st.data())
def test_redelivered_and_reordered_events_leave_every_sum_unchanged(events: list[CloudEvent], data) -> None:
    once = fold(events)
    redelivered = data.draw(st.permutations(events + events))
    again = fold(redelivered)
    assert normalised(again.deltas) == normalised(once.deltas)
    assert again.entities == once.entities
    as_of = T0 + timedelta(days=3)
    assert compute(redelivered, POLICY, as_of) == compute(events, POLICY, as_of)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=day_of_events(), cut=st.integers(0, 200))
def test_folding_in_two_batches_is_folding_once(events: list[CloudEvent], cut: int) -> None:
    f = Fold(lambda _t: POLICY)
    f.apply_all(events[:cut])
    f.apply_all(events[cut:])
    assert normalised(f.deltas) == sums(events)


def contact(n: int, wait: str, answered: bool = True, **wrap) -> list[CloudEvent]:
    base = {"interaction_id": f"c-{n}", "queue_id": "billing", "channel": "voice"}
    out = [event("cc.interaction.offered.v1", "acme", {**base, "occurred_at": T0}, f"o-{n}")]
    if not answered:
        return [*out, event("cc.interaction.abandoned.v1", "acme", {**base, "occurred_at": T0, "queue_wait_s": wait},
                            f"x-{n}")]
    who = {"agent_id": "a-1", "team_id": "t-1"}
    out.append(event("cc.interaction.answered.v1", "acme", {**base, **who, "occurred_at": T0, "queue_wait_s": wait},
                     f"a-{n}"))
    out.append(event("cc.interaction.wrapped-up.v1", "acme", {**base, **who, "occurred_at": T0 + timedelta(minutes=5),
                                                              "talk_s": "100", **wrap}, f"w-{n}"))
    return out


def day_figures(events: list[CloudEvent], scope: str = "queue", scope_id: str = "billing",
                policy: TenantPolicy = POLICY) -> dict:
    return figures(sums(events, policy)[("acme", scope, scope_id, "day:2026-11-23")], policy)


def test_service_level_asa_and_abandon_rate_follow_the_definitions() -> None:
    # 6 answered (4 within 20 s), 1 short abandon (excluded), 2 abandoned after 20 s, 1 abandoned at 10 s.
    events = [e for n, w in enumerate(["0", "20", "19.9", "20", "20.001", "63"]) for e in contact(n, w)]
    events += contact(10, "4.999", answered=False) + contact(11, "30", answered=False)
    events += contact(12, "25", answered=False) + contact(13, "10", answered=False)
    f = day_figures(events)
    assert (f["offered"], f["answered"], f["abandoned"], f["short_abandoned"]) == (10, 6, 4, 1)
    assert f["service_level"] == Decimal("0.444444")  # 4 / (10 - 1)
    assert f["abandon_rate"] == Decimal("0.333333")  # (4 - 1) / (10 - 1)
    assert f["asa_s"] == Decimal("23.817")  # 142.901 / 6
    late = TenantPolicy(sl_variant=ServiceLevelVariant.ANSWERED_AND_LATE_ABANDONED)
    assert day_figures(events, policy=late)["service_level"] == Decimal("0.5")  # 4 / (6 + 2)


def test_handling_sales_and_transfers_count_per_handled_contact() -> None:
    events = [e for n in range(5) for e in contact(n, "3", hold_s="10", after_contact_work_s="20",
                                                   transferred=n == 0, sale_eligible=n < 4, sale_made=n < 2,
                                                   sale_value="10.50" if n < 2 else None)]
    f = day_figures(events, "team", "t-1")
    assert f["aht_s"] == Decimal("130.000") and f["aht_s.voice"] == Decimal("130.000")
    assert f["transfer_rate"] == Decimal("0.200000")
    assert (f["sales_conversion"], f["sales_value"]) == (None, Decimal("21.00"))  # 4 eligible < 5


def test_figures_below_the_minimum_sample_are_not_enough_data() -> None:
    events = [e for n in range(4) for e in contact(n, "3")]
    f = day_figures(events, "agent", "a-1")
    assert f["handled"] == 4 and f["aht_s"] is None and f["service_level"] is None
    five = day_figures([*events, *contact(9, "3")], "agent", "a-1")
    assert five["aht_s"] == Decimal("100.000") and five["transfer_rate"] == Decimal("0.000000")


def test_a_rescore_replaces_the_evaluation_score_whichever_order_it_arrives_in() -> None:
    common = {"agent_id": "a-1", "team_id": "t-1", "kind": "standard", "interaction_id": "c-1",
              "scorecard_id": "sc", "scorecard_version": 1}
    submitted = [event("qa.evaluation.submitted.v1", "acme", {**common, "evaluation_id": f"e-{n}",
                                                               "evaluator_id": "q", "score": "50",
                                                               "submitted_at": T0}, f"e-{n}") for n in range(5)]
    decision = {"decided_by": "q", "decided_at": T0, "reason": "r", "previous_score": "50", "score": "100"}
    rescore = [event("qa.evaluation.dispute-resolved.v1", "acme", {
        **common, "evaluation_id": "e-0", "dispute_id": f"d-{i}", "outcome": "rescored", "score": score,
        "resolved_at": T0 + timedelta(hours=i + 1), "decision": decision}, f"d-{i}")
        for i, score in enumerate(["100", "75"])]
    mystery = event("qa.evaluation.submitted.v1", "acme", {**common, "kind": "mystery_shop", "evaluation_id": "m",
                                                           "evaluator_id": "q", "score": "10", "submitted_at": T0}, "m")
    self_eval = event("qa.evaluation.submitted.v1", "acme", {**common, "kind": "self", "evaluation_id": "s",
                                                             "evaluator_id": "a-1", "score": "0", "submitted_at": T0},
                      "s")
    for order in ([*submitted, *rescore, mystery, self_eval], [*reversed(rescore), self_eval, *submitted, mystery]):
        s = sums(order)[("acme", "agent", "a-1", "day:2026-11-23")]
        assert (s["quality_n"], s["quality_sum"]) == (5, Decimal("275.00"))  # 75 + 4 * 50: the latest decision
        assert (s["mystery_n"], s["mystery_sum"]) == (1, Decimal("10"))


def test_repeat_contacts_within_the_window_are_not_first_contact_resolutions() -> None:
    def handled(n: int, at: datetime, customer: str) -> list[CloudEvent]:
        base = {"interaction_id": f"c-{n}", "queue_id": "billing", "channel": "voice"}
        return [event("cc.interaction.offered.v1", "acme", {**base, "occurred_at": at, "customer_ref": customer},
                      f"o-{n}"),
                event("cc.interaction.wrapped-up.v1", "acme", {**base, "agent_id": "a-1", "occurred_at": at,
                                                               "talk_s": "60", "customer_ref": customer}, f"w-{n}")]
    events = handled(1, T0, "cu-1") + handled(2, T0 + timedelta(days=6), "cu-1")  # c-1 repeated
    events += handled(3, T0, "cu-2") + handled(4, T0 + timedelta(days=7, seconds=1), "cu-2")  # too late: resolved
    events += handled(5, T0, "cu-3")
    for order in (events, list(reversed(events))):
        s = sums(order)[("acme", "tenant", "acme", "day:2026-11-23")]
        assert (s["fcr_known"], s["fcr_repeat"]) == (3, 1)


def test_time_in_state_is_split_across_windows_and_late_marks_split_intervals() -> None:
    def mark(n: int, at: datetime, state: str) -> CloudEvent:
        return event("cc.agent.state-changed.v1", "acme", {"agent_id": "a-1", "team_id": "t-1", "state": state,
                                                            "occurred_at": at}, f"m-{n}")
    events = [mark(1, T0 + timedelta(minutes=10), "available"), mark(2, T0 + timedelta(minutes=20), "on_contact"),
              mark(3, T0 + timedelta(minutes=50), "logged_out")]
    s = sums(events)
    q1 = s[("acme", "agent", "a-1", "15m:2026-11-23T09:00")]
    assert (q1["state_s.available"]) == Decimal(300)
    assert s[("acme", "team", "t-1", "15m:2026-11-23T09:15")]["state_s.on_contact"] == Decimal(600)
    day = s[("acme", "agent", "a-1", "day:2026-11-23")]
    assert (day["state_s.available"], day["state_s.on_contact"]) == (Decimal(600), Decimal(1800))
    late = mark(4, T0 + timedelta(minutes=40), "after_contact_work")
    assert sums([late, *events])[("acme", "agent", "a-1", "day:2026-11-23")]["state_s.on_contact"] == Decimal(1200)
    f = figures(sums([late, *events])[("acme", "agent", "a-1", "day:2026-11-23")], POLICY)
    assert f["occupancy"] == Decimal("0.750000")  # 1800 s handling ÷ (1800 + 600 s available)


def test_two_changes_in_one_millisecond_keep_the_platforms_order_and_the_current_state_counts_so_far() -> None:
    def mark(event_id: str, minutes: int, state: str, sequence: int) -> CloudEvent:
        return event("cc.agent.state-changed.v1", "acme", {
            "agent_id": "a-1", "team_id": "t-1", "state": state, "occurred_at": T0 + timedelta(minutes=minutes),
            "sequence": sequence}, event_id)

    # Back from a break and straight onto a waiting contact: the ids sort the other way round.
    events = [mark("z", 0, "break", 1), mark("y", 10, "available", 2), mark("x", 10, "on_contact", 3),
              mark("w", 25, "available", 4)]
    for order in (events, list(reversed(events))):
        day = sums(order)[("acme", "agent", "a-1", "day:2026-11-23")]
        assert (day["state_s.on_contact"], day.get("state_s.available")) == (Decimal(900), None)
        shown = {(f["scope"], f["scope_id"], f["window"]): f["figures"]
                 for f in compute(order, POLICY, T0 + timedelta(minutes=30))}
        # Available for five minutes so far: 900 s handling ÷ (900 + 300 s).
        assert shown[("agent", "a-1", "day:2026-11-23")]["occupancy"] == "0.750000"
        assert shown[("team", "t-1", "15m:2026-11-23T09:15")]["occupancy"] == "0.666667"  # 600 ÷ (600 + 300)


def test_windows_follow_the_tenants_time_zone_and_coaching_period() -> None:
    helsinki = TenantPolicy(time_zone="Europe/Helsinki", coaching_period="quarter")
    at = datetime(2026, 11, 29, 22, 7, 30, tzinfo=UTC)  # Monday 00:07 in Helsinki
    assert window_keys(at, helsinki) == ["15m:2026-11-29T22:00", "day:2026-11-30", "week:2026-11-30",
                                         "period:2026-10"]
    assert window_keys(at, POLICY) == ["15m:2026-11-29T22:00", "day:2026-11-29", "week:2026-11-23",
                                       "period:2026-11"]
    pieces = list(split(at - timedelta(minutes=10), at + timedelta(minutes=10), helsinki))
    assert sum((s for k, s in pieces if k.startswith("day:")), Decimal(0)) == Decimal(1200)
    assert dict(p for p in pieces if p[0].startswith("day:")) == {"day:2026-11-29": Decimal(150),
                                                                   "day:2026-11-30": Decimal(1050)}


def test_live_figures_count_waiting_contacts_and_agents_by_state() -> None:
    now = T0 + timedelta(seconds=90)
    contacts = [{"queue_id": "billing", "offered_at": T0.isoformat()},
                {"queue_id": "sales", "offered_at": (T0 + timedelta(seconds=60)).isoformat()}]
    agents = [{"agent_id": "a-1", "state": "available", "team_id": "t-1"},
              {"agent_id": "a-2", "state": "break", "state_team": "t-2"}]
    f = live_figures(Scope.TENANT, "acme", contacts, agents, now)
    assert (f["waiting_now"], f["longest_wait_s_now"], f["agents_now.available"]) == (2, 90, 1)
    team = live_figures(Scope.TEAM, "t-2", contacts, agents, now)
    assert (team["agents_now.break"], team["agents_now.available"], team["waiting_now"]) == (1, 0, 0)
    assert live_figures(Scope.QUEUE, "sales", contacts, agents, now)["longest_wait_s_now"] == 30


def test_alerts_raise_and_clear_with_hysteresis() -> None:
    sl = Target(kpi="service_level", scope=Scope.QUEUE, target=Decimal("0.8"), warning=Decimal("0.75"),
                alert=Decimal("0.6"), hysteresis=Decimal("0.02"))
    level = None
    seen = []
    for value in ["0.8", "0.74", "0.76", "0.759", "0.77", "0.5", "0.61", "0.63", "0.9"]:
        new = next_level(Decimal(value), sl, level)
        if new != level:
            seen.append((value, new))
        level = new
    assert seen == [("0.74", AlertLevel.WARNING), ("0.77", AlertLevel.CLEARED), ("0.5", AlertLevel.ALERT),
                    ("0.63", AlertLevel.WARNING), ("0.9", AlertLevel.CLEARED)]
    aht = Target(kpi="aht_s", scope=Scope.TEAM, target=Decimal(300), warning=Decimal(330), alert=Decimal(400),
                 higher_is_better=False)
    assert next_level(Decimal(340), aht, None) is AlertLevel.WARNING
    assert next_level(None, aht, AlertLevel.WARNING) is AlertLevel.WARNING


def test_surveys_give_csat_nps_ces_and_dimensions() -> None:
    answers = [(5, 10, 7, True), (4, 9, 6, True), (3, 8, 5, False), (2, 6, 2, None), (5, 0, 7, True)]
    events = [event("cc.survey.answered.v1", "acme", {
        "survey_id": f"s-{i}", "interaction_id": f"c-{i}", "agent_id": "a-1", "occurred_at": T0, "csat": c,
        "nps": n, "ces": e, "resolved": r, "dimensions": {"ease": e}}, f"s-{i}")
        for i, (c, n, e, r) in enumerate(answers)]
    f = day_figures(events, "agent", "a-1")
    assert (f["csat"], f["nps"], f["ces"], f["dim.ease"]) == (Decimal("0.600000"), Decimal("0.000000"),
                                                             Decimal("5.400000"), Decimal("5.400000"))
    assert f["fcr_survey"] is None  # four answers to the resolution question


@given(st.sets(st.from_regex(r"[a-z]{1,12}", fullmatch=True), max_size=80))
def test_snapshots_keep_every_core_figure_and_fit_the_contract(dimensions: set[str]) -> None:
    sums = {"handled": Decimal(9), **{f"dim_n.{d}": Decimal(6) for d in dimensions},
            **{f"dim_sum.{d}": Decimal(30) for d in dimensions}}
    shown = figures(sums, POLICY)
    carried = snapshot_figures(shown)
    KpiSnapshot(scope=Scope.TEAM, scope_id="t-1", window="day:2026-11-23", figures=carried, as_of=T0)
    assert {k for k in shown if not k.startswith("dim.")} <= set(carried)


def test_a_missed_coaching_session_is_due_but_not_on_time_until_it_is_held() -> None:
    session = {"session_id": "cs-1", "agent_id": "a-1", "coach_id": "tl-1", "kind": "one_to_one"}
    missed = event("coaching.session.missed.v1", "acme",
                   {**session, "planned_on": "2026-11-23", "missed_on": "2026-11-23"}, "cs-1-missed")
    on_time = event("coaching.session.recorded.v1", "acme",
                    {**session, "planned_on": "2026-11-23", "held_at": "2026-11-23T13:00:00Z"}, "cs-1-held")
    other = event("coaching.session.recorded.v1", "acme",
                  {**session, "session_id": "cs-2", "planned_on": "2026-11-24", "held_at": "2026-11-23T15:00:00Z"},
                  "cs-2-held")
    day = ("acme", "agent", "a-1", "day:2026-11-23")

    only_missed = sums([missed, other])
    assert only_missed[day]["coaching_due"] == 2
    assert only_missed[day]["coaching_on_time"] == 1
    assert only_missed[day]["coaching_sessions"] == 1
    # Held after all (in either order of arrival): the holding counts, the miss no longer does.
    for events in ([missed, on_time, other], [on_time, missed, other]):
        held = sums(events)
        assert (held[day]["coaching_due"], held[day]["coaching_on_time"], held[day]["coaching_sessions"]) == (2, 2, 2)
