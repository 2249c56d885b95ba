"""Erlang C against published worked examples, and against the textbook factorial form."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline.sim.erlang import agents_needed, average_speed_of_answer, erlang_c, service_level

pytestmark = pytest.mark.unit


def test_call_centre_helper_worked_example() -> None:
    # Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example": 100 calls in
    # 30 minutes, 180 s average handle time, 80 % answered in 20 s. Traffic 10 Erlangs; with 11 agents
    # the probability of waiting is 68.21 % and 39.0 % are answered within 20 s; 14 agents are needed.
    traffic = 100 / 1800 * 180
    assert traffic == pytest.approx(10)
    assert erlang_c(traffic, 11) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(traffic, 11, 180, 20) == pytest.approx(0.390, abs=5e-4)
    assert agents_needed(traffic, 180, 20, 0.80) == 14


def test_westbay_engineers_worked_example() -> None:
    # Westbay Engineers, "The Erlang-C formula" (step-by-step example): 360 calls per half hour, 4-minute
    # calls, 55 agents, 15 s target answer time; traffic 48 Erlangs, occupancy 87.3 %. The waiting
    # probability (23.9 %), ASA (8.2 s) and service level (84.6 % within 15 s) are the formula's values
    # for those inputs, to the precision that page works to.
    traffic = 360 / 30 * 4
    assert traffic == 48
    assert traffic / 55 == pytest.approx(0.873, abs=5e-4)
    assert erlang_c(traffic, 55) == pytest.approx(0.239, abs=5e-4)
    assert average_speed_of_answer(traffic, 55, 240) == pytest.approx(8.2, abs=0.05)
    assert service_level(traffic, 55, 240, 15) == pytest.approx(0.846, abs=5e-4)


def factorial_form(traffic: float, agents: int) -> float:
    """Erlang C as textbooks print it, to check the recurrence used for large centres."""
    top = traffic ** agents / math.factorial(agents) * agents / (agents - traffic)
    return top / (sum(traffic ** k / math.factorial(k) for k in range(agents)) + top)


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0.05, max_value=0.98))
def test_recurrence_equals_the_factorial_form(agents: int, load: float) -> None:
    traffic = agents * load
    assert erlang_c(traffic, agents) == pytest.approx(factorial_form(traffic, agents), rel=1e-9)


@given(st.floats(min_value=0.1, max_value=3000), st.floats(min_value=10, max_value=900),
       st.floats(min_value=1, max_value=120), st.floats(min_value=0.5, max_value=0.99))
def test_staffing_is_the_fewest_agents_meeting_the_target(traffic: float, handle: float, threshold: float,
                                                          target: float) -> None:
    n = agents_needed(traffic, handle, threshold, target)
    assert n > traffic
    assert service_level(traffic, n, handle, threshold) >= target
    assert n - 1 <= traffic or service_level(traffic, n - 1, handle, threshold) < target


@given(st.floats(min_value=0.1, max_value=500), st.integers(min_value=1, max_value=700))
def test_more_agents_never_wait_longer(traffic: float, agents: int) -> None:
    wait, more = erlang_c(traffic, agents), erlang_c(traffic, agents + 1)
    assert 0 <= more <= wait <= 1
    assert service_level(traffic, agents + 1, 300, 20) >= service_level(traffic, agents, 300, 20)


def test_an_overloaded_queue_always_waits() -> None:
    assert erlang_c(10, 10) == 1.0
    assert average_speed_of_answer(10, 9, 180) == math.inf
    with pytest.raises(ValueError):
        agents_needed(5, 180, 20, 1.0)
