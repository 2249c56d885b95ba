"""``coachline kpi compute`` (the fold, offline, over a file of events), ``coachline kpi rebuild``
(replay the input topics from the earliest offset into a fresh schema, then swap it in) and
``coachline kpi migrate`` (apply the migrations to the live schema and exit)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from coachline.cli import migrate_command
from coachline.contracts.registry import EVENT_TYPES
from coachline.envelope import CloudEvent, EnvelopeError, decode, header_map, validation_summary
from coachline.persistence import create_pool, migrate
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.handlers import INPUTS
from coachline_kpi.service import Position, Projection, compute
from coachline_kpi.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
# Rows that are not derived from events: decisions and settings people made, carried into the new schema.
KEPT_TABLES = ("tenant_policies", "team_visibility_decisions", "alert_levels")


class BadInput(ValueError):
    pass


def read_events(lines: TextIO) -> Iterator[CloudEvent]:
    """CloudEvents in structured JSON mode, one a line (``tenantid`` names the tenant), as intake takes them."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise BadInput("not a JSON object")
            et = EVENT_TYPES.get(str(raw.get("type")))
            if et is None:
                raise BadInput(f"unknown event type {raw.get('type')!r}")
            tenant, event_id = raw.get("tenantid"), raw.get("id")
            if not (isinstance(tenant, str) and tenant and isinstance(event_id, str) and event_id):
                raise BadInput("id and tenantid must be non-empty strings")
            time_text = raw.get("time")
            at = datetime.fromisoformat(time_text) if isinstance(time_text, str) else datetime.now(UTC)
            data = et.model.model_validate(raw.get("data"))
        except ValidationError as exc:
            raise BadInput(f"line {number}: data does not match its type: {validation_summary(exc)}") from None
        except (ValueError, TypeError) as exc:
            raise BadInput(f"line {number}: {exc}") from None
        yield CloudEvent(id=event_id, source=str(raw.get("source", "file")), type=et.name, tenant_id=tenant,
                         time=at, subject=None, data=data)


