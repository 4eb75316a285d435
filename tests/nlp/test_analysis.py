"""Outcome analyses against statsmodels and scipy; degenerate inputs return an error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from codex_ds.nlp import analysis as A

sm = pytest.importorskip("statsmodels.api")
from statsmodels.stats.proportion import proportion_confint  # noqa: E402


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (512, 1700), (1, 1)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    got = A.wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-12)


def test_logistic_trend_matches_a_binomial_glm() -> None:
    rng = np.random.default_rng(3)
    x = np.repeat(np.arange(8, dtype=float), 1) + rng.normal(0, 0.1, 8)
    n = rng.integers(50, 400, 8)
    p = 1 / (1 + np.exp(-(-1.0 + 0.2 * x)))
    k = rng.binomial(n, p)
    fit = sm.GLM(
        np.column_stack([k, n - k]), sm.add_constant(x), family=sm.families.Binomial()
    ).fit()
    t = A.logistic_trend("x", x, k, n)
    assert t.error is None
    assert t.slope == pytest.approx(fit.params[1], rel=1e-8)
    assert t.se == pytest.approx(fit.bse[1], rel=1e-6)
    lo, hi = fit.conf_int()[1]
    assert (t.ci_low, t.ci_high) == (pytest.approx(lo, rel=1e-6), pytest.approx(hi, rel=1e-6))
    assert t.p_value == pytest.approx(fit.pvalues[1], rel=1e-6)


@pytest.mark.parametrize(
    ("x", "k", "n", "reason"),
    [
        ([1, 2], [1, 1], [2, 2], "fewer than 3 groups"),
        ([1, 1, 1], [1, 2, 1], [3, 3, 3], "does not vary"),
        ([1, 2, 3], [0, 0, 0], [3, 3, 3], "all outcomes are the same"),
        ([1, 2, 3], [0, 0, 5], [5, 5, 5], "separation"),
    ],
)
def test_degenerate_trends_say_why(x, k, n, reason) -> None:
    t = A.logistic_trend("f", x, k, n)
    assert t.slope is None and t.ci_low is None
    assert t.error is not None and reason in t.error


def test_task_correlation_is_spearman_with_a_covering_interval() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    y = 1 / (1 + np.exp(-(0.8 * x + rng.normal(size=60))))
    c = A.task_correlation("x", x, y, seed=1)
    ref = stats.spearmanr(x, y)
    assert c.rho == pytest.approx(ref.statistic) and c.p_value == pytest.approx(ref.pvalue)
    assert c.ci_low < c.rho < c.ci_high
    assert A.task_correlation("x", [1, 1, 1], [0.1, 0.2, 0.3]).error == "no variation"
    assert A.task_correlation("x", [1, 2], [0.1, 0.2]).error == "fewer than 3 tasks"


def test_cluster_difference_and_rates() -> None:
    rng = np.random.default_rng(5)
    groups = np.repeat([f"t{i}" for i in range(40)], 10)
    passed = rng.random(400) < 0.4
    values = np.where(passed, 0.6, 0.4) + rng.normal(0, 0.05, 400)
    d = A.cluster_difference("v", values, passed, groups, seed=2)
    assert d.difference == pytest.approx(values[~passed].mean() - values[passed].mean())
    assert d.ci_low < d.difference < d.ci_high < 0
    assert A.cluster_difference("v", [1.0], [True], ["a"]).error is not None
    outcomes = [(g, bool(p)) for g, p in zip(groups, passed, strict=True)]
    bins = A.cluster_rates_by_quantile({f"t{i}": float(i) for i in range(40)}, outcomes, seed=0)
    assert len(bins) == 4 and sum(b.n for b in bins) == 400
    assert sum(b.successes for b in bins) == int(passed.sum())
    for b in bins:
        assert b.ci_low <= b.rate <= b.ci_high


def test_rates_by_quantile_pool_groups_exactly() -> None:
    x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    n = [100] * 8
    k = [10, 20, 30, 40, 50, 60, 70, 80]
    bins = A.rates_by_quantile(x, k, n, bins=4)
    assert [b.n for b in bins] == [200, 200, 200, 200]
    assert [b.successes for b in bins] == [30, 70, 110, 150]
    lo, hi = proportion_confint(30, 200, method="wilson")
    assert (bins[0].ci_low, bins[0].ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert A.rates_by_quantile([], [], []) == []
