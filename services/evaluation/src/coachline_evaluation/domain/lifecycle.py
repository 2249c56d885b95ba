"""The evaluation lifecycle as a state machine: which action is legal in which state.

assigned → in_progress → submitted → released → acknowledged → closed
                                             ↘ disputed → resolved → closed

Submitting straight from ``assigned`` is allowed (the evaluator scored it in one sitting). A
calibration or self-evaluation is never released to anyone: it stops at ``submitted``.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    RELEASED = "released"
    ACKNOWLEDGED = "acknowledged"
    DISPUTED = "disputed"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Action(StrEnum):
    START = "start"
    SUBMIT = "submit"
    RELEASE = "release"
    ACKNOWLEDGE = "acknowledge"
    DISPUTE = "dispute"
    RESOLVE = "resolve"
    CLOSE = "close"


TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.ASSIGNED, Action.START): State.IN_PROGRESS,
    (State.ASSIGNED, Action.SUBMIT): State.SUBMITTED,
    (State.IN_PROGRESS, Action.SUBMIT): State.SUBMITTED,
    (State.SUBMITTED, Action.RELEASE): State.RELEASED,
    (State.RELEASED, Action.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.RELEASED, Action.DISPUTE): State.DISPUTED,
    (State.DISPUTED, Action.RESOLVE): State.RESOLVED,
    (State.ACKNOWLEDGED, Action.CLOSE): State.CLOSED,
    (State.RESOLVED, Action.CLOSE): State.CLOSED,
}

# States in which the agent may see the evaluation.
VISIBLE_TO_AGENT = frozenset({State.RELEASED, State.ACKNOWLEDGED, State.DISPUTED, State.RESOLVED, State.CLOSED})
# States that carry a score.
SCORED = VISIBLE_TO_AGENT | {State.SUBMITTED}


class IllegalTransition(Exception):
    """The action is not allowed in the evaluation's current state (HTTP 409)."""

    def __init__(self, state: State, action: Action) -> None:
        super().__init__(f"cannot {action.value} an evaluation that is {state.value}")
        self.state = state
        self.action = action


def next_state(state: State, action: Action) -> State:
    """The state ``action`` leads to from ``state``; raises :class:`IllegalTransition`."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None
