"""Ingestion: round trips in every format, idempotence, duplicates, load order, crashes.

Fixtures are built in ``tmp_path`` from :func:`world` — valid rows of every event
table with awkward but legal values (unicode, quotes, commas, newlines, nulls,
epoch and offset timestamps) — written as JSON Lines, CSV and Parquet, plain and
gzip. After ingestion the warehouse must hold exactly those values.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codex_ds.telemetry import formats, schema
from codex_ds.telemetry.formats import events
from codex_ds.telemetry.formats.base import LINE_COLUMN, ParsedBatch, ParsedFile, ParseIssue
from codex_ds.telemetry.ingest import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_QUARANTINED,
    REASONS,
    IngestReport,
    ingest_paths,
)
from codex_ds.warehouse import db

NOW = datetime(2026, 3, 1, 12, 0, 0)
T0 = datetime(2025, 3, 1, 12, 0, 0)
TEXT = 'line one, "quoted"\nline two: ü ∑ 😀 \\ back\tslash'

Row = dict[str, Any]


def world(n: int = 6) -> dict[str, list[Row]]:
    """Valid rows of every event table, referencing each other (typed Python values)."""
    users = [
        {
            "user_id": f"u{i}",
            "segment": schema.SEGMENTS[i % 3],
            "primary_language": schema.LANGUAGES[i % 5],
            "editor": schema.EDITORS[i % 4],
            "team": None if i % 3 == 0 else f"team, {i}",
            "signup_at": T0 + timedelta(days=i, microseconds=1000 * i),
        }
        for i in range(n)
    ]
    sessions = [
        {
            "session_id": f"s{i}",
            "user_id": f"u{i % n}",
            "started_at": T0 + timedelta(days=30 + i, hours=i),
            "ended_at": T0 + timedelta(days=30 + i, hours=i + 1),
            "editor": schema.EDITORS[i % 3],
            "language": schema.LANGUAGES[i % 7],
            "task_type": None if i % 2 else schema.TASK_TYPES[i % 6],
            "repo_size_loc": None if i % 3 == 1 else 10_000_000_000 + i,
            "active_minutes": 12.5 + i,
            "typed_chars": 100 * i,
        }
        for i in range(n + 2)
    ]
    suggestions = [
        {
            "suggestion_id": f"g{i}",
            "session_id": f"s{i % (n + 2)}",
            "user_id": f"u{i % (n + 2) % n}",
            "shown_at": T0 + timedelta(days=40, seconds=37 * i, microseconds=250_000),
            "model_version": "m-2026.1" if i % 2 else "m-2025.4",
            "language": schema.LANGUAGES[i % 3],
            "trigger": schema.TRIGGERS[i % 3],
            "latency_ms": 50.25 * (i + 1),
            "suggested_chars": 10 + i,
            "suggested_lines": 1 + i % 4,
            "prompt_tokens": None if i % 4 == 3 else 700 + i,
            "outcome": schema.OUTCOMES[i % 4],
            "accepted_chars": 10 + i if i % 4 == 0 else 0,
            "accepted_lines": 1 if i % 4 == 0 else 0,
            "prompt_id": None if i % 2 else f"p{i % n}",
            "completion_text": TEXT if i % 2 == 0 else None,
        }
        for i in range(3 * n)
    ]
    persistence = [
        {
            "suggestion_id": f"g{i // 4}",
            "check_after_s": schema.PERSISTENCE_CHECKPOINTS_S[i % 4],
            "checked_at": T0 + timedelta(days=41, minutes=i),
            "edit_distance": i,
            "edit_ratio": 0.25 * (i % 5),
            "removed": i % 3 == 0,
        }
        for i in range(2 * n)
    ]
    runs = [
        {
            "run_id": f"r{i}",
            "session_id": f"s{i % n}",
            "user_id": f"u{i % n}",
            "ran_at": T0 + timedelta(days=42, minutes=i),
            "kind": schema.RUN_KINDS[i % 2],
            "language": "python",
            "model_version": None if i % 2 else "m-2026.1",
            "compile_ok": i % 2 == 0,
            "tests_passed": i,
            "tests_failed": i % 2,
            "error_type": schema.ERROR_TYPES[i % 9],
            "error_message": None if i % 2 == 0 else 'Traceback:\n  File "x.py", line 1\nNameError',
            "duration_ms": None if i % 3 == 0 else 1234.5,
        }
        for i in range(n)
    ]
    prompts = [
        {
            "prompt_id": f"p{i}",
            "session_id": f"s{i % n}",
            "user_id": f"u{i % n}",
            "created_at": T0 + timedelta(days=43, minutes=i),
            "language": "go",
            "text": f"write a function {i}; {TEXT}",
        }
        for i in range(n)
    ]
    experiments = [
        {
            "experiment_id": f"e{i}",
            "name": f"Model rollout {i}",
            "description": None if i else "New model, bigger context",
            "unit": "user",
            "control_variant": "control",
            "started_at": T0 + timedelta(days=10 * i),
            "ended_at": None if i else T0 + timedelta(days=20),
        }
        for i in range(2)
    ]
    assignments = [
        {
            "experiment_id": f"e{i % 2}",
            "user_id": f"u{i}",
            "variant": "treatment" if i % 2 else "control",
            "assigned_at": T0 + timedelta(days=1, minutes=i),
        }
        for i in range(n)
    ]
    feature_adoption = [
        {
            "user_id": f"u{i % n}",
            "feature": "chat" if i < n else "agent",
            "adopted": i % 2 == 0,
            "adopted_at": T0 + timedelta(days=5) if i % 2 == 0 else None,
        }
        for i in range(2 * n)
    ]
    dev_outcomes = [
        {
            "user_id": f"u{i % n}",
            "week_start": date(2025, 3, 3) + timedelta(weeks=i),
            "prs_merged": i % 5,
            "lead_time_hours": None if i % 4 == 0 else 3.5 * i,
        }
        for i in range(n)
    ]
    survey_responses = [
        {
            "response_id": f"q{i}",
            "user_id": f"u{i % n}",
            "submitted_at": T0 + timedelta(days=60, hours=i),
            "item": schema.SURVEY_ITEMS[i % 6],
            "score": 1 + i % 5,
        }
        for i in range(n)
    ]
    out: dict[str, list[Row]] = {
        "users": users,
        "sessions": sessions,
        "suggestions": suggestions,
        "persistence": persistence,
        "runs": runs,
        "prompts": prompts,
        "experiments": experiments,
        "assignments": assignments,
        "feature_adoption": feature_adoption,
        "dev_outcomes": dev_outcomes,
        "survey_responses": survey_responses,
    }
    assert set(out) == set(schema.EVENT_TABLES)
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_json_value(value))


def write_jsonl(path: Path, rows: list[Row], *, table: str | None = None) -> Path:
    """One record a line; ``table`` adds a table field to every record."""
    lines = []
    for r in rows:
        rec = {k: _json_value(v) for k, v in r.items()}
        if table is not None:
            rec = {"table": table, **rec}
        lines.append(json.dumps(rec, ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_csv(path: Path, rows: list[Row]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = list(rows[0])
    writer.writerow(cols)
    for r in rows:
        writer.writerow([_text_value(r[c]) for c in cols])
    data = buf.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_parquet(path: Path, table: str, rows: list[Row]) -> Path:
    """Typed Parquet (TIMESTAMP, DATE, BOOLEAN, numbers) with the schema's columns."""
    types = {
        "VARCHAR": pa.string(),
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us"),
        "DATE": pa.date32(),
    }
    spec = schema.TABLES[table]
    arrays = {c.name: pa.array([r[c.name] for r in rows], types[c.dtype]) for c in spec.columns}
    pq.write_table(pa.table(arrays), path)
    return path


