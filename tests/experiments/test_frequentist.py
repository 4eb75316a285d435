"""Fixed-horizon tests against external oracles: statsmodels, scipy and GrowthBook's gbstats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from codex_ds.experiments.frequentist import (
    TestConfig,
    chi_square_test,
    cohens_d,
    cohens_h,
    compare,
    compare_variants,
    effect_arrays,
    segment_effects,
)
from codex_ds.experiments.statistics import Proportion, RatioStatistic, SampleMean

RTOL = 1e-8

# GrowthBook's published case (packages/stats/tests/frequentist/test_tests.py):
GB_CONTROL = SampleMean(n=3407, sum=1396.87, sum_squares=52377.9767)
GB_TREATMENT = SampleMean(n=3461, sum=2422.7, sum_squares=134698.29)


# --------------------------------------------------------------------------- proportions


@pytest.mark.parametrize(
    ("a", "b", "alternative"),
    [
        ((100, 1000), (130, 1000), "two-sided"),
        ((1, 40), (9, 37), "two-sided"),
        ((4512, 10233), (4688, 10187), "greater"),
        ((4512, 10233), (4388, 10187), "less"),
    ],
)
def test_two_proportion_z_equals_statsmodels(
    a: tuple[int, int], b: tuple[int, int], alternative: str
) -> None:
    r = compare(Proportion(a[1], a[0]), Proportion(b[1], b[0]), TestConfig(alternative=alternative))  # type: ignore[arg-type]
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    # statsmodels' difference is first − second: put the treatment first
    z, p = proportions_ztest([b[0], a[0]], [b[1], a[1]], alternative=sm_alt)
    assert r.statistic == pytest.approx(z, rel=RTOL)
    assert r.p_value == pytest.approx(p, rel=RTOL)


def test_proportion_interval_is_unpooled_wald() -> None:
    r = compare(Proportion(1000, 100), Proportion(1000, 130))
    se = math.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000)
    q = stats.norm.ppf(0.975)
    assert r.ci_low == pytest.approx(0.03 - q * se, rel=RTOL)
    assert r.ci_high == pytest.approx(0.03 + q * se, rel=RTOL)


# --------------------------------------------------------------------------- means


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_equals_scipy_ttest_ind_from_stats(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ya = rng.lognormal(0, 1, 57)
    yb = rng.lognormal(0.2, 1.3, 91)
    a, b = SampleMean.from_values(ya), SampleMean.from_values(yb)
    r = compare(a, b)
    ref = stats.ttest_ind_from_stats(
        b.mean, math.sqrt(b.variance), b.n, a.mean, math.sqrt(a.variance), a.n, equal_var=False
    )
    assert r.statistic == pytest.approx(ref.statistic, rel=RTOL)
    assert r.p_value == pytest.approx(ref.pvalue, rel=RTOL)
    raw = stats.ttest_ind(yb, ya, equal_var=False)
    assert r.p_value == pytest.approx(raw.pvalue, rel=1e-7)
    ci = raw.confidence_interval(0.95)
    assert r.ci_low == pytest.approx(ci.low, rel=1e-7)
    assert r.ci_high == pytest.approx(ci.high, rel=1e-7)
    assert r.df == pytest.approx(raw.df, rel=RTOL)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_one_sided_welch_equals_scipy(alternative: str) -> None:
    a, b = GB_CONTROL, GB_TREATMENT
    r = compare(a, b, TestConfig(alternative=alternative))  # type: ignore[arg-type]
    ref = stats.ttest_ind_from_stats(
        b.mean,
        math.sqrt(b.variance),
        b.n,
        a.mean,
        math.sqrt(a.variance),
        a.n,
        equal_var=False,
        alternative=alternative,
    )
    assert r.p_value == pytest.approx(ref.pvalue, rel=RTOL)


def test_gbstats_published_case_absolute() -> None:
    """gbstats: difference 0.29, p = 0.020158, 95 % CI (0.04538, 0.53462).

    The published numbers are Welch's t with Welch–Satterthwaite df (≈ 5841.7): the
    normal test would give p = 0.020124 and a lower bound 0.04543.
    """
    r = compare(GB_CONTROL, GB_TREATMENT, TestConfig(difference="absolute"))
    assert round(r.estimate or 0, 5) == 0.29
    assert round(r.p_value or 0, 6) == 0.020158
    assert (round(r.ci_low or 0, 5), round(r.ci_high or 0, 5)) == (0.04538, 0.53462)
    assert round(r.standard_error or 0, 5) == 0.12478
    assert r.df == pytest.approx(5841.742, abs=1e-3)
    normal = compare(GB_CONTROL, GB_TREATMENT, TestConfig(distribution="normal"))
    assert round(normal.p_value or 0, 6) == 0.020124


def test_gbstats_published_case_relative() -> None:
    """gbstats: relative lift 0.70732, SE 0.37879, CI (-0.03526, 1.44989), p = 0.06191."""
    r = compare(GB_CONTROL, GB_TREATMENT, TestConfig(difference="relative"))
    assert round(r.estimate or 0, 5) == 0.70732
    assert round(r.standard_error or 0, 5) == 0.37879
    assert (round(r.ci_low or 0, 5), round(r.ci_high or 0, 5)) == (-0.03526, 1.44989)
    assert round(r.p_value or 0, 5) == 0.06191


def test_gbstats_one_sided_cases() -> None:
    """gbstats' OneSidedTreatmentGreaterTTest with control n = 3000."""
    a = SampleMean(n=3000, sum=1396.87, sum_squares=52377.9767)
    rel = compare(a, GB_TREATMENT, TestConfig(difference="relative", alternative="greater"))
    assert rel.estimate == pytest.approx(0.5033610858562358, rel=1e-12)
    assert rel.ci_low == pytest.approx(-0.045136675850396046, rel=1e-9)
    assert rel.p_value == pytest.approx(0.06558262868467746, rel=1e-9)
    assert rel.ci_high == math.inf
    ab = compare(a, GB_TREATMENT, TestConfig(alternative="greater"))
    assert ab.ci_low == pytest.approx(0.020791480063255735, rel=1e-9)
    assert ab.p_value == pytest.approx(0.03554272489873023, rel=1e-9)


