"""The wallboards' SQL: boards, tokens and banners in the kpi schema."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from coachline_kpi.wallboard.banners import Banner
from coachline_kpi.wallboard.layouts import IssuedToken, Layout, TokenInfo, Wallboard, WallboardDraft

BANNERS_CHANNEL = "kpi_banners_changed"
_BOARD_COLUMNS = "wallboard_id, name, language, layout, created_at, updated_at"
_TOKEN_COLUMNS = "token_id, wallboard_id, label, created_by, created_at, revoked_at"  # noqa: S105 (column names)


def _board(row: asyncpg.Record) -> Wallboard:
    return Wallboard(wallboard_id=row["wallboard_id"], name=row["name"], language=row["language"],
                     layout=Layout.model_validate_json(row["layout"]), created_at=row["created_at"],
                     updated_at=row["updated_at"])


def _layout_json(layout: Layout) -> str:
    return layout.model_dump_json(exclude_none=True)


async def insert_board(conn: asyncpg.Connection, tenant_id: str, wallboard_id: str,
                       draft: WallboardDraft) -> Wallboard:
    row = await conn.fetchrow(
        f"""INSERT INTO wallboards (tenant_id, wallboard_id, name, language, layout)
            VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING {_BOARD_COLUMNS}""",
        tenant_id, wallboard_id, draft.name, draft.language.value, _layout_json(draft.layout),
    )
    return _board(row)


async def replace_board(conn: asyncpg.Connection, tenant_id: str, wallboard_id: str,
                        draft: WallboardDraft) -> Wallboard | None:
    row = await conn.fetchrow(
        f"""UPDATE wallboards SET name = $3, language = $4, layout = $5::jsonb, updated_at = now()
            WHERE tenant_id = $1 AND wallboard_id = $2 RETURNING {_BOARD_COLUMNS}""",
        tenant_id, wallboard_id, draft.name, draft.language.value, _layout_json(draft.layout),
    )
    return _board(row) if row else None


async def delete_board(conn: asyncpg.Connection, tenant_id: str, wallboard_id: str) -> bool:
    done = await conn.fetchval(
        "DELETE FROM wallboards WHERE tenant_id = $1 AND wallboard_id = $2 RETURNING 1", tenant_id, wallboard_id)
    return done is not None


async def get_board(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, wallboard_id: str) -> Wallboard | None:
    row = await conn.fetchrow(
        f"SELECT {_BOARD_COLUMNS} FROM wallboards WHERE tenant_id = $1 AND wallboard_id = $2", tenant_id, wallboard_id)
    return _board(row) if row else None


async def list_boards(conn: asyncpg.Connection, tenant_id: str) -> list[Wallboard]:
    rows = await conn.fetch(
        f"SELECT {_BOARD_COLUMNS} FROM wallboards WHERE tenant_id = $1 ORDER BY name, wallboard_id LIMIT 500",
        tenant_id)
    return [_board(r) for r in rows]


async def insert_token(conn: asyncpg.Connection, tenant_id: str, wallboard_id: str, token_id: str,
                       token_hash: bytes, label: str, created_by: str, token: str) -> IssuedToken:
    row = await conn.fetchrow(
        f"""INSERT INTO wallboard_tokens (token_hash, token_id, tenant_id, wallboard_id, label, created_by)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_TOKEN_COLUMNS}""",
        token_hash, token_id, tenant_id, wallboard_id, label, created_by,
    )
    return IssuedToken(**dict(row), token=token, page_path=f"/wallboards/{wallboard_id}?token={token}")


async def list_tokens(conn: asyncpg.Connection, tenant_id: str, wallboard_id: str) -> list[TokenInfo]:
    rows = await conn.fetch(
        f"""SELECT {_TOKEN_COLUMNS} FROM wallboard_tokens WHERE tenant_id = $1 AND wallboard_id = $2
            ORDER BY created_at, token_id LIMIT 500""",
        tenant_id, wallboard_id)
    return [TokenInfo(**dict(r)) for r in rows]


async def revoke_token(conn: asyncpg.Connection, tenant_id: str, wallboard_id: str, token_id: str) -> bool:
    done = await conn.fetchval(
        """UPDATE wallboard_tokens SET revoked_at = coalesce(revoked_at, now())
           WHERE tenant_id = $1 AND wallboard_id = $2 AND token_id = $3 RETURNING 1""",
        tenant_id, wallboard_id, token_id)
    return done is not None


async def board_for_token(pool: asyncpg.Pool, token_hash: bytes) -> tuple[str, Wallboard] | None:
    """The tenant and board a live (not revoked) token opens.

    Runs as the schema owner, across tenants: the token is the kiosk's only credential and names its
    tenant through the board it was issued for.
    """
    row = await pool.fetchrow(
        f"""SELECT w.tenant_id, {", ".join("w." + c.strip() for c in _BOARD_COLUMNS.split(","))}
            FROM wallboard_tokens t JOIN wallboards w USING (tenant_id, wallboard_id)
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL""",
        token_hash)
    return (row["tenant_id"], _board(row)) if row else None


async def token_is_live(pool: asyncpg.Pool, token_hash: bytes) -> bool:
    return bool(await pool.fetchval(
        "SELECT 1 FROM wallboard_tokens WHERE token_hash = $1 AND revoked_at IS NULL", token_hash))


async def save_banner(conn: asyncpg.Connection, tenant_id: str, banner: dict[str, Any]) -> bool:
    """Keep the latest version of a banner; an older or repeated delivery changes nothing."""
    done = await conn.fetchval(
        """INSERT INTO wallboard_banners AS b (tenant_id, banner_id, kind, severity, scope, scope_id, title, text,
                                               language, source_event_id, published_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (tenant_id, banner_id) DO UPDATE SET
               kind = EXCLUDED.kind, severity = EXCLUDED.severity, scope = EXCLUDED.scope,
               scope_id = EXCLUDED.scope_id, title = EXCLUDED.title, text = EXCLUDED.text,
               language = EXCLUDED.language, source_event_id = EXCLUDED.source_event_id,
               published_at = EXCLUDED.published_at, expires_at = EXCLUDED.expires_at
           WHERE b.published_at < EXCLUDED.published_at
           RETURNING 1""",
        tenant_id, banner["banner_id"], banner["kind"], banner["severity"], banner["scope"], banner["scope_id"],
        banner["title"], banner["text"], banner["language"], banner["source_event_id"], banner["published_at"],
        banner["expires_at"],
    )
    if done is not None:
        await conn.execute("SELECT pg_notify($1, $2)", BANNERS_CHANNEL, json.dumps({"tenant_id": tenant_id}))
    return done is not None


async def live_banners(pool: asyncpg.Pool, tenant_id: str) -> list[Banner]:
    rows = await pool.fetch(
        """SELECT banner_id, kind, severity, scope, scope_id, title, text, language, source_event_id,
                  published_at, expires_at
           FROM wallboard_banners WHERE tenant_id = $1 AND expires_at > now()
           ORDER BY published_at DESC LIMIT 200""",
        tenant_id)
    return [Banner(**dict(r)) for r in rows]
