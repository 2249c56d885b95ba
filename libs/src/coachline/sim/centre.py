"""What a simulated contact centre is made of: tenants, queues per channel, teams, intraday profiles.

Everything here is plain configuration; :mod:`coachline.sim.model` runs it and
:mod:`coachline.sim.erlang` decides how many agents each team staffs per 15-minute interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from coachline.contracts.interactions import Channel
from coachline.sim.erlang import agents_needed

INTERVAL_S = 15 * 60
INTERVALS_PER_DAY = 24 * 3600 // INTERVAL_S

# Relative arrivals per local hour (0..23): a morning peak, a lunch dip and a smaller afternoon peak.
VOICE_PROFILE = (0, 0, 0, 0, 0, 0, 0, 0.3, 3, 7, 10, 9.5, 7, 7.5, 8.5, 8, 6.5, 4.5, 2.5, 1.2, 0.4, 0, 0, 0)
CHAT_PROFILE = (0, 0, 0, 0, 0, 0, 0, 0.2, 2, 5, 7, 7.5, 7, 7, 7.5, 8, 7.5, 6, 4, 3, 1.5, 0.3, 0, 0)
EMAIL_PROFILE = (0, 0, 0, 0, 0, 0, 0.5, 2, 4, 5, 5, 4.5, 4, 4.5, 4.5, 4, 3.5, 3, 2.5, 1.5, 0.5, 0, 0, 0)
# Monday..Sunday volume relative to a weekday.
WEEK_PROFILE = (1.1, 1.0, 1.0, 0.95, 0.9, 0.45, 0.25)


@dataclass(frozen=True)
class QueueSpec:
    """One queue: its channel, volume, handling and the service-level goal it is staffed for."""

    queue_id: str
    name: str
    channel: Channel
    team_id: str
    daily_contacts: float
    talk_s: float
    acw_s: float
    hold_share: float = 0.0
    hold_s: float = 40.0
    patience_s: float | None = 90.0
    sl_threshold_s: float = 20.0
    sl_target: float = 0.8
    transfer_share: float = 0.0
    transfer_to: str | None = None
    resolve_share: float = 0.8
    sale_eligible_share: float = 0.0
    survey_share: float = 0.12
    dispositions: tuple[str, ...] = ("question-answered",)

    @property
    def handle_s(self) -> float:
        """Mean handle time (talk + hold + after-contact work), what Erlang C staffs for."""
        return self.talk_s + self.hold_share * self.hold_s + self.acw_s

    @property
    def profile(self) -> tuple[float, ...]:
        return {Channel.VOICE: VOICE_PROFILE, Channel.CHAT: CHAT_PROFILE}.get(self.channel, EMAIL_PROFILE)


@dataclass(frozen=True)
class TenantSpec:
    """One tenant's centre; ``shrinkage`` is the share of paid time lost to breaks, staffed on top."""

    tenant_id: str
    time_zone: str
    queues: tuple[QueueSpec, ...]
    shrinkage: float = 0.0
    forecast_error: float = 0.08
    short_abandon_s: float = 5.0
    fcr_window_days: int = 7

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(q.team_id for q in self.queues))

    def queue(self, queue_id: str) -> QueueSpec:
        return next(q for q in self.queues if q.queue_id == queue_id)


@dataclass(frozen=True)
class Centre:
    """Every tenant the simulation runs, side by side."""

    tenants: tuple[TenantSpec, ...] = field(default_factory=tuple)


def interval_rate(queue: QueueSpec, interval: int, weekday: int) -> float:
    """Forecast arrivals per second in local 15-minute ``interval`` of a day (0..95)."""
    profile = queue.profile
    hour = interval // 4
    # Interpolate between hour midpoints so the rate climbs smoothly instead of in hourly steps.
    at = hour + (interval % 4 + 0.5) / 4 - 0.5
    low, high = math.floor(at) % 24, math.ceil(at) % 24
    weight = profile[low] + (profile[high] - profile[low]) * (at - math.floor(at))
    total = sum(profile) * 4
    return queue.daily_contacts * WEEK_PROFILE[weekday] * weight / total / INTERVAL_S


