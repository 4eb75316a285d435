"""The main job, ``codex-ds all``: every step of the workbench, in order, on one workspace.

Each issue that adds an analysis adds its step to :func:`default_steps`. A step
takes the :class:`RunContext` and returns a :class:`StepResult`; it never prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from codex_ds.settings import Workspace
from codex_ds.telemetry import simulate as sim
from codex_ds.warehouse import db

Progress = Callable[[str, float], None]


@dataclass
class RunContext:
    workspace: Workspace
    con: duckdb.DuckDBPyConnection
    simulation: sim.SimulationConfig
    progress: Progress | None = None


@dataclass
class StepResult:
    name: str
    summary: dict[str, Any]
    artifacts: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    run: Callable[[RunContext], StepResult]


def step_simulate(ctx: RunContext) -> StepResult:
    """Simulate the default telemetry, load it and write ground_truth.json."""
    result = sim.simulate(ctx.simulation, progress=ctx.progress)
    loaded = sim.load_into_warehouse(ctx.con, result)
    ctx.workspace.ground_truth.write_text(json.dumps(result.ground_truth, indent=2) + "\n")
    return StepResult(
        "simulate",
        {"rows": loaded, "seed": ctx.simulation.seed},
        [str(ctx.workspace.warehouse), str(ctx.workspace.ground_truth)],
    )


def step_warehouse_report(ctx: RunContext) -> StepResult:
    """Write reports/warehouse.md: tables, date range, quarantine."""
    from codex_ds.reporting.warehouse import render_warehouse_report

    info = db.describe(ctx.con, ctx.workspace.warehouse)
    path = ctx.workspace.reports / "warehouse.md"
    path.write_text(render_warehouse_report(info))
    return StepResult("warehouse_report", {"tables": len(info.tables)}, [str(path)])


def step_analytics(ctx: RunContext) -> StepResult:
    """Run every named SQL query; write each result as CSV and an index to reports/analytics.md."""
    from codex_ds.reporting.analytics import render_analytics_index
    from codex_ds.warehouse import catalog

    out_dir = ctx.workspace.reports / "analytics"
    out_dir.mkdir(parents=True, exist_ok=True)
    cat = catalog.default_catalog()
    results = catalog.run_all(ctx.con, cat)
    for res in results:
        catalog.write_result(res, "csv", out_dir / f"{res.query}.csv")
    index = ctx.workspace.reports / "analytics.md"
    index.write_text(render_analytics_index(cat, results))
    return StepResult(
        "analytics",
        {"queries": len(results), "rows": sum(r.rows for r in results)},
        [str(index), str(out_dir)],
    )


def step_experiments(ctx: RunContext) -> StepResult:
    """Analyse every experiment in the warehouse; write reports/experiments.md and .json,
    comparing each interval with the planted lift when ground_truth.json exists."""
    from codex_ds.experiments import analysis
    from codex_ds.reporting.experiments import render_experiments_report

    truth: dict[str, Any] = {}
    if ctx.workspace.ground_truth.exists():
        gt = json.loads(ctx.workspace.ground_truth.read_text())
        truth = {str(e["id"]): e for e in gt.get("experiments", [])}
    ids = sorted({str(r["experiment_id"]) for r in analysis.list_experiments(ctx.con)})
    results = [analysis.analyze(ctx.con, analysis.ExperimentDefinition(i)) for i in ids]
    md = ctx.workspace.reports / "experiments.md"
    js = ctx.workspace.reports / "experiments.json"
    text, payload = render_experiments_report(results, truth)
    md.write_text(text)
    js.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return StepResult(
        "experiments",
        {
            "experiments": len(results),
            "decisions": {r.experiment: r.decision for r in results},
            "truth_covered": {k: v["covers_truth"] for k, v in payload["ground_truth"].items()},
        },
        [str(md), str(js)],
    )


def step_nlp(ctx: RunContext) -> StepResult:
    """Prompt features into the warehouse; reports/nlp.md and .json (acceptance vs prompt
    features, failure-message classifier, requirement extraction; pass rate vs prompt features
    on a real evaluation run cached in the workspace by `codex-ds nlp report --samples`, else on
    the warehouse's evaluation runs, whose provider the report names)."""
    from codex_ds.nlp.pipeline_step import run_nlp

    payload, md, js = run_nlp(ctx.con, ctx.workspace, progress=ctx.progress)
    failures = payload.get("failures") or {}
    return StepResult(
        "nlp",
        {
            "prompt_features": payload["prompts"]["written"],
            "failure_macro_f1": (failures.get("classifier") or {}).get("macro_f1"),
            "failure_held_out": failures.get("held_out_kind"),
            "evaluation_run": (payload.get("evaluation") or {}).get("run"),
        },
        [str(md), str(js)],
    )


def step_monitors(ctx: RunContext) -> StepResult:
    """Run the daily monitors; store the alerts and write reports/monitors.md and .json.

    Alerts are findings, not failures: the step succeeds whatever fires (``codex-ds
    monitor`` is the command whose exit code says whether any did)."""
    from codex_ds.reporting.monitors import render_monitors_report
    from codex_ds.warehouse import alerts

    report = alerts.run_monitors(ctx.con)
    written = alerts.write_alerts(ctx.con, report)
    planted: list[dict[str, Any]] = []
    if ctx.workspace.ground_truth.exists():
        planted = list(json.loads(ctx.workspace.ground_truth.read_text()).get("anomalies", []))
    md = ctx.workspace.reports / "monitors.md"
    js = ctx.workspace.reports / "monitors.json"
    md.write_text(render_monitors_report(report, planted))
    js.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    return StepResult(
        "monitors",
        {"monitor_days": report.monitor_days, "alerts": len(report.alerts), "written": written},
        [str(md), str(js)],
    )


def step_rollout(ctx: RunContext) -> StepResult:
    """Replay the default ramp (1 → 5 → 25 → 50 → 100 %) over the A/B experiment; write
    reports/rollout.md and .json. A hold, rollback or invalid ramp is a finding, not a
    failure: the step succeeds whatever the gates say (``codex-ds rollout evaluate`` is the
    command whose exit code carries the decision)."""
    from codex_ds.experiments import rollout
    from codex_ds.reporting.rollout import render_rollout_report

    truth: dict[str, Any] = {}
    if ctx.workspace.ground_truth.exists():
        gt = json.loads(ctx.workspace.ground_truth.read_text())
        truth = next((e for e in gt.get("experiments", []) if e.get("id") == "exp_model_v2"), {})
    plan, gates = rollout.RampPlan(), rollout.GateConfig()
    latency_margin = next(g.margin for g in gates.guardrails if g.metric == "latency_ms")
    planted = truth.get("true_relative_latency_change")
    detect = planted if planted is not None and planted > latency_margin else 2 * latency_margin
    replay = rollout.load_steps(ctx.con, plan, "exp_model_v2")
    result = rollout.evaluate_steps(replay, plan, gates, detect)
    planned, _ = rollout.plan_steps(replay, plan, gates, detect)
    text, payload = render_rollout_report(result, planned, truth)
    md = ctx.workspace.reports / "rollout.md"
    js = ctx.workspace.reports / "rollout.json"
    md.write_text(text)
    js.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return StepResult(
        "rollout",
        {
            "decision": result.decision,
            "stopped_at": result.stopped_at,
            "reason": result.reason,
            "as_expected": (payload.get("ground_truth") or {}).get("as_expected"),
        },
        [str(md), str(js)],
    )


def _truth_section(ctx: RunContext, key: str) -> Any:
    if not ctx.workspace.ground_truth.exists():
        return None
    return json.loads(ctx.workspace.ground_truth.read_text()).get(key)


def step_model_acceptance(ctx: RunContext) -> StepResult:
    """Fit the acceptance model; write reports/acceptance_model.md and .json, checking the
    intervals against the planted coefficients when ground_truth.json exists."""
    from codex_ds.modeling import acceptance
    from codex_ds.reporting.modeling import render_acceptance_report

    result = acceptance.fit_acceptance_model(acceptance.load_patterns(ctx.con))
    truth = _truth_section(ctx, "acceptance_model") or {}
    checks = acceptance.compare_with_truth(result, truth) if truth and result.ok else ()
    md = ctx.workspace.reports / "acceptance_model.md"
    js = ctx.workspace.reports / "acceptance_model.json"
    md.write_text(render_acceptance_report(result, checks))
    payload = result.to_dict() | {"truth": [c.to_dict() for c in checks]}
    js.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    summary: dict[str, Any] = {"ok": result.ok, "suggestions": result.suggestions}
    if result.prediction is not None:
        summary["auc"] = round(result.prediction.auc, 4)
    if checks:
        summary["truth_covered"] = f"{sum(c.covered for c in checks)}/{len(checks)}"
    return StepResult("model_acceptance", summary, [str(md), str(js)])


def step_model_productivity(ctx: RunContext) -> StepResult:
    """Rank telemetry metrics by their correlation with perceived productivity; write
    reports/productivity.md and .json."""
    from codex_ds.modeling import productivity
    from codex_ds.reporting.modeling import render_productivity_report

    result = productivity.link_productivity(productivity.load_user_behaviour(ctx.con))
    survey = _truth_section(ctx, "survey") or {}
    truth_r = survey.get("realised_correlation_perceived_productivity")
    md = ctx.workspace.reports / "productivity.md"
    js = ctx.workspace.reports / "productivity.json"
    md.write_text(render_productivity_report(result, truth_r))
    js.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    best = result.best
    return StepResult(
        "model_productivity",
        {
            "ok": result.ok,
            "respondents": result.respondents,
            "best_metric": None if best is None else best.metric,
            "best_r": None if best is None or best.pearson_r is None else round(best.pearson_r, 3),
        },
        [str(md), str(js)],
    )


def step_model_segments(ctx: RunContext) -> StepResult:
    """Cluster users by behaviour; write reports/segments.md and .json."""
    from codex_ds.modeling import productivity, segments
    from codex_ds.reporting.modeling import render_segments_report

    result = segments.find_segments(productivity.load_user_behaviour(ctx.con))
    md = ctx.workspace.reports / "segments.md"
    js = ctx.workspace.reports / "segments.json"
    md.write_text(render_segments_report(result))
    js.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    return StepResult(
        "model_segments",
        {"ok": result.ok, "k": result.k, "segments": [c.name for c in result.clusters]},
        [str(md), str(js)],
    )


def step_causal(ctx: RunContext) -> StepResult:
    """Estimate the effect of chat adoption on weekly merged PRs (every method, ATE and ATT);
    write reports/causal.md, .json, the love plot and the overlap plot, comparing each
    interval with the planted effect when ground_truth.json exists."""
    from codex_ds.causal import dataset
    from codex_ds.causal.design import causal_design
    from codex_ds.causal.effects import CausalError
    from codex_ds.causal.estimate import CausalOptions, estimate_effects
    from codex_ds.reporting.causal import plot_love, plot_overlap, render_causal_report

    frame = dataset.user_outcomes(ctx.con)
    data = causal_design(
        frame, dataset.DEFAULT_TREATMENT, dataset.DEFAULT_OUTCOME, dataset.DEFAULT_COVARIATES
    )
    md = ctx.workspace.reports / "causal.md"
    js = ctx.workspace.reports / "causal.json"
    result = data if isinstance(data, CausalError) else estimate_effects(data, CausalOptions())
    if isinstance(result, CausalError):
        md.write_text(f"# Causal effect\n\nNo estimate: {result.code}: {result.message}\n")
        js.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        return StepResult("causal", result.to_dict(), [str(md), str(js)])
    truth = None
    if ctx.workspace.ground_truth.exists():
        entries = json.loads(ctx.workspace.ground_truth.read_text()).get("causal", [])
        truth = entries[0] if entries else None
    images = {}
    for name, plot in (("love plot", plot_love), ("overlap", plot_overlap)):
        file = ctx.workspace.reports / f"causal_{name.split()[0]}.png"
        if plot(result, file) is not None:
            images[name] = file.name
    text, payload = render_causal_report(result, truth, images)
    md.write_text(text)
    js.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return StepResult(
        "causal",
        {
            "users": data.n if not isinstance(data, CausalError) else 0,
            "naive": result.naive.estimate,
            "aipw_ate": next((e.estimate for e in result.estimates if e.method == "aipw"), None),
            "truth_covered": {
                k: v["covers_truth"] for k, v in payload.get("ground_truth", {}).items()
            },
        },
        [str(md), str(js), *(str(ctx.workspace.reports / f) for f in images.values())],
    )


def step_export(ctx: RunContext) -> StepResult:
    """Export every table to Parquet partitioned by day (the input of the Spark path)."""
    written = db.export_parquet(ctx.con, ctx.workspace.exports)
    return StepResult(
        "export_parquet", {"rows": sum(written.values())}, [str(ctx.workspace.exports)]
    )


def step_eval(ctx: RunContext) -> StepResult:
    """Evaluate the built-in tasks with the SIMULATED models v1 and v2 in the sandbox; write
    reports/eval/<run_id>/evaluation_report.md for each (v2 compared with v1)."""
    from codex_ds.reporting.evaluation import pipeline_evaluation

    summary, artifacts = pipeline_evaluation(ctx.con, ctx.workspace.reports)
    return StepResult("eval", summary, artifacts)


def default_steps() -> list[Step]:
    return [
        Step("simulate", "simulate telemetry with planted effects", step_simulate),
        Step("warehouse_report", "summarise the warehouse", step_warehouse_report),
        Step("analytics", "run the named SQL metric suite", step_analytics),
        Step("experiments", "analyse the A/B tests: ship / hold / rollback", step_experiments),
        Step("rollout", "replay a staged rollout: advance / hold / rollback", step_rollout),
        Step("monitors", "daily monitors and alerts", step_monitors),
        Step("eval", "code evaluation: built-in tasks x simulated v1/v2", step_eval),
        Step("nlp", "prompt features, failure classifier, NLP report", step_nlp),
        Step("model_acceptance", "fit the acceptance model", step_model_acceptance),
        Step("model_productivity", "link telemetry to perceived productivity",
             step_model_productivity),
        Step("model_segments", "cluster users into behaviour segments", step_model_segments),
        Step("causal", "observational effect of chat adoption on merged PRs", step_causal),
        Step("export_parquet", "export Parquet partitioned by day", step_export),
    ]


def run_all(
    workspace: Workspace,
    simulation: sim.SimulationConfig,
    *,
    steps: list[Step] | None = None,
    on_step: Callable[[Step, StepResult], None] | None = None,
    progress: Progress | None = None,
) -> list[StepResult]:
    """Run every step on the workspace's warehouse; returns one result per step."""
    workspace.ensure()
    results: list[StepResult] = []
    con = db.connect(workspace.warehouse)
    try:
        ctx = RunContext(workspace, con, simulation, progress)
        for step in steps or default_steps():
            t0 = time.perf_counter()
            res = step.run(ctx)
            res.seconds = round(time.perf_counter() - t0, 3)
            results.append(res)
            if on_step is not None:
                on_step(step, res)
    finally:
        con.close()
    summary = {
        "steps": [
            {"name": r.name, "seconds": r.seconds, "summary": r.summary, "artifacts": r.artifacts}
            for r in results
        ]
    }
    Path(workspace.reports / "all.json").write_text(json.dumps(summary, indent=2, default=str))
    return results
