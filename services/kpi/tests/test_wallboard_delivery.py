"""Pacing and resuming of a wallboard stream, as pure functions of explicit times."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_kpi.wallboard.delivery import (
    RESUME_OVERLAP_US,
    Coalescer,
    advance,
    changed_since,
    event_id,
    micros,
    resume_cursor,
)

pytestmark = pytest.mark.unit

scopes = st.sampled_from(["queue:billing", "queue:sales", "team:north", "tenant:acme"])
# Changes arrive at increasing times: (gap before the change in seconds, which scopes changed).
bursts = st.lists(st.tuples(st.floats(min_value=0, max_value=3, allow_nan=False), st.sets(scopes, min_size=1)),
                  min_size=1, max_size=60)


def run(changes: list[tuple[float, set[str]]], interval: float = 1.0) -> tuple[dict[str, list[float]], float]:
    """Drive a coalescer as the stream does: offer, release what is due, sleep until the next due time."""
    coalescer: Coalescer[str] = Coalescer(interval)
    sent: dict[str, list[float]] = {}
    now = 0.0

    def release() -> None:
        for key in coalescer.release(now):
            sent.setdefault(key, []).append(now)

    for gap, keys in changes:
        # Whatever fell due during the gap goes out at its due time, as the stream's timed wait does.
        while (wait := coalescer.wait(now)) is not None and wait <= gap:
            now += wait
            gap -= wait
            release()
        now += gap
        coalescer.offer(keys)
        release()
    while (wait := coalescer.wait(now)) is not None:
        now += wait
        release()
    return sent, now


@given(bursts)
def test_each_scope_is_sent_at_most_once_per_second(changes: list[tuple[float, set[str]]]) -> None:
    sent, _ = run(changes)
    for times in sent.values():
        assert all(b - a >= 1.0 - 1e-6 for a, b in itertools.pairwise(times))


@given(bursts)
def test_no_change_is_lost_and_none_is_invented(changes: list[tuple[float, set[str]]]) -> None:
    sent, _ = run(changes)
    changed = set().union(*(keys for _, keys in changes))
    assert set(sent) == changed
    # The last change of every scope is followed by an update at or after it: the board ends up current.
    at = 0.0
    last_change: dict[str, float] = {}
    for gap, keys in changes:
        at += gap
        for key in keys:
            last_change[key] = at
    for key, when in last_change.items():
        assert max(sent[key]) >= when - 1e-9
        assert max(sent[key]) - when <= 1.0 + 1e-9


@given(bursts)
def test_a_change_waits_at_most_one_interval(changes: list[tuple[float, set[str]]]) -> None:
    coalescer: Coalescer[str] = Coalescer(1.0)
    now = 0.0
    for gap, keys in changes:
        now += gap
        coalescer.offer(keys)
        wait = coalescer.wait(now)
        assert wait is not None and 0 <= wait <= 1.0 + 1e-9
        coalescer.release(now + wait)
        now += wait


def test_a_quiet_scope_goes_out_at_once_and_a_busy_one_is_held_back() -> None:
    coalescer: Coalescer[str] = Coalescer(1.0)
    coalescer.offer({"queue:billing"})
    assert coalescer.release(10.0) == {"queue:billing"}
    coalescer.offer({"queue:billing"})
    assert coalescer.release(10.4) == set()
    assert coalescer.wait(10.4) == pytest.approx(0.6)
    coalescer.offer({"queue:billing", "team:north"})
    assert coalescer.release(10.5) == {"team:north"}
    assert coalescer.release(11.0) == {"queue:billing"}
    assert coalescer.wait(11.0) is None


moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(moments)
def test_event_ids_round_trip_to_the_cursor(at: datetime) -> None:
    assert resume_cursor(event_id(micros(at))) == micros(at)


@given(st.one_of(st.none(), st.text(max_size=40).filter(lambda s: not s.isascii() or not s.isdigit() or len(s) > 19)))
def test_a_last_event_id_that_is_not_ours_means_start_over(text: str | None) -> None:
    assert resume_cursor(text) is None


@given(st.lists(st.tuples(scopes, moments | st.none()), max_size=20), moments)
def test_resume_sends_exactly_what_changed_since_the_cursor_with_overlap(
    updated: list[tuple[str, datetime | None]], seen: datetime,
) -> None:
    cursor = micros(seen)
    again = changed_since(updated, cursor)
    for key, at in updated:
        if at is not None and micros(at) > cursor:
            assert key in again  # every change after the cursor
    for key in again:
        assert any(k == key and at is not None and micros(at) > cursor - RESUME_OVERLAP_US for k, at in updated)
    assert changed_since(updated, None) == {key for key, _ in updated}


@given(st.lists(moments | st.none(), max_size=10), st.none() | st.integers(min_value=0, max_value=2**62))
def test_the_cursor_never_moves_backwards(sent: list[datetime | None], cursor: int | None) -> None:
    after = advance(cursor, sent)
    if cursor is not None:
        assert after is not None and after >= cursor
    stamps = [micros(s) for s in sent if s is not None]
    if stamps:
        assert after is not None and after >= max(stamps)
    elif cursor is None:
        assert after is None


def test_a_transaction_that_committed_late_is_still_resent() -> None:
    seen = datetime(2026, 11, 23, 9, 0, 5, tzinfo=UTC)
    late = seen - timedelta(seconds=3)  # started before, committed after the browser's last event
    assert changed_since([("queue:billing", late), ("team:north", seen - timedelta(hours=1))], micros(seen)) == {
        "queue:billing"}
