"""The propensity score e(x) = P(T = 1 | X = x): a logit or probit model, its calibration and
the pieces the standard errors of the weighting estimators need.

The fit is statsmodels' ``Logit`` / ``Probit`` (Newton's method). :func:`fit_weighted` is a
small Newton solver with frequency weights, used for bootstrap replicates (it starts from the
full-sample coefficients and converges in a few steps). Perfect separation (a covariate
combination that predicts treatment exactly) means there is no overlap: the result is a
:class:`~codex_ds.causal.effects.CausalError` ``"no_overlap"``.

Calibration (is e(x) right on average?): units in ten groups by score decile, mean score
against the observed treated share in each, the Hosmer–Lemeshow statistic
H = Σ_g (O_g − E_g)² / (E_g (1 − E_g / n_g)) on 8 degrees of freedom, and the Brier score.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from codex_ds.causal.effects import CausalError

FloatArray = npt.NDArray[np.float64]
Link = Literal["logit", "probit"]

#: Scores are clipped to [EPS, 1 − EPS] before division.
EPS = 1e-12

__all__ = [
    "Calibration",
    "Link",
    "PropensityModel",
    "add_intercept",
    "calibration",
    "cdf",
    "fit_propensity",
    "fit_weighted",
    "pdf",
]


def add_intercept(X: FloatArray) -> FloatArray:
    return np.column_stack([np.ones(X.shape[0]), X])


def cdf(eta: FloatArray, link: Link) -> FloatArray:
    return special.expit(eta) if link == "logit" else special.ndtr(eta)


def pdf(eta: FloatArray, link: Link) -> FloatArray:
    """de/dη."""
    if link == "logit":
        p = special.expit(eta)
        return p * (1 - p)
    return np.exp(-0.5 * eta * eta) / math.sqrt(2 * math.pi)


def score_and_curvature(
    eta: FloatArray, t: FloatArray, link: Link
) -> tuple[FloatArray, FloatArray]:
    """Per-unit ∂ℓ/∂η and ∂²ℓ/∂η² of the Bernoulli log-likelihood."""
    if link == "logit":
        p = special.expit(eta)
        return t - p, -p * (1 - p)
    # probit: λ = φ/Φ for treated, −φ/(1−Φ) for controls; ∂λ/∂η = −λ(λ + η)
    log_phi = -0.5 * eta * eta - 0.5 * math.log(2 * math.pi)
    lam = np.where(
        t > 0.5,
        np.exp(log_phi - special.log_ndtr(eta)),
        -np.exp(log_phi - special.log_ndtr(-eta)),
    )
    return lam, -lam * (lam + eta)


@dataclass(frozen=True)
class Calibration:
    """Observed treated share against the mean score in groups of the score."""

    mean_score: tuple[float, ...]
    observed_share: tuple[float, ...]
    counts: tuple[int, ...]
    hosmer_lemeshow: float
    hosmer_lemeshow_df: int
    hosmer_lemeshow_p: float
    brier: float


def calibration(scores: FloatArray, t: FloatArray, groups: int = 10) -> Calibration:
    order = np.argsort(scores, kind="stable")
    bins = np.array_split(order, groups)
    mean_s, obs, counts = [], [], []
    hl = 0.0
    for b in bins:
        if len(b) == 0:
            continue
        e = float(scores[b].sum())
        o = float(t[b].sum())
        n = len(b)
        mean_s.append(e / n)
        obs.append(o / n)
        counts.append(n)
        denom = e * (1 - e / n)
        if denom > 0:
            hl += (o - e) ** 2 / denom
    df = max(len(counts) - 2, 1)
    return Calibration(
        tuple(mean_s),
        tuple(obs),
        tuple(counts),
        hl,
        df,
        float(stats.chi2.sf(hl, df)),
        float(np.mean((scores - t) ** 2)),
    )


@dataclass(frozen=True, eq=False)
class PropensityModel:
    """A fitted propensity model: coefficients (intercept first), their covariance, the
    scores of the units it was fitted on, and its calibration."""

    link: Link
    names: tuple[str, ...]
    coef: FloatArray
    cov: FloatArray
    scores: FloatArray
    log_likelihood: float
    pseudo_r2: float
    converged: bool
    calibration: Calibration

    @property
    def logit_scores(self) -> FloatArray:
        s = np.clip(self.scores, EPS, 1 - EPS)
        return np.log(s / (1 - s))

    def linear_predictor(self, X: FloatArray) -> FloatArray:
        return self.coef[0] + X @ self.coef[1:]

    def predict(self, X: FloatArray) -> FloatArray:
        return cdf(self.linear_predictor(X), self.link)

    def influence(self, X: FloatArray, t: FloatArray) -> FloatArray:
        """n × k influence functions of the coefficients: (−H/n)⁻¹ sᵢ (M-estimation)."""
        X1 = add_intercept(X)
        eta = X1 @ self.coef
        s, c = score_and_curvature(eta, t, self.link)
        hess = (X1 * c[:, None]).T @ X1 / len(t)
        return np.asarray(np.linalg.solve(-hess, (X1 * s[:, None]).T).T, dtype=np.float64)


def _mcfadden(llf: float, t: FloatArray) -> float:
    """McFadden's pseudo-R² 1 − ℓ/ℓ₀, with the intercept-only ℓ₀ in closed form (statsmodels'
    ``prsquared`` refits the null model)."""
    p = float(t.mean())
    ll0 = len(t) * (p * math.log(p) + (1 - p) * math.log(1 - p))
    return 1.0 - llf / ll0


def _separation(scores: FloatArray, t: FloatArray) -> str | None:
    treated, control = scores[t > 0.5], scores[t < 0.5]
    if treated.min() >= control.max() or control.min() >= treated.max():
        return "the propensity scores of treated and control units do not overlap"
    extreme = (scores < 1e-8) | (scores > 1 - 1e-8)
    if extreme.mean() > 0.5:
        return f"{extreme.mean():.0%} of propensity scores are within 1e-8 of 0 or 1"
    return None


def fit_propensity(
    X: FloatArray, t: FloatArray, names: tuple[str, ...] | None = None, link: Link = "logit"
) -> PropensityModel | CausalError:
    """Fit P(T = 1 | X) by maximum likelihood (statsmodels)."""
    from statsmodels.discrete.discrete_model import Logit, Probit

    X1 = add_intercept(X)
    labels = ("const", *(names or tuple(f"x{i}" for i in range(X.shape[1]))))
    model_cls = Logit if link == "logit" else Probit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # rank is checked by the design step; statsmodels' QR check is slow at 1M rows
            res = model_cls(t, X1, check_rank=False).fit(disp=0, method="newton", maxiter=100)
        except Exception as exc:  # statsmodels raises on perfect separation / singular Hessian
            text = str(exc).lower()
            code = "no_overlap" if "separation" in text or "singular" in text else "not_converged"
            return CausalError(
                code,  # type: ignore[arg-type]
                f"the {link} propensity model failed: {exc}; treated and control units may "
                "be perfectly separated by the covariates (no overlap)",
            )
    coef = np.asarray(res.params, dtype=np.float64)
    scores = cdf(X1 @ coef, link)
    if not np.isfinite(coef).all():
        return CausalError("not_converged", f"the {link} propensity model did not converge")
    sep = _separation(scores, t)
    if sep is not None:
        return CausalError(
            "no_overlap",
            f"no overlap: {sep} (perfect separation); the effect is not identified "
            "without extrapolation. Restrict the population or drop the separating covariate",
        )
    converged = bool(res.mle_retvals.get("converged", True))
    if not converged:
        return CausalError(
            "not_converged", f"the {link} propensity model did not converge in 100 iterations"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cov = np.asarray(res.cov_params(), dtype=np.float64)
    return PropensityModel(
        link=link,
        names=labels,
        coef=coef,
        cov=cov,
        scores=scores,
        log_likelihood=float(res.llf),
        pseudo_r2=_mcfadden(float(res.llf), t),
        converged=converged,
        calibration=calibration(scores, t),
    )


def fit_weighted(
    X1: FloatArray,
    t: FloatArray,
    weights: FloatArray,
    start: FloatArray,
    link: Link = "logit",
    *,
    tol: float = 1e-10,
    max_iter: int = 50,
) -> FloatArray:
    """Newton's method for the frequency-weighted Bernoulli likelihood (X1 has the intercept).

    ``weights`` may be a matrix (B × n, one row per bootstrap replicate): then B coefficient
    vectors are returned (B × k), each solved separately but with vectorised algebra.
    """
    W = np.atleast_2d(weights)
    beta = np.tile(start, (W.shape[0], 1))
    for _ in range(max_iter):
        eta = beta @ X1.T  # B × n
        s, c = score_and_curvature(eta, np.broadcast_to(t, eta.shape), link)
        grad = (W * s) @ X1  # B × k
        hess = np.einsum("bn,ni,nj->bij", W * c, X1, X1, optimize=True)
        step = np.linalg.solve(-hess, grad[..., None])[..., 0]
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            break
    out: FloatArray = beta if np.ndim(weights) == 2 else beta[0]
    return out
