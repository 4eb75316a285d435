"""How much hidden confounding would overturn the estimate, and two refutation checks.

* **E-value** (VanderWeele & Ding 2017): the minimum strength of association, on the risk-ratio
  scale, an unmeasured confounder would need with both treatment and outcome to explain the
  estimate away. For a continuous outcome the estimate is first put on the standardised scale
  d = τ/σ_Y and converted with RR ≈ exp(0.91·d) (VanderWeele & Ding 2017, §4);
  E = RR + √(RR(RR − 1)) for RR ≥ 1 (use 1/RR below 1). The E-value of the confidence limit
  nearer the null is 1 when the interval contains it.
* **Rosenbaum bounds** for matched pairs (Rosenbaum 2002, ch. 4): with the pair differences
  d_i (treated minus its matched controls' mean), Wilcoxon's signed-rank statistic T⁺ and, if
  hidden bias can change the odds of treatment within a pair by at most Γ, the upper bound of
  the one-sided p-value from the normal approximation
  E = Γ/(1+Γ)·Σ r_i,  Var = Γ/(1+Γ)²·Σ r_i²,  p⁺ = 1 − Φ((T⁺ − E)/√Var)
  (for a negative effect the differences are negated). The critical Γ is the smallest Γ
  whose p⁺ exceeds α: how much hidden bias the conclusion tolerates.
* **Placebo treatment**: replace the treatment by a random permutation; the estimate must be
  near 0 (its interval should cover 0).
* **Random common cause**: add an independent N(0, 1) covariate; the estimate must barely
  move (Sharma & Kiciman's DoWhy refuters).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from codex_ds.causal.design import CausalData
from codex_ds.causal.effects import CausalError, EffectEstimate

FloatArray = npt.NDArray[np.float64]
Estimator = Callable[[CausalData], EffectEstimate | CausalError]

__all__ = [
    "EValue",
    "Refutation",
    "RosenbaumBounds",
    "e_value",
    "placebo_treatment",
    "random_common_cause",
    "rosenbaum_bounds",
]


@dataclass(frozen=True)
class EValue:
    risk_ratio: float
    e_value: float
    e_value_ci: float
    scale: str


def _e(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def e_value(estimate: float, ci: tuple[float, float], outcome_sd: float) -> EValue:
    """E-value of a difference in means (converted through d = τ/σ_Y).

    >>> ev = e_value(0.5, (0.2, 0.8), 1.0)
    >>> round(ev.risk_ratio, 4), round(ev.e_value, 4), round(ev.e_value_ci, 4)
    (1.5762, 2.5291, 1.689)
    """
    if outcome_sd <= 0:
        return EValue(1.0, 1.0, 1.0, "standardised mean difference")
    rr = math.exp(0.91 * estimate / outcome_sd)
    lo, hi = ci
    if lo <= 0 <= hi:
        e_ci = 1.0
    else:
        near = lo if estimate > 0 else hi
        e_ci = _e(math.exp(0.91 * near / outcome_sd))
    return EValue(rr, _e(rr), e_ci, "standardised mean difference (RR ≈ exp(0.91·d))")


@dataclass(frozen=True)
class RosenbaumBounds:
    pairs: int
    gammas: tuple[float, ...]
    p_upper: tuple[float, ...]
    critical_gamma: float | None  # None: still significant at the largest Γ tried
    alpha: float


def rosenbaum_bounds(
    differences: FloatArray,
    gammas: Sequence[float] = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0),
    alpha: float = 0.05,
) -> RosenbaumBounds | CausalError:
    """Upper bounds of the signed-rank p-value under hidden bias Γ.

    >>> rb = rosenbaum_bounds(np.arange(1.0, 31.0), gammas=(1.0, 2.0))
    >>> rb.pairs, [f"{p:.2e}" for p in rb.p_upper]
    (30, ['8.67e-07', '3.60e-04'])
    """
    d = np.asarray(differences, dtype=np.float64)
    if np.median(d) < 0:
        d = -d
    d = d[d != 0]
    if len(d) < 2:
        return CausalError("too_few_units", "Rosenbaum bounds need at least two non-zero pairs")
    ranks = stats.rankdata(np.abs(d))
    t_plus = float(ranks[d > 0].sum())
    s1, s2 = float(ranks.sum()), float((ranks**2).sum())
    ps = []
    for g in gammas:
        lam = g / (1 + g)
        mean = lam * s1
        var = lam * (1 - lam) * s2
        ps.append(float(stats.norm.sf((t_plus - mean) / math.sqrt(var))))
    critical = next((g for g, p in zip(gammas, ps, strict=True) if p > alpha), None)
    return RosenbaumBounds(len(d), tuple(gammas), tuple(ps), critical, alpha)


@dataclass(frozen=True)
class Refutation:
    name: str
    original: float
    new_estimate: float
    new_ci: tuple[float | None, float | None]
    passed: bool
    explanation: str


def placebo_treatment(
    data: CausalData, estimator: Estimator, original: EffectEstimate, seed: int = 0
) -> Refutation | CausalError:
    """Re-estimate with a randomly permuted treatment; the interval must cover 0."""
    rng = np.random.default_rng(seed)
    res = estimator(data.with_treatment(rng.permutation(data.t)))
    if isinstance(res, CausalError):
        return res
    lo, hi = res.ci_low, res.ci_high
    covered = lo is not None and hi is not None and lo <= 0 <= hi
    return Refutation(
        "placebo_treatment", original.estimate, res.estimate, (lo, hi), covered,
        f"permuted treatment gives {res.estimate:.4g}; its interval "
        f"{'covers' if covered else 'does not cover'} 0",
    )  # fmt: skip


def random_common_cause(
    data: CausalData, estimator: Estimator, original: EffectEstimate, seed: int = 0
) -> Refutation | CausalError:
    """Add an independent N(0,1) covariate; the estimate must move by less than one SE."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([data.X, rng.standard_normal(data.n)])
    res = estimator(data.with_covariates(X, (*data.names, "random_common_cause")))
    if isinstance(res, CausalError):
        return res
    shift = abs(res.estimate - original.estimate)
    tol = original.se if original.se is not None else abs(original.estimate) * 0.1
    ok = shift <= tol
    return Refutation(
        "random_common_cause", original.estimate, res.estimate, (res.ci_low, res.ci_high), ok,
        f"with a random covariate the estimate moves by {shift:.3g} "
        f"({'within' if ok else 'more than'} one standard error, {tol:.3g})",
    )  # fmt: skip
