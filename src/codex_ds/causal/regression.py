"""Regression adjustment: one linear outcome model per treatment group, averaged over the
target population.

With m_a(x) = x'γ_a fitted by least squares on the units with T = a,

    ATE = (1/n) Σ_i [m_1(x_i) − m_0(x_i)],     ATT = (1/n_1) Σ_{T=1} [m_1(x_i) − m_0(x_i)].

The standard error comes from the stacked estimating equations (the two least-squares normal
equations and the averaging equation): the influence function of the estimate is

    IF_i = m_1(x_i) − m_0(x_i) − τ + x̄'(G_1⁻¹ T_i x_i e_i − G_0⁻¹ (1−T_i) x_i e_i)

with G_a = (1/n) Σ 1{T_i = a} x_i x_i' and x̄ the mean covariate vector of the target
population; se = √(Σ IF_i²)/n. This is the sandwich of Stata's ``teffects ra`` (Cattaneo
2010), which the tests reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from codex_ds.causal.design import CausalData
from codex_ds.causal.effects import EffectEstimate, Estimand, normal_interval
from codex_ds.causal.propensity import add_intercept

FloatArray = npt.NDArray[np.float64]

__all__ = ["OutcomeModels", "fit_outcome_models", "regression_adjustment"]


@dataclass(frozen=True, eq=False)
class OutcomeModels:
    """Per-group least-squares fits and their per-unit pieces."""

    coef0: FloatArray
    coef1: FloatArray
    m0: FloatArray  # predictions for every unit
    m1: FloatArray
    if_coef0: FloatArray  # n × k influence functions of the coefficients
    if_coef1: FloatArray
    X1: FloatArray  # the outcome models' design (intercept first)


def fit_outcome_models(
    X: FloatArray, t: FloatArray, y: FloatArray, weights: FloatArray | None = None
) -> OutcomeModels:
    X1 = add_intercept(X)
    n = len(y)
    w = np.ones(n) if weights is None else weights
    out = []
    for arm in (0.0, 1.0):
        g = (t == arm) * w
        gram = (X1 * g[:, None]).T @ X1
        coef = np.linalg.solve(gram, (X1 * g[:, None]).T @ y)
        resid = y - X1 @ coef
        infl = np.linalg.solve(gram / n, (X1 * (g * resid)[:, None]).T).T
        out.append((coef, X1 @ coef, infl))
    (c0, m0, i0), (c1, m1, i1) = out
    return OutcomeModels(c0, c1, m0, m1, i0, i1, X1)


def regression_adjustment(
    data: CausalData,
    estimand: Estimand = "ATE",
    confidence: float = 0.95,
    models: OutcomeModels | None = None,
) -> EffectEstimate:
    fit = models or fit_outcome_models(data.X, data.t, data.y)
    X1 = fit.X1
    diff = fit.m1 - fit.m0
    n = data.n
    if estimand == "ATE":
        tau = float(diff.mean())
        xbar = X1.mean(axis=0)
        infl = diff - tau + fit.if_coef1 @ xbar - fit.if_coef0 @ xbar
    else:
        p1 = data.t.mean()
        tau = float(diff[data.t == 1].mean())
        xbar = (X1 * data.t[:, None]).mean(axis=0)  # (1/n) Σ T x: the derivative
        infl = (data.t * (diff - tau) + fit.if_coef1 @ xbar - fit.if_coef0 @ xbar) / p1
    se = float(np.sqrt(np.sum(infl**2)) / n)
    lo, hi = normal_interval(tau, se, confidence)
    return EffectEstimate(
        "ra", estimand, tau, se, lo, hi, n, data.n_treated, data.n_control,
        "influence function (stacked least squares, sandwich)", confidence=confidence,
        details={"outcome_model": "linear, one per treatment group"},
    )  # fmt: skip
