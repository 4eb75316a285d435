"""Covariate balance: standardised mean differences before and after adjustment, variance
ratios, overlap of the propensity score and positivity warnings.

SMD_j = (x̄_{j,T} − x̄_{j,C}) / √((s²_{j,T} + s²_{j,C}) / 2), with weighted means after
adjustment (matching or IPW weights) and, before and after, the *unweighted* pooled standard
deviation of the full sample, so that a change in the SMD is a change in the means only
(Austin 2009; Stuart 2010). The usual target is |SMD| < 0.1 for every covariate. The variance
ratio s²_T / s²_C (weighted after) should be near 1 (0.5–2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: |SMD| below this counts as balanced.
SMD_TARGET = 0.1

__all__ = [
    "SMD_TARGET",
    "BalanceRow",
    "BalanceTable",
    "Overlap",
    "balance_table",
    "overlap",
]


@dataclass(frozen=True)
class BalanceRow:
    covariate: str
    mean_treated: float
    mean_control: float
    smd_before: float
    smd_after: float
    variance_ratio_before: float | None
    variance_ratio_after: float | None


@dataclass(frozen=True)
class BalanceTable:
    adjustment: str
    rows: tuple[BalanceRow, ...]

    @property
    def max_abs_smd_before(self) -> float:
        return max(abs(r.smd_before) for r in self.rows)

    @property
    def max_abs_smd_after(self) -> float:
        return max(abs(r.smd_after) for r in self.rows)

    @property
    def balanced(self) -> bool:
        return self.max_abs_smd_after < SMD_TARGET

    def to_dict(self) -> dict[str, object]:
        return {
            "adjustment": self.adjustment,
            "target_abs_smd": SMD_TARGET,
            "max_abs_smd_before": self.max_abs_smd_before,
            "max_abs_smd_after": self.max_abs_smd_after,
            "balanced": self.balanced,
            "rows": [r.__dict__ for r in self.rows],
        }


def _wmean_var(x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    sw = w.sum()
    m = (w[:, None] * x).sum(axis=0) / sw
    v = (w[:, None] * (x - m) ** 2).sum(axis=0) / sw
    return m, v


def balance_table(
    X: FloatArray,
    t: FloatArray,
    names: tuple[str, ...],
    weights: FloatArray | None = None,
    adjustment: str = "matching",
) -> BalanceTable:
    """SMDs of each covariate before (unweighted) and after (``weights``) adjustment.

    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> t = np.array([0.0, 0.0, 1.0, 1.0])
    >>> b = balance_table(X, t, ("x",), np.array([0.0, 1.0, 1.0, 0.0]))
    >>> round(b.rows[0].smd_before, 3), round(b.rows[0].smd_after, 3)
    (2.828, 1.414)
    """
    tr = t > 0.5
    ones = np.ones(len(t))
    w = ones if weights is None else weights
    m1, v1 = _wmean_var(X[tr], ones[tr])
    m0, v0 = _wmean_var(X[~tr], ones[~tr])
    m1w, v1w = _wmean_var(X[tr], w[tr])
    m0w, v0w = _wmean_var(X[~tr], w[~tr])
    # sample variances (ddof 1) for the pooled SD, as most software reports
    s1 = X[tr].var(axis=0, ddof=1)
    s0 = X[~tr].var(axis=0, ddof=1)
    pooled = np.sqrt((s1 + s0) / 2)
    pooled = np.where(pooled > 0, pooled, 1.0)
    rows = []
    for j, name in enumerate(names):
        rows.append(
            BalanceRow(
                name,
                float(m1[j]),
                float(m0[j]),
                float((m1[j] - m0[j]) / pooled[j]),
                float((m1w[j] - m0w[j]) / pooled[j]),
                float(v1[j] / v0[j]) if v0[j] > 0 else None,
                float(v1w[j] / v0w[j]) if v0w[j] > 0 else None,
            )
        )
    return BalanceTable(adjustment, tuple(rows))


@dataclass(frozen=True)
class Overlap:
    """Where the scores of the two groups lie, and how many units are near 0 or 1."""

    treated_range: tuple[float, float]
    control_range: tuple[float, float]
    common_support: tuple[float, float]
    outside_common_support: int
    extreme_low: int  # e < bound
    extreme_high: int  # e > 1 − bound
    bound: float
    warnings: tuple[str, ...]
    histogram_edges: tuple[float, ...]
    histogram_treated: tuple[int, ...]
    histogram_control: tuple[int, ...]


def overlap(scores: FloatArray, t: FloatArray, bound: float = 0.01, bins: int = 20) -> Overlap:
    """Positivity diagnostics of the propensity scores."""
    tr = t > 0.5
    s1, s0 = scores[tr], scores[~tr]
    lo = max(float(s1.min()), float(s0.min()))
    hi = min(float(s1.max()), float(s0.max()))
    outside = int(((scores < lo) | (scores > hi)).sum())
    low = int((scores < bound).sum())
    high = int((scores > 1 - bound).sum())
    warns = []
    if low or high:
        warns.append(
            f"positivity: {low} units with score < {bound} and {high} with score > "
            f"{1 - bound}; their weights are large and matches far; consider trimming"
        )
    if outside:
        warns.append(
            f"{outside} units lie outside the common support [{lo:.3f}, {hi:.3f}] of the scores"
        )
    edges = np.linspace(0.0, 1.0, bins + 1)
    h1, _ = np.histogram(s1, edges)
    h0, _ = np.histogram(s0, edges)
    return Overlap(
        (float(s1.min()), float(s1.max())),
        (float(s0.min()), float(s0.max())),
        (lo, hi),
        outside,
        low,
        high,
        bound,
        tuple(warns),
        tuple(edges.tolist()),
        tuple(int(v) for v in h1),
        tuple(int(v) for v in h0),
    )
