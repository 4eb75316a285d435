"""Group-sequential boundaries against published tables and scipy's multivariate normal;
the always-valid confidence sequence against GrowthBook's and against Brownian motion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from codex_ds.experiments.frequentist import TestConfig, compare
from codex_ds.experiments.sequential import (
    AlwaysValidConfig,
    ConfidenceSequence,
    alpha_spent,
    always_valid_test,
    classical_design,
    crossing_probabilities,
    default_rho_squared_n,
    group_sequential_design,
    group_sequential_test,
    inflation_factor,
    mixture_level,
    mixture_multiplier,
    mixture_p_value,
)
from codex_ds.experiments.statistics import Proportion, SampleMean


def _mvn_continue(t: np.ndarray, bounds: np.ndarray, drift: float = 0.0) -> float:
    """P(|Z_k| < c_k for every look), Z_k = W(t_k)/√t_k, by scipy's multivariate normal."""
    cov = np.minimum.outer(t, t) / np.sqrt(np.outer(t, t))
    mvn = stats.multivariate_normal(
        mean=drift * np.sqrt(t), cov=cov, abseps=1e-7, releps=1e-7, maxpts=2_000_000, seed=1
    )
    return float(mvn.cdf(bounds, lower_limit=-bounds))


# --------------------------------------------------------------------------- published tables


def test_lan_demets_obrien_fleming_k5() -> None:
    """Two-sided α = 0.05, K = 5 equal looks, O'Brien–Fleming-type spending at α/2 per side:
    4.877, 3.357, 2.680, 2.290, 2.031 -- the boundaries tabulated by Reboussin, DeMets, Kim &
    Lan (2000, *Controlled Clinical Trials* 21:190, program ldbounds) and printed by
    gsDesign (``gsDesign(k=5, test.type=2, alpha=0.025, sfu=sfLDOF)``) and rpact."""
    d = group_sequential_design(5, alpha=0.05, spending="obrien_fleming")
    assert d.boundaries == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=6e-4)
    assert d.cumulative_alpha[-1] == pytest.approx(0.05, abs=1e-15)


def test_lan_demets_pocock_k5() -> None:
    """Pocock-type spending α ln(1 + (e − 1)t), K = 5: 2.438, 2.427, 2.410, 2.397, 2.386
    (same sources as above)."""
    d = group_sequential_design(5, alpha=0.05, spending="pocock")
    assert d.boundaries == pytest.approx([2.438, 2.427, 2.410, 2.397, 2.386], abs=6e-4)


@pytest.mark.parametrize(
    ("looks", "pocock", "obrien_fleming"),
    [(1, 1.960, 1.960), (2, 2.178, 1.977), (3, 2.289, 2.004), (4, 2.361, 2.024), (5, 2.413, 2.040)],
)
def test_classical_constants_jennison_turnbull_table_2_1(
    looks: int, pocock: float, obrien_fleming: float
) -> None:
    """Jennison & Turnbull (2000), *Group Sequential Methods with Applications to Clinical
    Trials*, table 2.1: C_P(K, 0.05) and C_B(K, 0.05) for two-sided tests."""
    p = classical_design(looks, alpha=0.05, kind="pocock")
    b = classical_design(looks, alpha=0.05, kind="obrien_fleming")
    assert p.boundaries[0] == pytest.approx(pocock, abs=6e-4)
    assert b.boundaries[-1] == pytest.approx(obrien_fleming, abs=6e-4)


# --------------------------------------------------------------------------- scipy oracle


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_boundaries_spend_exactly_the_planned_alpha(spending: str) -> None:
    """Cumulative crossing probabilities equal α(t_k) by scipy's multivariate normal CDF,
    at unequally spaced looks (not Bonferroni: the sum of nominal p-values exceeds α)."""
    t = np.array([0.2, 0.45, 0.7, 1.0])
    d = group_sequential_design(list(t), alpha=0.05, spending=spending)  # type: ignore[arg-type]
    c = np.asarray(d.boundaries)
    planned = alpha_spent(t, 0.05, spending)  # type: ignore[arg-type]
    for k in range(len(t)):
        crossed = 1.0 - _mvn_continue(t[: k + 1], c[: k + 1])
        assert crossed == pytest.approx(planned[k], abs=2e-6)
    assert sum(d.nominal_p_values) > 0.05 or spending == "obrien_fleming"


def test_crossing_probabilities_with_drift_match_scipy() -> None:
    t = np.array([0.25, 0.5, 0.75, 1.0])
    c = np.array([3.0, 2.6, 2.3, 2.1])
    up, low = crossing_probabilities(t, c, -c, drift=2.5)
    assert float(up.sum() + low.sum()) == pytest.approx(1 - _mvn_continue(t, c, 2.5), abs=2e-6)


@pytest.mark.parametrize(("kind", "power"), [("pocock", 0.8), ("obrien_fleming", 0.9)])
def test_inflation_factor_gives_the_planned_power(kind: str, power: float) -> None:
    """At R × the fixed sample size the design has the planned power (scipy oracle).

    Pocock K = 5: R = 1.228 (80 %), O'Brien–Fleming: 1.026 (90 %); cf. the inflation factors
    tabulated in Jennison & Turnbull (2000), ch. 2; the oracle here is scipy's MVN CDF."""
    d = classical_design(5, kind=kind)  # type: ignore[arg-type]
    r = inflation_factor(d, power)
    theta_fixed = stats.norm.isf(0.025) + stats.norm.isf(1 - power)
    t = np.asarray(d.information)
    reject = 1 - _mvn_continue(t, np.asarray(d.boundaries), theta_fixed * math.sqrt(r))
    assert reject == pytest.approx(power, abs=1e-4)
    assert r == pytest.approx({"pocock": 1.228, "obrien_fleming": 1.026}[kind], abs=1.5e-3)


