"""One wallboard's server-sent events: its scopes' figures, coalesced per scope, and its banners.

Events: ``figures`` (one scope's current windows; ``id`` is the resume cursor), ``banners`` (the
board's whole banner list, replacing the previous one) and heartbeat comments from the response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from coachline_kpi.live import BANNERS, FIGURES, RESYNC, ChangeFeed, Notice
from coachline_kpi.wallboard.banners import Banner
from coachline_kpi.wallboard.delivery import Coalescer, advance, changed_since, event_id, resume_cursor
from coachline_kpi.wallboard.figures import ScopeKey, ScopeUpdate
from coachline_kpi.wallboard.layouts import Wallboard

# (tenant, scopes, now, teams shown with their members, window kinds) -> one update per scope
ReadFigures = Callable[[str, Iterable[ScopeKey], datetime, Iterable[str], Iterable[str]],
                       Awaitable[list[ScopeUpdate]]]
ReadBanners = Callable[[], Awaitable[list[Banner]]]
# How long an idle stream waits before checking whether its client left or its token was revoked.
IDLE_CHECK_S = 5.0
RECONNECT_MS = 2000


def banners_event(banners: list[Banner]) -> dict[str, Any]:
    items = [b.model_dump(mode="json", include={"banner_id", "kind", "severity", "title", "text", "language",
                                                 "expires_at"}) for b in banners]
    return {"event": "banners", "data": _json({"banners": items})}


def _json(value: Any) -> str:
    return to_json(value).decode()


async def board_events(
    board: Wallboard,
    tenant_id: str,
    feed: ChangeFeed,
    read_figures: ReadFigures,
    read_banners: ReadBanners,
    last_event_id: str | None,
    open_: Callable[[], Awaitable[bool]],
    *,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[dict[str, Any]]:
    """The board's events until ``open_()`` turns False (client gone, token revoked)."""
    scopes = board.layout.scope_keys()
    member_teams = board.layout.member_teams()
    kinds = board.layout.window_kinds()
    cursor = resume_cursor(last_event_id)
    coalescer: Coalescer[ScopeKey] = Coalescer(interval)
    with feed.listen_board(tenant_id) as notices:
        yield {"retry": RECONNECT_MS, "comment": "wallboard"}
        updates = await read_figures(tenant_id, scopes, datetime.now(UTC), member_teams, kinds)
        wanted = changed_since(((u.key, u.updated_at) for u in updates), cursor)
        for update in updates:
            if update.key in wanted:
                coalescer.last_released[update.key] = clock()
                cursor = advance(cursor, [update.updated_at])
                yield _figures_event(update, cursor)
        yield banners_event(await read_banners())
        last_check = clock()
        while True:
            wait = coalescer.wait(clock())
            try:
                notice = await asyncio.wait_for(notices.get(), timeout=IDLE_CHECK_S if wait is None else wait)
            except TimeoutError:
                notice = None
            if notice is not None:
                burst = _drain(notice, notices)
                for more in burst:
                    if more.kind == FIGURES:
                        coalescer.offer({(k[0], k[1]) for k in more.keys if (k[0], k[1]) in scopes})
                    elif more.kind == RESYNC:
                        coalescer.offer(scopes)
                if any(more.kind in (BANNERS, RESYNC) for more in burst):
                    yield banners_event(await read_banners())
            due = coalescer.release(clock())
            if due:
                for update in await read_figures(tenant_id, due, datetime.now(UTC), member_teams, kinds):
                    cursor = advance(cursor, [update.updated_at])
                    yield _figures_event(update, cursor)
            if clock() - last_check >= IDLE_CHECK_S:
                last_check = clock()
                if not await open_():
                    return


def _drain(first: Notice, queue: asyncio.Queue[Notice]) -> list[Notice]:
    """The notice just received and every one already waiting, so a burst costs one read."""
    notices = [first]
    while not queue.empty():
        notices.append(queue.get_nowait())
    return notices


def _figures_event(update: ScopeUpdate, cursor: int | None) -> dict[str, Any]:
    event = {"event": "figures", "data": update.model_dump_json()}
    return event if cursor is None else {**event, "id": event_id(cursor)}
