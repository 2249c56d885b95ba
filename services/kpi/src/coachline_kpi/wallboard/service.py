"""Use cases of the wallboards: manage boards and tokens, open a board with a token, record banners."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from coachline.auth import Principal
from coachline.contracts.notifications import WallboardBannerPublished
from coachline.persistence import tenant_transaction
from coachline_kpi.wallboard import repository, tokens
from coachline_kpi.wallboard.banners import Banner, for_board
from coachline_kpi.wallboard.layouts import IssuedToken, TokenInfo, Wallboard, WallboardDraft


class UnknownWallboard(Exception):
    """No such board for this tenant."""


class RefusedToken(Exception):
    """The token is unknown, revoked, or was issued for another board."""


class Wallboards:
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        # The pool is opened when the app starts, after the routes are wired.
        self.pool = pool

    async def create(self, caller: Principal, draft: WallboardDraft) -> Wallboard:
        draft = draft.model_copy(update={"layout": draft.layout.for_tenant(caller.tenant_id)})
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            return await repository.insert_board(conn, caller.tenant_id, tokens.new_id("wb"), draft)

    async def replace(self, caller: Principal, wallboard_id: str, draft: WallboardDraft) -> Wallboard:
        draft = draft.model_copy(update={"layout": draft.layout.for_tenant(caller.tenant_id)})
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            board = await repository.replace_board(conn, caller.tenant_id, wallboard_id, draft)
        if board is None:
            raise UnknownWallboard(wallboard_id)
        return board

    async def delete(self, caller: Principal, wallboard_id: str) -> None:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            if not await repository.delete_board(conn, caller.tenant_id, wallboard_id):
                raise UnknownWallboard(wallboard_id)

    async def get(self, caller: Principal, wallboard_id: str) -> Wallboard:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            board = await repository.get_board(conn, caller.tenant_id, wallboard_id)
        if board is None:
            raise UnknownWallboard(wallboard_id)
        return board

    async def all(self, caller: Principal) -> list[Wallboard]:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            return await repository.list_boards(conn, caller.tenant_id)

    async def issue_token(self, caller: Principal, wallboard_id: str, label: str) -> IssuedToken:
        secret = tokens.new_token()
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            if await repository.get_board(conn, caller.tenant_id, wallboard_id) is None:
                raise UnknownWallboard(wallboard_id)
            return await repository.insert_token(conn, caller.tenant_id, wallboard_id, tokens.new_id("wbt"),
                                                 tokens.digest(secret), label, caller.subject, secret)

    async def list_tokens(self, caller: Principal, wallboard_id: str) -> list[TokenInfo]:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            if await repository.get_board(conn, caller.tenant_id, wallboard_id) is None:
                raise UnknownWallboard(wallboard_id)
            return await repository.list_tokens(conn, caller.tenant_id, wallboard_id)

    async def revoke_token(self, caller: Principal, wallboard_id: str, token_id: str) -> None:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            if not await repository.revoke_token(conn, caller.tenant_id, wallboard_id, token_id):
                raise UnknownWallboard(f"{wallboard_id}/{token_id}")

    async def open(self, wallboard_id: str, token: str) -> tuple[str, Wallboard]:
        """The tenant and board a kiosk's token opens; :class:`RefusedToken` otherwise."""
        found = await repository.board_for_token(self.pool(), tokens.digest(token))
        # The same answer for an unknown token and a token of another board: no probing for boards.
        if found is None or found[1].wallboard_id != wallboard_id:
            raise RefusedToken()
        return found

    async def still_open(self, token: str) -> bool:
        """False once the token is revoked (or its board deleted): an open stream then ends."""
        return await repository.token_is_live(self.pool(), tokens.digest(token))

    async def banners(self, tenant_id: str, board: Wallboard, now: datetime) -> list[Banner]:
        return for_board(await repository.live_banners(self.pool(), tenant_id), board.layout, tenant_id,
                         board.language.value, now)

    async def record_banner(self, tenant_id: str, banner: WallboardBannerPublished) -> bool:
        """Keep the banner (the latest version wins); True when the boards should show a change."""
        async with self.pool().acquire() as conn, conn.transaction():
            return await repository.save_banner(conn, tenant_id, banner.model_dump(mode="python"))
