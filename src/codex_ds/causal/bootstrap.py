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

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from codex_ds.causal.design import CausalData
from codex_ds.causal.effects import CausalError, EffectEstimate
from codex_ds.causal.propensity import (
    EPS,
    Link,
    add_intercept,
    cdf,
    fit_weighted,
    score_and_curvature,
)

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, float], None]
Estimator = Callable[[CausalData], EffectEstimate | CausalError]
BatchResult = tuple[FloatArray, npt.NDArray[np.bool_]]

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
    batch: int = 50,
    workers: int = 2,
    progress: Progress | None = None,
) -> BootstrapResult | CausalError:
    """Percentile bootstrap of the AIPW ATE with frequency weights (the fast path).

    ``batch`` replicates are solved together: every weighted sum over units is one matrix
    product of the B × n weight matrix with a per-unit array (the Gram matrices through the
    n × k² array of products x_i x_i'), so the work is BLAS, not Python. The propensity
    model of each replicate is solved by Newton steps with the full-sample Hessian (the
    root is the replicate's exact MLE; only the rate is linear, ~n^-1/2 per step).
    ``workers`` threads solve batches in parallel (numpy releases the GIL); the weights are
    drawn in order in the calling thread, so the result does not depend on ``workers``.
    """
    if replicates < 2:
        return CausalError("bad_option", f"need at least 2 replicates, got {replicates}")
    X1 = add_intercept(data.X)
    y, t = data.y, data.t
    n, k = X1.shape
    if start is None:
        start = fit_weighted(X1, t, np.ones(n), np.zeros(k), link)
    outer = (X1[:, :, None] * X1[:, None, :]).reshape(n, k * k)
    # the full-sample Hessian at the start serves every replicate: its bootstrap Hessian
    # differs by O(n^-1/2), so each step still gains two to three digits
    _s0, c0 = score_and_curvature(X1 @ start, t, link)
    h0_inv = np.linalg.inv(-(c0 @ outer).reshape(k, k))
    Xy = X1 * y[:, None]
    beta0 = start

    def solve(W: FloatArray) -> BatchResult:
        b = W.shape[0]
        t_rows = np.broadcast_to(t, (b, n))
        beta = np.tile(beta0, (b, 1))
        for _ in range(200):  # fixed-Hessian Newton: linear rate O(n^-1/2), exact root
            eta = beta @ X1.T
            if link == "logit":  # the score alone: t − expit(η), in place
                s = np.subtract(t_rows, special.expit(eta, out=eta), out=eta)
            else:
                s, _c = score_and_curvature(eta, t_rows, link)
            step = ((W * s) @ X1) @ h0_inv.T
            beta = beta + step
            if np.max(np.abs(step)) < 1e-11 * (1 + np.max(np.abs(beta))):
                break
        e = np.clip(cdf(beta @ X1.T, link), EPS, 1 - EPS)
        preds = []
        for arm in (0.0, 1.0):
            Wg = W * (t == arm)
            gram = (Wg @ outer).reshape(b, k, k)
            coef = np.linalg.solve(gram, (Wg @ Xy)[..., None])[..., 0]
            preds.append(coef @ X1.T)
        m0, m1 = preds
        psi = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)
        converged = np.asarray(np.isfinite(beta).all(axis=1), dtype=np.bool_)
        return np.sum(W * psi, axis=1) / n, converged

    rng = np.random.default_rng(seed)
    est: list[float] = []
    failed = 0
    done = 0
    pending: deque[Future[BatchResult]] = deque()

    def collect(fut: Future[BatchResult]) -> None:
        nonlocal failed, done
        vals, good = fut.result()
        ok = np.isfinite(vals) & good
        failed += int((~ok).sum())
        est.extend(vals[ok].tolist())
        done += len(vals)
        if progress is not None:
            progress("bootstrap", done / replicates)

    drawn = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while drawn < replicates:
            b = min(batch, replicates - drawn)
            W = np.empty((b, n))
            for i in range(b):  # the same draws as :func:`bootstrap`, replicate by replicate
                W[i] = np.bincount(rng.integers(0, n, n), minlength=n)
            drawn += b
            pending.append(pool.submit(solve, W))
            while len(pending) > max(1, workers):
                collect(pending.popleft())
        while pending:
            collect(pending.popleft())
    if len(est) < 2:
        return CausalError("not_converged", f"{failed} of {replicates} replicates failed")
    return _summarise(est, failed, confidence)