def _as_of(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("--as-of needs a UTC offset, e.g. 2026-11-23T18:00:00Z")
    return at


def compute_command(argv: list[str], out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="coachline kpi compute",
                                     description="Fold a file of events into every KPI, offline; JSON out.")
    parser.add_argument("--events", type=Path, required=True, help="NDJSON file of CloudEvents (structured mode)")
    parser.add_argument("--as-of", type=_as_of, default=datetime.now(UTC),
                        help="leave out events after this time; 30d windows end on its day")
    parser.add_argument("--policy", type=Path, help="a tenant policy as JSON (as GET /v1/kpi-policy shows it)")
    parser.add_argument("--time-zone", default="UTC")
    parser.add_argument("--min-sample", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        if args.policy:
            policy = TenantPolicy.model_validate_json(args.policy.read_text())
        else:
            policy = TenantPolicy(time_zone=args.time_zone, min_sample=args.min_sample)
        with args.events.open(encoding="utf-8") as lines:
            events = list(read_events(lines))
    except (OSError, BadInput, ValidationError) as exc:
        print(f"coachline kpi compute: {exc}", file=sys.stderr)
        return 2
    figures = compute(events, policy, args.as_of)
    json.dump({"as_of": args.as_of.isoformat(), "policy": policy.model_dump(mode="json"), "events": len(events),
               "figures": figures}, out, indent=1, sort_keys=True)
    out.write("\n")
    return 0


@dataclass
class RebuildReport:
    schema: str
    replaced: str
    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def _partitions(settings: Settings) -> list[TopicPartition]:
    """Every partition of the input topics that exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.topic_name(t) for t in INPUTS])
    finally:
        await admin.close()
    return sorted(TopicPartition(d["topic"], p["partition"]) for d in described if not d.get("error_code")
                  for p in d.get("partitions", []))


async def _replay(settings: Settings, projection: Projection, start: dict[TopicPartition, int] | None,
                  batch: int, *, record_positions: bool) -> tuple[int, dict[TopicPartition, int]]:
    """Fold every input topic from ``start`` (or the earliest offsets) to the end as it is now.

    Reading and decoding the next batch goes on while the database works on the last one.
    ``record_positions`` moves the partitions' positions past what is folded.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=batch)
    await consumer.start()
    try:
        partitions = await _partitions(settings)
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            if start is not None and tp in start:
                consumer.seek(tp, start[tp])
            else:
                await consumer.seek_to_beginning(tp)
        batches: asyncio.Queue[tuple[list[CloudEvent], list[Position]] | None] = asyncio.Queue(maxsize=2)

        async def read() -> None:
            remaining = {tp for tp in partitions if end[tp] > (start or {}).get(tp, 0)}
            while remaining:
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
                if not remaining:
                    break
                records = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch)
                events: list[CloudEvent] = []
                read_at: list[Position] = []
                for tp, rows in records.items():
                    for record in rows:
                        if record.offset >= end[tp]:
                            continue
                        try:
                            events.append(decode(header_map(record.headers or ()), record.value or b"",
                                                 expected_topic=tp.topic.removeprefix(settings.topic_prefix)))
                        except EnvelopeError:
                            continue  # the live consumer dead-lettered it; it never counted
                        read_at.append((tp.topic, tp.partition, record.offset))
                if events:
                    await batches.put((events, read_at))
            await batches.put(None)

        reader = asyncio.create_task(read())
        folded = 0
        try:
            while (item := await batches.get()) is not None:
                events, read_at = item
                await projection.apply_batch(events, read_at if record_positions else None)
                folded += len(events)
        finally:
            if not reader.done():
                reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return folded, end
    finally:
        await consumer.stop()


async def rebuild(settings: Settings, *, batch: int = 5000) -> RebuildReport:
    """Replay the input topics into a fresh schema, swap it in for the live one, then fold what arrived meanwhile.

    The live schema is renamed, not dropped (``<schema>_replaced_<time>``), so it can be compared or restored.
    Replicas keep their connections; restart them after a rebuild so no cached statement points at the old tables.
    """
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    live, fresh, replaced = settings.db_schema, f"{settings.db_schema[:40]}_rebuild_{stamp}", \
        f"{settings.db_schema[:40]}_replaced_{stamp}"
    for name in (fresh, replaced):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"cannot name a schema {name!r}")
    default = TenantPolicy(time_zone=settings.time_zone, min_sample=settings.min_sample)
    pool = await create_pool(settings.database_url, fresh)
    try:
        await migrate(pool, fresh, MIGRATIONS)
        async with pool.acquire() as conn:
            await _require_schema(conn, settings)
            await _copy_kept(conn, live, fresh)
        projection = Projection(lambda: pool, default, quiet=True)
        folded, reached = await _replay(settings, projection, None, batch, record_positions=True)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{live}")
            await _copy_kept(conn, live, fresh)
            await conn.execute(f'INSERT INTO "{fresh}".outbox (topic, key, headers, body, trace, created_at) '
                               f'SELECT topic, key, headers, body, trace, created_at FROM "{live}".outbox ORDER BY id')
            await conn.execute(f'INSERT INTO "{fresh}".kpi_changed_keys (tenant_id, scope, scope_id, window_key) '
                               f'SELECT tenant_id, scope, scope_id, window_key FROM "{live}".kpi_changed_keys')
            await conn.execute(f'ALTER SCHEMA "{live}" RENAME TO "{replaced}"')
            await conn.execute(f'ALTER SCHEMA "{fresh}" RENAME TO "{live}"')
    finally:
        await pool.close()
    # What the live consumer folded into the old schema while the replay ran is folded again here;
    # the new inbox drops whatever the live consumer has already put into the swapped-in schema. The
    # positions are not consulted: the live consumer may have moved them past records it folded into
    # the old schema only.
    pool = await create_pool(settings.database_url, live)
    try:
        projection = Projection(lambda: pool, default, quiet=True)
        caught_up, _ = await _replay(settings, projection, reached, batch, record_positions=False)
    finally:
        await pool.close()
    return RebuildReport(schema=live, replaced=replaced, events=folded + caught_up,
                         seconds=time.monotonic() - started)


async def _require_schema(conn: asyncpg.Connection, settings: Settings) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", settings.db_schema)
    if not exists:
        raise ValueError(f"schema {settings.db_schema!r} does not exist; start the kpi service once first")


async def _copy_kept(conn: asyncpg.Connection, source: str, target: str) -> None:
    for table in KEPT_TABLES:
        await conn.execute(f'TRUNCATE "{target}".{table}')
        await conn.execute(f'INSERT INTO "{target}".{table} SELECT * FROM "{source}".{table}')


def rebuild_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coachline kpi rebuild", description=rebuild.__doc__)
    parser.add_argument("--batch", type=int, default=5000, help="events folded per transaction")
    args = parser.parse_args(argv)
    report = asyncio.run(rebuild(Settings(), batch=args.batch))
    print(json.dumps({"schema": report.schema, "replaced": report.replaced, "events": report.events,
                      "seconds": round(report.seconds, 3), "events_per_s": round(report.events_per_s, 1)}))
    return 0


def main(argv: list[str]) -> int:
    commands: dict[str, Any] = {"compute": compute_command, "rebuild": rebuild_command,
                                "migrate": migrate_command("kpi", Settings, MIGRATIONS)}
    if not argv or argv[0] not in commands:
        print("usage: coachline kpi {compute,rebuild,migrate} ...", file=sys.stderr)
        return 2
    return int(commands[argv[0]](argv[1:]))
