"""Multiple-testing corrections over a declared family of metrics × variants.

* Holm (1979): step-down; controls the family-wise error rate under any dependence.
  Adjusted p₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1) p₍ⱼ₎) over the sorted p-values.
* Benjamini & Hochberg (1995): step-up; controls the false discovery rate for independent
  or positively dependent tests. Adjusted p₍ᵢ₎ = min_{j ≥ i} min(1, m p₍ⱼ₎ / j).

The array functions work along the last axis, so one call corrects the families of
thousands of simulated experiments (``statsmodels.stats.multitest.multipletests`` takes one
family at a time; the tests check these against it).

The family is declared before the data arrive (:func:`correct_family`): a result for a
metric outside it is an error, not a silent addition, and a declared cell without a result
is an error too, so the correction cannot shrink after the fact.

>>> [round(float(p), 4) for p in holm([0.01, 0.04, 0.03])]
[0.03, 0.06, 0.06]
>>> [round(float(p), 4) for p in benjamini_hochberg([0.01, 0.04, 0.03])]
[0.03, 0.04, 0.04]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "CorrectionMethod",
    "CorrectionResult",
    "FamilyResult",
    "adjust_p_values",
    "benjamini_hochberg",
    "bonferroni",
    "correct_family",
    "holm",
]

CorrectionMethod = Literal["none", "bonferroni", "holm", "benjamini_hochberg"]
FloatArray = npt.NDArray[np.float64]


def bonferroni(p_values: npt.ArrayLike) -> FloatArray:
    """min(1, m p) along the last axis."""
    p = np.asarray(p_values, dtype=float)
    return np.minimum(p * p.shape[-1], 1.0)


def holm(p_values: npt.ArrayLike) -> FloatArray:
    """Holm's step-down adjusted p-values along the last axis."""
    p = np.asarray(p_values, dtype=float)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    factors = m - np.arange(m)
    adjusted_sorted = np.minimum(np.maximum.accumulate(sorted_p * factors, axis=-1), 1.0)
    out = np.empty_like(p)
    np.put_along_axis(out, order, adjusted_sorted, axis=-1)
    return out


def benjamini_hochberg(p_values: npt.ArrayLike) -> FloatArray:
    """Benjamini–Hochberg step-up adjusted p-values (q-values) along the last axis."""
    p = np.asarray(p_values, dtype=float)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    scaled = sorted_p * m / np.arange(1, m + 1)
    # running minimum from the largest p-value down
    adjusted_sorted = np.minimum(np.minimum.accumulate(scaled[..., ::-1], axis=-1)[..., ::-1], 1.0)
    out = np.empty_like(p)
    np.put_along_axis(out, order, adjusted_sorted, axis=-1)
    return out


@dataclass(frozen=True)
class CorrectionResult:
    """Adjusted p-values and rejections (in input order) for one family."""

    method: CorrectionMethod
    alpha: float
    adjusted: tuple[float, ...] | None = None
    reject: tuple[bool, ...] | None = None
    error: str | None = None
    message: str | None = None


def _problem(p: Sequence[float], alpha: float) -> tuple[str, str] | None:
    if not 0.0 < alpha < 1.0:
        return "invalid_config", f"alpha must be in (0, 1), got {alpha}"
    if len(p) == 0:
        return "empty_family", "no p-values to correct"
    if any(not math.isfinite(x) or x < 0.0 or x > 1.0 for x in p):
        return "invalid_p_value", "p-values must be finite numbers in [0, 1]"
    return None


def adjust_p_values(
    p_values: Sequence[float], method: CorrectionMethod = "holm", alpha: float = 0.05
) -> CorrectionResult:
    """Adjust one family of p-values.

    >>> r = adjust_p_values([0.01, 0.02, 0.2], "benjamini_hochberg")
    >>> r.reject
    (True, True, False)
    >>> adjust_p_values([0.5, float("nan")]).error
    'invalid_p_value'
    """
    p = [float(x) for x in p_values]
    problem = _problem(p, alpha)
    if problem:
        return CorrectionResult(method=method, alpha=alpha, error=problem[0], message=problem[1])
    if method == "holm":
        adj = holm(p)
    elif method == "benjamini_hochberg":
        adj = benjamini_hochberg(p)
    elif method == "bonferroni":
        adj = bonferroni(p)
    elif method == "none":
        adj = np.asarray(p, dtype=float)
    else:
        return CorrectionResult(
            method=method, alpha=alpha, error="invalid_config", message=f"unknown {method!r}"
        )
    return CorrectionResult(
        method=method,
        alpha=alpha,
        adjusted=tuple(float(x) for x in adj),
        reject=tuple(bool(x <= alpha) for x in adj),
    )


@dataclass(frozen=True)
class FamilyResult:
    """A corrected family: adjusted p-values and decisions keyed by (metric, variant)."""

    method: CorrectionMethod
    alpha: float
    adjusted: Mapping[tuple[str, str], float] = field(default_factory=dict)
    reject: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    error: str | None = None
    message: str | None = None


def correct_family(
    p_values: Mapping[tuple[str, str], float],
    metrics: Sequence[str],
    variants: Sequence[str],
    method: CorrectionMethod = "holm",
    alpha: float = 0.05,
) -> FamilyResult:
    """Correct the p-values of a family declared as ``metrics`` × ``variants``.

    ``p_values`` maps (metric, variant) to the p-value of that variant against control.

    >>> family = {("acceptance_rate", "v2"): 0.01, ("latency_ms", "v2"): 0.04}
    >>> r = correct_family(family, ["acceptance_rate", "latency_ms"], ["v2"])
    >>> r.reject[("acceptance_rate", "v2")], r.reject[("latency_ms", "v2")]
    (True, True)
    >>> correct_family({("typo", "v2"): 0.01}, ["acceptance_rate"], ["v2"]).error
    'unknown_metric'
    """

    def fail(code: str, message: str) -> FamilyResult:
        return FamilyResult(method=method, alpha=alpha, error=code, message=message)

    declared_metrics, declared_variants = set(metrics), set(variants)
    unknown_metrics = sorted({m for m, _ in p_values if m not in declared_metrics})
    if unknown_metrics:
        return fail("unknown_metric", f"metric(s) {unknown_metrics} are not in the declared family")
    unknown_variants = sorted({v for _, v in p_values if v not in declared_variants})
    if unknown_variants:
        return fail(
            "unknown_variant", f"variant(s) {unknown_variants} are not in the declared family"
        )
    cells = [(m, v) for m in metrics for v in variants]
    missing = [c for c in cells if c not in p_values]
    if missing:
        missing_variants = sorted({v for _, v in missing})
        if all(all((m, v) not in p_values for m in metrics) for v in missing_variants):
            return fail("missing_variant", f"no results for variant(s) {missing_variants}")
        return fail("missing_metric", f"no result for declared cell(s) {missing}")
    result = adjust_p_values([p_values[c] for c in cells], method, alpha)
    if result.adjusted is None or result.reject is None:
        return fail(result.error or "invalid_p_value", result.message or "")
    return FamilyResult(
        method=method,
        alpha=alpha,
        adjusted=dict(zip(cells, result.adjusted, strict=True)),
        reject=dict(zip(cells, result.reject, strict=True)),
    )
