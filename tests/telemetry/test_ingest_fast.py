"""The one-parse fast path of JSON lines, and the rules between columns of a row.

The fast path (:meth:`_Rules.fast_json_stage`) reads numbers and timestamps typed at
parse time; it must build exactly the stage the reference path
(:meth:`_Rules.stage_select` over VARCHAR fields) builds, for every value, including
those a typed parse would coerce silently (12.5 -> 12, true -> 1, "12.5" -> 13).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from codex_ds.telemetry import ingest as ingest_module
from codex_ds.telemetry import schema
from codex_ds.telemetry.formats import events
from codex_ds.telemetry.ingest import EXIT_QUARANTINED, REASONS, _FileLoad, _lit, _Rules
from codex_ds.warehouse import db

NOW = datetime(2026, 3, 1, 12, 0, 0)

#: Values of every JSON kind a field may hold, including the ones a typed parse coerces.
EDGE_VALUES: list[Any] = [
    None,
    0,
    -0.0,
    12,
    12.0,
    12.5,
    -3,
    1e3,
    1.5e300,
    2**53 + 1,
    10**20,
    True,
    False,
    "12",
    " 12 ",
    "12.5",
    "1e3",
    "0x10",
    "1_000",
    "fast",
    "",
    "NaN",
    "inf",
    "-inf",
    "infinity",
    "true",
    "2025-06-01T10:00:00Z",
    "2025-06-01T10:00:00+02:00",
    "2025-06-01 10:00:00.123",
    "2025-06-01",
    "2035-01-01T00:00:00Z",
    "2014-12-31T23:59:59Z",
    1748772000,
    1748772000123,
    "1748772000",
    "python",
    "automatic",
    "accepted",
    "vscode",
    [1],
    {"a": 1},
]

GOOD: dict[str, dict[str, Any]] = {
    "sessions": {
        "session_id": "s1",
        "user_id": "u1",
        "started_at": "2025-06-01T10:00:00Z",
        "ended_at": "2025-06-01T11:00:00Z",
        "editor": "vscode",
        "language": "python",
        "task_type": "feature",
        "repo_size_loc": 1200,
        "active_minutes": 30.5,
        "typed_chars": 800,
    },
    "suggestions": {
        "suggestion_id": "g1",
        "session_id": "s1",
        "user_id": "u1",
        "shown_at": "2025-06-01T10:05:00Z",
        "model_version": "m-1",
        "language": "python",
        "trigger": "automatic",
        "latency_ms": 120.5,
        "suggested_chars": 40,
        "suggested_lines": 2,
        "prompt_tokens": 800,
        "outcome": "accepted",
        "accepted_chars": 40,
        "accepted_lines": 2,
        "prompt_id": None,
        "completion_text": "return x + y",
    },
}


def _corpus(table: str) -> list[str]:
    """Lines of JSON: a good record, then one per (column, edge value), then odd lines."""
    good = GOOD[table]
    out = [json.dumps(good), json.dumps(good, separators=(",", ":"))]
    for col in schema.TABLES[table].column_names:
        for value in EDGE_VALUES:
            out.append(json.dumps({**good, col: value}))
        absent = {k: v for k, v in good.items() if k != col}
        out.append(json.dumps(absent))
        out.append(json.dumps({**good, col: None}, separators=(",", ":")))
    out += [
        json.dumps({**good, "completion_text": "return true"}),  # 'true' in a string
        json.dumps({**good, "table": "users"}),  # another table
        json.dumps({**good, "event_type": table}),
        json.dumps({**good, "note": {"prompt_tokens": None}}),  # a nested key
        '{"suggestion_id": "g1", "accepted_chars": 12.5, "accepted_chars": 3}',
        "[1, 2]",
        "not json",
        "{" + json.dumps(good)[1:-1] + ", }",
    ]
    return out


def _stages(table: str, lines: list[str]) -> tuple[duckdb.DuckDBPyConnection, int]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    data = pa.table(
        {
            "_line": pa.array(range(1, len(lines) + 1), pa.int64()),
            "_raw": pa.array([line + "\n" for line in lines], pa.string()),
        }
    )
    con.register("__cx_lines", data)
    rules = _Rules(schema.TABLES[table], NOW)
    spec = schema.TABLES[table]
    loader = _FileLoad.__new__(_FileLoad)  # only for its SQL of the reference source
    reference = rules.stage_select(loader._json_source(spec, table), _lit(table))
    con.execute(f"CREATE TABLE ref AS {reference}")
    con.execute(f"CREATE TABLE fast AS {rules.fast_json_stage('__cx_lines', _lit(table))}")
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE _fast) FROM ({rules.fast_rows('__cx_lines', _lit(table))})"
    ).fetchone()
    assert row is not None
    return con, int(row[0])


@pytest.mark.parametrize("table", sorted(GOOD))
def test_fast_stage_equals_the_reference_stage(table: str) -> None:
    lines = _corpus(table)
    con, fast_rows = _stages(table, lines)
    for a, b in (("ref", "fast"), ("fast", "ref")):
        diff = con.execute(
            f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b} ORDER BY _line"
        ).fetchall()
        assert diff == [], (a, b, [lines[r[1] - 1] for r in diff][:5])
    n = con.execute("SELECT count(*), count(*) FILTER (WHERE _fok) FROM fast").fetchone()
    assert n is not None and n[0] == len(lines)
    # the fast path is taken by clean records (not a vacuous comparison) ...
    assert fast_rows >= 2 + len(schema.TABLES[table].column_names)
    # ... and never by a record the reference rejects
    assert fast_rows <= n[1]


def test_silent_coercions_are_rejected() -> None:
    """12.5, true and "12.5" are bad_type for an integer column, not 12, 1 and 13."""
    good = GOOD["suggestions"]
    lines = [
        json.dumps({**good, "suggested_chars": v, "accepted_chars": 0})
        for v in (12.5, True, "12.5", 12.0, "12")
    ]
    con, _ = _stages("suggestions", lines)
    got = con.execute("SELECT _line, _fok, suggested_chars FROM fast ORDER BY _line").fetchall()
    assert got == [
        (1, False, None),
        (2, False, None),
        (3, False, None),
        (4, True, 12),
        (5, True, 12),
    ]


def test_true_in_a_text_keeps_the_fast_path_a_boolean_number_does_not() -> None:
    """Code in a completion often says true or false: the row stays on the fast path
    when every number holding 0 or 1 is written as a number; a boolean read as 1 / 0,
    a key spelled with escapes or a repeated key leave it to the exact path."""
    good = {**GOOD["suggestions"], "completion_text": "return true || false"}
    lines = [
        json.dumps({**good, "accepted_chars": 0, "accepted_lines": 1}),
        json.dumps({**good, "accepted_chars": 0}, separators=(",", ":")),
        json.dumps({**good, "accepted_lines": True}),
        json.dumps({**good, "accepted_chars": False}).replace(
            '"accepted_chars": false', '"accepted_chars" :  false'
        ),
        json.dumps({**good, "accepted_lines": 1}).replace("accepted_lines", "accepted\\u005flines"),
        '{"accepted_lines": 1, ' + json.dumps({**good, "accepted_lines": 1})[1:],
        json.dumps({**good, "accepted_lines": 1.0, "accepted_chars": -0.0}),
    ]
    con, _ = _stages("suggestions", lines)
    rules = _Rules(schema.SUGGESTIONS, NOW)
    fast = con.execute(
        f"SELECT _line, _fast FROM ({rules.fast_rows('__cx_lines', _lit('suggestions'))}) "
        "ORDER BY _line"
    ).fetchall()
    assert [f for _, f in fast] == [True, True, False, False, False, False, True]
    got = con.execute("SELECT _line, _fok FROM fast ORDER BY _line").fetchall()
    assert got == con.execute("SELECT _line, _fok FROM ref ORDER BY _line").fetchall()
    assert [ok for _, ok in got] == [True, True, False, False, True, True, True]


def test_reference_path_switch_gives_the_same_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingesting the corpus with the fast path and with the reference path: same tables."""
    users = tmp_path / "users.jsonl"
    users.write_text(
        json.dumps(
            {
                "user_id": "u1",
                "segment": "expert",
                "primary_language": "python",
                "editor": "vscode",
                "signup_at": "2025-01-01T00:00:00Z",
            }
        )
        + "\n"
    )
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text("\n".join(_corpus("sessions")) + "\n")
    suggestions = tmp_path / "suggestions.jsonl"
    suggestions.write_text("\n".join(_corpus("suggestions")) + "\n")
    results = []
    for fast in (True, False):
        monkeypatch.setattr(ingest_module, "FAST_JSON_STAGE", fast)
        con = db.connect(tmp_path / f"w{fast}.duckdb")
        try:
            report = ingest_module.ingest_paths(con, [users, sessions, suggestions], now=NOW)
            tables = {
                t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("users", "sessions", "suggestions")
            }
            quarantine = con.execute(
                "SELECT regexp_replace(file, '.*/', ''), line, target_table, field, reason, detail "
                "FROM quarantine ORDER BY ALL"
            ).fetchall()
        finally:
            con.close()
        results.append((report.totals, tables, quarantine))
    assert results[0] == results[1]
    assert results[0][0]["loaded"] > 3 and results[0][0]["quarantined"] > 100


