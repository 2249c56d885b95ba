"""What every part of the coaching domain shares: bounded input types and the lifecycle error."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints


class IllegalTransition(Exception):
    """The thing is not in a state that allows this step (a closed period, a session already held)."""

    def __init__(self, what: str, status: str, step: str) -> None:
        super().__init__(f"{what} is {status}; it cannot be {step}")
        self.status = status


def _not_a_number(value: Any) -> Any:
    # JSON numbers would otherwise be read as Unix timestamps: "held_at": 0 is a typo, not 1970.
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 text, not a number")
    return value


NotANumber = BeforeValidator(_not_a_number)
Day = Annotated[date, NotANumber]
# PostgreSQL text cannot hold NUL; refusing it here keeps it a 422 rather than a failed insert.
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=r"^[^\x00]*\S[^\x00]*$")]
