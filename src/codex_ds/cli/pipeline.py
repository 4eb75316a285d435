"""``codex-ds all``: run every step of the workbench on the default (simulated) data."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from codex_ds.cli.console import emit_json, err, out, progress_bar, state, table


def all_steps(
    ctx: typer.Context,
    users: Annotated[int, typer.Option(min=1, help="Simulated developers.")] = 2000,
    days: Annotated[int, typer.Option(min=1, help="Days of simulated activity.")] = 28,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Run the main job: simulate the default data, then every analysis step.

    Writes the warehouse, ground_truth.json, reports/ and the Parquet export into
    the workspace (--home). Steps: simulate, warehouse report, the analytics SQL
    suite (reports/analytics.md and one CSV per query), the experiments
    (reports/experiments.md), the daily monitors (reports/monitors.md; alerts are
    findings, never a failure of `all`), Parquet export.
    """
    from codex_ds import pipeline
    from codex_ds.telemetry.simulate import SimulationConfig

    ws = state(ctx).workspace
    config = SimulationConfig(users=users, days=days, seed=seed, start=date(2026, 1, 5))
    steps = pipeline.default_steps()
    with progress_bar(not as_json) as prog:
        task = prog.add_task("all", total=len(steps))

        def on_step(step: pipeline.Step, res: pipeline.StepResult) -> None:
            prog.advance(task)
            if not as_json:
                err.print(f"[green]done[/] {step.name} ({res.seconds:.1f} s)")

        def on_progress(stage: str, fraction: float) -> None:
            prog.update(task, description=stage)

        results = pipeline.run_all(ws, config, steps=steps, on_step=on_step, progress=on_progress)
    if as_json:
        emit_json(
            {
                "home": str(ws.home),
                "steps": [
                    {
                        "name": r.name,
                        "seconds": r.seconds,
                        "summary": r.summary,
                        "artifacts": r.artifacts,
                    }
                    for r in results
                ],
            }
        )
        return
    out.print(
        table(
            f"codex-ds all in {ws.home}",
            ["step", "seconds", "artifacts"],
            [(r.name, f"{r.seconds:.1f}", ", ".join(r.artifacts)) for r in results],
        )
    )
    out.print(f"Total {sum(r.seconds for r in results):.1f} s. Reports in {ws.reports}.")


def register(app: typer.Typer) -> None:
    app.command("all")(all_steps)
