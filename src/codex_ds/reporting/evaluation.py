"""Write an evaluation run's report files: ``reports/eval/<run_id>/evaluation_report.md`` and
``summary.json`` (the document ``codex-ds eval run --json`` prints)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from codex_ds.evaluation import store
from codex_ds.evaluation.metrics import RunComparison, compare_runs
from codex_ds.evaluation.report import render_report, summarise_run
from codex_ds.evaluation.runs import stored_pairs

__all__ = ["comparison_dict", "write_run_report"]


def comparison_dict(a: str, b: str, c: RunComparison) -> dict[str, Any]:
    m, bs = c.mcnemar, c.bootstrap
    return {
        "run_a": a,
        "run_b": b,
        "common_tasks": c.common_tasks,
        "pass1_a": c.pass1_a,
        "pass1_b": c.pass1_b,
        "difference": bs.difference,
        "difference_ci": [bs.ci_low, bs.ci_high],
        "bootstrap_p_value": bs.p_value,
        "mcnemar": {
            "pairs": m.pairs,
            "only_a": m.only_a,
            "only_b": m.only_b,
            "p_value": m.p_value,
            "status": m.status,
        },
    }


def planted_pass1(run: store.EvalRun, per_task: Mapping[str, Any]) -> float | None:
    """Mean planted probability of a correct candidate over a simulated run's tasks."""
    from codex_ds.evaluation.simulated import VERSIONS, probability_correct
    from codex_ds.evaluation.tasks.builtin_tasks import load_tasks

    version = VERSIONS.get(run.model.partition(":")[2])
    if version is None or not per_task:
        return None
    tasks = load_tasks(run.task_set)
    probs = [probability_correct(version, tasks[t]) for t in per_task if t in tasks]
    return sum(probs) / len(probs) if probs else None


def write_run_report(
    con: duckdb.DuckDBPyConnection,
    reports: Path,
    run_id: str,
    compare_with: str | None = None,
    *,
    skipped_languages: dict[str, str] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Summarise a stored run (optionally against another), write its files, return the
    report path and the summary document. Raises :class:`store.RunNotFoundError`."""
    run = store.get_run(con, run_id)
    rows = store.run_results(con, run_id)
    summary = summarise_run(run, rows)
    payload = summary.to_dict()
    comparison = other = None
    if compare_with is not None:
        other = store.get_run(con, compare_with)
        comparison = compare_runs(
            stored_pairs(store.run_results(con, compare_with)), stored_pairs(rows)
        )
        payload["comparison"] = comparison_dict(other.run_id, run.run_id, comparison)
    if skipped_languages is None:
        skipped_languages = json.loads(run.params or "{}").get("skipped_languages") or {}
    payload["skipped_languages"] = skipped_languages
    planted = planted_pass1(run, summary.per_task) if run.simulated else None
    if planted is not None:
        payload["planted_pass_at_1"] = planted
    out_dir = reports / "eval" / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "evaluation_report.md"
    path.write_text(
        render_report(
            summary,
            comparison=comparison,
            other=other,
            skipped_languages=skipped_languages,
            planted_pass1=planted,
        )
    )
    payload["report"] = str(path)
    (out_dir / "summary.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path, payload


#: The ``eval`` step of ``codex-ds all``: built-in tasks, both simulated versions.
PIPELINE_VERSIONS = ("simulated:v1", "simulated:v2")
PIPELINE_N = 5
PIPELINE_KS = (1, 5)
PIPELINE_TIMEOUT_S = 1.0


def pipeline_evaluation(
    con: duckdb.DuckDBPyConnection,
    reports: Path,
    *,
    n: int = PIPELINE_N,
    ks: tuple[int, ...] = PIPELINE_KS,
    timeout_s: float | None = PIPELINE_TIMEOUT_S,
    workers: int = 2,
) -> tuple[dict[str, Any], list[str]]:
    """Evaluate the built-in tasks with ``simulated:v1`` and ``simulated:v2`` (n samples
    each, one shared verdict cache) and write both reports, v2 compared with v1.

    Returns the step summary and the report paths. The models are SIMULATED: the step shows
    the machinery end to end and checks it against the simulator's planted kinds.
    """
    from codex_ds.evaluation.runs import RunConfig, run_evaluation

    cache: dict[Any, Any] = {}
    outcomes = [
        run_evaluation(
            con,
            RunConfig(model=model, n=n, ks=ks, timeout_s=timeout_s, workers=workers),
            verdict_cache=cache,
        )
        for model in PIPELINE_VERSIONS
    ]
    artifacts: list[str] = []
    summary: dict[str, Any] = {"simulated": True, "runs": {}}
    previous: str | None = None
    for model, outcome in zip(PIPELINE_VERSIONS, outcomes, strict=True):
        path, payload = write_run_report(
            con, reports, outcome.run_id, previous, skipped_languages=outcome.skipped_languages
        )
        artifacts.append(str(path))
        summary["runs"][model] = {
            "run_id": outcome.run_id,
            "n_samples": payload["n_samples"],
            "pass_at_k": payload["pass_at_k"],
            "failures": payload["failures"],
            "programs_run": outcome.programs_run,
        }
        if "comparison" in payload:
            c = payload["comparison"]
            summary["comparison"] = {
                "difference": c["difference"],
                "difference_ci": c["difference_ci"],
                "mcnemar_p": c["mcnemar"]["p_value"],
            }
        previous = outcome.run_id
    summary["skipped_languages"] = outcomes[0].skipped_languages
    return summary, artifacts
