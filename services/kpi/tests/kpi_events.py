"""Hypothesis strategies for contact-centre days: every event type the KPI service folds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from coachline.contracts.registry import EVENT_TYPES
from coachline.envelope import CloudEvent, new_event

START = datetime(2026, 11, 23, 7, 50, tzinfo=UTC)
AGENTS = ("a-1", "a-2", "a-3")
TEAMS = ("t-1", "t-2")
QUEUES = ("billing", "sales")
CUSTOMERS = ("cu-1", "cu-2", "cu-3", None)
STATES = ("available", "on_contact", "after_contact_work", "break", "other", "logged_out")

# Moments spread over two days, with whole, fractional and boundary seconds.
moments = st.builds(lambda s, us: START + timedelta(seconds=s, microseconds=us),
                    st.integers(0, 2 * 86400), st.sampled_from([0, 0, 500000, 1]))
waits = st.sampled_from(["0", "4.999", "5", "19.5", "20", "20.001", "63.5", "240"]).map(Decimal)
seconds = st.decimals(min_value=0, max_value=3000, places=3)


def event(type_name: str, tenant: str, data: dict[str, Any], event_id: str) -> CloudEvent:
    model = EVENT_TYPES[type_name].model
    return new_event(type_name, tenant, model.model_validate(data), source="test", event_id=event_id)


@st.composite
def contact(draw: st.DrawFn, n: int, tenant: str) -> list[CloudEvent]:
    iid = f"c-{n}"
    at = draw(moments)
    queue, channel = draw(st.sampled_from(QUEUES)), draw(st.sampled_from(["voice", "chat"]))
    agent, team = draw(st.sampled_from(AGENTS)), draw(st.sampled_from(TEAMS))
    customer = draw(st.sampled_from(CUSTOMERS))
    base = {"interaction_id": iid, "queue_id": queue, "channel": channel}
    wait = draw(waits)
    out = [event("cc.interaction.offered.v1", tenant, {**base, "occurred_at": at, "customer_ref": customer},
                 f"{iid}-o")]
    if draw(st.booleans()) and draw(st.booleans()):
        out.append(event("cc.interaction.abandoned.v1", tenant,
                         {**base, "occurred_at": at + timedelta(seconds=float(wait)), "queue_wait_s": wait},
                         f"{iid}-x"))
        return out
    answered_at = at + timedelta(seconds=float(wait))
    who = {"agent_id": agent, "team_id": draw(st.sampled_from([team, None]))}
    out.append(event("cc.interaction.answered.v1", tenant,
                     {**base, **who, "occurred_at": answered_at, "queue_wait_s": wait}, f"{iid}-a"))
    sale = draw(st.sampled_from([(False, False, None), (True, False, None), (True, True, "49.90")]))
    out.append(event("cc.interaction.wrapped-up.v1", tenant, {
        **base, **who, "occurred_at": answered_at + timedelta(seconds=draw(st.integers(1, 900))),
        "talk_s": draw(seconds), "hold_s": draw(seconds), "after_contact_work_s": draw(seconds),
        "transferred": draw(st.booleans()), "sale_eligible": sale[0], "sale_made": sale[1], "sale_value": sale[2],
        "customer_ref": customer, "resolved": draw(st.sampled_from([True, False, None]))}, f"{iid}-w"))
    return out


@st.composite
def outcome(draw: st.DrawFn, n: int, tenant: str) -> list[CloudEvent]:
    agent, at = draw(st.sampled_from(AGENTS)), draw(moments)
    kind = draw(st.sampled_from(["survey", "evaluation", "coaching", "state", "roster", "goal"]))
    if kind == "survey":
        return [event("cc.survey.answered.v1", tenant, {
            "survey_id": f"s-{n}", "interaction_id": f"c-{n}", "agent_id": draw(st.sampled_from([agent, None])),
            "occurred_at": at, "csat": draw(st.sampled_from([None, 1, 3, 4, 5])),
            "nps": draw(st.sampled_from([None, 0, 6, 7, 8, 9, 10])), "ces": draw(st.sampled_from([None, 1, 4, 7])),
            "resolved": draw(st.sampled_from([None, True, False])),
            "dimensions": draw(st.dictionaries(st.sampled_from(["ease", "friendliness"]), st.integers(0, 10)))},
            f"s-{n}")]
    if kind == "evaluation":
        ek = draw(st.sampled_from(["standard", "standard", "self", "calibration", "mystery_shop"]))
        common = {"evaluation_id": f"e-{n}", "agent_id": agent, "team_id": draw(st.sampled_from([*TEAMS, None])),
                  "kind": ek}
        out = [event("qa.evaluation.submitted.v1", tenant, {
            **common, "interaction_id": f"c-{n}", "evaluator_id": "q-1", "scorecard_id": "sc", "scorecard_version": 1,
            "score": draw(st.decimals(0, 100, places=2)), "submitted_at": at}, f"e-{n}")]
        for d in range(draw(st.integers(0, 2))):
            score = draw(st.decimals(0, 100, places=2))
            decided = at + timedelta(hours=draw(st.integers(1, 30)))
            out.append(event("qa.evaluation.dispute-resolved.v1", tenant, {
                **common, "dispute_id": f"d-{n}-{d}", "interaction_id": f"c-{n}", "scorecard_id": "sc",
                "scorecard_version": 1, "outcome": "rescored", "score": score, "resolved_at": decided,
                "decision": {"decided_by": "q-1", "decided_at": decided, "reason": "second look",
                             "previous_score": "50", "score": score}}, f"e-{n}-d{d}"))
        return out
    if kind == "coaching":
        planned = draw(st.sampled_from([None, date(2026, 11, 23), date(2026, 11, 24)]))
        return [event("coaching.session.recorded.v1", tenant, {
            "session_id": f"cs-{n}", "agent_id": agent, "coach_id": "tl-1", "kind": "one_to_one",
            "planned_on": planned, "held_at": at}, f"cs-{n}")]
    if kind == "goal":
        goal = {"agent_id": agent, "goal_id": f"g-{n}", "period_id": "p-1", "kind": "kpi", "corner": "quality",
                "kpi": "csat"}
        out = []
        if draw(st.booleans()):
            out.append(event("coaching.goal.set.v1", tenant, {**goal, "due_on": date(2026, 11, 24)}, f"g-{n}"))
        for d in range(draw(st.integers(0, 2))):
            kind_name = draw(st.sampled_from(["achieved", "missed"]))
            out.append(event(f"coaching.goal.{kind_name}.v1", tenant, {
                **goal, "decided_on": draw(st.sampled_from([date(2026, 11, 23), date(2026, 11, 25)]))}, f"g-{n}-{d}"))
        return out
    if kind == "state":
        return [event("cc.agent.state-changed.v1", tenant, {
            "agent_id": agent, "team_id": draw(st.sampled_from(TEAMS)), "state": draw(st.sampled_from(STATES)),
            "occurred_at": at}, f"st-{n}")]
    return [event("cc.roster.agent.v1", tenant, {
        "agent_id": agent, "team_id": draw(st.sampled_from(TEAMS)), "display_name": f"Agent {agent}",
        "occurred_at": at}, f"r-{n}")]


@st.composite
def day_of_events(draw: st.DrawFn, tenant: str = "acme", max_contacts: int = 12,
                  max_outcomes: int = 16) -> list[CloudEvent]:
    """Contacts, surveys, evaluations (with re-scores), coaching, agent states and roster changes."""
    events: list[CloudEvent] = []
    for n in range(draw(st.integers(0, max_contacts))):
        events += draw(contact(n, tenant))
    for n in range(draw(st.integers(0, max_outcomes))):
        events += draw(outcome(n, tenant))
    return events
