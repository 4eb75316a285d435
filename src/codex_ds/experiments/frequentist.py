"""Fixed-horizon frequentist tests on sufficient statistics: z, Welch t, delta method, A/B/n.

One entry point, :func:`compare`, takes the control's and the treatment's sufficient
statistics (:mod:`codex_ds.experiments.statistics`) and a :class:`TestConfig`, and returns an
:class:`EffectResult`:

* :class:`~codex_ds.experiments.statistics.Proportion` -- the two-proportion z-test (pooled
  variance under H0 for the p-value, as ``statsmodels.stats.proportion.proportions_ztest``;
  unpooled Wald interval);
* :class:`~codex_ds.experiments.statistics.SampleMean` -- Welch's t-test with the
  Welch–Satterthwaite degrees of freedom (as ``scipy.stats.ttest_ind(equal_var=False)``);
* :class:`~codex_ds.experiments.statistics.RatioStatistic` -- the delta-method z-test on a
  ratio of per-unit sums (Deng, Knoblich & Lu 2018);
* :class:`~codex_ds.experiments.statistics.RegressionAdjusted` and
  :class:`~codex_ds.experiments.statistics.RegressionAdjustedRatio` -- CUPED
  (:mod:`codex_ds.experiments.cuped`).

Effects are ``"absolute"`` (treatment − control) or ``"relative"`` (treatment ÷ control − 1,
delta method on the ratio of means, as GrowthBook's gbstats). One-sided tests and
non-inferiority tests with a margin (for guardrails) use ``alternative`` and ``margin``.
Degenerate input gives a result whose ``error`` says why and whose numbers are None.

The array kernel :func:`effect_arrays` does the arithmetic for one or for thousands of
experiments at once (the calibration harness runs the same code on simulated arms).

>>> from codex_ds.experiments.statistics import SampleMean
>>> a = SampleMean(n=3407, sum=1396.87, sum_squares=52377.9767)
>>> b = SampleMean(n=3461, sum=2422.7, sum_squares=134698.29)
>>> r = compare(a, b)
>>> round(r.estimate, 5), round(r.p_value, 6), (round(r.ci_low, 5), round(r.ci_high, 5))
(0.29, 0.020158, (0.04538, 0.53462))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from codex_ds.experiments.corrections import CorrectionMethod, adjust_p_values
from codex_ds.experiments.statistics import (
    CovariateStatistic,
    Proportion,
    RatioStatistic,
    SampleMean,
    UnitStatistic,
)

__all__ = [
    "Alternative",
    "ChiSquareResult",
    "Difference",
    "Distribution",
    "EffectArrays",
    "EffectResult",
    "EffectSize",
    "MultiVariantResult",
    "SegmentEffects",
    "TestConfig",
    "chi_square_test",
    "cohens_d",
    "cohens_h",
    "compare",
    "compare_variants",
    "effect_arrays",
    "proportion_arrays",
    "segment_effects",
    "welch_df",
]

Difference = Literal["absolute", "relative"]
Alternative = Literal["two-sided", "greater", "less"]
Distribution = Literal["auto", "t", "normal"]
ProportionVariance = Literal["pooled", "unpooled"]
Magnitude = Literal["negligible", "small", "medium", "large"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TestConfig:
    """Options of a two-arm comparison.

    ``alternative``: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.
    ``margin`` (≥ 0, one-sided only) turns the test into a non-inferiority test: with
    ``"greater"``, H0: effect ≤ −margin (treatment is worse by at least the margin) against
    H1: effect > −margin; with ``"less"`` (a lower-is-better guardrail such as latency),
    H0: effect ≥ margin against H1: effect < margin. The margin is on the scale of
    ``difference``. ``distribution``: ``"auto"`` is Welch's t for sample means
    (and CUPED on means) and the normal for proportions and ratios.
    """

    alpha: float = 0.05
    difference: Difference = "absolute"
    alternative: Alternative = "two-sided"
    margin: float = 0.0
    distribution: Distribution = "auto"
    proportion_variance: ProportionVariance = "pooled"

    __test__ = False  # not a pytest test class

    def problem(self) -> tuple[str, str] | None:
        if not 0.0 < self.alpha < 1.0:
            return "invalid_config", f"alpha must be in (0, 1), got {self.alpha}"
        if not math.isfinite(self.margin) or self.margin < 0:
            return "invalid_config", f"margin must be a finite number >= 0, got {self.margin}"
        if self.margin > 0 and self.alternative == "two-sided":
            return "invalid_config", "a non-inferiority margin needs a one-sided alternative"
        if self.difference not in ("absolute", "relative"):
            return "invalid_config", f"unknown difference {self.difference!r}"
        if self.alternative not in ("two-sided", "greater", "less"):
            return "invalid_config", f"unknown alternative {self.alternative!r}"
        return None

    @property
    def null_value(self) -> float:
        """The effect under H0: 0, −margin (``greater``) or +margin (``less``)."""
        if self.alternative == "greater":
            return -self.margin
        if self.alternative == "less":
            return self.margin
        return 0.0


@dataclass(frozen=True)
class EffectArrays:
    """Results of :func:`effect_arrays`, one element per experiment."""

    estimate: FloatArray
    standard_error: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    df: FloatArray  # inf for the normal distribution


def welch_df(
    var_a: npt.ArrayLike, n_a: npt.ArrayLike, var_b: npt.ArrayLike, n_b: npt.ArrayLike
) -> FloatArray:
    """Welch–Satterthwaite degrees of freedom of a difference of two means.

    >>> float(welch_df(1.0, 10, 1.0, 10))
    18.0
    """
    va, vb = (
        np.asarray(var_a, float) / np.asarray(n_a, float),
        np.asarray(var_b, float) / (np.asarray(n_b, float)),
    )
    na, nb = np.asarray(n_a, float), np.asarray(n_b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1)), dtype=float)


def _sf(x: FloatArray, df: FloatArray | None) -> FloatArray:
    if df is None:
        return np.asarray(stats.norm.sf(x), dtype=float)
    return np.asarray(stats.t.sf(x, df), dtype=float)


def _ppf(q: float, df: FloatArray | None) -> FloatArray:
    if df is None:
        return np.asarray(stats.norm.ppf(q), dtype=float)
    return np.asarray(stats.t.ppf(q, df), dtype=float)


def effect_arrays(
    mean_a: npt.ArrayLike,
    var_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    mean_b: npt.ArrayLike,
    var_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    *,
    difference: Difference = "absolute",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
    margin: float = 0.0,
    distribution: Literal["t", "normal"] = "normal",
    null_standard_error: npt.ArrayLike | None = None,
) -> EffectArrays:
    """The effect of B over A, its standard error, test statistic, p-value and interval.

    Vectorised: every argument broadcasts, so one call analyses many experiments.
    ``var_*`` are per-unit variances (the sampling variance of an arm's estimate is
    ``var / n``). Absolute: Δ = μ_B − μ_A, SE² = v_A/n_A + v_B/n_B. Relative: Δ = μ_B/μ_A − 1,
    SE² = v_B/(μ_A² n_B) + μ_B² v_A/(μ_A⁴ n_A) (delta method). ``"t"`` uses Welch–Satterthwaite
    degrees of freedom. ``null_standard_error`` replaces the SE in the test statistic only
    (the pooled-variance z-test for proportions).

    >>> r = effect_arrays(0.0, 1.0, 100, 0.3, 1.0, 100)
    >>> round(float(r.statistic), 4), round(float(r.p_value), 4)
    (2.1213, 0.0339)
    """
    ma, va, na = (np.asarray(x, dtype=float) for x in (mean_a, var_a, n_a))
    mb, vb, nb = (np.asarray(x, dtype=float) for x in (mean_b, var_b, n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        if difference == "absolute":
            estimate = mb - ma
            se = np.sqrt(va / na + vb / nb)
        else:
            estimate = mb / ma - 1.0
            se = np.sqrt(vb / (ma**2 * nb) + mb**2 * va / (ma**4 * na))
        df = welch_df(va, na, vb, nb) if distribution == "t" else None
        if alternative == "greater":
            null = -margin
        elif alternative == "less":
            null = margin
        else:
            null = 0.0
        denominator = se if null_standard_error is None else np.asarray(null_standard_error, float)
        statistic = (estimate - null) / denominator
    if alternative == "two-sided":
        p = 2.0 * _sf(np.abs(statistic), df)
        q = _ppf(1.0 - alpha / 2.0, df)
        lo, hi = estimate - q * se, estimate + q * se
    elif alternative == "greater":
        p = _sf(statistic, df)
        q = _ppf(1.0 - alpha, df)
        lo, hi = estimate - q * se, np.full_like(estimate, np.inf)
    else:
        p = _sf(-statistic, df)
        q = _ppf(1.0 - alpha, df)
        lo, hi = np.full_like(estimate, -np.inf), estimate + q * se
    return EffectArrays(
        estimate=np.asarray(estimate, float),
        standard_error=np.asarray(se, float),
        statistic=np.asarray(statistic, float),
        p_value=np.minimum(np.asarray(p, float), 1.0),
        ci_low=np.asarray(lo, float),
        ci_high=np.asarray(hi, float),
        df=np.full_like(estimate, np.inf) if df is None else np.asarray(df, float),
    )


def proportion_arrays(
    successes_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    successes_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    *,
    difference: Difference = "absolute",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
    margin: float = 0.0,
    pooled: bool = True,
) -> EffectArrays:
    """The two-proportion z-test, vectorised (what :func:`compare` runs on proportions).

    The p-value of an absolute difference against 0 uses the pooled variance under H0,
    p̄(1 − p̄)(1/n_A + 1/n_B) (as ``statsmodels`` ``proportions_ztest``); the interval,
    relative effects and non-inferiority tests use the unpooled (Wald) variance.

    >>> r = proportion_arrays(100, 1000, 130, 1000)
    >>> round(float(r.statistic), 4), round(float(r.ci_low), 4)
    (2.1027, 0.0021)
    """
    xa, na = np.asarray(successes_a, dtype=float), np.asarray(n_a, dtype=float)
    xb, nb = np.asarray(successes_b, dtype=float), np.asarray(n_b, dtype=float)
    pa, pb = xa / na, xb / nb
    null_se = None
    if pooled and difference == "absolute" and (alternative == "two-sided" or margin == 0):
        p = (xa + xb) / (na + nb)
        null_se = np.sqrt(p * (1.0 - p) * (1.0 / na + 1.0 / nb))
    return effect_arrays(
        pa,
        pa * (1.0 - pa),
        na,
        pb,
        pb * (1.0 - pb),
        nb,
        difference=difference,
        alternative=alternative,
        alpha=alpha,
        margin=margin,
        distribution="normal",
        null_standard_error=null_se,
    )


@dataclass(frozen=True)
class EffectResult:
    """A two-arm comparison. Numbers are None when ``error`` is set.

    ``estimate`` is on the scale of ``difference``; ``ci_low``/``ci_high`` are ±inf on the
    open side of a one-sided test; ``df`` is None for normal-theory tests.
    """

    method: str
    difference: Difference
    alternative: Alternative
    alpha: float
    margin: float = 0.0
    estimate: float | None = None
    standard_error: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    statistic: float | None = None
    df: float | None = None
    control_mean: float | None = None
    treatment_mean: float | None = None
    control_n: int | None = None
    treatment_n: int | None = None
    error: str | None = None
    message: str | None = None

    @property
    def significant(self) -> bool | None:
        """p < alpha (None when there is no p-value)."""
        return None if self.p_value is None else self.p_value < self.alpha


def _error_result(config: TestConfig, method: str, code: str, message: str) -> EffectResult:
    return EffectResult(
        method=method,
        difference=config.difference,
        alternative=config.alternative,
        alpha=config.alpha,
        margin=config.margin,
        error=code,
        message=message,
    )


def _method_name(control: object) -> str:
    if isinstance(control, Proportion):
        return "two-proportion z-test"
    if isinstance(control, SampleMean):
        return "Welch t-test"
    if isinstance(control, RatioStatistic):
        return "delta-method z-test"
    if isinstance(control, CovariateStatistic):
        return "CUPED"
    return "unknown"


def _float(x: FloatArray) -> float | None:
    v = float(x)
    if math.isnan(v):
        return None
    return v


def result_from_arrays(
    arrays: EffectArrays,
    config: TestConfig,
    method: str,
    control: UnitStatistic,
    treatment: UnitStatistic,
    control_mean: float,
    treatment_mean: float,
) -> EffectResult:
    """Wrap a scalar :class:`EffectArrays` as an :class:`EffectResult` (NaN → error)."""
    names = ("estimate", "standard_error", "ci_low", "ci_high", "p_value", "statistic")
    arrays_ = (
        arrays.estimate,
        arrays.standard_error,
        arrays.ci_low,
        arrays.ci_high,
        arrays.p_value,
        arrays.statistic,
    )
    values = [_float(a) for a in arrays_]
    missing = [name for name, v in zip(names, values, strict=True) if v is None]
    if missing:
        return _error_result(
            config, method, "numerical_error", f"could not compute {', '.join(missing)}"
        )
    estimate, se, ci_low, ci_high, p_value, statistic = values
    df = float(arrays.df)
    return EffectResult(
        method=method,
        difference=config.difference,
        alternative=config.alternative,
        alpha=config.alpha,
        margin=config.margin,
        estimate=estimate,
        standard_error=se,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        statistic=statistic,
        df=df if math.isfinite(df) else None,
        control_mean=control_mean,
        treatment_mean=treatment_mean,
        control_n=control.n,
        treatment_n=treatment.n,
    )


def precheck(
    control: UnitStatistic, treatment: UnitStatistic, config: TestConfig, method: str
) -> EffectResult | None:
    """The error result for unusable config or input, else None."""
    problem = config.problem()
    if problem:
        return _error_result(config, method, *problem)
    if type(control) is not type(treatment):
        return _error_result(
            config,
            method,
            "mismatched_statistics",
            f"control is {type(control).__name__}, treatment is {type(treatment).__name__}",
        )
    for arm, stat in (("control", control), ("treatment", treatment)):
        arm_problem = stat.check()
        if arm_problem:
            return _error_result(config, method, arm_problem[0], f"{arm}: {arm_problem[1]}")
    return None


def compare(
    control: UnitStatistic, treatment: UnitStatistic, config: TestConfig | None = None
) -> EffectResult:
    """Compare treatment with control on one metric (see the module docstring).

    >>> from codex_ds.experiments.statistics import Proportion
    >>> r = compare(Proportion(1000, 100), Proportion(1000, 130))
    >>> r.method, round(r.estimate, 3), round(r.p_value, 4)
    ('two-proportion z-test', 0.03, 0.0355)
    >>> compare(Proportion(10, 10), Proportion(12, 12)).error
    'all_successes'
    """
    config = config or TestConfig()
    method = _method_name(control)
    if isinstance(control, CovariateStatistic) and isinstance(treatment, CovariateStatistic):
        from codex_ds.experiments.cuped import cuped_compare

        return cuped_compare(control, treatment, config)
    if method == "unknown":
        return _error_result(
            config, method, "unknown_statistic", f"cannot test {type(control).__name__}"
        )
    failure = precheck(control, treatment, config, method)
    if failure:
        return failure
    ma, mb = control.mean, treatment.mean
    va, vb = control.variance, treatment.variance
    na, nb = control.n, treatment.n
    distribution = config.distribution
    if isinstance(control, Proportion) and isinstance(treatment, Proportion):
        successes = control.successes + treatment.successes
        if successes == na + nb:
            return _error_result(
                config, method, "all_successes", "every unit in both arms has the event"
            )
        if successes == 0:
            return _error_result(config, method, "no_successes", "no unit in either arm has it")
        if config.difference == "relative" and ma == 0:
            return _error_result(
                config, method, "zero_control_mean", "the control has no successes"
            )
        pooled = config.proportion_variance == "pooled"
        if distribution != "t" and (pooled or va / na + vb / nb > 0):
            arrays = proportion_arrays(
                control.successes,
                na,
                treatment.successes,
                nb,
                difference=config.difference,
                alternative=config.alternative,
                alpha=config.alpha,
                margin=config.margin,
                pooled=pooled,
            )
            return result_from_arrays(arrays, config, method, control, treatment, ma, mb)
        # distribution="t": Welch's t on p(1 − p) variances, as GrowthBook's gbstats
        method = "Welch t-test on proportions"
    if va / na + vb / nb <= 0:
        return _error_result(
            config, method, "zero_variance", "both arms have zero variance: nothing to test"
        )
    if config.difference == "relative" and ma == 0:
        return _error_result(
            config, method, "zero_control_mean", "the control mean is 0: no relative effect"
        )
    if distribution == "auto":
        distribution = "t" if isinstance(control, SampleMean) else "normal"
    if distribution == "normal" and isinstance(control, SampleMean):
        method = "z-test on means"
    elif distribution == "t" and isinstance(control, RatioStatistic):
        method = "delta-method t-test"
    arrays = effect_arrays(
        ma,
        va,
        na,
        mb,
        vb,
        nb,
        difference=config.difference,
        alternative=config.alternative,
        alpha=config.alpha,
        margin=config.margin,
        distribution=distribution,
    )
    return result_from_arrays(arrays, config, method, control, treatment, ma, mb)


@dataclass(frozen=True)
class MultiVariantResult:
    """An A/B/n comparison: every variant against the control, with corrected p-values."""

    control: str
    correction: CorrectionMethod
    results: Mapping[str, EffectResult] = field(default_factory=dict)
    adjusted_p_values: Mapping[str, float | None] = field(default_factory=dict)
    error: str | None = None
    message: str | None = None


def compare_variants(
    statistics: Mapping[str, UnitStatistic],
    control: str,
    config: TestConfig | None = None,
    correction: CorrectionMethod = "holm",
) -> MultiVariantResult:
    """Compare every variant with ``control`` and correct the p-values over the variants.

    >>> from codex_ds.experiments.statistics import Proportion
    >>> arms = {"a": Proportion(500, 50), "b": Proportion(500, 70), "c": Proportion(500, 52)}
    >>> r = compare_variants(arms, control="a")
    >>> sorted(r.results), round(r.adjusted_p_values["b"], 4)
    (['b', 'c'], 0.1033)
    >>> compare_variants(arms, control="z").error
    'missing_variant'
    """
    config = config or TestConfig()
    if control not in statistics:
        return MultiVariantResult(
            control=control,
            correction=correction,
            error="missing_variant",
            message=f"control {control!r} is not among the variants {sorted(statistics)}",
        )
    others = [v for v in statistics if v != control]
    if not others:
        return MultiVariantResult(
            control=control,
            correction=correction,
            error="missing_variant",
            message="no treatment variant to compare with the control",
        )
    results = {v: compare(statistics[control], statistics[v], config) for v in others}
    valid = [v for v in others if results[v].p_value is not None]
    adjusted: dict[str, float | None] = dict.fromkeys(others)
    if valid:
        corrected = adjust_p_values([results[v].p_value or 0.0 for v in valid], correction)
        if corrected.adjusted is not None:
            adjusted.update(zip(valid, corrected.adjusted, strict=True))
    return MultiVariantResult(
        control=control, correction=correction, results=results, adjusted_p_values=adjusted
    )


@dataclass(frozen=True)
class SegmentEffects:
    """Effects per segment, corrected over segments, and Cochran's Q test of heterogeneity.

    Q = Σ w_s (Δ_s − Δ̄)² with w_s = 1/SE_s² and Δ̄ the inverse-variance weighted mean;
    under H0 (one common effect) Q ~ χ²(S − 1).
    """

    correction: CorrectionMethod
    results: Mapping[str, EffectResult] = field(default_factory=dict)
    adjusted_p_values: Mapping[str, float | None] = field(default_factory=dict)
    pooled_estimate: float | None = None
    heterogeneity_q: float | None = None
    heterogeneity_df: int | None = None
    heterogeneity_p_value: float | None = None
    error: str | None = None
    message: str | None = None


def segment_effects(
    segments: Mapping[str, tuple[UnitStatistic, UnitStatistic]],
    config: TestConfig | None = None,
    correction: CorrectionMethod = "holm",
) -> SegmentEffects:
    """The treatment effect within each segment (control, treatment), with correction.

    >>> from codex_ds.experiments.statistics import Proportion
    >>> seg = {"beginner": (Proportion(400, 80), Proportion(400, 120)),
    ...        "expert": (Proportion(400, 160), Proportion(400, 162))}
    >>> r = segment_effects(seg)
    >>> r.heterogeneity_df, r.heterogeneity_p_value < 0.05
    (1, True)
    """
    config = config or TestConfig()
    if not segments:
        return SegmentEffects(correction=correction, error="no_segments", message="no segments")
    results = {s: compare(a, b, config) for s, (a, b) in segments.items()}
    valid = [
        s
        for s, r in results.items()
        if r.p_value is not None and r.standard_error is not None and r.standard_error > 0
    ]
    adjusted: dict[str, float | None] = dict.fromkeys(results)
    if valid:
        corrected = adjust_p_values([results[s].p_value or 0.0 for s in valid], correction)
        if corrected.adjusted is not None:
            adjusted.update(zip(valid, corrected.adjusted, strict=True))
    if len(valid) < 2:
        return SegmentEffects(
            correction=correction,
            results=results,
            adjusted_p_values=adjusted,
            error="too_few_segments",
            message="heterogeneity needs at least two segments with a valid effect",
        )
    est = np.array([results[s].estimate for s in valid], dtype=float)
    w = 1.0 / np.array([results[s].standard_error for s in valid], dtype=float) ** 2
    pooled = float(np.sum(w * est) / np.sum(w))
    q = float(np.sum(w * (est - pooled) ** 2))
    df = len(valid) - 1
    return SegmentEffects(
        correction=correction,
        results=results,
        adjusted_p_values=adjusted,
        pooled_estimate=pooled,
        heterogeneity_q=q,
        heterogeneity_df=df,
        heterogeneity_p_value=float(stats.chi2.sf(q, df)),
    )


@dataclass(frozen=True)
class ChiSquareResult:
    """Pearson's chi-square test of independence on a contingency table."""

    statistic: float | None = None
    df: int | None = None
    p_value: float | None = None
    expected: tuple[tuple[float, ...], ...] | None = None
    error: str | None = None
    message: str | None = None


