"""Comparing KPI figures with the simulator's independently computed ground truth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from coachline.sim import Outcome, simulate, standard_centre

# The ground truth's figure names where they differ from the service's.
NAMES = {"service_level_variant": None}


def simulated_day(agents: int = 12, seed: int = 3, days: float = 1.0) -> Outcome:
    return simulate(standard_centre(1, agents, "UTC", "demo"), datetime(2026, 11, 23, tzinfo=UTC), days, seed)


def differences(truth: dict[str, Any], shown: Callable[[str, str, str], dict[str, Any] | None]) -> list[str]:
    """Every figure of every scope and window of the ground truth that ``shown`` gives differently."""
    out = []
    for tenant in truth["tenants"].values():
        for row in tenant["figures"]:
            figures = shown(row["scope"], row["scope_id"], row["window"])
            if figures is None:
                out.append(f"{row['scope']}/{row['scope_id']}/{row['window']}: missing")
                continue
            for name, expected in row["figures"].items():
                mine = NAMES.get(name, name.replace("dimension:", "dim."))
                if mine is None:
                    continue
                got = figures.get(mine)
                same = (got is None and expected is None) or (
                    got is not None and expected is not None and Decimal(str(got)) == Decimal(expected))
                if not same:
                    out.append(f"{row['scope']}/{row['scope_id']}/{row['window']}/{name}: {got} != {expected}")
    return out
