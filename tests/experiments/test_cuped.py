"""CUPED against ordinary least squares (statsmodels) and the linearised ratio metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from codex_ds.experiments.cuped import cuped_compare, cuped_theta, variance_reduction
from codex_ds.experiments.frequentist import TestConfig, compare
from codex_ds.experiments.statistics import (
    RegressionAdjusted,
    RegressionAdjustedRatio,
    SampleMean,
)


def _arms(seed: int, n: int = 600, rho: float = 0.7, effect: float = 0.1) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.gamma(4.0, 1.0, size=(2, n))
    e = rng.normal(size=(2, n))
    y = 2.0 + rho * x + math.sqrt(1 - rho**2) * 2.0 * e
    y[1] += effect
    return x, y


def test_cuped_estimate_equals_ancova_ols_coefficient() -> None:
    """With equal arms θ is the pooled within-arm slope, so the CUPED difference equals
    the treatment coefficient of OLS y ~ 1 + treatment + x (Deng et al. 2013)."""
    x, y = _arms(0)
    a = RegressionAdjusted.from_values(y[0], x[0])
    b = RegressionAdjusted.from_values(y[1], x[1])
    r = cuped_compare(a, b)
    treat = np.r_[np.zeros(x.shape[1]), np.ones(x.shape[1])]
    design = sm.add_constant(np.column_stack([treat, np.r_[x[0], x[1]]]))
    ols = sm.OLS(np.r_[y[0], y[1]], design).fit()
    assert r.estimate == pytest.approx(ols.params[1], rel=1e-10)
    assert cuped_theta(a, b) == pytest.approx(ols.params[2], rel=1e-10)
    # per-arm residual variances vs OLS's common residual variance: close, not identical
    assert r.standard_error == pytest.approx(ols.bse[1], rel=0.02)


def test_cuped_shrinks_standard_error_by_sqrt_one_minus_rho_squared() -> None:
    x, y = _arms(1, n=5000, rho=0.8)
    a = RegressionAdjusted.from_values(y[0], x[0])
    b = RegressionAdjusted.from_values(y[1], x[1])
    plain = compare(SampleMean.from_values(y[0]), SampleMean.from_values(y[1]))
    adjusted = cuped_compare(a, b)
    rho2 = 0.5 * (a.correlation**2 + b.correlation**2)
    ratio = (adjusted.standard_error or 0) / (plain.standard_error or 1)
    assert ratio == pytest.approx(math.sqrt(1 - rho2), rel=1e-3)
    assert variance_reduction(a, b) == pytest.approx(rho2, rel=1e-2)


def test_compare_dispatches_covariate_statistics_to_cuped() -> None:
    x, y = _arms(2)
    a = RegressionAdjusted.from_values(y[0], x[0])
    b = RegressionAdjusted.from_values(y[1], x[1])
    assert compare(a, b) == cuped_compare(a, b)
    rel = compare(a, b, TestConfig(difference="relative"))
    assert rel.method == "CUPED t-test" and rel.error is None


def test_cuped_for_ratio_metric_uses_linearised_ratios() -> None:
    rng = np.random.default_rng(3)
    stats_ = []
    raw = []
    for lift in (1.0, 1.08):
        p = 0.6 * rng.beta(2, 2, 700)
        shown, pre_shown = 1 + rng.poisson(20, 700), 1 + rng.poisson(15, 700)
        accepted = rng.binomial(shown, np.minimum(p * lift, 1))
        pre_accepted = rng.binomial(pre_shown, p)
        stats_.append(RegressionAdjustedRatio.from_values(accepted, shown, pre_accepted, pre_shown))
        raw.append((accepted, shown, pre_accepted, pre_shown))
    a, b = stats_
    r = compare(a, b)
    assert r.method == "CUPED z-test (delta method)"
    # oracle: adjust each arm's ratio with θ from the linearised per-user values
    lin = []
    for m, d, mp, dp in raw:
        y = (m - m.sum() / d.sum() * d) / d.mean()
        x = (mp - mp.sum() / dp.sum() * dp) / dp.mean()
        lin.append((y, x))
    (ya, xa), (yb, xb) = lin
    n = len(ya)
    theta = (np.cov(ya, xa)[0, 1] + np.cov(yb, xb)[0, 1]) / (xa.var(ddof=1) + xb.var(ddof=1))
    est = (b.mean - a.mean) - theta * (b.covariate_mean - a.covariate_mean)
    var = (np.var(ya - theta * xa, ddof=1) + np.var(yb - theta * xb, ddof=1)) / n
    assert r.estimate == pytest.approx(est, rel=1e-9)
    assert r.standard_error == pytest.approx(math.sqrt(var), rel=1e-9)
    plain = compare(a.post, b.post)
    assert (r.standard_error or 0) < 0.9 * (plain.standard_error or 0)


def test_constant_covariate_means_no_adjustment() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=(2, 50))
    a = RegressionAdjusted.from_values(y[0], np.ones(50))
    b = RegressionAdjusted.from_values(y[1], np.ones(50))
    assert cuped_theta(a, b) == 0.0
    plain = compare(SampleMean.from_values(y[0]), SampleMean.from_values(y[1]))
    assert cuped_compare(a, b).p_value == pytest.approx(plain.p_value, rel=1e-12)