def chi_square_test(
    table: Sequence[Sequence[float]] | npt.ArrayLike, yates: bool = False
) -> ChiSquareResult:
    """Chi-square test of independence (rows: variants, columns: outcomes).

    Wraps ``scipy.stats.chi2_contingency`` (``correction=yates``) with input checks.

    >>> r = chi_square_test([[90, 910], [130, 870]])
    >>> r.df, round(r.p_value, 5)
    (1, 0.00426)
    """
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        return ChiSquareResult(error="bad_shape", message=f"need an r × c table, got {t.shape}")
    if not np.all(np.isfinite(t)):
        return ChiSquareResult(error="non_finite", message="the table has non-finite counts")
    if np.any(t < 0):
        return ChiSquareResult(error="negative_counts", message="the table has negative counts")
    if np.any(t.sum(axis=0) == 0) or np.any(t.sum(axis=1) == 0):
        return ChiSquareResult(
            error="zero_variance", message="a row or column sums to 0: expected counts are 0"
        )
    res = stats.chi2_contingency(t, correction=yates)
    return ChiSquareResult(
        statistic=float(res.statistic),
        df=int(res.dof),
        p_value=float(res.pvalue),
        expected=tuple(tuple(float(x) for x in row) for row in res.expected_freq),
    )


@dataclass(frozen=True)
class EffectSize:
    """A standardised effect (Cohen 1988) with its conventional magnitude label."""

    value: float | None = None
    magnitude: Magnitude | None = None
    error: str | None = None
    message: str | None = None


