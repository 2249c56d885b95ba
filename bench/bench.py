"""``make bench``: what Coachline sustains on this machine, measured beside what the machine allows.

Runs intake and kpi as their own processes against the running Kafka and PostgreSQL (own topic prefix,
schemas and consumer group), feeds them the simulated contact centre, and measures:

- intake: events/s over HTTP in signed NDJSON batches, and request latency at a fixed rate;
- end to end: at fixed rates, the time from posting an event to seeing its figure on the KPI SSE
  stream (a probe client), and the kpi consumer's lag when the load stops;
- kpi from a backlog: a simulated day written straight to Kafka while kpi is stopped, folded as fast
  as kpi can once started (and ``coachline kpi rebuild`` when that command exists);
- memory: RSS of each service, and the KPI schema's size scaled to 10,000 agents: the projection's
  state (figures, fold state) apart from the inbox;
- the limit: a bare aiokafka consumer that only reads and decodes the same events, and Kafka's own
  ProducerPerformance / ConsumerPerformance tools; our figures as ratios of it.

Prints a table and writes JSON (``--out``). ``--smoke`` runs every step with tiny sizes: it proves the
benchmark still works and asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from coachline import devstack
from coachline.auth import Principal, Role, jwks_of, mint_token
from coachline.envelope import decode, header_map
from coachline.signing import new_secret
from coachline.sim import SimEvent, simulate, standard_centre
from coachline.sim.output import KafkaSink, ensure_topics, ndjson, request_headers

ROOT = Path(__file__).resolve().parent.parent
INTERACTIONS = "cc.interactions.v1"
KAFKA_VERSION = "4.1.2"


@dataclass(frozen=True)
class Sizes:
    intake_events: int
    fixed_rate: int
    fixed_seconds: float
    e2e_rates: tuple[int, ...]
    e2e_seconds: float
    backlog_agents: int
    perf_records: int
    drain_timeout_s: float
    workload_agents: int


FULL = Sizes(intake_events=20_000, fixed_rate=500, fixed_seconds=20, e2e_rates=(500, 2_000, 5_000),
             e2e_seconds=30, backlog_agents=160, perf_records=500_000, drain_timeout_s=120, workload_agents=400)
SMOKE = Sizes(intake_events=3_000, fixed_rate=200, fixed_seconds=3, e2e_rates=(100,), e2e_seconds=4,
              backlog_agents=8, perf_records=5_000, drain_timeout_s=90, workload_agents=100)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile; None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(share * len(ordered)))) - 1]


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu": model, "python": platform.python_version(), "system": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


# -- the services under test -------------------------------------------------------------------------


@dataclass
class Stack:
    """intake and kpi as subprocesses in their own slice of Kafka and PostgreSQL."""

    kafka: str
    database: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="coachline-bench-")))
    secrets: dict[str, str] = field(default_factory=dict)
    tenants: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.prefix = f"bench{self.run_id}."

    @property
    def kpi_group(self) -> str:
        return f"kpi-bench{self.run_id}"

    def token(self, tenant: str) -> str:
        principal = Principal(subject="bench", tenant_id=tenant, roles=frozenset({Role.ADMIN, Role.SERVICE_MANAGER}),
                              agent_id=None, teams=frozenset(), units=frozenset())
        return mint_token(self.key, issuer="coachline-bench", audience="coachline", principal=principal, kid="bench")

    def secret(self, tenant: str) -> str:
        return self.secrets.setdefault(tenant, new_secret())

    def start(self, tenants: Sequence[str]) -> None:
        self.tenants = list(tenants)
        for name in ("intake", "kpi"):
            self.start_one(name)

    def start_one(self, name: str) -> None:
        """Start one service (again: a restarted kpi keeps its port, schema and consumer group)."""
        from coachline.testing import free_port

        source_secrets = {t: {"generic": [self.secret(t)]} for t in self.tenants}
        base = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.kafka, "DATABASE_URL": self.database,
                "COACHLINE_TOPIC_PREFIX": self.prefix, "COACHLINE_ENVIRONMENT": "test",
                "COACHLINE_LOG_LEVEL": "WARNING",
                "COACHLINE_OIDC_ISSUER": "coachline-bench", "COACHLINE_OIDC_AUDIENCE": "coachline",
                "COACHLINE_OIDC_JWKS": jwks_of([("bench", self.key.public_key())])}
        port = int(self.urls[name].rsplit(":", 1)[1]) if name in self.urls else free_port()
        prefix = name.upper() + "_"
        env = {**base, f"{prefix}HTTP_PORT": str(port), f"{prefix}DB_SCHEMA": f"{name}_bench{self.run_id}",
               f"{prefix}CONSUMER_GROUP": f"{name}-bench{self.run_id}"}
        if name == "kpi":
            # The simulated days have fixed dates: what a day leaves is measured, not what retention keeps.
            env["KPI_QUARTER_RETENTION_DAYS"] = "0"
        if name == "intake":
            env |= {"INTAKE_SOURCE_SECRETS": json.dumps(source_secrets),
                    "INTAKE_RATE_LIMIT_EVENTS_PER_S": "10000000", "INTAKE_RATE_LIMIT_BURST": "10000000",
                    # A slow acknowledgement is what is measured here, not a reason to answer 503.
                    "INTAKE_PUBLISH_TIMEOUT_S": "120"}
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen([sys.executable, "-m", f"coachline_{name}"], env=env,
                                                stdout=log, stderr=subprocess.STDOUT)
        self.urls[name] = f"http://127.0.0.1:{port}"

    def stop_one(self, name: str) -> None:
        proc = self.processes[name]
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    async def ready(self, limit_s: float = 120) -> None:
        deadline = time.monotonic() + limit_s
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                for name, proc in self.processes.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name} exited: {(self.logs / f'{name}.log').read_text()[-2000:]}")
                try:
                    answers = [await client.get(f"{u}/readyz") for u in self.urls.values()]
                    if all(a.status_code == 200 for a in answers):
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        raise RuntimeError(f"the services were not ready within {limit_s:.0f} s (logs in {self.logs})")

    def rss_mib(self) -> dict[str, float]:
        out = {}
        for name, proc in self.processes.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(proc.pid)
                out[name] = round(sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20, 1)
        return out

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for name in self.processes:
            self.stop_one(name)

    async def drop_slice(self) -> None:
        """Remove the run's topics, schemas and consumer groups, so repeated runs leave nothing behind."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka)
        await admin.start()
        try:
            ours = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()
        conn = await asyncpg.connect(self.database)
        try:
            # A rebuild leaves the schema it replaced beside the live one (``<schema>_replaced_<time>``).
            schemas = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 OR nspname LIKE $2",
                                       f"intake_bench{self.run_id}%", f"kpi_bench{self.run_id}%")
            for row in schemas:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
        finally:
            await conn.close()


