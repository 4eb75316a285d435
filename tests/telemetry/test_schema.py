"""The schema is the one source of truth: the DDL runs, the doc page is current."""

from __future__ import annotations

from pathlib import Path

import duckdb

from codex_ds.telemetry import schema


def test_schema_doc_is_generated_from_schema(repo_root: Path) -> None:
    page = repo_root / "docs" / "telemetry_schema.md"
    assert page.read_text() == schema.render_markdown(), (
        "docs/telemetry_schema.md drifted from telemetry/schema.py: "
        "run `codex-ds warehouse schema-doc`"
    )


def test_ddl_creates_every_table_with_its_columns() -> None:
    con = duckdb.connect()
    con.execute(schema.ddl())
    for table in schema.TABLES.values():
        cols = con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table.name],
        ).fetchall()
        assert [c[0] for c in cols] == list(table.column_names)
        assert [c[1] for c in cols] == [c.dtype for c in table.columns]
        assert [c[2] == "YES" for c in cols] == [c.nullable for c in table.columns]


def test_every_key_and_reference_names_a_real_column() -> None:
    for table in schema.TABLES.values():
        for key in table.primary_key:
            table.column(key)
        for col in table.columns:
            if col.references:
                parent, parent_col = col.references.split(".")
                schema.TABLES[parent].column(parent_col)
                assert parent in table.parents, f"{table.name}.{col.name} references {parent}"


def test_load_order_puts_parents_first() -> None:
    order = schema.load_order(list(reversed(schema.EVENT_TABLES)))
    for table in order:
        for parent in schema.TABLES[table].parents:
            assert order.index(parent) < order.index(table)


def test_schema_expresses_the_fields_metrics() -> None:
    # Ziegler et al. 2022: acceptance per shown, persistence at 30 s..10 min,
    # accepted characters per active hour; GitHub's metrics; Continue's events.
    assert set(schema.PERSISTENCE_CHECKPOINTS_S) == {30, 120, 300, 600}
    assert "not_shown" in schema.OUTCOMES and "partially_accepted" in schema.OUTCOMES
    assert schema.SESSIONS.column("active_minutes").unit == "minutes"
    assert schema.SUGGESTIONS.column("accepted_chars").unit == "characters"
    for name in ("suggestions", "acceptances", "active_users", "engaged_users", "acceptance_rate"):
        schema.COPILOT_DAILY.column(name)
