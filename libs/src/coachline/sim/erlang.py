"""Erlang C: the queueing model (M/M/N) workforce planners staff contact centres with.

Contacts arrive as a Poisson process, handle times are exponential, a contact waits in an unbounded
queue until one of ``agents`` servers is free. ``traffic`` is the offered load in Erlangs (arrival
rate x mean handle time, in the same time unit).
"""

from __future__ import annotations

import math


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a contact has to wait (all agents busy); 1.0 when the queue cannot keep up."""
    if traffic < 0 or agents < 0:
        raise ValueError("traffic and agents must not be negative")
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    # Erlang B by its recurrence, then the B-to-C identity: exact without factorials, so no overflow
    # at the thousands of agents a large centre staffs.
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(traffic: float, agents: int, handle_s: float, threshold_s: float) -> float:
    """Share of contacts answered within ``threshold_s``."""
    if agents <= traffic:
        return 0.0
    return 1 - erlang_c(traffic, agents) * math.exp(-(agents - traffic) * threshold_s / handle_s)


def average_speed_of_answer(traffic: float, agents: int, handle_s: float) -> float:
    """Mean queue wait over all contacts, in seconds; infinite when the queue cannot keep up."""
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic, agents) * handle_s / (agents - traffic)


def agents_needed(traffic: float, handle_s: float, threshold_s: float, target: float) -> int:
    """The fewest agents whose service level meets ``target`` (a share, e.g. 0.8)."""
    if not 0 < target < 1:
        raise ValueError("target must be a share between 0 and 1")
    agents = max(1, math.floor(traffic) + 1)
    while service_level(traffic, agents, handle_s, threshold_s) < target:
        agents += 1
    return agents
