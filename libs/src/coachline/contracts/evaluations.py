"""``qa.evaluations.v1``: quality evaluations of interactions."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, Timestamp

Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=2)]


class EvaluationSubmitted(Contract):
    """An evaluator submitted a scored evaluation of an interaction."""

    evaluation_id: Identifier
    interaction_id: Identifier
    agent_id: Identifier
    evaluator_id: Identifier
    scorecard_id: Identifier
    scorecard_version: Annotated[int, Field(ge=1)]
    score: Percent
    critical_failed: bool = False
    submitted_at: Timestamp
