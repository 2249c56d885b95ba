"""Windows a moment falls into: 15 minutes, the tenant's day and week, the coaching period.

Keys read ``15m:2026-11-23T09:15`` (UTC: every real time zone's offset is a multiple of 15 minutes,
so quarter hours line up with local ones and a DST change cannot fold two quarters into one),
``day:2026-11-23`` and ``week:2026-11-23`` (the Monday) in the tenant's time zone, and
``period:2026-11`` (the first month of the coaching period). Rolling 30 days (``30d:2026-11-23``:
the 30 days ending on that day) is summed from day windows when read, so it is exact at any time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from coachline_kpi.domain.policy import TenantPolicy

CoachingPeriod = Literal["week", "month", "quarter"]

KINDS = ("15m", "day", "week", "period")
ROLLING_DAYS = 30
_QUARTER = timedelta(minutes=15)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def quarter_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "quarter":
        return day.replace(month=day.month - (day.month - 1) % 3, day=1)
    return day.replace(day=1)


def window_keys(at: datetime, policy: TenantPolicy) -> list[str]:
    """Every stored window ``at`` falls into."""
    return list(_quarter((at - _EPOCH) // _QUARTER, policy.time_zone, policy.coaching_period)[0])


@lru_cache(maxsize=16384)
def _quarter(index: int, time_zone: str,
             coaching_period: CoachingPeriod) -> tuple[tuple[str, ...], tuple[datetime, ...]]:
    """The windows of the ``index``-th quarter hour since the epoch, and where each of them ends (in
    ``KINDS`` order): the same for every moment of the quarter, as no day starts within a quarter hour."""
    at = _EPOCH + index * _QUARTER
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone).date()
    period = period_start(local, coaching_period)
    period_key = period.isoformat() if coaching_period == "week" else period.isoformat()[:7]
    keys = (
        f"15m:{at:%Y-%m-%dT%H:%M}",
        f"day:{local.isoformat()}",
        f"week:{(local - timedelta(days=local.weekday())).isoformat()}",
        f"period:{period_key}",
    )
    ends = _next_boundaries(at, zone, TenantPolicy(time_zone=time_zone, coaching_period=coaching_period))
    return keys, tuple(ends[kind] for kind in KINDS)


def day_key(day: date) -> str:
    return f"day:{day.isoformat()}"


def rolling_days(window: str) -> list[str]:
    """The day windows a ``30d:`` window sums."""
    end = date.fromisoformat(window.removeprefix("30d:"))
    return [day_key(end - timedelta(days=i)) for i in range(ROLLING_DAYS)]


def _next_boundaries(at: datetime, zone: ZoneInfo, policy: TenantPolicy) -> dict[str, datetime]:
    local = at.astimezone(zone)
    next_day = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
    start_week = local.date() - timedelta(days=local.weekday())
    next_week = datetime.combine(start_week + timedelta(days=7), datetime.min.time(), zone)
    period = period_start(local.date(), policy.coaching_period)
    if policy.coaching_period == "week":
        next_period_day = period + timedelta(days=7)
    else:
        months = 3 if policy.coaching_period == "quarter" else 1
        month = period.month - 1 + months
        next_period_day = date(period.year + month // 12, month % 12 + 1, 1)
    return {
        "15m": quarter_start(at) + _QUARTER,
        "day": next_day,
        "week": next_week,
        "period": datetime.combine(next_period_day, datetime.min.time(), zone),
    }


def bounds(window: str, policy: TenantPolicy) -> tuple[datetime, datetime]:
    """The span ``[start, end)`` a stored window key covers (``15m:``, ``day:``, ``week:``, ``period:``)."""
    kind, _, label = window.partition(":")
    zone = ZoneInfo(policy.time_zone)
    if kind == "15m":
        start = datetime.fromisoformat(label).replace(tzinfo=UTC)
    else:
        first = date.fromisoformat(label if len(label) > 7 else f"{label}-01")
        start = datetime.combine(first, datetime.min.time(), zone)
    return start, _next_boundaries(start, zone, policy)[kind]


def seconds(delta: timedelta) -> Decimal:
    """A duration as exact decimal seconds (microsecond resolution, like the timestamps)."""
    return Decimal(delta // timedelta(microseconds=1)) / Decimal(1000000)


def split(start: datetime, end: datetime, policy: TenantPolicy) -> Iterator[tuple[str, Decimal]]:
    """The seconds of ``[start, end)`` in each window they cover, for time-in-state sums."""
    for i in range(len(KINDS)):
        cursor = start
        while cursor < end:
            keys, ends = _quarter((cursor - _EPOCH) // _QUARTER, policy.time_zone, policy.coaching_period)
            boundary = min(ends[i], end)
            yield keys[i], seconds(boundary - cursor)
            cursor = boundary
