"""Sufficient statistics: sums merge by addition and derived moments equal numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from codex_ds.experiments.statistics import (
    CovariateStatistic,
    Proportion,
    RatioStatistic,
    RegressionAdjusted,
    RegressionAdjustedRatio,
    SampleMean,
    UnitStatistic,
    ratio_arrays,
)

RTOL = 1e-10


@pytest.fixture()
def users() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    shown = 1 + rng.poisson(rng.gamma(2.0, 10.0, 300))
    p = 0.6 * rng.beta(2, 2, 300)
    accepted = rng.binomial(shown, p)
    pre_shown = rng.poisson(15, 300)
    pre_accepted = rng.binomial(pre_shown, p)
    return {
        "accepted": accepted.astype(float),
        "shown": shown.astype(float),
        "pre_accepted": pre_accepted.astype(float),
        "pre_shown": pre_shown.astype(float),
        "y": rng.lognormal(0, 1, 300),
    }


def test_sample_mean_moments_match_numpy(users: dict[str, np.ndarray]) -> None:
    y = users["y"]
    s = SampleMean.from_values(y)
    assert s.mean == pytest.approx(y.mean(), rel=RTOL)
    assert s.variance == pytest.approx(y.var(ddof=1), rel=RTOL)
    assert s.standard_error == pytest.approx(y.std(ddof=1) / np.sqrt(y.size), rel=RTOL)


def test_merging_by_addition_equals_statistic_of_pooled_data(
    users: dict[str, np.ndarray],
) -> None:
    y, m, d = users["y"], users["accepted"], users["shown"]
    halves = (slice(0, 120), slice(120, None))
    merged_mean = SampleMean.from_values(y[halves[0]]) + SampleMean.from_values(y[halves[1]])
    assert merged_mean.variance == pytest.approx(SampleMean.from_values(y).variance, rel=RTOL)
    merged_ratio = RatioStatistic.from_values(m[halves[0]], d[halves[0]]) + (
        RatioStatistic.from_values(m[halves[1]], d[halves[1]])
    )
    whole = RatioStatistic.from_values(m, d)
    assert merged_ratio.mean == pytest.approx(whole.mean, rel=RTOL)
    assert merged_ratio.variance == pytest.approx(whole.variance, rel=RTOL)
    mp, dp = users["pre_accepted"], users["pre_shown"]
    parts = [RegressionAdjustedRatio.from_values(m[h], d[h], mp[h], dp[h]) for h in halves]
    joined = RegressionAdjustedRatio.from_values(m, d, mp, dp)
    assert (parts[0] + parts[1]).covariance == pytest.approx(joined.covariance, rel=RTOL)
    days = [Proportion(100, 30), Proportion(120, 41), Proportion(80, 22)]
    assert sum(days[1:], days[0]) == Proportion(300, 93)


def test_ratio_delta_method_equals_variance_of_linearised_values(
    users: dict[str, np.ndarray],
) -> None:
    """Delta method (Deng et al. 2018): Var(R̂)·n = Var((m − R d) / d̄) per user."""
    m, d = users["accepted"], users["shown"]
    r = RatioStatistic.from_values(m, d)
    ratio = m.sum() / d.sum()
    linearised = (m - ratio * d) / d.mean()
    assert r.mean == pytest.approx(ratio, rel=RTOL)
    assert r.variance == pytest.approx(linearised.var(ddof=1), rel=1e-9)
    # vectorised kernel agrees with the value object
    ra, va = ratio_arrays(
        [r.n, r.n],
        [r.numerator_sum] * 2,
        [r.numerator_sum_squares] * 2,
        [r.denominator_sum] * 2,
        [r.denominator_sum_squares] * 2,
        [r.cross_sum] * 2,
    )
    np.testing.assert_allclose(ra, r.mean, rtol=RTOL)
    np.testing.assert_allclose(va, r.variance, rtol=RTOL)


def test_ratio_variance_exceeds_naive_binomial_variance_under_clustering(
    users: dict[str, np.ndarray],
) -> None:
    """Users differ in acceptance: the per-suggestion binomial SE is too small."""
    r = RatioStatistic.from_values(users["accepted"], users["shown"])
    p, suggestions = r.mean, users["shown"].sum()
    assert r.standard_error**2 > 1.5 * p * (1 - p) / suggestions


def test_regression_adjusted_moments(users: dict[str, np.ndarray]) -> None:
    y, x = users["y"], users["pre_accepted"]
    s = RegressionAdjusted.from_values(y, x)
    assert s.covariance == pytest.approx(np.cov(y, x, ddof=1)[0, 1], rel=RTOL)
    assert s.covariate_variance == pytest.approx(x.var(ddof=1), rel=RTOL)
    assert s.correlation == pytest.approx(np.corrcoef(y, x)[0, 1], rel=1e-9)


def test_regression_adjusted_ratio_covariance_is_that_of_linearised_ratios(
    users: dict[str, np.ndarray],
) -> None:
    m, d, mp, dp = (users[k] for k in ("accepted", "shown", "pre_accepted", "pre_shown"))
    s = RegressionAdjustedRatio.from_values(m, d, mp, dp)
    y = (m - m.sum() / d.sum() * d) / d.mean()
    x = (mp - mp.sum() / dp.sum() * dp) / dp.mean()
    assert s.variance == pytest.approx(y.var(ddof=1), rel=1e-9)
    assert s.covariate_variance == pytest.approx(x.var(ddof=1), rel=1e-9)
    assert s.covariance == pytest.approx(np.cov(y, x, ddof=1)[0, 1], rel=1e-9)


def test_protocols() -> None:
    assert isinstance(SampleMean(3, 1.0, 1.0), UnitStatistic)
    assert isinstance(RegressionAdjusted(3, 1, 1, 1, 1, 1), CovariateStatistic)
    assert not isinstance(SampleMean(3, 1.0, 1.0), CovariateStatistic)
    assert not isinstance(RatioStatistic(3, 1, 1, 1, 1, 1), CovariateStatistic)


def test_statistics_are_frozen() -> None:
    s = SampleMean(3, 1.0, 1.0)
    with pytest.raises(AttributeError):
        s.n = 4  # type: ignore[misc]
