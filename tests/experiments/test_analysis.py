"""From the warehouse to a decision (analysis.py, the experiment queries, the CLI), on the
simulator's planted experiment: the interval covers the true lift, the decision is right,
and the SQL sufficient statistics equal a pandas computation from the raw tables."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from codex_ds.cli.main import app
from codex_ds.experiments import analysis
from codex_ds.experiments.analysis import Aggregates, ExperimentDefinition
from codex_ds.telemetry.simulate import SimulationConfig, load_into_warehouse, simulate
from codex_ds.warehouse import db

EXP = "exp_model_v2"


@dataclass
class Sim:
    home: Path
    con: duckdb.DuckDBPyConnection
    truth: dict[str, Any]


def _sim(tmp: Path, **kw: Any) -> Iterator[Sim]:
    result = simulate(SimulationConfig(users=2000, days=28, seed=7, **kw))
    con = db.connect(tmp / "warehouse.duckdb")
    load_into_warehouse(con, result)
    (tmp / "ground_truth.json").write_text(json.dumps(result.ground_truth, default=str))
    con.close()
    ro = db.connect(tmp / "warehouse.duckdb", read_only=True)
    yield Sim(tmp, ro, result.ground_truth["experiments"][0])
    ro.close()


@pytest.fixture(scope="module")
def seven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from _sim(tmp_path_factory.mktemp("seven"))


@pytest.fixture(scope="module")
def seven_srm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from _sim(tmp_path_factory.mktemp("seven_srm"), srm=True)


# ============================================================================ decisions


def test_seed_7_ships_and_the_interval_covers_the_true_lift(seven: Sim) -> None:
    r = analysis.analyze(seven.con, ExperimentDefinition(EXP))
    assert r.error is None and r.decision == "ship", r.reason
    m = r.metric("acceptance_rate")
    assert m.cuped and m.significant and m.ci_low is not None and m.ci_high is not None
    assert m.ci_low <= seven.truth["true_relative_lift"] <= m.ci_high
    assert r.srm_p_value is not None and r.srm_p_value > 0.001
    assert r.reason.startswith("ship: acceptance rate +")
    assert sum(r.units.values()) == seven.truth["users_assigned"]
    d = r.to_dict()
    assert set(d) >= {"experiment", "srm_p_value", "decision", "reason", "metrics"}
    assert set(d["metrics"][0]) >= {
        "metric",
        "control",
        "treatment",
        "absolute_effect",
        "relative_effect",
        "ci",
        "p_value",
        "significant",
    }
    json.dumps(d, allow_nan=False)  # no NaN anywhere
    text = analysis.render_text(r)
    assert "A/B TEST RESULTS: v1 vs v2" in text and "Recommendation: ✅ Rollout v2" in text


def test_holm_adjusts_the_goal_family(seven: Sim) -> None:
    r = analysis.analyze(seven.con, ExperimentDefinition(EXP))
    goals = [m for m in r.metrics if m.role == "goal"]
    ps = sorted((m.p_value or 0.0, m.adjusted_p_value or 0.0) for m in goals)
    assert math.isclose(ps[0][1], min(1.0, 2 * ps[0][0]), rel_tol=1e-12)
    assert ps[1][1] >= ps[0][1]


def test_srm_is_invalid_with_its_p_value(seven_srm: Sim) -> None:
    r = analysis.analyze(seven_srm.con, ExperimentDefinition(EXP))
    assert r.decision == "invalid" and r.srm_p_value is not None and r.srm_p_value < 0.001
    assert r.reason.startswith("invalid: sample-ratio mismatch, p = ")
    assert f"{r.srm_p_value:.1g}" in r.reason


@pytest.fixture(scope="module")
def seven_slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """A planted guardrail regression: v2 15 % slower."""
    yield from _sim(tmp_path_factory.mktemp("seven_slow"), v2_latency_factor=1.15)


def test_a_latency_regression_rolls_back(seven_slow: Sim) -> None:
    """v2 is 15 % slower: beyond the default 5 % latency margin, rollback."""
    r = analysis.analyze(seven_slow.con, ExperimentDefinition(EXP))
    assert r.decision == "rollback"
    assert r.reason.startswith("rollback: mean latency +") and "beyond the 5 % margin" in r.reason


def test_sequential_intervals_are_wider_and_still_ship(seven: Sim) -> None:
    fixed = analysis.analyze(seven.con, ExperimentDefinition(EXP)).metric("acceptance_rate")
    seq = analysis.analyze(seven.con, ExperimentDefinition(EXP, method="sequential"))
    m = seq.metric("acceptance_rate")
    assert seq.decision == "ship" and "always-valid" in m.method
    assert m.ci_low is not None and fixed.ci_low is not None and m.ci_low < fixed.ci_low


def test_an_underpowered_experiment_holds_with_the_users_needed(seven: Sim) -> None:
    stats = analysis.load_aggregates(seven.con, EXP)
    # a tenth of each arm: the same means, ten times the variance of the estimate
    small = tuple(
        {k: (v / 40 if isinstance(v, float) else v) for k, v in row.items()}
        | {"units": max(int(row["units"]) // 40, 2)}
        for row in stats.stats
    )
    r = analysis.analyze_aggregates(
        Aggregates(EXP, stats.name, stats.control, stats.counts, small, stats.known),
        ExperimentDefinition(EXP, guardrails=()),
    )
    assert r.decision == "hold", r.reason
    assert r.more_units_per_arm is not None and r.more_units_per_arm > 0
    assert f"about {r.more_units_per_arm:,} more users per arm needed" in r.reason


# ============================================================================ bad input


def test_unknown_experiment_suggests_close_names(seven: Sim) -> None:
    r = analysis.analyze(seven.con, ExperimentDefinition("exp_model_v3"))
    assert (r.decision, r.error) == ("invalid", "unknown_experiment")
    assert "did you mean 'exp_model_v2'" in (r.message or "")


def _aggs(seven: Sim) -> Aggregates:
    return analysis.load_aggregates(seven.con, EXP)


@pytest.mark.parametrize(
    ("edit", "definition", "code"),
    [
        (
            "drop_treatment",
            ExperimentDefinition(EXP, weights={"v1": 0.5, "v2": 0.5}),
            "missing_variant",
        ),
        ("drop_control", ExperimentDefinition(EXP), "missing_variant"),
        ("zero_users", ExperimentDefinition(EXP), "no_units"),
        ("none", ExperimentDefinition(EXP, alpha=1.5), "invalid_config"),
        ("none", ExperimentDefinition(EXP, goals=("nope",)), "invalid_config"),
        (
            "none",
            ExperimentDefinition(EXP, weights={"v1": 0.5, "v2": 0.3, "v3": 0.2}),
            "missing_variant",
        ),
    ],
)
def test_degenerate_input_gives_an_error_result(
    seven: Sim, edit: str, definition: ExperimentDefinition, code: str
) -> None:
    a = _aggs(seven)
    stats = list(a.stats)
    if edit == "drop_treatment":
        stats = [r for r in stats if r["variant"] == "v1"]
    elif edit == "drop_control":
        stats = [r for r in stats if r["variant"] == "v2"]
    elif edit == "zero_users":
        stats = []
    r = analysis.analyze_aggregates(
        Aggregates(EXP, a.name, a.control, a.counts, tuple(stats), a.known), definition
    )
    assert (r.decision, r.error) == ("invalid", code), r.reason
    assert r.reason.startswith("invalid: ")
    json.dumps(r.to_dict(), allow_nan=False)


def test_zero_denominators_give_metric_errors_not_nan(seven: Sim) -> None:
    a = _aggs(seven)
    zero = tuple(
        {k: (0.0 if k.startswith("tests_") else v) for k, v in row.items()} for row in a.stats
    )
    r = analysis.analyze_aggregates(
        Aggregates(EXP, a.name, a.control, a.counts, zero, a.known), ExperimentDefinition(EXP)
    )
    m = r.metric("test_pass_rate")
    assert m.error is not None and m.relative_effect is None
    assert r.decision == "hold"  # a guardrail that cannot be checked blocks shipping
    json.dumps(r.to_dict(), allow_nan=False)


# ============================================================================ SQL oracle


def test_sql_sufficient_statistics_equal_pandas(seven: Sim) -> None:
    con = seven.con
    exp = con.execute("SELECT * FROM experiments WHERE experiment_id = ?", [EXP]).df().iloc[0]
    start, end = exp.started_at, exp.ended_at
    asg = con.execute(
        "SELECT user_id, variant FROM assignments WHERE experiment_id = ?", [EXP]
    ).df()
    sug = con.execute(
        "SELECT user_id, shown_at, outcome, latency_ms FROM suggestions "
        "WHERE outcome <> 'not_shown'"
    ).df()
    sug = sug[sug.shown_at < end]
    sug["acc"] = sug.outcome.isin(["accepted", "partially_accepted"]).astype(float)
    post, pre = sug[sug.shown_at >= start], sug[sug.shown_at < start]
    runs = con.execute(
        "SELECT user_id, ran_at, tests_passed, tests_failed FROM runs WHERE kind = 'test'"
    ).df()
    runs = runs[(runs.ran_at >= start) & (runs.ran_at < end)]
    per = asg.set_index("user_id")
    per["shown"] = post.groupby("user_id").size()
    per["accepted"] = post.groupby("user_id").acc.sum()
    per["latency"] = post.groupby("user_id").latency_ms.sum()
    per["pre_shown"] = pre.groupby("user_id").size()
    per["pre_accepted"] = pre.groupby("user_id").acc.sum()
    per["passed"] = runs.groupby("user_id").tests_passed.sum()
    per["run"] = (runs.tests_passed + runs.tests_failed).groupby(runs.user_id).sum()
    per = per.fillna(0.0)
    sql = {r["variant"]: r for r in analysis.load_aggregates(con, EXP).stats}
    for variant, g in per.groupby("variant"):
        row = sql[variant]
        expected = {
            "units": len(g),
            "shown_sum": g.shown.sum(),
            "shown_sum_squares": (g.shown**2).sum(),
            "accepted_sum": g.accepted.sum(),
            "accepted_sum_squares": (g.accepted**2).sum(),
            "accepted_shown_sum": (g.accepted * g.shown).sum(),
            "pre_accepted_shown_sum": (g.pre_accepted * g.pre_shown).sum(),
            "accepted_pre_accepted_sum": (g.accepted * g.pre_accepted).sum(),
            "shown_pre_shown_sum": (g.shown * g.pre_shown).sum(),
            "latency_sum": g.latency.sum(),
            "latency_shown_sum": (g.latency * g.shown).sum(),
            "tests_passed_sum": g.passed.sum(),
            "tests_passed_run_sum": (g.passed * g.run).sum(),
            "tests_run_sum_squares": (g.run**2).sum(),
        }
        for key, value in expected.items():
            assert math.isclose(float(row[key]), float(value), rel_tol=1e-9), (variant, key)


def test_winsorisation_caps_at_the_quantile(seven: Sim) -> None:
    plain = {r["variant"]: r for r in analysis.load_aggregates(seven.con, EXP).stats}
    capped = {r["variant"]: r for r in analysis.load_aggregates(seven.con, EXP, 0.9).stats}
    for v in plain:
        assert capped[v]["capped_accepted_sum"] < plain[v]["capped_accepted_sum"]
        assert capped[v]["accepted_sum"] == plain[v]["accepted_sum"]  # the ratio is not capped
    r = analysis.analyze(seven.con, ExperimentDefinition(EXP, winsorize_quantile=0.9))
    assert r.decision == "ship"
    assert np.isfinite(r.metric("accepted_per_user").relative_effect or np.nan)


# ============================================================================ CLI and report


def _cli(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--home", str(home), "experiment", *args])


def test_cli_list_and_analyze(seven: Sim) -> None:
    res = _cli(seven.home, "list", "--json")
    assert res.exit_code == 0, res.output
    assert {r["variant"] for r in json.loads(res.stdout)} == {"v1", "v2"}
    res = _cli(seven.home, "analyze", EXP, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["decision"] == "ship"
    res = _cli(seven.home, "analyze", EXP)
    assert res.exit_code == 0 and "Recommendation" in res.stdout
    res = _cli(seven.home, "analyze", "exp_model_v")
    assert res.exit_code == 1 and "exp_model_v2" in res.output


def test_cli_analyze_exits_0_on_invalid(seven_srm: Sim) -> None:
    res = _cli(seven_srm.home, "analyze", EXP, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["decision"] == "invalid"


def test_cli_power_and_calibrate(tmp_path: Path) -> None:
    res = _cli(tmp_path, "power", "--baseline", "0.3", "--mde", "0.02", "--json")
    assert res.exit_code == 0, res.output
    n = json.loads(res.stdout)["n_control"]
    assert 8000 < n < 9000  # Cohen's h for 0.30 → 0.32 at 80 % power
    res = _cli(tmp_path, "power", "--baseline", "0.3", "--mde", "0.02", "--cuped-rho", "0.5")
    assert res.exit_code == 0 and "users per arm" in res.stdout
    res = _cli(tmp_path, "power", "--baseline", "1.5", "--mde", "0.02")
    assert res.exit_code == 1
    res = _cli(tmp_path, "calibrate", "--sims", "50", "--n-per-arm", "50", "--seed", "1")
    assert res.exit_code == 0, res.output
    assert "MC SE" in res.stdout


def test_pipeline_step_writes_the_report_with_the_truth_check(seven: Sim, tmp_path: Path) -> None:
    from codex_ds import pipeline
    from codex_ds.settings import Workspace

    ws = Workspace.resolve(seven.home)
    ws.reports.mkdir(parents=True, exist_ok=True)
    ctx = pipeline.RunContext(ws, seven.con, SimulationConfig(users=2000, days=28, seed=7))
    res = pipeline.step_experiments(ctx)
    assert res.summary["decisions"] == {EXP: "ship"}
    assert res.summary["truth_covered"] == {EXP: True}
    text = (ws.reports / "experiments.md").read_text()
    assert "covers the planted relative lift" in text
    payload = json.loads((ws.reports / "experiments.json").read_text())
    assert payload["experiments"][0]["decision"] == "ship"
    assert isinstance(pd.DataFrame(payload["experiments"][0]["metrics"]), pd.DataFrame)
