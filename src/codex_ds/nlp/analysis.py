"""How prompt complexity and prompt–code alignment relate to outcomes, with intervals.

* Evaluation (pass rate): one row per sample with its task's prompt features. Samples of a
  task are not independent (same prompt, same tests), so every interval resamples *tasks*
  (cluster bootstrap), and correlations are computed on per-task pass rates.
* Telemetry (acceptance rate): grouped counts (shown, accepted) per feature value, from SQL;
  a binomial logistic regression on the groups gives the change in log-odds of acceptance per
  unit of a feature (Wald interval), and rates per quantile bin get Wilson intervals.
* Requirement types that models miss: for each requirement kind, the share of the kind's
  terms that failing versus passing completions mention (requirement alignment), with a
  cluster-bootstrap interval of the difference.

Degenerate inputs (fewer than three groups, no variation) return results with an ``error``
and no numbers, never NaN.

>>> w = wilson_interval(8, 10)
>>> (round(w[0], 4), round(w[1], 4))
(0.4902, 0.9433)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson 1927)."""
    if n <= 0:
        raise ValueError("n must be positive")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class BinRate:
    label: str
    x_low: float
    x_high: float
    groups: int
    n: int
    successes: int
    rate: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class LogisticTrend:
    """Binomial logistic regression of successes/trials on one feature."""

    feature: str
    n: int
    slope: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    odds_ratio: float | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


_SINGULAR = "no finite estimate: singular information matrix (perfect separation?)"


def logistic_trend(
    feature: str,
    x: Sequence[float],
    successes: Sequence[int],
    trials: Sequence[int],
    *,
    confidence: float = 0.95,
    max_iter: int = 100,
) -> LogisticTrend:
    """Fit logit P(success) = a + b·x on grouped binomial data by IRLS; Wald interval of b."""
    xv = np.asarray(x, dtype=float)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    keep = n > 0
    xv, k, n = xv[keep], k[keep], n[keep]
    total = int(n.sum())

    def fail(reason: str) -> LogisticTrend:
        return LogisticTrend(feature, total, None, None, None, None, None, None, reason)

    if len(xv) < 3:
        return fail("fewer than 3 groups with trials")
    if np.ptp(xv) == 0:
        return fail("the feature does not vary")
    if k.sum() == 0 or k.sum() == n.sum():
        return fail("all outcomes are the same")
    design = np.column_stack([np.ones_like(xv), xv])
    p0 = k.sum() / n.sum()
    beta = np.array([math.log(p0 / (1 - p0)), 0.0])
    for _ in range(max_iter):
        eta = design @ beta
        mu = 1 / (1 + np.exp(-eta))
        w = n * mu * (1 - mu)
        z = eta + (k - n * mu) / np.maximum(w, 1e-300)
        xtw = design.T * w
        try:
            new = np.linalg.solve(xtw @ design, xtw @ z)
        except np.linalg.LinAlgError:
            return fail(_SINGULAR)
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    else:
        return fail("IRLS did not converge (perfect separation?)")
    mu = 1 / (1 + np.exp(-(design @ beta)))
    info = (design.T * (n * mu * (1 - mu))) @ design
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return fail(_SINGULAR)
    se = math.sqrt(cov[1, 1])
    if not math.isfinite(se) or se == 0:
        return fail("the slope's standard error is not finite (separation)")
    zc = float(stats.norm.ppf(0.5 + confidence / 2))
    b = float(beta[1])
    p = float(2 * stats.norm.sf(abs(b / se)))
    return LogisticTrend(feature, total, b, se, b - zc * se, b + zc * se, p, math.exp(b))


def rates_by_quantile(
    x: Sequence[float],
    successes: Sequence[int],
    trials: Sequence[int],
    *,
    bins: int = 4,
    confidence: float = 0.95,
) -> list[BinRate]:
    """Pooled rates in trial-weighted quantile bins of ``x``, each with a Wilson interval
    (for independent trials, e.g. suggestions; see :func:`cluster_rates_by_quantile` for
    clustered samples)."""
    xv = np.asarray(x, dtype=float)
    k = np.asarray(successes, dtype=np.int64)
    n = np.asarray(trials, dtype=np.int64)
    if len(xv) == 0 or n.sum() == 0:
        return []
    order = np.argsort(xv, kind="stable")
    xv, k, n = xv[order], k[order], n[order]
    cum = np.cumsum(n) / n.sum()
    edges = np.searchsorted(cum, np.arange(1, bins) / bins, side="left")
    # a group never splits; bins are groups [start, end)
    bounds = sorted({0, *[int(e) + 1 for e in edges], len(xv)})
    out = []
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        nn, kk = int(n[a:b].sum()), int(k[a:b].sum())
        if nn == 0:
            continue
        lo, hi = wilson_interval(kk, nn, confidence)
        out.append(
            BinRate(
                f"{xv[a]:.3g}–{xv[b - 1]:.3g}",
                float(xv[a]),
                float(xv[b - 1]),
                b - a,
                nn,
                kk,
                kk / nn,
                lo,
                hi,
            )
        )
    return out


