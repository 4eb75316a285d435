"""The calibration harness: does each test do what its nominal level promises?

:func:`calibrate` simulates thousands of experiments at once, vectorised over simulations:
it draws per-user outcomes for every simulated experiment with numpy, reduces them to the
sufficient statistics the warehouse would send (n, Σy, Σy², cross products), and runs the
package's own array kernels on them -- the same arithmetic :func:`~codex_ds.experiments.
frequentist.compare` performs on one experiment. It reports, per test:

* the false-positive rate at ``alpha`` under A/A (no effect);
* the coverage of the 95 % interval for a planted effect;
* for CUPED, the interval width relative to the unadjusted test against √(1 − ρ²);
* predicted power against simulated power;
* for sequential monitoring with ``looks`` interim looks: the group-sequential designs
  (O'Brien–Fleming- and Pocock-type spending), the always-valid confidence sequence
  (horizon-calibrated, and Ville-calibrated as GrowthBook's), and naive peeking at a
  fixed-horizon test every look (the documented contrast, ≈ 25 % at 20 looks).

Every figure carries its Monte-Carlo standard error √(p(1 − p)/n_sims) and a 95 % Wilson
interval, so a reader can tell simulation noise from miscalibration.

Simulation models (:class:`SimulationModel`), chosen to look like coding-assistant data:

* ``proportion`` -- a per-user binary outcome (e.g. "accepted at least one suggestion"),
  p = 0.3; planted effect +10 % relative. Binomial counts are drawn directly.
* ``welch`` -- a skewed per-user value (e.g. accepted characters), lognormal with
  log-SD 1; planted effect ×1.05, checked on the absolute and the relative scale.
* ``ratio`` -- the acceptance rate, accepted ÷ shown over each user's suggestions: shown
  = 1 + Poisson(λ), λ ~ Gamma(2, mean 20); the user's acceptance probability is
  0.6 · Beta(2, 2) (a user-level random effect, ICC ≈ 0.09); accepted ~ Binomial(shown,
  p). Analysed by the delta method with the user as unit; the suggestion-level
  binomial test that ignores the clustering (``ratio_naive``) is reported as a contrast.
  Planted effect: every user's probability × 1.10.
* ``cuped`` -- a skewed per-user metric y and its pre-period value x (standardised
  Gamma(4) variables) with correlation ρ = 0.7; planted effect heterogeneous,
  δ(1 + 0.5 x), whose average is δ.
* ``srm`` -- units per arm drawn with a 50/50 allocation; the chi-square check's FPR.
* sequential tests -- normal per-user outcomes; each look adds n_per_arm / looks users per
  arm, whose sum and within-batch sum of squares are drawn exactly (normal sum, scaled
  χ² for the sum of squares), so 20,000 simulated trials cost a few milliseconds.

>>> r = calibrate(n_sims=400, n_per_arm=200, seed=1, tests=("proportion",))
>>> f = r.get("proportion", "false_positive_rate")
>>> 0.0 <= f.estimate <= 0.15, f.n_sims
(True, 400)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from codex_ds.experiments.cuped import cuped_arrays
from codex_ds.experiments.frequentist import EffectArrays, effect_arrays, proportion_arrays
from codex_ds.experiments.power import (
    PowerConfig,
    mde_proportions,
    power_proportions,
    power_t,
    solve_effect_size,
)
from codex_ds.experiments.sequential import (
    Calibration,
    SpendingFunction,
    group_sequential_design,
    mixture_multiplier,
    rejection_probability,
)
from codex_ds.experiments.srm import srm_p_values
from codex_ds.experiments.statistics import covariance_arrays, ratio_arrays, variance_arrays

__all__ = [
    "ALL_TESTS",
    "FIXED_HORIZON_TESTS",
    "SEQUENTIAL_TESTS",
    "CalibrationFigure",
    "CalibrationReport",
    "CalibrationTest",
    "SimulationModel",
    "calibrate",
    "mc_standard_error",
    "wilson_interval",
]

CalibrationTest = Literal[
    "proportion",
    "welch",
    "ratio",
    "cuped",
    "srm",
    "power",
    "group_sequential",
    "always_valid",
    "naive_peeking",
]
ALL_TESTS: tuple[CalibrationTest, ...] = get_args(CalibrationTest)
FIXED_HORIZON_TESTS: tuple[CalibrationTest, ...] = ("proportion", "welch", "ratio", "cuped")
SEQUENTIAL_TESTS: tuple[CalibrationTest, ...] = (
    "group_sequential",
    "always_valid",
    "naive_peeking",
)
Quantity = Literal["false_positive_rate", "coverage", "width_ratio", "power"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
#: Per-user draws per chunk of simulations (bounds memory at a few hundred MB).
MAX_DRAWS_PER_CHUNK = 4_000_000


def mc_standard_error(p: float, n_sims: int) -> float:
    """Monte-Carlo standard error of a simulated rate: √(p(1 − p)/n_sims).

    >>> round(mc_standard_error(0.05, 2000), 5)
    0.00487
    """
    return math.sqrt(max(p * (1.0 - p), 0.0) / n_sims)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate (sensible at 0 and 1, unlike Wald).

    >>> [round(x, 4) for x in wilson_interval(100, 2000)]
    [0.0413, 0.0604]
    """
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class CalibrationFigure:
    """One simulated quantity with its Monte-Carlo error and its target."""

    test: str
    quantity: Quantity
    estimate: float
    mc_standard_error: float
    mc_interval: tuple[float, float]
    target: float
    n_sims: int
    description: str

    def describe(self) -> str:
        """One line for reports and assertion messages."""
        if self.quantity == "width_ratio":
            return (
                f"{self.test} {self.quantity} = {self.estimate:.4f} "
                f"(MC SE {self.mc_standard_error:.4f}; target {self.target:.4f}; "
                f"{self.n_sims} sims) -- {self.description}"
            )
        lo, hi = self.mc_interval
        return (
            f"{self.test} {self.quantity} = {100 * self.estimate:.2f} % "
            f"(MC SE {100 * self.mc_standard_error:.2f} points, 95 % MC interval "
            f"{100 * lo:.2f}-{100 * hi:.2f} %; target {100 * self.target:.2f} %; "
            f"{self.n_sims} sims) -- {self.description}"
        )


