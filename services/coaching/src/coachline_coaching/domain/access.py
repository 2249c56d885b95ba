"""Who may see and coach whom: agents their own record, coaches their teams, managers their units."""

from __future__ import annotations

from dataclasses import dataclass

from coachline.auth import Principal, Role


@dataclass(frozen=True)
class Placement:
    """Where the roster puts an agent: their team and the team's unit (unknown until rostered)."""

    agent_id: str
    team_id: str | None = None
    unit_id: str | None = None


def may_coach(person: Principal, agent: Placement) -> bool:
    """Plan periods, set goals, hold sessions: admins, the agent's team lead or sales coach, their unit's manager."""
    if person.has(Role.ADMIN):
        return True
    if person.has(Role.TEAM_LEAD, Role.SALES_COACH) and agent.team_id is not None and agent.team_id in person.teams:
        return True
    return person.has(Role.SERVICE_MANAGER) and agent.unit_id is not None and agent.unit_id in person.units


def is_the_agent(person: Principal, agent: Placement) -> bool:
    return person.has(Role.AGENT) and person.is_agent(agent.agent_id)


def may_view(person: Principal, agent: Placement) -> bool:
    """Read the agent's periods, goals, actions and timeline: whoever may coach them, and the agent."""
    return is_the_agent(person, agent) or may_coach(person, agent)
