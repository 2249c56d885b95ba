"""Pacing: events leave in time order, never before their simulated moment has come."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from coachline.sim import SimEvent, simulate, standard_centre
from coachline.sim.output import play, request_headers, secret_for

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self, speed: float, anchor_sim: int, anchor_wall: int) -> None:
        self.speed, self.anchor_sim, self.anchor_wall = speed, anchor_sim, anchor_wall
        self.batches: list[list[SimEvent]] = []
        self.early: list[SimEvent] = []

    async def send(self, events: Sequence[SimEvent]) -> None:
        now_sim = self.anchor_sim + (time.time() * 1000 - self.anchor_wall) * self.speed
        self.early += [e for e in events if e.at_ms > now_sim]
        self.batches.append(list(events))

    async def close(self) -> None:
        return None


async def test_scaled_time_sends_everything_in_order_and_nothing_early() -> None:
    out = simulate(standard_centre(agents=4), datetime(2026, 11, 23, 9, tzinfo=UTC), 1 / 48, 3)
    events = out.events[:300]
    span_s = (events[-1].at_ms - events[0].at_ms) / 1000
    speed = span_s / 1.5  # the slice plays in about a second and a half
    wall = int(time.time() * 1000)
    sink = Recorder(speed, events[0].at_ms, wall)
    assert await play(events, sink, speed=speed, batch_size=40, anchor_sim_ms=events[0].at_ms,
                      anchor_wall_ms=wall, tick_s=0.05) == len(events)
    sent = [e for batch in sink.batches for e in batch]
    assert sent == events
    assert sink.early == []
    assert all(len(b) <= 40 for b in sink.batches)
    assert len(sink.batches) > len(events) // 40, "paced sending should spread the events over several batches"


async def test_the_past_is_sent_at_once_on_the_wall_clock() -> None:
    out = simulate(standard_centre(agents=4), datetime(2026, 1, 5, 9, tzinfo=UTC), 1 / 24, 3)
    sink = Recorder(1.0, out.start_ms, out.start_ms)
    await play(out.events, sink, speed=1.0, anchor_sim_ms=out.start_ms, anchor_wall_ms=out.start_ms)
    assert [e for b in sink.batches for e in b] == out.events


def test_batches_carry_the_tenant_and_a_signature_when_there_is_a_secret(monkeypatch) -> None:
    from coachline.signing import new_secret, verify

    secret = new_secret()
    headers = request_headers("acme", b"{}\n", secret)
    assert headers["coachline-tenant"] == "acme"
    assert verify(secret, headers, b"{}\n")
    assert "webhook-signature" not in request_headers("acme", b"{}\n", None)
    monkeypatch.delenv("COACHLINE_SIM_SECRET", raising=False)
    monkeypatch.setenv("INTAKE_SOURCE_SECRETS", f'{{"acme": {{"generic": ["{secret}"]}}}}')
    assert secret_for("acme") == secret
    assert secret_for("other") is None
