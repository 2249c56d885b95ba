"""``cc.mystery-shops.v1``: results of mystery-shopper contacts, scored by evaluation, outside normal KPIs."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, LongText, ShortText, Timestamp
from coachline.contracts.interactions import Channel

AnswerValue = bool | Annotated[Decimal, Field(ge=-1000, le=1000, max_digits=8, decimal_places=3)] | ShortText


class MysteryShopCompleted(Contract):
    """A mystery shopper finished a scenario and reported what happened."""

    visit_id: Identifier
    scenario_id: Identifier
    channel: Channel
    occurred_at: Timestamp
    interaction_id: Identifier | None = Field(default=None, description="The contact it became, if known.")
    agent_id: Identifier | None = None
    shopper_ref: Identifier | None = Field(default=None, description="Pseudonymous id of the shopper.")
    answers: dict[Identifier, AnswerValue] = Field(default_factory=dict, max_length=200)
    comment: LongText | None = None
    source_ref: ShortText | None = None
