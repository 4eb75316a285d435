"""Markdown report of what the warehouse holds."""

from __future__ import annotations

from codex_ds.reporting.markdown import md_table
from codex_ds.warehouse.db import WarehouseInfo


def render_warehouse_report(info: WarehouseInfo) -> str:
    """Tables with row counts, the date range of events and the quarantine by reason."""
    lines = [
        "# Warehouse",
        "",
        f"File: `{info.path}` (schema version {info.schema_version}).",
        "",
        f"Events from {info.date_range.get('start') or '-'} "
        f"to {info.date_range.get('end') or '-'}; "
        f"{info.files_ingested} file(s) ingested.",
        "",
        "## Tables",
        "",
        md_table(["table", "rows"], [(k, f"{v:,}") for k, v in info.tables.items()]),
        "",
        "## Quarantine",
        "",
    ]
    if info.quarantine:
        lines.append(
            md_table(["reason", "rows"], [(k, f"{v:,}") for k, v in info.quarantine.items()])
        )
    else:
        lines.append("Nothing quarantined.")
    return "\n".join(lines) + "\n"
