"""Building blocks every event payload uses: strict models and bounded field types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# Identifiers come from outside systems; bounding them keeps a hostile payload from
# growing keys, headers and index entries without limit.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$")
]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=4000)]
# Durations in seconds, exact to the millisecond; decimals so sums never drift.
Seconds = Annotated[Decimal, Field(ge=0, le=Decimal("31536000"), max_digits=12, decimal_places=3)]
Timestamp = AwareDatetime
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=14, decimal_places=2)]


def _known_time_zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_time_zone)]


class Contract(BaseModel):
    """Base of every event payload: unknown fields are rejected, values are never coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def utc(ts: datetime) -> datetime:
    """Return ``ts`` (which must be timezone-aware) converted to UTC."""
    from datetime import UTC

    return ts.astimezone(UTC)