# -- workload ----------------------------------------------------------------------------------------


def workload(tenant: str, agents: int, at_least: int, seed: int) -> list[SimEvent]:
    """Simulated events of one tenant, enough days of them to hold ``at_least`` events."""
    start = datetime(2026, 11, 23, tzinfo=UTC)
    events: list[SimEvent] = []
    day = 0
    while len(events) < at_least:
        out = simulate(standard_centre(1, agents, "UTC", tenant), start + timedelta(days=day), 1, seed + day)
        events += out.events
        day += 1
    return events[:at_least]


def batches(events: Sequence[SimEvent], size: int) -> list[bytes]:
    return [ndjson(events[i:i + size]) for i in range(0, len(events), size)]


RETRIES: dict[int, int] = {}


async def post(client: httpx.AsyncClient, url: str, tenant: str, secret: str, body: bytes) -> float:
    """Post one batch until intake takes it (a 429 or 503 is retried, and counted); returns the seconds taken."""
    started = time.perf_counter()
    while True:
        answer = await client.post(url, content=body, headers=request_headers(tenant, body, secret))
        if answer.status_code == 202:
            return time.perf_counter() - started
        if answer.status_code not in (429, 503):
            raise RuntimeError(f"intake answered {answer.status_code}: {answer.text[:300]}")
        RETRIES[answer.status_code] = RETRIES.get(answer.status_code, 0) + 1
        await asyncio.sleep(0.2)


async def intake_throughput(stack: Stack, events: Sequence[SimEvent], tenant: str, concurrency: int = 2,
                            size: int = 500) -> dict[str, Any]:
    bodies = batches(events, size)
    url = stack.urls["intake"] + "/v1/sources/generic/events"
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with httpx.AsyncClient(timeout=600) as client:
        async def worker() -> None:
            while not queue.empty():
                await post(client, url, tenant, stack.secret(tenant), queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"events": len(events), "batch_size": size, "concurrency": concurrency,
            "seconds": round(elapsed, 2), "events_per_s": round(len(events) / elapsed)}


