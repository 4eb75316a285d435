"""The DuckDB warehouse: open, create, migrate, describe and export.

The warehouse is one DuckDB file. The CLI opens it read-write, the dashboard
read-only. DuckDB allows either one writing process or several reading ones, so
both sides hold connections briefly and :func:`connect` waits (bounded) for a lock
held by another process instead of failing at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from codex_ds.telemetry import schema

LOCK_WAIT_SECONDS = 30.0


class WarehouseError(RuntimeError):
    """A warehouse that cannot be opened or is not a Codex DS warehouse."""


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    lock_wait: float = LOCK_WAIT_SECONDS,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, creating and migrating it when opened read-write.

    Waits up to ``lock_wait`` seconds when another process holds a conflicting lock.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(
            f"no warehouse at {path}: run `codex-ds simulate` or `codex-ds ingest FILE` first"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    deadline = time.monotonic() + lock_wait
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    # DuckDB draws its own progress bar on stdout for queries over 2 s; it would corrupt --json
    # output, and the CLI shows its own (rich) progress.
    # Under Jupyter, DuckDB insists on ipywidgets for any progress-bar setting; there the bar
    # goes to the notebook, not to stdout, so it can stay.
    with suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false")
    if not read_only:
        migrate(con)
    return con


@contextmanager
def open_warehouse(
    path: str | Path, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager around :func:`connect` that always closes the connection."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Create missing tables and add missing columns; return the schema version.

    Migrations are additive: a column added to :mod:`codex_ds.telemetry.schema`
    is added (nullable) to an existing warehouse, nothing is dropped.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    existing = {
        (t, c)
        for t, c in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'"
        ).fetchall()
    }
    tables = {t for t, _ in existing}
    for table in schema.TABLES.values():
        if table.name not in tables:
            con.execute(table.ddl())
            continue
        for col in table.columns:
            if (table.name, col.name) not in existing:
                con.execute(f"ALTER TABLE {table.name} ADD COLUMN {col.name} {col.dtype}")
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    current = row[0] if row else None
    if current is None or current < schema.SCHEMA_VERSION:
        con.execute(
            "INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)", [schema.SCHEMA_VERSION]
        )
    return schema.SCHEMA_VERSION


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per schema table (tables missing from an old file count 0)."""
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    counts: dict[str, int] = {}
    for name in schema.TABLES:
        if name in present:
            row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            counts[name] = int(row[0]) if row else 0
        else:
            counts[name] = 0
    return counts


@dataclass(frozen=True)
class WarehouseInfo:
    path: str
    schema_version: int | None
    tables: dict[str, int]
    date_range: dict[str, str | None]
    quarantine: dict[str, int] = field(default_factory=dict)
    files_ingested: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "schema_version": self.schema_version,
            "tables": self.tables,
            "date_range": self.date_range,
            "quarantine": self.quarantine,
            "files_ingested": self.files_ingested,
        }


def describe(con: duckdb.DuckDBPyConnection, path: str | Path) -> WarehouseInfo:
    """Row counts, date range of events and quarantine counts by reason."""
    counts = table_counts(con)
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    version = row[0] if row else None
    lows: list[Any] = []
    highs: list[Any] = []
    for t in schema.TABLES.values():
        if t.group == "system" or not t.time_column or counts.get(t.name, 0) == 0:
            continue
        lo, hi = con.execute(
            f"SELECT CAST(min({t.time_column}) AS DATE), CAST(max({t.time_column}) AS DATE) "
            f"FROM {t.name}"
        ).fetchone() or (None, None)
        if lo is not None:
            lows.append(lo)
            highs.append(hi)
    date_range = {
        "start": str(min(lows)) if lows else None,
        "end": str(max(highs)) if highs else None,
    }
    quarantine = {
        str(reason): int(n)
        for reason, n in con.execute(
            "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1"
        ).fetchall()
    }
    files_row = con.execute("SELECT count(*) FROM ingest_files").fetchone()
    return WarehouseInfo(
        path=str(path),
        schema_version=version,
        tables=counts,
        date_range=date_range,
        quarantine=quarantine,
        files_ingested=int(files_row[0]) if files_row else 0,
    )


def export_parquet(
    con: duckdb.DuckDBPyConnection, out_dir: str | Path, tables: list[str] | None = None
) -> dict[str, int]:
    """Export tables to Parquet under ``out_dir/<table>/day=YYYY-MM-DD/*.parquet``.

    Tables with a time column are partitioned by its day; the others are written
    as one file. Existing exports of the same tables are replaced. Returns rows
    written per table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for name in tables or list(schema.TABLES):
        table = schema.TABLES[name]
        target = out / name
        if target.exists():
            _remove_tree(target)
        n_row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        n = int(n_row[0]) if n_row else 0
        written[name] = n
        if n == 0:
            continue
        target_sql = str(target).replace("'", "''")
        if table.time_column == "day":  # already a DATE column: partition on it, keep it
            con.execute(
                f"COPY (SELECT * FROM {name}) TO '{target_sql}' "
                "(FORMAT PARQUET, PARTITION_BY (day), WRITE_PARTITION_COLUMNS true, "
                "OVERWRITE_OR_IGNORE)"
            )
        elif table.time_column:
            con.execute(
                f"COPY (SELECT *, CAST({table.time_column} AS DATE) AS day FROM {name}) "
                f"TO '{target_sql}' (FORMAT PARQUET, PARTITION_BY (day), OVERWRITE_OR_IGNORE)"
            )
        else:
            target.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY {name} TO '{target_sql}/data.parquet' (FORMAT PARQUET)")
    return written


def _remove_tree(path: Path) -> None:
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir():
            child.rmdir()
        else:
            child.unlink()
    path.rmdir()


def load_arrow(con: duckdb.DuckDBPyConnection, table: str, data: Any) -> int:
    """Append an Arrow table (or anything DuckDB can scan) whose columns are named as the schema's.

    Columns are matched by name and cast to the schema's types; schema columns the
    data lacks are filled with NULL. Trusted input only (the simulator): files from
    outside go through :mod:`codex_ds.telemetry.ingest`, which validates.
    """
    spec = schema.TABLES[table]
    present = set(getattr(data, "column_names", []) or [])
    select = ", ".join(
        f"CAST(src.{c.name} AS {c.dtype})" if c.name in present else f"CAST(NULL AS {c.dtype})"
        for c in spec.columns
    )
    con.register("__codex_ds_load", data)
    try:
        con.execute(
            f"INSERT INTO {table} ({', '.join(spec.column_names)}) "
            f"SELECT {select} FROM __codex_ds_load AS src"
        )
    finally:
        con.unregister("__codex_ds_load")
    return int(data.num_rows) if hasattr(data, "num_rows") else -1


def quarantine_rows(
    con: duckdb.DuckDBPyConnection,
    limit: int = 50,
    start_date: date | None = None,
    end_date: date | None = None,
) -> list[dict[str, Any]]:
    """The most recent quarantined rows, newest first; ``start_date``/``end_date`` bound the
    (UTC) day they were quarantined on, both included."""
    cur = con.execute(
        "SELECT file, line, target_table, field, reason, detail, raw, quarantined_at "
        "FROM quarantine WHERE (CAST(? AS DATE) IS NULL OR CAST(quarantined_at AS DATE) >= ?) "
        "AND (CAST(? AS DATE) IS NULL OR CAST(quarantined_at AS DATE) <= ?) "
        "ORDER BY quarantined_at DESC, file, line LIMIT ?",
        [start_date, start_date, end_date, end_date, limit],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
