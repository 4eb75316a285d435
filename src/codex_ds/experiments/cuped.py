"""CUPED: variance reduction with a pre-period covariate (Deng, Xu, Kohavi & Walker 2013).

Each arm's metric y is adjusted by its pre-experiment value x (the same metric over the
pre-period, which the treatment cannot affect):

    ŷ_adj = ȳ − θ (x̄ − μ̂_x),    θ = (c_A/n_A + c_B/n_B) / (s²_x,A/n_A + s²_x,B/n_B),

with c the within-arm covariance of y and x, s²_x the covariate's variance and μ̂_x the
pooled pre-period mean. θ minimises the variance of the adjusted difference; with equal
arms it is the pooled regression slope. The per-unit variance of the adjusted metric is
s²_y − 2θc + θ²s²_x ≈ s²_y (1 − ρ²), so intervals narrow by √(1 − ρ²).

For a ratio metric (:class:`~codex_ds.experiments.statistics.RegressionAdjustedRatio`), y and
x are the delta-method linearisations of the post and pre ratios, so the same formulas
apply. The effect, its interval and its p-value then follow
:func:`codex_ds.experiments.frequentist.effect_arrays`.

>>> from codex_ds.experiments.statistics import RegressionAdjusted
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(2, 400)); y = 0.8 * x + 0.6 * rng.normal(size=(2, 400))
>>> a, b = (RegressionAdjusted.from_values(y[i], x[i]) for i in (0, 1))
>>> r = cuped_compare(a, b)
>>> r.method, 0.3 < variance_reduction(a, b) < 0.8
('CUPED t-test', True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from codex_ds.experiments.frequentist import (
    EffectResult,
    TestConfig,
    effect_arrays,
    precheck,
    result_from_arrays,
)
from codex_ds.experiments.statistics import CovariateStatistic, RegressionAdjusted

__all__ = ["CupedArrays", "cuped_arrays", "cuped_compare", "cuped_theta", "variance_reduction"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CupedArrays:
    """Adjusted means and per-unit variances of both arms (one element per experiment)."""

    theta: FloatArray
    mean_a: FloatArray
    var_a: FloatArray
    mean_b: FloatArray
    var_b: FloatArray


def cuped_arrays(
    mean_a: npt.ArrayLike,
    var_a: npt.ArrayLike,
    covariate_mean_a: npt.ArrayLike,
    covariate_var_a: npt.ArrayLike,
    covariance_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    mean_b: npt.ArrayLike,
    var_b: npt.ArrayLike,
    covariate_mean_b: npt.ArrayLike,
    covariate_var_b: npt.ArrayLike,
    covariance_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
) -> CupedArrays:
    """θ, adjusted means and adjusted per-unit variances; vectorised over experiments."""
    ya, va, xa, vxa, ca, na = (
        np.asarray(v, dtype=float)
        for v in (mean_a, var_a, covariate_mean_a, covariate_var_a, covariance_a, n_a)
    )
    yb, vb, xb, vxb, cb, nb = (
        np.asarray(v, dtype=float)
        for v in (mean_b, var_b, covariate_mean_b, covariate_var_b, covariance_b, n_b)
    )
    denominator = vxa / na + vxb / nb
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(denominator > 0, (ca / na + cb / nb) / denominator, 0.0)
    pooled_x = (na * xa + nb * xb) / (na + nb)
    adj_a = ya - theta * (xa - pooled_x)
    adj_b = yb - theta * (xb - pooled_x)
    adj_va = np.maximum(va - 2.0 * theta * ca + theta**2 * vxa, 0.0)
    adj_vb = np.maximum(vb - 2.0 * theta * cb + theta**2 * vxb, 0.0)
    return CupedArrays(theta=theta, mean_a=adj_a, var_a=adj_va, mean_b=adj_b, var_b=adj_vb)


def _arrays(control: CovariateStatistic, treatment: CovariateStatistic) -> CupedArrays:
    return cuped_arrays(
        control.mean,
        control.variance,
        control.covariate_mean,
        control.covariate_variance,
        control.covariance,
        control.n,
        treatment.mean,
        treatment.variance,
        treatment.covariate_mean,
        treatment.covariate_variance,
        treatment.covariance,
        treatment.n,
    )


def cuped_theta(control: CovariateStatistic, treatment: CovariateStatistic) -> float:
    """The variance-minimising adjustment coefficient θ (0 if the covariate is constant)."""
    return float(_arrays(control, treatment).theta)


def variance_reduction(control: CovariateStatistic, treatment: CovariateStatistic) -> float:
    """1 − Var(adjusted difference) / Var(unadjusted difference), in [0, 1].

    With a common correlation ρ between metric and covariate, this is about ρ².
    """
    adj = _arrays(control, treatment)
    before = control.variance / control.n + treatment.variance / treatment.n
    after = float(adj.var_a) / control.n + float(adj.var_b) / treatment.n
    if before <= 0:
        return 0.0
    return float(min(max(1.0 - after / before, 0.0), 1.0))


def cuped_compare(
    control: CovariateStatistic, treatment: CovariateStatistic, config: TestConfig | None = None
) -> EffectResult:
    """The CUPED-adjusted comparison of treatment with control.

    ``distribution="auto"`` uses Welch's t (Welch–Satterthwaite df on the adjusted
    variances) for mean metrics and the normal for ratio metrics.
    """
    config = config or TestConfig()
    is_mean = isinstance(control, RegressionAdjusted)
    distribution = config.distribution
    if distribution == "auto":
        distribution = "t" if is_mean else "normal"
    method = "CUPED t-test" if distribution == "t" else "CUPED z-test"
    if not is_mean:
        method += " (delta method)"
    failure = precheck(control, treatment, config, method)
    if failure:
        return failure
    adj = _arrays(control, treatment)
    if float(adj.var_a) / control.n + float(adj.var_b) / treatment.n <= 0:
        return EffectResult(
            method=method,
            difference=config.difference,
            alternative=config.alternative,
            alpha=config.alpha,
            margin=config.margin,
            error="zero_variance",
            message="the adjusted metric has zero variance in both arms",
        )
    if config.difference == "relative" and float(adj.mean_a) == 0:
        return EffectResult(
            method=method,
            difference=config.difference,
            alternative=config.alternative,
            alpha=config.alpha,
            margin=config.margin,
            error="zero_control_mean",
            message="the adjusted control mean is 0: no relative effect",
        )
    arrays = effect_arrays(
        adj.mean_a,
        adj.var_a,
        control.n,
        adj.mean_b,
        adj.var_b,
        treatment.n,
        difference=config.difference,
        alternative=config.alternative,
        alpha=config.alpha,
        margin=config.margin,
        distribution=distribution,
    )
    return result_from_arrays(
        arrays, config, method, control, treatment, float(adj.mean_a), float(adj.mean_b)
    )
