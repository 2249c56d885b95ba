"""``cc.interactions.v1``: what happens to a contact, from entering a queue to wrap-up."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, Seconds, Timestamp


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    MESSAGING = "messaging"


class InteractionOffered(Contract):
    """A contact entered a queue."""

    interaction_id: Identifier
    queue_id: Identifier
    channel: Channel
    occurred_at: Timestamp
    customer_ref: Identifier | None = Field(
        default=None, description="Pseudonymised customer identifier (never a phone number or e-mail)."
    )


class InteractionAnswered(Contract):
    """An agent was connected to a queued contact."""

    interaction_id: Identifier
    queue_id: Identifier
    channel: Channel
    agent_id: Identifier
    team_id: Identifier | None = None
    occurred_at: Timestamp
    queue_wait_s: Seconds


class InteractionAbandoned(Contract):
    """The customer left the queue before an agent answered."""

    interaction_id: Identifier
    queue_id: Identifier
    channel: Channel
    occurred_at: Timestamp
    queue_wait_s: Seconds


class InteractionCompleted(Contract):
    """An agent finished handling a contact, after-contact work included."""

    interaction_id: Identifier
    queue_id: Identifier
    channel: Channel
    agent_id: Identifier
    team_id: Identifier | None = None
    occurred_at: Timestamp
    talk_s: Seconds
    hold_s: Seconds = Decimal(0)
    after_contact_work_s: Seconds = Decimal(0)
    transferred: bool = False