def _magnitude(value: float) -> Magnitude:
    a = abs(value)
    if a < 0.2:
        return "negligible"
    if a < 0.5:
        return "small"
    if a < 0.8:
        return "medium"
    return "large"


def cohens_h(p_treatment: float, p_control: float) -> EffectSize:
    """Cohen's h = 2 asin √p₁ − 2 asin √p₂ (as ``statsmodels`` ``proportion_effectsize``).

    >>> cohens_h(0.6, 0.5).magnitude
    'small'
    """
    if not (0.0 <= p_treatment <= 1.0 and 0.0 <= p_control <= 1.0):
        return EffectSize(error="out_of_range", message="proportions must be in [0, 1]")
    h = 2.0 * math.asin(math.sqrt(p_treatment)) - 2.0 * math.asin(math.sqrt(p_control))
    return EffectSize(value=h, magnitude=_magnitude(h))


def cohens_d(control: SampleMean, treatment: SampleMean) -> EffectSize:
    """Cohen's d = (mean_B − mean_A) / pooled standard deviation.

    >>> cohens_d(SampleMean.from_values([1, 2, 3]), SampleMean.from_values([2, 3, 4])).value
    1.0
    """
    for stat in (control, treatment):
        problem = stat.check()
        if problem:
            return EffectSize(error=problem[0], message=problem[1])
    na, nb = control.n, treatment.n
    pooled = ((na - 1) * control.variance + (nb - 1) * treatment.variance) / (na + nb - 2)
    if pooled <= 0:
        return EffectSize(error="zero_variance", message="both arms have zero variance")
    d = (treatment.mean - control.mean) / math.sqrt(pooled)
    return EffectSize(value=d, magnitude=_magnitude(d))
