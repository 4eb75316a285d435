"""The simulator's planted, confounded effect of chat adoption on weekly merged PRs.

Adoption depends on segment and tenure, which also drive the baseline; ground_truth.json
holds the true ATE/ATT. The naive difference is biased; every adjusted estimator lands
within 10 % of the planted ATE; after matching every |SMD| < 0.1; and over replications the
95 % intervals cover the truth. The full coverage study (≥ 300 replications, target
[92 %, 97 %]) is ``benchmarks/bench_causal.py coverage``; here 40 replications with a
tolerance set by Monte Carlo error: with 40 runs the binomial SE of a 95 % coverage is 3.4
points, so a correct interval falls below 82 % with probability < 0.1 %.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from codex_ds.causal.dataset import DEFAULT_COVARIATES, register_tables, user_outcomes
from codex_ds.causal.design import CausalData, causal_design
from codex_ds.causal.effects import CausalError
from codex_ds.causal.estimate import CausalAnalysis, CausalOptions, estimate_effects
from codex_ds.telemetry import simulate as sim


def _data(users: int, days: int, seed: int) -> tuple[CausalData, dict]:
    result = sim.simulate(sim.SimulationConfig(users=users, days=days, seed=seed))
    frame = user_outcomes(register_tables(duckdb.connect(), result.tables))
    data = causal_design(frame, "adopted", "prs_merged_per_week", list(DEFAULT_COVARIATES))
    assert not isinstance(data, CausalError)
    return data, result.ground_truth["causal"][0]


@pytest.fixture(scope="module")
def large() -> tuple[CausalAnalysis, dict]:
    data, truth = _data(80_000, 7, 7)
    res = estimate_effects(data, CausalOptions(refute=False))
    assert isinstance(res, CausalAnalysis)
    return res, truth


@pytest.mark.slow
def test_naive_is_biased_and_adjusted_estimates_are_within_ten_percent(large) -> None:
    res, truth = large
    ate = truth["true_ate"]
    assert res.data.n == truth["n_users"]
    # naive: far from the truth, outside its own interval
    assert res.naive.estimate > 1.5 * ate
    assert not res.naive.ci_low <= ate <= res.naive.ci_high
    methods = {e.method for e in res.estimates if e.estimand == "ATE"}
    assert methods == {"psm", "ipw", "aipw", "ra", "stratification"}
    for e in res.estimates:
        if e.estimand == "ATE":
            assert abs(e.estimate / ate - 1) < 0.10, (e.method, e.estimate, ate)


@pytest.mark.slow
def test_balance_after_matching_and_weighting(large) -> None:
    res, _ = large
    assert res.balance
    for table in res.balance:
        assert table.max_abs_smd_before > 0.1  # confounded: imbalance to remove
        assert table.max_abs_smd_after < 0.1, table.adjustment


@pytest.mark.slow
def test_interval_coverage_over_replications() -> None:
    covered = {m: 0 for m in ("ipw", "aipw", "ra", "psm")}
    reps = 40
    opts = CausalOptions(methods=("psm", "ipw", "aipw", "ra"), estimands=("ATE",), refute=False)
    for rep in range(reps):
        data, truth = _data(2_000, 7, 500 + rep)
        res = estimate_effects(data, opts)
        assert isinstance(res, CausalAnalysis)
        for e in res.estimates:
            covered[e.method] += int(e.ci_low <= truth["true_ate"] <= e.ci_high)
    for method, hits in covered.items():
        assert hits / reps >= 0.82, (method, hits)


def test_default_data_every_step_runs() -> None:
    data, _ = _data(1_000, 28, 7)
    res = estimate_effects(data, CausalOptions(bootstrap=20))
    assert isinstance(res, CausalAnalysis), res
    assert not res.errors
    assert len(res.estimates) == 10
    assert all(np.isfinite(e.estimate) and e.se and e.se > 0 for e in res.estimates)
    aipw = res.get("aipw", "ATE")
    assert aipw is not None and aipw.ci_method == "percentile bootstrap"
    assert {r.name for r in res.refutations} == {"placebo_treatment", "random_common_cause"}
    assert all(r.passed for r in res.refutations)
    assert res.rosenbaum is not None and res.rosenbaum.p_upper[0] < 0.05
