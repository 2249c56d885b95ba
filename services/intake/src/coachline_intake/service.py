"""Use cases of intake: validate a posted batch as a whole, then publish it durably and in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from coachline.envelope import CloudEvent
from coachline_intake.domain.canonical import InvalidEvent, split_body, to_canonical

Publish = Callable[[CloudEvent], Awaitable[None]]
SOURCES = ("generic",)


@dataclass
class BatchRejected(Exception):
    """The batch had invalid events; nothing of it was published."""

    errors: list[dict[str, object]] = field(default_factory=list)


def parse_batch(source: str, body: bytes, content_type: str, max_events: int) -> list[CloudEvent]:
    """All events of a request, or :class:`BatchRejected` naming each bad one (by 1-based position)."""
    try:
        items = split_body(body, content_type)
    except InvalidEvent as exc:
        raise BatchRejected([{"index": 0, "reason": exc.reason}]) from None
    if not items:
        raise BatchRejected([{"index": 0, "reason": "no events in the body"}])
    if len(items) > max_events:
        raise BatchRejected([{"index": 0, "reason": f"more than {max_events} events in one request"}])
    events, errors = [], []
    for index, item in enumerate(items, start=1):
        try:
            events.append(to_canonical(item, source))
        except InvalidEvent as exc:
            errors.append({"index": index, "reason": exc.reason})
    if errors:
        raise BatchRejected(errors[:50])
    return events


async def publish_in_order(events: list[CloudEvent], publish: Publish) -> None:
    """Publish every event; events sharing a key go one after another so their order holds."""
    by_key: dict[str, list[CloudEvent]] = {}
    for event in events:
        by_key.setdefault(event.key, []).append(event)

    async def in_sequence(chain: list[CloudEvent]) -> None:
        for event in chain:
            await publish(event)

    await asyncio.gather(*(in_sequence(chain) for chain in by_key.values()))