@dataclass(frozen=True)
class ClusterCorrelation:
    """Spearman correlation of a per-task feature with the per-task pass rate."""

    feature: str
    tasks: int
    rho: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def task_correlation(
    feature: str,
    x: Sequence[float],
    pass_rate: Sequence[float],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ClusterCorrelation:
    """Spearman's rho between a task feature and the task's pass rate, with a percentile
    bootstrap interval (tasks resampled)."""
    xv = np.asarray(x, dtype=float)
    yv = np.asarray(pass_rate, dtype=float)
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    if len(xv) < 3:
        return ClusterCorrelation(feature, len(xv), None, None, None, None, "fewer than 3 tasks")
    if np.ptp(xv) == 0 or np.ptp(yv) == 0:
        return ClusterCorrelation(feature, len(xv), None, None, None, None, "no variation")
    res = stats.spearmanr(xv, yv)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(xv), size=(n_boot, len(xv)))
    rx = stats.rankdata(xv[idx], axis=1)
    ry = stats.rankdata(yv[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    boots = np.where(den > 0, (rx * ry).sum(axis=1) / np.where(den > 0, den, 1), np.nan)
    boots = boots[np.isfinite(boots)]
    a = (1 - confidence) / 2
    lo, hi = (float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)))
    return ClusterCorrelation(feature, len(xv), float(res.statistic), lo, hi, float(res.pvalue))


@dataclass(frozen=True)
class ClusterDifference:
    """Mean of a sample-level measure among failing minus passing samples, with a cluster
    bootstrap interval (tasks resampled)."""

    measure: str
    failing: int
    passing: int
    mean_failing: float | None
    mean_passing: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def cluster_difference(
    measure: str,
    values: Sequence[float],
    passed: Sequence[bool],
    groups: Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ClusterDifference:
    v = np.asarray(values, dtype=float)
    ps = np.asarray(passed, dtype=bool)
    g = np.asarray(groups)
    ok = np.isfinite(v)
    v, ps, g = v[ok], ps[ok], g[ok]
    nf, np_ = int((~ps).sum()), int(ps.sum())
    if nf == 0 or np_ == 0:
        return ClusterDifference(
            measure, nf, np_, None, None, None, None, None, "needs both failing and passing samples"
        )
    mf, mp = float(v[~ps].mean()), float(v[ps].mean())
    uniq, inv = np.unique(g, return_inverse=True)
    # per-group sufficient statistics: sums and counts for failing and passing samples
    sf = np.bincount(inv, weights=np.where(~ps, v, 0.0), minlength=len(uniq))
    cf = np.bincount(inv, weights=(~ps).astype(float), minlength=len(uniq))
    sp = np.bincount(inv, weights=np.where(ps, v, 0.0), minlength=len(uniq))
    cp = np.bincount(inv, weights=ps.astype(float), minlength=len(uniq))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(uniq), size=(n_boot, len(uniq)))
    w = np.stack([np.bincount(d, minlength=len(uniq)) for d in draws]).astype(float)
    den_f, den_p = w @ cf, w @ cp
    good = (den_f > 0) & (den_p > 0)
    diffs = (w @ sf)[good] / den_f[good] - (w @ sp)[good] / den_p[good]
    a = (1 - confidence) / 2
    return ClusterDifference(
        measure,
        nf,
        np_,
        mf,
        mp,
        mf - mp,
        float(np.quantile(diffs, a)),
        float(np.quantile(diffs, 1 - a)),
    )


def cluster_rates_by_quantile(
    x_by_task: dict[str, float],
    outcomes: Sequence[tuple[str, bool]],
    *,
    bins: int = 4,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[BinRate]:
    """Pass rate by quantile bin of a task feature; intervals by resampling the bin's tasks."""
    per: dict[str, list[int]] = {}
    for task, ok in outcomes:
        if task in x_by_task:
            s = per.setdefault(task, [0, 0])
            s[0] += int(ok)
            s[1] += 1
    tasks = sorted(per, key=lambda t: (x_by_task[t], t))
    if not tasks:
        return []
    rng = np.random.default_rng(seed)
    chunks = np.array_split(np.arange(len(tasks)), min(bins, len(tasks)))
    out = []
    a = (1 - confidence) / 2
    for ch in chunks:
        ts = [tasks[i] for i in ch]
        k = np.array([per[t][0] for t in ts], dtype=float)
        n = np.array([per[t][1] for t in ts], dtype=float)
        draws = rng.integers(0, len(ts), size=(n_boot, len(ts)))
        rates = k[draws].sum(axis=1) / n[draws].sum(axis=1)
        out.append(
            BinRate(
                f"{x_by_task[ts[0]]:.3g}–{x_by_task[ts[-1]]:.3g}",
                x_by_task[ts[0]],
                x_by_task[ts[-1]],
                len(ts),
                int(n.sum()),
                int(k.sum()),
                float(k.sum() / n.sum()),
                float(np.quantile(rates, a)),
                float(np.quantile(rates, 1 - a)),
            )
        )
    return out
