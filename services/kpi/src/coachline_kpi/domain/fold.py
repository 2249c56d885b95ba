"""The KPI fold: what every event adds to which scope and window, as exact sums.

One fold serves the live projection (seeded per batch with the state it needs from PostgreSQL),
``coachline kpi rebuild`` and ``coachline kpi compute`` (all state in memory). Every figure is a sum
of counters, and every counter is either added by one event or derived from an entity's whole state
(an evaluation's effective score, a customer's repeat contacts, an agent's time in state) as
``contribution(after) - contribution(before)``. Either way the final sums depend only on the set
of events, not on their order, which is what lets late and out-of-order events land in the right window.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from coachline.contracts.agent_states import AgentState, AgentStateChanged
from coachline.contracts.coaching import (
    CoachingGoalAchieved,
    CoachingGoalMissed,
    CoachingGoalSet,
    CoachingSessionMissed,
    CoachingSessionRecorded,
)
from coachline.contracts.evaluations import EvaluationDisputeResolved, EvaluationKind, EvaluationSubmitted
from coachline.contracts.interactions import (
    InteractionAbandoned,
    InteractionAnswered,
    InteractionOffered,
    InteractionWrappedUp,
)
from coachline.contracts.kpi import Scope
from coachline.contracts.roster import AgentRostered
from coachline.contracts.surveys import SurveyAnswered
from coachline.envelope import CloudEvent
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.domain.windows import split, window_keys

Key = tuple[str, str, str, str]  # tenant, scope, scope id, window
Counters = dict[str, Decimal]
EntityRef = tuple[str, str, str]  # tenant, kind, id
Contribution = list[tuple[Key, Counters]]
ONE = Decimal(1)
ZERO = Decimal(0)
# Counters that follow an agent to their current team when a team's figures are read: surveys,
# evaluations and coaching name the agent, not the team the agent was in.
AGENT_ATTRIBUTED = ("csat_", "nps_", "ces_", "fcr_survey_", "dim_", "quality_", "mystery_", "coaching_", "goals_")
HANDLING_STATES = (AgentState.ON_CONTACT.value, AgentState.AFTER_CONTACT_WORK.value)


@dataclass(frozen=True)
class Mark:
    """An agent entering a state; the interval to the agent's next mark is time in that state.

    Marks are ordered by time, then by the platform's sequence (two changes in the same millisecond),
    then by event id, so any arrival order gives the same timeline.
    """

    at: datetime
    event_id: str
    state: str
    team_id: str | None = None
    sequence: int | None = None

    @property
    def order(self) -> tuple[datetime, int, str]:
        return (self.at, -1 if self.sequence is None else self.sequence, self.event_id)

    def __lt__(self, other: Mark) -> bool:
        return self.order < other.order


def add_into(target: dict[Key, Counters], key: Key, counters: Counters, sign: int = 1) -> None:
    """Add ``counters`` (or take them away, ``sign`` -1) to ``target[key]``; the fold's innermost step."""
    row = target.get(key)
    if row is None:
        row = target[key] = {}
    get = row.get
    if sign > 0:
        for name, value in counters.items():
            row[name] = get(name, ZERO) + value
    else:
        for name, value in counters.items():
            row[name] = get(name, ZERO) - value


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class Fold:
    """Folds events into sum deltas; state it needs beyond the events is in ``entities`` and ``timelines``.

    ``policy_for`` gives a tenant's policy. The caller dedupes by event id (the inbox) before ``apply``.
    """

    def __init__(self, policy_for: Callable[[str], TenantPolicy]) -> None:
        self.policy_for = policy_for
        self.deltas: dict[Key, Counters] = {}
        self.entities: dict[EntityRef, dict[str, Any]] = {}
        self.changed_entities: set[EntityRef] = set()
        self.timelines: dict[tuple[str, str], list[Mark]] = {}
        self.new_marks: list[tuple[str, str, Mark]] = []

    # -- what the projection must load before folding a batch --------------------------------------

    @staticmethod
    def entities_needed(event: CloudEvent) -> list[EntityRef]:
        p, t = event.data, event.tenant_id
        refs: list[EntityRef] = []
        if isinstance(p, InteractionOffered | InteractionAnswered | InteractionAbandoned):
            refs.append((t, "contact", p.interaction_id))
        if isinstance(p, InteractionOffered | InteractionWrappedUp) and p.customer_ref:
            refs.append((t, "customer", p.customer_ref))
        if isinstance(p, SurveyAnswered):
            refs.append((t, "contact", p.interaction_id))
        if isinstance(p, EvaluationSubmitted | EvaluationDisputeResolved):
            refs += [(t, "evaluation", p.evaluation_id), (t, "agent", p.agent_id)]
        if isinstance(p, AgentStateChanged | AgentRostered):
            refs.append((t, "agent", p.agent_id))
        if isinstance(p, CoachingSessionRecorded | CoachingSessionMissed):
            refs.append((t, "session", p.session_id))
        if isinstance(p, CoachingGoalSet | CoachingGoalAchieved | CoachingGoalMissed):
            refs.append((t, "goal", p.goal_id))
        return refs

    @staticmethod
    def timeline_needed(event: CloudEvent) -> tuple[str, str, datetime] | None:
        p = event.data
        return (event.tenant_id, p.agent_id, p.occurred_at) if isinstance(p, AgentStateChanged) else None

    # -- folding -----------------------------------------------------------------------------------

    def apply_all(self, events: Iterable[CloudEvent]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: CloudEvent) -> None:
        tenant, p = event.tenant_id, event.data
        policy = self.policy_for(tenant)
        match p:
            case InteractionOffered() | InteractionAnswered() | InteractionAbandoned() | InteractionWrappedUp():
                self._interaction(tenant, event.id, p, policy)
            case SurveyAnswered():
                self._survey(tenant, p, policy)
            case EvaluationSubmitted():
                self._evaluation(tenant, p.evaluation_id, p.agent_id, {
                    "agent_id": p.agent_id, "kind": p.kind.value, "at": _iso(p.submitted_at), "score": str(p.score)})
                self._agent_team(tenant, p.agent_id, p.team_id, p.submitted_at)
            case EvaluationDisputeResolved():
                self._evaluation(tenant, p.evaluation_id, p.agent_id, {
                    "final_score": str(p.score), "final_at": _iso(p.resolved_at), "final_id": p.dispute_id})
                self._agent_team(tenant, p.agent_id, p.team_id, p.resolved_at)
            case CoachingSessionRecorded():
                self._update(tenant, "session", p.session_id, lambda s: s.update(self._session(p, policy)),
                             self._session_contribution)
            case CoachingSessionMissed():
                self._update(tenant, "session", p.session_id, lambda s: s.update(
                    agent_id=p.agent_id, planned_on=p.planned_on.isoformat(), missed_on=p.missed_on.isoformat()),
                    self._session_contribution)
            case CoachingGoalSet():
                self._update(tenant, "goal", p.goal_id,
                             lambda s: s.update(agent_id=p.agent_id, due_on=p.due_on.isoformat()),
                             self._goal_contribution)
            case CoachingGoalAchieved() | CoachingGoalMissed():
                decision = (p.decided_on.isoformat(), event.id, isinstance(p, CoachingGoalAchieved))

                def decide(s: dict[str, Any]) -> None:
                    s["agent_id"] = p.agent_id
                    # The latest decision stands, whichever order decisions arrive in.
                    if s.get("decision") is None or tuple(s["decision"]) < decision:
                        s["decision"] = list(decision)

                self._update(tenant, "goal", p.goal_id, decide, self._goal_contribution)
            case AgentStateChanged():
                self._state_changed(tenant, event.id, p, policy)
            case AgentRostered():
                self._agent_team(tenant, p.agent_id, p.team_id, p.occurred_at, roster=p)
            case _:
                # Other types on the topics we read (held, resumed, transferred, ended, assigned, ...)
                # add nothing: their effect is in the wrap-up or the evaluation they lead to.
                pass

    def _add(self, key: Key, counters: Counters, sign: int = 1) -> None:
        add_into(self.deltas, key, counters, sign)

    def _to_windows(self, tenant: str, scopes: list[tuple[Scope, str]], at: datetime, counters: Counters,
                    policy: TenantPolicy) -> Contribution:
        windows = window_keys(at, policy)
        return [((tenant, scope, sid, w), counters) for scope, sid in _values(scopes) for w in windows]

    def _update(self, tenant: str, kind: str, ident: str, change: Callable[[dict[str, Any]], None],
                contribution: Callable[[str, dict[str, Any]], Contribution]) -> None:
        ref = (tenant, kind, ident)
        state = self.entities.setdefault(ref, {})
        before = contribution(tenant, state)
        change(state)
        after = contribution(tenant, state)
        for key, counters in before:
            self._add(key, counters, -1)
        for key, counters in after:
            self._add(key, counters)
        self.changed_entities.add(ref)

    # -- interactions -----------------------------------------------------------------------------

    def _interaction(self, tenant: str, event_id: str, p: BaseModel, policy: TenantPolicy) -> None:
        scopes: list[tuple[Scope, str]] = [(Scope.TENANT, tenant), (Scope.QUEUE, p.queue_id)]  # type: ignore[attr-defined]
        counters: Counters = {}
        match p:
            case InteractionOffered():
                counters = {"offered": ONE}
                self._update(tenant, "contact", p.interaction_id, lambda s: _offered(s, p),
                             self._survey_queue_contribution)
                if p.customer_ref:
                    self._customer(tenant, p.customer_ref, p.interaction_id, p.occurred_at, None)
            case InteractionAbandoned():
                counters = {"abandoned": ONE}
                if p.queue_wait_s < policy.short_abandon_s:
                    counters["short_abandoned"] = ONE
                if p.queue_wait_s > policy.sl_threshold_s:
                    counters["abandoned_after_sl"] = ONE
                self._update(tenant, "contact", p.interaction_id, lambda s: _ended_waiting(s, p.queue_id), _nothing)
            case InteractionAnswered():
                counters = {"answered": ONE, "answered_wait_s": p.queue_wait_s}
                if p.queue_wait_s <= policy.sl_threshold_s:
                    counters["answered_in_sl"] = ONE
                scopes += _people(p.team_id, p.agent_id)
                self._update(tenant, "contact", p.interaction_id, lambda s: _ended_waiting(s, p.queue_id), _nothing)
            case InteractionWrappedUp():
                handle = p.talk_s + p.hold_s + p.after_contact_work_s
                counters = {"handled": ONE, "handle_time_s": handle, f"handled.{p.channel.value}": ONE,
                            f"handle_time_s.{p.channel.value}": handle}
                if p.transferred:
                    counters["transferred"] = ONE
                if p.sale_eligible:
                    counters["sale_eligible"] = ONE
                    if p.sale_made:
                        counters["sale_made"] = ONE
                if p.sale_made and p.sale_value is not None:
                    counters["sale_value"] = p.sale_value
                scopes += _people(p.team_id, p.agent_id)
                if p.customer_ref:
                    handled = {"event_id": event_id, "interaction_id": p.interaction_id, "at": _iso(p.occurred_at),
                               "scopes": [[s.value, i] for s, i in scopes]}
                    self._customer(tenant, p.customer_ref, p.interaction_id, p.occurred_at, handled)
        for key, c in self._to_windows(tenant, scopes, p.occurred_at, counters, policy):  # type: ignore[attr-defined]
            self._add(key, c)

    def _customer(self, tenant: str, customer: str, interaction_id: str, at: datetime,
                  handled: dict[str, Any] | None) -> None:
        """A customer's contact and, once it is wrapped up, the handled contact that FCR counts.

        Each handled contact contributes to its windows whether the customer came back within the
        window; this is contribution(after) - contribution(before) as in :meth:`_update`, where only
        the handled contacts whose answer changed (or that are new) make a difference.
        """
        ref = (tenant, "customer", customer)
        state = self.entities.setdefault(ref, {})
        policy = self.policy_for(tenant)
        before = self._repeats(state, policy)
        contacts = state.setdefault("contacts", {})
        seen = contacts.get(interaction_id)
        if seen is None or at < _ts(seen):
            contacts[interaction_id] = _iso(at)
        if handled:
            state.setdefault("handled", {})[handled["event_id"]] = handled
        for event_id, repeated in self._repeats(state, policy).items():
            was = before.get(event_id)
            if was is repeated:
                continue
            h = state["handled"][event_id]
            if was is not None:
                self._handled(tenant, h, was, policy, -1)
            self._handled(tenant, h, repeated, policy, 1)
        self.changed_entities.add(ref)

    @staticmethod
    def _repeats(state: dict[str, Any], policy: TenantPolicy) -> dict[str, bool]:
        """Per handled contact (by event id): did the customer come back within the FCR window?"""
        window = timedelta(days=policy.fcr_window_days)
        contacts = [(iid, _ts(at)) for iid, at in state.get("contacts", {}).items()]
        out = {}
        for event_id, h in state.get("handled", {}).items():
            at = _ts(h["at"])
            out[event_id] = any(iid != h["interaction_id"] and at < c_at <= at + window for iid, c_at in contacts)
        return out

    def _handled(self, tenant: str, h: dict[str, Any], repeated: bool, policy: TenantPolicy, sign: int) -> None:
        counters = {"fcr_known": ONE, "fcr_repeat": ONE if repeated else ZERO}
        for key, c in self._to_windows(tenant, [(Scope(s), i) for s, i in h["scopes"]], _ts(h["at"]), counters,
                                       policy):
            self._add(key, c, sign)

    # -- surveys, evaluations, coaching -------------------------------------------------------------

    def _survey(self, tenant: str, p: SurveyAnswered, policy: TenantPolicy) -> None:
        c: Counters = {}
        if p.csat is not None:
            c |= {"csat_n": ONE, "csat_satisfied": ONE if p.csat >= 4 else ZERO}
        if p.nps is not None:
            c |= {"nps_n": ONE, "nps_promoters": ONE if p.nps >= 9 else ZERO,
                  "nps_detractors": ONE if p.nps <= 6 else ZERO}
        if p.ces is not None:
            c |= {"ces_n": ONE, "ces_sum": Decimal(p.ces)}
        if p.resolved is not None:
            c |= {"fcr_survey_n": ONE, "fcr_survey_yes": ONE if p.resolved else ZERO}
        for name, score in p.dimensions.items():
            c |= {f"dim_n.{name}": ONE, f"dim_sum.{name}": Decimal(score)}
        scopes = [(Scope.TENANT, tenant), *_people(None, p.agent_id)]
        for key, counters in self._to_windows(tenant, scopes, p.occurred_at, c, policy):
            self._add(key, counters)
        # The contact's queue may only be known once its offer arrives, so the queue's share hangs on the contact.
        answer = {"at": _iso(p.occurred_at), "counters": {k: str(v) for k, v in c.items()}}
        self._update(tenant, "contact", p.interaction_id,
                     lambda s: s.setdefault("surveys", {}).__setitem__(p.survey_id, answer),
                     self._survey_queue_contribution)

    def _survey_queue_contribution(self, tenant: str, state: dict[str, Any]) -> Contribution:
        queue = state.get("offered_queue")
        if not queue:
            return []
        out: Contribution = []
        for answer in state.get("surveys", {}).values():
            counters = {k: Decimal(v) for k, v in answer["counters"].items()}
            out += self._to_windows(tenant, [(Scope.QUEUE, queue)], _ts(answer["at"]), counters,
                                    self.policy_for(tenant))
        return out

    def _evaluation(self, tenant: str, evaluation_id: str, agent_id: str, values: dict[str, str]) -> None:
        def change(state: dict[str, Any]) -> None:
            # The latest decision is the final score, whichever order the decisions arrive in.
            if "final_at" in values and "final_at" in state and (
                    (values["final_at"], values["final_id"]) < (state["final_at"], state["final_id"])):
                return
            state.update(values)

        self._update(tenant, "evaluation", evaluation_id, change, self._evaluation_contribution)

    def _evaluation_contribution(self, tenant: str, state: dict[str, Any]) -> Contribution:
        """A submitted standard (or mystery-shop) evaluation counts with its final score; a rescore replaces it."""
        if "at" not in state or state["kind"] not in (EvaluationKind.STANDARD, EvaluationKind.MYSTERY_SHOP):
            return []
        prefix = "quality" if state["kind"] == EvaluationKind.STANDARD else "mystery"
        score = Decimal(state.get("final_score", state["score"]))
        scopes = [(Scope.TENANT, tenant), (Scope.AGENT, state["agent_id"])]
        return self._to_windows(tenant, scopes, _ts(state["at"]), {f"{prefix}_n": ONE, f"{prefix}_sum": score},
                                self.policy_for(tenant))

    @staticmethod
    def _session(p: CoachingSessionRecorded, policy: TenantPolicy) -> dict[str, Any]:
        held_on = p.held_at.astimezone(ZoneInfo(policy.time_zone)).date()
        return {"agent_id": p.agent_id, "at": _iso(p.held_at),
                "planned_on": p.planned_on.isoformat() if p.planned_on else None, "held_on": held_on.isoformat()}

    def _session_contribution(self, tenant: str, state: dict[str, Any]) -> Contribution:
        """A session counts once, however often it is recorded; on time when held on or before its planned day.

        A missed session is due but not on time, in the window of the day it was missed; if it is held
        after all, the holding counts instead.
        """
        if "at" not in state:
            if "missed_on" not in state:
                return []
            missed_at = datetime.combine(date.fromisoformat(state["missed_on"]), time(12),
                                         ZoneInfo(self.policy_for(tenant).time_zone))
            scopes = [(Scope.TENANT, tenant), (Scope.AGENT, state["agent_id"])]
            return self._to_windows(tenant, scopes, missed_at, {"coaching_due": ONE, "coaching_on_time": ZERO},
                                    self.policy_for(tenant))
        c: Counters = {"coaching_sessions": ONE}
        if state["planned_on"]:
            on_time = date.fromisoformat(state["held_on"]) <= date.fromisoformat(state["planned_on"])
            c |= {"coaching_due": ONE, "coaching_on_time": ONE if on_time else ZERO}
        scopes = [(Scope.TENANT, tenant), (Scope.AGENT, state["agent_id"])]
        return self._to_windows(tenant, scopes, _ts(state["at"]), c, self.policy_for(tenant))

    def _goal_contribution(self, tenant: str, state: dict[str, Any]) -> Contribution:
        """A decided goal counts as due in the window of its due day (its decision day until that is known)."""
        if state.get("decision") is None:
            return []
        policy = self.policy_for(tenant)
        day = date.fromisoformat(state.get("due_on") or state["decision"][0])
        at = datetime.combine(day, time(12), ZoneInfo(policy.time_zone))
        counters = {"goals_due": ONE, "goals_achieved": ONE if state["decision"][2] else ZERO}
        return self._to_windows(tenant, [(Scope.TENANT, tenant), (Scope.AGENT, state["agent_id"])], at, counters,
                                policy)

    # -- agents -----------------------------------------------------------------------------------

    def _agent_team(self, tenant: str, agent_id: str, team_id: str | None, at: datetime,
                    roster: AgentRostered | None = None) -> None:
        def change(state: dict[str, Any]) -> None:
            if roster is not None and (state.get("roster_at") is None or _iso(at) >= state["roster_at"]):
                state.update(roster_at=_iso(at), display_name=roster.display_name, active=roster.active)
            if team_id is not None and (state.get("team_at") is None or
                                        (_iso(at), team_id) > (state["team_at"], state["team_id"])):
                state.update(team_at=_iso(at), team_id=team_id)

        self._update(tenant, "agent", agent_id, change, _nothing)

    def _state_changed(self, tenant: str, event_id: str, p: AgentStateChanged, policy: TenantPolicy) -> None:
        marks = self.timelines.setdefault((tenant, p.agent_id), [])
        mark = Mark(p.occurred_at, event_id, p.state.value, p.team_id, p.sequence)
        pos = bisect.bisect_left(marks, mark)
        if pos < len(marks) and marks[pos] == mark:
            return
        before = marks[pos - 1] if pos > 0 else None
        after = marks[pos] if pos < len(marks) else None
        if before and after:
            self._interval(tenant, p.agent_id, before, after.at, -1, policy)
        if before:
            self._interval(tenant, p.agent_id, before, mark.at, 1, policy)
        if after:
            self._interval(tenant, p.agent_id, mark, after.at, 1, policy)
        marks.insert(pos, mark)
        self.new_marks.append((tenant, p.agent_id, mark))

        def change(state: dict[str, Any]) -> None:
            latest = (_iso(mark.at), mark.order[1], event_id)
            if state.get("state_at") is None or latest > (state["state_at"], state.get("state_seq", -1),
                                                          state["state_id"]):
                state.update(state=mark.state, state_at=_iso(mark.at), state_seq=mark.order[1], state_id=event_id,
                             state_team=mark.team_id)

        self._update(tenant, "agent", p.agent_id, change, _nothing)
        if p.team_id:
            self._agent_team(tenant, p.agent_id, p.team_id, p.occurred_at)

    def count_current_states(self, as_of: datetime) -> None:
        """Add each agent's current state up to ``as_of``: time in it so far is time in state, as the
        figures read at that moment count it (``repository.find_keys``)."""
        for (tenant, agent_id), marks in self.timelines.items():
            if marks:
                self._interval(tenant, agent_id, marks[-1], as_of, 1, self.policy_for(tenant))

    def _interval(self, tenant: str, agent_id: str, mark: Mark, end: datetime, sign: int,
                  policy: TenantPolicy) -> None:
        if mark.state == AgentState.LOGGED_OUT or end <= mark.at:
            return
        scopes = [(Scope.TENANT.value, tenant), (Scope.AGENT.value, agent_id)]
        if mark.team_id:
            scopes.append((Scope.TEAM.value, mark.team_id))
        for window, secs in split(mark.at, end, policy):
            counters = {f"state_s.{mark.state}": secs}
            for scope, sid in scopes:
                self._add((tenant, scope, sid, window), counters, sign)


