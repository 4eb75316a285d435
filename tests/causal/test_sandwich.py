"""The analytic standard errors against a brute-force M-estimation sandwich.

For each estimator the full stack of estimating equations ψ(θ) (propensity score, outcome
models, the effect) is written out directly; A = ∂ mean ψ / ∂θ by central finite differences,
B = mean ψψ', V = A⁻¹BA⁻ᵀ/n. Our influence-function standard errors must equal √V_ττ: this
checks every derivative term (including the ATT forms that have no external reference).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
from scipy import special

from codex_ds.causal.design import CausalData, causal_design
from codex_ds.causal.doubly_robust import aipw
from codex_ds.causal.effects import CausalError, EffectEstimate
from codex_ds.causal.propensity import PropensityModel, add_intercept, fit_propensity
from codex_ds.causal.regression import regression_adjustment
from codex_ds.causal.weighting import ipw

DATA = Path(statsmodels.__file__).parent / "treatment/tests/results/cataneo2.csv"


def _cdf(eta: np.ndarray, link: str) -> np.ndarray:
    return special.expit(eta) if link == "logit" else special.ndtr(eta)


def _score(beta: np.ndarray, X1: np.ndarray, t: np.ndarray, link: str) -> np.ndarray:
    """Per-unit score of the Bernoulli likelihood by finite differences of the log-likelihood
    in η (independent of the package's closed forms)."""
    eta = X1 @ beta
    h = 1e-6

    def ll(e: np.ndarray) -> np.ndarray:
        p = np.clip(_cdf(e, link), 1e-300, 1 - 1e-16)
        return t * np.log(p) + (1 - t) * np.log1p(-p)

    return ((ll(eta + h) - ll(eta - h)) / (2 * h))[:, None] * X1


def _sandwich(psi: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    n = psi(theta).shape[0]
    k = len(theta)
    A = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        A[:, j] = (psi(up).mean(axis=0) - psi(dn).mean(axis=0)) / (2 * h)
    P = psi(theta)
    B = P.T @ P / n
    Ainv = np.linalg.inv(A)
    return Ainv @ B @ Ainv.T / n


def _ols(X1: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(X1[mask], y[mask], rcond=None)[0]


@pytest.fixture(scope="module", params=["probit-cattaneo", "logit-synthetic"])
def case(request: pytest.FixtureRequest) -> tuple[CausalData, CausalData, PropensityModel, str]:
    if request.param == "probit-cattaneo":
        f = pd.read_csv(DATA)
        ps = causal_design(f, "mbsmoke_", "bweight", ["mmarried_", "mage", "mage^2", "fbaby_"])
        out = causal_design(f, "mbsmoke_", "bweight", ["prenatal1_", "mmarried_", "mage"])
        link = "probit"
    else:
        rng = np.random.default_rng(8)
        n = 2000
        f = pd.DataFrame(rng.standard_normal((n, 3)), columns=["a", "b", "c"])
        f["t"] = rng.random(n) < special.expit(0.7 * f.a - 0.4 * f.b)
        f["y"] = f.a + f.b * f.c + 1.5 * f.t + rng.standard_normal(n)
        ps = causal_design(f, "t", "y", ["a", "b", "c"])
        out = causal_design(f, "t", "y", ["a", "c"])
        link = "logit"
    assert not isinstance(ps, CausalError) and not isinstance(out, CausalError)
    model = fit_propensity(ps.X, ps.t, ps.names, link)  # type: ignore[arg-type]
    assert isinstance(model, PropensityModel)
    return ps, out, model, link


def _check(est: EffectEstimate | CausalError, V: np.ndarray, theta: np.ndarray) -> None:
    assert not isinstance(est, CausalError)
    assert est.estimate == pytest.approx(theta[-1], rel=1e-9)
    assert est.se == pytest.approx(np.sqrt(V[-1, -1]), rel=1e-5)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_ipw(case, estimand: str) -> None:
    ps, _, model, link = case
    X1, t, y = add_intercept(ps.X), ps.t, ps.y
    kb = X1.shape[1]

    def psi(th: np.ndarray) -> np.ndarray:
        beta, mu1, mu0 = th[:kb], th[kb], th[kb + 1]
        e = _cdf(X1 @ beta, link)
        if estimand == "ATE":
            w1, w0 = t / e, (1 - t) / (1 - e)
        else:
            w1, w0 = t, (1 - t) * e / (1 - e)
        return np.column_stack([_score(beta, X1, t, link), w1 * (y - mu1), w0 * (y - mu0)])

    def psi_tau(th: np.ndarray) -> np.ndarray:  # reparametrise (μ1, μ0) → (μ0, τ)
        return psi(np.r_[th[:kb], th[kb + 1] + th[kb], th[kb]])

    res = ipw(ps, model, estimand)  # type: ignore[arg-type]
    assert not isinstance(res, CausalError)
    mu0 = res.details["mu0"]
    theta = np.r_[model.coef, mu0, res.estimate]
    _check(res, _sandwich(psi_tau, theta), theta)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_regression_adjustment(case, estimand: str) -> None:
    _, out, _, _ = case
    X1, t, y = add_intercept(out.X), out.t, out.y
    k = X1.shape[1]
    g0, g1 = _ols(X1, y, t == 0), _ols(X1, y, t == 1)
    tau = float(((X1 @ g1 - X1 @ g0)[t == 1] if estimand == "ATT" else X1 @ (g1 - g0)).mean())

    def psi(th: np.ndarray) -> np.ndarray:
        a, b, tau_ = th[:k], th[k : 2 * k], th[-1]
        d = X1 @ b - X1 @ a - tau_
        last = t * d if estimand == "ATT" else d
        return np.column_stack(
            [(1 - t)[:, None] * X1 * (y - X1 @ a)[:, None], t[:, None] * X1 * (y - X1 @ b)[:, None],
             last]
        )  # fmt: skip

    theta = np.r_[g0, g1, tau]
    _check(regression_adjustment(out, estimand), _sandwich(psi, theta), theta)  # type: ignore[arg-type]


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_aipw(case, estimand: str) -> None:
    from codex_ds.causal.regression import fit_outcome_models

    ps, out, model, link = case
    X1, Z1, t, y = add_intercept(ps.X), add_intercept(out.X), ps.t, ps.y
    kb, kz = X1.shape[1], Z1.shape[1]
    om = fit_outcome_models(out.X, t, y)
    res = aipw(ps, model, estimand, outcome_models=om)  # type: ignore[arg-type]
    assert not isinstance(res, CausalError)

    def psi(th: np.ndarray) -> np.ndarray:
        beta, a, b, tau = th[:kb], th[kb : kb + kz], th[kb + kz : kb + 2 * kz], th[-1]
        e = _cdf(X1 @ beta, link)
        m0, m1 = Z1 @ a, Z1 @ b
        if estimand == "ATE":
            last = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e) - tau
        else:
            last = t * (y - m0) - (1 - t) * e / (1 - e) * (y - m0) - t * tau
        return np.column_stack(
            [_score(beta, X1, t, link), (1 - t)[:, None] * Z1 * (y - m0)[:, None],
             t[:, None] * Z1 * (y - m1)[:, None], last]
        )  # fmt: skip

    theta = np.r_[model.coef, om.coef0, om.coef1, res.estimate]
    _check(res, _sandwich(psi, theta), theta)