WRITERS = {
    "jsonl": lambda p, t, rows: write_jsonl(p / f"{t}.jsonl", rows),
    "jsonl.gz": lambda p, t, rows: write_jsonl(p / f"{t}.jsonl.gz", rows),
    "csv": lambda p, t, rows: write_csv(p / f"{t}-2026-01-05.csv", rows),
    "csv.gz": lambda p, t, rows: write_csv(p / f"{t}.csv.gz", rows),
    "parquet": lambda p, t, rows: write_parquet(p / f"{t}.parquet", t, rows),
}


def warehouse_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[Row]:
    spec = schema.TABLES[table]
    cols = ", ".join(spec.column_names)
    order = ", ".join(spec.primary_key)
    rel = con.execute(f"SELECT {cols} FROM {table} ORDER BY {order}")
    return [dict(zip(spec.column_names, r, strict=True)) for r in rel.fetchall()]


def expected_rows(table: str, rows: list[Row]) -> list[Row]:
    spec = schema.TABLES[table]
    return sorted(rows, key=lambda r: tuple(r[k] for k in spec.primary_key))


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = db.connect(tmp_path / "warehouse.duckdb")
    yield c
    c.close()


def ingest(con: duckdb.DuckDBPyConnection, *paths: Path, **kw: Any) -> IngestReport:
    return ingest_paths(con, list(paths), now=NOW, **kw)


