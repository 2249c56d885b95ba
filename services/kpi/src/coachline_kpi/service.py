"""Use cases of the KPI service: fold interaction events into sums, and read figures back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel

from coachline.contracts.kpi import KpiSnapshot, Scope
from coachline.envelope import CloudEvent, new_event
from coachline.persistence import first_delivery
from coachline_kpi import repository
from coachline_kpi.domain.figures import contributions, figures

INBOX_CONSUMER = "kpi-projection"
Enqueue = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]


class ScopeFigures(BaseModel):
    """One scope's figures in one window; a figure is null when its sample is below the minimum."""

    scope: Scope
    scope_id: str
    window: str
    figures: dict[str, Decimal | None]
    updated_at: datetime


def view(row: asyncpg.Record | dict[str, Any], min_sample: int) -> ScopeFigures:
    """One scope's figures as the API, the live stream and the snapshots show them."""
    return ScopeFigures(
        scope=row["scope"],
        scope_id=row["scope_id"],
        window=row["window_key"],
        figures=figures(row["offered"], row["answered"], row["abandoned"], row["handled"],
                        row["handle_time_s"], min_sample),
        updated_at=row["updated_at"],
    )


class Projection:
    """Applies interaction events to the KPI sums with exactly-once effect (inbox in the same transaction)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], enqueue: Enqueue, zone: ZoneInfo, min_sample: int) -> None:
        # The pool is opened when the app starts, after the projection is wired to its subscriber.
        self.pool = pool
        self.enqueue = enqueue
        self.zone = zone
        self.min_sample = min_sample

    async def apply(self, event: CloudEvent) -> bool:
        """Fold one event; False when it was already applied (a duplicate or redelivery)."""
        items = contributions(event.tenant_id, event.data, self.zone)
        async with self.pool().acquire() as conn, conn.transaction():
            if not await first_delivery(conn, INBOX_CONSUMER, event.id):
                return False
            rows = await repository.add(conn, event.tenant_id, items)
            for row in rows:
                await self.enqueue(conn, self._snapshot(event.tenant_id, row))
            if rows:
                await repository.announce(conn, event.tenant_id,
                                          [(r["scope"], r["scope_id"], r["window_key"]) for r in rows])
        return True

    def _snapshot(self, tenant_id: str, row: asyncpg.Record) -> CloudEvent:
        shown = view(row, self.min_sample)
        snapshot = KpiSnapshot(scope=shown.scope, scope_id=shown.scope_id, window=shown.window,
                               figures=shown.figures, as_of=datetime.now(UTC))
        return new_event("kpi.snapshot.v1", tenant_id, snapshot, source="coachline/kpi")
