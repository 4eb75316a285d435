"""Nonparametric bootstrap intervals (percentile method; Efron & Tibshirani 1993, ch. 13).

Each replicate draws n units with replacement, which is the same as giving unit i the weight
c_i (its multiplicity; c ~ Multinomial(n, 1/n)). The replicate re-runs the *whole* estimator,
the propensity and outcome models included, so the interval reflects their estimation too.

* :func:`bootstrap` works with any estimator (``CausalData → EffectEstimate``), on the
  resampled rows;
* :func:`bootstrap_aipw` is the fast path for AIPW: the same multiplicities as frequency
  weights, the propensity model refitted by Newton's method from the full-sample
  coefficients (two or three steps), the outcome models by weighted least squares, no copy
  of the data. Both give identical replicates for the same seed (tested).

The percentile interval is [q_{α/2}, q_{1−α/2}] of the replicate estimates; the bootstrap
standard error is their standard deviation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from codex_ds.causal.design import CausalData
from codex_ds.causal.effects import CausalError, EffectEstimate
from codex_ds.causal.propensity import EPS, Link, add_intercept, cdf, fit_weighted

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, float], None]
Estimator = Callable[[CausalData], EffectEstimate | CausalError]

__all__ = ["BootstrapResult", "bootstrap", "bootstrap_aipw", "multiplicities"]


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    estimates: FloatArray
    ci_low: float
    ci_high: float
    se: float
    failed: int
    confidence: float


def multiplicities(n: int, replicates: int, seed: int) -> npt.NDArray[np.int64]:
    """Counts of each unit in each resample (replicates × n), from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    out = np.empty((replicates, n), dtype=np.int64)
    for b in range(replicates):
        out[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return out


def _summarise(est: list[float], failed: int, confidence: float) -> BootstrapResult:
    arr = np.asarray(est, dtype=np.float64)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(arr, [a, 1 - a]) if len(arr) else (np.nan, np.nan)
    se = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return BootstrapResult(arr, float(lo), float(hi), se, failed, confidence)


def bootstrap(
    data: CausalData,
    estimator: Estimator,
    replicates: int = 500,
    *,
    seed: int = 0,
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> BootstrapResult | CausalError:
    """Percentile bootstrap of any estimator (rows resampled)."""
    if replicates < 2:
        return CausalError("bad_option", f"need at least 2 replicates, got {replicates}")
    rng = np.random.default_rng(seed)
    est: list[float] = []
    failed = 0
    n = data.n
    for b in range(replicates):
        counts = np.bincount(rng.integers(0, n, n), minlength=n)
        idx = np.repeat(np.arange(n), counts)
        res = estimator(data.subset(idx))  # type: ignore[arg-type]
        if isinstance(res, CausalError):
            failed += 1
        else:
            est.append(res.estimate)
        if progress is not None and (b + 1) % max(1, replicates // 50) == 0:
            progress("bootstrap", (b + 1) / replicates)
    if len(est) < 2:
        return CausalError("not_converged", f"{failed} of {replicates} replicates failed")
    return _summarise(est, failed, confidence)


def bootstrap_aipw(
    data: CausalData,
    link: Link = "logit",
    replicates: int = 1000,
    *,
    seed: int = 0,
    confidence: float = 0.95,
    start: FloatArray | None = None,
    progress: Progress | None = None,
) -> BootstrapResult | CausalError:
    """Percentile bootstrap of the AIPW ATE with frequency weights (the fast path)."""
    if replicates < 2:
        return CausalError("bad_option", f"need at least 2 replicates, got {replicates}")
    X1 = add_intercept(data.X)
    y, t = data.y, data.t
    n, k = X1.shape
    if start is None:
        start = fit_weighted(X1, t, np.ones(n), np.zeros(k), link)
    rng = np.random.default_rng(seed)
    est: list[float] = []
    failed = 0
    for b in range(replicates):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        beta = fit_weighted(X1, t, w, start, link)
        e = np.clip(cdf(X1 @ beta, link), EPS, 1 - EPS)
        preds = []
        ok = bool(np.isfinite(beta).all())
        for arm in (0.0, 1.0):
            g = w * (t == arm)
            Xg = X1 * g[:, None]
            try:
                coef = np.linalg.solve(Xg.T @ X1, Xg.T @ y)
            except np.linalg.LinAlgError:
                ok = False
                break
            preds.append(X1 @ coef)
        if not ok:
            failed += 1
            continue
        m0, m1 = preds
        psi = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)
        est.append(float(np.dot(w, psi) / n))
        if progress is not None and (b + 1) % max(1, replicates // 50) == 0:
            progress("bootstrap", (b + 1) / replicates)
    if len(est) < 2:
        return CausalError("not_converged", f"{failed} of {replicates} replicates failed")
    return _summarise(est, failed, confidence)
