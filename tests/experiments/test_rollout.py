"""Staged rollouts (experiments/rollout.py, the rollout_step_stats query, the CLI, the step in
``all``): gate arithmetic against scipy, the decisions on hand-made aggregates, a
Monte-Carlo check of the false-rollback rate, and the replay on the simulator's warehouse
with a clean v2, a planted latency regression and a planted sample-ratio mismatch."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from codex_ds.cli.main import app
from codex_ds.experiments import rollout
from codex_ds.experiments.rollout import (
    GateConfig,
    RampPlan,
    Replay,
    RolloutGuardrail,
    StepData,
)
from codex_ds.experiments.sequential import alpha_spent
from codex_ds.experiments.statistics import RatioStatistic
from codex_ds.telemetry.simulate import SimulationConfig, load_into_warehouse, simulate
from codex_ds.warehouse import db

LATENCY_ONLY = GateConfig(guardrails=(RolloutGuardrail("latency_ms", 0.05),))


# ============================================================================ hand-made steps


def _arm_row(variant: str, control: bool, latency: np.ndarray, shown: np.ndarray) -> dict:
    return {
        "variant": variant,
        "is_control": control,
        "units": len(shown),
        "shown_sum": float(shown.sum()),
        "shown_sum_squares": float((shown**2).sum()),
        "latency_sum": float(latency.sum()),
        "latency_sum_squares": float((latency**2).sum()),
        "latency_shown_sum": float((latency * shown).sum()),
    }


def _users(rng: np.random.Generator, n: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-user shown suggestions and summed latency: a user-level latency level times
    per-suggestion noise, multiplied by ``factor`` in the treatment."""
    shown = rng.poisson(20, n) + 1.0
    level = 300.0 * rng.lognormal(0.0, 0.3, n)
    latency = factor * level * shown * rng.lognormal(0.0, 0.1, n)
    return latency, shown


def _replay(
    rng: np.random.Generator,
    plan: RampPlan,
    factor: float,
    n_control: int = 2000,
    population: int = 4000,
    drop: float = 0.0,
) -> Replay:
    steps = []
    for x in plan.exposures:
        if x >= 1.0:
            steps.append(StepData(x, 1.0, None, None))
            continue
        n_t = int(rng.binomial(population, x) * (1 - drop))
        rows = (
            _arm_row("a", True, *_users(rng, n_control, 1.0)),
            _arm_row("b", False, *_users(rng, n_t, factor)),
        )
        steps.append(StepData(x, 2 * x, None, None, rows))
    return Replay("exp", "a", "b", 0.5, None, tuple(steps))


def test_harm_test_is_a_one_sided_z_against_the_margin() -> None:
    rng = np.random.default_rng(1)
    plan = RampPlan((0.1, 0.5, 1.0), (3, 3, 3))
    replay = _replay(rng, plan, 1.06)
    result = rollout.evaluate_steps(replay, plan, LATENCY_ONLY, detect=0.12)
    step = result.steps[0]
    g = step.guardrails[0]
    c, t = replay.steps[0].rows
    # the relative change and its delta-method SE, by hand
    rc = c["latency_sum"] / c["shown_sum"]
    rt = t["latency_sum"] / t["shown_sum"]

    def var(row: Mapping[str, Any]) -> float:
        n = row["units"]
        mx, my = row["latency_sum"] / n, row["shown_sum"] / n
        vx = (row["latency_sum_squares"] - n * mx * mx) / (n - 1)
        vy = (row["shown_sum_squares"] - n * my * my) / (n - 1)
        cxy = (row["latency_shown_sum"] - n * mx * my) / (n - 1)
        r = mx / my
        return (vx - 2 * r * cxy + r * r * vy) / (my * my) / n

    se = math.sqrt(var(t) / rc**2 + rt**2 * var(c) / rc**4)
    assert g.relative_effect == pytest.approx(rt / rc - 1, rel=1e-9)
    assert g.standard_error == pytest.approx(se, rel=1e-6)
    z = (rt / rc - 1 - 0.05) / se
    assert g.z_harm == pytest.approx(z, rel=1e-6)
    assert g.p_harm == pytest.approx(stats.norm.sf(z), rel=1e-6)
    assert g.p_non_inferiority == pytest.approx(stats.norm.cdf(z), rel=1e-6)
    # the step's alpha: Pocock-type spending at the cumulative information fraction
    info = [1 / (1 / s.rows[0]["units"] + 1 / s.rows[1]["units"]) for s in replay.steps if s.rows]
    t1 = info[0] / sum(info)
    assert step.information_fraction == pytest.approx(t1)
    assert step.alpha == pytest.approx(0.05 * math.log1p((math.e - 1) * t1))
    assert g.alpha == step.alpha  # one guardrail: all of it
    assert sum(s.alpha or 0 for s in result.steps) == pytest.approx(0.05)
    # power: Φ((θ − m) / SE − z_{1−α}), SE from the control arm scaled by 1 + θ
    sd = 1.12 * math.sqrt(var(c) * c["units"]) / rc
    se_plan = sd * math.sqrt(1 / c["units"] + 1 / t["units"])
    expected = stats.norm.sf(stats.norm.isf(g.alpha) - 0.07 / se_plan)
    assert g.power == pytest.approx(expected, rel=1e-9)


