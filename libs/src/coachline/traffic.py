"""``make run``'s demo: the simulated contact centre, in real time, posting to intake as a platform would.

The week is simulated from today's midnight (in ``--time-zone``); what already happened today is sent
at once, so the wallboard starts with the day so far, then every event is posted when it happens:
agents log in for their Erlang C shifts, queues build at the morning peak, surveys trickle in. The next
week follows with the next seed. Batches are signed with the tenant's secret for the generic source
(``--secret``, ``COACHLINE_SIM_SECRET``, or intake's own ``INTAKE_SOURCE_SECRETS``).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime, time
from zoneinfo import ZoneInfo

import httpx

from coachline.sim.centre import standard_centre
from coachline.sim.model import simulate
from coachline.sim.output import HttpSink, play

WEEK_DAYS = 7


async def wait_for(intake: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                if (await client.get(f"{intake}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1)


async def run(intake: str, tenant: str, agents: int, zone_name: str, seed: int, speed: float) -> None:
    await wait_for(intake)
    zone = ZoneInfo(zone_name)
    sink = HttpSink(intake.rstrip("/"), strict=False)
    start = datetime.combine(datetime.now(zone).date(), time.min, zone)
    print(f"traffic: a simulated centre of about {agents} agents for tenant {tenant!r} posting to {intake}", flush=True)
    try:
        while True:
            outcome = simulate(standard_centre(1, agents, zone_name, tenant), start, WEEK_DAYS, seed)
            await sink.send(outcome.roster)
            await play(outcome.events, sink, speed=speed, anchor_sim_ms=outcome.start_ms,
                       anchor_wall_ms=outcome.start_ms, batch_size=500)
            start, seed = datetime.fromtimestamp(outcome.end_ms / 1000, zone), seed + 1
    finally:
        await sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m coachline.traffic", description=__doc__.splitlines()[0])
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--agents", type=int, default=40, help="agents at the weekday peak")
    parser.add_argument("--time-zone", default="UTC")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per wall second once the day so far is sent")
    args = parser.parse_args()
    asyncio.run(run(args.intake, args.tenant, args.agents, args.time_zone, args.seed, args.speed))


if __name__ == "__main__":
    main()