def test_gbstats_binomial_case_with_t() -> None:
    """gbstats runs Welch's t on p(1 − p): 14/28 vs 16/30, relative."""
    r = compare(
        Proportion(28, 14), Proportion(30, 16), TestConfig(difference="relative", distribution="t")
    )
    assert round(r.estimate or 0, 5) == 0.06667
    assert (round(r.ci_low or 0, 5), round(r.ci_high or 0, 5)) == (-0.47767, 0.61101)
    assert round(r.p_value or 0, 5) == 0.80707


def test_relative_effect_is_delta_method_on_ratio_of_means() -> None:
    a, b = GB_CONTROL, GB_TREATMENT
    r = compare(a, b, TestConfig(difference="relative", distribution="normal"))
    ma, mb = a.mean, b.mean
    var = b.variance / (ma**2 * b.n) + mb**2 * a.variance / (ma**4 * a.n)
    assert r.standard_error == pytest.approx(math.sqrt(var), rel=1e-12)
    assert r.p_value == pytest.approx(2 * stats.norm.sf((mb / ma - 1) / math.sqrt(var)), rel=RTOL)


# --------------------------------------------------------------------------- guardrails


def test_non_inferiority_margin_shifts_the_null() -> None:
    """H0: Δ ≤ −margin. A flat result passes a 0.1 margin but fails a superiority test."""
    rng = np.random.default_rng(3)
    a = SampleMean.from_values(rng.normal(10, 1, 2000))
    b = SampleMean.from_values(rng.normal(10, 1, 2000))
    ni = compare(a, b, TestConfig(alternative="greater", margin=0.1))
    ref = stats.ttest_ind_from_stats(
        b.mean + 0.1,
        math.sqrt(b.variance),
        b.n,
        a.mean,
        math.sqrt(a.variance),
        a.n,
        equal_var=False,
        alternative="greater",
    )
    assert ni.p_value == pytest.approx(ref.pvalue, rel=RTOL)
    assert ni.significant
    # lower-is-better guardrail (latency): H0: Δ ≥ margin
    lat = compare(a, b, TestConfig(alternative="less", margin=0.1))
    assert lat.significant
    assert lat.ci_low == -math.inf and (lat.ci_high or 0) < 0.1


def test_margin_needs_one_sided_test() -> None:
    r = compare(GB_CONTROL, GB_TREATMENT, TestConfig(margin=0.1))
    assert r.error == "invalid_config" and r.p_value is None


# --------------------------------------------------------------------------- ratio metrics


def test_ratio_metric_delta_method_z() -> None:
    rng = np.random.default_rng(11)
    arms = []
    for lift in (1.0, 1.05):
        shown = 1 + rng.poisson(20, 800)
        accepted = rng.binomial(shown, 0.3 * lift * rng.beta(8, 8, 800) * 2)
        arms.append(RatioStatistic.from_values(accepted, shown))
    a, b = arms
    r = compare(a, b)
    se = math.sqrt(a.variance / a.n + b.variance / b.n)
    assert r.method == "delta-method z-test"
    assert r.standard_error == pytest.approx(se, rel=1e-12)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(b.mean - a.mean) / se), rel=RTOL)


