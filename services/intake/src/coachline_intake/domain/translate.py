"""From a request body to canonical events: split it into records, translate each, validate each event.

Everything here is pure, so the HTTP route, the Kafka raw-topic handler and ``coachline intake
translate`` give the same answer for the same input.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from pydantic_core import from_json

from coachline.contracts.registry import EVENT_TYPES
from coachline.envelope import CloudEvent, deterministic_id, validation_summary
from coachline_intake.domain.records import Context, Rejected
from coachline_intake.domain.sources import Adapter

log = logging.getLogger(__name__)
JSON_TYPES = frozenset({"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/ndjson", "application/json-seq"})
TEXT_TYPES = frozenset({"text/plain"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded"})
MAX_FORM_FIELDS = 200


class UnsupportedMedia(ValueError):
    """The body's media type is not one this source reads."""


class BodyRejected(ValueError):
    """The body as a whole cannot be read (not UTF-8, not JSON); ``field`` names what is at fault."""

    def __init__(self, reason: str, field: str = "body") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Record:
    """One line or element of a body: its 1-based position, its raw text and its parsed value."""

    line: int
    raw: str
    value: Any = None
    error: Rejected | None = None


@dataclass
class Outcome:
    """What became of one record: its events, or why it was rejected."""

    record: Record
    events: list[CloudEvent] = field(default_factory=list)
    rejection: Rejected | None = None


def media_of(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def split_body(body: bytes, content_type: str, adapter: Adapter) -> list[Record]:
    """The records of a body: a JSON object or array, NDJSON lines, text lines, or one form."""
    media = media_of(content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRejected(f"the body is not UTF-8 (byte {exc.start})") from None
    if media in TEXT_TYPES and "text" in adapter.shapes:
        return [Record(n, line, line) for n, line in _lines(text)]
    if media in FORM_TYPES and "form" in adapter.shapes:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                              max_num_fields=MAX_FORM_FIELDS)
        except ValueError:
            raise BodyRejected("the body is not a form") from None
        return [Record(1, text, dict(pairs))]
    if media in NDJSON_TYPES and "json" in adapter.shapes:
        return [_json_record(n, line) for n, line in _lines(text)]
    if media in JSON_TYPES and "json" in adapter.shapes:
        parsed = _json_record(1, text)
        if parsed.error is not None:
            raise BodyRejected(parsed.error.reason)
        if isinstance(parsed.value, list):
            return [Record(n, json.dumps(item, separators=(",", ":")), item)
                    for n, item in enumerate(parsed.value, start=1)]
        return [parsed]
    raise UnsupportedMedia(media or "no media type")


def record_of_message(value: bytes, adapter: Adapter) -> Record:
    """One Kafka message of a raw topic as a record: a queue_log line, or one JSON record."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(1, value.decode("utf-8", errors="replace"),
                      error=Rejected(f"the message is not UTF-8 (byte {exc.start})", "body"))
    if "text" in adapter.shapes:
        return Record(1, text, text.strip())
    return _json_record(1, text)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _json_record(line: int, text: str) -> Record:
    # pydantic-core's parser: several times faster than json's; its message names the position, never
    # the input, and nesting deeper than its limit (which no platform sends) is an error like any other.
    try:
        return Record(line, text, from_json(text))
    except ValueError as exc:
        return Record(line, text, error=Rejected(f"not JSON: {exc}", "body"))


def translate_record(adapter: Adapter, record: Record, context: Context) -> Outcome:
    """The events of one record, validated against the contracts, or the reason it has none."""
    if record.error is not None:
        return Outcome(record, rejection=record.error)
    try:
        drafts = adapter.translate(record.value, context)
        events = []
        for draft in drafts:
            et = EVENT_TYPES[draft.type]
            try:
                data = et.model.model_validate(draft.data)
            except ValidationError as exc:
                first = exc.errors()[0]["loc"] if exc.errors() else ()
                raise Rejected(f"{draft.type}: {validation_summary(exc)}",
                               ".".join(str(p) for p in first) or None) from None
            key_value = str(getattr(data, et.key_fields[0]))
            events.append(CloudEvent(
                id=deterministic_id(context.tenant_id, adapter.name, draft.source_id, draft.type),
                source=f"coachline/intake/{adapter.name}",
                type=draft.type,
                tenant_id=context.tenant_id,
                time=data.occurred_at,  # type: ignore[attr-defined]
                subject=key_value,
                data=data,
            ))
    except Rejected as exc:
        return Outcome(record, rejection=exc)
    except RecursionError:
        return Outcome(record, rejection=Rejected("the record is nested too deeply", "body"))
    except Exception as exc:
        # An adapter bug must not turn one hostile record into a 500, or into a raw-topic message that is
        # redelivered forever: the record is dead-lettered, and the log names the place, not the values.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        log.error("the %s adapter failed on line %d: %s at %s:%s", adapter.name, record.line,
                  type(exc).__name__, frame.filename.rsplit("/", 1)[-1], frame.lineno)
        return Outcome(record, rejection=Rejected(f"the {adapter.name} adapter could not read this record", None))
    return Outcome(record, events=events)
