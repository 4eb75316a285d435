"""The ``nlp`` step shared by ``codex-ds nlp report`` and ``codex-ds all``: write prompt
features, run every NLP analysis, write reports/nlp.md and reports/nlp.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from codex_ds.nlp import report, store
from codex_ds.settings import Workspace

Progress = Callable[[str, float], None]


def cached_runs(ws: Workspace) -> list[tuple[str, Path, Path]]:
    """(name, verdict file, samples file) of every evaluation run cached in the workspace
    whose samples file still exists."""
    folder = ws.home / "nlp" / "verdicts"
    runs = []
    for v in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        side = v.with_suffix(".samples.txt")
        if side.exists():
            s = Path(side.read_text().strip())
            if s.exists():
                runs.append((v.stem, v, s))
    return runs


def run_nlp(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    *,
    runs: Sequence[tuple[str, Path, Path]] | None = None,
    labelled: Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], Path, Path]:
    """Run the NLP study on the workspace's warehouse; returns the payload and the paths of
    the Markdown and JSON reports."""
    from codex_ds.reporting.nlp import render_nlp_report

    feature_run = store.write_prompt_features(con, progress=progress)
    payload: dict[str, Any] = {"prompts": report.prompts_section(con, feature_run)}
    payload["requirements"] = report.requirements_section(labelled)
    payload["telemetry"] = report.telemetry_section(con)
    chosen = list(runs) if runs is not None else cached_runs(ws)
    real = []
    real_kind = "real evaluation messages"
    largest: tuple[int, str, list[dict[str, Any]], Path] | None = None
    for name, vfile, sfile in chosen:
        verdicts = store.read_verdicts(vfile)
        real += store.verdict_messages(verdicts)
        if largest is None or len(verdicts) > largest[0]:
            largest = (len(verdicts), name, verdicts, sfile)
    stored = store.warehouse_eval_runs(con)
    if largest is not None:
        _, name, verdicts, sfile = largest
        completions = {
            (str(r["task_id"]), int(r["sample_index"])): str(r["completion"])
            for r in store.read_samples(sfile)
        }
        payload["evaluation"] = report.evaluation_section(
            con, verdicts, completions, run_name=name, seed=seed
        )
    elif stored:
        # no run of real completions cached: use the warehouse's evaluation runs (the eval
        # step of `codex-ds all` stores runs of the simulated model; the report says so)
        w = stored[0]
        real = [m for s in stored for m in store.verdict_messages(s.verdicts)]
        providers = sorted({s.provider for s in stored})
        real_kind = (
            "sandbox messages of the warehouse's evaluation runs (provider "
            + ", ".join(providers)
            + ")"
        )
        payload["evaluation"] = report.evaluation_section(
            con,
            w.verdicts,
            w.completions,
            run_name=f"{w.run_id} (warehouse, provider {w.provider})",
            seed=seed,
        )
        payload["evaluation_note"] = (
            "Completions of the warehouse's evaluation run"
            + (" come from the SIMULATED model" if w.provider == "simulated" else "")
            + "; for real completions run `codex-ds nlp report --samples FILE`."
        )
    else:
        payload["evaluation"] = None
        payload["evaluation_note"] = (
            "No real evaluation run in this workspace: run `codex-ds nlp report --samples "
            "FILE` (e.g. ../shared/data/humaneval_samples/*.jsonl) once; its verdicts are "
            "cached and later runs of this step use them."
        )
    if progress is not None:
        progress("failure classifier", 0.0)
    payload["failures"] = report.failures_section(
        real, store.telemetry_messages(con), seed=seed, real_kind=real_kind
    )
    payload["embeddings"] = report.embeddings_section()
    ws.reports.mkdir(parents=True, exist_ok=True)
    md = ws.reports / "nlp.md"
    js = ws.reports / "nlp.json"
    md.write_text(render_nlp_report(payload))
    js.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return payload, md, js
