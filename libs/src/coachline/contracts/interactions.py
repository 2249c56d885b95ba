"""``cc.interactions.v1``: what happens to a contact, from entering a queue to wrap-up.

The story of one contact: offered → answered (or abandoned) → held / resumed → transferred →
ended → wrapped up. A transferred contact is wrapped up once per agent who handled it, each with
that agent's own times, so handle-time figures count every agent's share.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, Money, Seconds, ShortText, Timestamp


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    MESSAGING = "messaging"


class _InteractionEvent(Contract):
    interaction_id: Identifier
    queue_id: Identifier
    channel: Channel
    occurred_at: Timestamp
    source_ref: ShortText | None = Field(
        default=None, description="The platform's own id of the record this came from, for tracing."
    )


class InteractionOffered(_InteractionEvent):
    """A contact entered a queue."""

    customer_ref: Identifier | None = Field(
        default=None, description="Pseudonymised customer identifier (never a phone number or e-mail)."
    )


class InteractionAnswered(_InteractionEvent):
    """An agent was connected to a queued contact."""

    agent_id: Identifier
    team_id: Identifier | None = None
    queue_wait_s: Seconds


class InteractionAbandoned(_InteractionEvent):
    """The customer left the queue before an agent answered."""

    queue_wait_s: Seconds


class InteractionHeld(_InteractionEvent):
    """The agent put the customer on hold."""

    agent_id: Identifier


class InteractionResumed(_InteractionEvent):
    """The agent took the customer off hold."""

    agent_id: Identifier
    hold_s: Seconds = Field(description="How long this hold lasted.")


class InteractionTransferred(_InteractionEvent):
    """The agent passed the contact to another queue or agent."""

    agent_id: Identifier
    team_id: Identifier | None = None
    to_queue_id: Identifier | None = None
    to_agent_id: Identifier | None = None


class InteractionEnded(_InteractionEvent):
    """The conversation with the customer ended (after-contact work may follow)."""

    agent_id: Identifier | None = None
    team_id: Identifier | None = None


class InteractionWrappedUp(_InteractionEvent):
    """An agent finished handling a contact, after-contact work included, with its outcome."""

    agent_id: Identifier
    team_id: Identifier | None = None
    talk_s: Seconds
    hold_s: Seconds = Decimal(0)
    after_contact_work_s: Seconds = Decimal(0)
    transferred: bool = False
    disposition: ShortText | None = None
    resolved: bool | None = Field(default=None, description="The agent's view: was the customer's need resolved?")
    sale_eligible: bool = False
    sale_made: bool = False
    sale_value: Money | None = None
    customer_ref: Identifier | None = Field(
        default=None, description="Pseudonymised customer identifier, for repeat-contact (FCR) figures."
    )
