"""``codex-ds dashboard``: start the Streamlit dashboard on the workspace's warehouse."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from codex_ds.cli.console import err, fail, state
from codex_ds.settings import HOME_ENV

APP_FILE = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of the dashboard (headless, no telemetry), through
    :mod:`codex_ds.dashboard.serve`, which imports the pages' dependencies before serving."""
    return [
        sys.executable,
        "-m",
        "codex_ds.dashboard.serve",
        "run",
        str(APP_FILE),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def dashboard(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to bind; the default serves this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8501,
) -> None:
    """Start the dashboard (Streamlit) on the workspace's warehouse, read-only.

    Telemetry, experiments, code evaluation, failure diagnostics, causal estimates and data
    quality, with global filters. The CLI can keep writing to the warehouse (ingest,
    simulate, eval run) while the dashboard is open. Needs the `dashboard` extra:
    pip install 'codex-ds\\[dashboard]'. Stop it with Ctrl-C.
    """
    if importlib.util.find_spec("streamlit") is None or importlib.util.find_spec("plotly") is None:
        raise fail("the dashboard needs streamlit and plotly: pip install 'codex-ds\\[dashboard]'")
    workspace = state(ctx).workspace
    env = os.environ | {HOME_ENV: str(workspace.home)}
    err.print(f"Dashboard on http://{host}:{port} (warehouse {workspace.warehouse})")
    try:
        code = subprocess.call(streamlit_command(host, port), env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
