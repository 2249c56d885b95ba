"""Replay refusal: which webhook ids are remembered, for how long, and how memory stays bounded."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachline_intake.domain.replay import AlreadyTaken, InProgress, ReplayGuard, WindowFull

pytestmark = pytest.mark.unit

T0 = 1_795_424_400


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


def guard(per_tenant: int = 100) -> tuple[ReplayGuard, Clock]:
    clock = Clock()
    return ReplayGuard(300, per_tenant, clock=clock), clock


def take(replays: ReplayGuard, webhook_id: str, sent_at: int, tenant: str = "acme") -> None:
    """A request that was claimed and taken."""
    replays.claim(tenant, "generic", webhook_id, sent_at)
    replays.settle(tenant, "generic", webhook_id, sent_at)


def test_a_taken_id_is_refused_until_its_timestamp_leaves_the_tolerance() -> None:
    replays, clock = guard()
    take(replays, "msg-1", T0)
    clock.now = T0 + 299
    with pytest.raises(AlreadyTaken):
        replays.claim("acme", "generic", "msg-1", T0)
    clock.now = T0 + 301  # the signature check refuses a replay from here on; the id is forgotten
    replays.claim("acme", "generic", "msg-1", T0 + 301)
    assert replays.remembered("acme") == 0


def test_ids_are_per_tenant_and_source() -> None:
    replays, _ = guard()
    take(replays, "msg-1", T0)
    replays.claim("acme", "asterisk", "msg-1", T0)
    replays.claim("globex", "generic", "msg-1", T0)


def test_a_request_being_taken_makes_a_copy_wait_and_a_failed_one_may_come_again() -> None:
    replays, _ = guard()
    replays.claim("acme", "generic", "msg-1", T0)
    with pytest.raises(InProgress):
        replays.claim("acme", "generic", "msg-1", T0)
    replays.release("acme", "generic", "msg-1")  # e.g. Kafka did not acknowledge: 503
    replays.claim("acme", "generic", "msg-1", T0)


def test_a_retry_with_a_later_timestamp_keeps_the_id_for_its_own_tolerance() -> None:
    replays, clock = guard()
    take(replays, "msg-1", T0)
    clock.now = T0 + 200
    with pytest.raises(AlreadyTaken):
        replays.claim("acme", "generic", "msg-1", T0 + 200)
    clock.now = T0 + 450
    with pytest.raises(AlreadyTaken):
        replays.claim("acme", "generic", "msg-1", T0 + 200)


def test_a_tenant_at_its_limit_waits_until_its_oldest_id_expires_and_others_are_unaffected() -> None:
    replays, clock = guard(per_tenant=3)
    for i in range(3):
        clock.now = T0 + i * 10
        take(replays, f"msg-{i}", T0 + i * 10)
    with pytest.raises(WindowFull) as full:
        replays.claim("acme", "generic", "msg-9", T0 + 20)
    assert full.value.retry_after_s == 280
    replays.claim("globex", "generic", "msg-9", T0 + 20)
    clock.now = T0 + 301
    replays.claim("acme", "generic", "msg-9", T0 + 301)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 400), st.booleans()), max_size=60))
def test_memory_never_exceeds_the_limit_and_nothing_outlives_its_tolerance(
        steps: list[tuple[int, int, bool]]) -> None:
    replays, clock = guard(per_tenant=4)
    now = T0
    for ident, advance, succeed in steps:
        now += advance // 10
        clock.now = now
        try:
            replays.claim("acme", "generic", f"msg-{ident}", now)
        except (AlreadyTaken, WindowFull):
            continue
        if succeed:
            replays.settle("acme", "generic", f"msg-{ident}", now)
        else:
            replays.release("acme", "generic", f"msg-{ident}")
        assert replays.remembered("acme") <= 4
    clock.now = now + 301
    assert replays.remembered("acme") == 0
