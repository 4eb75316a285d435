"""Terminal output shared by the command groups: a stdout console for results, a stderr
console for progress and messages, JSON emission for ``--json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from codex_ds.settings import Workspace
from codex_ds.warehouse import db

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@dataclass
class AppState:
    workspace: Workspace


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):  # pragma: no cover - the root callback always sets it
        obj = AppState(Workspace.resolve())
        ctx.find_root().obj = obj
    return obj


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout (nothing else goes to stdout with --json)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for h in headers:
        t.add_column(h, justify="right" if h.startswith(("rows", "n ", "#", "seconds")) else "left")
    for r in rows:
        t.add_row(
            *[f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in r]
        )
    return t


def mapping_table(
    title: str, data: Mapping[str, Any], key: str = "name", value: str = "value"
) -> Table:
    return table(title, [key, value], [(k, v) for k, v in data.items()])


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    """A rich progress bar on stderr (disabled when stderr is not a terminal or with --json)."""
    prog = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=False,
    )
    with prog:
        yield prog


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def read_warehouse(ctx: typer.Context) -> Iterator[duckdb.DuckDBPyConnection]:
    """The workspace's warehouse, opened read-only for one command and closed after it; a
    warehouse that cannot be opened (missing, locked too long) is a one-line error, exit 1."""
    try:
        con = db.connect(state(ctx).workspace.warehouse, read_only=True)
    except db.WarehouseError as exc:
        raise fail(str(exc)) from None
    try:
        yield con
    finally:
        con.close()
