"""SRM (scipy.stats.chisquare), Holm / Benjamini–Hochberg (statsmodels) and the Bayesian
normal model (numerical integration and the conjugate formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests

from codex_ds.experiments.bayesian import (
    BayesianConfig,
    GaussianPrior,
    bayesian_compare,
    posterior_arrays,
)
from codex_ds.experiments.corrections import (
    adjust_p_values,
    benjamini_hochberg,
    correct_family,
    holm,
)
from codex_ds.experiments.frequentist import TestConfig, compare
from codex_ds.experiments.srm import srm_p_values, srm_test
from codex_ds.experiments.statistics import Proportion, SampleMean

RTOL = 1e-8

# --------------------------------------------------------------------------- SRM


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ({"control": 5000, "treatment": 5150}, {"control": 0.5, "treatment": 0.5}),
        ({"a": 3300, "b": 3350, "c": 3100}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}),
        ({"control": 9100, "treatment": 900}, {"control": 0.9, "treatment": 0.1}),
        ({"control": 10000, "treatment": 9500}, {"control": 0.5, "treatment": 0.5}),
    ],
)
def test_srm_equals_scipy_chisquare(observed: dict[str, int], weights: dict[str, float]) -> None:
    r = srm_test(observed, weights)
    obs = np.array([observed[v] for v in weights], dtype=float)
    ref = stats.chisquare(obs, f_exp=obs.sum() * np.array(list(weights.values())))
    assert r.statistic == pytest.approx(ref.statistic, rel=RTOL)
    assert r.p_value == pytest.approx(ref.pvalue, rel=RTOL)
    assert r.mismatch == (ref.pvalue < 0.001)
    assert float(srm_p_values(obs, list(weights.values()))) == pytest.approx(ref.pvalue, rel=RTOL)


def test_srm_detects_lost_treatment_assignments() -> None:
    """A logging bug that loses 3 % of treatment assignments among 100k users is caught;
    1 % among 10k users is not (p ≈ 0.48): SRM needs volume."""
    r = srm_test({"control": 50_000, "treatment": 48_500}, {"control": 0.5, "treatment": 0.5})
    assert r.mismatch is True
    small = srm_test({"control": 5_000, "treatment": 4_950}, {"control": 0.5, "treatment": 0.5})
    assert small.mismatch is False


# --------------------------------------------------------------------------- corrections


@pytest.mark.parametrize("seed", range(5))
def test_holm_and_bh_equal_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.05, 4), rng.uniform(0, 1, 8), [0.01, 0.01, 1.0]])
    rng.shuffle(p)
    for ours, method in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
        reject, ref, _, _ = multipletests(p, alpha=0.05, method=method)
        np.testing.assert_allclose(ours(p), ref, rtol=RTOL)
        name = "holm" if method == "holm" else "benjamini_hochberg"
        result = adjust_p_values(list(p), name)  # type: ignore[arg-type]
        assert result.reject == tuple(bool(x) for x in reject)


def test_corrections_are_vectorised_over_families() -> None:
    rng = np.random.default_rng(9)
    p = rng.uniform(size=(10, 6))  # statsmodels' holm takes ~50 ms a call
    batch_h, batch_bh = holm(p), benjamini_hochberg(p)
    for i in range(10):
        np.testing.assert_allclose(batch_h[i], multipletests(p[i], method="holm")[1], rtol=RTOL)
        np.testing.assert_allclose(batch_bh[i], multipletests(p[i], method="fdr_bh")[1], rtol=RTOL)


def test_declared_family() -> None:
    family = {
        ("acceptance_rate", "v2"): 0.004,
        ("acceptance_rate", "v3"): 0.03,
        ("latency_ms", "v2"): 0.2,
        ("latency_ms", "v3"): 0.02,
    }
    r = correct_family(family, ["acceptance_rate", "latency_ms"], ["v2", "v3"], "holm")
    ref = multipletests(list(family.values()), method="holm")[1]
    assert list(r.adjusted.values()) == pytest.approx(list(ref), rel=RTOL)
    missing = dict(family)
    del missing[("latency_ms", "v3")]
    assert (
        correct_family(missing, ["acceptance_rate", "latency_ms"], ["v2", "v3"]).error
        == "missing_metric"
    )
    only_v2 = {k: v for k, v in family.items() if k[1] == "v2"}
    assert (
        correct_family(only_v2, ["acceptance_rate", "latency_ms"], ["v2", "v3"]).error
        == "missing_variant"
    )


# --------------------------------------------------------------------------- Bayesian


def test_flat_prior_posterior_is_the_likelihood() -> None:
    a, b = Proportion(4000, 1200), Proportion(4000, 1290)
    r = bayesian_compare(a, b)
    f = compare(a, b, TestConfig(distribution="normal", proportion_variance="unpooled"))
    assert r.posterior_mean == pytest.approx(f.estimate, rel=1e-12)
    assert r.posterior_sd == pytest.approx(f.standard_error, rel=1e-12)
    # chance to beat control = 1 − one-sided p-value of the Wald test
    z = (f.estimate or 0) / (f.standard_error or 1)
    assert r.chance_to_beat_control == pytest.approx(stats.norm.cdf(z), rel=1e-12)
    assert (r.ci_low, r.ci_high) == (pytest.approx(f.ci_low), pytest.approx(f.ci_high))


@pytest.mark.parametrize(("mean", "sd"), [(0.01, 0.02), (-0.03, 0.01), (0.0, 0.5)])
def test_expected_loss_equals_numerical_integration(mean: float, sd: float) -> None:
    post = posterior_arrays(mean, sd)
    density = stats.norm(mean, sd).pdf
    lo, hi = mean - 12 * sd, mean + 12 * sd
    loss_t = integrate.quad(lambda d: max(0.0, -d) * density(d), lo, hi, points=[0.0])[0]
    loss_c = integrate.quad(lambda d: max(0.0, d) * density(d), lo, hi, points=[0.0])[0]
    assert float(post.loss_treatment) == pytest.approx(loss_t, rel=1e-7, abs=1e-14)
    assert float(post.loss_control) == pytest.approx(loss_c, rel=1e-7, abs=1e-14)
    inverse = posterior_arrays(mean, sd, inverse=True)
    assert float(inverse.loss_treatment) == pytest.approx(loss_c, rel=1e-7, abs=1e-14)
    assert float(inverse.chance_to_beat_control) == pytest.approx(stats.norm.cdf(-mean / sd))


def test_proper_prior_is_the_conjugate_normal_update() -> None:
    a = SampleMean(n=3407, sum=1396.87, sum_squares=52377.9767)
    b = SampleMean(n=3461, sum=2422.7, sum_squares=134698.29)
    prior = GaussianPrior(mean=0.0, variance=0.3**2, proper=True)
    r = bayesian_compare(a, b, BayesianConfig(difference="relative", prior=prior))
    est, se = r.estimate or 0, r.standard_error or 1
    precision = 1 / se**2 + 1 / prior.variance
    assert r.posterior_mean == pytest.approx(est / se**2 / precision, rel=1e-12)
    assert r.posterior_sd == pytest.approx(1 / math.sqrt(precision), rel=1e-12)
    assert abs(r.posterior_mean or 0) < abs(est)  # shrunk toward the prior mean 0