async def paced(stack: Stack, events: Sequence[SimEvent], tenant: str, rate: int, seconds: float,
                tick_s: float = 0.1, in_flight: int = 16) -> dict[str, Any]:
    """Post ``rate`` events/s for ``seconds`` in batches every ``tick_s``; request latencies recorded.

    At most ``in_flight`` requests are open at once, as a real platform's sender would hold back: when
    intake is slower than the rate, the achieved rate shows it.
    """
    url = stack.urls["intake"] + "/v1/sources/generic/events"
    per_tick = max(1, round(rate * tick_s))
    latencies: list[float] = []
    sent = 0
    pending: set[asyncio.Task[None]] = set()
    gate = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(timeout=180, limits=httpx.Limits(max_connections=in_flight)) as client:
        async def one(body: bytes) -> None:
            try:
                latencies.append(await post(client, url, tenant, stack.secret(tenant), body))
            finally:
                gate.release()

        started = time.perf_counter()
        tick = 0
        while time.perf_counter() - started < seconds and sent < len(events):
            await gate.acquire()
            chunk = events[sent:sent + per_tick]
            sent += len(chunk)
            task = asyncio.create_task(one(ndjson(chunk)))
            pending.add(task)
            task.add_done_callback(pending.discard)
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * tick_s - time.perf_counter()))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    return {"target_events_per_s": rate, "sent": sent, "achieved_events_per_s": round(sent / elapsed),
            "batch_size": per_tick, "requests": len(latencies),
            "latency_ms": {"p50": _ms(percentile(latencies, 0.5)), "p99": _ms(percentile(latencies, 0.99))}}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# -- the probe: event to SSE -----------------------------------------------------------------------------