def test_group_sequential_test_decision() -> None:
    # boundaries at t = 0.3, 0.6, 1: 3.93, 2.67, 1.98
    r = group_sequential_test([1.0, 2.8, 3.5], [0.3, 0.6, 1.0], spending="obrien_fleming")
    assert r.reject and r.stopped_at_look == 2
    one_sided = group_sequential_test([-2.5], [1.0], alternative="greater")
    assert one_sided.reject is False
    bad = group_sequential_test([1.0, 2.0], [0.6, 0.3])
    assert bad.error == "invalid_design" and bad.reject is None


# --------------------------------------------------------------------------- always valid


def test_ville_calibration_reproduces_growthbook_confidence_sequence() -> None:
    """gbstats' SequentialTwoSidedTTest (tests/frequentist/test_tests.py): control n = 3000,
    tuning parameter 1000, relative: CI (-0.55844, 1.56516), SE 0.33341."""
    a = SampleMean(n=3000, sum=1396.87, sum_squares=52377.9767)
    b = SampleMean(n=3461, sum=2422.7, sum_squares=134698.29)
    cfg = AlwaysValidConfig(planned_n=1000, difference="relative", calibration="ville")
    r = always_valid_test(a, b, cfg)
    assert (round(r.ci_low or 0, 5), round(r.ci_high or 0, 5)) == (-0.55844, 1.56516)
    assert round(r.standard_error or 0, 5) == 0.33341
    prop = always_valid_test(
        Proportion(3000, 1396),
        Proportion(3461, 2422),
        AlwaysValidConfig(planned_n=5000, difference="relative", calibration="ville"),
    )
    assert (round(prop.ci_low or 0, 5), round(prop.ci_high or 0, 5)) == (0.40098, 0.60675)


def test_howard_rho_minimises_the_width_at_the_planned_size() -> None:
    c0 = default_rho_squared_n(0.05)
    widths = [
        float(mixture_multiplier(1.0, 0.05, c0 * f, calibration="ville")) for f in (0.8, 1, 1.25)
    ]
    assert widths[1] < min(widths[0], widths[2])


def test_horizon_calibration_spends_alpha_under_continuous_monitoring() -> None:
    """The calibrated boundary is crossed by Brownian motion before the horizon with
    probability α: a fine-grid recursion (200 looks, Siegmund-corrected) and a Monte-Carlo
    of 1000-step random walks (close to continuous monitoring) agree."""
    from codex_ds.experiments.sequential import _horizon_crossing

    level = mixture_level(0.05)
    assert 0.1 < level < 0.12
    c = default_rho_squared_n(0.05)
    assert _horizon_crossing(c, level, looks=200) == pytest.approx(0.05, abs=5e-4)
    rng = np.random.default_rng(2024)
    steps, sims = 1000, 8000
    t = np.arange(1, steps + 1) / steps
    bound = np.asarray(mixture_multiplier(t, 0.05)) * np.sqrt(t)
    crossed = np.zeros(sims, dtype=bool)
    for chunk in range(0, sims, 2000):
        w = np.cumsum(rng.standard_normal((2000, steps)) / math.sqrt(steps), axis=1)
        crossed[chunk : chunk + 2000] = (np.abs(w) >= bound).any(axis=1)
    rate, se = crossed.mean(), math.sqrt(0.05 * 0.95 / sims)
    assert 0.05 - 4 * se < rate <= 0.05 + 3 * se, f"{rate:.4f} ± {se:.4f}"


def test_always_valid_result_is_consistent() -> None:
    cfg = AlwaysValidConfig(planned_n=20_000)
    a, b = Proportion(5000, 500), Proportion(5000, 575)
    r = always_valid_test(a, b, cfg)
    f = compare(a, b, TestConfig(distribution="normal", proportion_variance="unpooled"))
    half = float(mixture_multiplier(0.5)) * (f.standard_error or 0)
    assert r.ci_low == pytest.approx((f.estimate or 0) - half, rel=1e-12)
    assert r.reject == ((r.p_value or 1) <= 0.05)
    assert r.ci_high - r.ci_low > f.ci_high - f.ci_low  # type: ignore[operator]
    ville = always_valid_test(a, b, AlwaysValidConfig(planned_n=20_000, calibration="ville"))
    assert (ville.ci_high or 0) - (ville.ci_low or 0) > (r.ci_high or 0) - (r.ci_low or 0)
    z, t = r.z or 0, r.information or 0
    ct = default_rho_squared_n(0.05) * t
    lr = math.exp(z * z * ct / (2 * (ct + 1))) / math.sqrt(ct + 1)
    assert mixture_p_value(z, t, calibration="ville") == pytest.approx(min(1, 1 / lr))
    late = always_valid_test(Proportion(15000, 1500), Proportion(15000, 1530), cfg)
    assert late.beyond_horizon and late.message


def test_confidence_sequence_running_intersection() -> None:
    cs = ConfidenceSequence(AlwaysValidConfig(planned_n=8000))
    for n, xa, xb in ((1000, 100, 120), (2000, 200, 250), (4000, 400, 470)):
        cs = cs.update(Proportion(n, xa), Proportion(n, xb))
    lows = [r.ci_low for r in cs.looks]
    highs = [r.ci_high for r in cs.looks]
    assert cs.ci == (max(lows), min(highs))  # type: ignore[type-var]
    assert cs.p_value == min(r.p_value for r in cs.looks)  # type: ignore[type-var]
