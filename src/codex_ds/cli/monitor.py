"""``codex-ds monitor``: evaluate the daily monitors, store and print the alerts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from codex_ds.cli.console import emit_json, err, fail, out, progress_bar, state, table
from codex_ds.reporting.monitors import ALERT_COLUMNS, alert_rows

#: Exit code when at least one alert fired.
EXIT_ALERTS = 5


def _date(option: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option}: {text!r} is not an ISO date (YYYY-MM-DD)", 2) from None


def monitor(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            help="First day evaluated (ISO date). Default: the first day with data (the "
            "first week then only serves as history).",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help="Last day evaluated (ISO date). Default: the last day with data.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Run the daily monitors (acceptance rate, p95 latency, test pass rate, error rate;
    overall, by language and by model version) against a robust weekday-aware baseline.

    Alerts are written to the warehouse's `alerts` table (a rerun over the same days
    replaces their rows, never duplicates them) and printed. The rule is in
    docs/METHODOLOGY.md, "Monitors and alerts".

    Exit codes: 0 no alert; 5 at least one alert fired; 1 no warehouse or it cannot be
    opened; 2 bad option (date format, --start after --end).
    """
    from codex_ds.warehouse import alerts as alert_store
    from codex_ds.warehouse import db

    first, last = _date("--start", start), _date("--end", end)
    if first is not None and last is not None and first > last:
        raise fail(f"--start {first} is after --end {last}", 2)
    ws = state(ctx).workspace
    if not ws.warehouse.exists():
        raise fail(
            f"no warehouse at {ws.warehouse}: run `codex-ds simulate` or `codex-ds ingest FILE` "
            "first",
            1,
        )
    try:
        con = db.connect(ws.warehouse)
    except db.WarehouseError as exc:
        raise fail(str(exc), 1) from None
    try:
        with progress_bar(not as_json) as prog:
            task = prog.add_task("monitors", total=100)

            def on_progress(stage: str, fraction: float) -> None:
                prog.update(task, description=stage, completed=round(100 * fraction))

            report = alert_store.run_monitors(con, first, last, progress=on_progress)
            written = alert_store.write_alerts(con, report)
    finally:
        con.close()
    code = EXIT_ALERTS if report.alerts else 0
    if as_json:
        emit_json({**report.to_dict(), "alerts_written": written, "exit_code": code})
        raise typer.Exit(code)
    if report.first_day is None:
        out.print("No data to monitor in the warehouse.")
        raise typer.Exit(code)
    counts = report.status_counts()
    out.print(
        f"Monitors on {report.first_day} to {report.last_day}: {report.monitor_days:,} "
        f"monitor-days evaluated ({counts['low_volume']:,} below the minimum volume, "
        f"{counts['warming_up']:,} without enough history)."
    )
    if not report.alerts:
        out.print("No alert.")
        raise typer.Exit(code)
    out.print(
        table(
            f"{len(report.alerts)} alert(s), written to the alerts table",
            list(ALERT_COLUMNS),
            alert_rows(report.alerts),
        )
    )
    err.print(f"{len(report.alerts)} alert(s) fired: exit code {EXIT_ALERTS}", highlight=False)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
