"""Webhook ids a replica has taken, so a repeated or replayed request is not taken twice.

Standard Webhooks senders retry a delivery with the same ``webhook-id`` until they get a 2xx, and
anyone who captured a request can send it again while its timestamp is within the tolerance. Both
are answered without publishing anything again. An id is remembered until its timestamp leaves the
tolerance: from then on the signature check refuses a replay by itself, so nothing older is kept.

Memory is bounded twice: entries expire, and each tenant may hold at most ``per_tenant`` ids, so one
tenant's flood of single-record requests cannot crowd out the others (it gets 429 until its oldest
ids expire). Several replicas each remember what they took themselves.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class AlreadyTaken(Exception):
    """This tenant and source took a request with this ``webhook-id`` within the tolerance."""


class InProgress(Exception):
    """A request with this ``webhook-id`` is being taken right now; its outcome decides."""


class WindowFull(Exception):
    """The tenant holds as many remembered ids as allowed; the oldest expires in ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass
class _TenantIds:
    until: dict[tuple[str, str], float] = field(default_factory=dict)
    # (until, key) in expiry order; an entry whose id was since extended is skipped when it comes up.
    expiries: list[tuple[float, tuple[str, str]]] = field(default_factory=list)


class ReplayGuard:
    """Claim an id before taking a request, then settle it (taken) or release it (failed, may come again)."""

    def __init__(self, tolerance_s: float, per_tenant: int, clock: Callable[[], float] = time.time) -> None:
        self.tolerance_s = tolerance_s
        self.per_tenant = per_tenant
        self.clock = clock
        self._tenants: dict[str, _TenantIds] = {}
        self._in_progress: set[tuple[str, str, str]] = set()

    def claim(self, tenant_id: str, source: str, webhook_id: str, sent_at: int) -> None:
        """Reserve the id, or raise :class:`AlreadyTaken`, :class:`InProgress` or :class:`WindowFull`."""
        ids = self._expire(tenant_id)
        key = (source, webhook_id)
        if key in ids.until:
            # The retry may carry a later timestamp, which keeps its own replay valid for longer.
            self._remember(ids, key, sent_at)
            raise AlreadyTaken(webhook_id)
        if (tenant_id, *key) in self._in_progress:
            raise InProgress(webhook_id)
        if len(ids.until) >= self.per_tenant:
            raise WindowFull(max(1, math.ceil(ids.expiries[0][0] - self.clock())))
        self._in_progress.add((tenant_id, *key))

    def settle(self, tenant_id: str, source: str, webhook_id: str, sent_at: int) -> None:
        """The request was taken: refuse the id until ``sent_at`` leaves the tolerance."""
        self._in_progress.discard((tenant_id, source, webhook_id))
        self._remember(self._expire(tenant_id), (source, webhook_id), sent_at)

    def release(self, tenant_id: str, source: str, webhook_id: str) -> None:
        """The request was not taken (refused or failed): the same id may come again."""
        self._in_progress.discard((tenant_id, source, webhook_id))

    def remembered(self, tenant_id: str) -> int:
        return len(self._expire(tenant_id).until)

    def _remember(self, ids: _TenantIds, key: tuple[str, str], sent_at: int) -> None:
        until = max(sent_at + self.tolerance_s, ids.until.get(key, 0.0))
        if ids.until.get(key) != until:
            ids.until[key] = until
            heapq.heappush(ids.expiries, (until, key))

    def _expire(self, tenant_id: str) -> _TenantIds:
        ids = self._tenants.setdefault(tenant_id, _TenantIds())
        now = self.clock()
        while ids.expiries and ids.expiries[0][0] <= now:
            until, key = heapq.heappop(ids.expiries)
            if ids.until.get(key) == until:
                del ids.until[key]
        return ids
