"""Power, minimum detectable effect and sample size for proportions, means and ratio metrics.

Everything reduces to a standardised effect d = Δ / σ (σ the per-unit standard deviation)
and the effective sample size n_eff = n_A n_B / (n_A + n_B):

* z-test (``test="z"``): power = Φ(d √n_eff − z_{1−α/2}) + Φ(−d √n_eff − z_{1−α/2})
  (two-sided; one term one-sided), as ``statsmodels.stats.power.NormalIndPower``;
* t-test (``test="t"``): the noncentral t with n_A + n_B − 2 df and noncentrality
  d √n_eff, as ``statsmodels.stats.power.TTestIndPower``;
* proportions use Cohen's h = 2 asin √p₁ − 2 asin √p₀ as d (Cohen 1988; statsmodels'
  ``proportion_effectsize``);
* ratio metrics (the acceptance rate per user) take σ² from the delta-method per-unit
  variance of a pilot :class:`~codex_ds.experiments.statistics.RatioStatistic`, so the
  clustering of suggestions within users is priced in;
* CUPED with a covariate of correlation ρ divides d by √(1 − ρ²) (Deng et al. 2013): the
  variance shrinks by 1 − ρ²;
* a group-sequential design multiplies the fixed-horizon sample size by its inflation
  factor R (:func:`codex_ds.experiments.sequential.inflation_factor`), and power at a given
  maximum sample size is the design's rejection probability at the corresponding drift.

>>> r = sample_size_proportions(0.25, 0.02)
>>> r.n_control, r.n_treatment
(7549, 7549)
>>> round(power_means(1.0, 0.2, 394).power, 4)
0.8016
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from codex_ds.experiments.frequentist import Alternative
from codex_ds.experiments.sequential import (
    GroupSequentialDesign,
    inflation_factor,
    rejection_probability,
)
from codex_ds.experiments.statistics import RatioStatistic

__all__ = [
    "PowerConfig",
    "PowerResult",
    "mde_means",
    "mde_proportions",
    "power_means",
    "power_proportions",
    "power_t",
    "power_z",
    "sample_size_means",
    "sample_size_proportions",
    "sample_size_ratio",
    "solve_effect_size",
    "solve_sample_size",
]

PowerTest = Literal["z", "t"]
FloatArray = npt.NDArray[np.float64]


def _eff_n(n_control: npt.ArrayLike, allocation_ratio: float) -> FloatArray:
    n1 = np.asarray(n_control, dtype=float)
    n2 = n1 * allocation_ratio
    return np.asarray(n1 * n2 / (n1 + n2), dtype=float)


def power_z(
    effect_size: npt.ArrayLike,
    n_control: npt.ArrayLike,
    alpha: float = 0.05,
    allocation_ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> FloatArray:
    """Power of the two-sample z-test (vectorised); matches ``NormalIndPower().power``.

    ``alternative="greater"`` is statsmodels' ``"larger"``, ``"less"`` its ``"smaller"``.

    >>> round(float(power_z(0.2, 392.443)), 4)
    0.8
    """
    d = np.asarray(effect_size, dtype=float)
    shift = d * np.sqrt(_eff_n(n_control, allocation_ratio))
    if alternative == "two-sided":
        crit = stats.norm.isf(alpha / 2.0)
        return np.asarray(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift), float)
    crit = stats.norm.isf(alpha)
    if alternative == "greater":
        return np.asarray(stats.norm.sf(crit - shift), float)
    return np.asarray(stats.norm.cdf(-crit - shift), float)


def power_t(
    effect_size: npt.ArrayLike,
    n_control: npt.ArrayLike,
    alpha: float = 0.05,
    allocation_ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> FloatArray:
    """Power of the two-sample t-test (noncentral t); matches ``TTestIndPower().power``.

    >>> round(float(power_t(0.5, 64)), 4)
    0.8015
    """
    d = np.asarray(effect_size, dtype=float)
    n1 = np.asarray(n_control, dtype=float)
    df = n1 + n1 * allocation_ratio - 2.0
    nc = d * np.sqrt(_eff_n(n1, allocation_ratio))
    if alternative == "two-sided":
        crit = stats.t.isf(alpha / 2.0, df)
        # scipy's noncentral t returns NaN deep in a tail, where the probability is ~0
        upper = np.nan_to_num(stats.nct.sf(crit, df, nc), nan=0.0)
        lower = np.nan_to_num(stats.nct.cdf(-crit, df, nc), nan=0.0)
        return np.asarray(upper + lower, float)
    crit = stats.t.isf(alpha, df)
    if alternative == "greater":
        return np.asarray(stats.nct.sf(crit, df, nc), float)
    return np.asarray(stats.nct.cdf(-crit, df, nc), float)


def _power(
    effect_size: float,
    n_control: float,
    alpha: float,
    ratio: float,
    alt: Alternative,
    test: PowerTest,
) -> float:
    f = power_t if test == "t" else power_z
    return float(f(effect_size, n_control, alpha, ratio, alt))


def solve_sample_size(
    effect_size: float,
    alpha: float = 0.05,
    power: float = 0.8,
    allocation_ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    test: PowerTest = "z",
) -> float:
    """Units in the control arm (not rounded) for the given power; the treatment arm has
    ``allocation_ratio`` times as many. Matches ``statsmodels`` ``solve_power(nobs1=None)``.

    >>> round(solve_sample_size(0.2), 3)
    392.443
    """
    lo = 2.0 if test == "t" else 1e-6
    guess = (stats.norm.isf(alpha / 2) + stats.norm.isf(1 - power)) / abs(effect_size)
    hi = 10.0 + 4.0 * guess**2 * (1.0 + 1.0 / allocation_ratio)
    return float(
        optimize.brentq(
            lambda n: _power(effect_size, n, alpha, allocation_ratio, alternative, test) - power,
            lo,
            hi,
            xtol=1e-12,
            rtol=4 * np.finfo(float).eps,
        )
    )


def solve_effect_size(
    n_control: float,
    alpha: float = 0.05,
    power: float = 0.8,
    allocation_ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    test: PowerTest = "z",
) -> float:
    """The standardised effect (> 0) detected with the given power by ``n_control`` units.

    >>> round(solve_effect_size(392.443), 4)
    0.2
    """
    alt: Alternative = "greater" if alternative == "less" else alternative
    return float(
        optimize.brentq(
            lambda d: _power(d, n_control, alpha, allocation_ratio, alt, test) - power,
            1e-9,
            100.0,
            xtol=1e-14,
            rtol=4 * np.finfo(float).eps,
        )
    )


@dataclass(frozen=True)
class PowerConfig:
    """Design options shared by the sample-size, power and MDE functions.

    ``allocation_ratio`` is n_treatment / n_control; ``covariate_correlation`` is the
    correlation ρ of the metric with its CUPED covariate (0: no CUPED); ``sequential`` a
    group-sequential design whose inflation factor multiplies the sample size.
    """

    alpha: float = 0.05
    power: float = 0.8
    allocation_ratio: float = 1.0
    alternative: Alternative = "two-sided"
    test: PowerTest = "z"
    covariate_correlation: float = 0.0
    sequential: GroupSequentialDesign | None = None

    def problem(self) -> tuple[str, str] | None:
        if not 0 < self.alpha < 1:
            return "invalid_config", f"alpha must be in (0, 1), got {self.alpha}"
        if not 0 < self.power < 1:
            return "invalid_config", f"power must be in (0, 1), got {self.power}"
        if not (math.isfinite(self.allocation_ratio) and self.allocation_ratio > 0):
            return "invalid_config", "allocation_ratio must be > 0"
        if not -1 < self.covariate_correlation < 1:
            return "invalid_config", "covariate_correlation must be in (-1, 1)"
        if self.test not in ("z", "t"):
            return "invalid_config", f"test must be 'z' or 't', got {self.test!r}"
        if self.sequential is not None:
            if self.sequential.error:
                return "invalid_config", f"sequential design: {self.sequential.message}"
            if abs(self.sequential.alpha - self.alpha) > 1e-12:
                return "invalid_config", "the sequential design's alpha differs from alpha"
            if self.sequential.alternative != self.alternative:
                return "invalid_config", "the sequential design's alternative differs"
        return None

    @property
    def variance_factor(self) -> float:
        """1 − ρ²: the share of variance left after CUPED."""
        return 1.0 - self.covariate_correlation**2


@dataclass(frozen=True)
class PowerResult:
    """A power calculation. ``n_control``/``n_treatment`` are rounded up; numbers are None
    when ``error`` is set. ``effect_size`` is standardised after CUPED."""

    n_control: int | None = None
    n_treatment: int | None = None
    n_total: int | None = None
    n_control_exact: float | None = None
    effect_size: float | None = None
    mde: float | None = None
    mde_relative: float | None = None
    power: float | None = None
    inflation_factor: float = 1.0
    variance_reduction: float = 0.0
    error: str | None = None
    message: str | None = None


def _fail(code: str, message: str) -> PowerResult:
    return PowerResult(error=code, message=message)


def _from_d(d: float, mde: float, baseline: float | None, config: PowerConfig) -> PowerResult:
    """Sample size for a standardised effect (before CUPED) under ``config``."""
    if d == 0 or not math.isfinite(d):
        return _fail("zero_effect", "the effect to detect must be non-zero and finite")
    if (config.alternative == "greater" and d < 0) or (config.alternative == "less" and d > 0):
        return _fail("wrong_direction", "the effect points against the one-sided alternative")
    d_adj = d / math.sqrt(config.variance_factor)
    test: PowerTest = "z" if config.sequential is not None else config.test
    n1 = solve_sample_size(
        d_adj, config.alpha, config.power, config.allocation_ratio, config.alternative, test
    )
    factor = 1.0
    if config.sequential is not None:
        factor = inflation_factor(config.sequential, config.power)
        n1 *= factor
    n_c = math.ceil(n1 - 1e-9)
    n_t = math.ceil(n1 * config.allocation_ratio - 1e-9)
    return PowerResult(
        n_control=n_c,
        n_treatment=n_t,
        n_total=n_c + n_t,
        n_control_exact=n1,
        effect_size=d_adj,
        mde=mde,
        mde_relative=mde / baseline if baseline else None,
        power=config.power,
        inflation_factor=factor,
        variance_reduction=config.covariate_correlation**2,
    )


def _power_result(
    d: float, n_control: float, mde: float, baseline: float | None, config: PowerConfig
) -> PowerResult:
    d_adj = d / math.sqrt(config.variance_factor)
    if config.sequential is not None:
        drift = abs(d_adj) * math.sqrt(float(_eff_n(n_control, config.allocation_ratio)))
        p = rejection_probability(config.sequential, drift)
    else:
        alt = config.alternative
        p = _power(d_adj, n_control, config.alpha, config.allocation_ratio, alt, config.test)
    n_t = math.ceil(n_control * config.allocation_ratio - 1e-9)
    return PowerResult(
        n_control=math.ceil(n_control - 1e-9),
        n_treatment=n_t,
        n_total=math.ceil(n_control - 1e-9) + n_t,
        n_control_exact=float(n_control),
        effect_size=d_adj,
        mde=mde,
        mde_relative=mde / baseline if baseline else None,
        power=p,
        variance_reduction=config.covariate_correlation**2,
    )


def _check_proportion(baseline: float, treated: float) -> tuple[str, str] | None:
    if not 0 < baseline < 1:
        return "out_of_range", f"baseline must be in (0, 1), got {baseline}"
    if not 0 <= treated <= 1:
        return "out_of_range", f"baseline + effect = {treated} is outside [0, 1]"
    return None


def sample_size_proportions(
    baseline: float, mde: float, config: PowerConfig | None = None, relative: bool = False
) -> PowerResult:
    """Units per arm to detect a change of ``mde`` in a proportion (Cohen's h, z-test).

    ``mde`` is absolute (points of the proportion), or relative to ``baseline`` if
    ``relative``.
    """
    config = config or PowerConfig()
    problem = config.problem()
    if problem:
        return _fail(*problem)
    delta = mde * baseline if relative else mde
    problem = _check_proportion(baseline, baseline + delta)
    if problem:
        return _fail(*problem)
    h = 2.0 * math.asin(math.sqrt(baseline + delta)) - 2.0 * math.asin(math.sqrt(baseline))
    return _from_d(h, delta, baseline, config)


def sample_size_means(
    standard_deviation: float,
    mde: float,
    config: PowerConfig | None = None,
    baseline: float | None = None,
) -> PowerResult:
    """Units per arm to detect an absolute change ``mde`` of a mean with per-unit SD σ."""
    config = config or PowerConfig()
    problem = config.problem()
    if problem:
        return _fail(*problem)
    if not (math.isfinite(standard_deviation) and standard_deviation > 0):
        return _fail("zero_variance", f"standard deviation must be > 0, got {standard_deviation}")
    return _from_d(mde / standard_deviation, mde, baseline, config)


def sample_size_ratio(
    pilot: RatioStatistic, mde: float, config: PowerConfig | None = None, relative: bool = False
) -> PowerResult:
    """Units (users) per arm for a ratio metric, σ from a pilot's delta-method variance.

    >>> pilot = RatioStatistic(n=1000, numerator_sum=3000.0, numerator_sum_squares=21000.0,
    ...                        denominator_sum=10000.0, denominator_sum_squares=150000.0,
    ...                        cross_sum=45000.0)
    >>> sample_size_ratio(pilot, 0.05, relative=True).n_control
    5238
    """
    problem = pilot.check()
    if problem:
        return _fail(*problem)
    sd = math.sqrt(pilot.variance)
    delta = mde * pilot.mean if relative else mde
    result = sample_size_means(sd, delta, config, baseline=pilot.mean)
    return result


def power_proportions(
    baseline: float,
    mde: float,
    n_control: float,
    config: PowerConfig | None = None,
    relative: bool = False,
) -> PowerResult:
    """Power to detect ``mde`` in a proportion with ``n_control`` units in control."""
    config = config or PowerConfig()
    problem = config.problem()
    if problem:
        return _fail(*problem)
    if n_control < 2:
        return _fail("too_few_units", f"n_control must be >= 2, got {n_control}")
    delta = mde * baseline if relative else mde
    problem = _check_proportion(baseline, baseline + delta)
    if problem:
        return _fail(*problem)
    h = 2.0 * math.asin(math.sqrt(baseline + delta)) - 2.0 * math.asin(math.sqrt(baseline))
    return _power_result(h, n_control, delta, baseline, config)


def power_means(
    standard_deviation: float,
    mde: float,
    n_control: float,
    config: PowerConfig | None = None,
    baseline: float | None = None,
) -> PowerResult:
    """Power to detect an absolute change ``mde`` of a mean with ``n_control`` units."""
    config = config or PowerConfig()
    problem = config.problem()
    if problem:
        return _fail(*problem)
    if n_control < 2:
        return _fail("too_few_units", f"n_control must be >= 2, got {n_control}")
    if not (math.isfinite(standard_deviation) and standard_deviation > 0):
        return _fail("zero_variance", f"standard deviation must be > 0, got {standard_deviation}")
    return _power_result(mde / standard_deviation, n_control, mde, baseline, config)


def mde_means(
    standard_deviation: float,
    n_control: float,
    config: PowerConfig | None = None,
    baseline: float | None = None,
) -> PowerResult:
    """The smallest absolute change of a mean detected with the configured power."""
    config = config or PowerConfig()
    problem = config.problem()
    if problem:
        return _fail(*problem)
    if n_control < 2:
        return _fail("too_few_units", f"n_control must be >= 2, got {n_control}")
    if not (math.isfinite(standard_deviation) and standard_deviation > 0):
        return _fail("zero_variance", f"standard deviation must be > 0, got {standard_deviation}")
    n_eff = n_control
    factor = 1.0
    if config.sequential is not None:
        factor = inflation_factor(config.sequential, config.power)
        n_eff = n_control / factor
    test: PowerTest = "z" if config.sequential is not None else config.test
    d = solve_effect_size(
        n_eff, config.alpha, config.power, config.allocation_ratio, config.alternative, test
    )
    mde = d * math.sqrt(config.variance_factor) * standard_deviation
    n_t = math.ceil(n_control * config.allocation_ratio - 1e-9)
    return PowerResult(
        n_control=math.ceil(n_control - 1e-9),
        n_treatment=n_t,
        n_total=math.ceil(n_control - 1e-9) + n_t,
        n_control_exact=float(n_control),
        effect_size=d,
        mde=mde,
        mde_relative=mde / baseline if baseline else None,
        power=config.power,
        inflation_factor=factor,
        variance_reduction=config.covariate_correlation**2,
    )


def mde_proportions(
    baseline: float, n_control: float, config: PowerConfig | None = None
) -> PowerResult:
    """The smallest increase of a proportion detected with the configured power.

    >>> round(mde_proportions(0.25, 7549).mde, 4)
    0.02
    """
    config = config or PowerConfig()
    problem = config.problem()
    if problem:
        return _fail(*problem)
    if not 0 < baseline < 1:
        return _fail("out_of_range", f"baseline must be in (0, 1), got {baseline}")
    unit = mde_means(1.0, n_control, config)
    if unit.error or unit.mde is None:
        return unit
    h = unit.mde
    angle = math.asin(math.sqrt(baseline)) + h / 2.0
    if angle > math.pi / 2:
        return _fail("out_of_range", "no proportion <= 1 is detectable with this sample size")
    p1 = math.sin(angle) ** 2
    return PowerResult(
        n_control=unit.n_control,
        n_treatment=unit.n_treatment,
        n_total=unit.n_total,
        n_control_exact=unit.n_control_exact,
        effect_size=unit.effect_size,
        mde=p1 - baseline,
        mde_relative=(p1 - baseline) / baseline,
        power=config.power,
        inflation_factor=unit.inflation_factor,
        variance_reduction=unit.variance_reduction,
    )
