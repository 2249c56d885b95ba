"""From summed counters to the figures of KPI_DEFINITIONS.md, and the live figures.

Every ratio divides summed numerators by summed denominators of the window; a ratio whose
denominator (its sample) is below the tenant's minimum is ``None``, shown as "not enough data".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from coachline.contracts.agent_states import AgentState
from coachline.contracts.kpi import Scope
from coachline_kpi.domain.fold import AGENT_ATTRIBUTED, HANDLING_STATES, ZERO, Counters
from coachline_kpi.domain.policy import ServiceLevelVariant, TenantPolicy

Figures = dict[str, Decimal | None]
RATIO = Decimal("0.000001")
SECONDS = Decimal("0.001")
# A contact offered longer ago than this without an answer or abandon is taken as lost, not waiting.
WAITING_HORIZON = timedelta(hours=12)

# Which corner of the goal triangle each figure belongs to (wellbeing is the centre).
GOAL_TRIANGLE = {
    "quality": ("quality_score", "fcr_repeat", "fcr_survey", "csat", "nps", "ces", "mystery_shop_score", "dim."),
    "sales": ("sales_conversion", "sales_value"),
    "efficiency": ("service_level", "asa_s", "abandon_rate", "aht_s", "occupancy", "transfer_rate"),
    "wellbeing": ("coaching_sessions", "coaching_cadence", "coaching_on_time", "goal_attainment"),
}


def _ratio(num: Decimal, den: Decimal, min_sample: int, unit: Decimal = RATIO, scale: int = 1) -> Decimal | None:
    if den < min_sample or den <= 0:
        return None
    return (num * scale / den).quantize(unit)


def figures(s: Counters, policy: TenantPolicy, *, agents: int | None = None) -> Figures:
    """The figures of one scope and window from its sums; ``agents`` is the head count for coaching cadence."""
    g = lambda name: s.get(name, ZERO)  # noqa: E731
    n = policy.min_sample
    short = g("short_abandoned")
    if policy.sl_variant is ServiceLevelVariant.OFFERED:
        sl_den = g("offered") - short
    else:
        sl_den = g("answered") + g("abandoned_after_sl")
    handling = sum((g(f"state_s.{st}") for st in HANDLING_STATES), ZERO)
    available = g(f"state_s.{AgentState.AVAILABLE.value}")
    out: Figures = {
        "offered": g("offered"),
        "answered": g("answered"),
        "abandoned": g("abandoned"),
        "short_abandoned": short,
        "handled": g("handled"),
        "service_level": _ratio(g("answered_in_sl"), sl_den, n),
        "asa_s": _ratio(g("answered_wait_s"), g("answered"), n, SECONDS),
        "abandon_rate": _ratio(g("abandoned") - short, g("offered") - short, n),
        "aht_s": _ratio(g("handle_time_s"), g("handled"), n, SECONDS),
        "transfer_rate": _ratio(g("transferred"), g("handled"), n),
        # A share of time, not of a count: any time at all is enough of a sample.
        "occupancy": _ratio(handling, handling + available, 1),
        "fcr_repeat": _ratio(g("fcr_known") - g("fcr_repeat"), g("fcr_known"), n),
        "fcr_survey": _ratio(g("fcr_survey_yes"), g("fcr_survey_n"), n),
        "csat": _ratio(g("csat_satisfied"), g("csat_n"), n),
        "nps": _ratio(g("nps_promoters") - g("nps_detractors"), g("nps_n"), n, RATIO, 100),
        "ces": _ratio(g("ces_sum"), g("ces_n"), n),
        "quality_score": _ratio(g("quality_sum"), g("quality_n"), n),
        "mystery_shop_score": _ratio(g("mystery_sum"), g("mystery_n"), n),
        "sales_conversion": _ratio(g("sale_made"), g("sale_eligible"), n),
        "sales_value": g("sale_value"),
        "coaching_sessions": g("coaching_sessions"),
        "coaching_on_time": _ratio(g("coaching_on_time"), g("coaching_due"), n),
        "goal_attainment": _ratio(g("goals_achieved"), g("goals_due"), n),
        "coaching_cadence": (_ratio(g("coaching_sessions"), Decimal(agents), 1) if agents else None),
    }
    for name in sorted(s):
        if name.startswith("handled."):
            channel = name.removeprefix("handled.")
            out[f"aht_s.{channel}"] = _ratio(g(f"handle_time_s.{channel}"), g(name), n, SECONDS)
        elif name.startswith("dim_n."):
            dim = name.removeprefix("dim_n.")
            out[f"dim.{dim}"] = _ratio(g(f"dim_sum.{dim}"), g(name), n)
    return out


def provisional(window: str, policy: TenantPolicy, today: date) -> list[str]:
    """Figures of ``window`` that can still change as time passes: repeat-based FCR until its window passes."""
    kind, _, start = window.partition(":")
    first = date.fromisoformat(start[:10]) if kind != "period" or len(start) > 7 else date.fromisoformat(start + "-01")
    last = {"15m": first, "day": first, "week": first + timedelta(days=6), "30d": first}.get(kind, today)
    return ["fcr_repeat"] if today <= last + timedelta(days=policy.fcr_window_days) else []


def with_members(team_sums: Counters, member_sums: Iterable[Counters]) -> Counters:
    """A team's sums: its own (contacts, time in state) plus its members' surveys, evaluations and coaching."""
    out = dict(team_sums)
    for sums in member_sums:
        for name, value in sums.items():
            if name.startswith(AGENT_ATTRIBUTED):
                out[name] = out.get(name, ZERO) + value
    return out


def summed(rows: Iterable[Counters]) -> Counters:
    out: Counters = {}
    for sums in rows:
        for name, value in sums.items():
            out[name] = out.get(name, ZERO) + value
    return out


def live_figures(scope: Scope, scope_id: str, contacts: Iterable[Mapping[str, Any]],
                 agents: Iterable[Mapping[str, Any]], now: datetime) -> Figures:
    """Contacts waiting now, the longest wait now (seconds) and agents by state now, for one scope.

    ``contacts`` are waiting contacts (offered, neither answered nor abandoned) of the tenant; ``agents``
    the latest state of each agent of the tenant.
    """
    waits = []
    for c in contacts:
        if scope is Scope.QUEUE and c.get("queue_id") != scope_id:
            continue
        if scope in (Scope.TEAM, Scope.AGENT):
            continue
        offered = datetime.fromisoformat(c["offered_at"])
        if now - offered <= WAITING_HORIZON:
            waits.append(max(timedelta(0), now - offered))
    out: Figures = {
        "waiting_now": Decimal(len(waits)),
        "longest_wait_s_now": (Decimal(max(waits) // timedelta(milliseconds=1)) / 1000 if waits else ZERO),
    }
    counts = {state.value: 0 for state in AgentState}
    for a in agents:
        if a.get("state") is None:
            continue
        team = a.get("state_team") or a.get("team_id")
        if (scope is Scope.TEAM and team != scope_id) or scope is Scope.QUEUE:
            continue
        if scope is Scope.AGENT and a.get("agent_id") != scope_id:
            continue
        counts[a["state"]] += 1
    out |= {f"agents_now.{state}": Decimal(n) for state, n in counts.items()}
    return out


def day_window(at: datetime, zone: ZoneInfo) -> str:
    """The calendar day of ``at`` in the tenant's time zone, e.g. ``day:2026-11-23``."""
    return f"day:{at.astimezone(zone).date().isoformat()}"
