"""What every adapter shares: drafts of canonical events, rejections with a reason, and safe readers.

Adapters read untrusted input, so every reader here checks the type it expects and raises
:class:`Rejected` naming the field, instead of letting a ``KeyError`` or ``TypeError`` escape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_SLUG = 128
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9._:@/+-]+")


@dataclass(frozen=True)
class Draft:
    """A canonical event before intake validates it, gives it an id and publishes it.

    ``source_id`` is the platform's own id of what happened (unique per event type within a source):
    the event id is derived from it, so a re-sent record yields the same event.
    """

    type: str
    source_id: str
    data: dict[str, Any]


class Rejected(ValueError):
    """Input that cannot become canonical events; ``reason`` is safe to show and log (no input values)."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Context:
    """What a translation needs besides the record: whose it is and how to pseudonymise customers."""

    tenant_id: str
    pseudonymise: Callable[[str], str]
    scrub: Callable[[str], str] = field(default=lambda text: text)
    survey_dimensions: frozenset[str] = frozenset(
        {"engagement", "knowledge", "resolution", "overall_satisfaction", "ease", "friendliness"})


def mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Rejected(f"{name} must be an object", name)
    return value


def text(record: Mapping[str, Any], key: str, name: str | None = None, *, required: bool = True) -> str | None:
    """A non-empty string field (numbers are read as their text, as platforms mix them)."""
    label = name or key
    value = record.get(key)
    if value is None or value == "":
        if required:
            raise Rejected(f"{label} is missing", label)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected(f"{label} must be a string", label)
    return str(value)


def required_text(record: Mapping[str, Any], key: str, name: str | None = None) -> str:
    value = text(record, key, name)
    assert value is not None
    return value


def slug(value: str | None, name: str) -> str:
    """A platform name or id as a canonical identifier: characters an identifier cannot hold become ``-``."""
    if value is None:
        raise Rejected(f"{name} is missing", name)
    cleaned = _NOT_IDENTIFIER.sub("-", value.strip()).strip("-._:@/+")[:MAX_SLUG]
    if not cleaned:
        raise Rejected(f"{name} has no usable characters", name)
    return cleaned


def timestamp(value: Any, name: str) -> str:
    """An RFC 3339 string or epoch seconds as a UTC RFC 3339 string."""
    if isinstance(value, bool) or value is None:
        raise Rejected(f"{name} must be a timestamp", name)
    try:
        if isinstance(value, int | float | Decimal) or (isinstance(value, str) and value.replace(".", "", 1).isdigit()):
            moment = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str) and len(value) <= 64:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            raise ValueError(name)
    except (ValueError, OverflowError, OSError):
        raise Rejected(f"{name} is not a timestamp", name) from None
    if moment.tzinfo is None:
        raise Rejected(f"{name} has no UTC offset", name)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seconds(value: Any, name: str, *, scale: int = 1) -> str:
    """A non-negative duration (``scale`` 1000 for milliseconds) as a decimal string of seconds."""
    if isinstance(value, bool) or value is None:
        raise Rejected(f"{name} must be a number", name)
    try:
        number = Decimal(str(value)) / scale
    except (InvalidOperation, ValueError):
        raise Rejected(f"{name} must be a number", name) from None
    if not number.is_finite() or number < 0 or number > 31_536_000:
        raise Rejected(f"{name} must be between 0 and one year", name)
    return str(number.quantize(Decimal("0.001")))


def between(start: str, end: str, name: str) -> str:
    """Seconds from ``start`` to ``end`` (both RFC 3339), never negative."""
    return seconds(max((moment(end) - moment(start)).total_seconds(), 0.0), name)


def flag(value: Any, name: str) -> bool | None:
    """A yes/no answer as platforms write it: booleans, ``yes``/``no``, ``true``/``false``, ``1``/``0``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | str):
        lowered = str(value).strip().lower()
        if lowered in ("yes", "y", "true", "1"):
            return True
        if lowered in ("no", "n", "false", "0"):
            return False
    raise Rejected(f"{name} must be yes or no", name)
