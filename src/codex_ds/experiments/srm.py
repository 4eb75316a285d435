"""Sample-ratio mismatch (SRM): do the arms hold the share of units the design promised?

Pearson's chi-square goodness-of-fit test of the observed units per variant against the
planned allocation: X² = Σ (O_v − N w_v)² / (N w_v), df = V − 1 (as
``scipy.stats.chisquare``). A mismatch (by convention p < 0.001, as GrowthBook, Optimizely
and Microsoft's ExP use) means assignment or logging is broken and the effect estimates
cannot be trusted (Fabijan et al. 2019, *Diagnosing Sample Ratio Mismatch in Online
Controlled Experiments*, KDD).

>>> r = srm_test({"control": 5000, "treatment": 5150}, {"control": 0.5, "treatment": 0.5})
>>> round(r.p_value, 4), r.mismatch
(0.1365, False)
>>> srm_test({"control": 10, "treatment": 10}, {"control": 0.5, "treatment": 0.6}).error
'weights_not_normalised'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["SRM_THRESHOLD", "SrmResult", "srm_p_values", "srm_test"]

#: p-value below which the allocation is declared broken.
SRM_THRESHOLD = 0.001
#: Tolerance on Σ weights = 1.
WEIGHT_TOLERANCE = 1e-6

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SrmResult:
    """The SRM check: statistic, p-value, expected units per variant and the verdict."""

    threshold: float
    statistic: float | None = None
    df: int | None = None
    p_value: float | None = None
    mismatch: bool | None = None
    expected: Mapping[str, float] = field(default_factory=dict)
    observed_shares: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    message: str | None = None


def srm_p_values(counts: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """Chi-square goodness-of-fit p-values along the last axis (vectorised over experiments).

    >>> float(srm_p_values([50, 50], [0.5, 0.5]))
    1.0
    """
    c = np.asarray(counts, dtype=float)
    w = np.asarray(weights, dtype=float)
    expected = c.sum(axis=-1, keepdims=True) * w
    statistic = ((c - expected) ** 2 / expected).sum(axis=-1)
    return np.asarray(stats.chi2.sf(statistic, c.shape[-1] - 1), dtype=float)


def srm_test(
    observed: Mapping[str, int],
    weights: Mapping[str, float],
    threshold: float = SRM_THRESHOLD,
) -> SrmResult:
    """Test observed units per variant against the planned weights (which sum to 1)."""

    def fail(code: str, message: str) -> SrmResult:
        return SrmResult(threshold=threshold, error=code, message=message)

    if not 0 < threshold < 1:
        return fail("invalid_config", f"threshold must be in (0, 1), got {threshold}")
    if len(weights) < 2:
        return fail("missing_variant", "the design needs at least two variants")
    missing = sorted(v for v in weights if v not in observed)
    if missing:
        return fail("missing_variant", f"no units observed for variant(s) {missing}")
    unknown = sorted(v for v in observed if v not in weights)
    if unknown:
        return fail("unknown_variant", f"variant(s) {unknown} are not in the design")
    w = np.array([weights[v] for v in weights], dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        return fail("invalid_weights", "weights must be finite and > 0")
    if abs(float(w.sum()) - 1.0) > WEIGHT_TOLERANCE:
        return fail("weights_not_normalised", f"weights sum to {w.sum():.6g}, not 1")
    counts = [observed[v] for v in weights]
    if any((not math.isfinite(c)) or c < 0 for c in counts):
        return fail("negative_counts", "observed units must be >= 0")
    total = float(sum(counts))
    if total == 0:
        return fail("too_few_units", "no units observed")
    names = list(weights)
    expected = w * total
    statistic = float(((np.asarray(counts, float) - expected) ** 2 / expected).sum())
    df = len(names) - 1
    p = float(stats.chi2.sf(statistic, df))
    return SrmResult(
        threshold=threshold,
        statistic=statistic,
        df=df,
        p_value=p,
        mismatch=p < threshold,
        expected=dict(zip(names, (float(e) for e in expected), strict=True)),
        observed_shares={v: observed[v] / total for v in names},
    )
