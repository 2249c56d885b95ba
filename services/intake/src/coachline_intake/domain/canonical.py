"""The ``generic`` source: canonical events posted as CloudEvents 1.0 structured-mode JSON.

Each event names its type (one of the canonical ``cc.*`` types), the platform's own id for it, and the
tenant in the ``tenantid`` extension. Intake replaces the id with one derived from (tenant, source,
the platform's id, type), so a re-sent webhook becomes the same event and consumers drop it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from coachline.contracts.base import Identifier
from coachline.contracts.registry import EVENT_TYPES
from coachline.envelope import CloudEvent, deterministic_id, validation_summary

# Intake publishes what platforms report; evaluations, coaching and KPI events come from our own services.
INTAKE_TOPICS = frozenset({"cc.interactions.v1", "cc.agent-states.v1", "cc.surveys.v1"})
INTAKE_TYPES = frozenset(name for name, et in EVENT_TYPES.items() if et.topic in INTAKE_TOPICS)


class StructuredCloudEvent(BaseModel):
    """A CloudEvent in structured JSON mode, as platforms post it."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    type: Annotated[str, StringConstraints(max_length=100)]
    tenantid: Identifier
    time: AwareDatetime | None = None
    subject: Annotated[str, StringConstraints(max_length=256)] | None = None
    datacontenttype: Literal["application/json"] | None = None
    data: dict[str, Any] = Field(description="The payload of the canonical event type.")


class InvalidEvent(ValueError):
    """One posted event that cannot become a canonical event; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_canonical(raw: Any, source: str) -> CloudEvent:
    """Validate one posted event and turn it into the canonical event intake publishes."""
    try:
        posted = StructuredCloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEvent(f"not a CloudEvent: {validation_summary(exc)}") from None
    if posted.type not in INTAKE_TYPES:
        raise InvalidEvent(f"type {posted.type!r} is not accepted here; expected one of {sorted(INTAKE_TYPES)}")
    et = EVENT_TYPES[posted.type]
    try:
        data = et.model.model_validate(posted.data)
    except ValidationError as exc:
        raise InvalidEvent(f"data does not match {posted.type}: {validation_summary(exc)}") from None
    origin = f"{source}/{posted.source}"
    occurred_at = getattr(data, "occurred_at", None)
    return CloudEvent(
        id=deterministic_id(posted.tenantid, origin, posted.id, posted.type),
        source=f"coachline/intake/{source}",
        type=posted.type,
        tenant_id=posted.tenantid,
        time=posted.time or occurred_at or datetime.now(UTC),
        subject=posted.subject,
        data=data,
    )


def split_body(body: bytes, content_type: str) -> list[Any]:
    """The posted events: one JSON object, a JSON array, or NDJSON (one object per line)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent("body is not UTF-8") from None
    if media in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidEvent(f"line {number} is not JSON: {exc.msg}") from None
        return items
    if media in ("application/json", "application/cloudevents+json", "application/cloudevents-batch+json"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidEvent(f"body is not JSON: {exc.msg} at line {exc.lineno}") from None
        return parsed if isinstance(parsed, list) else [parsed]
    raise UnsupportedMedia(media)


class UnsupportedMedia(ValueError):
    """The body's media type is not one intake reads."""
