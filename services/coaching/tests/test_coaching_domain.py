"""The coaching domain without I/O: lifecycles, the before/after effect, access, suggestion rules, events."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from coachline.auth import Principal, Role
from coachline.contracts.coaching import GoalCorner, GoalKind, SessionKind
from coachline.contracts.evaluations import EvaluationKind, EvaluationSubmitted
from coachline.contracts.kpi import AlertLevel, KpiAlertRaised, Scope
from coachline.envelope import decode
from coachline_coaching.domain import events
from coachline_coaching.domain.access import Placement, may_coach, may_view
from coachline_coaching.domain.common import IllegalTransition
from coachline_coaching.domain.evidence import agent_evaluation, criterion_results, missing_evidence
from coachline_coaching.domain.goals import Goal, GoalStatus, Measurement, SetGoal, decide, effect, goal_from, progress
from coachline_coaching.domain.periods import OpenPeriod, PeriodLength, period_end, previous_window
from coachline_coaching.domain.sessions import (
    ActionOwner,
    ActionStatus,
    AgreeAction,
    HoldSession,
    PlanSession,
    agreed,
    follow_up,
    hold,
    miss,
    on_time,
    planned_session,
    timeline,
)
from coachline_coaching.domain.suggestions import (
    CriterionResult,
    Rule,
    ScoredEvaluation,
    Thresholds,
    from_alert,
    repeated_criteria,
    self_evaluation_gaps,
)
from coachline_coaching.kpi_client import KpiService, KpiUnavailable

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def kpi_goal(kpi: str = "aht_s", target: str = "300") -> Goal:
    command = SetGoal(kind=GoalKind.KPI, kpi=kpi, target=Decimal(target), due_on=date(2026, 12, 13),  # type: ignore[arg-type]
                      description="d")
    return goal_from(command, goal_id="g-1", period_id="cp-1", agent_id="a-17", now=NOW)


# Periods ------------------------------------------------------------------------------------------


def test_a_period_defaults_to_the_configured_length_and_refuses_lengths_outside_the_bounds() -> None:
    length = PeriodLength(min_days=14, max_days=28, default_days=21)
    start = date(2026, 11, 23)
    assert period_end(OpenPeriod(agent_id="a-17", starts_on=start), length) == date(2026, 12, 13)
    assert period_end(OpenPeriod(agent_id="a-17", starts_on=start, ends_on=date(2026, 12, 20)), length) == date(
        2026, 12, 20)
    for ends_on in (date(2026, 12, 5), date(2026, 12, 21), date(2026, 11, 1)):
        with pytest.raises(ValueError, match="14 to 28 days"):
            period_end(OpenPeriod(agent_id="a-17", starts_on=start, ends_on=ends_on), length)


def test_the_period_before_has_the_same_number_of_days_and_ends_the_day_before() -> None:
    assert previous_window(date(2026, 11, 23), date(2026, 12, 13)) == (date(2026, 11, 2), date(2026, 11, 22))
    assert previous_window(date(2026, 3, 1), date(2026, 3, 14)) == (date(2026, 2, 15), date(2026, 2, 28))


def test_a_participant_is_listed_once_per_role() -> None:
    person = {"person_id": "tl-3", "role": "team_lead"}
    with pytest.raises(ValidationError, match="twice"):
        OpenPeriod.model_validate({"agent_id": "a-17", "starts_on": "2026-11-23", "participants": [person, person]})


# Goals and the effect -----------------------------------------------------------------------------


def test_a_kpi_goal_takes_its_corner_from_the_kpi_and_a_behavioural_goal_names_its_own() -> None:
    assert kpi_goal("aht_s").corner is GoalCorner.EFFICIENCY
    assert kpi_goal("sales_conversion", "0.2").corner is GoalCorner.SALES
    assert kpi_goal("csat", "0.8").corner is GoalCorner.QUALITY
    smile = SetGoal.model_validate({"kind": "behavioural", "corner": "wellbeing", "due_on": "2026-12-01",
                                    "description": "Take the short breaks", "observed_by": "Break log"})
    assert smile.goal_corner() is GoalCorner.WELLBEING


@pytest.mark.parametrize("body", [
    {"kind": "kpi", "kpi": "aht_s"},
    {"kind": "kpi", "target": "300"},
    {"kind": "kpi", "kpi": "aht_s", "target": "300", "corner": "quality"},
    {"kind": "kpi", "kpi": "made_up", "target": "3"},
    {"kind": "behavioural", "corner": "quality"},
    {"kind": "behavioural", "observed_by": "listening"},
    {"kind": "behavioural", "corner": "quality", "observed_by": "listening", "kpi": "aht_s"},
])
def test_incomplete_or_mixed_goals_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SetGoal.model_validate({"description": "x", "due_on": "2026-12-01", **body})


def test_a_goal_is_decided_once() -> None:
    goal = decide(kpi_goal(), "achieved", on=date(2026, 12, 14), value=Decimal("287.5"))
    assert (goal.status, goal.value, goal.decided_on) == (GoalStatus.ACHIEVED, Decimal("287.5"), date(2026, 12, 14))
    with pytest.raises(IllegalTransition):
        decide(goal, "missed", on=date(2026, 12, 15))


def test_the_effect_of_a_period_against_hand_computed_values() -> None:
    window = {"before_from": date(2026, 11, 2), "before_to": date(2026, 11, 22)}
    # AHT 340.5 s over 212 contacts before, 301.25 s over 198 during: 39.25 s shorter, better for AHT.
    aht = effect(kpi_goal("aht_s"), before=Measurement(value=Decimal("340.5"), sample=212),
                 during=Measurement(value=Decimal("301.25"), sample=198), **window)
    assert (aht.change, aht.improved, aht.before.sample, aht.during.sample) == (Decimal("-39.25"), True, 212, 198)
    # Conversion 0.1500 -> 0.1250: 0.025 lower, worse for a "higher is better" KPI.
    sales = effect(kpi_goal("sales_conversion", "0.2"), before=Measurement(value=Decimal("0.1500"), sample=40),
                   during=Measurement(value=Decimal("0.1250"), sample=48), **window)
    assert (sales.change, sales.improved) == (Decimal("-0.0250"), False)
    unchanged = effect(kpi_goal("csat", "0.8"), before=Measurement(value=Decimal("0.8"), sample=9),
                       during=Measurement(value=Decimal("0.8"), sample=11), **window)
    assert (unchanged.change, unchanged.improved) == (Decimal("0"), False)
    # Too small a sample on one side: no change claimed, the samples still shown.
    thin = effect(kpi_goal(), before=Measurement(value=None, sample=3),
                  during=Measurement(value=Decimal("290"), sample=30), **window)
    assert (thin.change, thin.improved, thin.before.sample) == (None, None, 3)


def test_progress_says_whether_the_figure_so_far_meets_the_target() -> None:
    days = {"measured_from": date(2026, 11, 23), "measured_to": date(2026, 11, 30)}
    assert progress(kpi_goal("aht_s", "300"), Measurement(value=Decimal("299"), sample=50), **days).on_track is True
    assert progress(kpi_goal("aht_s", "300"), Measurement(value=Decimal("301"), sample=50), **days).on_track is False
    assert progress(kpi_goal("csat", "0.8"), Measurement(value=Decimal("0.8"), sample=6), **days).on_track is True
    assert progress(kpi_goal(), Measurement(value=None, sample=2), **days).on_track is None


async def test_a_goals_kpi_is_read_over_its_days_with_its_sample_on_behalf_of_the_caller() -> None:
    asked: list[httpx.Request] = []
    answers = iter([
        httpx.Response(200, json={"kpis": {"csat": {"value": "0.833333", "sample": "12"}}}),
        httpx.Response(200, json={"kpis": {"occupancy": {"value": "0.812000", "sample": "5400.250000"}}}),
        httpx.Response(200, json={"kpis": {"csat": {"value": None, "sample": "3"}}}),
        httpx.Response(200, json={"kpis": {}}),
        httpx.Response(403, json={"title": "Forbidden"}),
    ])

    def kpi_service(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return next(answers)

    kpis = KpiService("http://kpi", 5, transport=httpx.MockTransport(kpi_service)).on_behalf_of("Bearer t")
    first, last = date(2026, 11, 2), date(2026, 11, 15)
    # Kept to four decimal places, as goals and coaching.v1 carry them.
    assert await kpis.measure("acme", "csat", Scope.AGENT, "a-17", first, last) == Measurement(
        value=Decimal("0.8333"), sample=12)
    assert dict(asked[0].url.params) == {"scope": "agent", "scope_id": "a-17", "kpi": "csat", "since": "2026-11-02",
                                         "until": "2026-11-15"}
    assert (asked[0].url.path, asked[0].headers["authorization"]) == ("/v1/kpis/range", "Bearer t")
    # Occupancy's sample is seconds of time in state.
    assert await kpis.measure("acme", "occupancy", Scope.TEAM, "t-north", first, last) == Measurement(
        value=Decimal("0.812"), sample=5400)
    assert await kpis.measure("acme", "csat", Scope.AGENT, "a-17", first, last) == Measurement(value=None, sample=3)
    for _ in range(2):
        with pytest.raises(KpiUnavailable):
            await kpis.measure("acme", "csat", Scope.AGENT, "a-17", first, last)


# Sessions and actions -----------------------------------------------------------------------------


def plan(**changes: Any) -> PlanSession:
    return PlanSession.model_validate({"agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one",
                                       "planned_on": "2026-11-24", **changes})


def test_a_session_is_held_or_missed_once_and_on_time_means_on_or_before_the_planned_day() -> None:
    session = planned_session(plan(), tenant_id="acme", session_id="cs-1", now=NOW)
    held = hold(session, HoldSession(held_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC)))
    assert on_time(held) is True
    assert on_time(hold(session, HoldSession(held_at=datetime(2026, 11, 25, 0, 30, tzinfo=UTC)))) is False
    # 00:30 in CET is still the 24th in UTC: days are compared in UTC, as the event's held_on says.
    assert on_time(hold(session, HoldSession(held_at=datetime(2026, 11, 25, 0, 30, tzinfo=CET)))) is True
    for step in (lambda s: hold(s, HoldSession(held_at=NOW)), lambda s: miss(s, date(2026, 11, 25))):
        for finished in (held, miss(session, date(2026, 11, 25))):
            with pytest.raises(IllegalTransition):
                step(finished)


def test_a_session_is_planned_for_a_day_or_recorded_as_held() -> None:
    with pytest.raises(ValidationError, match="planned_on"):
        plan(planned_on=None)
    assert plan(planned_on=None, held={"held_at": "2026-11-24T09:00:00Z"}).held is not None
    with pytest.raises(ValidationError, match="ISO 8601"):
        plan(planned_on=None, held={"held_at": 0})
    with pytest.raises(ValidationError):
        plan(held={"held_at": "2026-11-24T09:00:00Z", "evaluation_ids": ["e-1", "e-1"]})


def test_an_action_is_followed_up_once() -> None:
    session = planned_session(plan(), tenant_id="acme", session_id="cs-1", now=NOW)
    action = agreed(AgreeAction(owner=ActionOwner.AGENT, description="Use the name", due_on=date(2026, 11, 27)),
                    action_id="ac-1", session=session, now=NOW)
    done = follow_up(action, ActionStatus.COMPLETED, session_id="cs-2", on=date(2026, 11, 26))
    assert (done.status, done.completed_on, done.followed_up_in) == (ActionStatus.COMPLETED, date(2026, 11, 26),
                                                                     "cs-2")
    with pytest.raises(IllegalTransition):
        follow_up(done, ActionStatus.DROPPED, session_id=None, on=date(2026, 11, 27))


def test_the_timeline_orders_sessions_by_the_day_they_were_held_or_planned() -> None:
    later = planned_session(plan(planned_on="2026-11-30"), tenant_id="acme", session_id="cs-2", now=NOW)
    earlier = hold(planned_session(plan(planned_on="2026-12-01"), tenant_id="acme", session_id="cs-1", now=NOW),
                   HoldSession(held_at=datetime(2026, 11, 25, 9, tzinfo=UTC)))
    action = agreed(AgreeAction(owner=ActionOwner.COACH, description="x", due_on=date(2026, 11, 27)),
                    action_id="ac-1", session=earlier, now=NOW)
    entries = timeline([later, earlier], [action], [])
    assert [e.session.session_id for e in entries] == ["cs-1", "cs-2"]
    assert [a.action_id for a in entries[0].actions_agreed] == ["ac-1"] and entries[1].actions_agreed == []


# Access -------------------------------------------------------------------------------------------


def person(*roles: Role, agent_id: str | None = None, teams: tuple[str, ...] = (),
           units: tuple[str, ...] = ()) -> Principal:
    return Principal(subject="p", tenant_id="acme", roles=frozenset(roles), agent_id=agent_id,
                     teams=frozenset(teams), units=frozenset(units))


AGENT = Placement("a-17", "t-north", "u-hel")


@pytest.mark.parametrize(("who", "coach", "view"), [
    (person(Role.ADMIN), True, True),
    (person(Role.TEAM_LEAD, teams=("t-north",)), True, True),
    (person(Role.SALES_COACH, teams=("t-north",)), True, True),
    (person(Role.TEAM_LEAD, teams=("t-south",)), False, False),
    (person(Role.SERVICE_MANAGER, units=("u-hel",)), True, True),
    (person(Role.SERVICE_MANAGER, units=("u-tku",), teams=("t-north",)), False, False),
    (person(Role.AGENT, agent_id="a-17", teams=("t-north",)), False, True),
    (person(Role.AGENT, agent_id="a-18", teams=("t-north",)), False, False),
    (person(Role.QUALITY_EVALUATOR, teams=("t-north",)), False, False),
])
def test_who_may_coach_and_see_an_agent(who: Principal, coach: bool, view: bool) -> None:
    assert (may_coach(who, AGENT), may_view(who, AGENT)) == (coach, view)


def test_an_agent_not_in_the_roster_is_coached_by_admins_only() -> None:
    unknown = Placement("a-99")
    assert may_coach(person(Role.ADMIN), unknown)
    assert not may_coach(person(Role.TEAM_LEAD, teams=("t-north",)), unknown)
    assert not may_coach(person(Role.SERVICE_MANAGER, units=("u-hel",)), unknown)


# Suggestions --------------------------------------------------------------------------------------


def scored(evaluation_id: str, *, day: int, kind: EvaluationKind = EvaluationKind.STANDARD, score: str = "80",
           interaction: str = "c-1", failed: tuple[str, ...] = (), passed: tuple[str, ...] = ()) -> ScoredEvaluation:
    criteria = [CriterionResult(evaluation_id=evaluation_id, criterion_id=c, section_id="s", applicable=True,
                                earned=Decimal(0), possible=Decimal(1), critical_failed=False) for c in failed]
    criteria += [CriterionResult(evaluation_id=evaluation_id, criterion_id=c, section_id="s", applicable=True,
                                 earned=Decimal(1), possible=Decimal(1), critical_failed=False) for c in passed]
    return ScoredEvaluation(evaluation_id=evaluation_id, interaction_id=interaction, agent_id="a-17", kind=kind,
                            score=Decimal(score), submitted_at=NOW + timedelta(days=day), criteria=criteria)


def test_a_criterion_failed_in_three_of_the_latest_evaluations_is_suggested_with_its_evidence() -> None:
    t = Thresholds(repeated_failures=3, lookback=4)
    evaluations = [
        scored("e-1", day=1, failed=("used-name",)),  # outside the latest four
        scored("e-2", day=2, failed=("used-name", "summary")),
        scored("e-3", day=3, passed=("used-name",), failed=("summary",)),
        scored("e-4", day=4, failed=("used-name",)),
        scored("e-5", day=5, failed=("used-name",)),
        scored("e-6", day=6, kind=EvaluationKind.SELF, failed=("summary",)),
    ]
    [suggestion] = repeated_criteria("a-17", evaluations, t)
    assert (suggestion.rule, suggestion.focus) == (Rule.REPEATED_CRITERION, "used-name")
    assert [e.id for e in suggestion.evidence] == ["e-5", "e-4", "e-2"]
    assert repeated_criteria("a-17", evaluations[1:3], t) == []


def test_a_not_applicable_criterion_is_not_a_failure() -> None:
    na = CriterionResult(evaluation_id="e", criterion_id="c", section_id="s", applicable=False, earned=Decimal(0),
                         possible=Decimal(1), critical_failed=False)
    critical = na.model_copy(update={"applicable": True, "earned": Decimal(1), "critical_failed": True})
    assert (na.failed, critical.failed) == (False, True)


def test_a_self_evaluation_far_from_the_evaluators_score_is_suggested() -> None:
    t = Thresholds(self_gap_points=Decimal(15))
    evaluations = [scored("e-1", day=1, score="62", interaction="c-1"),
                   scored("s-1", day=2, kind=EvaluationKind.SELF, score="90", interaction="c-1"),
                   scored("e-2", day=1, score="80", interaction="c-2"),
                   scored("s-2", day=2, kind=EvaluationKind.SELF, score="94.99", interaction="c-2")]
    [gap] = self_evaluation_gaps("a-17", evaluations, t)
    assert (gap.rule, gap.focus, [e.id for e in gap.evidence]) == (Rule.SELF_EVALUATION_GAP, "interaction:c-1",
                                                                   ["s-1", "e-1"])
    assert "28 points above" in gap.evidence[0].detail


def test_only_an_agents_raised_alert_is_a_suggestion() -> None:
    def alert(scope: Scope, level: AlertLevel) -> KpiAlertRaised:
        return KpiAlertRaised(alert_id="al-1", kpi="aht_s", scope=scope, scope_id="a-17", level=level,
                              value=Decimal("420"), threshold=Decimal("360"), raised_at=NOW)

    suggestion = from_alert("al-1", alert(Scope.AGENT, AlertLevel.ALERT))
    assert suggestion is not None and (suggestion.agent_id, suggestion.focus) == ("a-17", "aht_s")
    assert suggestion.evidence[0].detail == "alert: 420 against 360"
    assert from_alert("al-1", alert(Scope.TEAM, AlertLevel.ALERT)) is None
    assert from_alert("al-1", alert(Scope.AGENT, AlertLevel.CLEARED)) is None


# Evidence and events ------------------------------------------------------------------------------


def test_an_evaluation_keeps_its_kind_and_criteria_and_missing_evidence_keeps_the_requested_order() -> None:
    data = EvaluationSubmitted.model_validate({
        "evaluation_id": "e-5", "interaction_id": "c-1001", "agent_id": "a-17", "evaluator_id": "q-2",
        "scorecard_id": "sc-voice", "scorecard_version": 3, "score": "87.5", "submitted_at": NOW.isoformat(),
        "kind": "self", "criteria": [{"criterion_id": "used-name", "section_id": "greeting", "applicable": True,
                                      "earned": "7", "possible": "8"}]})
    kept = agent_evaluation("acme", data)
    assert (kept.kind, kept.score) == (EvaluationKind.SELF, Decimal("87.50"))
    [criterion] = criterion_results("e-5", data)
    assert (criterion.criterion_id, criterion.failed) == ("used-name", True)
    assert missing_evidence(["e-9", "e-5", "e-7"], [kept]) == ["e-9", "e-7"]


@given(notes=st.text(min_size=1, max_size=50).filter(lambda t: t.strip() and "\x00" not in t), opted_in=st.booleans())
def test_held_events_carry_notes_only_when_opted_in_and_always_the_review_notice(notes: str, opted_in: bool) -> None:
    session = hold(planned_session(plan(kind=SessionKind.ONE_TO_ONE), tenant_id="acme", session_id="cs-1", now=NOW),
                   HoldSession(held_at=NOW, notes=notes))
    held, recorded = events.session_held(session, actions_agreed=0, notes_in_events=opted_in, at=NOW)
    for event in (held, recorded):
        again = decode(event.headers(), event.body(), expected_topic="coaching.v1")
        assert again.key == "acme:a-17"
    payload = held.data.model_dump()
    assert payload["notes"] == (notes if opted_in else None)
    assert recorded.data.model_dump()["summary"] == (notes if opted_in else None)
    assert b'"human_review_required":true' in held.body()