def test_alpha_is_split_over_guardrails_and_spent_by_obrien_fleming_on_request() -> None:
    rng = np.random.default_rng(2)
    plan = RampPlan((0.05, 0.25, 0.5, 1.0), (3, 3, 3, 3))
    replay = _replay(rng, plan, 1.0)
    gates = GateConfig(
        guardrails=(RolloutGuardrail("latency_ms", 0.05), RolloutGuardrail("latency_ms", 0.1)),
        spending="obrien_fleming",
    )
    result = rollout.evaluate_steps(replay, plan, gates)
    fractions = [s.information_fraction or 0.0 for s in result.steps[:3]]
    spent = alpha_spent(fractions, 0.05, "obrien_fleming", alternative="greater")
    assert [s.alpha for s in result.steps[:3]] == pytest.approx(np.diff(spent, prepend=0.0))
    for s in result.steps[:3]:
        assert all(g.alpha == pytest.approx((s.alpha or 0) / 2) for g in s.guardrails)


def test_false_rollback_rate_at_the_margin_is_at_most_alpha() -> None:
    """A treatment exactly at the margin (+5 %) must be rolled back in at most ~α of ramps;
    300 ramps: MC SE ≈ 1.3 points."""
    rng = np.random.default_rng(3)
    plan = RampPlan((0.05, 0.25, 0.5, 1.0), (3, 3, 3, 3))
    rollbacks = sum(
        rollout.evaluate_steps(_replay(rng, plan, 1.05), plan, LATENCY_ONLY).decision == "rollback"
        for _ in range(300)
    )
    assert rollbacks / 300 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)
    # and a regression well beyond it is caught nearly always
    caught = sum(
        rollout.evaluate_steps(_replay(rng, plan, 1.15), plan, LATENCY_ONLY).decision == "rollback"
        for _ in range(50)
    )
    assert caught == 50


def test_predicted_power_per_step_matches_simulated_rejections() -> None:
    """Each step's predicted power (control arm as the pilot) against the share of 400
    simulated ramps whose step test rejects, for a +7 % regression and a 5 % margin;
    MC SE ≤ 2.5 points, tolerance 5 points."""
    rng = np.random.default_rng(11)
    plan = RampPlan((0.05, 0.15, 0.5, 1.0), (3, 3, 3, 3))
    hits, predicted = np.zeros(3), np.zeros(3)
    for _ in range(400):
        replay = _replay(rng, plan, 1.07)
        _, alphas = rollout.step_alphas(replay, LATENCY_ONLY)
        for k in range(3):
            c, t = replay.steps[k].rows
            gate = rollout.guardrail_gate(c, t, LATENCY_ONLY.guardrails[0], alphas[k], 0.07)
            hits[k] += gate.regression
            predicted[k] += gate.power or 0.0
    assert np.abs(hits / 400 - predicted / 400).max() <= 0.05, (hits / 400, predicted / 400)
    assert (predicted / 400)[2] > 0.3  # not a trivial comparison near zero


