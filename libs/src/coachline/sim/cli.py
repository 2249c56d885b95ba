"""``coachline sim``: run the simulated centre, write its ground truth, show its Erlang C staffing.

    coachline sim run --intake http://127.0.0.1:8001 --speed 60      # an hour per minute into intake
    coachline sim run --kafka 127.0.0.1:19092 --asap --days 7        # a week straight to Kafka
    coachline sim truth --seed 7 --start 2026-11-23 --out truth.json # the day's KPIs, no output at all
    coachline sim staffing --agents 40                               # agents needed per interval and team
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from coachline.sim.centre import INTERVALS_PER_DAY, standard_centre, team_requirement
from coachline.sim.model import Outcome, simulate
from coachline.sim.output import HttpSink, KafkaSink, Sink, ensure_topics, play
from coachline.sim.truth import Settings, ground_truth, write


def _centre_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenants", type=int, default=1, help="how many tenants (ids demo, demo-2, ...)")
    parser.add_argument("--tenant", default="demo", help="id of the first tenant")
    parser.add_argument("--agents", type=int, default=40, help="agents at the weekday peak, per tenant")
    parser.add_argument("--time-zone", default="UTC", help="the tenants' time zone (day windows, intraday profile)")
    parser.add_argument("--start", type=date.fromisoformat, default=None,
                        help="first local day (YYYY-MM-DD); default today")
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)


def _simulate(args: argparse.Namespace) -> Outcome:
    centre = standard_centre(args.tenants, args.agents, args.time_zone, args.tenant)
    zone = ZoneInfo(args.time_zone)
    day = args.start or datetime.now(zone).date()
    return simulate(centre, datetime.combine(day, time.min, zone), args.days, args.seed)


def _truth_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sl-threshold", type=int, default=20, help="service-level threshold, seconds")
    parser.add_argument("--min-sample", type=int, default=5)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(sl_threshold_s=args.sl_threshold, min_sample=args.min_sample)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coachline sim run", description="Send a simulated centre's events.")
    _centre_arguments(parser)
    _truth_arguments(parser)
    to = parser.add_mutually_exclusive_group(required=True)
    to.add_argument("--intake", help="intake's base URL: post NDJSON batches to the generic source")
    to.add_argument("--kafka", help="bootstrap servers: write canonical events straight to the topics")
    parser.add_argument("--topic-prefix", default="", help="with --kafka: put before every topic name")
    parser.add_argument("--secret", help="with --intake: the tenant's whsec_ secret for the generic source")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    pace.add_argument("--asap", action="store_true", help="as fast as the receiver takes them")
    parser.add_argument("--wall-clock", action="store_true",
                        help="events happen at their own time: what is already past is sent at once")
    parser.add_argument("--batch", type=int, default=500, help="events per request or producer batch")
    parser.add_argument("--truth", type=Path, help="also write this run's ground truth here")
    args = parser.parse_args(argv)
    outcome = _simulate(args)
    if args.truth:
        write(ground_truth(outcome, _settings(args)), args.truth)
    speed = None if args.asap else args.speed
    anchor = {"anchor_sim_ms": outcome.start_ms, "anchor_wall_ms": outcome.start_ms} if args.wall_clock else {}
    print(f"sim: {len(outcome.events)} events of {len(outcome.centre.tenants)} tenant(s) "
          f"from {outcome.start_ms} to {outcome.end_ms} (ms since epoch)", file=sys.stderr, flush=True)

    async def go() -> int:
        sink: Sink
        if args.kafka:
            topics = {e.topic for e in [*outcome.roster, *outcome.events]}
            await ensure_topics(args.kafka, args.topic_prefix, topics)
            kafka = KafkaSink(args.kafka, args.topic_prefix)
            await kafka.start()
            await kafka.send(outcome.roster)
            sink = kafka
        else:
            sink = HttpSink(args.intake.rstrip("/"), args.secret)
            await sink.send(outcome.roster)
        try:
            return await play(outcome.events, sink, speed=speed, batch_size=args.batch, **anchor)
        finally:
            await sink.close()

    sent = asyncio.run(go())
    print(f"sim: sent {sent} events", file=sys.stderr)
    return 0


def truth(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coachline sim truth", description="Write a simulated run's ground truth.")
    _centre_arguments(parser)
    _truth_arguments(parser)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write(ground_truth(_simulate(args), _settings(args)), args.out)
    return 0


def staffing(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coachline sim staffing",
                                     description="Agents each team needs per 15-minute interval (Erlang C).")
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--weekday", type=int, default=0, help="0 = Monday")
    args = parser.parse_args(argv)
    tenant = standard_centre(1, args.agents).tenants[0]
    print("interval " + " ".join(f"{t:>13}" for t in tenant.teams))
    for i in range(INTERVALS_PER_DAY):
        need = [team_requirement(tenant, t, i, args.weekday) for t in tenant.teams]
        if any(need):
            print(f"{i // 4:02d}:{i % 4 * 15:02d}    " + " ".join(f"{n:>13}" for n in need))
    return 0


COMMANDS = {"run": run, "truth": truth, "staffing": staffing}


def main(argv: list[str]) -> int:
    """Entry point of ``coachline sim <run|truth|staffing>``."""
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: coachline sim {{{','.join(COMMANDS)}}} ... (--help after one for its options)",
              file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])

