"""A small traffic generator for ``make run``: a demo contact centre posting canonical events to intake.

Contacts arrive as a Poisson process; some abandon after a patient wait, the rest are answered by an
agent of the queue's team, talked, held and wrapped up for log-normal times. Events are posted in the
``generic`` source's format in NDJSON batches, as a platform would.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import math
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

QUEUES = {"billing": "north", "sales": "south", "support": "north"}
AGENTS = {"north": [f"a-n{i}" for i in range(1, 9)], "south": [f"a-s{i}" for i in range(1, 7)]}


def _event(kind: str, source_id: str, tenant: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": source_id, "source": "demo-pbx", "type": f"cc.interaction.{kind}.v1",
            "tenantid": tenant, "data": data}


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def contact(rng: random.Random, n: int, now: datetime, tenant: str) -> list[tuple[datetime, dict[str, Any]]]:
    """Every event of one contact, each with the moment it happens."""
    queue = rng.choice(list(QUEUES))
    team = QUEUES[queue]
    cid = f"demo-{int(time.time())}-{n}"
    base = {"interaction_id": cid, "queue_id": queue, "channel": "voice"}
    out = [(now, _event("offered", f"{cid}-o", tenant, {**base, "occurred_at": _stamp(now)}))]
    wait = rng.expovariate(1 / 15)
    patience = rng.expovariate(1 / 90)
    if patience < wait:
        at = now + timedelta(seconds=patience)
        out.append((at, _event("abandoned", f"{cid}-x", tenant,
                               {**base, "occurred_at": _stamp(at), "queue_wait_s": f"{patience:.3f}"})))
        return out
    agent = rng.choice(AGENTS[team])
    answered = now + timedelta(seconds=wait)
    talk = rng.lognormvariate(math.log(180), 0.5)
    hold = rng.choice([0.0, 0.0, rng.uniform(10, 60)])
    wrap = rng.lognormvariate(math.log(30), 0.4)
    done = answered + timedelta(seconds=talk + hold + wrap)
    who = {"agent_id": agent, "team_id": team}
    out.append((answered, _event("answered", f"{cid}-a", tenant,
                                 {**base, **who, "occurred_at": _stamp(answered), "queue_wait_s": f"{wait:.3f}"})))
    out.append((done, _event("wrapped-up", f"{cid}-c", tenant,
                             {**base, **who, "occurred_at": _stamp(done), "talk_s": f"{talk:.3f}",
                              "hold_s": f"{hold:.3f}", "after_contact_work_s": f"{wrap:.3f}",
                              "transferred": rng.random() < 0.08})))
    return out


async def run(intake: str, tenant: str, per_minute: float, speed: float, seed: int | None) -> None:
    rng = random.Random(seed)
    pending: list[tuple[float, int, dict[str, Any]]] = []
    n = 0
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            try:
                if (await client.get(f"{intake}/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1)
        print(f"traffic: posting a demo contact centre for tenant {tenant!r} to {intake}", flush=True)
        next_arrival = time.monotonic()
        while True:
            now = time.monotonic()
            while next_arrival <= now:
                n += 1
                start = datetime.now(UTC)
                for at, event in contact(rng, n, start, tenant):
                    due = next_arrival + (at - start).total_seconds() / speed
                    heapq.heappush(pending, (due, n, event))
                next_arrival += rng.expovariate(per_minute / 60)
            batch = []
            while pending and pending[0][0] <= now:
                batch.append(heapq.heappop(pending)[2])
            if batch:
                body = "\n".join(json.dumps(e) for e in batch)
                try:
                    await client.post(f"{intake}/v1/sources/generic/events", content=body,
                                      headers={"content-type": "application/x-ndjson"})
                except httpx.HTTPError as exc:
                    print(f"traffic: intake did not answer ({exc}); retrying", flush=True)
                    for event in batch:
                        heapq.heappush(pending, (now + 1, 0, event))
            await asyncio.sleep(0.25)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m coachline.traffic", description=__doc__.splitlines()[0])
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--per-minute", type=float, default=60.0, help="contact arrivals per minute")
    parser.add_argument("--speed", type=float, default=10.0, help="handle times run this many times faster")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(run(args.intake, args.tenant, args.per_minute, args.speed, args.seed))


if __name__ == "__main__":
    main()
