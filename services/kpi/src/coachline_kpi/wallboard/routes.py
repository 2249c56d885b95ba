"""HTTP routes of the wallboards: admin management, the kiosk page, and each board's SSE stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from coachline.auth import Principal, Role, requires
from coachline.problem import Problem
from coachline.runtime import Runtime
from coachline_kpi.live import ChangeFeed
from coachline_kpi.settings import Settings
from coachline_kpi.wallboard import handlers, page, tokens
from coachline_kpi.wallboard.figures import FigureReader
from coachline_kpi.wallboard.layouts import IssuedToken, TokenInfo, TokenRequest, Wallboard, WallboardDraft
from coachline_kpi.wallboard.service import RefusedToken, UnknownWallboard, Wallboards
from coachline_kpi.wallboard.stream import board_events

WallboardId = Annotated[str, Path(pattern=r"^wb-[0-9a-f]{16}$", max_length=19,
                                  description="The board's id, as returned when it was created.")]
TokenId = Annotated[str, Path(pattern=r"^wbt-[0-9a-f]{16}$", max_length=20)]
KioskToken = Annotated[str, Query(pattern=tokens.PATTERN, min_length=47, max_length=47,
                                  description="A read-only wallboard token (from POST /v1/wallboards/{id}/tokens).")]
Admin = Annotated[Principal, requires(Role.ADMIN)]

REFUSED = Problem(401, "Invalid wallboard token",
                  "The token is unknown, revoked, or not for this wallboard; ask an admin for a new one.")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # The token is in the URL: keep it out of Referer headers and away from other origins.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _unknown(wallboard_id: str) -> Problem:
    return Problem(404, "Unknown wallboard", f"No wallboard {wallboard_id} in your tenant.", wallboard_id=wallboard_id)


def attach(runtime: Runtime, settings: Settings, feed: ChangeFeed) -> APIRouter:
    """The wallboards' routes; also subscribes the banner handler to ``notifications.v1``."""
    boards = Wallboards(lambda: runtime.pool)
    figures = FigureReader(lambda: runtime.pool, ZoneInfo(settings.time_zone), settings.min_sample)
    handlers.register(runtime, boards)
    api = APIRouter(tags=["wallboards"])

    @api.post("/v1/wallboards", status_code=201, summary="Create a wallboard (admin)")
    async def create(draft: WallboardDraft, caller: Admin) -> Wallboard:
        return await boards.create(caller, draft)

    @api.get("/v1/wallboards", summary="The tenant's wallboards (admin)")
    async def list_boards(caller: Admin) -> list[Wallboard]:
        return await boards.all(caller)

    @api.get("/v1/wallboards/{wallboard_id}", summary="One wallboard (admin)")
    async def get(wallboard_id: WallboardId, caller: Admin) -> Wallboard:
        try:
            return await boards.get(caller, wallboard_id)
        except UnknownWallboard:
            raise _unknown(wallboard_id) from None

    @api.put("/v1/wallboards/{wallboard_id}", summary="Replace a wallboard's name, language and layout (admin)")
    async def replace(wallboard_id: WallboardId, draft: WallboardDraft, caller: Admin) -> Wallboard:
        try:
            return await boards.replace(caller, wallboard_id, draft)
        except UnknownWallboard:
            raise _unknown(wallboard_id) from None

    @api.delete("/v1/wallboards/{wallboard_id}", status_code=204, summary="Delete a wallboard and its tokens (admin)")
    async def delete(wallboard_id: WallboardId, caller: Admin) -> Response:
        try:
            await boards.delete(caller, wallboard_id)
        except UnknownWallboard:
            raise _unknown(wallboard_id) from None
        return Response(status_code=204)

    @api.post("/v1/wallboards/{wallboard_id}/tokens", status_code=201,
              summary="Issue a read-only token for a kiosk (admin); the secret is shown only in this answer")
    async def issue(wallboard_id: WallboardId, caller: Admin, body: TokenRequest | None = None) -> IssuedToken:
        try:
            return await boards.issue_token(caller, wallboard_id, body.label if body else "")
        except UnknownWallboard:
            raise _unknown(wallboard_id) from None

    @api.get("/v1/wallboards/{wallboard_id}/tokens", summary="A wallboard's tokens, without secrets (admin)")
    async def list_tokens(wallboard_id: WallboardId, caller: Admin) -> list[TokenInfo]:
        try:
            return await boards.list_tokens(caller, wallboard_id)
        except UnknownWallboard:
            raise _unknown(wallboard_id) from None

    @api.delete("/v1/wallboards/{wallboard_id}/tokens/{token_id}", status_code=204,
                summary="Revoke a token (admin); browsers using it lose the board")
    async def revoke(wallboard_id: WallboardId, token_id: TokenId, caller: Admin) -> Response:
        try:
            await boards.revoke_token(caller, wallboard_id, token_id)
        except UnknownWallboard:
            raise Problem(404, "Unknown token", f"No token {token_id} on wallboard {wallboard_id}.",
                          token_id=token_id) from None
        return Response(status_code=204)

    @api.get("/v1/wallboards/{wallboard_id}/stream", response_class=EventSourceResponse,
             summary="Server-sent events of one board: figures per scope (at most one per scope per second), "
                     "banners, heartbeats; resumes from Last-Event-ID")
    async def stream(request: Request, wallboard_id: WallboardId, token: KioskToken,
                     last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
                     ) -> EventSourceResponse:
        try:
            tenant_id, board = await boards.open(wallboard_id, token)
        except RefusedToken:
            raise REFUSED from None

        async def still_open() -> bool:
            return not await request.is_disconnected() and await boards.still_open(token)

        async def read_banners() -> list:  # type: ignore[type-arg]
            return await boards.banners(tenant_id, board, datetime.now(UTC))

        events = board_events(board, tenant_id, feed, figures.read, read_banners, last_event_id, still_open)
        return EventSourceResponse(events, ping=settings.sse_keepalive_s,
                                   ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
                                   headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @api.get("/wallboards/{wallboard_id}", response_class=HTMLResponse,
             summary="The wallboard page for a kiosk browser; the token in the URL is its only login")
    async def board_page(wallboard_id: WallboardId, token: KioskToken) -> HTMLResponse:
        try:
            _, board = await boards.open(wallboard_id, token)
        except RefusedToken:
            raise REFUSED from None
        return HTMLResponse(page.render(board), headers=PAGE_HEADERS)

    @api.get("/wallboards/static/wallboard.js", include_in_schema=False)
    async def script() -> Response:
        return Response(page.asset("wallboard.js"), media_type="text/javascript",
                        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})

    @api.get("/wallboards/static/wallboard.css", include_in_schema=False)
    async def style() -> Response:
        return Response(page.asset("wallboard.css"), media_type="text/css",
                        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})

    return api
