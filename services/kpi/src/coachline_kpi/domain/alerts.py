"""Target levels with hysteresis: a figure enters a level when it crosses the line, and leaves it only
once it is back past the line by the target's hysteresis, so a figure hovering at the line does not flap."""

from __future__ import annotations

from decimal import Decimal

from coachline.contracts.kpi import AlertLevel
from coachline_kpi.domain.policy import Target


def next_level(value: Decimal | None, target: Target, current: AlertLevel | None) -> AlertLevel | None:
    """The level after ``value``; ``None`` while the figure has never left the clear side."""
    if value is None:
        return current
    sign = 1 if target.higher_is_better else -1

    def worse_than(line: Decimal) -> bool:
        return sign * (value - line) < 0

    def clear_of(line: Decimal) -> bool:
        return sign * (value - line) >= target.hysteresis

    if worse_than(target.alert) or (current is AlertLevel.ALERT and not clear_of(target.alert)):
        return AlertLevel.ALERT
    if worse_than(target.warning) or (current in (AlertLevel.ALERT, AlertLevel.WARNING)
                                      and not clear_of(target.warning)):
        return AlertLevel.WARNING
    return AlertLevel.CLEARED if current is not None else None
