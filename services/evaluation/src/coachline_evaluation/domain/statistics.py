"""Agreement and uncertainty: Krippendorff's alpha, ICC(2,1), and the confidence interval of a mean score.

Pure functions on floats; no third-party numerics, so the formulas stay visible and testable.

- Krippendorff's alpha (Krippendorff, *Computing Krippendorff's Alpha-Reliability*, 2011):
  ``alpha = 1 - D_o / D_e`` from the coincidence of pairable values. ``units`` are rows of one value
  per rater (``None`` where a rater gave none); units with fewer than two values are not pairable.
  ``level`` is ``"interval"`` (squared difference) or ``"nominal"`` (0 if equal, else 1).
- ICC(2,1) (Shrout & Fleiss 1979): two-way random effects, absolute agreement, single rater, on a
  complete subjects x raters matrix.
- The mean's 95% interval uses Student's t with ``n - 1`` degrees of freedom; with one score there is
  no interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Level = Literal["interval", "nominal"]


def _delta(a: float, b: float, level: Level) -> float:
    if level == "nominal":
        return 0.0 if a == b else 1.0
    return (a - b) ** 2


def krippendorff_alpha(units: Sequence[Sequence[float | None]], level: Level = "interval") -> float | None:
    """Alpha over ``units`` (rows of rater values); ``None`` when no pair or no variation makes it defined."""
    pairable = [[v for v in unit if v is not None] for unit in units]
    pairable = [values for values in pairable if len(values) >= 2]
    n = sum(len(values) for values in pairable)
    if n < 2:
        return None
    observed = 0.0
    for values in pairable:
        m = len(values)
        within = sum(_delta(a, b, level) for i, a in enumerate(values) for j, b in enumerate(values) if i != j)
        observed += within / (m - 1)
    observed /= n
    everything = [v for values in pairable for v in values]
    expected = sum(_delta(a, b, level) for i, a in enumerate(everything) for j, b in enumerate(everything) if i != j)
    expected /= n * (n - 1)
    if expected == 0:
        return None
    return 1.0 - observed / expected


def icc_2_1(ratings: Sequence[Sequence[float]]) -> float | None:
    """ICC(2,1) of a complete subjects x raters matrix; ``None`` with fewer than 2 subjects or raters."""
    n = len(ratings)
    k = len(ratings[0]) if ratings else 0
    if n < 2 or k < 2 or any(len(row) != k for row in ratings):
        return None
    grand = sum(sum(row) for row in ratings) / (n * k)
    row_means = [sum(row) / k for row in ratings]
    col_means = [sum(row[j] for row in ratings) / n for j in range(k)]
    ss_rows = k * sum((m - grand) ** 2 for m in row_means)
    ss_cols = n * sum((m - grand) ** 2 for m in col_means)
    ss_total = sum((x - grand) ** 2 for row in ratings for x in row)
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_error = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n
    if denominator == 0:
        return None
    return (ms_rows - ms_error) / denominator


def interpret_alpha(alpha: float | None) -> str:
    """Krippendorff's own reading: >= .800 reliable, >= .667 tentative conclusions only, else unreliable."""
    if alpha is None:
        return "undefined (no variation to compare)"
    if alpha >= 0.8:
        return "reliable"
    if alpha >= 0.667:
        return "tentative"
    return "unreliable"


def interpret_icc(icc: float | None) -> str:
    """Koo & Li (2016): < .5 poor, .5-.75 moderate, .75-.9 good, > .9 excellent."""
    if icc is None:
        return "undefined"
    if icc < 0.5:
        return "poor"
    if icc < 0.75:
        return "moderate"
    if icc <= 0.9:
        return "good"
    return "excellent"


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by Lentz's continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)) / a
    tiny = 1e-300
    f = c = 1.0
    d = 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            numerator = 1.0
        elif i % 2 == 0:
            numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            numerator = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + numerator / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(1.0 - c * d) < 1e-14:
            break
    return front * (f - 1.0)


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` degrees of freedom, by bisection."""
    low, high = 0.0, 1e6
    for _ in range(200):
        mid = (low + high) / 2
        cdf = 1.0 - 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + mid * mid))
        low, high = (mid, high) if cdf < p else (low, mid)
    return (low + high) / 2


@dataclass(frozen=True)
class MeanEstimate:
    mean: float | None
    n: int
    low: float | None
    high: float | None
    confidence: float


def mean_with_interval(scores: Sequence[float], confidence: float = 0.95, bounds: tuple[float, float] = (0, 100)
                       ) -> MeanEstimate:
    """Mean of ``scores`` with its two-sided t interval, held within ``bounds`` (scores are percentages)."""
    n = len(scores)
    if n == 0:
        return MeanEstimate(None, 0, None, None, confidence)
    mean = sum(scores) / n
    if n == 1:
        return MeanEstimate(mean, 1, None, None, confidence)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return MeanEstimate(mean, n, max(bounds[0], mean - half), min(bounds[1], mean + half), confidence)
