"""Sequential testing: group-sequential designs with alpha spending, and always-valid inference.

**Group-sequential designs** (Jennison & Turnbull 2000). The z-statistics of K looks at
information fractions t₁ < … < t_K behave like Brownian motion observed at those times,
Z_k = W(t_k)/√t_k. The boundaries c_k are found look by look so that the probability of
first crossing at look k under H0 equals the alpha the spending function releases there,
α(t_k) − α(t_{k−1}) (Lan & DeMets 1983). The crossing probabilities are computed exactly by
recursive numerical integration of the density of W over the continuation region
(Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19), with Simpson's rule
on a grid of step √Δt/12 -- not a Bonferroni bound. Spending functions, per side, at
one-sided level α₁ (α/2 per side for a two-sided test, the convention of gsDesign, rpact
and ldbounds):

* O'Brien–Fleming type: α₁(t) = 2 − 2Φ(z_{α₁/2} / √t);
* Pocock type: α₁(t) = α₁ ln(1 + (e − 1) t).

:func:`classical_design` gives the constant-shape boundaries of Pocock (1977) and
O'Brien & Fleming (1979) (Jennison & Turnbull 2000, table 2.1), and
:func:`inflation_factor` the maximum sample size of a design relative to the fixed design
with the same power (Jennison & Turnbull 2000, ch. 2; used by
:mod:`codex_ds.experiments.power`).

**Always-valid inference** (:func:`always_valid_test`, :class:`ConfidenceSequence`). The
normal-mixture sequential probability ratio test (mSPRT; Johari, Koomen, Pekelis & Walsh
2017) and the equivalent asymptotic confidence sequence of Howard, Ramdas, McAuliffe &
Sekhon (2021) / Waudby-Smith et al. (2023): with the effect's standard error s_n after n
units and the mixing variance written as ρ²N (N the planned sample size), the interval at
information fraction t = n/N is

    Δ̂ ± s_n · √( 2 (1 + 1/(ρ²N t)) · ln( √(ρ²N t + 1) / α' ) ),

equivalently: reject when the mixture likelihood ratio
Λ_t = exp(z² ρ²N t / (2(ρ²N t + 1))) / √(ρ²N t + 1) reaches 1/α'. ρ²N defaults to
−2 ln α + ln(1 − 2 ln α), the closed-form approximation of the mixing variance that
minimises the width at the planned sample size (Howard et al. 2021; Waudby-Smith et al.
2023); GrowthBook's "sequential tuning parameter" is the same N.

* ``calibration="ville"``: α' = α. Ville's inequality makes the sequence valid for
  continuous monitoring over an unbounded horizon -- this is GrowthBook's confidence
  sequence, and it is conservative in practice: about 1 % false positives with 20 looks.
* ``calibration="horizon"`` (default): α' > α is chosen so that the probability that
  Brownian motion *ever* crosses the same mixture boundary before the planned horizon
  t = 1 is exactly α (computed by the recursion above on a fine grid of looks, with
  Siegmund's (1985) continuity correction, shift 0.5826 √Δt). The test stays valid for any
  number of looks and any data-dependent stopping rule up to the planned sample size N,
  and spends the alpha that the unbounded horizon wasted: ≈ 3 % false positives at 20
  looks instead of ≈ 1 %. Beyond N (t > 1) the guarantee lapses; results say so
  (``beyond_horizon``).

>>> d = group_sequential_design(5, alpha=0.05, spending="obrien_fleming")
>>> [round(c, 3) for c in d.boundaries]
[4.877, 3.357, 2.68, 2.29, 2.031]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

from codex_ds.experiments.frequentist import Difference, TestConfig, compare
from codex_ds.experiments.statistics import UnitStatistic

__all__ = [
    "AlwaysValidConfig",
    "AlwaysValidResult",
    "Calibration",
    "ConfidenceSequence",
    "GroupSequentialDesign",
    "GroupSequentialResult",
    "SequentialAlternative",
    "SpendingFunction",
    "alpha_spent",
    "always_valid_test",
    "classical_design",
    "crossing_probabilities",
    "default_rho_squared_n",
    "group_sequential_design",
    "group_sequential_test",
    "inflation_factor",
    "mixture_level",
    "mixture_multiplier",
    "mixture_p_value",
    "rejection_probability",
]

SpendingFunction = Literal["obrien_fleming", "pocock"]
ClassicalKind = Literal["obrien_fleming", "pocock"]
SequentialAlternative = Literal["two-sided", "greater", "less"]
Calibration = Literal["horizon", "ville"]
FloatArray = npt.NDArray[np.float64]

#: Grid points per standard deviation of an increment (Jennison & Turnbull use a similar
#: density; the published boundaries are reproduced to 4 decimals).
POINTS_PER_SD = 12
#: Siegmund's correction for continuous monitoring: shift the boundary by 0.5826 √Δt.
SIEGMUND_SHIFT = 0.5826
#: Looks on the fine grid used to approximate continuous monitoring up to the horizon.
HORIZON_LOOKS = 50
_TRUNCATE_SD = 8.0
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- recursion


def _simpson(lo: float, hi: float, h: float) -> tuple[FloatArray, FloatArray]:
    """Nodes and Simpson weights on [lo, hi] with step at most h."""
    intervals = max(2, math.ceil((hi - lo) / h))
    intervals += intervals % 2
    x = np.linspace(lo, hi, intervals + 1)
    w = np.ones(intervals + 1)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return x, w * (hi - lo) / intervals / 3.0


class _Recursion:
    """The sub-density of W(t) on the continuation region, advanced look by look.

    ``x`` are grid points and ``g`` the density times the quadrature weight, so
    integrals are sums. It starts as a point mass at W(0) = 0.
    """

    def __init__(self, drift: float = 0.0, points_per_sd: int = POINTS_PER_SD) -> None:
        self.drift = drift
        self.points_per_sd = points_per_sd
        self.t = 0.0
        self.x: FloatArray = np.zeros(1)
        self.g: FloatArray = np.ones(1)

    def exits(self, t: float, upper: float, lower: float) -> tuple[float, float]:
        """P(first crossing above ``upper`` / below ``lower`` at time t), W scale."""
        dt = t - self.t
        s = math.sqrt(dt)
        centre = self.x + self.drift * dt
        up = float(np.sum(self.g * special.ndtr((centre - upper) / s)))
        if lower == -math.inf:
            return up, 0.0
        return up, float(np.sum(self.g * special.ndtr((lower - centre) / s)))

    def advance(self, t: float, upper: float, lower: float, next_dt: float | None = None) -> None:
        """Move to time t, keeping the paths that stay strictly between the boundaries."""
        dt = t - self.t
        s = math.sqrt(dt)
        h = min(s, math.sqrt(next_dt) if next_dt else s) / self.points_per_sd
        mean, sd = self.drift * t, math.sqrt(t)
        hi = min(upper, mean + _TRUNCATE_SD * sd)
        lo = max(lower, mean - _TRUNCATE_SD * sd)
        if hi <= lo:
            self.x, self.g = np.zeros(1), np.zeros(1)
        else:
            x, w = _simpson(lo, hi, h)
            u = (x[:, None] - self.x[None, :] - self.drift * dt) / s
            kernel = np.exp(-0.5 * u * u) / (s * _SQRT_2PI)
            self.x, self.g = x, (kernel @ self.g) * w
        self.t = t


def crossing_probabilities(
    information: Sequence[float] | npt.ArrayLike,
    upper: Sequence[float] | npt.ArrayLike,
    lower: Sequence[float] | npt.ArrayLike | None = None,
    drift: float = 0.0,
    points_per_sd: int = POINTS_PER_SD,
) -> tuple[FloatArray, FloatArray]:
    """Per-look probabilities of first crossing the upper / lower z-boundaries.

    ``information`` are increasing information fractions; ``upper``/``lower`` z-scale
    boundaries (``lower=None``: none); ``drift`` θ is the mean of Z at t = 1 (W(t) ~
    N(θt, t)).

    >>> up, low = crossing_probabilities([1.0], [1.959963984540054], [-1.959963984540054])
    >>> round(float(up[0] + low[0]), 6)
    0.05
    """
    t = [float(v) for v in np.atleast_1d(np.asarray(information, dtype=float))]
    ups = [float(v) for v in np.atleast_1d(np.asarray(upper, dtype=float))]
    lows = (
        [-math.inf] * len(t)
        if lower is None
        else [float(v) for v in np.atleast_1d(np.asarray(lower, dtype=float))]
    )
    rec = _Recursion(drift, points_per_sd)
    up_p, low_p = np.zeros(len(t)), np.zeros(len(t))
    for k, tk in enumerate(t):
        a_up, a_low = ups[k] * math.sqrt(tk), lows[k] * math.sqrt(tk)
        up_p[k], low_p[k] = rec.exits(tk, a_up, a_low)
        if k + 1 < len(t):
            rec.advance(tk, a_up, a_low, t[k + 1] - tk)
    return up_p, low_p


# --------------------------------------------------------------------------- designs


def alpha_spent(
    information: npt.ArrayLike,
    alpha: float = 0.05,
    spending: SpendingFunction = "obrien_fleming",
    alternative: SequentialAlternative = "two-sided",
) -> FloatArray:
    """Cumulative alpha spent (both sides together for a two-sided test) by time t.

    >>> [round(float(a), 6) for a in alpha_spent([0.5, 1.0], 0.05, "pocock")]
    [0.031006, 0.05]
    """
    t = np.minimum(np.asarray(information, dtype=float), 1.0)
    sides = 2 if alternative == "two-sided" else 1
    a1 = alpha / sides
    if spending == "obrien_fleming":
        with np.errstate(divide="ignore"):
            per_side = 2.0 * stats.norm.sf(stats.norm.isf(a1 / 2.0) / np.sqrt(t))
    else:
        per_side = a1 * np.log1p((math.e - 1.0) * t)
    return np.asarray(sides * per_side, dtype=float)


@dataclass(frozen=True)
class GroupSequentialDesign:
    """Boundaries of a group-sequential test on the z scale.

    Reject H0 at look k when |Z_k| ≥ c_k (two-sided), Z_k ≥ c_k (``greater``) or
    Z_k ≤ −c_k (``less``). ``cumulative_alpha`` is the type I error spent by each look;
    ``nominal_p_values`` the p-value (two-sided or one-sided) a look must beat.
    """

    alpha: float
    alternative: SequentialAlternative
    spending: str
    information: tuple[float, ...] = ()
    boundaries: tuple[float, ...] = ()
    cumulative_alpha: tuple[float, ...] = ()
    nominal_p_values: tuple[float, ...] = ()
    error: str | None = None
    message: str | None = None

    @property
    def looks(self) -> int:
        return len(self.boundaries)


def _information(looks: int | Sequence[float]) -> tuple[tuple[float, ...], str | None]:
    if isinstance(looks, int):
        if looks < 1:
            return (), "at least one look is needed"
        return tuple((k + 1) / looks for k in range(looks)), None
    t = tuple(float(v) for v in looks)
    if not t:
        return (), "at least one look is needed"
    if any(not math.isfinite(v) or v <= 0 or v > 1 for v in t):
        return t, "information fractions must be in (0, 1]"
    if any(b <= a for a, b in itertools.pairwise(t)):
        return t, "information fractions must increase strictly"
    return t, None


def _nominal(c: float, alternative: SequentialAlternative) -> float:
    sides = 2 if alternative == "two-sided" else 1
    return float(sides * stats.norm.sf(c))


def group_sequential_design(
    looks: int | Sequence[float],
    alpha: float = 0.05,
    spending: SpendingFunction = "obrien_fleming",
    alternative: SequentialAlternative = "two-sided",
    spend_all_at_last: bool = False,
) -> GroupSequentialDesign:
    """Lan–DeMets error-spending boundaries for looks at the given information fractions.

    ``looks`` is a number of equally spaced looks or the information fractions in (0, 1].
    With ``spend_all_at_last`` the last look spends all that is left of alpha even if its
    information fraction is below 1 (the final analysis of a trial stopped short).

    >>> d = group_sequential_design(5, spending="pocock")
    >>> [round(c, 3) for c in d.boundaries]
    [2.438, 2.427, 2.41, 2.397, 2.386]
    """
    t, problem = _information(looks)
    if problem is None and not 0 < alpha < 1:
        problem = f"alpha must be in (0, 1), got {alpha}"
    if problem is None and spending not in ("obrien_fleming", "pocock"):
        problem = f"unknown spending function {spending!r}"
    if problem is not None:
        return GroupSequentialDesign(
            alpha=alpha, alternative=alternative, spending=spending,
            error="invalid_design", message=problem,
        )  # fmt: skip
    cumulative = alpha_spent(t, alpha, spending, alternative)
    if spend_all_at_last:
        cumulative[-1] = alpha
    sides = 2 if alternative == "two-sided" else 1
    per_look = np.diff(np.concatenate([[0.0], cumulative])) / sides
    rec = _Recursion()
    bounds: list[float] = []
    for k, tk in enumerate(t):
        target = float(per_look[k])
        sq = math.sqrt(tk)

        def excess(c: float, tk: float = tk, sq: float = sq, target: float = target) -> float:
            low = -c * sq if sides == 2 else -math.inf
            return rec.exits(tk, c * sq, low)[0] - target

        if target <= 0:
            c = math.inf
        else:
            c = float(optimize.brentq(excess, 0.0, 40.0, xtol=1e-12, rtol=1e-14))
        bounds.append(c)
        if k + 1 < len(t):
            a = c * sq if math.isfinite(c) else _TRUNCATE_SD * sq + 40.0
            rec.advance(tk, a, -a if sides == 2 else -math.inf, t[k + 1] - tk)
    return GroupSequentialDesign(
        alpha=alpha,
        alternative=alternative,
        spending=spending,
        information=t,
        boundaries=tuple(bounds),
        cumulative_alpha=tuple(float(v) for v in cumulative),
        nominal_p_values=tuple(_nominal(c, alternative) for c in bounds),
    )


def classical_design(
    looks: int,
    alpha: float = 0.05,
    kind: ClassicalKind = "pocock",
    alternative: SequentialAlternative = "two-sided",
) -> GroupSequentialDesign:
    """Pocock (constant z) or O'Brien–Fleming (c √(K/k)) boundaries for K equal looks.

    Reproduces Jennison & Turnbull (2000), table 2.1: C_P(5, 0.05) = 2.413,
    C_B(5, 0.05) = 2.040.

    >>> round(classical_design(5, kind="pocock").boundaries[0], 3)
    2.413
    """
    t, problem = _information(looks)
    if problem is not None:
        return GroupSequentialDesign(
            alpha=alpha, alternative=alternative, spending=f"classical_{kind}",
            error="invalid_design", message=problem,
        )  # fmt: skip
    shape = np.ones(len(t)) if kind == "pocock" else np.sqrt(1.0 / np.asarray(t))
    sides = 2 if alternative == "two-sided" else 1

    def total(c: float) -> float:
        up, low = crossing_probabilities(t, c * shape, -c * shape if sides == 2 else None)
        return float(up.sum() + low.sum()) - alpha

    c = float(optimize.brentq(total, 0.5, 10.0, xtol=1e-12))
    bounds = tuple(float(v) for v in c * shape)
    up, low = crossing_probabilities(t, bounds, [-b for b in bounds] if sides == 2 else None)
    return GroupSequentialDesign(
        alpha=alpha,
        alternative=alternative,
        spending=f"classical_{kind}",
        information=t,
        boundaries=bounds,
        cumulative_alpha=tuple(float(v) for v in np.cumsum(up + low)),
        nominal_p_values=tuple(_nominal(b, alternative) for b in bounds),
    )


def rejection_probability(design: GroupSequentialDesign, drift: float) -> float:
    """P(reject H0 at some look) when Z at t = 1 has mean ``drift`` in the direction of the
    alternative (for a two-sided design, either direction): the power for drift > 0."""
    if design.error:
        return math.nan
    b = design.boundaries
    lower = [-v for v in b] if design.alternative == "two-sided" else None
    # a "less" design rejects at Z <= -c: by symmetry, P(Z <= -c | -θ) = P(Z >= c | θ)
    up, low = crossing_probabilities(design.information, b, lower, drift=drift)
    return float(up.sum() + low.sum())


def _fixed_drift(alpha: float, power: float, alternative: SequentialAlternative) -> float:
    sides = 2 if alternative == "two-sided" else 1
    z = stats.norm.isf(alpha / sides)

    def f(theta: float) -> float:
        p = stats.norm.sf(z - theta)
        if sides == 2:
            p += stats.norm.cdf(-z - theta)
        return float(p) - power

    return float(optimize.brentq(f, 0.0, 20.0, xtol=1e-13))


def inflation_factor(design: GroupSequentialDesign, power: float = 0.8) -> float:
    """Maximum information of the design ÷ information of the fixed design, same power.

    The drift θ with P(reject) = power solves the recursion; R = (θ / θ_fixed)².

    >>> round(inflation_factor(classical_design(5, kind="pocock"), power=0.9), 4)
    1.2065
    """
    if design.error or not 0 < power < 1:
        return math.nan
    theta = float(
        optimize.brentq(lambda th: rejection_probability(design, th) - power, 0.0, 20.0, xtol=1e-10)
    )
    return (theta / _fixed_drift(design.alpha, power, design.alternative)) ** 2


@dataclass(frozen=True)
class GroupSequentialResult:
    """The decision of a group-sequential test after the looks so far."""

    design: GroupSequentialDesign
    z_statistics: tuple[float, ...] = ()
    reject: bool | None = None
    stopped_at_look: int | None = None  # 1-based
    error: str | None = None
    message: str | None = None


def group_sequential_test(
    z_statistics: Sequence[float],
    information: Sequence[float],
    alpha: float = 0.05,
    spending: SpendingFunction = "obrien_fleming",
    alternative: SequentialAlternative = "two-sided",
    final: bool = False,
) -> GroupSequentialResult:
    """Apply Lan–DeMets boundaries recomputed at the observed information fractions.

    ``final=True`` marks the last look as the final analysis (it spends what is left).

    >>> r = group_sequential_test([1.2, 2.9], [0.5, 1.0])
    >>> r.reject, r.stopped_at_look
    (True, 2)
    """
    design = group_sequential_design(information, alpha, spending, alternative, final)
    z = tuple(float(v) for v in z_statistics)
    if design.error:
        return GroupSequentialResult(design=design, error=design.error, message=design.message)
    if len(z) != design.looks:
        return GroupSequentialResult(
            design=design,
            error="invalid_design",
            message=f"{len(z)} z-statistics for {design.looks} looks",
        )
    if any(not math.isfinite(v) for v in z):
        return GroupSequentialResult(
            design=design, error="non_finite", message="z-statistics must be finite"
        )
    for k, (zk, ck) in enumerate(zip(z, design.boundaries, strict=True)):
        hit = (
            abs(zk) >= ck
            if alternative == "two-sided"
            else (zk >= ck if alternative == "greater" else zk <= -ck)
        )
        if hit:
            return GroupSequentialResult(
                design=design, z_statistics=z, reject=True, stopped_at_look=k + 1
            )
    return GroupSequentialResult(design=design, z_statistics=z, reject=False)


# --------------------------------------------------------------------------- always valid


def default_rho_squared_n(alpha: float = 0.05) -> float:
    """ρ²N = −2 ln α + ln(1 − 2 ln α): the mixing variance that makes the two-sided
    normal-mixture boundary (approximately) tightest at the planned sample size N
    (Howard et al. 2021).

    >>> round(default_rho_squared_n(0.05), 4)
    7.9362
    """
    return -2.0 * math.log(alpha) + math.log(1.0 - 2.0 * math.log(alpha))


def _w_boundary(t: FloatArray, rho_squared_n: float, level: float) -> FloatArray:
    """The mixture boundary on the W scale: |W(t)| ≥ b(t)."""
    r = 1.0 / rho_squared_n
    return np.asarray(np.sqrt(2.0 * (t + r) * np.log(np.sqrt((t + r) / r) / level)), dtype=float)


def _horizon_crossing(rho_squared_n: float, level: float, looks: int = HORIZON_LOOKS) -> float:
    """P0(Brownian motion crosses the mixture boundary at level ``level`` before t = 1)."""
    if level >= 1.0:
        return 1.0
    t = np.arange(1, looks + 1) / looks
    shift = SIEGMUND_SHIFT * math.sqrt(1.0 / looks)
    b = np.maximum(_w_boundary(t, rho_squared_n, level) - shift, 1e-9)
    z = b / np.sqrt(t)
    up, low = crossing_probabilities(t, z, -z, points_per_sd=8)
    return float(min(up.sum() + low.sum(), 1.0))


@lru_cache(maxsize=256)
def _horizon_level(alpha: float, rho_squared_n: float) -> float:
    def excess(level: float) -> float:
        return _horizon_crossing(rho_squared_n, level) - alpha

    hi = min(0.999, 10.0 * alpha)
    if excess(hi) < 0:
        hi = 0.999
    return float(optimize.brentq(excess, alpha, hi, xtol=1e-7))


def mixture_level(
    alpha: float = 0.05, rho_squared_n: float | None = None, calibration: Calibration = "horizon"
) -> float:
    """The level α' at which the mixture likelihood ratio is compared (1/α' threshold).

    >>> mixture_level(0.05, calibration="ville")
    0.05
    >>> 0.1 < mixture_level(0.05) < 0.12
    True
    """
    if calibration == "ville":
        return alpha
    c = default_rho_squared_n(alpha) if rho_squared_n is None else rho_squared_n
    return _horizon_level(float(alpha), float(c))


def mixture_multiplier(
    information: npt.ArrayLike,
    alpha: float = 0.05,
    rho_squared_n: float | None = None,
    calibration: Calibration = "horizon",
) -> FloatArray:
    """Half-width of the confidence sequence in standard errors at information fraction t.

    √(2 (1 + 1/(ρ²N t)) ln(√(ρ²N t + 1)/α')); compare with 1.96 for a fixed-horizon test.

    >>> round(float(mixture_multiplier(1.0, calibration="ville")), 3)
    3.035
    """
    c = default_rho_squared_n(alpha) if rho_squared_n is None else rho_squared_n
    level = mixture_level(alpha, c, calibration)
    t = np.asarray(information, dtype=float)
    ct = c * t
    with np.errstate(divide="ignore"):
        return np.asarray(np.sqrt(2.0 * (1.0 + 1.0 / ct) * np.log(np.sqrt(ct + 1.0) / level)))


def mixture_p_value(
    z: float,
    information: float,
    alpha: float = 0.05,
    rho_squared_n: float | None = None,
    calibration: Calibration = "horizon",
) -> float:
    """The p-value of one look: the smallest level at which the sequence excludes 0.

    ``ville``: min(1, 1/Λ). ``horizon``: P0(sup_{t ≤ 1} Λ_t ≥ Λ), the probability that
    the mixture likelihood ratio ever reaches the observed value before the horizon.
    """
    c = default_rho_squared_n(alpha) if rho_squared_n is None else rho_squared_n
    ct = c * information
    log_lr = z * z * ct / (2.0 * (ct + 1.0)) - 0.5 * math.log1p(ct)
    if log_lr <= 0.0:
        return 1.0
    if log_lr > 700.0:
        return 0.0
    level = math.exp(-log_lr)
    if calibration == "ville":
        return level
    return _horizon_crossing(c, level)


@dataclass(frozen=True)
class AlwaysValidConfig:
    """An always-valid test planned for ``planned_n`` units in total (both arms).

    ``rho_squared_n`` (ρ²N) tunes the mixture to the planned size; None uses
    :func:`default_rho_squared_n`.
    """

    planned_n: int
    alpha: float = 0.05
    difference: Difference = "absolute"
    calibration: Calibration = "horizon"
    rho_squared_n: float | None = None

    def problem(self) -> tuple[str, str] | None:
        if self.planned_n < 2:
            return "invalid_config", f"planned_n must be >= 2, got {self.planned_n}"
        if not 0 < self.alpha < 1:
            return "invalid_config", f"alpha must be in (0, 1), got {self.alpha}"
        if self.rho_squared_n is not None and not self.rho_squared_n > 0:
            return "invalid_config", "rho_squared_n must be > 0"
        return None


@dataclass(frozen=True)
class AlwaysValidResult:
    """One look of an always-valid test. Numbers are None when ``error`` is set."""

    calibration: Calibration
    alpha: float
    estimate: float | None = None
    standard_error: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    z: float | None = None
    p_value: float | None = None
    information: float | None = None
    level: float | None = None  # α'
    reject: bool | None = None
    beyond_horizon: bool = False
    error: str | None = None
    message: str | None = None


def always_valid_test(
    control: UnitStatistic, treatment: UnitStatistic, config: AlwaysValidConfig
) -> AlwaysValidResult:
    """The always-valid interval and p-value at the current look.

    >>> from codex_ds.experiments.statistics import Proportion
    >>> cfg = AlwaysValidConfig(planned_n=20_000)
    >>> r = always_valid_test(Proportion(5000, 500), Proportion(5000, 600), cfg)
    >>> r.reject, r.information
    (True, 0.5)
    """
    problem = config.problem()
    if problem:
        return AlwaysValidResult(
            calibration=config.calibration, alpha=config.alpha, error=problem[0], message=problem[1]
        )
    freq = compare(
        control,
        treatment,
        TestConfig(
            difference=config.difference, distribution="normal", proportion_variance="unpooled"
        ),
    )
    if freq.error or freq.estimate is None or freq.standard_error is None:
        return AlwaysValidResult(
            calibration=config.calibration,
            alpha=config.alpha,
            error=freq.error,
            message=freq.message,
        )
    n = control.n + treatment.n
    t = n / config.planned_n
    c = config.rho_squared_n or default_rho_squared_n(config.alpha)
    level = mixture_level(config.alpha, c, config.calibration)
    half = float(mixture_multiplier(t, config.alpha, c, config.calibration)) * freq.standard_error
    z = freq.estimate / freq.standard_error
    beyond = config.calibration == "horizon" and t > 1.0
    return AlwaysValidResult(
        calibration=config.calibration,
        alpha=config.alpha,
        estimate=freq.estimate,
        standard_error=freq.standard_error,
        ci_low=freq.estimate - half,
        ci_high=freq.estimate + half,
        z=z,
        p_value=mixture_p_value(z, t, config.alpha, c, config.calibration),
        information=t,
        level=level,
        reject=abs(freq.estimate) >= half,
        beyond_horizon=beyond,
        message=(
            f"{n} units exceed the planned {config.planned_n}: the horizon-calibrated "
            "guarantee holds only up to the planned sample size"
            if beyond
            else None
        ),
    )


@dataclass(frozen=True)
class ConfidenceSequence:
    """Looks of an always-valid test so far: the running intersection of the intervals
    and the running minimum of the p-values are valid at every look.

    >>> from codex_ds.experiments.statistics import Proportion
    >>> cs = ConfidenceSequence(AlwaysValidConfig(planned_n=4000))
    >>> cs = cs.update(Proportion(1000, 100), Proportion(1000, 118))
    >>> cs = cs.update(Proportion(2000, 200), Proportion(2000, 260))
    >>> len(cs.looks), cs.reject
    (2, True)
    """

    config: AlwaysValidConfig
    looks: tuple[AlwaysValidResult, ...] = field(default=())

    def update(self, control: UnitStatistic, treatment: UnitStatistic) -> ConfidenceSequence:
        """Add a look with the cumulative statistics of each arm."""
        look = always_valid_test(control, treatment, self.config)
        return replace(self, looks=(*self.looks, look))

    @property
    def _valid(self) -> list[AlwaysValidResult]:
        return [r for r in self.looks if r.error is None and not r.beyond_horizon]

    @property
    def ci(self) -> tuple[float, float] | None:
        valid = self._valid
        if not valid:
            return None
        return (
            max(r.ci_low for r in valid if r.ci_low is not None),
            min(r.ci_high for r in valid if r.ci_high is not None),
        )

    @property
    def p_value(self) -> float | None:
        ps = [r.p_value for r in self._valid if r.p_value is not None]
        return min(ps) if ps else None

    @property
    def reject(self) -> bool | None:
        p = self.p_value
        return None if p is None else p <= self.config.alpha