def team_requirement(tenant: TenantSpec, team_id: str, interval: int, weekday: int) -> int:
    """Agents the team must have logged in for its queues to meet their service-level goal (Erlang C)."""
    queues = [q for q in tenant.queues if q.team_id == team_id]
    rate = sum(interval_rate(q, interval, weekday) for q in queues)
    if rate <= 0:
        return 0
    handle = sum(interval_rate(q, interval, weekday) * q.handle_s for q in queues) / rate
    threshold = min(q.sl_threshold_s for q in queues)
    target = max(q.sl_target for q in queues)
    needed = agents_needed(rate * handle, handle, threshold, target)
    return math.ceil(needed / (1 - tenant.shrinkage))


def peak_agents(tenant: TenantSpec) -> int:
    """Agents the busiest weekday needs at once across all teams: the size of the floor."""
    weekday = 0
    return sum(max(team_requirement(tenant, t, i, weekday) for i in range(INTERVALS_PER_DAY)) for t in tenant.teams)


def standard_tenant(tenant_id: str = "demo", agents: int = 40, time_zone: str = "UTC") -> TenantSpec:
    """A typical centre: billing, sales and support on the phone, a chat queue and an e-mail queue,
    with volumes scaled so that Erlang C staffs about ``agents`` agents at the weekday peak."""
    queues = (
        QueueSpec("billing", "Billing", Channel.VOICE, "t-billing", 1000, talk_s=270, acw_s=40, hold_share=0.3,
                  transfer_share=0.06, transfer_to="sales", resolve_share=0.82, sale_eligible_share=0.2,
                  dispositions=("invoice-explained", "payment-plan", "refund", "address-change")),
        QueueSpec("sales", "Sales", Channel.VOICE, "t-sales", 600, talk_s=360, acw_s=50, hold_share=0.2,
                  resolve_share=0.85, sale_eligible_share=0.9, survey_share=0.1,
                  dispositions=("new-contract", "upgrade", "quote-sent", "not-interested")),
        QueueSpec("support", "Technical support", Channel.VOICE, "t-support", 900, talk_s=420, acw_s=60,
                  hold_share=0.4, hold_s=60, transfer_share=0.05, transfer_to="billing", resolve_share=0.7,
                  sale_eligible_share=0.1, dispositions=("fixed-remotely", "technician-booked", "known-outage")),
        QueueSpec("chat", "Chat", Channel.CHAT, "t-digital", 500, talk_s=480, acw_s=30, patience_s=180,
                  sl_threshold_s=60, resolve_share=0.78, sale_eligible_share=0.15, survey_share=0.2,
                  dispositions=("question-answered", "order-status", "password-reset")),
        QueueSpec("email", "E-mail", Channel.EMAIL, "t-backoffice", 300, talk_s=300, acw_s=20, patience_s=None,
                  sl_threshold_s=4 * 3600, sl_target=0.9, resolve_share=0.75, survey_share=0.08,
                  dispositions=("answered", "forwarded", "closed-no-action")),
    )
    tenant = TenantSpec(tenant_id, time_zone, queues)
    # Staffing grows slower than volume (economies of scale), so fit the volume in a few steps.
    for _ in range(6):
        scale = agents / max(peak_agents(tenant), 1)
        if abs(scale - 1) < 0.02:
            break
        tenant = replace(tenant, queues=tuple(replace(q, daily_contacts=q.daily_contacts * scale)
                                              for q in tenant.queues))
    return tenant


def standard_centre(tenants: int = 1, agents: int = 40, time_zone: str = "UTC", prefix: str = "demo") -> Centre:
    """``tenants`` standard tenants of about ``agents`` agents each (ids ``demo``, ``demo-2`` ...)."""
    template = standard_tenant(prefix, agents, time_zone)
    names = [prefix] + [f"{prefix}-{i}" for i in range(2, tenants + 1)]
    return Centre(tuple(replace(template, tenant_id=name) for name in names))
