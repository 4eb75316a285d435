"""Augmented inverse-probability weighting (doubly robust; Robins, Rotnitzky & Zhao 1994).

With the propensity score e(x) and per-group linear outcome models m_a(x)
(:mod:`codex_ds.causal.regression`):

    μ₁ = (1/n) Σ [m₁(x) + T(Y − m₁(x))/e(x)],   μ₀ = (1/n) Σ [m₀(x) + (1−T)(Y − m₀(x))/(1−e(x))]
    ATE = μ₁ − μ₀;
    ATT = (1/n₁) Σ [T(Y − m₀(x)) − (1−T)·e/(1−e)·(Y − m₀(x))]        (Moodie et al. 2018).

Consistent when either model is right. The standard error is the sandwich of the stacked
estimating equations (propensity score, both least-squares fits, the means), computed as the
influence function of the estimate including the derivative terms for β and γ_a; it reproduces
Stata's ``teffects aipw`` on Cattaneo (2010).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from codex_ds.causal.design import CausalData
from codex_ds.causal.effects import CausalError, EffectEstimate, Estimand, normal_interval
from codex_ds.causal.propensity import EPS, PropensityModel, add_intercept, pdf
from codex_ds.causal.regression import OutcomeModels, fit_outcome_models

FloatArray = npt.NDArray[np.float64]

__all__ = ["aipw", "aipw_point"]


def aipw_point(
    y: FloatArray, t: FloatArray, e: FloatArray, m0: FloatArray, m1: FloatArray
) -> float:
    """The AIPW ATE from its pieces (used by the bootstrap)."""
    e = np.clip(e, EPS, 1 - EPS)
    return float(np.mean(m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)))


def aipw(
    data: CausalData,
    model: PropensityModel,
    estimand: Estimand = "ATE",
    *,
    confidence: float = 0.95,
    outcome_models: OutcomeModels | None = None,
) -> EffectEstimate | CausalError:
    """AIPW estimate; ``outcome_models`` may use other covariates than the score model
    (default: the same covariates)."""
    X1 = add_intercept(data.X)
    y, t, n = data.y, data.t, data.n
    fit = outcome_models or fit_outcome_models(data.X, t, y)
    e = np.clip(model.scores, EPS, 1 - EPS)
    de = pdf(X1 @ model.coef, model.link)
    if_beta = model.influence(data.X, t)
    r1, r0 = y - fit.m1, y - fit.m0
    if estimand == "ATE":
        psi1 = fit.m1 + t * r1 / e
        psi0 = fit.m0 + (1 - t) * r0 / (1 - e)
        mu1, mu0 = float(psi1.mean()), float(psi0.mean())
        tau = mu1 - mu0
        # derivatives of the mean equations w.r.t. β and γ_a
        d_beta = (-t * r1 * de / e**2 - (1 - t) * r0 * de / (1 - e) ** 2) @ X1 / n
        d_g1 = ((1 - t / e)[:, None] * fit.X1).mean(axis=0)
        d_g0 = ((1 - (1 - t) / (1 - e))[:, None] * fit.X1).mean(axis=0)
        infl = psi1 - psi0 - tau + if_beta @ d_beta + fit.if_coef1 @ d_g1 - fit.if_coef0 @ d_g0
        details = {"mu1": mu1, "mu0": mu0}
    else:
        p1 = t.mean()
        odds = e / (1 - e)
        dodds = de / (1 - e) ** 2
        psi = t * r0 - (1 - t) * odds * r0
        tau = float(psi.sum() / t.sum())
        d_beta = (-(1 - t) * dodds * r0) @ X1 / n
        d_g0 = ((-t + (1 - t) * odds)[:, None] * fit.X1).mean(axis=0)
        infl = (psi - t * tau + if_beta @ d_beta + fit.if_coef0 @ d_g0) / p1
        details = {}
    se = float(np.sqrt(np.sum(infl**2)) / n)
    lo, hi = normal_interval(tau, se, confidence)
    return EffectEstimate(
        "aipw", estimand, tau, se, lo, hi, n, data.n_treated, data.n_control,
        "influence function (stacked propensity score + least squares + means, sandwich)",
        confidence=confidence, details=details,
    )  # fmt: skip
