"""PostgreSQL access: one schema per service, numbered migrations, the inbox and the transactional outbox."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from coachline.envelope import CloudEvent

log = logging.getLogger(__name__)

PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see only the service's own schema first on the search path."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings={"search_path": schema}, command_timeout=30
    )
    assert pool is not None
    return pool


def _migration_files(directory: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(directory.glob("*.sql")):
        if not _MIGRATION_NAME.match(path.name):
            raise ValueError(f"migration {path.name} is not named NNN_description.sql")
        files.append((path.name, path))
    return files


async def migrate(pool: asyncpg.Pool, schema: str, directory: Path | None) -> list[str]:
    """Create ``schema`` and apply the platform's and the service's migrations not applied yet.

    An advisory lock keyed on the schema makes concurrent replicas take turns, so each file runs once.
    Returns the names of the files applied now.
    """
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(f'SET search_path TO "{schema}"')
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            files = _migration_files(PLATFORM_MIGRATIONS)
            files += [(f"service/{n}", p) for n, p in _migration_files(directory)] if directory else []
            for name, path in files:
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied_now.append(name)
            await _grant_tenant_role(conn, schema)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
    return applied_now


TENANT_ROLE = "coachline_tenant"


async def _grant_tenant_role(conn: asyncpg.Connection, schema: str) -> None:
    # Superusers and table owners bypass row-level security, so requests made on a person's behalf
    # switch to this role (see tenant_transaction) and the tables' policies apply to them.
    await conn.execute(
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
                CREATE ROLE {TENANT_ROLE} NOLOGIN;
              END IF;
            EXCEPTION WHEN duplicate_object THEN NULL;
            END $$;"""
    )
    if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER"):
        # Anyone else may only SET ROLE to a role they are a member of.
        await conn.execute(f"GRANT {TENANT_ROLE} TO CURRENT_USER")
    await conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {TENANT_ROLE}')
    await conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {TENANT_ROLE}')
    await conn.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {TENANT_ROLE}')


@asynccontextmanager
async def tenant_transaction(pool: asyncpg.Pool, tenant_id: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on behalf of one tenant: row-level security shows and accepts only its rows.

    Tables opt in with ``ENABLE ROW LEVEL SECURITY`` and a policy on
    ``tenant_id = current_setting('coachline.tenant_id')``; the transaction runs as
    :data:`TENANT_ROLE`, which is subject to those policies even when the pool logs in as the owner.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('coachline.tenant_id', $1, true)", tenant_id)
        await conn.execute(f"SET LOCAL ROLE {TENANT_ROLE}")
        yield conn


Enqueue = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]
"""Writes an event to the outbox on the given connection (``Runtime.enqueue``)."""


class TenantStore:
    """Base of a service's repository: one connection inside one tenant's transaction, with the inbox
    and the outbox on that same connection, so an effect, its inbox record and its events commit together.
    """

    def __init__(self, conn: asyncpg.Connection, tenant_id: str, enqueue: Enqueue) -> None:
        self._conn = conn
        self.tenant_id = tenant_id
        self._enqueue = enqueue

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        return await first_delivery(self._conn, consumer, event_id)

    async def enqueue(self, event: CloudEvent) -> None:
        await self._enqueue(self._conn, event)


async def first_delivery(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record ``event_id`` in the inbox; False if it was already processed (a duplicate or redelivery).

    Call inside the same transaction as the effect, so the effect and the record commit together.
    """
    row = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        event_id,
    )
    return row is not None


async def first_deliveries(conn: asyncpg.Connection, consumer: str, event_ids: Iterable[str]) -> set[str]:
    """Record a batch's event ids in the inbox with one statement; returns those not processed before.

    Like :func:`first_delivery`, inside the transaction of the effect. The ids go in sorted, so two
    batches sharing ids wait for each other instead of deadlocking.
    """
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING "
        "RETURNING event_id", consumer, sorted(set(event_ids)))
    return {r["event_id"] for r in rows}


async def prune_inbox(conn: asyncpg.Connection, consumer: str, older_than: timedelta, *, chunk: int = 10_000) -> int:
    """Forget ``consumer``'s event ids processed more than ``older_than`` ago (its dedupe horizon).

    Call it outside a transaction: it deletes in chunks, each its own transaction, so a first sweep of
    a large inbox never holds long locks. Returns how many rows went.
    """
    removed = 0
    while True:
        status = await conn.execute(
            "DELETE FROM inbox WHERE ctid = ANY(ARRAY(SELECT ctid FROM inbox WHERE consumer = $1 "
            "AND processed_at < now() - $2::interval LIMIT $3))", consumer, older_than, chunk)
        count = int(status.split()[-1])
        removed += count
        if count < chunk:
            return removed


async def add_to_outbox(conn: asyncpg.Connection, topic: str, event: CloudEvent) -> None:
    """Queue ``event`` for publishing, in the caller's transaction, with the current trace context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    await conn.execute(
        "INSERT INTO outbox (topic, key, headers, body, trace) VALUES ($1, $2, $3::jsonb, $4, $5::jsonb)",
        topic,
        event.key.encode(),
        json.dumps(event.headers()),
        event.body(),
        json.dumps(carrier),
    )


Publish = Callable[[str, bytes, dict[str, str], bytes], Awaitable[None]]


class OutboxRelay:
    """Publishes outbox rows in insertion order, then deletes them.

    One relay at a time per schema holds a transaction-scoped advisory lock, so rows are published
    in order (per key and overall) even with several replicas. A row is deleted only after the broker
    acknowledged it; a crash in between republishes it, and consumers drop the duplicate by event id.
    """

    def __init__(self, pool: asyncpg.Pool, schema: str, publish: Publish, *, batch: int = 200,
                 idle_s: float = 0.1) -> None:
        self.pool = pool
        self.schema = schema
        self.publish = publish
        self.batch = batch
        self.idle_s = idle_s
        self._task: asyncio.Task[None] | None = None
        self._tracer = trace.get_tracer(__name__)
        # Age of the oldest row when the relay last read the outbox: how far behind publishing is.
        self.oldest_age_s = 0.0

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", f"outbox:{self.schema}"):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, headers, body, trace, created_at FROM outbox ORDER BY id LIMIT $1", self.batch
            )
            self.oldest_age_s = (datetime.now(UTC) - rows[0]["created_at"]).total_seconds() if rows else 0.0
            for row in rows:
                parent = propagate.extract(json.loads(row["trace"]))
                token = otel_context.attach(parent)
                try:
                    with self._tracer.start_as_current_span("outbox publish", kind=trace.SpanKind.PRODUCER):
                        await self.publish(row["topic"], bytes(row["key"]), json.loads(row["headers"]),
                                           bytes(row["body"]))
                finally:
                    otel_context.detach(token)
            if rows:
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
            return len(rows)

    async def _run(self) -> None:
        while True:
            try:
                if await self.relay_once() < self.batch:
                    await asyncio.sleep(self.idle_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.schema}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
