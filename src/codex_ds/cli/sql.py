"""``codex-ds sql ...``: list, show, run and transpile the named warehouse queries.

``sql run`` runs on DuckDB (the warehouse file) or, with ``--engine spark``, on Spark over the
warehouse's Parquet export (``codex-ds warehouse export`` writes it; ``--parquet DIR`` reads
another, ``--spark-master URL`` runs on a cluster).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import duckdb
import typer
from rich.syntax import Syntax
from rich.table import Table

from codex_ds.cli.console import emit_json, err, fail, out, state, table
from codex_ds.warehouse import catalog, db

if TYPE_CHECKING:  # pragma: no cover
    from codex_ds.warehouse.spark import SparkWarehouse

app = typer.Typer(
    help="Named analytics queries over the warehouse: list, show, run, transpile.",
    no_args_is_help=True,
)

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="NAME=VALUE (repeatable). Dates YYYY-MM-DD, lists 1,7,28, `null` for no filter.",
        show_default=False,
    ),
]


def _catalog() -> catalog.Catalog:
    try:
        return catalog.default_catalog()
    except catalog.CatalogError as exc:  # pragma: no cover - a broken .sql file is a bug
        raise fail(str(exc), 1) from None


def _query(name: str) -> catalog.Query:
    try:
        return _catalog().get(name)
    except catalog.UnknownQueryError as exc:
        raise fail(str(exc), 2) from None


def _connect(ctx: typer.Context) -> duckdb.DuckDBPyConnection:
    ws = state(ctx).workspace
    try:
        return db.connect(ws.warehouse, read_only=True)
    except db.WarehouseError as exc:
        raise fail(str(exc)) from None


@dataclass(frozen=True)
class _SparkOptions:
    """Where and how ``--engine spark`` runs."""

    master: str
    parquet: str | None  # a folder or a URI (hdfs://, s3a://): not a Path, which eats "//"
    conf: dict[str, str]


def _spark_options(
    engine: str, master: str | None, parquet: str | None, conf: list[str] | None
) -> _SparkOptions | None:
    """The Spark options, or None for DuckDB (which takes none of them)."""
    given = [
        flag
        for flag, value in (
            ("--spark-master", master),
            ("--parquet", parquet),
            ("--spark-conf", conf),
        )
        if value
    ]
    if engine != "spark":
        if given:
            raise fail(f"{', '.join(given)} need(s) --engine spark", 2)
        return None
    from codex_ds.warehouse import spark

    settings: dict[str, str] = {}
    for pair in conf or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise fail(f"--spark-conf {pair!r}: expected spark.KEY=VALUE", 2)
        settings[key.strip()] = value
    try:
        chosen = spark.check_master(master or spark.DEFAULT_MASTER)
    except catalog.CatalogError as exc:
        raise fail(f"--spark-master: {exc}", 2) from None
    return _SparkOptions(chosen, parquet, settings)


def _open_spark(ctx: typer.Context, opts: _SparkOptions) -> SparkWarehouse:
    """The Parquet export as Spark views (a warning when it is older than the warehouse)."""
    from codex_ds.warehouse import spark

    ws = state(ctx).workspace
    export_dir: str | Path = opts.parquet or ws.exports
    if spark.export_is_stale(ws.warehouse, export_dir):
        err.print(
            f"[yellow]warning:[/] the Parquet export {export_dir} is older than the warehouse "
            f"{ws.warehouse}: `codex-ds warehouse export` refreshes it",
            highlight=False,
        )
    try:
        with err.status(f"Starting Spark ({opts.master}) on {export_dir} ..."):
            wh = spark.SparkWarehouse.open(export_dir, master=opts.master, conf=opts.conf)
    except catalog.CatalogError as exc:
        raise fail(str(exc), 2) from None
    except (db.WarehouseError, spark.SparkError) as exc:
        raise fail(str(exc)) from None
    if not any(wh.tables.values()):
        err.print(
            f"[yellow]note:[/] {wh.export_dir} holds no table files: every table is empty "
            "(an empty warehouse exports none)",
            highlight=False,
        )
    return wh


def _query_errors() -> tuple[type[Exception], ...]:
    """Errors of a query run that are the query's (exit 1), not the input's."""
    from codex_ds.warehouse.spark import SparkError

    return (duckdb.Error, SparkError)


@app.command("list")
def list_queries(
    category: Annotated[
        str | None,
        typer.Option(help=f"Only this category: {', '.join(catalog.CATEGORIES)}."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the named queries: name, category, parameters and what each computes.

    --json prints a list of {"name", "category", "description", "params": [{"name", "type",
    "default", "required", "nullable", "choices", "vocabulary", "description"}], "filters",
    "columns": [{"name", "type", "description"}], "path"}.
    """
    if category is not None and category not in catalog.CATEGORIES:
        raise fail(f"unknown category {category!r}; one of {', '.join(catalog.CATEGORIES)}", 2)
    queries = _catalog().list(category)
    if as_json:
        emit_json([q.to_dict() for q in queries])
        return
    t = Table(
        title=f"{len(queries)} queries (`codex-ds sql show NAME` for details)",
        title_justify="left",
        header_style="bold",
    )
    t.add_column("name", no_wrap=True)
    t.add_column("category", no_wrap=True)
    t.add_column("parameters")
    t.add_column("description")
    for q in queries:
        own = [p.name for p in q.params if p.name not in catalog.FILTERS]
        if q.filters:
            own.append("filters: " + ", ".join(q.filters))
        t.add_row(q.name, q.category, "; ".join(own), q.summary)
    out.print(t)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Query name.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Describe a query: description, parameters, output columns and its SQL."""
    q = _query(name)
    if as_json:
        emit_json(q.to_dict(with_sql=True))
        return
    out.print(f"[bold]{q.name}[/] ({q.category})", highlight=False)
    out.print(q.description, highlight=False)
    if q.params:
        out.print(
            _grid(
                "Parameters",
                ["name", "type", "default", "description"],
                [
                    (
                        p.name,
                        p.dtype + _domain(p),
                        "required" if p.required else _cell(p.default) or "NULL",
                        p.description,
                    )
                    for p in q.params
                ],
            )
        )
    out.print(
        _grid(
            "Columns",
            ["name", "type", "description"],
            [(c.name, c.dtype, c.description) for c in q.columns],
        )
    )
    out.print(Syntax(q.sql, "sql", word_wrap=True))


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Query name (or --all).", show_default=False)
    ] = None,
    params: ParamOption = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="table, csv, json or parquet (parquet needs --out)."),
    ] = "table",
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the rows to this file (with --all: a folder, one file per query).",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="duckdb (the warehouse file) or spark (its Parquet export)."),
    ] = "duckdb",
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL, e.g. spark://host:7077 (default local[2]; --engine spark).",
            show_default=False,
        ),
    ] = None,
    parquet: Annotated[
        str | None,
        typer.Option(
            "--parquet",
            help="Parquet export read by --engine spark (default <home>/parquet, written by "
            "`codex-ds warehouse export`); a URI such as hdfs://... or s3a://... on a cluster.",
            show_default=False,
        ),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            "--spark-conf",
            help="spark.KEY=VALUE passed to the Spark session (repeatable; --engine spark).",
            show_default=False,
        ),
    ] = None,
    all_queries: Annotated[
        bool, typer.Option("--all", help="Run every query with its defaults.")
    ] = False,
    limit: Annotated[int, typer.Option(min=0, help="Rows shown by --format table (0: all).")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Same as --format json (with --all: a JSON summary).")
    ] = False,
) -> None:
    """Run a query with bound parameters and print or write its rows.

    Parameters are bound by the engine, never pasted into SQL. With --all every query runs
    with its defaults (a --param applies to the queries that declare it) and a summary is
    printed; --out DIR then writes each result as DIR/NAME.{csv,json,parquet}.

    --engine spark runs the same query, transpiled to Spark SQL, on the warehouse's Parquet
    export (run `codex-ds warehouse export` first, and again after the warehouse changes) in
    a local Spark session, or on the cluster of --spark-master.
    """
    if as_json and not all_queries:
        fmt = "json"
    if fmt not in catalog.OUTPUT_FORMATS:
        raise fail(f"--format {fmt!r}: one of {', '.join(catalog.OUTPUT_FORMATS)}", 2)
    try:
        catalog.require_engine(engine)
    except catalog.CatalogError as exc:
        raise fail(f"--engine {engine}: {exc}", 2) from None
    spark_opts = _spark_options(engine, spark_master, parquet, spark_conf)
    if all_queries == (name is not None):
        raise fail("give a query NAME or --all (not both)", 2)
    try:
        assignments = catalog.parse_assignments(params or [])
    except catalog.ParameterError as exc:
        raise fail(str(exc), 2) from None
    if all_queries:
        _run_all(ctx, assignments, fmt, out_path, as_json, spark_opts)
        return
    assert name is not None
    q = _query(name)
    if fmt == "parquet" and out_path is None:
        raise fail("--format parquet needs --out FILE", 2)
    try:
        catalog.bind(q, assignments)  # report bad parameters before opening the warehouse
    except catalog.CatalogError as exc:
        raise fail(str(exc), 2) from None
    con = _connect(ctx) if spark_opts is None else _open_spark(ctx, spark_opts)
    try:
        result = catalog.run(con, q, assignments)
    except catalog.CatalogError as exc:
        raise fail(str(exc), 2) from None
    except _query_errors() as exc:
        raise fail(f"query {q.name!r} failed: {exc}") from None
    finally:
        con.close()
    if out_path is not None:
        written = catalog.write_result(result, _file_format(fmt), out_path)
        err.print(f"wrote {result.rows} row(s) to {written}", highlight=False)
        return
    if fmt == "csv":
        sys.stdout.write(catalog.to_csv(result))
    elif fmt == "json":
        sys.stdout.write(catalog.to_json(result))
    else:
        _print_table(result, limit)


def _run_all(
    ctx: typer.Context,
    assignments: dict[str, str],
    fmt: str,
    out_dir: Path | None,
    as_json: bool,
    spark_opts: _SparkOptions | None = None,
) -> None:
    cat = _catalog()
    queries = cat.list()
    unknown = [k for k in assignments if not any(k in {p.name for p in q.params} for q in queries)]
    if unknown:
        raise fail(f"no query has parameter(s) {', '.join(unknown)}", 2)
    owned = {
        q.name: {k: v for k, v in assignments.items() if k in {p.name for p in q.params}}
        for q in queries
    }
    for q in queries:
        try:
            catalog.bind(q, owned[q.name])  # bad values fail once, before anything runs
        except catalog.ParameterError as exc:
            raise fail(str(exc), 2) from None
    file_fmt = _file_format(fmt)
    con = _connect(ctx) if spark_opts is None else _open_spark(ctx, spark_opts)
    summary: list[dict[str, Any]] = []
    failures = 0
    errors: tuple[type[Exception], ...] = (catalog.CatalogError, *_query_errors())
    try:
        for q in queries:
            entry: dict[str, Any] = {"query": q.name, "category": q.category}
            try:
                result = catalog.run(con, q, owned[q.name])
            except errors as exc:
                failures += 1
                entry.update(ok=False, error=str(exc))
                summary.append(entry)
                continue
            entry.update(ok=True, rows=result.rows, seconds=round(result.seconds, 4))
            if out_dir is not None:
                path = out_dir / f"{q.name}.{file_fmt}"
                catalog.write_result(result, file_fmt, path)
                entry["file"] = str(path)
            summary.append(entry)
    finally:
        con.close()
    if as_json:
        emit_json(
            {
                "engine": "duckdb" if spark_opts is None else "spark",
                "queries": summary,
                "failed": failures,
            }
        )
    else:
        out.print(
            table(
                f"Ran {len(summary)} queries",
                ["query", "category", "rows", "seconds", "status"],
                [
                    (
                        e["query"],
                        e["category"],
                        e.get("rows", ""),
                        f"{e['seconds']:.3f}" if "seconds" in e else "",
                        "ok" if e["ok"] else f"error: {e['error']}",
                    )
                    for e in summary
                ],
            )
        )
        if out_dir is not None:
            err.print(f"wrote {len(summary) - failures} file(s) to {out_dir}", highlight=False)
    if failures:
        raise fail(f"{failures} query(ies) failed", 1)


@app.command()
def transpile(
    name: Annotated[str, typer.Argument(help="Query name.", show_default=False)],
    dialect: Annotated[
        str, typer.Option(help=f"Target: {', '.join(catalog.TRANSPILE_DIALECTS)}.")
    ] = "spark",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print a query in another SQL dialect (sqlglot), with its parameters as markers.

    Spark and Snowflake get :name, BigQuery @name, Postgres %(name)s. Constructs sqlglot
    cannot translate are listed on stderr.
    """
    q = _query(name)
    if dialect not in catalog.TRANSPILE_DIALECTS:
        raise fail(f"--dialect {dialect!r}: one of {', '.join(catalog.TRANSPILE_DIALECTS)}", 2)
    try:
        result = catalog.transpile(q, dialect)
    except catalog.CatalogError as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        emit_json(result.to_dict())
        return
    sys.stdout.write(result.sql)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _domain(p: catalog.Param) -> str:
    if p.vocabulary:
        return f" in {p.vocabulary}"
    if p.choices:
        return f" in ({', '.join(p.choices)})"
    return f" in {p.values_from}" if p.values_from else ""