# --------------------------------------------------------------------------- chi-square


@pytest.mark.parametrize("yates", [False, True])
@pytest.mark.parametrize(
    "table", [[[90, 910], [130, 870]], [[12, 30, 44], [20, 25, 51], [9, 31, 40]]]
)
def test_chi_square_equals_scipy(table: list[list[int]], yates: bool) -> None:
    r = chi_square_test(table, yates=yates)
    ref = stats.chi2_contingency(np.array(table), correction=yates)
    assert r.statistic == pytest.approx(ref.statistic, rel=RTOL)
    assert r.p_value == pytest.approx(ref.pvalue, rel=RTOL)
    assert r.df == ref.dof


def test_chi_square_2x2_equals_squared_pooled_z() -> None:
    r = chi_square_test([[100, 900], [130, 870]])
    z = compare(Proportion(1000, 100), Proportion(1000, 130))
    assert r.statistic == pytest.approx((z.statistic or 0) ** 2, rel=1e-10)
    assert r.p_value == pytest.approx(z.p_value, rel=1e-10)


# --------------------------------------------------------------------------- A/B/n, segments


def test_abn_corrects_over_variants_with_holm() -> None:
    from statsmodels.stats.multitest import multipletests

    arms = {
        "control": Proportion(5000, 1500),
        "v2": Proportion(5000, 1590),
        "v3": Proportion(5000, 1540),
        "v4": Proportion(5000, 1480),
    }
    r = compare_variants(arms, control="control", correction="holm")
    raw = [r.results[v].p_value for v in ("v2", "v3", "v4")]
    ref = multipletests(raw, method="holm")[1]
    for v, p in zip(("v2", "v3", "v4"), ref, strict=True):
        assert r.adjusted_p_values[v] == pytest.approx(p, rel=RTOL)


def test_segment_effects_and_heterogeneity() -> None:
    seg = {
        "beginner": (Proportion(2000, 400), Proportion(2000, 520)),
        "intermediate": (Proportion(2000, 600), Proportion(2000, 640)),
        "expert": (Proportion(2000, 800), Proportion(2000, 805)),
    }
    from statsmodels.stats.meta_analysis import combine_effects

    r = segment_effects(seg, TestConfig(proportion_variance="unpooled"), correction="holm")
    est = np.array([r.results[s].estimate for s in seg], dtype=float)
    var = np.array([r.results[s].standard_error for s in seg], dtype=float) ** 2
    ref = combine_effects(est, var)  # Cochran's Q of a fixed-effect meta-analysis
    assert r.heterogeneity_q == pytest.approx(ref.q, rel=1e-10)
    assert r.pooled_estimate == pytest.approx(ref.mean_effect_fe, rel=1e-10)
    assert r.heterogeneity_p_value == pytest.approx(stats.chi2.sf(ref.q, 2), rel=1e-10)
    assert (r.heterogeneity_p_value or 1) < 0.05
    assert (r.adjusted_p_values["beginner"] or 1) < 0.05
    assert (r.adjusted_p_values["expert"] or 0) > 0.5


# --------------------------------------------------------------------------- effect sizes


@pytest.mark.parametrize(("p1", "p2"), [(0.6, 0.5), (0.31, 0.3), (0.05, 0.2)])
def test_cohens_h_equals_statsmodels(p1: float, p2: float) -> None:
    assert cohens_h(p1, p2).value == pytest.approx(proportion_effectsize(p1, p2), rel=1e-12)


def test_cohens_d_pooled_sd() -> None:
    rng = np.random.default_rng(5)
    ya, yb = rng.normal(0, 1, 40), rng.normal(0.5, 1.5, 60)
    pooled = math.sqrt((39 * ya.var(ddof=1) + 59 * yb.var(ddof=1)) / 98)
    d = cohens_d(SampleMean.from_values(ya), SampleMean.from_values(yb))
    assert d.value == pytest.approx((yb.mean() - ya.mean()) / pooled, rel=1e-10)
    assert d.magnitude in ("small", "medium", "large", "negligible")


def test_kernel_is_vectorised_and_matches_scalar_results() -> None:
    r = effect_arrays(
        [GB_CONTROL.mean] * 3,
        GB_CONTROL.variance,
        GB_CONTROL.n,
        GB_TREATMENT.mean,
        GB_TREATMENT.variance,
        GB_TREATMENT.n,
        distribution="t",
    )
    scalar = compare(GB_CONTROL, GB_TREATMENT)
    assert r.p_value.shape == (3,)
    np.testing.assert_allclose(r.p_value, scalar.p_value or 0.0, rtol=1e-14)