# ----------------------------------------------------------------------------- row rules


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = db.connect(tmp_path / "warehouse.duckdb")
    users = tmp_path / "users.jsonl"
    users.write_text(
        "".join(
            json.dumps(
                {
                    "user_id": f"u{i}",
                    "segment": "expert",
                    "primary_language": "python",
                    "editor": "vscode",
                    "signup_at": "2025-01-01T00:00:00Z",
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    assert ingest_module.ingest_paths(c, [users], now=NOW).exit_code == 0
    yield c
    c.close()


def _session(i: int, **changes: Any) -> dict[str, Any]:
    return {**GOOD["sessions"], "session_id": f"s{i}", "user_id": f"u{i % 3}", **changes}


def test_session_ending_before_it_starts_is_inconsistent(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    rows = [_session(i) for i in range(4)]
    rows[2] = _session(2, ended_at="2025-06-01T09:59:59Z")
    rows[3] = _session(3, ended_at="2025-06-01T10:00:00Z")  # equal: allowed
    path = tmp_path / "sessions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = ingest_module.ingest_paths(con, [path], now=NOW)
    f = report.files[0]
    assert f.loaded == {"sessions": 3}
    assert f.quarantined_by_reason == {"inconsistent": 1}
    assert report.exit_code == EXIT_QUARANTINED
    got = con.execute("SELECT line, field, reason, detail FROM quarantine").fetchall()
    assert got == [
        (
            3,
            "ended_at",
            "inconsistent",
            f"{path}:3: ended_at: inconsistent: value '2025-06-01T09:59:59Z' breaks "
            "ended_at >= started_at (started_at is '2025-06-01T10:00:00Z')",
        )
    ]


def test_accepted_more_than_suggested_is_inconsistent_in_jsonl_and_csv(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text("".join(json.dumps(_session(i)) + "\n" for i in range(3)))
    good = GOOD["suggestions"]
    rows = [
        {**good, "suggestion_id": f"g{i}", "session_id": f"s{i % 3}", "user_id": f"u{i % 3}"}
        for i in range(6)
    ]
    rows[1] = {**rows[1], "accepted_chars": 41}  # > suggested_chars 40
    rows[2] = {**rows[2], "accepted_lines": 3, "accepted_chars": 41}  # both rules, two rows
    rows[3] = {**rows[3], "accepted_chars": -1}  # out of range, not inconsistent too
    jsonl = tmp_path / "suggestions.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(good))
    for r in rows:
        writer.writerow(["" if r[c] is None else r[c] for c in good])
    csv_rows = [{**r, "suggestion_id": r["suggestion_id"] + "c"} for r in rows]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(good))
    for r in csv_rows:
        writer.writerow(["" if r[c] is None else r[c] for c in good])
    csv_path = tmp_path / "suggestions-2.csv"
    csv_path.write_text(buf.getvalue())
    report = ingest_module.ingest_paths(con, [sessions, jsonl, csv_path], now=NOW)
    by_file = {f.file: f for f in report.files}
    for path, first in ((jsonl, 1), (csv_path, 2)):  # CSV line 1 is the header
        f = by_file[str(path)]
        assert f.loaded == {"suggestions": 3}, f.to_dict()
        assert f.rows_quarantined == 3
        got = con.execute(
            "SELECT line, field, reason FROM quarantine WHERE file = ? ORDER BY ALL", [str(path)]
        ).fetchall()
        assert got == [
            (first + 1, "accepted_chars", "inconsistent"),
            (first + 2, "accepted_chars", "inconsistent"),
            (first + 2, "accepted_lines", "inconsistent"),
            (first + 3, "accepted_chars", "out_of_range"),
        ]


def test_row_rules_are_documented() -> None:
    assert "inconsistent" in REASONS
    page = schema.render_markdown()
    for table in schema.TABLES.values():
        for rule in table.row_rules:
            assert f"`{rule.text()}`" in page
            names = table.column_names
            assert rule.column in names and rule.other in names
            assert table.column(rule.column).dtype == table.column(rule.other).dtype


def test_line_chunks_keep_their_terminator() -> None:
    """The fast path tests the raw line; the reader keeps it whole (terminator included)."""
    chunk = next(events.iter_line_chunks([b'{"a": 1}\n{"b": true}\n']))
    assert chunk.data.column("_raw").to_pylist() == ['{"a": 1}\n', '{"b": true}\n']


def test_duplicates_found_across_chunks_whatever_the_key_ranges(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key-range shortcut of the duplicate check never hides a duplicate.

    Keys grow through the file (the shortcut skips the warehouse look-up) except for
    repeats of a chunk's lowest and highest key and of a key loaded by an earlier file.
    """
    monkeypatch.setattr(events, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(events, "FIRST_CHUNK_BYTES", 4096)
    monkeypatch.setattr(events, "MAX_LINE_BYTES", 1024)
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text("".join(json.dumps(_session(i)) + "\n" for i in range(3)))
    good = GOOD["suggestions"]

    def row(i: int) -> str:
        rec = {
            **good,
            "suggestion_id": f"g{i:05d}",
            "session_id": f"s{i % 3}",
            "user_id": f"u{i % 3}",
        }
        return json.dumps(rec) + "\n"

    earlier = tmp_path / "suggestions-0.jsonl"
    earlier.write_text(row(99999))
    ids = [*range(200), 0, 199, 57, 99999, *range(200, 260)]
    path = tmp_path / "suggestions-1.jsonl"
    path.write_text("".join(row(i) for i in ids))
    assert path.stat().st_size > 10 * 4096
    report = ingest_module.ingest_paths(con, [sessions, earlier, path], now=NOW)
    f = next(f for f in report.files if f.file == str(path))
    assert f.loaded == {"suggestions": 260} and f.duplicates == 4, f.to_dict()
    got = con.execute(
        "SELECT line FROM quarantine WHERE file = ? AND reason = 'duplicate_id' ORDER BY line",
        [str(path)],
    ).fetchall()
    assert got == [(201,), (202,), (203,), (204,)]