def test_decisions_on_hand_made_steps() -> None:
    rng = np.random.default_rng(4)
    plan = RampPlan((0.05, 0.25, 0.5, 1.0), (3, 3, 3, 3))
    clean = rollout.evaluate_steps(_replay(rng, plan, 1.0), plan, LATENCY_ONLY)
    assert clean.decision == "complete" and clean.stopped_at is None
    assert [s.decision for s in clean.steps] == ["advance"] * 3 + ["complete"]
    # a sample-ratio mismatch: a quarter of the treatment units lost
    srm = rollout.evaluate_steps(_replay(rng, plan, 1.0, drop=0.25), plan, LATENCY_ONLY)
    assert srm.decision == "invalid"
    assert "sample-ratio mismatch" in srm.reason
    assert srm.steps[-1].decision == "not_reached"
    # too few units per arm: hold at the first step
    few = rollout.evaluate_steps(
        _replay(rng, plan, 1.0, n_control=8, population=20), plan, LATENCY_ONLY
    )
    assert few.decision == "hold" and few.stopped_at == 1
    assert "too few units" in few.reason
    # non-inferiority required before 100 %: a +4.9 % treatment is not shown non-inferior
    strict = GateConfig(guardrails=LATENCY_ONLY.guardrails, require_non_inferiority=True)
    held = rollout.evaluate_steps(_replay(np.random.default_rng(4), plan, 1.049), plan, strict)
    assert held.decision == "hold" and held.stopped_at == 3
    assert "non-inferiority not shown" in held.reason
    # data that end before a step: hold
    replay = _replay(rng, plan, 1.0)
    cut = Replay(
        **{
            **replay.__dict__,
            "steps": (
                replay.steps[0],
                StepData(**{**replay.steps[1].__dict__, "complete": False}),
                *replay.steps[2:],
            ),
        }
    )
    partial = rollout.evaluate_steps(cut, plan, LATENCY_ONLY)
    assert partial.decision == "hold" and partial.stopped_at == 2


@pytest.mark.parametrize(
    ("plan", "gates", "message"),
    [
        (RampPlan((0.05, 0.01, 1.0), (1, 1, 1)), GateConfig(), "exposures must increase"),
        (RampPlan((0.05, 1.2), (1, 1)), GateConfig(), "outside (0, 1]"),
        (RampPlan((0.05, 1.0), (1,)), GateConfig(), "2 exposures but 1 step durations"),
        (RampPlan((0.05, 1.0), (1, 0)), GateConfig(), "at least one day"),
        (RampPlan(), GateConfig(guardrails=(RolloutGuardrail("p95", 0.05),)), "unknown guardrail"),
        (RampPlan(), GateConfig(guardrails=(RolloutGuardrail("latency_ms", 0),)), "must be > 0"),
        (RampPlan(), GateConfig(alpha=1.5), "alpha must be in (0, 1)"),
    ],
)
def test_bad_plans_and_gates_are_invalid_results(
    plan: RampPlan, gates: GateConfig, message: str
) -> None:
    replay = Replay("exp", "a", "b", 0.5, None, ())
    result = rollout.evaluate_steps(replay, plan, gates)
    assert result.decision == "invalid" and result.error
    assert message in (result.message or "")


def test_degenerate_guardrail_holds_with_a_reason() -> None:
    """Zero denominators (no run in the step) give an error code, not NaN."""
    rng = np.random.default_rng(5)
    plan = RampPlan((0.25, 1.0), (3, 3))
    replay = _replay(rng, plan, 1.0)
    gates = GateConfig(guardrails=(RolloutGuardrail("error_rate", 0.05),))
    result = rollout.evaluate_steps(replay, plan, gates)
    assert result.decision == "hold"
    g = result.steps[0].guardrails[0]
    assert g.error and g.relative_effect is None
    assert "not testable" in result.reason
    json.dumps(result.to_dict())  # no NaN, serialisable


def test_ratio_statistic_reads_the_query_columns() -> None:
    row = {"units": 3, "failed_runs_sum": 2.0, "failed_runs_sum_squares": 2.0}
    row |= {"runs_sum": 9.0, "runs_sum_squares": 29.0, "failed_runs_runs_sum": 7.0}
    s = rollout.ratio_statistic(row, "error_rate")
    assert s == RatioStatistic(3, 2.0, 2.0, 9.0, 29.0, 7.0)


# ============================================================================ the simulator


@dataclass
class Sim:
    home: Path
    con: duckdb.DuckDBPyConnection
    truth: dict[str, Any]


