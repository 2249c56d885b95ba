"""Agreement statistics and intervals against published reference values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_evaluation.domain.statistics import (
    icc_2_1,
    interpret_alpha,
    interpret_icc,
    krippendorff_alpha,
    mean_with_interval,
    t_quantile,
)

pytestmark = pytest.mark.unit

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 coders, 12 units, missing values.
CODERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
UNITS = [list(unit) for unit in zip(*CODERS, strict=True)]
# Shrout & Fleiss (1979), table 2: 6 targets rated by 4 judges; ICC(2,1) = 0.29.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_krippendorff_alpha_matches_the_published_nominal_and_interval_values() -> None:
    assert krippendorff_alpha(UNITS, "nominal") == pytest.approx(0.743, abs=0.0005)
    assert krippendorff_alpha(UNITS, "interval") == pytest.approx(0.849, abs=0.0005)


def test_krippendorff_alpha_of_a_hand_computed_two_rater_case() -> None:
    # Units (1,1), (2,3): pairable values 1,1,2,3 (n=4). D_o = (0+0 + 1+1)/4 = 0.5.
    # D_e = sum over ordered pairs of squared differences / (4*3) = 2*(0+1+4+1+4+1)/12 = 22/12.
    # alpha = 1 - 0.5 / (22/12) = 1 - 6/22 = 0.72727...
    assert krippendorff_alpha([[1, 1], [2, 3]]) == pytest.approx(1 - 6 / 22)


def test_alpha_is_one_for_perfect_agreement_and_undefined_without_variation() -> None:
    assert krippendorff_alpha([[1, 1, 1], [4, 4, 4], [2, 2, N]]) == pytest.approx(1.0)
    assert krippendorff_alpha([[3, 3], [3, 3]]) is None
    assert krippendorff_alpha([[3, N], [N, 4]]) is None


@given(st.lists(st.lists(st.integers(0, 10), min_size=2, max_size=5), min_size=2, max_size=12))
def test_alpha_never_exceeds_one_and_ignores_rater_order(units: list[list[int]]) -> None:
    alpha = krippendorff_alpha(units)
    if alpha is not None:
        assert alpha <= 1.0 + 1e-12
        assert krippendorff_alpha([list(reversed(u)) for u in units]) == pytest.approx(alpha)


def test_icc_2_1_matches_shrout_and_fleiss() -> None:
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.29, abs=0.005)
    assert icc_2_1([[1, 2]]) is None


def test_interpretations_follow_the_published_thresholds() -> None:
    assert [interpret_alpha(a) for a in (0.9, 0.7, 0.5, None)] == [
        "reliable", "tentative", "unreliable", "undefined (no variation to compare)"]
    assert [interpret_icc(i) for i in (0.3, 0.6, 0.8, 0.95)] == ["poor", "moderate", "good", "excellent"]


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (30, 2.042)])
def test_t_quantiles_match_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=0.0005)


def test_the_interval_of_three_scores_is_wide_and_of_one_score_absent() -> None:
    # mean 80, sd 10, n 3: 80 ± 4.303 * 10 / sqrt(3) = 80 ± 24.84 → high clipped at 100.
    estimate = mean_with_interval([70, 80, 90])
    assert estimate.mean == 80 and estimate.n == 3
    assert estimate.low == pytest.approx(80 - 4.3027 * 10 / math.sqrt(3), abs=0.01) and estimate.high == 100
    one = mean_with_interval([88])
    assert (one.mean, one.n, one.low, one.high) == (88, 1, None, None)
    assert mean_with_interval([]).mean is None


@given(st.lists(st.floats(0, 100), min_size=2, max_size=60))
def test_the_interval_holds_the_mean_and_narrows_with_more_of_the_same(scores: list[float]) -> None:
    estimate = mean_with_interval(scores)
    assert estimate.low is not None and estimate.high is not None and estimate.mean is not None
    assert 0 <= estimate.low <= estimate.mean + 1e-9 <= estimate.high + 2e-9 <= 100 + 2e-9
    doubled = mean_with_interval(scores * 2)
    assert doubled.high is not None and doubled.low is not None
    assert doubled.high - doubled.low <= estimate.high - estimate.low + 1e-9
