"""``codex-ds warehouse ...``: what the warehouse holds, Parquet export, the schema page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codex_ds.cli.console import emit_json, fail, out, read_warehouse, state, table
from codex_ds.telemetry import schema
from codex_ds.warehouse import db

app = typer.Typer(help="Inspect and export the telemetry warehouse.", no_args_is_help=True)


@app.command()
def info(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rows per table, the date range of events and quarantine counts by reason.

    --json prints {"path", "schema_version", "tables": {name: rows}, "date_range":
    {"start", "end"}, "quarantine": {reason: rows}, "files_ingested"}.
    """
    ws = state(ctx).workspace
    with read_warehouse(ctx) as con:
        data = db.describe(con, ws.warehouse)
    if as_json:
        emit_json(data.to_dict())
        return
    out.print(table(f"Warehouse {data.path}", ["table", "rows"], list(data.tables.items())))
    out.print(
        f"Events from {data.date_range['start'] or '-'} to {data.date_range['end'] or '-'}; "
        f"schema version {data.schema_version}; {data.files_ingested} file(s) ingested."
    )
    if data.quarantine:
        out.print(table("Quarantine", ["reason", "rows"], list(data.quarantine.items())))


@app.command()
def quarantine(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List quarantined input rows: file, line, field, reason and detail."""
    with read_warehouse(ctx) as con:
        rows = db.quarantine_rows(con, limit)
    if as_json:
        emit_json(rows)
        return
    out.print(
        table(
            "Quarantine",
            ["file", "line", "table", "field", "reason", "detail"],
            [
                (
                    r["file"],
                    r["line"] if r["line"] is not None else "",
                    r["target_table"] or "",
                    r["field"] or "",
                    r["reason"],
                    r["detail"],
                )
                for r in rows
            ],
        )
    )


@app.command()
def export(
    ctx: typer.Context,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Target folder (default: <home>/parquet).")
    ] = None,
    tables: Annotated[
        list[str] | None, typer.Option("--table", help="Only these tables (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Export tables to Parquet, partitioned by day (the input of `--engine spark`)."""
    ws = state(ctx).workspace
    unknown = [t for t in tables or [] if t not in schema.TABLES]
    if unknown:
        raise fail(f"unknown table(s): {', '.join(unknown)}; known: {', '.join(schema.TABLES)}", 2)
    target = out_dir or ws.exports
    with read_warehouse(ctx) as con:
        written = db.export_parquet(con, target, tables)
    if as_json:
        emit_json({"out": str(target), "tables": written})
        return
    out.print(table(f"Exported to {target}", ["table", "rows"], list(written.items())))


@app.command("schema-doc")
def schema_doc(
    path: Annotated[Path, typer.Option(help="Where the page lives.")] = Path(
        "docs/telemetry_schema.md"
    ),
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 if the page differs from the schema instead of writing it."
        ),
    ] = False,
) -> None:
    """Generate docs/telemetry_schema.md from the schema (or --check that it is current)."""
    text = schema.render_markdown()
    if check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            raise fail(f"{path} is out of date: run `codex-ds warehouse schema-doc`", 1)
        out.print(f"{path} is up to date.")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    out.print(f"wrote {path}")