def _grid(title: str, headers: list[str], rows: list[tuple[str, ...]]) -> Table:
    """A left-aligned table of text (console.table right-aligns headers starting with "n")."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for h in headers:
        t.add_column(h)
    for r in rows:
        t.add_row(*r)
    return t


def _file_format(fmt: str) -> catalog.OutputFormat:
    """The format of a written file: ``table`` writes CSV."""
    if fmt == "json":
        return "json"
    if fmt == "parquet":
        return "parquet"
    return "csv"


def _print_table(result: catalog.QueryResult, limit: int) -> None:
    records = result.records()
    shown = records if limit == 0 else records[:limit]
    types = dict(zip(result.table.column_names, result.table.schema.types, strict=True))
    t = Table(
        title=f"{result.query}: {result.rows} row(s)", title_justify="left", header_style="bold"
    )
    for col in result.table.column_names:
        numeric = str(types[col]).startswith(("int", "uint", "double", "float", "decimal"))
        t.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for row in shown:
        t.add_row(*[_cell(v) for v in row.values()])
    out.print(t)
    if len(shown) < len(records):
        err.print(
            f"showing {len(shown)} of {len(records)} rows: --limit 0 shows all, "
            "--format csv|json|parquet gives every row",
            highlight=False,
        )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return str(value)
