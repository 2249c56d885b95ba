"""How a wallboard stream paces and resumes, as pure functions of explicit times.

Coalescing: a busy queue changes many times a second; the board needs at most one update per scope
per second, always with the latest figures. The first change of a quiet scope goes out at once (a
board is meant to be live), later ones wait until a second has passed since that scope's last update.

Resuming: each figures event carries as ``id`` the newest ``updated_at`` the stream has sent, in
microseconds since the epoch. The browser sends it back as ``Last-Event-ID`` when it reconnects, and
the stream then sends only the scopes that changed since. ``updated_at`` is taken when a projection
transaction starts, so a transaction that started earlier can commit after a later one; the overlap
re-sends that much history rather than miss such a change (sending a scope twice is harmless: the
page replaces its figures).
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

RESUME_OVERLAP_US = 30_000_000
# Waking exactly when :meth:`Coalescer.wait` said may land a rounding error short of the due time.
_SLACK = 1e-9
_EVENT_ID = re.compile(r"^[0-9]{1,19}$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Coalescer(Generic[K]):
    """Per key, at most one release per ``interval`` seconds; pending changes are never lost."""

    interval: float = 1.0
    last_released: dict[K, float] = field(default_factory=dict)
    pending: set[K] = field(default_factory=set)

    def offer(self, keys: Iterable[K]) -> None:
        self.pending.update(keys)

    def release(self, now: float) -> set[K]:
        """The pending keys whose interval has passed at ``now``; they count as sent at ``now``."""
        due = {k for k in self.pending if self.last_released.get(k, -math.inf) + self.interval <= now + _SLACK}
        self.pending -= due
        for key in due:
            self.last_released[key] = now
        return due

    def wait(self, now: float) -> float | None:
        """Seconds until the next pending key is due; None when nothing is pending."""
        if not self.pending:
            return None
        return max(0.0, min(self.last_released.get(k, -math.inf) + self.interval for k in self.pending) - now)


def micros(at: datetime) -> int:
    """``at`` as microseconds since the epoch: the unit of event ids."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def event_id(cursor: int) -> str:
    return str(cursor)


def resume_cursor(last_event_id: str | None) -> int | None:
    """The cursor a reconnecting browser sent, or None (send everything) when absent or not ours."""
    if last_event_id is None or not _EVENT_ID.match(last_event_id):
        return None
    return int(last_event_id)


def changed_since(updated_at: Iterable[tuple[K, datetime | None]], cursor: int | None) -> set[K]:
    """Keys to send after a reconnect: all without a cursor, else those updated after it (with overlap)."""
    if cursor is None:
        return {key for key, _ in updated_at}
    since = cursor - RESUME_OVERLAP_US
    return {key for key, at in updated_at if at is not None and micros(at) > since}


def advance(cursor: int | None, sent: Iterable[datetime | None]) -> int | None:
    """The stream's cursor after sending figures updated at ``sent``: it never moves backwards."""
    newest = max((micros(at) for at in sent if at is not None), default=None)
    if newest is None:
        return cursor
    return newest if cursor is None else max(cursor, newest)
