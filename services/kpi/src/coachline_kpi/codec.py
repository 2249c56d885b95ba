"""How a scope's counters are stored: a few bytes per counter instead of a jsonb map of numerics.

A row of ``kpi_sums`` holds a dozen counters or so; as jsonb each costs its name and a numeric (about
30 bytes), here a one-byte code and a varint (two to five bytes). Format version 1:

- one byte, the version;
- per counter, in name order: the varint code of its name (``NAMES``; 0 means the name follows as a
  varint length and UTF-8 bytes), then the varint of ``zigzag(mantissa) * 8 + exponent``: the value
  is ``mantissa * 10**-exponent``, exact, with at most 7 decimals (inputs have 3, time in state 6).

``NAMES`` only ever grows at the end: stored rows refer to its positions.

The 15-minute windows of one scope and UTC day are stored together, in one row (most rows would
otherwise be quarter hours, each paying for its own key, row header and index entry). Format version
2: one byte, the version; per quarter hour with counters, in time order: its number in the day
(0-95), the length of its counters (two bytes, big-endian), and its counters as in version 1 without
the version byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

VERSION = 1
QUARTERS = 2
MAX_EXPONENT = 7

NAMES = (
    "offered", "answered", "abandoned", "short_abandoned", "abandoned_after_sl", "answered_in_sl",
    "answered_wait_s", "handled", "handle_time_s", "transferred", "sale_eligible", "sale_made", "sale_value",
    "fcr_known", "fcr_repeat", "csat_n", "csat_satisfied", "nps_n", "nps_promoters", "nps_detractors", "ces_n",
    "ces_sum", "fcr_survey_n", "fcr_survey_yes", "quality_n", "quality_sum", "mystery_n", "mystery_sum",
    "coaching_sessions", "coaching_due", "coaching_on_time", "goals_due", "goals_achieved",
    "handled.voice", "handled.chat", "handled.email", "handled.messaging",
    "handle_time_s.voice", "handle_time_s.chat", "handle_time_s.email", "handle_time_s.messaging",
    "state_s.available", "state_s.on_contact", "state_s.after_contact_work", "state_s.break", "state_s.other",
    "dim_n.engagement", "dim_n.knowledge", "dim_n.resolution", "dim_n.overall_satisfaction", "dim_n.ease",
    "dim_n.friendliness", "dim_sum.engagement", "dim_sum.knowledge", "dim_sum.resolution",
    "dim_sum.overall_satisfaction", "dim_sum.ease", "dim_sum.friendliness",
)
_CODES = {name: code for code, name in enumerate(NAMES, start=1)}


class CodecError(ValueError):
    """Bytes that are not stored counters, or a value the format cannot hold exactly."""


def _varint(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data):
            raise CodecError("stored counters end inside a number")
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, pos
        shift += 7


_POWERS = [10**e for e in range(MAX_EXPONENT + 1)]
_SMALL = [Decimal(n) for n in range(256)]


def _scaled(value: Decimal) -> tuple[int, int]:
    """``value`` as (mantissa, exponent) with no trailing zeros after the point."""
    try:
        numerator, denominator = value.as_integer_ratio()
    except (OverflowError, ValueError):
        raise CodecError(f"{value} is not a finite number") from None
    if denominator == 1:
        return numerator, 0
    # A decimal's reduced denominator divides a power of ten; the smallest such power gives the places.
    for exponent, power in enumerate(_POWERS):
        if power % denominator == 0:
            return numerator * (power // denominator), exponent
    raise CodecError(f"{value} has more than {MAX_EXPONENT} decimals")


def _check_format(data: bytes, version: int) -> None:
    if not data or data[0] != version:
        raise CodecError(f"stored sums of an unknown format (expected version {version})")


def encode(counters: Mapping[str, Decimal]) -> bytes:
    """Counters as stored; the same counters always give the same bytes."""
    out = bytearray((VERSION,))
    for name in sorted(counters):
        code = _CODES.get(name)
        if code is None:
            raw = name.encode()
            out.append(0)
            _varint(len(raw), out)
            out += raw
        else:
            _varint(code, out)
        mantissa, exponent = _scaled(counters[name])
        packed = (mantissa * 2 if mantissa >= 0 else -mantissa * 2 - 1) * 8 + exponent
        if packed < 0x80:
            out.append(packed)
        else:
            _varint(packed, out)
    return bytes(out)


def decode(data: bytes) -> dict[str, Decimal]:
    """Stored counters back as exact decimals."""
    _check_format(data, VERSION)
    out: dict[str, Decimal] = {}
    pos, size = 1, len(data)
    while pos < size:
        # One-byte varints (every name code, most values) are read in line: this runs per counter.
        code = data[pos]
        if code < 0x80:
            pos += 1
        else:
            code, pos = _read_varint(data, pos)
        if code == 0:
            length, pos = _read_varint(data, pos)
            name = data[pos:pos + length].decode()
            pos += length
        elif code <= len(NAMES):
            name = NAMES[code - 1]
        else:
            raise CodecError(f"unknown counter code {code}")
        if pos < size and data[pos] < 0x80:
            packed = data[pos]
            pos += 1
        else:
            packed, pos = _read_varint(data, pos)
        zigzag, exponent = packed >> 3, packed & 7
        mantissa = zigzag >> 1 if not zigzag & 1 else -((zigzag + 1) >> 1)
        if exponent:
            out[name] = Decimal(mantissa).scaleb(-exponent)
        else:
            out[name] = _SMALL[mantissa] if 0 <= mantissa < 256 else Decimal(mantissa)
    return out


def pack(quarters: Mapping[int, bytes]) -> bytes:
    """A day's quarter hours (number in the day: counters as :func:`encode` gives them) as one value."""
    out = bytearray((QUARTERS,))
    for quarter in sorted(quarters):
        body = quarters[quarter][1:]
        out.append(quarter)
        out += len(body).to_bytes(2, "big")
        out += body
    return bytes(out)


def unpack(data: bytes) -> dict[int, bytes]:
    """A day's quarter hours, each as :func:`decode` takes it; only the ones asked for need decoding."""
    _check_format(data, QUARTERS)
    out: dict[int, bytes] = {}
    pos = 1
    while pos < len(data):
        if pos + 3 > len(data):
            raise CodecError("stored quarter hours end inside a header")
        length = int.from_bytes(data[pos + 1:pos + 3], "big")
        out[data[pos]] = bytes((VERSION,)) + data[pos + 3:pos + 3 + length]
        pos += 3 + length
    return out