def _sim(tmp: Path, **kw: Any) -> Iterator[Sim]:
    kw = {"users": 2000, "days": 28, "seed": 7} | kw
    result = simulate(SimulationConfig(**kw))
    con = db.connect(tmp / "warehouse.duckdb")
    load_into_warehouse(con, result)
    (tmp / "ground_truth.json").write_text(json.dumps(result.ground_truth, default=str))
    con.close()
    ro = db.connect(tmp / "warehouse.duckdb", read_only=True)
    yield Sim(tmp, ro, result.ground_truth["experiments"][0])
    ro.close()


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from _sim(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from _sim(tmp_path_factory.mktemp("regression"), seed=8, v2_latency_factor=1.10)


@pytest.fixture(scope="module")
def mismatch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from _sim(tmp_path_factory.mktemp("srm"), srm=True)


def test_ground_truth_records_the_latency_change(clean: Sim, regression: Sim) -> None:
    assert 0 < clean.truth["true_relative_latency_change"] < 0.05
    assert not clean.truth["latency_guardrail_regression"]["beyond_5_percent_margin"]
    change = regression.truth["true_relative_latency_change"]
    assert 0.08 < change < 0.10  # a little below the factor: slow suggestions drop out
    assert regression.truth["latency_guardrail_regression"]["beyond_5_percent_margin"]


def test_clean_rollout_reaches_full_exposure(clean: Sim) -> None:
    calls: list[float] = []
    result = rollout.evaluate(clean.con, detect=0.10, progress=lambda _, f: calls.append(f))
    assert calls == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert result.decision == "complete", result.reason
    assert [s.decision for s in result.steps] == ["advance"] * 4 + ["complete"]
    # the step windows tile the experiment's days, three each
    starts = [s.window_start for s in result.steps if s.window_start is not None]
    assert all((b - a).days == 3 for a, b in itertools.pairwise(starts))
    # exposure: about 1, 5, 25, 50 % of the treatment arm's 2,000 / 2 users (hash buckets)
    shares = [s.units["v2"] / s.units["v1"] for s in result.steps[:4]]
    assert shares == pytest.approx([0.02, 0.1, 0.5, 1.0], abs=0.03)


def test_planted_regression_stops_at_the_first_step_with_power(regression: Sim) -> None:
    """The criterion: the ramp stops no later than the first step whose power to see the
    planted change beyond the margin reaches 80 % (an earlier stop happens with that
    earlier step's power); on this seed it stops exactly there, the step before it having
    less than 80 %."""
    plan, gates = RampPlan(), GateConfig()
    change = regression.truth["true_relative_latency_change"]
    replay = rollout.load_steps(regression.con, plan)
    planned, problem = rollout.plan_steps(replay, plan, gates, change)
    assert problem is None
    power = [s.power.get("latency_ms") for s in planned]
    first = next(s.step for s in planned if (s.power.get("latency_ms") or 0) >= 0.8)
    result = rollout.evaluate_steps(replay, plan, gates, change)
    assert result.decision == "rollback", result.reason
    assert result.stopped_at == first == 3, (power, result.reason)
    assert (power[first - 2] or 0) < 0.8
    assert "mean latency" in result.reason and "beyond the 5 % margin" in result.reason
    stop = result.steps[first - 1]
    latency = next(g for g in stop.guardrails if g.metric == "latency_ms")
    assert latency.regression and latency.p_harm is not None
    assert latency.p_harm < latency.alpha
    assert latency.power == pytest.approx(power[first - 1])
    assert [s.decision for s in result.steps[first:]] == ["not_reached"] * (5 - first)


def test_planted_sample_ratio_mismatch_is_invalid(mismatch: Sim) -> None:
    result = rollout.evaluate(mismatch.con)
    assert result.decision == "invalid"
    assert result.reason.startswith("invalid: sample-ratio mismatch")
    stop = result.steps[(result.stopped_at or 0) - 1]
    assert stop.srm_p_value is not None and stop.srm_p_value < 0.001


def test_exposure_beyond_the_treatment_arm_and_unknown_experiment(clean: Sim) -> None:
    plan = RampPlan((0.01, 0.75, 1.0), (3, 3, 3))
    result = rollout.evaluate(clean.con, plan)
    assert result.error == "exposure_too_high"
    assert "holds 50 % of users" in (result.message or "")
    unknown = rollout.evaluate(clean.con, experiment_id="exp_nope")
    assert unknown.error == "unknown_experiment" and "exp_model_v2" in (unknown.message or "")


def test_steps_beyond_the_data_hold(clean: Sim) -> None:
    plan = RampPlan((0.01, 0.05, 1.0), (7, 9, 3))  # 16 days: the experiment has 14
    result = rollout.evaluate(clean.con, plan)
    assert result.decision == "hold" and result.stopped_at == 2
    assert "before the end of step 2" in result.reason


# ============================================================================ CLI and all


def test_cli_evaluate_exit_codes_and_json(clean: Sim, regression: Sim, mismatch: Sim) -> None:
    runner = CliRunner()
    for sim, code, decision in ((clean, 0, "complete"), (regression, 3, "rollback")):
        r = runner.invoke(app, ["--home", str(sim.home), "rollout", "evaluate", "--json"])
        assert r.exit_code == code, r.output
        payload = json.loads(r.stdout)
        assert payload["decision"] == decision
        assert len(payload["steps"]) == 5
    r = runner.invoke(app, ["--home", str(mismatch.home), "rollout", "evaluate"])
    assert r.exit_code == 4 and "sample-ratio mismatch" in r.stdout
    hold = ["--steps", "1,5,100", "--days-per-step", "7,9,3"]  # past the experiment's end
    r = runner.invoke(app, ["--home", str(clean.home), "rollout", "evaluate", *hold])
    assert r.exit_code == 2 and "hold" in r.stdout
    r = runner.invoke(app, ["--home", str(clean.home), "rollout", "evaluate", "--steps", "5,1"])
    assert r.exit_code == 1 and "exposures must increase" in r.stderr
    r = runner.invoke(app, ["--home", str(clean.home), "rollout", "evaluate", "--steps", "a,b"])
    assert r.exit_code == 1 and "--steps" in r.stderr
    r = runner.invoke(app, ["rollout", "evaluate", "--help"])
    assert "Exit codes" in r.stdout


def test_cli_plan(clean: Sim) -> None:
    r = CliRunner().invoke(
        app,
        [
            "--home",
            str(clean.home),
            "rollout",
            "plan",
            "--margin",
            "0.05",
            "--detect",
            "0.1",
            "--days-per-step",
            "2,3,3,3,3",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    steps = payload["steps"]
    assert [s["days"] for s in steps] == [2, 3, 3, 3, 3]
    power = [s["power"].get("latency_ms") for s in steps[:4]]
    assert all(0 <= p <= 1 for p in power)
    assert power == sorted(power)  # more users, more power
    assert sum(s["alpha"] for s in steps[:4]) == pytest.approx(0.05)
    r = CliRunner().invoke(app, ["--home", str(clean.home), "rollout", "plan", "--detect", "0.01"])
    assert r.exit_code == 1 and "must exceed the margin" in r.stderr


def test_pipeline_step_writes_the_report(regression: Sim, tmp_path: Path) -> None:
    from codex_ds.pipeline import RunContext, step_rollout
    from codex_ds.settings import Workspace

    ws = Workspace.resolve(tmp_path)
    ws.ensure()
    ws.ground_truth.write_text((regression.home / "ground_truth.json").read_text())
    res = step_rollout(RunContext(ws, regression.con, SimulationConfig()))
    assert res.summary["decision"] == "rollback"
    assert res.summary["as_expected"] is True
    text = (ws.reports / "rollout.md").read_text()
    assert "## Against the simulator's ground truth" in text
    payload = json.loads((ws.reports / "rollout.json").read_text())
    assert payload["ground_truth"]["first_step_with_power_80"] == payload["stopped_at"]


def test_cli_simulate_plants_the_latency_regression(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            *("--home", str(tmp_path), "simulate", "--users", "200", "--days", "8"),
            *("--v2-latency-factor", "1.2", "--json"),
        ],
    )
    assert r.exit_code == 0, r.output
    truth = json.loads((tmp_path / "ground_truth.json").read_text())["experiments"][0]
    assert truth["v2_latency_factor"] == 1.2
    assert 0.15 < truth["true_relative_latency_change"] < 0.2
    assert truth["latency_guardrail_regression"]["beyond_5_percent_margin"]
