"""The stored form of counters: exact, canonical, and a day's quarter hours in one value."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_kpi import codec
from coachline_kpi.repository import stored_as, unpacked

NAMES = st.one_of(st.sampled_from(codec.NAMES), st.text(min_size=1, max_size=30))
VALUES = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(-10**15, 10**15), st.integers(0, 7))
COUNTERS = st.dictionaries(NAMES, VALUES, max_size=25)


@given(COUNTERS)
def test_counters_come_back_exactly(counters: dict[str, Decimal]) -> None:
    assert codec.decode(codec.encode(counters)) == counters


@given(COUNTERS)
def test_equal_counters_give_equal_bytes(counters: dict[str, Decimal]) -> None:
    # Trailing zeros and insertion order do not show: a rebuild's rows compare byte for byte.
    widened = {name: value.quantize(Decimal("0.0000001")) for name, value in reversed(counters.items())}
    assert codec.encode(widened) == codec.encode(counters)


@given(st.dictionaries(st.integers(0, 95), COUNTERS, max_size=96))
def test_a_day_of_quarter_hours_comes_back(quarters: dict[int, dict[str, Decimal]]) -> None:
    packed = codec.pack({q: codec.encode(c) for q, c in quarters.items()})
    assert {q: codec.decode(c) for q, c in codec.unpack(packed).items()} == quarters


def test_known_names_cost_a_byte_and_values_what_they_need() -> None:
    stored = codec.encode({"handled": Decimal(4), "handle_time_s": Decimal("818.598"), "dim_n.taste": Decimal(1)})
    assert len(stored) == 1 + (1 + 1) + (1 + 4) + (1 + 1 + len("dim_n.taste") + 1)
    assert [str(v) for v in codec.decode(stored).values()] == ["1", "818.598", "4"]


@pytest.mark.parametrize("value", [Decimal("0.00000001"), Decimal("NaN"), Decimal("Infinity")])
def test_values_the_format_cannot_hold_exactly_are_refused(value: Decimal) -> None:
    with pytest.raises(codec.CodecError):
        codec.encode({"handled": value})


def test_bytes_of_another_format_are_refused() -> None:
    with pytest.raises(codec.CodecError):
        codec.decode(codec.pack({}))
    with pytest.raises(codec.CodecError):
        codec.unpack(codec.encode({}))


def test_a_quarter_hour_is_stored_in_its_day_row() -> None:
    assert stored_as(("queue", "billing", "15m:2026-11-23T09:15")) == (("queue", "billing", "15m:2026-11-23"), 37)
    assert stored_as(("queue", "billing", "day:2026-11-23")) == (("queue", "billing", "day:2026-11-23"), None)
    row = {"tenant_id": "acme", "scope": "queue", "scope_id": "billing", "window_key": "15m:2026-11-23",
           "sums": codec.pack({0: codec.encode({"offered": Decimal(2)}), 95: codec.encode({"offered": Decimal(1)})})}
    assert unpacked([row]) == {("acme", "queue", "billing", "15m:2026-11-23T00:00"): {"offered": 2},
                               ("acme", "queue", "billing", "15m:2026-11-23T23:45"): {"offered": 1}}
