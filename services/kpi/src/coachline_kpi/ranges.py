"""Every KPI of one scope over a range of days (``GET /v1/kpis/range``): what coaching reads for a goal's
progress and for a period's effect against the period before.

The days' sums are added first and each figure is computed once from the totals, so a ratio is its
summed numerator over its summed denominator, never an average of daily ratios. Each figure comes with
its sample, the total it rests on: the count a ratio divides by (contacts, answers, evaluations, sessions
due ...), the count itself for a count, the sales for the sales value, the agents for coaching cadence,
and for occupancy the seconds of handling and available time. A ratio whose sample is below the tenant's
minimum is null ("not enough data"), as everywhere else in the service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel, Field

from coachline.auth import Principal
from coachline.contracts.agent_states import AgentState
from coachline.contracts.kpi import Scope
from coachline.persistence import tenant_transaction
from coachline_kpi import repository
from coachline_kpi.domain.access import may_see
from coachline_kpi.domain.figures import Figures, figures, provisional, summed
from coachline_kpi.domain.fold import HANDLING_STATES, ZERO, Counters
from coachline_kpi.domain.policy import ServiceLevelVariant, TenantPolicy
from coachline_kpi.domain.windows import day_key
from coachline_kpi.service import Forbidden

MAX_DAYS = 400
# Figures whose name carries a part of its own: a channel's AHT, a survey dimension.
PER_PART = ("aht_s.", "dim.")
KNOWN = frozenset(figures({}, TenantPolicy(), agents=1))


class InvalidRange(ValueError):
    """The days or the KPI asked for cannot be answered; the API answers 422."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class KpiValue(BaseModel):
    value: Decimal | None = Field(description="The figure over the days; null when the sample is below the "
                                              "minimum (not enough data).")
    sample: Decimal = Field(description="The total the figure rests on (see the route's description).")


class KpiRange(BaseModel):
    """One scope's figures over the days ``since`` to ``until`` (both included, the tenant's days)."""

    tenant_id: str
    scope: Scope
    scope_id: str
    since: date
    until: date
    min_sample: int
    sl_variant: ServiceLevelVariant
    kpis: dict[str, KpiValue]
    provisional: list[str] = Field(description="Figures that can still change as time passes (repeat-based FCR "
                                               "until its window after the last day has passed).")


def days(since: date, until: date) -> list[date]:
    if until < since:
        raise InvalidRange("until", "until is before since")
    count = (until - since).days + 1
    if count > MAX_DAYS:
        raise InvalidRange("until", f"a range covers at most {MAX_DAYS} days")
    return [since + timedelta(days=i) for i in range(count)]


def samples(s: Counters, policy: TenantPolicy, *, agents: int | None) -> dict[str, Decimal]:
    """Each figure's sample in the sums ``s`` (the names of :func:`~coachline_kpi.domain.figures.figures`)."""
    g = lambda name: s.get(name, ZERO)  # noqa: E731
    short = g("short_abandoned")
    if policy.sl_variant is ServiceLevelVariant.OFFERED:
        sl_den = g("offered") - short
    else:
        sl_den = g("answered") + g("abandoned_after_sl")
    out = {name: g(name) for name in ("offered", "answered", "abandoned", "short_abandoned", "handled",
                                      "coaching_sessions")}
    out |= {
        "service_level": sl_den, "asa_s": g("answered"), "abandon_rate": g("offered") - short,
        "aht_s": g("handled"), "transfer_rate": g("handled"),
        "occupancy": sum((g(f"state_s.{st}") for st in (*HANDLING_STATES, AgentState.AVAILABLE.value)), ZERO),
        "fcr_repeat": g("fcr_known"), "fcr_survey": g("fcr_survey_n"), "csat": g("csat_n"), "nps": g("nps_n"),
        "ces": g("ces_n"), "quality_score": g("quality_n"), "mystery_shop_score": g("mystery_n"),
        "sales_conversion": g("sale_eligible"), "sales_value": g("sale_made"),
        "coaching_on_time": g("coaching_due"), "goal_attainment": g("goals_due"),
        "coaching_cadence": Decimal(agents or 0),
    }
    for name in s:
        if name.startswith("handled."):
            out[f"aht_s.{name.removeprefix('handled.')}"] = g(name)
        elif name.startswith("dim_n."):
            out[f"dim.{name.removeprefix('dim_n.')}"] = g(name)
    return out


def check_kpi(kpi: str | None) -> None:
    if kpi is not None and kpi not in KNOWN and not kpi.startswith(PER_PART):
        raise InvalidRange("kpi", "not a KPI of this service")


def over(sums: Counters, policy: TenantPolicy, *, agents: int | None, kpi: str | None = None) -> dict[str, KpiValue]:
    """The figures of ``sums`` (all of them, or only ``kpi``), each with its sample."""
    shown: Figures = figures(sums, policy, agents=agents)
    n = samples(sums, policy, agents=agents)
    names = [kpi] if kpi is not None else list(shown)
    return {name: KpiValue(value=shown.get(name), sample=n.get(name, ZERO)) for name in names}


class RangeQueries:
    """Reads on a person's behalf under the same visibility rules as every other figure."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], default_policy: TenantPolicy) -> None:
        self.pool = pool
        self.default_policy = default_policy

    async def over_days(self, caller: Principal, scope: Scope, scope_id: str, since: date, until: date,
                        kpi: str | None = None) -> KpiRange:
        check_kpi(kpi)
        wanted = [(scope.value, scope_id, day_key(day)) for day in days(since, until)]
        tenant = caller.tenant_id
        async with tenant_transaction(self.pool(), tenant) as conn:
            team = None
            if scope == Scope.AGENT:
                team = (await repository.agent_teams(conn, tenant, [scope_id])).get(scope_id)
            if not may_see(caller, scope, scope_id, team):
                raise Forbidden(f"You may not see the figures of this {scope.value}.")
            policy = (await repository.policies(conn, [tenant])).get(tenant, self.default_policy)
            rows = await repository.find_keys(conn, tenant, wanted, policy)
        agents = max((r["agents"] for r in rows if r["agents"]), default=1 if scope == Scope.AGENT else None)
        kpis = over(summed(r["sums"] for r in rows), policy, agents=agents, kpi=kpi)
        today = datetime.now(ZoneInfo(policy.time_zone)).date()
        return KpiRange(tenant_id=tenant, scope=scope, scope_id=scope_id, since=since, until=until,
                        min_sample=policy.min_sample, sl_variant=policy.sl_variant, kpis=kpis,
                        provisional=[k for k in provisional(day_key(until), policy, today) if k in kpis])