def _values(scopes: list[tuple[Scope, str]]) -> list[tuple[str, str]]:
    return [(scope.value, sid) for scope, sid in scopes]


def _people(team_id: str | None, agent_id: str | None) -> list[tuple[Scope, str]]:
    out: list[tuple[Scope, str]] = []
    if team_id:
        out.append((Scope.TEAM, team_id))
    if agent_id:
        out.append((Scope.AGENT, agent_id))
    return out


def _nothing(_tenant: str, _state: dict[str, Any]) -> Contribution:
    return []


def _offered(state: dict[str, Any], p: InteractionOffered) -> None:
    # The first offer names the contact's queue (a transfer offers it again elsewhere), in any arrival order.
    if state.get("offered_at") is None or (_iso(p.occurred_at), p.queue_id) < (state["offered_at"],
                                                                               state["offered_queue"]):
        state.update(offered_at=_iso(p.occurred_at), offered_queue=p.queue_id, queue_id=p.queue_id)


def _ended_waiting(state: dict[str, Any], queue_id: str) -> None:
    state["done"] = True


def normalised(sums: dict[Key, Counters]) -> dict[Key, Counters]:
    """Sums without zero counters or empty rows: two folds of the same events compare equal."""
    out = {}
    for key, counters in sums.items():
        kept = {k: v for k, v in counters.items() if v != 0}
        if kept:
            out[key] = kept
    return out
