"""Index of the analytics suite's results (reports/analytics.md)."""

from __future__ import annotations

from collections.abc import Sequence

from codex_ds.reporting.markdown import md_table
from codex_ds.warehouse.catalog import Catalog, QueryResult


def render_analytics_index(catalog: Catalog, results: Sequence[QueryResult]) -> str:
    """One row per query: category, rows returned, time, and the CSV holding the result."""
    by_name = {r.query: r for r in results}
    rows = []
    for q in catalog.list():
        res = by_name.get(q.name)
        if res is None:
            continue
        rows.append(
            (
                q.category,
                f"`{q.name}`",
                q.summary,
                f"{res.rows:,}",
                f"{res.seconds * 1000:.0f} ms",
                f"[csv](analytics/{q.name}.csv)",
            )
        )
    return (
        "# Analytics suite\n\n"
        "Every named query of `codex-ds sql list`, run with its default parameters on this "
        "workspace's warehouse (`codex-ds sql show NAME` for its definition).\n\n"
        + md_table(["category", "query", "what", "rows", "time", "result"], rows)
        + "\n"
    )
