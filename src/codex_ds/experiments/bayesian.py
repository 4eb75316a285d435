"""Bayesian A/B analysis: a normal model on the effect, with an optional proper prior.

As GrowthBook's effect-based Bayesian engine: the estimated effect Δ̂ (absolute or relative,
with its delta-method standard error s, CUPED included when the statistics carry a
covariate) is the likelihood Δ̂ | Δ ~ N(Δ, s²). With a proper prior Δ ~ N(m₀, v₀) the
posterior is normal with

    precision = 1/s² + 1/v₀,   mean = (Δ̂/s² + m₀/v₀) / precision,

and with the default flat (improper) prior it is N(Δ̂, s²). Reported:

* chance to beat control P(Δ > 0 | data) = Φ(mean/sd) (P(Δ < 0) for ``inverse`` metrics,
  where lower is better);
* expected loss of shipping the treatment E[max(0, −Δ)] = sd φ(mean/sd) − mean Φ(−mean/sd),
  and of keeping the control E[max(0, Δ)] = sd φ(mean/sd) + mean Φ(mean/sd) (signs flipped
  for ``inverse``);
* the equal-tailed credible interval mean ± z_{1−α/2} sd.

>>> from codex_ds.experiments.statistics import Proportion
>>> r = bayesian_compare(Proportion(1000, 100), Proportion(1000, 125))
>>> round(r.chance_to_beat_control, 3), r.error
(0.962, None)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from codex_ds.experiments.frequentist import Difference, TestConfig, compare
from codex_ds.experiments.statistics import UnitStatistic

__all__ = [
    "BayesianConfig",
    "BayesianResult",
    "GaussianPrior",
    "PosteriorArrays",
    "bayesian_compare",
    "posterior_arrays",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GaussianPrior:
    """A normal prior on the effect; ``proper=False`` is the flat prior."""

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False


@dataclass(frozen=True)
class BayesianConfig:
    """``alpha`` sets the credible interval's level (1 − alpha)."""

    difference: Difference = "absolute"
    prior: GaussianPrior = GaussianPrior()
    alpha: float = 0.05
    inverse: bool = False


@dataclass(frozen=True)
class PosteriorArrays:
    mean: FloatArray
    sd: FloatArray
    chance_to_beat_control: FloatArray
    loss_treatment: FloatArray
    loss_control: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray


def posterior_arrays(
    estimate: npt.ArrayLike,
    standard_error: npt.ArrayLike,
    prior: GaussianPrior | None = None,
    alpha: float = 0.05,
    inverse: bool = False,
) -> PosteriorArrays:
    """The posterior of the effect and its decision quantities (vectorised).

    >>> p = posterior_arrays(0.0, 1.0)
    >>> float(p.chance_to_beat_control), round(float(p.loss_treatment), 4)
    (0.5, 0.3989)
    """
    prior = prior or GaussianPrior()
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(standard_error, dtype=float)
    precision = 1.0 / se**2
    if prior.proper:
        mean = (est * precision + prior.mean / prior.variance) / (precision + 1.0 / prior.variance)
        precision = precision + 1.0 / prior.variance
    else:
        mean = est
    sd = 1.0 / np.sqrt(precision)
    z = mean / sd
    pdf = stats.norm.pdf(z)
    gain = sd * pdf + mean * stats.norm.cdf(z)  # E[max(0, Δ)]
    drop = sd * pdf - mean * stats.norm.cdf(-z)  # E[max(0, -Δ)]
    ctw = stats.norm.cdf(-z) if inverse else stats.norm.cdf(z)
    q = stats.norm.ppf(1.0 - alpha / 2.0)
    return PosteriorArrays(
        mean=np.asarray(mean, float),
        sd=np.asarray(sd, float),
        chance_to_beat_control=np.asarray(ctw, float),
        loss_treatment=np.asarray(gain if inverse else drop, float),
        loss_control=np.asarray(drop if inverse else gain, float),
        ci_low=np.asarray(mean - q * sd, float),
        ci_high=np.asarray(mean + q * sd, float),
    )


@dataclass(frozen=True)
class BayesianResult:
    """Posterior of the effect. Numbers are None when ``error`` is set."""

    difference: Difference
    prior: GaussianPrior
    estimate: float | None = None
    standard_error: float | None = None
    posterior_mean: float | None = None
    posterior_sd: float | None = None
    chance_to_beat_control: float | None = None
    expected_loss_treatment: float | None = None
    expected_loss_control: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    error: str | None = None
    message: str | None = None


def bayesian_compare(
    control: UnitStatistic, treatment: UnitStatistic, config: BayesianConfig | None = None
) -> BayesianResult:
    """The posterior of treatment − control (or treatment ÷ control − 1)."""
    config = config or BayesianConfig()
    prior = config.prior
    if prior.proper and not (math.isfinite(prior.variance) and prior.variance > 0):
        return BayesianResult(
            difference=config.difference,
            prior=prior,
            error="invalid_config",
            message=f"a proper prior needs a variance > 0, got {prior.variance}",
        )
    freq = compare(
        control,
        treatment,
        TestConfig(
            alpha=config.alpha,
            difference=config.difference,
            distribution="normal",
            proportion_variance="unpooled",
        ),
    )
    if freq.error or freq.estimate is None or freq.standard_error is None:
        return BayesianResult(
            difference=config.difference, prior=prior, error=freq.error, message=freq.message
        )
    post = posterior_arrays(freq.estimate, freq.standard_error, prior, config.alpha, config.inverse)
    return BayesianResult(
        difference=config.difference,
        prior=prior,
        estimate=freq.estimate,
        standard_error=freq.standard_error,
        posterior_mean=float(post.mean),
        posterior_sd=float(post.sd),
        chance_to_beat_control=float(post.chance_to_beat_control),
        expected_loss_treatment=float(post.loss_treatment),
        expected_loss_control=float(post.loss_control),
        ci_low=float(post.ci_low),
        ci_high=float(post.ci_high),
    )
