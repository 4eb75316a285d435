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


def test_fixed_compression_is_what_duckdb_stores(tmp_path: Path) -> None:
    """Columns whose compression the DDL fixes are stored so, even on values for which
    DuckDB would choose the other method: all-distinct text where it fixes dictionary,
    four repeated values where it fixes FSST."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(schema.SUGGESTIONS.ddl())
    fixed = {c.name: c.storage for c in schema.SUGGESTIONS.columns if c.storage}
    assert fixed["language"] == "dictionary" and fixed["suggestion_id"] == "fsst"
    assert "completion_text" not in fixed and "prompt_id" not in fixed
    con.execute(
        "INSERT INTO suggestions SELECT 'g' || (i % 4), md5('s' || i), md5('u' || i), "
        "TIMESTAMP '2026-01-01' + to_seconds(i), md5('m' || i), md5('l' || i), "
        "md5('t' || i), i * 1.5, 10, 1, NULL, md5('o' || i), 0, 0, NULL, "
        "'return ' || i FROM range(5000) r(i)"
    )
    con.execute("CHECKPOINT")
    stored = dict(
        con.execute(
            "SELECT column_name, lower(any_value(compression)) FROM pragma_storage_info("
            "'suggestions') WHERE segment_type = 'VARCHAR' GROUP BY ALL"
        ).fetchall()
    )
    for name, method in fixed.items():
        assert stored[name] == method, (name, stored)


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