class Probe:
    """Posts one uniquely-queued contact at a time and times it until its figure arrives on the SSE stream."""

    def __init__(self, stack: Stack, tenant: str) -> None:
        self.stack, self.tenant = stack, tenant
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.n = 0

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        connected = asyncio.Event()
        task = asyncio.create_task(self._listen(connected))
        try:
            await asyncio.wait_for(connected.wait(), 30)
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task

    async def _listen(self, connected: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {self.stack.token(self.tenant)}"}
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, client.stream(
                "GET", self.stack.urls["kpi"] + "/v1/kpis/stream", params={"tenant_id": self.tenant},
                headers=headers) as sse:
            if sse.status_code != 200:
                raise RuntimeError(f"the KPI stream answered {sse.status_code}")
            connected.set()
            async for line in sse.aiter_lines():
                if not line.startswith("data:"):
                    continue
                arrived = time.perf_counter()
                for queue_id in re.findall(r"probe-q-\d+", line):
                    posted = self.sent.pop(queue_id, None)
                    if posted is not None:
                        self.latencies.append(arrived - posted)

    async def ping(self, client: httpx.AsyncClient) -> None:
        self.n += 1
        queue_id = f"probe-q-{self.n}"
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        body = (json.dumps({"specversion": "1.0", "id": f"probe-{uuid.uuid4()}", "source": "bench-probe",
                            "type": "cc.interaction.offered.v1", "tenantid": self.tenant,
                            "data": {"interaction_id": f"probe-{self.n}", "queue_id": queue_id, "channel": "voice",
                                     "occurred_at": stamp}}) + "\n").encode()
        self.sent[queue_id] = time.perf_counter()
        await client.post(self.stack.urls["intake"] + "/v1/sources/generic/events", content=body,
                          headers=request_headers(self.tenant, body, self.stack.secret(self.tenant)))

    def summary(self) -> dict[str, Any]:
        values = self.latencies
        return {"samples": len(values), "unanswered": len(self.sent),
                "latency_ms": {"p50": _ms(percentile(values, 0.5)), "p99": _ms(percentile(values, 0.99)),
                               "p99.9": _ms(percentile(values, 0.999)),
                               "mean": _ms(statistics.fmean(values)) if values else None}}


class GroupLag:
    """What the kpi consumer group has not committed yet, read through clients kept open between reads."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka)

    async def __aenter__(self) -> GroupLag:
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def behind(self, *topics: str, started: bool = True) -> int | None:
        """Messages of ``topics`` not committed yet (a topic the group has not read yet counts in full);
        None while the group has committed nothing at all, unless it is known not to have ``started``."""
        committed = await self.admin.list_consumer_group_offsets(self.stack.kpi_group)
        if not committed and started:
            return None
        behind = 0
        for topic in topics:
            name = self.stack.prefix + topic
            parts = [TopicPartition(name, p) for p in (self.consumer.partitions_for_topic(name) or set())]
            if not parts:
                await self.consumer._client.force_metadata_update()
                parts = [TopicPartition(name, p) for p in (self.consumer.partitions_for_topic(name) or set())]
            ends = await self.consumer.end_offsets(parts)
            mine = {tp: meta.offset for tp, meta in committed.items() if tp.topic == name}
            behind += sum(max(0, end - mine.get(tp, 0)) for tp, end in ends.items())
        return behind


async def lag(stack: Stack, *topics: str) -> int | None:
    """Messages of ``topics`` the kpi consumer group has not committed yet; None when it has no offsets."""
    async with GroupLag(stack) as group:
        return await group.behind(*topics)


async def drain(stack: Stack, limit_s: float, topics: Sequence[str] = (INTERACTIONS,)
                ) -> tuple[float | None, int | None]:
    """Seconds until the kpi consumer has caught up on ``topics`` (None if not within ``limit_s``)."""
    started = time.perf_counter()
    behind: int | None = None
    while time.perf_counter() - started < limit_s:
        behind = await lag(stack, *topics)
        if behind == 0:
            return round(time.perf_counter() - started, 2), 0
        await asyncio.sleep(0.5)
    return None, behind


async def end_to_end(stack: Stack, sizes: Sizes, seed: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    probe = Probe(stack, "bench-probe")
    for i, rate in enumerate(sizes.e2e_rates):
        measured = [r for r in results if "skipped" not in r]
        if measured and measured[-1]["sustained"] is not True:
            # A backlog from the last rate would only be measured again, slower.
            results.append({"target_events_per_s": rate, "skipped": f"{measured[-1]['target_events_per_s']}/s was "
                            f"not sustained (intake took {measured[-1]['intake']['achieved_events_per_s']}/s)"})
            continue
        tenant = f"bench-e2e-{i}"
        events = workload(tenant, sizes.workload_agents, int(rate * sizes.e2e_seconds) + 1000, seed + 100 * i)
        probe.latencies.clear()
        probe.sent.clear()
        async with probe.listening(), httpx.AsyncClient(timeout=30) as client:
            async def pinging() -> None:
                # Probes leave every 200 ms whether or not the last one was answered, so a slow intake
                # does not thin out the samples.
                flying: set[asyncio.Task[None]] = set()
                while True:
                    task = asyncio.create_task(probe.ping(client))
                    flying.add(task)
                    task.add_done_callback(flying.discard)
                    await asyncio.sleep(0.2)

            pinger = asyncio.create_task(pinging())
            try:
                load = await paced(stack, events, tenant, rate, sizes.e2e_seconds)
                behind_at_stop = await lag(stack, INTERACTIONS)
            finally:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
            drained, behind = await drain(stack, sizes.drain_timeout_s)
            deadline = time.monotonic() + 10
            while probe.sent and time.monotonic() < deadline:  # noqa: ASYNC110 - the SSE task empties it
                await asyncio.sleep(0.2)
        results.append({"target_events_per_s": rate, "intake": load, "probe": probe.summary(),
                        "kpi_lag_at_stop": behind_at_stop, "drain_s": drained, "lag_after_drain": behind,
                        "sustained": load["achieved_events_per_s"] >= 0.95 * rate and drained is not None
                        and (behind_at_stop or 0) <= rate * 2})
    return results


# -- kpi from a backlog, rebuild, state size ----------------------------------------------------------------


# The kpi schema's tables by what they hold: the figures are read from the sums; the fold's state
# (contacts, customers, agents, sessions, agent state changes) is what late events are folded against.
STATE = {"figures": ("kpi_sums",), "fold_state": ("kpi_entities", "agent_marks"), "inbox": ("inbox",)}
BACKLOG_TOPICS = (INTERACTIONS, "cc.agent-states.v1", "cc.surveys.v1", "cc.roster.v1")


async def state_bytes(database: str, schema: str, *, compact: bool = False) -> dict[str, int]:
    """Bytes on disk (tables, indexes, TOAST) of each part of ``STATE`` and of the whole schema.

    ``compact``: what the live rows take, copied into fresh tables of the same definition, without the
    row versions that updates leave behind until vacuum reuses their room (VACUUM FULL would keep any
    that a transaction elsewhere on the server might still see).
    """
    conn = await asyncpg.connect(database)
    try:
        sizes = {r["relname"]: int(r["bytes"]) for r in await conn.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) AS bytes FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')", schema)}
        if compact:
            for table in (t for tables in STATE.values() for t in tables):
                sizes[table] = await _copied_bytes(conn, schema, table)
    finally:
        await conn.close()
    out = {part: sum(sizes.get(t, 0) for t in tables) for part, tables in STATE.items()}
    return out | {"schema": sum(sizes.values())}


async def _copied_bytes(conn: asyncpg.Connection, schema: str, table: str) -> int:
    source = f'"{schema}".{table}'
    async with conn.transaction():
        await conn.execute(f"CREATE TEMP TABLE bench_copy (LIKE {source} INCLUDING ALL EXCLUDING INDEXES) "
                           "ON COMMIT DROP")
        options = await conn.fetchval("SELECT reloptions FROM pg_class WHERE oid = $1::regclass", source)
        if options:
            await conn.execute(f"ALTER TABLE bench_copy SET ({', '.join(options)})")
        await conn.execute(f"INSERT INTO bench_copy SELECT * FROM {source}")
        # Built after the rows are in, as VACUUM FULL would rebuild them.
        for definition in await conn.fetch("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
                                           schema, table):
            await conn.execute("CREATE INDEX ON bench_copy USING " + definition[0].split(" USING ", 1)[1])
        return int(await conn.fetchval("SELECT pg_total_relation_size('bench_copy')"))


async def backlog(stack: Stack, sizes: Sizes, seed: int) -> dict[str, Any]:
    """A simulated day written to Kafka while kpi is stopped; how fast kpi folds it once started, and
    what state the day leaves."""
    schema = f"kpi_bench{stack.run_id}"
    out = simulate(standard_centre(1, sizes.backlog_agents, "UTC", "bench-day"), datetime(2026, 11, 23, tzinfo=UTC),
                   1, seed)
    await drain(stack, sizes.drain_timeout_s, BACKLOG_TOPICS)
    stack.stop_one("kpi")
    before = await state_bytes(stack.database, schema, compact=True)
    sink = KafkaSink(stack.kafka, stack.prefix)
    await sink.start()
    started = time.perf_counter()
    try:
        await sink.send(out.roster)
        for i in range(0, len(out.events), 2000):
            await sink.send(out.events[i:i + 2000])
    finally:
        await sink.close()
    written = time.perf_counter() - started
    total = len(out.roster) + len(out.events)
    async with GroupLag(stack) as group:
        waiting = await group.behind(*BACKLOG_TOPICS, started=False) or 0
        started = time.perf_counter()
        stack.start_one("kpi")
        # The group's lag moves as batches commit; the rate between its first and last move is the
        # sustained one (start-up and the consumer group's join are left out, and reported as the wall time).
        first: tuple[float, int] | None = None
        last = (started, waiting)
        deadline = started + sizes.drain_timeout_s * 5
        while last[1] > 0 and time.perf_counter() < deadline:
            behind = await group.behind(*BACKLOG_TOPICS)
            if behind is not None and behind < last[1]:
                last = (time.perf_counter(), behind)
                first = first or last
            await asyncio.sleep(0.1)
    wall = last[0] - started
    await stack.ready()
    drained, behind = await drain(stack, sizes.drain_timeout_s, BACKLOG_TOPICS)
    after_disk = await state_bytes(stack.database, schema)
    after = await state_bytes(stack.database, schema, compact=True)
    agents = len({e.data.agent_id for e in out.events if e.type == "cc.agent.state-changed.v1"})  # type: ignore[attr-defined]
    interactions = sum(1 for e in out.events if e.topic == INTERACTIONS)

    def per_10k(part: str, sizes_after: dict[str, int]) -> float | None:
        return round((sizes_after[part] - before[part]) * 10_000 / agents / 2**20, 1) if agents else None

    sustained = (first[1] - last[1]) / (last[0] - first[0]) if first and last[0] > first[0] else None
    return {"events": total, "waiting_at_start": waiting, "interaction_events": interactions, "agents": agents,
            "kafka_write_s": round(written, 2), "lag_left": behind if drained is None else 0,
            "wall_s_from_start": round(wall, 2), "events_per_s": round(sustained) if sustained else None,
            "events_per_s_from_start": round(waiting / wall) if wall > 0 else None,
            "state_mib_per_10k_agents_day": {part: per_10k(part, after) for part in (*STATE, "schema")},
            "state_on_disk_mib_per_10k_agents_day": {part: per_10k(part, after_disk) for part in (*STATE, "schema")}}


def rebuild(stack: Stack) -> dict[str, Any]:
    """``coachline kpi rebuild`` when it exists; otherwise the reason it was skipped."""
    exe = shutil.which("coachline", path=str(Path(sys.executable).parent)) or "coachline"
    probe = subprocess.run([exe, "kpi", "rebuild", "--help"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return {"skipped": "`coachline kpi rebuild` is not available in this checkout"}
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.kafka, "DATABASE_URL": stack.database,
           "COACHLINE_TOPIC_PREFIX": stack.prefix, "KPI_DB_SCHEMA": f"kpi_bench{stack.run_id}",
           "KPI_CONSUMER_GROUP": stack.kpi_group}
    started = time.perf_counter()
    done = subprocess.run([exe, "kpi", "rebuild"], capture_output=True, text=True, env=env, timeout=1800)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        return {"skipped": f"`coachline kpi rebuild` failed ({done.returncode}): {done.stderr.strip()[-300:]}"}
    try:
        told = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        told = {}
    events = told.get("events")
    return {"seconds": round(elapsed, 2), "events": events,
            "events_per_s": round(events / elapsed) if events else None,
            "events_per_s_as_reported": told.get("events_per_s"), "output": done.stdout.strip()[-300:]}


# -- the limit ---------------------------------------------------------------------------------------------


async def bare_consumer(stack: Stack) -> dict[str, Any]:
    """Read and decode every interaction event of the run with aiokafka alone: the Python ceiling."""
    name = stack.prefix + INTERACTIONS
    consumer = AIOKafkaConsumer(name, bootstrap_servers=stack.kafka, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, max_partition_fetch_bytes=4 * 2**20)
    await consumer.start()
    try:
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or set()]
        ends = await consumer.end_offsets(parts)
        total = sum(ends.values())
        seen = 0
        started = time.perf_counter()
        while seen < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for r in records:
                    decode(header_map(r.headers), r.value)
                seen += len(records)
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"events": seen, "seconds": round(elapsed, 2), "events_per_s": round(seen / elapsed) if elapsed else None}


def kafka_tools_classpath() -> tuple[str | None, str | None]:
    try:
        # The broker may be one started from another checkout; the tools need this checkout's jars.
        libs = devstack.kafka_jars(ROOT)
    except (SystemExit, subprocess.CalledProcessError) as exc:
        return None, f"could not resolve Kafka's jars: {exc}"
    tools = ROOT / ".local/bench/kafka-tools"
    if not any(tools.glob("kafka-tools-*.jar")):
        if shutil.which("mvn") is None:
            return None, "Maven (mvn) is needed to fetch kafka-tools from Maven Central"
        done = subprocess.run(["mvn", "-q", "-B", "dependency:copy", f"-Dartifact=org.apache.kafka:kafka-tools:"
                               f"{KAFKA_VERSION}", f"-DoutputDirectory={tools}"], capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            return None, f"could not fetch kafka-tools: {done.stdout[-300:]}"
    return f"{tools}/*:{libs}/*", None


def java_tool(classpath: str, main: str, args: list[str]) -> str:
    done = subprocess.run(["java", "-Xmx512m", "-cp", classpath, main, *args], capture_output=True, text=True,
                          timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{main} failed: {done.stderr[-500:]}")
    return done.stdout


async def kafka_perf(stack: Stack, sizes: Sizes, record_size: int) -> dict[str, Any]:
    classpath, reason = kafka_tools_classpath()
    if classpath is None:
        return {"skipped": reason}
    topic = stack.prefix + "perf"
    from aiokafka.admin import NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 12, 1)])
    finally:
        await admin.close()
    produced = await asyncio.to_thread(java_tool, classpath, "org.apache.kafka.tools.ProducerPerformance", [
        "--topic", topic, "--num-records", str(sizes.perf_records), "--record-size", str(record_size),
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={stack.kafka}", "acks=all",
        "enable.idempotence=true", "linger.ms=5"])
    summary = produced.strip().splitlines()[-1]
    rate = re.search(r"([\d.]+) records/sec", summary)
    latency = re.search(r"([\d.]+) ms avg latency.*?([\d.]+) ms 50th.*?([\d.]+) ms 99th", summary)
    consumed = await asyncio.to_thread(java_tool, classpath, "org.apache.kafka.tools.ConsumerPerformance", [
        "--topic", topic, "--messages", str(sizes.perf_records), "--bootstrap-server", stack.kafka,
        "--timeout", "60000"])
    fields = consumed.strip().splitlines()[-1].split(", ")
    return {"record_size": record_size, "records": sizes.perf_records,
            "producer_records_per_s": round(float(rate.group(1))) if rate else None,
            "producer_latency_ms": ({"p50": float(latency.group(2)), "p99": float(latency.group(3))}
                                    if latency else None),
            "consumer_records_per_s": round(float(fields[5])) if len(fields) > 5 else None,
            "consumer_mb_per_s": float(fields[3]) if len(fields) > 3 else None}


# -- report ------------------------------------------------------------------------------------------------


def ratio(ours: float | None, limit: float | None) -> float | None:
    return round(ours / limit, 3) if ours and limit else None


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    rows: list[tuple[str, str, str]] = []

    def add(name: str, value: Any, note: str = "") -> None:
        rows.append((name, "-" if value is None else str(value), note))

    def failed(name: str, section: Any) -> bool:
        if isinstance(section, dict) and "error" in section:
            add(name, None, "failed: " + section["error"])
            return True
        return False

    intake = report.get("intake", {})
    t = intake.get("throughput", {})
    if not failed("intake events/s (HTTP NDJSON)", t):
        add("intake events/s (HTTP NDJSON)", t.get("events_per_s"),
            f"batches of {t.get('batch_size')}, {t.get('concurrency')} in flight")
    fixed = intake.get("fixed_rate", {})
    if not failed("intake latency at a fixed rate", fixed):
        add(f"intake latency p50 / p99 @ {fixed['target_events_per_s']}/s",
            f"{fixed['latency_ms']['p50']} / {fixed['latency_ms']['p99']} ms",
            f"achieved {fixed['achieved_events_per_s']}/s in batches of {fixed['batch_size']}")
    stages = report.get("end_to_end", [])
    if not failed("event→SSE", stages):
        for stage in stages:
            if "skipped" in stage:
                add(f"event→SSE @ {stage['target_events_per_s']}/s", None, "skipped: " + stage["skipped"])
                continue
            p = stage["probe"]["latency_ms"]
            add(f"event→SSE p50/p99/p99.9 @ {stage['target_events_per_s']}/s",
                f"{p['p50']} / {p['p99']} / {p['p99.9']} ms",
                f"achieved {stage['intake']['achieved_events_per_s']}/s, lag at stop {stage['kpi_lag_at_stop']}, "
                f"drained in {stage['drain_s']} s, {stage['probe']['samples']} probes")
    b = report.get("backlog", {})
    if not failed("kpi fold from backlog", b):
        add("kpi fold from backlog events/s", b.get("events_per_s"),
            f"{b.get('events')} events of a {b.get('agents')}-agent day; {b.get('events_per_s_from_start')}/s "
            f"from process start ({b.get('wall_s_from_start')} s)")
        state = b.get("state_mib_per_10k_agents_day", {})
        disk = b.get("state_on_disk_mib_per_10k_agents_day", {})
        add("kpi projection state per 10,000 agents (one day)",
            f"{state.get('figures')} + {state.get('fold_state')} MiB",
            f"figures (kpi_sums) + fold state (entities, agent marks), compacted; on disk before vacuum "
            f"{disk.get('figures')} + {disk.get('fold_state')}; extrapolated from {b.get('agents')} agents")
        add("kpi inbox per 10,000 agents (one day)", f"{state.get('inbox')} MiB",
            f"kept for the dedupe horizon (KPI_INBOX_HORIZON_DAYS); on disk before vacuum {disk.get('inbox')}")
    rb = report.get("rebuild", {})
    if not failed("kpi rebuild", rb):
        add("kpi rebuild events/s", rb.get("events_per_s"), rb.get("skipped", ""))
    for name, rss in report.get("memory_rss_mib", {}).items():
        add(f"RSS {name}", f"{rss} MiB")
    limit = report.get("limit", {})
    bare = limit.get("bare_consumer", {})
    if not failed("limit: aiokafka read+decode", bare):
        add("limit: aiokafka read+decode events/s", bare.get("events_per_s"), f"{bare.get('events')} events")
    perf = limit.get("kafka_perf", {})
    if not failed("limit: Kafka perf tools", perf):
        add("limit: Kafka ProducerPerformance rec/s", perf.get("producer_records_per_s"),
            perf.get("skipped", f"{perf.get('records')} records of {perf.get('record_size')} B, acks=all"))
        add("limit: Kafka ConsumerPerformance rec/s", perf.get("consumer_records_per_s"), perf.get("skipped", ""))
    for name, value in report.get("ratios", {}).items():
        add(f"ratio {name}", value)
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    head = (f"Coachline bench ({report['mode']}) on {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; "
            f"load average at start {m['load_average_at_start']}")
    return "\n".join([head, *(f"  {a:<{width}}  {b:>{vwidth}}  {c}" for a, b, c in rows)])


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sizes = SMOKE if args.smoke else FULL
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", devstack.LOCAL_KAFKA)
    database = os.environ.get("DATABASE_URL", devstack.LOCAL_DATABASE_URL)
    stack = Stack(kafka, database)
    tenants = ["bench-intake", "bench-fixed", "bench-probe", *(f"bench-e2e-{i}" for i in range(len(sizes.e2e_rates)))]
    report: dict[str, Any] = {"mode": "smoke" if args.smoke else "full", "machine": machine(),
                              "started_at": datetime.now(UTC).isoformat(), "sizes": sizes.__dict__}
    await ensure_topics(kafka, stack.prefix, [INTERACTIONS, "cc.agent-states.v1", "cc.surveys.v1", "cc.roster.v1"])
    stack.start(tenants)

    async def phase(name: str, step: Any) -> Any:
        """Run one measurement; a failure is reported in its place instead of losing the others."""
        print(f"bench: {name}", file=sys.stderr, flush=True)
        try:
            return await step
        except Exception as exc:  # any failure becomes part of the report
            print(f"bench: {name} failed: {exc!r}", file=sys.stderr, flush=True)
            return {"error": f"{type(exc).__name__}: {exc}"[:500]}

    try:
        await stack.ready()
        print(f"bench: services up (logs in {stack.logs}); simulating the workload", file=sys.stderr, flush=True)
        events = workload("bench-intake", sizes.workload_agents, sizes.intake_events, args.seed)
        record_size = round(sum(len(e.data.model_dump_json()) for e in events[:2000]) / min(len(events), 2000))
        throughput = await phase("intake throughput", intake_throughput(stack, events, "bench-intake"))
        fixed_events = workload("bench-fixed", sizes.workload_agents,
                                int(sizes.fixed_rate * sizes.fixed_seconds) + 1000, args.seed + 1)
        fixed = await phase("intake latency at a fixed rate",
                            paced(stack, fixed_events, "bench-fixed", sizes.fixed_rate, sizes.fixed_seconds))
        report["intake"] = {"throughput": throughput, "fixed_rate": fixed}
        drained, _ = await drain(stack, sizes.drain_timeout_s * 3)
        report["kpi_catch_up_after_intake_s"] = drained
        report["end_to_end"] = await phase("end to end", end_to_end(stack, sizes, args.seed + 2))
        report["backlog"] = await phase("kpi from a backlog", backlog(stack, sizes, args.seed + 3))
        report["memory_rss_mib"] = stack.rss_mib()
        report["rebuild"] = await phase("rebuild", asyncio.to_thread(rebuild, stack))
        report["limit"] = {"bare_consumer": await phase("bare aiokafka consumer", bare_consumer(stack)),
                           "kafka_perf": await phase("Kafka perf tools", kafka_perf(stack, sizes, record_size))}
    finally:
        stack.stop()
        if not args.keep:
            await stack.drop_slice()
    perf = report.get("limit", {}).get("kafka_perf", {})
    bare = report.get("limit", {}).get("bare_consumer", {}).get("events_per_s")
    report["ratios"] = {
        "intake / Kafka producer": ratio(report.get("intake", {}).get("throughput", {}).get("events_per_s"),
                                         perf.get("producer_records_per_s")),
        "kpi backlog fold / bare aiokafka consumer": ratio(report.get("backlog", {}).get("events_per_s"), bare),
        "kpi rebuild / bare aiokafka consumer": ratio(report.get("rebuild", {}).get("events_per_s"), bare),
        "bare aiokafka consumer / Kafka consumer": ratio(bare, perf.get("consumer_records_per_s")),
    }
    report["intake_retries_by_status"] = {str(k): v for k, v in RETRIES.items()}
    report["finished_at"] = datetime.now(UTC).isoformat()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the benchmark runs")
    parser.add_argument("--out", type=Path, default=ROOT / ".artifacts/bench.json")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and schemas for a look")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(report))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
