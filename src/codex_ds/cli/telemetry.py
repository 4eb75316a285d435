"""``codex-ds simulate`` and ``codex-ds ingest``."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from codex_ds.cli.console import emit_json, err, fail, out, progress_bar, state, table
from codex_ds.warehouse import db


def simulate(
    ctx: typer.Context,
    users: Annotated[int, typer.Option(min=1, help="Number of simulated developers.")] = 2000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days of activity.")] = 28,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives identical tables.")
    ] = 7,
    start: Annotated[
        str, typer.Option(help="First day (ISO date); a Monday is best.")
    ] = "2026-01-05",
    srm: Annotated[
        bool, typer.Option("--srm", help="Plant a sample-ratio mismatch in the A/B experiment.")
    ] = False,
    v2_latency_factor: Annotated[
        float | None,
        typer.Option(
            "--v2-latency-factor",
            min=0.01,
            help="Latency of model v2 = v1 x this factor (default 1.03: within the 5 % "
            "guardrail; 1.10 plants a guardrail regression that `codex-ds rollout evaluate` "
            "must stop). The true change of mean latency goes to ground_truth.json.",
            show_default=False,
        ),
    ] = None,
    anomaly: Annotated[
        list[str] | None,
        typer.Option(
            "--anomaly",
            help="Plant an incident for the monitors (repeatable): KIND:day=D[,days=K]"
            "[,factor=F][,language=L]. latency: latency x F (default 1.5) on days D..D+K-1 "
            "(day 0 = --start; K defaults to 3); acceptance: P(accept) x F (default 0.7). "
            "Without language= every language is hit. Example: --anomaly latency:day=20 "
            "--anomaly acceptance:day=24,language=typescript. Recorded in ground_truth.json "
            "under 'anomalies'.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Simulate telemetry with known planted effects into the warehouse.

    Replaces the event tables of the workspace's warehouse (Copilot tables,
    quarantine and the ingest log are kept) and writes ground_truth.json, the
    effects the simulator planted, next to it.
    """
    from codex_ds.telemetry import simulate as sim

    ws = state(ctx).workspace.ensure()
    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise fail(f"--start: {start!r} is not an ISO date (YYYY-MM-DD)", 2) from None
    try:
        planted = tuple(sim.PlantedAnomaly.parse(a) for a in anomaly or ())
        config = sim.SimulationConfig(
            users=users,
            days=days,
            seed=seed,
            start=first_day,
            srm=srm,
            anomalies=planted,
        )
        if v2_latency_factor is not None:
            config = dataclasses.replace(config, v2_latency_factor=v2_latency_factor)
    except ValueError as exc:
        raise fail(f"--anomaly: {exc}" if anomaly else str(exc), 2) from None
    with progress_bar(not as_json) as prog:
        task = prog.add_task("simulating", total=100)

        def on_progress(stage: str, fraction: float) -> None:
            prog.update(task, description=stage, completed=round(100 * fraction))

        result = sim.simulate(config, progress=on_progress)
        prog.update(task, description="loading into the warehouse", completed=100)
        con = db.connect(ws.warehouse)
        try:
            loaded = sim.load_into_warehouse(con, result)
        finally:
            con.close()
    ws.ground_truth.write_text(json.dumps(result.ground_truth, indent=2) + "\n")
    if as_json:
        emit_json(
            {
                "warehouse": str(ws.warehouse),
                "ground_truth": str(ws.ground_truth),
                "tables": loaded,
                "seed": seed,
            }
        )
        return
    out.print(table(f"Simulated into {ws.warehouse}", ["table", "rows"], list(loaded.items())))
    out.print(f"Ground truth: {ws.ground_truth}")


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or folders: our schema (JSONL, CSV, Parquet, gzip), GitHub Copilot "
            "metrics API payloads, Continue dev-data logs.",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    show: Annotated[int, typer.Option(help="How many quarantine messages to print.")] = 20,
) -> None:
    """Validate files and load them into the warehouse; quarantine what fails.

    Exit codes: 0 everything loaded (or already ingested; duplicates alone do not
    count); 3 some rows were quarantined (they are in the `quarantine` table with
    file, line, field and reason; the valid rows were loaded); 4 a file could not be
    ingested at all; 1 a path does not exist or the warehouse cannot be opened.
    """
    from codex_ds.telemetry.ingest import ingest_paths

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail("no such file: " + ", ".join(missing), 1)
    ws = state(ctx).workspace.ensure()
    con = db.connect(ws.warehouse)
    try:
        with progress_bar(not as_json) as prog:
            task = prog.add_task("ingesting", total=None)

            def on_progress(name: str, done: int, total: int) -> None:
                prog.update(
                    task, description=f"ingesting {Path(name).name}", completed=done, total=total
                )

            report = ingest_paths(con, paths, progress=on_progress)
    finally:
        con.close()
    if as_json:
        emit_json(report.to_dict())
        raise typer.Exit(report.exit_code)
    rows = [
        (
            f.file,
            f.format,
            f.status,
            f.rows_read,
            sum(f.loaded.values()),
            f.duplicates,
            f.rows_quarantined,
        )
        for f in report.files
    ]
    out.print(
        table(
            f"Ingested into {ws.warehouse}",
            [
                "file",
                "format",
                "status",
                "rows read",
                "rows loaded",
                "rows duplicate",
                "rows quarantined",
            ],
            rows,
        )
    )
    if report.quarantined_by_reason:
        out.print(
            table(
                "Quarantined by reason",
                ["reason", "rows"],
                list(report.quarantined_by_reason.items()),
            )
        )
        shown = 0
        for f in report.files:
            for msg in f.messages:
                if shown >= show:
                    break
                err.print(f"  {msg}", highlight=False, markup=False)
                shown += 1
        err.print("See them all with: codex-ds warehouse quarantine", highlight=False)
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command()(simulate)
    app.command()(ingest)
