"""Live figures for SSE streams: one LISTEN connection per replica fans changes out to its streams.

PostgreSQL delivers a NOTIFY only when the projection's transaction commits, so a stream never shows
a figure that could still roll back, whichever replica applied the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg

from coachline_kpi.repository import CHANGES_CHANNEL
from coachline_kpi.wallboard.repository import BANNERS_CHANNEL

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000
RECONNECT_S = 1.0


@dataclass(frozen=True)
class Notice:
    """What changed for a tenant: figures (with their ``[scope, scope_id, window]`` keys) or banners."""

    kind: str
    keys: tuple[tuple[str, ...], ...] = ()


FIGURES = "figures"
BANNERS = "banners"
# A stream that missed notices (its queue was full, or the LISTEN connection was re-opened) re-reads all.
RESYNC = "resync"


class ChangeFeed:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._stopping = False
        self._reconnect: asyncio.Task[None] | None = None
        self._listeners: dict[str, set[asyncio.Queue[list[list[str]]]]] = {}
        self._boards: dict[str, set[asyncio.Queue[Notice]]] = {}

    async def start(self) -> None:
        self._stopping = False
        await self._connect()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        await conn.add_listener(CHANGES_CHANNEL, self._on_figures)
        await conn.add_listener(BANNERS_CHANNEL, self._on_banners)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn

    def _on_lost(self, _conn: object) -> None:
        # Without this a restarted database would leave every board silently frozen.
        if not self._stopping and (self._reconnect is None or self._reconnect.done()):
            self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        while not self._stopping:
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError):
                log.warning("the live feed lost PostgreSQL; retrying in %.0f s", RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)
                continue
            for queues in self._boards.values():
                for queue in queues:
                    self._put(queue, Notice(RESYNC))
            return

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnect
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    def _on_figures(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        change = json.loads(payload)
        for queue in self._listeners.get(change["tenant_id"], ()):
            if queue.qsize() < QUEUE_LIMIT:
                queue.put_nowait(change["keys"])
            else:
                log.warning("a live stream is not keeping up; dropping a change notice for it")
        notice = Notice(FIGURES, tuple(tuple(k) for k in change["keys"]))
        for board in self._boards.get(change["tenant_id"], ()):
            self._put(board, notice)

    def _on_banners(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for board in self._boards.get(json.loads(payload)["tenant_id"], ()):
            self._put(board, Notice(BANNERS))

    @staticmethod
    def _put(queue: asyncio.Queue[Notice], notice: Notice) -> None:
        if queue.qsize() < QUEUE_LIMIT - 1:
            queue.put_nowait(notice)
        elif queue.qsize() < QUEUE_LIMIT:
            # The last slot asks the stream to re-read everything, so a slow board catches up, not drifts.
            queue.put_nowait(Notice(RESYNC))

    @contextlib.contextmanager
    def listen(self, tenant_id: str):  # type: ignore[no-untyped-def]
        """A queue of changed keys for ``tenant_id`` while the caller's stream is open."""
        queue: asyncio.Queue[list[list[str]]] = asyncio.Queue()
        self._listeners.setdefault(tenant_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._listeners[tenant_id].discard(queue)

    @contextlib.contextmanager
    def listen_board(self, tenant_id: str) -> Iterator[asyncio.Queue[Notice]]:
        """A queue of :class:`Notice` for ``tenant_id`` (figures and banners) while a wallboard stream is open."""
        queue: asyncio.Queue[Notice] = asyncio.Queue()
        self._boards.setdefault(tenant_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._boards[tenant_id].discard(queue)
