"""Who may see which figures. A person's figures are theirs and their team leads'; an agent sees the
average of their own team, and other people's figures only on an ``open`` team's leaderboard."""

from __future__ import annotations

from coachline.auth import Principal, Role
from coachline.contracts.kpi import Scope

EVERYTHING = (Role.ADMIN, Role.SERVICE_MANAGER)
LEADS = (Role.TEAM_LEAD, Role.SALES_COACH)


def sees_everything(principal: Principal) -> bool:
    return principal.has(*EVERYTHING)


def may_see(principal: Principal, scope: Scope | str, scope_id: str, agent_team: str | None = None) -> bool:
    """Whether ``principal`` may read figures of one scope; ``agent_team`` is an agent scope's current team."""
    if sees_everything(principal) or scope in (Scope.TENANT, Scope.QUEUE):
        return True
    if scope == Scope.TEAM:
        return principal.has(Role.QUALITY_EVALUATOR) or scope_id in principal.teams
    return principal.is_agent(scope_id) or (principal.has(*LEADS) and agent_team in principal.teams)


def may_decide_visibility(principal: Principal, team_id: str) -> bool:
    return principal.has(Role.ADMIN) or (principal.has(Role.TEAM_LEAD) and team_id in principal.teams)


def may_see_team_members(principal: Principal, team_id: str) -> bool:
    """Members and leads of a team (and administrators) may open its leaderboard when it is open."""
    return sees_everything(principal) or team_id in principal.teams
