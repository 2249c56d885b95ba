"""CloudEvents 1.0 in Kafka binary mode: attributes travel as ``ce_*`` headers, the payload as JSON."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from coachline.contracts.registry import EVENT_TYPES, EventType

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
# Namespace for deterministic event ids, so a platform re-sending a webhook yields the same id.
_ID_NAMESPACE = uuid.UUID("7f1c2f8e-6a34-4c8e-9b7d-2f0e5c1a9d42")
_MAX_HEADER = 256


class EnvelopeError(ValueError):
    """A message that is not a valid Coachline CloudEvent; ``reason`` says why, for the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CloudEvent:
    """One event: CloudEvents attributes plus the validated payload model."""

    id: str
    source: str
    type: str
    tenant_id: str
    time: datetime
    subject: str | None
    data: BaseModel

    @property
    def event_type(self) -> EventType:
        return EVENT_TYPES[self.type]

    @property
    def topic(self) -> str:
        return self.event_type.topic

    @property
    def key(self) -> str:
        return self.event_type.key(self.tenant_id, self.data)

    def headers(self) -> dict[str, str]:
        """Kafka headers of binary content mode."""
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ce_tenantid": self.tenant_id,
            "content-type": CONTENT_TYPE,
        }
        if self.subject:
            headers["ce_subject"] = self.subject
        return headers

    def body(self) -> bytes:
        return self.data.model_dump_json(exclude_none=False).encode()


def new_event(
    type_name: str,
    tenant_id: str,
    data: BaseModel,
    *,
    source: str,
    event_id: str | None = None,
    subject: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Build an event of a registered type; ``event_id`` defaults to a random UUID."""
    et = EVENT_TYPES[type_name]
    if not isinstance(data, et.model):
        raise TypeError(f"{type_name} carries {et.model.__name__}, not {type(data).__name__}")
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=type_name,
        tenant_id=tenant_id,
        time=time or datetime.now(UTC),
        subject=subject,
        data=data,
    )


def deterministic_id(tenant_id: str, source: str, source_event_id: str, type_name: str) -> str:
    """Event id derived from (tenant, source, the source's own id, event type): re-sends get the same id."""
    digest = hashlib.sha256("\x1f".join((tenant_id, source, source_event_id, type_name)).encode()).hexdigest()
    return str(uuid.uuid5(_ID_NAMESPACE, digest))


def _text(headers: Mapping[str, bytes | str], name: str, *, required: bool = True) -> str | None:
    raw = headers.get(name)
    if raw is None:
        if required:
            raise EnvelopeError(f"missing header {name}")
        return None
    try:
        value = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise EnvelopeError(f"header {name} is not UTF-8") from None
    if not value or len(value) > _MAX_HEADER:
        raise EnvelopeError(f"header {name} is empty or longer than {_MAX_HEADER} characters")
    return value


def header_map(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes | str]) -> dict[str, bytes | str]:
    """Kafka headers as a dict (a repeated header keeps its last value)."""
    return dict(headers.items() if isinstance(headers, Mapping) else headers)


def decode(headers: Mapping[str, bytes | str], body: bytes, *, expected_topic: str | None = None) -> CloudEvent:
    """Parse and validate one Kafka message; raises :class:`EnvelopeError` with the reason."""
    if _text(headers, "ce_specversion") != SPEC_VERSION:
        raise EnvelopeError("ce_specversion is not 1.0")
    type_name = _text(headers, "ce_type")
    et = EVENT_TYPES.get(type_name or "")
    if et is None:
        raise EnvelopeError(f"unknown event type {type_name!r}")
    if expected_topic is not None and et.topic != expected_topic:
        raise EnvelopeError(f"event type {type_name} does not belong on {expected_topic}")
    time_text = _text(headers, "ce_time")
    try:
        time = datetime.fromisoformat(time_text or "")
    except ValueError:
        raise EnvelopeError("ce_time is not an RFC 3339 timestamp") from None
    if time.tzinfo is None:
        raise EnvelopeError("ce_time has no UTC offset")
    try:
        data = et.model.model_validate_json(body)
    except ValidationError as exc:
        raise EnvelopeError(f"payload does not match {type_name}: {validation_summary(exc)}") from None
    return CloudEvent(
        id=_text(headers, "ce_id") or "",
        source=_text(headers, "ce_source") or "",
        type=et.name,
        tenant_id=_text(headers, "ce_tenantid") or "",
        time=time,
        subject=_text(headers, "ce_subject", required=False),
        data=data,
    )


def validation_summary(exc: ValidationError, limit: int = 3) -> str:
    """A short, log-safe description of a validation error (no input values echoed)."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


