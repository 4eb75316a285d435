"""Evaluation runs in the warehouse: tables ``eval_runs`` and ``eval_results``.

A run row is written when the run starts (status ``running``); result rows stream in as
verdicts arrive (one transaction per batch), and the run row is closed with its totals
(``finished``) or the error that stopped it (``failed``). A run whose process was killed stays
``running``; :func:`finished_keys` tells a resumed run which samples are already stored.
The columns are defined in :mod:`codex_ds.telemetry.schema` (``EVAL_RUNS``, ``EVAL_RESULTS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from codex_ds.telemetry.schema import EVAL_RESULTS, EVAL_RUNS
from codex_ds.warehouse.db import load_arrow

__all__ = [
    "EvalRun",
    "RunNotFoundError",
    "close_run",
    "finished_keys",
    "get_run",
    "insert_results",
    "list_runs",
    "run_results",
    "start_run",
]

DETAIL_MAX_CHARS = 4000


class RunNotFoundError(LookupError):
    """No evaluation run with that id in the warehouse."""


@dataclass(frozen=True)
class EvalRun:
    """The ``eval_runs`` row of a run."""

    run_id: str
    created_at: datetime
    status: str
    task_set: str
    tasks: int
    model: str
    provider: str
    provider_label: str
    n: int
    k_list: str
    timeout_s: float | None
    workers: int
    isolation: str
    params: str | None = None
    finished_at: datetime | None = None
    samples_total: int | None = None
    samples_passed: int | None = None
    error: str | None = None

    @property
    def ks(self) -> list[int]:
        return [int(k) for k in self.k_list.split(",") if k.strip()]

    @property
    def simulated(self) -> bool:
        return self.provider == "simulated"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(con: duckdb.DuckDBPyConnection, run: EvalRun) -> None:
    """Insert the run row (status ``running``)."""
    row = asdict(run)
    cols = EVAL_RUNS.column_names
    con.execute(
        f"INSERT INTO eval_runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [row[c] for c in cols],
    )


def mark_running(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Reopen a run that is resumed."""
    con.execute(
        "UPDATE eval_runs SET status = 'running', error = NULL, finished_at = NULL "
        "WHERE run_id = ?",
        [run_id],
    )


def close_run(
    con: duckdb.DuckDBPyConnection, run_id: str, *, status: str, error: str | None = None
) -> None:
    """Set the final status and the totals counted from ``eval_results``."""
    con.execute(
        "UPDATE eval_runs SET status = ?, error = ?, finished_at = ?, "
        "samples_total = (SELECT count(*) FROM eval_results r WHERE r.run_id = ?), "
        "samples_passed = (SELECT count(*) FROM eval_results r WHERE r.run_id = ? AND r.passed) "
        "WHERE run_id = ?",
        [status, error, _now(), run_id, run_id, run_id],
    )


def _run_from_row(names: Sequence[str], row: Sequence[Any]) -> EvalRun:
    return EvalRun(**dict(zip(names, row, strict=True)))


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name IN ('eval_runs', 'eval_results')"
    ).fetchone()
    return bool(row and row[0] == 2)


def get_run(con: duckdb.DuckDBPyConnection, run_id: str) -> EvalRun:
    if not _has_tables(con):
        raise RunNotFoundError(
            f"no evaluation run {run_id!r}: the warehouse has no evaluation tables yet "
            "(run `codex-ds eval run` first)"
        )
    cur = con.execute(
        f"SELECT {', '.join(EVAL_RUNS.column_names)} FROM eval_runs WHERE run_id = ?", [run_id]
    )
    row = cur.fetchone()
    if row is None:
        known = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM eval_runs ORDER BY created_at DESC LIMIT 5"
            ).fetchall()
        ]
        hint = f" (recent runs: {', '.join(known)})" if known else " (the warehouse has none)"
        raise RunNotFoundError(f"no evaluation run {run_id!r}{hint}")
    return _run_from_row(EVAL_RUNS.column_names, row)


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[EvalRun]:
    if not _has_tables(con):
        return []
    cur = con.execute(
        f"SELECT {', '.join(EVAL_RUNS.column_names)} FROM eval_runs "
        "ORDER BY created_at DESC, run_id LIMIT ?",
        [limit],
    )
    return [_run_from_row(EVAL_RUNS.column_names, r) for r in cur.fetchall()]


def finished_keys(con: duckdb.DuckDBPyConnection, run_id: str) -> set[tuple[str, int]]:
    """(task_id, sample_index) of every sample of the run already stored."""
    return {
        (str(t), int(i))
        for t, i in con.execute(
            "SELECT task_id, sample_index FROM eval_results WHERE run_id = ?", [run_id]
        ).fetchall()
    }


def insert_results(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append result rows (dicts keyed by column name) in one transaction; returns the count.

    Missing nullable columns are NULL; ``evaluated_at`` defaults to now; ``detail`` is
    truncated to 4,000 characters.
    """
    cols = EVAL_RESULTS.column_names
    now = _now()
    values = []
    for r in rows:
        row = dict(r)
        row.setdefault("evaluated_at", now)
        if isinstance(row.get("detail"), str):
            row["detail"] = row["detail"][:DETAIL_MAX_CHARS]
        values.append([row.get(c) for c in cols])
    if not values:
        return 0
    table = pa.table({c: [v[i] for v in values] for i, c in enumerate(cols)})
    con.execute("BEGIN TRANSACTION")
    try:
        load_arrow(con, "eval_results", table)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(values)


def run_results(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """Every result row of a run, ordered by task and sample."""
    cur = con.execute(
        f"SELECT {', '.join(EVAL_RESULTS.column_names)} FROM eval_results WHERE run_id = ? "
        "ORDER BY task_id, sample_index",
        [run_id],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