def assert_accounted(report: IngestReport) -> None:
    """Every record read is loaded, a duplicate or quarantined."""
    for f in report.files:
        if f.status == "loaded":
            assert f.rows_read == f.rows_loaded + f.duplicates + f.rows_quarantined, f.to_dict()


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_round_trip_every_table(fmt: str, tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    data = world()
    folder = tmp_path / "in"
    folder.mkdir()
    for table, rows in data.items():
        WRITERS[fmt](folder, table, rows)
    report = ingest(con, folder)
    assert report.exit_code == EXIT_OK, report.to_dict()
    assert report.totals["quarantined"] == 0
    assert_accounted(report)
    for table, rows in data.items():
        assert warehouse_rows(con, table) == expected_rows(table, rows), table
    fmt_name = report.files[0].format
    assert fmt_name.startswith("events-")
    assert fmt_name.endswith("+gzip") == fmt.endswith(".gz")


def test_one_mixed_file_children_first(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """A single JSONL with a table field, children before parents, loads completely."""
    data = world()
    lines = []
    for table in reversed(list(data)):
        for r in data[table]:
            key = "event_type" if table == "sessions" else "table"
            lines.append(json.dumps({key: table, **{k: _json_value(v) for k, v in r.items()}}))
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = ingest(con, path)
    assert report.exit_code == EXIT_OK, report.to_dict()
    assert_accounted(report)
    for table, rows in data.items():
        assert warehouse_rows(con, table) == expected_rows(table, rows), table


def test_unknown_fields_are_ignored_and_named(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    users = [
        {**{k: _json_value(v) for k, v in r.items()}, "shoe_size": 44} for r in world()["users"]
    ]
    path = tmp_path / "users.jsonl"
    path.write_text("\n".join(json.dumps(u) for u in users) + "\n")
    report = ingest(con, path)
    assert report.exit_code == EXIT_OK
    assert report.files[0].loaded == {"users": len(users)}
    assert any("ignored fields" in m and "shoe_size" in m for m in report.files[0].messages)


def test_content_not_extension_decides(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    data = world()
    # gzip JSON lines named .csv; CSV named .txt; Parquet named .json
    write_jsonl(tmp_path / "x.gz", data["users"], table="users").rename(tmp_path / "users.csv")
    write_csv(tmp_path / "sessions.csv", data["sessions"]).rename(tmp_path / "sessions.txt")
    write_parquet(tmp_path / "s.parquet", "suggestions", data["suggestions"]).rename(
        tmp_path / "suggestions.json"
    )
    assert formats.detect_format(tmp_path / "users.csv") == "events-jsonl+gzip"
    assert formats.detect_format(tmp_path / "sessions.txt") == "events-csv"
    assert formats.detect_format(tmp_path / "suggestions.json") == "events-parquet"
    report = ingest(
        con, tmp_path / "suggestions.json", tmp_path / "sessions.txt", tmp_path / "users.csv"
    )
    assert report.exit_code == EXIT_OK, report.to_dict()
    for table in ("users", "sessions", "suggestions"):
        assert warehouse_rows(con, table) == expected_rows(table, data[table])


def test_read_file_returns_parsed_file(tmp_path: Path) -> None:
    data = world()
    for fmt in ("jsonl", "csv", "parquet"):
        folder = tmp_path / fmt
        folder.mkdir()
        path = WRITERS[fmt](folder, "runs", data["runs"])
        parsed = formats.read_file(path)
        assert isinstance(parsed, ParsedFile)
        assert parsed.format == f"events-{fmt}"
        assert parsed.rows_read == len(data["runs"])
        assert [b.table for b in parsed.batches] == ["runs"]
        lines = parsed.batches[0].data.column(LINE_COLUMN).to_pylist()
        if fmt == "csv":  # physical lines: the header is line 1, quoted newlines count
            assert lines == [2, 3, 6, 7, 10, 11]
        else:
            assert lines == list(range(1, 1 + len(data["runs"])))


def test_expand_paths_sorted_and_hidden_skipped(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/z.jsonl", "a.jsonl", ".hidden.jsonl", "b/a.csv"):
        (tmp_path / name).write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x").write_text("")
    got = formats.expand_paths([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in got] == ["a.jsonl", "b/a.csv", "b/z.jsonl"]


# ----------------------------------------------------------------------------- timestamps


def test_timestamp_formats(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    user = world()["users"][0]
    forms = {
        "a": ("2025-06-01T10:00:00Z", datetime(2025, 6, 1, 10)),
        "b": ("2025-06-01T12:30:00+02:30", datetime(2025, 6, 1, 10)),
        "c": ("2025-06-01T05:00:00-05:00", datetime(2025, 6, 1, 10)),
        "d": ("2025-06-01 10:00:00", datetime(2025, 6, 1, 10)),
        "e": ("2025-06-01T10:00:00.123456Z", datetime(2025, 6, 1, 10, 0, 0, 123456)),
        "f": (1748772000, datetime(2025, 6, 1, 10)),
        "g": (1748772000123, datetime(2025, 6, 1, 10, 0, 0, 123000)),
        "h": (1748772000.5, datetime(2025, 6, 1, 10, 0, 0, 500000)),
        "i": ("1748772000", datetime(2025, 6, 1, 10)),
        "j": ("2025-06-01", datetime(2025, 6, 1)),
    }
    rows = [{**user, "user_id": k, "signup_at": v} for k, (v, _) in forms.items()]
    path = tmp_path / "users.jsonl"
    path.write_text("\n".join(json.dumps(r, default=str) for r in rows) + "\n")
    report = ingest(con, path)
    assert report.exit_code == EXIT_OK, report.to_dict()
    got = dict(con.execute("SELECT user_id, signup_at FROM users").fetchall())
    assert got == {k: expected for k, (_, expected) in forms.items()}


def test_session_time_zone_is_restored(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'America/New_York'")
    write_jsonl(tmp_path / "users.jsonl", world()["users"])
    ingest(con, tmp_path / "users.jsonl")
    assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("America/New_York",)
    # naive timestamps are UTC whatever the session's zone
    got = con.execute("SELECT min(signup_at) FROM users").fetchone()
    assert got == (T0,)


# ----------------------------------------------------------------------------- idempotence


def test_rerun_changes_nothing(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    data = world()
    folder = tmp_path / "in"
    folder.mkdir()
    for table, rows in data.items():
        write_jsonl(folder / f"{table}.jsonl", rows)
    (folder / "bad.jsonl").write_text('{"table": "users", "user_id": 1}\nnot json\n')
    first = ingest(con, folder)
    quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()
    before = db.table_counts(con)
    second = ingest(con, folder)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == quarantined
    assert db.table_counts(con) == before
    assert {f.status for f in second.files} == {"already_ingested"}
    assert all(f.sha256 for f in second.files)
    assert second.exit_code == EXIT_OK
    assert second.totals["loaded"] == 0
    assert first.exit_code == EXIT_QUARANTINED
    assert "already ingested" in second.files[0].messages[0]
    logged = con.execute("SELECT count(*), count(DISTINCT sha256) FROM ingest_files").fetchone()
    assert logged == (len(data) + 1, len(data) + 1)


def test_identical_content_under_another_name(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = write_jsonl(tmp_path / "users.jsonl", world()["users"])
    copy = tmp_path / "users-copy.jsonl"
    shutil.copy(path, copy)
    report = ingest(con, path, copy)
    assert [f.status for f in report.files] == ["loaded", "already_ingested"]
    assert str(path) in report.files[1].messages[0]


def test_duplicates_across_files(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    users = world()["users"]
    write_jsonl(tmp_path / "users-1.jsonl", users[:4])
    write_jsonl(tmp_path / "users-2.jsonl", users[2:])
    report = ingest(con, tmp_path / "users-1.jsonl", tmp_path / "users-2.jsonl")
    assert con.execute("SELECT count(*) FROM users").fetchone() == (len(users),)
    second = report.files[1]
    assert second.duplicates == 2
    assert second.rows_loaded == len(users) - 4
    assert report.exit_code == EXIT_OK  # duplicates alone are not a failure
    assert_accounted(report)
    assert any("is already in the warehouse" in m for m in second.messages)


# ----------------------------------------------------------------------------- load order


def test_parents_load_first_whatever_the_order(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    data = world()
    paths = [
        write_jsonl(tmp_path / "persistence.jsonl", data["persistence"]),
        write_csv(tmp_path / "suggestions.csv", data["suggestions"]),
        write_jsonl(tmp_path / "a.jsonl", data["sessions"], table="sessions"),
        write_parquet(tmp_path / "users.parquet", "users", data["users"]),
    ]
    report = ingest(con, *paths)
    assert report.exit_code == EXIT_OK, report.to_dict()
    assert [Path(f.file).name for f in report.files] == [
        "users.parquet",
        "a.jsonl",
        "suggestions.csv",
        "persistence.jsonl",
    ]
    for table in ("users", "sessions", "suggestions", "persistence"):
        assert warehouse_rows(con, table) == expected_rows(table, data[table])


# ----------------------------------------------------------------------------- other readers


class _FakeReader:
    """A reader like copilot/continue_dev: claims files starting with ``#fake``."""

    def __init__(self, parsed: ParsedFile) -> None:
        self.parsed = parsed

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"#fake")

    def read(self, path: Path) -> ParsedFile:
        return self.parsed


def _install_fake(monkeypatch: pytest.MonkeyPatch, parsed: ParsedFile) -> None:
    fake = _FakeReader(parsed)
    real = formats._external
    monkeypatch.setattr(
        formats, "_external", lambda name: fake if name == "copilot" else real(name)
    )


def test_other_readers_rows_are_validated_and_parents_upserted(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = world()
    write_jsonl(tmp_path / "users.jsonl", data["users"][:2])
    ingest(con, tmp_path / "users.jsonl")
    users = pa.Table.from_pylist(
        [{k: _json_value(v) for k, v in r.items()} for r in data["users"][:3]]
    )
    sessions = pa.Table.from_pylist(
        [
            {**{k: _json_value(v) for k, v in r.items()}, "user_id": "u0"}
            for r in data["sessions"][:2]
        ]
    )
    bad = {k: _json_value(v) for k, v in data["suggestions"][0].items()}
    bad.update(latency_ms="fast", session_id="s0")
    good = {k: _json_value(v) for k, v in data["suggestions"][1].items()}
    good.update(session_id="s1", user_id="u0", latency_ms="100.5")
    suggestions = pa.Table.from_pylist([bad, good]).append_column(
        LINE_COLUMN, pa.array([7, 9], pa.int64())
    )
    parsed = ParsedFile(
        "fake",
        # children first: ingestion must sort by load order
        [
            ParsedBatch("suggestions", suggestions),
            ParsedBatch("sessions", sessions, upsert_parents=True),
            ParsedBatch("users", users, upsert_parents=True),
        ],
        [ParseIssue("invalid_json", "line 3 is not JSON", line=3, raw="{")],
        rows_read=3,
    )
    _install_fake(monkeypatch, parsed)
    path = tmp_path / "payload.json"
    path.write_text("#fake payload")
    report = ingest(con, path)
    f = report.files[0]
    assert f.format == "fake"
    assert f.loaded == {"users": 1, "sessions": 2, "suggestions": 1}
    assert f.duplicates == 0  # upserted parents are skipped silently
    assert f.quarantined_by_reason == {"bad_type": 1, "invalid_json": 1}
    assert any(f"{path}:7: latency_ms: bad_type" in m for m in f.messages)
    assert any(f"{path}:3: (row): invalid_json" in m for m in f.messages)


def test_unknown_json_shape_is_one_file_level_row(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = tmp_path / "org-metrics.json"
    path.write_text(json.dumps({"date": "2024-06-01", "teams": [], "weird_total": 3}, indent=2))
    report = ingest(con, path)
    f = report.files[0]
    assert f.status == "loaded" and f.rows_read == 0
    assert f.quarantined_by_reason == {"unknown_shape": 1}
    assert "date, teams, weird_total" in f.messages[0]
    assert report.exit_code == EXIT_QUARANTINED


# ----------------------------------------------------------------------------- reports


def test_report_json_and_progress(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_jsonl(tmp_path / "users.jsonl", world()["users"])
    calls: list[tuple[str, int, int]] = []
    report = ingest(con, path, progress=lambda f, done, total: calls.append((f, done, total)))
    size = path.stat().st_size
    assert calls[0] == (str(path), 0, size) and calls[-1] == (str(path), size, size)
    out = report.to_dict()
    json.dumps(out)
    assert out["totals"] == {"files": 1, "read": 6, "loaded": 6, "duplicate": 0, "quarantined": 0}
    assert out["exit_code"] == EXIT_OK
    assert out["files"][0]["loaded"] == {"users": 6}
    logged = con.execute(
        "SELECT file, format, rows_read, rows_loaded, ingested_at FROM ingest_files"
    ).fetchall()
    assert logged == [(str(path), "events-jsonl", 6, 6, NOW)]


def test_missing_file_is_an_error_and_others_still_load(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = write_jsonl(tmp_path / "users.jsonl", world()["users"])
    report = ingest(con, tmp_path / "nope.jsonl", path)
    statuses = {Path(f.file).name: f.status for f in report.files}
    assert statuses == {"nope.jsonl": "error", "users.jsonl": "loaded"}
    assert report.exit_code == EXIT_FAILED
    assert "nope.jsonl" in next(f for f in report.files if f.status == "error").messages[0]


def test_every_reason_is_documented() -> None:
    for reason in (
        "bad_type",
        "missing_field",
        "unknown_value",
        "out_of_range",
        "bad_timestamp",
        "too_long",
        "orphan",
        "duplicate_id",
        "invalid_json",
        "not_utf8",
        "line_too_long",
        "bad_field_count",
        "unknown_shape",
        "unknown_table",
        "truncated_file",
    ):
        assert reason in REASONS


def test_big_file_in_several_chunks(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunk boundaries: duplicates and parents across chunks behave as within one."""
    monkeypatch.setattr(events, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(events, "MAX_LINE_BYTES", 1024)
    data = world(40)
    lines = []
    # suggestions first, their sessions and users at the end of the file (other chunks)
    for table in ("suggestions", "sessions", "users"):
        for r in data[table]:
            lines.append(json.dumps({"table": table, **{k: _json_value(v) for k, v in r.items()}}))
    lines.append(lines[0])  # a duplicate of line 1, many chunks later
    path = tmp_path / "all.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 10 * 4096
    report = ingest(con, path)
    f = report.files[0]
    assert f.loaded == {t: len(data[t]) for t in ("users", "sessions", "suggestions")}, f.to_dict()
    assert f.duplicates == 1 and f.rows_quarantined == 0
    assert_accounted(report)


# ----------------------------------------------------------------------------- crash safety

_KILL_SCRIPT = """
import sys
from codex_ds.warehouse import db
from codex_ds.telemetry.ingest import ingest_paths
con = db.connect(sys.argv[1])
print("start", flush=True)
ingest_paths(con, [sys.argv[2]])
con.close()
print("done", flush=True)
"""


@pytest.mark.slow
def test_killed_mid_ingest_leaves_before_or_after(tmp_path: Path) -> None:
    """SIGKILL at several moments: reopening shows all of the file or none of it."""
    data = world()
    base = tmp_path / "base.duckdb"
    con = db.connect(base)
    write_jsonl(tmp_path / "users.jsonl", data["users"])
    write_jsonl(tmp_path / "sessions.jsonl", data["sessions"])
    ingest(con, tmp_path / "users.jsonl", tmp_path / "sessions.jsonl")
    con.close()
    big = tmp_path / "suggestions.jsonl"
    n = 400_000
    template = {k: _json_value(v) for k, v in data["suggestions"][0].items()}
    with big.open("w") as out:
        for i in range(n):
            template["suggestion_id"] = f"g{i}"
            template["latency_ms"] = "fast" if i % 1000 == 0 else i % 500  # some quarantine
            out.write(json.dumps(template) + "\n")
    script = tmp_path / "ingest_one.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    outcomes = []
    for delay in (0.5, 1.5, 3.0, 5.0, 8.0, 60.0):
        target = tmp_path / f"kill-{delay}.duckdb"
        shutil.copy(base, target)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(target), str(big)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"start"  # connected, migrated
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < delay:
            time.sleep(0.02)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        c = db.connect(target)
        try:
            counts = (
                c.execute("SELECT count(*) FROM suggestions").fetchone(),
                c.execute("SELECT count(*) FROM quarantine").fetchone(),
                c.execute("SELECT count(*) FROM ingest_files").fetchone(),
                c.execute("SELECT count(*) FROM sessions").fetchone(),
            )
        finally:
            c.close()
        before = ((0,), (0,), (2,), (len(data["sessions"]),))
        after = ((n - n // 1000,), (n // 1000,), (3,), (len(data["sessions"]),))
        assert counts in (before, after), (delay, finished, counts)
        outcomes.append("after" if counts == after else "before")
    assert outcomes[-1] == "after"
    assert "before" in outcomes  # at least one kill landed mid-ingest
