"""The monitors at the warehouse's edge: read their daily inputs, write their alerts.

:func:`run_monitors` runs the ``monitor_daily_metrics`` query (with the look-back the
baselines need before ``start``) and hands the rows to the pure
:func:`codex_ds.monitoring.evaluate`; :func:`write_alerts` stores the alerts in the
``alerts`` table idempotently: the rows of the evaluated days are replaced in one
transaction (a rerun does not duplicate them, and an alert that no longer fires after the
data changed disappears), while an alert already present keeps its first ``detected_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from codex_ds import monitoring
from codex_ds.telemetry import schema
from codex_ds.warehouse import catalog

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

QUERY = "monitor_daily_metrics"


def daily_rows(
    con: duckdb.DuckDBPyConnection,
    start: dt.date | None = None,
    end: dt.date | None = None,
    lookback_days: int = monitoring.MonitorConfig.lookback_days,
) -> list[dict[str, Any]]:
    """Rows of ``monitor_daily_metrics`` from ``lookback_days`` before ``start`` to ``end``."""
    q = catalog.default_catalog().get(QUERY)
    params = {
        "start_date": None if start is None else start - dt.timedelta(days=lookback_days),
        "end_date": end,
    }
    return catalog.run(con, q, params).records()


def run_monitors(
    con: duckdb.DuckDBPyConnection,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    config: monitoring.MonitorConfig | None = None,
    progress: monitoring.Progress | None = None,
) -> monitoring.MonitorReport:
    """Evaluate every monitor on the days from ``start`` to ``end`` (default: all days)."""
    cfg = config or monitoring.MonitorConfig()
    rows = daily_rows(con, start, end, cfg.lookback_days)
    return monitoring.evaluate(rows, start=start, end=end, config=cfg, progress=progress)


def write_alerts(con: duckdb.DuckDBPyConnection, report: monitoring.MonitorReport) -> int:
    """Replace the alerts of the report's evaluated days by its alerts; returns rows written."""
    if report.first_day is None or report.last_day is None:
        return 0
    lo, hi = report.first_day, report.last_day
    columns = schema.TABLES["alerts"].column_names
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        first_seen = {
            (m, d, v, day): at
            for m, d, v, day, at in con.execute(
                "SELECT monitor, dimension, dimension_value, day, detected_at FROM alerts "
                "WHERE day BETWEEN ? AND ?",
                [lo, hi],
            ).fetchall()
        }
        con.execute("DELETE FROM alerts WHERE day BETWEEN ? AND ?", [lo, hi])
        rows = [
            (
                a.day,
                a.monitor,
                a.dimension,
                a.dimension_value,
                a.value,
                a.baseline,
                a.threshold,
                a.direction,
                a.severity,
                a.z,
                a.volume,
                a.message,
                first_seen.get((a.monitor, a.dimension, a.dimension_value, a.day), now),
            )
            for a in report.alerts
        ]
        if rows:
            marks = ", ".join("?" for _ in columns)
            con.executemany(f"INSERT INTO alerts ({', '.join(columns)}) VALUES ({marks})", rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def read_alerts(
    con: duckdb.DuckDBPyConnection, start: dt.date | None = None, end: dt.date | None = None
) -> list[dict[str, Any]]:
    """Stored alerts, by day, monitor, dimension and value."""
    columns = ", ".join(schema.TABLES["alerts"].column_names)
    cur = con.execute(
        f"SELECT {columns} FROM alerts WHERE day >= ? AND day <= ? "
        "ORDER BY day, monitor, dimension, dimension_value",
        [start or dt.date.min, end or dt.date.max],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
