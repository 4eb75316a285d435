"""The ``codex-ds`` command line (also ``python -m codex_ds`` and ``python app.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codex_ds import __version__
from codex_ds.cli import causal as causal_cli
from codex_ds.cli import dashboard as dashboard_cli
from codex_ds.cli import eval as eval_cli
from codex_ds.cli import experiment as experiment_cli
from codex_ds.cli import model as model_cli
from codex_ds.cli import monitor as monitor_cli
from codex_ds.cli import nlp as nlp_cli
from codex_ds.cli import pipeline as pipeline_cli
from codex_ds.cli import rollout as rollout_cli
from codex_ds.cli import sql as sql_cli
from codex_ds.cli import telemetry as telemetry_cli
from codex_ds.cli import warehouse as warehouse_cli
from codex_ds.cli.console import AppState
from codex_ds.settings import DEFAULT_HOME, HOME_ENV, Workspace

HOME_HELP = "Workspace directory (warehouse, reports, ground truth). Default ./" + DEFAULT_HOME

app = typer.Typer(
    name="codex-ds",
    help=(
        "Codex DS: measure whether an AI coding assistant helps developers.\n\n"
        "Telemetry warehouse (simulate, ingest), and `all` to run every step."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codex-ds {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar=HOME_ENV,
            help=HOME_HELP,
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = AppState(Workspace.resolve(home))


telemetry_cli.register(app)
app.add_typer(warehouse_cli.app, name="warehouse")
app.add_typer(sql_cli.app, name="sql")
app.add_typer(experiment_cli.app, name="experiment")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(causal_cli.app, name="causal")
app.add_typer(rollout_cli.app, name="rollout")
monitor_cli.register(app)
model_cli.register(app)
nlp_cli.register(app)
pipeline_cli.register(app)
dashboard_cli.register(app)


def run() -> None:
    """Entry point of the console script."""
    app()
