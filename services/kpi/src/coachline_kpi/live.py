"""Live figures for SSE streams: one LISTEN connection per replica fans changes out to its streams.

PostgreSQL delivers a NOTIFY only when the projection's transaction commits, so a stream never shows
a figure that could still roll back, whichever replica applied the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg

from coachline_kpi.repository import CHANGES_CHANNEL

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000


class ChangeFeed:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._listeners: dict[str, set[asyncio.Queue[list[list[str]]]]] = {}

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(CHANGES_CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        change = json.loads(payload)
        for queue in self._listeners.get(change["tenant_id"], ()):
            if queue.qsize() < QUEUE_LIMIT:
                queue.put_nowait(change["keys"])
            else:
                log.warning("a live stream is not keeping up; dropping a change notice for it")

    @contextlib.contextmanager
    def listen(self, tenant_id: str):  # type: ignore[no-untyped-def]
        """A queue of changed keys for ``tenant_id`` while the caller's stream is open."""
        queue: asyncio.Queue[list[list[str]]] = asyncio.Queue()
        self._listeners.setdefault(tenant_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._listeners[tenant_id].discard(queue)
