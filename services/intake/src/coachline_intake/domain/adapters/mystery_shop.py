"""``mystery-shop``: what a mystery shopper reports after a contact.

::

    {"visit_id": "ms-4", "scenario_id": "cancel-contract", "channel": "voice",
     "contacted_at": "2026-11-23T10:00:00Z", "interaction_id": "c-1009", "agent_id": "a-17",
     "shopper": "shopper-12", "answers": {"greeting": true, "offered-retention": "no"},
     "comment": "Polite, but no retention offer."}

Results travel on ``cc.mystery-shops.v1``: evaluation scores them, normal KPIs never see them.
The shopper's identifier is pseudonymised like a customer's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, ValidationError

from coachline.contracts.base import Identifier
from coachline.contracts.interactions import Channel
from coachline.envelope import validation_summary
from coachline_intake.domain.records import Context, Draft, Rejected, timestamp

ShopAnswer = StrictBool | Annotated[Decimal, Field(ge=-1000, le=1000, max_digits=8, decimal_places=3)] | Annotated[
    str, StringConstraints(max_length=200)]


class MysteryShopRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit_id: Identifier
    scenario_id: Identifier
    channel: Channel
    contacted_at: Annotated[str, StringConstraints(max_length=64)] | int
    interaction_id: Identifier | None = None
    agent_id: Identifier | None = None
    shopper: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    answers: dict[Identifier, ShopAnswer] = Field(default_factory=dict, max_length=200)
    comment: Annotated[str, StringConstraints(max_length=4000)] | None = None


def translate(record: Any, context: Context) -> list[Draft]:
    try:
        shop = MysteryShopRecord.model_validate(record)
    except ValidationError as exc:
        loc = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else None
        raise Rejected(f"not a mystery-shop result: {validation_summary(exc)}", loc) from None
    return [Draft("cc.mystery-shop.completed.v1", shop.visit_id, {
        "visit_id": shop.visit_id, "scenario_id": shop.scenario_id, "channel": shop.channel,
        "occurred_at": timestamp(shop.contacted_at, "contacted_at"), "interaction_id": shop.interaction_id,
        "agent_id": shop.agent_id, "shopper_ref": context.pseudonymise(shop.shopper) if shop.shopper else None,
        "answers": dict(shop.answers),
        "comment": context.scrub(shop.comment) if shop.comment else None, "source_ref": shop.visit_id})]