@dataclass(frozen=True)
class SimulationModel:
    """Parameters of the simulated experiments (see the module docstring)."""

    proportion_baseline: float = 0.3
    proportion_lift: float = 0.10
    lognormal_sigma: float = 1.0
    mean_lift: float = 0.05
    suggestions_mean: float = 20.0
    suggestions_shape: float = 2.0
    acceptance_cap: float = 0.6
    acceptance_beta: tuple[float, float] = (2.0, 2.0)
    acceptance_lift: float = 0.10
    covariate_correlation: float = 0.7
    covariate_gamma_shape: float = 4.0
    cuped_effect_sd: float = 0.1  # planted average effect, in SDs of y
    target_power: float = 0.8


@dataclass(frozen=True)
class CalibrationReport:
    """The figures of one :func:`calibrate` run."""

    n_sims: int
    n_per_arm: int
    seed: int
    alpha: float
    looks: int
    model: SimulationModel
    figures: tuple[CalibrationFigure, ...] = field(default=())
    seconds: float = 0.0

    def get(self, test: str, quantity: Quantity) -> CalibrationFigure:
        for f in self.figures:
            if f.test == test and f.quantity == quantity:
                return f
        raise KeyError(f"no figure for {test!r} / {quantity!r}")

    def to_markdown(self) -> str:
        """The figures as a Markdown table."""
        lines = [
            "| test | quantity | estimate | MC SE | 95 % MC interval | target | what |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            if f.quantity == "width_ratio":
                est, se = f"{f.estimate:.4f}", f"{f.mc_standard_error:.4f}"
                ci = f"{f.mc_interval[0]:.4f}–{f.mc_interval[1]:.4f}"
                tgt = f"{f.target:.4f}"
            else:
                est, se = f"{100 * f.estimate:.2f} %", f"{100 * f.mc_standard_error:.2f}"
                ci = f"{100 * f.mc_interval[0]:.2f}–{100 * f.mc_interval[1]:.2f} %"
                tgt = f"{100 * f.target:.2f} %"
            lines.append(
                f"| {f.test} | {f.quantity} | {est} | {se} | {ci} | {tgt} | {f.description} |"
            )
        return "\n".join(lines)


def _rate(
    test: str, quantity: Quantity, hits: npt.ArrayLike, target: float, description: str
) -> CalibrationFigure:
    flags = np.asarray(hits, dtype=bool)
    n = int(flags.size)
    k = int(np.count_nonzero(flags))
    p = k / n
    return CalibrationFigure(
        test=test,
        quantity=quantity,
        estimate=p,
        mc_standard_error=mc_standard_error(p, n),
        mc_interval=wilson_interval(k, n),
        target=target,
        n_sims=n,
        description=description,
    )


def _chunked(
    n_sims: int, users_per_sim: int, simulate: Callable[[int], dict[str, FloatArray]]
) -> dict[str, FloatArray]:
    """Run ``simulate(m)`` on chunks of m simulations and concatenate the outputs."""
    chunk = max(1, min(n_sims, MAX_DRAWS_PER_CHUNK // max(users_per_sim, 1)))
    parts: list[dict[str, FloatArray]] = []
    done = 0
    while done < n_sims:
        m = min(chunk, n_sims - done)
        parts.append(simulate(m))
        done += m
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _covers(lo: FloatArray, hi: FloatArray, truth: float) -> BoolArray:
    return np.asarray((lo <= truth) & (truth <= hi), dtype=bool)


# --------------------------------------------------------------------------- simulators


def _sim_proportion(
    rng: np.random.Generator, n_sims: int, n: int, alpha: float, model: SimulationModel
) -> list[CalibrationFigure]:
    p0 = model.proportion_baseline
    p1 = p0 * (1.0 + model.proportion_lift)
    a, b = rng.binomial(n, p0, n_sims), rng.binomial(n, p0, n_sims)
    aa = proportion_arrays(a, n, b, n, alpha=alpha)
    a1, b1 = rng.binomial(n, p0, n_sims), rng.binomial(n, p1, n_sims)
    ab = proportion_arrays(a1, n, b1, n, alpha=alpha)
    return [
        _rate(
            "proportion",
            "false_positive_rate",
            aa.p_value < alpha,
            alpha,
            f"two-proportion z-test, A/A, p = {p0}, n = {n} per arm",
        ),
        _rate(
            "proportion",
            "coverage",
            _covers(ab.ci_low, ab.ci_high, p1 - p0),
            1 - alpha,
            f"Wald interval for p1 − p0 = {p1 - p0:.3f}",
        ),
    ]


def _lognormal_sums(
    rng: np.random.Generator, m: int, n: int, sigma: float, scale: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    y = rng.lognormal(0.0, sigma, size=(m, n)) * scale
    return y.sum(axis=1), (y * y).sum(axis=1)


def _sim_welch(
    rng: np.random.Generator, n_sims: int, n: int, alpha: float, model: SimulationModel
) -> list[CalibrationFigure]:
    sigma, lift = model.lognormal_sigma, model.mean_lift
    mean_y = math.exp(sigma**2 / 2.0)

    def simulate(m: int) -> dict[str, FloatArray]:
        out: dict[str, FloatArray] = {}
        for name, scale_b in (("aa", 1.0), ("ab", 1.0 + lift)):
            sa, qa = _lognormal_sums(rng, m, n, sigma)
            sb, qb = _lognormal_sums(rng, m, n, sigma, scale_b)
            args = (
                sa / n,
                variance_arrays(n, sa, qa),
                n,
                sb / n,
                variance_arrays(n, sb, qb),
                n,
            )
            if name == "aa":
                r = effect_arrays(*args, alpha=alpha, distribution="t")
                out["reject"] = (r.p_value < alpha).astype(float)
            else:
                r = effect_arrays(*args, alpha=alpha, distribution="t")
                out["cover_abs"] = _covers(r.ci_low, r.ci_high, lift * mean_y).astype(float)
                rr = effect_arrays(*args, alpha=alpha, distribution="t", difference="relative")
                out["cover_rel"] = _covers(rr.ci_low, rr.ci_high, lift).astype(float)
        return out

    res = _chunked(n_sims, 4 * n, simulate)
    desc = f"lognormal(0, {sigma}) per user, n = {n} per arm"
    return [
        _rate("welch", "false_positive_rate", res["reject"] > 0, alpha, f"Welch t, A/A, {desc}"),
        _rate(
            "welch",
            "coverage",
            res["cover_abs"] > 0,
            1 - alpha,
            f"absolute effect of a ×{1 + lift:g} lift, {desc}",
        ),
        _rate(
            "welch_relative",
            "coverage",
            res["cover_rel"] > 0,
            1 - alpha,
            f"relative effect {lift:g} (delta method on the ratio of means), {desc}",
        ),
    ]


def _ratio_sums(
    rng: np.random.Generator, m: int, n: int, model: SimulationModel, lift: float
) -> tuple[FloatArray, ...]:
    """Per-arm sums of accepted (M) and shown (D) over users, for m experiments."""
    shape = model.suggestions_shape
    lam = rng.gamma(shape, model.suggestions_mean / shape, size=(m, n))
    shown = 1.0 + rng.poisson(lam)
    a, b = model.acceptance_beta
    p = model.acceptance_cap * rng.beta(a, b, size=(m, n)) * (1.0 + lift)
    accepted = rng.binomial(shown.astype(np.int64), p).astype(float)
    return (
        accepted.sum(axis=1),
        (accepted * accepted).sum(axis=1),
        shown.sum(axis=1),
        (shown * shown).sum(axis=1),
        (accepted * shown).sum(axis=1),
    )


def _sim_ratio(
    rng: np.random.Generator, n_sims: int, n: int, alpha: float, model: SimulationModel
) -> list[CalibrationFigure]:
    a, b = model.acceptance_beta
    base = model.acceptance_cap * a / (a + b)
    lift = model.acceptance_lift

    def simulate(m: int) -> dict[str, FloatArray]:
        out: dict[str, FloatArray] = {}
        for name, lift_b in (("aa", 0.0), ("ab", lift)):
            sa = _ratio_sums(rng, m, n, model, 0.0)
            sb = _ratio_sums(rng, m, n, model, lift_b)
            ra, va = ratio_arrays(n, *sa)
            rb, vb = ratio_arrays(n, *sb)
            if name == "aa":
                r = effect_arrays(ra, va, n, rb, vb, n, alpha=alpha)
                out["reject"] = (r.p_value < alpha).astype(float)
                naive = proportion_arrays(sa[0], sa[2], sb[0], sb[2], alpha=alpha)
                out["naive"] = (naive.p_value < alpha).astype(float)
            else:
                r = effect_arrays(ra, va, n, rb, vb, n, alpha=alpha, difference="relative")
                out["cover_rel"] = _covers(r.ci_low, r.ci_high, lift).astype(float)
                r = effect_arrays(ra, va, n, rb, vb, n, alpha=alpha)
                out["cover_abs"] = _covers(r.ci_low, r.ci_high, base * lift).astype(float)
        return out

    res = _chunked(n_sims, 16 * n, simulate)
    desc = f"acceptance rate, user-clustered, n = {n} users per arm"
    return [
        _rate(
            "ratio",
            "false_positive_rate",
            res["reject"] > 0,
            alpha,
            f"delta-method z, A/A, {desc}",
        ),
        _rate(
            "ratio",
            "coverage",
            res["cover_rel"] > 0,
            1 - alpha,
            f"relative effect {lift:g}, {desc}",
        ),
        _rate(
            "ratio_absolute",
            "coverage",
            res["cover_abs"] > 0,
            1 - alpha,
            f"absolute effect {base * lift:.3f}, {desc}",
        ),
        _rate(
            "ratio_naive",
            "false_positive_rate",
            res["naive"] > 0,
            alpha,
            "contrast: suggestion-level binomial z-test that ignores clustering by user",
        ),
    ]


def _standard_gamma(rng: np.random.Generator, shape: float, size: tuple[int, int]) -> FloatArray:
    return np.asarray((rng.gamma(shape, 1.0, size=size) - shape) / math.sqrt(shape), float)


def _cuped_sums(
    rng: np.random.Generator, m: int, n: int, model: SimulationModel, effect: float
) -> tuple[FloatArray, ...]:
    rho, k = model.covariate_correlation, model.covariate_gamma_shape
    x = _standard_gamma(rng, k, (m, n))
    e = _standard_gamma(rng, k, (m, n))
    y = 10.0 + rho * x + math.sqrt(1.0 - rho**2) * e + effect * (1.0 + 0.5 * x)
    x = 10.0 + x
    return (
        y.sum(axis=1),
        (y * y).sum(axis=1),
        x.sum(axis=1),
        (x * x).sum(axis=1),
        (x * y).sum(axis=1),
    )


def _cuped_effect(
    n: int, sums_a: tuple[FloatArray, ...], sums_b: tuple[FloatArray, ...], alpha: float
) -> tuple[EffectArrays, EffectArrays]:
    def moments(s: tuple[FloatArray, ...]) -> tuple[FloatArray, ...]:
        sy, syy, sx, sxx, sxy = s
        return (
            sy / n,
            variance_arrays(n, sy, syy),
            sx / n,
            variance_arrays(n, sx, sxx),
            covariance_arrays(n, sxy, sx, sy),
        )

    ya, va, xa, vxa, ca = moments(sums_a)
    yb, vb, xb, vxb, cb = moments(sums_b)
    adj = cuped_arrays(ya, va, xa, vxa, ca, n, yb, vb, xb, vxb, cb, n)
    cuped = effect_arrays(
        adj.mean_a, adj.var_a, n, adj.mean_b, adj.var_b, n, alpha=alpha, distribution="t"
    )
    plain = effect_arrays(ya, va, n, yb, vb, n, alpha=alpha, distribution="t")
    return cuped, plain


def _sim_cuped(
    rng: np.random.Generator, n_sims: int, n: int, alpha: float, model: SimulationModel
) -> list[CalibrationFigure]:
    rho = model.covariate_correlation
    effect = model.cuped_effect_sd

    def simulate(m: int) -> dict[str, FloatArray]:
        cuped, plain = _cuped_effect(
            n, _cuped_sums(rng, m, n, model, 0.0), _cuped_sums(rng, m, n, model, 0.0), alpha
        )
        cuped_ab, _ = _cuped_effect(
            n, _cuped_sums(rng, m, n, model, 0.0), _cuped_sums(rng, m, n, model, effect), alpha
        )
        width = (cuped.ci_high - cuped.ci_low) / (plain.ci_high - plain.ci_low)
        return {
            "reject": (cuped.p_value < alpha).astype(float),
            "cover": _covers(cuped_ab.ci_low, cuped_ab.ci_high, effect).astype(float),
            "width": np.asarray(width, float),
        }

    res = _chunked(n_sims, 8 * n, simulate)
    desc = f"skewed metric with pre-period covariate, ρ = {rho}, n = {n} per arm"
    width = res["width"]
    w_mean = float(width.mean())
    w_se = float(width.std(ddof=1) / math.sqrt(width.size))
    return [
        _rate("cuped", "false_positive_rate", res["reject"] > 0, alpha, f"CUPED t, A/A, {desc}"),
        _rate(
            "cuped",
            "coverage",
            res["cover"] > 0,
            1 - alpha,
            f"average of a heterogeneous effect δ(1 + 0.5x), δ = {effect}, {desc}",
        ),
        CalibrationFigure(
            test="cuped",
            quantity="width_ratio",
            estimate=w_mean,
            mc_standard_error=w_se,
            mc_interval=(w_mean - 1.96 * w_se, w_mean + 1.96 * w_se),
            target=math.sqrt(1.0 - rho**2),
            n_sims=int(width.size),
            description="mean CUPED / unadjusted interval width, against √(1 − ρ²)",
        ),
    ]


def _sim_srm(
    rng: np.random.Generator, n_sims: int, n: int, alpha: float, model: SimulationModel
) -> list[CalibrationFigure]:
    a = rng.binomial(2 * n, 0.5, n_sims)
    p = srm_p_values(np.stack([a, 2 * n - a], axis=-1), [0.5, 0.5])
    return [
        _rate(
            "srm",
            "false_positive_rate",
            p < alpha,
            alpha,
            f"chi-square goodness of fit at alpha, 50/50 design, {2 * n} units",
        )
    ]


def _sim_power(
    rng: np.random.Generator, n_sims: int, n: int, alpha: float, model: SimulationModel
) -> list[CalibrationFigure]:
    target = model.target_power
    # proportions: the planted effect is the MDE for the target power (Cohen's h)
    p0 = model.proportion_baseline
    mde = mde_proportions(p0, n, PowerConfig(alpha=alpha, power=target)).mde or 0.0
    predicted_p = power_proportions(p0, mde, n, PowerConfig(alpha=alpha)).power or 0.0
    a, b = rng.binomial(n, p0, n_sims), rng.binomial(n, p0 + mde, n_sims)
    prop = proportion_arrays(a, n, b, n, alpha=alpha)
    # means: a shift of the skewed lognormal metric sized for the target power (t-test)
    sigma = model.lognormal_sigma
    sd = math.sqrt((math.exp(sigma**2) - 1.0) * math.exp(sigma**2))
    d = solve_effect_size(n, alpha, target, test="t")
    predicted_m = float(power_t(d, n, alpha))
    shift = d * sd

    def simulate(m: int) -> dict[str, FloatArray]:
        sa, qa = _lognormal_sums(rng, m, n, sigma)
        yb = rng.lognormal(0.0, sigma, size=(m, n)) + shift
        sb, qb = yb.sum(axis=1), (yb * yb).sum(axis=1)
        r = effect_arrays(
            sa / n,
            variance_arrays(n, sa, qa),
            n,
            sb / n,
            variance_arrays(n, sb, qb),
            n,
            alpha=alpha,
            distribution="t",
        )
        return {"reject": (r.p_value < alpha).astype(float)}

    res = _chunked(n_sims, 2 * n, simulate)
    return [
        _rate(
            "power_proportion",
            "power",
            prop.p_value < alpha,
            predicted_p,
            f"z-test, p0 = {p0}, MDE {mde:.4f} for {target:.0%} power (Cohen's h), n = {n}",
        ),
        _rate(
            "power_mean",
            "power",
            res["reject"] > 0,
            predicted_m,
            f"Welch t on lognormal data, shift {d:.3f} SD for {target:.0%} power "
            f"(noncentral t), n = {n}",
        ),
    ]


def _sequential_z(
    rng: np.random.Generator, n_sims: int, per_look: int, looks: int, drift: float
) -> FloatArray:
    """Welch z at each look (n_sims × looks) of trials with normal per-user outcomes.

    Each look adds ``per_look`` users per arm; the treatment mean is ``drift`` SDs of the
    final standard error above control (so drift is the mean of Z at the last look).
    """
    n_total = per_look * looks
    delta = drift * math.sqrt(2.0 / n_total)
    arms = []
    for mu in (0.0, delta):
        sums = rng.normal(per_look * mu, math.sqrt(per_look), size=(n_sims, looks))
        within = rng.chisquare(per_look - 1, size=(n_sims, looks))
        squares = within + sums**2 / per_look
        arms.append((np.cumsum(sums, axis=1), np.cumsum(squares, axis=1)))
    n = per_look * np.arange(1, looks + 1)
    (sa, qa), (sb, qb) = arms
    r = effect_arrays(sa / n, variance_arrays(n, sa, qa), n, sb / n, variance_arrays(n, sb, qb), n)
    return r.statistic


_SPENDING_NAMES = {"obrien_fleming": "O'Brien–Fleming", "pocock": "Pocock"}


def _sim_sequential(
    rng: np.random.Generator,
    n_sims: int,
    n: int,
    alpha: float,
    looks: int,
    tests: Sequence[str],
    model: SimulationModel,
) -> list[CalibrationFigure]:
    per_look = max(2, n // looks)
    z = _sequential_z(rng, n_sims, per_look, looks, 0.0)
    figures: list[CalibrationFigure] = []
    desc = f"{looks} equally spaced looks, {per_look} users per arm per look"
    t = np.arange(1, looks + 1) / looks
    if "group_sequential" in tests:
        spendings: tuple[SpendingFunction, ...] = ("obrien_fleming", "pocock")
        for spending in spendings:
            design = group_sequential_design(looks, alpha, spending)
            c = np.asarray(design.boundaries)
            name = "group_sequential" if spending == "obrien_fleming" else "group_sequential_pocock"
            figures.append(
                _rate(
                    name,
                    "false_positive_rate",
                    (np.abs(z) >= c).any(axis=1),
                    alpha,
                    f"Lan–DeMets {_SPENDING_NAMES[spending]}-type spending, {desc}",
                )
            )
        # power of the O'Brien–Fleming design: drift for the target power, predicted by the
        # recursion, against simulation
        obf = group_sequential_design(looks, alpha, "obrien_fleming")
        drift = float(
            optimize.brentq(
                lambda th: rejection_probability(obf, th) - model.target_power, 0.0, 10.0
            )
        )
        z1 = _sequential_z(rng, n_sims, per_look, looks, drift)
        figures.append(
            _rate(
                "group_sequential",
                "power",
                (np.abs(z1) >= np.asarray(obf.boundaries)).any(axis=1),
                rejection_probability(obf, drift),
                f"O'Brien–Fleming-type design, drift {drift:.3f} for "
                f"{model.target_power:.0%} power, {desc}",
            )
        )
    if "always_valid" in tests:
        calibrations: tuple[Calibration, ...] = ("horizon", "ville")
        for calibration in calibrations:
            mult = mixture_multiplier(t, alpha, calibration=calibration)
            name = "always_valid" if calibration == "horizon" else "always_valid_ville"
            what = (
                "mixture confidence sequence, horizon-calibrated"
                if calibration == "horizon"
                else "contrast: mixture confidence sequence with Ville's bound (GrowthBook)"
            )
            figures.append(
                _rate(
                    name,
                    "false_positive_rate",
                    (np.abs(z) >= mult).any(axis=1),
                    alpha,
                    f"{what}, ρ²N tuned to the planned size, {desc}",
                )
            )
    if "naive_peeking" in tests:
        crit = float(stats.norm.isf(alpha / 2.0))
        figures.append(
            _rate(
                "naive_peeking",
                "false_positive_rate",
                (np.abs(z) >= crit).any(axis=1),
                alpha,
                f"contrast: fixed-horizon z-test at every look, {desc}",
            )
        )
    return figures


_SIMULATORS: dict[
    str,
    Callable[[np.random.Generator, int, int, float, SimulationModel], list[CalibrationFigure]],
] = {
    "proportion": _sim_proportion,
    "welch": _sim_welch,
    "ratio": _sim_ratio,
    "cuped": _sim_cuped,
    "srm": _sim_srm,
    "power": _sim_power,
}


def calibrate(
    n_sims: int = 2000,
    n_per_arm: int = 500,
    seed: int = 20240601,
    tests: Sequence[CalibrationTest] = ALL_TESTS,
    alpha: float = 0.05,
    looks: int = 20,
    model: SimulationModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> CalibrationReport:
    """Simulate ``n_sims`` experiments per test and report calibration figures.

    ``n_per_arm`` is the number of users per arm (for sequential tests: at the last look).
    Each test draws from its own stream, ``default_rng([seed, k])``, so a figure does not
    depend on which other tests run. ``progress`` is called with each test's name.
    """
    if n_sims < 1 or n_per_arm < 2 or looks < 1 or not 0 < alpha < 1:
        raise ValueError("need n_sims >= 1, n_per_arm >= 2, looks >= 1 and 0 < alpha < 1")
    unknown = [t for t in tests if t not in ALL_TESTS]
    if unknown:
        raise ValueError(f"unknown test(s) {unknown}; choose from {ALL_TESTS}")
    model = model or SimulationModel()
    start = time.perf_counter()
    figures: list[CalibrationFigure] = []
    for k, name in enumerate(ALL_TESTS):
        if name not in tests or name in SEQUENTIAL_TESTS:
            continue
        if progress:
            progress(name)
        rng = np.random.default_rng([seed, k])
        figures.extend(_SIMULATORS[name](rng, n_sims, n_per_arm, alpha, model))
    sequential = [t for t in tests if t in SEQUENTIAL_TESTS]
    if sequential:
        if progress:
            progress(", ".join(sequential))
        rng = np.random.default_rng([seed, len(ALL_TESTS)])
        figures.extend(_sim_sequential(rng, n_sims, n_per_arm, alpha, looks, sequential, model))
    return CalibrationReport(
        n_sims=n_sims,
        n_per_arm=n_per_arm,
        seed=seed,
        alpha=alpha,
        looks=looks,
        model=model,
        figures=tuple(figures),
        seconds=time.perf_counter() - start,
    )
