"""Properties of the estimators against brute force and independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from codex_ds.causal.balance import balance_table, overlap
from codex_ds.causal.bootstrap import bootstrap, bootstrap_aipw
from codex_ds.causal.design import CausalData, check_arrays
from codex_ds.causal.doubly_robust import aipw
from codex_ds.causal.effects import CausalError
from codex_ds.causal.estimate import CausalOptions, estimator_for
from codex_ds.causal.matching import match, nearest_neighbours
from codex_ds.causal.propensity import PropensityModel, add_intercept, fit_propensity, fit_weighted
from codex_ds.causal.sensitivity import e_value, rosenbaum_bounds
from codex_ds.causal.stratification import stratify
from codex_ds.causal.weighting import crump_alpha, effective_sample_size, ipw


def _data(n: int = 1500, seed: int = 0, effect: float = 2.0) -> CausalData:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * X[:, 0] - 0.5 * X[:, 1])))).astype(float)
    y = 1 + X @ np.array([1.5, -1.0, 0.5]) + effect * t + rng.standard_normal(n)
    d = check_arrays(y, t, X)
    assert isinstance(d, CausalData)
    return d


def _model(d: CausalData, link: str = "logit") -> PropensityModel:
    m = fit_propensity(d.X, d.t, d.names, link)  # type: ignore[arg-type]
    assert isinstance(m, PropensityModel)
    return m


def test_nearest_neighbours_equal_brute_force() -> None:
    rng = np.random.default_rng(3)
    ref, q = rng.standard_normal(300), rng.standard_normal(200)
    for k in (1, 3):
        idx, dist = nearest_neighbours(ref, q, k)
        brute = np.sort(np.abs(q[:, None] - ref[None, :]), axis=1)[:, :k]
        np.testing.assert_allclose(dist, brute)
        np.testing.assert_allclose(np.abs(ref[idx] - q[:, None]), dist)


def test_matching_without_replacement_uses_each_control_once_and_respects_caliper() -> None:
    d = _data()
    m = _model(d)
    res = match(d, m.logit_scores, "ATT", k=1, replace=False, caliper=0.05)
    assert not isinstance(res, CausalError)
    w = res.weights[d.t == 0]
    assert set(np.unique(w)) <= {0.0, 1.0}  # each control at most once
    assert res.estimate.details["matched_treated"] == int(w.sum())
    loose = match(d, m.logit_scores, "ATT", k=1, replace=False, caliper=None)
    assert not isinstance(loose, CausalError)
    assert loose.estimate.details["unmatched_treated"] == 0


def test_matching_recovers_the_effect_and_balances() -> None:
    d = _data(4000, 1)
    m = _model(d)
    for estimand in ("ATT", "ATE"):
        res = match(d, m.logit_scores, estimand, k=3)
        assert not isinstance(res, CausalError)
        e = res.estimate
        assert e.ci_low < 2.0 < e.ci_high
        b = balance_table(d.X, d.t, d.names, res.weights)
        assert b.max_abs_smd_before > 0.3 and b.max_abs_smd_after < 0.1


def test_ipw_weights_balance_and_trimming() -> None:
    d = _data()
    m = _model(d)
    full = ipw(d, m, "ATE")
    crump = ipw(d, m, "ATE", trim="crump")
    assert not isinstance(full, CausalError) and not isinstance(crump, CausalError)
    alpha = crump.details["trim_alpha"]
    assert alpha == crump_alpha(m.scores)
    assert crump.details["trimmed_units"] == int(
        ((m.scores < alpha) | (m.scores > 1 - alpha)).sum()
    )
    ht = ipw(d, m, "ATE", weights="horvitz_thompson")
    assert not isinstance(ht, CausalError)
    e = m.scores
    expect = np.mean(d.t * d.y / e) - np.mean((1 - d.t) * d.y / (1 - e))
    assert ht.estimate == pytest.approx(expect, rel=1e-12)
    assert effective_sample_size(np.ones(10)) == 10


def test_crump_rule_solves_its_equation() -> None:
    rng = np.random.default_rng(5)
    e = 1 / (1 + np.exp(-rng.normal(0, 2.5, 5000)))
    a = crump_alpha(e)
    g = 1 / (e * (1 - e))
    gamma = 1 / (a * (1 - a))
    assert 0 < a < 0.5
    assert gamma == pytest.approx(2 * g[g <= gamma].mean(), rel=0.01)


def test_weighted_newton_equals_statsmodels_on_duplicated_rows() -> None:
    d = _data(500)
    counts = np.random.default_rng(2).integers(0, 3, d.n)
    beta = fit_weighted(add_intercept(d.X), d.t, counts.astype(float), np.zeros(4), "probit")
    dup = d.subset(np.repeat(np.arange(d.n), counts))  # type: ignore[arg-type]
    ref = _model(dup, "probit")
    np.testing.assert_allclose(beta, ref.coef, rtol=1e-7)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_fast_bootstrap_equals_the_generic_path(link: str) -> None:
    d = _data(800)
    fast = bootstrap_aipw(d, link, 6, seed=9, batch=4)  # type: ignore[arg-type]
    opts = CausalOptions(link=link)  # type: ignore[arg-type]
    slow = bootstrap(d, estimator_for("aipw", "ATE", opts), 6, seed=9)
    assert not isinstance(fast, CausalError) and not isinstance(slow, CausalError)
    np.testing.assert_allclose(fast.estimates, slow.estimates, rtol=1e-9)
    assert fast.ci_low < 2.0 < fast.ci_high
    serial = bootstrap_aipw(d, link, 6, seed=9, batch=4, workers=1)  # type: ignore[arg-type]
    assert not isinstance(serial, CausalError)
    np.testing.assert_array_equal(serial.estimates, fast.estimates)


def test_estimators_agree_on_a_correctly_specified_model() -> None:
    d = _data(3000, 4)
    m = _model(d)
    a = aipw(d, m)
    s = stratify(d, m.scores, strata=10)
    assert not isinstance(a, CausalError) and not isinstance(s, CausalError)
    assert a.ci_low < 2.0 < a.ci_high
    assert abs(s.estimate - 2.0) < 0.15


def test_rosenbaum_at_gamma_one_is_the_wilcoxon_test() -> None:
    d = np.random.default_rng(0).normal(0.3, 1, 200)
    rb = rosenbaum_bounds(d, gammas=(1.0, 1.5, 3.0))
    assert not isinstance(rb, CausalError)
    ref = stats.wilcoxon(d, alternative="greater", method="approx", correction=False)
    assert rb.p_upper[0] == pytest.approx(ref.pvalue, rel=1e-9)
    assert list(rb.p_upper) == sorted(rb.p_upper)  # more hidden bias, larger p


def test_e_value_formula() -> None:
    ev = e_value(-0.5, (-0.8, -0.2), 1.0)  # symmetric to a positive effect
    rr = np.exp(0.91 * 0.5)
    assert ev.e_value == pytest.approx(rr + np.sqrt(rr * (rr - 1)))
    assert e_value(0.1, (-0.1, 0.3), 1.0).e_value_ci == 1.0


def test_overlap_warns_about_extreme_scores() -> None:
    s = np.r_[np.full(50, 0.5), 0.001, 0.999]
    t = np.r_[np.tile([0.0, 1.0], 25), 0.0, 1.0]
    ov = overlap(s, t)
    assert ov.extreme_low == 1 and ov.extreme_high == 1 and ov.warnings


def test_greedy_matching_equals_a_naive_implementation() -> None:
    from codex_ds.causal.matching import _greedy_without_replacement

    rng = np.random.default_rng(11)
    ref, q = rng.standard_normal(60), rng.standard_normal(25)
    got = _greedy_without_replacement(ref, q, 2, caliper=0.5)
    used: set[int] = set()
    want: list[list[int]] = [[] for _ in q]
    for _ in range(2):
        for i in np.argsort(-q, kind="stable"):
            free = [j for j in range(len(ref)) if j not in used]
            j = min(free, key=lambda j: (abs(ref[j] - q[i]), ref[j]))
            if abs(ref[j] - q[i]) <= 0.5:
                want[i].append(j)
                used.add(j)
    assert got == want
