"""Bad input: every kind is quarantined with file, line, field and reason, and nothing is lost.

Each case writes a file with good rows and bad ones into ``tmp_path`` and checks,
through :func:`check`:

(a) a message names the file, the line and the field;
(b) the valid rows of the same file are loaded;
(c) the bad rows are in ``quarantine`` with the right reason, and every record read
    is accounted for (loaded + duplicates + quarantined = read);
(d) ingesting the same files again adds nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codex_ds.telemetry.formats import events
from codex_ds.telemetry.ingest import (
    EXIT_OK,
    EXIT_QUARANTINED,
    FileReport,
    ingest_paths,
)
from codex_ds.warehouse import db

NOW = datetime(2026, 3, 1, 12, 0, 0)

USERS = [
    {
        "user_id": f"u{i}",
        "segment": "expert",
        "primary_language": "python",
        "editor": "vscode",
        "team": None,
        "signup_at": "2025-01-01T00:00:00Z",
    }
    for i in range(3)
]
SESSIONS = [
    {
        "session_id": f"s{i}",
        "user_id": f"u{i}",
        "started_at": "2025-06-01T10:00:00Z",
        "ended_at": "2025-06-01T11:00:00Z",
        "editor": "vscode",
        "language": "python",
        "active_minutes": 30.5,
    }
    for i in range(3)
]


def suggestion(i: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "suggestion_id": f"g{i}",
        "session_id": f"s{i % 3}",
        "user_id": f"u{i % 3}",
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
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not _DROP}


_DROP = object()


def lines(rows: Sequence[dict[str, Any] | str]) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse holding the users and sessions the suggestions refer to."""
    c = db.connect(tmp_path / "warehouse.duckdb")
    parents = tmp_path / "parents"
    parents.mkdir()
    (parents / "users.jsonl").write_bytes(lines(list(USERS)))
    (parents / "sessions.jsonl").write_bytes(lines(list(SESSIONS)))
    report = ingest_paths(c, [parents], now=NOW)
    assert report.exit_code == EXIT_OK, report.to_dict()
    yield c
    c.close()


@dataclass
class Bad:
    """An expected quarantine row (line None: file-level)."""

    line: int | None
    field: str | None
    reason: str


def quarantine_rows(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT line, field, reason, detail, raw FROM quarantine WHERE file = ? "
        "ORDER BY line NULLS FIRST, field, reason",
        [str(path)],
    ).fetchall()


def check(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    bad: list[Bad],
    *,
    loaded: int,
    table: str = "suggestions",
    duplicates: int = 0,
    file: Path | None = None,
) -> FileReport:
    """Ingest ``paths`` and check (a)-(d) for ``file`` (default: the last path)."""
    file = file or paths[-1]
    before = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert before is not None
    report = ingest_paths(con, paths, now=NOW)
    rep = next(f for f in report.files if f.file == str(file))
    assert rep.status == "loaded", rep.to_dict()

    # (a) messages name file, line and field
    for b in bad:
        where = f"{file}:{b.line}: " if b.line is not None else f"{file}: "
        what = f"{b.field}: " if b.field else ""
        expected = f"{where}{what}" + ("" if b.field or b.line is None else "(row): ")
        assert any(m.startswith(expected) and b.reason in m for m in rep.messages), (
            expected,
            b.reason,
            rep.messages,
        )

    # (b) the valid rows of the same file are loaded
    assert rep.loaded.get(table, 0) == loaded, rep.to_dict()
    after = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert after is not None and after[0] == before[0] + loaded

    # (c) the bad rows are in quarantine with the right reason; nothing is lost
    got = [(r[0], r[1], r[2]) for r in quarantine_rows(con, file)]
    want = sorted(
        [(b.line, b.field, b.reason) for b in bad],
        key=lambda t: (-1 if t[0] is None else t[0], t[1] or "", t[2]),
    )
    assert got == want
    for line, _field, _reason, detail, raw in quarantine_rows(con, file):
        assert detail.startswith(f"{file}:{line}:" if line is not None else f"{file}:")
        assert raw is None or len(raw) <= 2000
    assert rep.duplicates == duplicates
    assert rep.rows_read == rep.rows_loaded + rep.duplicates + rep.rows_quarantined, rep.to_dict()
    row_level = {b.line for b in bad if b.line is not None and b.reason != "duplicate_id"}
    assert rep.rows_quarantined == len(row_level)
    reasons = {b.reason for b in bad} - {"duplicate_id"}
    assert report.exit_code == (EXIT_QUARANTINED if reasons else EXIT_OK)

    # (d) a rerun adds nothing
    counts = db.table_counts(con)
    again = ingest_paths(con, paths, now=NOW)
    assert {f.status for f in again.files} == {"already_ingested"}
    assert db.table_counts(con) == counts
    return rep


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------- 1 truncated


def test_truncated_jsonl(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    full = lines([suggestion(i) for i in range(5)])
    path = write(tmp_path / "suggestions.jsonl", full[: len(full) - 40])  # last record cut
    check(con, [path], [Bad(5, None, "invalid_json")], loaded=4)


def test_truncated_gzip(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [suggestion(i, completion_text=f"x{i}" * 50) for i in range(2000)]
    packed = gzip.compress(lines(rows))
    path = write(tmp_path / "suggestions.jsonl.gz", packed[: len(packed) * 2 // 3])
    report = ingest_paths(con, [path], now=NOW)
    rep = report.files[0]
    assert rep.status == "loaded"
    assert rep.quarantined_by_reason.get("truncated_file") == 1
    assert any(m.startswith(f"{path}: truncated_file: ") for m in rep.messages), rep.messages
    loaded = rep.loaded["suggestions"]
    assert 0 < loaded < 2000  # the records before the cut
    # the cut record, if any, is an invalid_json line; nothing else
    assert set(rep.quarantined_by_reason) <= {"truncated_file", "invalid_json"}
    assert rep.rows_read == loaded + rep.rows_quarantined
    ids = [r[0] for r in con.execute("SELECT suggestion_id FROM suggestions").fetchall()]
    assert sorted(ids, key=lambda s: int(s[1:])) == [f"g{i}" for i in range(loaded)]
    assert report.exit_code == EXIT_QUARANTINED
    again = ingest_paths(con, [path], now=NOW)
    assert again.files[0].status == "already_ingested"


# ----------------------------------------------------------------------------- 2 not UTF-8


def test_not_utf8(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    good = lines([suggestion(i) for i in range(4)])
    bad = json.dumps(suggestion(9)).encode().replace(b"m-1", b"m-\xff\xfe")
    path = write(
        tmp_path / "suggestions.jsonl",
        good[: good.index(b"\n") + 1] + bad + b"\n" + good[good.index(b"\n") + 1 :],
    )
    rep = check(con, [path], [Bad(2, None, "not_utf8")], loaded=4)
    assert any("not UTF-8" in m for m in rep.messages)


def test_not_utf8_in_csv(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    header = (
        "suggestion_id,session_id,user_id,shown_at,model_version,language,trigger,"
        "latency_ms,suggested_chars,suggested_lines,outcome,accepted_chars,accepted_lines\n"
    )
    row = "g{i},s0,u0,2025-06-01T10:05:00Z,m-1,python,manual,10,1,1,rejected,0,0\n"
    data = (
        header.encode()
        + row.format(i=1).encode()
        + row.format(i=2).encode().replace(b"m-1", b"m\xc3(")
        + row.format(i=3).encode()
    )
    path = write(tmp_path / "suggestions.csv", data)
    check(con, [path], [Bad(3, None, "not_utf8")], loaded=2)


# ----------------------------------------------------------------------------- 3 invalid JSON


def test_invalid_json_line(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows: list[dict[str, Any] | str] = [
        suggestion(0),
        '{"suggestion_id": "g1", oops}',
        suggestion(2),
        "[1, 2, 3]",
        suggestion(4),
    ]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    check(con, [path], [Bad(2, None, "invalid_json"), Bad(4, None, "invalid_json")], loaded=3)


# ----------------------------------------------------------------------------- 4 wrong types


def test_wrong_types_all_failures_collected(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        suggestion(0),
        suggestion(1, latency_ms="fast", suggested_chars=12.5, accepted_lines=True),
        suggestion(2, prompt_tokens="many", shown_at="yesterday"),
        suggestion(3, suggested_lines="7", latency_ms="1e2"),  # numbers as text are fine
        suggestion(4, shown_at="infinity", latency_ms="NaN"),
    ]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [
            Bad(2, "accepted_lines", "bad_type"),
            Bad(2, "latency_ms", "bad_type"),
            Bad(2, "suggested_chars", "bad_type"),
            Bad(3, "prompt_tokens", "bad_type"),
            Bad(3, "shown_at", "bad_type"),
            Bad(5, "latency_ms", "bad_type"),
            Bad(5, "shown_at", "bad_type"),
        ],
        loaded=2,
    )
    assert any("value 'fast' is not a valid DOUBLE" in m for m in rep.messages)
    got = con.execute(
        "SELECT suggested_lines, latency_ms FROM suggestions WHERE suggestion_id = 'g3'"
    ).fetchone()
    assert got == (7, 100.0)


# ----------------------------------------------------------------------------- 5 missing field


def test_missing_required_field(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        suggestion(0, outcome=_DROP),
        suggestion(1, trigger=None),
        suggestion(2, prompt_tokens=None),  # nullable: fine
        suggestion(3),
    ]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [Bad(1, "outcome", "missing_field"), Bad(2, "trigger", "missing_field")],
        loaded=2,
    )
    assert any("required field is missing or null" in m for m in rep.messages)


# ----------------------------------------------------------------------------- 6 unknown enum


def test_unknown_enum_value(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [suggestion(0, language="cobol"), suggestion(1), suggestion(2, outcome="Accepted")]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [Bad(1, "language", "unknown_value"), Bad(3, "outcome", "unknown_value")],
        loaded=1,
    )
    assert any("'cobol' is not one of: python" in m for m in rep.messages)


# ----------------------------------------------------------------------------- 7 negative latency


def test_negative_latency_and_other_ranges(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        suggestion(0, latency_ms=-3.5),
        suggestion(1),
        suggestion(2, latency_ms=700_000, accepted_chars=-1),
    ]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [
            Bad(1, "latency_ms", "out_of_range"),
            Bad(3, "accepted_chars", "out_of_range"),
            Bad(3, "latency_ms", "out_of_range"),
        ],
        loaded=1,
    )
    assert any("value '-3.5' is outside [0, 600000] ms" in m for m in rep.messages)


# ----------------------------------------------------------------------------- 8 timestamps


def test_future_and_ancient_timestamps(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    soon = (NOW + timedelta(hours=23)).isoformat() + "Z"
    later = (NOW + timedelta(hours=25)).isoformat() + "Z"
    rows = [
        suggestion(0, shown_at=later),
        suggestion(1, shown_at=soon),  # within the clock-skew tolerance
        suggestion(2, shown_at="2014-12-31T23:59:59Z"),
        suggestion(3, shown_at=0),  # epoch 0: 1970
    ]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [
            Bad(1, "shown_at", "bad_timestamp"),
            Bad(3, "shown_at", "bad_timestamp"),
            Bad(4, "shown_at", "bad_timestamp"),
        ],
        loaded=1,
    )
    assert any("is not between 2015-01-01 and 2026-03-02 12:00:00 UTC" in m for m in rep.messages)


# ------------------------------------------------------------------------- 9 duplicates in a file


def test_duplicate_ids_within_a_file(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [suggestion(0), suggestion(1), suggestion(0, latency_ms=5), suggestion(2), suggestion(1)]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [Bad(3, "suggestion_id", "duplicate_id"), Bad(5, "suggestion_id", "duplicate_id")],
        loaded=3,
        duplicates=2,
    )
    assert any(
        "suggestion_id 'g0' was first seen at line 1 of this file" in m for m in rep.messages
    )
    assert con.execute(
        "SELECT latency_ms FROM suggestions WHERE suggestion_id = 'g0'"
    ).fetchone() == (120.5,)


def test_duplicate_key_of_several_columns(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    write(tmp_path / "suggestions.jsonl", lines([suggestion(0)]))
    ingest_paths(con, [tmp_path / "suggestions.jsonl"], now=NOW)
    p: dict[str, Any] = {
        "suggestion_id": "g0",
        "check_after_s": 30,
        "checked_at": "2025-06-01T11:00:00Z",
        "edit_distance": 3,
        "edit_ratio": 0.1,
        "removed": False,
    }
    rows = [p, {**p, "check_after_s": 120}, {**p, "edit_distance": 9}]
    path = write(tmp_path / "persistence.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [Bad(3, "suggestion_id, check_after_s", "duplicate_id")],
        loaded=2,
        table="persistence",
        duplicates=1,
    )
    assert any("'g0, 30' was first seen at line 1" in m for m in rep.messages)


# --------------------------------------------------------------------- 10 duplicates across files


def test_duplicate_ids_across_files(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    first = write(tmp_path / "suggestions-1.jsonl", lines([suggestion(i) for i in range(3)]))
    ingest_paths(con, [first], now=NOW)
    path = write(
        tmp_path / "suggestions-2.jsonl", lines([suggestion(2), suggestion(3), suggestion(0)])
    )
    rep = check(
        con,
        [path],
        [Bad(1, "suggestion_id", "duplicate_id"), Bad(3, "suggestion_id", "duplicate_id")],
        loaded=1,
        duplicates=2,
    )
    assert any("suggestion_id 'g2' is already in the warehouse" in m for m in rep.messages)


# ----------------------------------------------------------------------------- 11 orphans


def test_orphan_suggestion(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        suggestion(0, session_id="s-unknown"),
        suggestion(1),
        suggestion(2, user_id="u-ghost", session_id="s-ghost", latency_ms=-1),
    ]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [
            Bad(1, "session_id", "orphan"),
            Bad(3, "latency_ms", "out_of_range"),
            Bad(3, "session_id", "orphan"),
            Bad(3, "user_id", "orphan"),
        ],
        loaded=1,
    )
    assert any("session_id 's-unknown' is not in sessions.session_id" in m for m in rep.messages)


def test_parent_later_in_the_same_call_is_not_an_orphan(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    sess = {**SESSIONS[0], "session_id": "s-new"}
    path = write(
        tmp_path / "suggestions.jsonl",
        lines([suggestion(0, session_id="s-new"), suggestion(1, session_id="s-none")]),
    )
    parent = write(tmp_path / "sessions-late.jsonl", lines([sess]))
    check(con, [path, parent], [Bad(2, "session_id", "orphan")], loaded=1, file=path)


# ----------------------------------------------------------------------------- 12 empty file


def test_empty_file(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    for name, data in (
        ("suggestions.jsonl", b""),
        ("blank.jsonl", b"\n\n  \n"),
        ("e.jsonl.gz", gzip.compress(b"")),
    ):
        path = write(tmp_path / name, data)
        report = ingest_paths(con, [path], now=NOW)
        rep = report.files[0]
        assert rep.status in ("loaded", "already_ingested"), rep.to_dict()
        if rep.status == "loaded":
            assert rep.rows_read == 0 and rep.rows_loaded == 0
            assert rep.messages[0] == f"{path}: empty file (no records)"
        assert report.exit_code == EXIT_OK
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


# ----------------------------------------------------------------------------- 13 huge line


def test_huge_line(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    huge = suggestion(1, completion_text="x" * (events.MAX_LINE_BYTES + 10))
    path = write(tmp_path / "suggestions.jsonl", lines([suggestion(0), huge, suggestion(2)]))
    rep = check(con, [path], [Bad(2, None, "line_too_long")], loaded=2)
    raw = quarantine_rows(con, path)[0][4]
    assert len(raw) == 2000 and raw.startswith('{"suggestion_id": "g1"')
    assert rep.messages


def test_too_long_value(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        tmp_path / "suggestions.jsonl",
        lines([suggestion(0, model_version="m" * 129), suggestion(1)]),
    )
    rep = check(con, [path], [Bad(1, "model_version", "too_long")], loaded=1)
    assert any("value of 129 characters is longer than 128" in m for m in rep.messages)


# ----------------------------------------------------------------------------- 14 CSV shifted


def test_csv_with_shifted_columns(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    cols = [
        "suggestion_id",
        "session_id",
        "user_id",
        "shown_at",
        "model_version",
        "language",
        "trigger",
        "latency_ms",
        "suggested_chars",
        "suggested_lines",
        "outcome",
        "accepted_chars",
        "accepted_lines",
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    good = [
        "g{}",
        "s0",
        "u0",
        "2025-06-01T10:05:00Z",
        "m-1",
        "python",
        "manual",
        "10",
        "1",
        "1",
        "rejected",
        "0",
        "0",
    ]
    w.writerow([v.format(1) for v in good])
    w.writerow(
        [v.format(2) for v in good[:4]] + ["extra"] + [v.format(2) for v in good[4:]]
    )  # one field too many
    # one field missing in the middle: every value after it sits under the wrong header
    shifted = [v.format(3) for v in good[:4]] + [v.format(3) for v in good[5:]] + [""]
    w.writerow(shifted)
    w.writerow([v.format(4) for v in good])
    path = write(tmp_path / "suggestions.csv", buf.getvalue().encode())
    # the shifted row: model_version <- 'python', language <- 'manual', trigger <- '10',
    # latency_ms <- '1', suggested_chars <- '1', suggested_lines <- 'rejected',
    # outcome <- '0', accepted_chars <- '0', accepted_lines <- ''
    rep = check(
        con,
        [path],
        [
            Bad(3, None, "bad_field_count"),
            Bad(4, "accepted_lines", "missing_field"),
            Bad(4, "language", "unknown_value"),
            Bad(4, "outcome", "unknown_value"),
            Bad(4, "suggested_lines", "bad_type"),
            Bad(4, "trigger", "unknown_value"),
        ],
        loaded=2,
    )
    assert any("the row has 14 fields, the header has 13" in m for m in rep.messages)


# ----------------------------------------------------------------------------- 15 Parquet schema


def test_parquet_with_the_wrong_schema(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [suggestion(i) for i in range(4)]
    table = pa.Table.from_pylist(rows)
    # drop a required column, make latency_ms text with one bad value
    table = table.drop_columns(["trigger"])
    latency = pa.array(["12.5", "fast", "30", "40"])
    table = table.set_column(table.schema.get_field_index("latency_ms"), "latency_ms", latency)
    path = tmp_path / "suggestions.parquet"
    pq.write_table(table, path)
    bad = [Bad(i, "trigger", "missing_field") for i in range(1, 5)] + [
        Bad(2, "latency_ms", "bad_type")
    ]
    check(con, [path], bad, loaded=0)


def test_parquet_with_the_right_schema_but_other_types(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    rows = [suggestion(i, trigger="manual") for i in range(3)]
    table = pa.Table.from_pylist(rows)
    shown = pa.array([datetime(2025, 6, 1, 10, 5)] * 3, pa.timestamp("ms", tz="Europe/Paris"))
    table = table.set_column(table.schema.get_field_index("shown_at"), "shown_at", shown)
    chars = pa.array([40.0, 40.5, 41.0])  # a double column for an INTEGER field
    table = table.set_column(
        table.schema.get_field_index("suggested_chars"), "suggested_chars", chars
    )
    path = tmp_path / "suggestions.parquet"
    pq.write_table(table, path)
    check(con, [path], [Bad(2, "suggested_chars", "bad_type")], loaded=2)
    got = con.execute("SELECT DISTINCT shown_at FROM suggestions").fetchall()
    assert got == [(datetime(2025, 6, 1, 10, 5),)]  # tz-aware Parquet: already UTC instants


# ----------------------------------------------------------------------------- 16 unknown shape


def test_copilot_payload_of_unknown_shape(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    payload = [{"day": "2025-06-01", "mystery_metric": 3, "breakdown_v9": {"x": 1}}]
    path = write(tmp_path / "copilot-metrics.json", json.dumps(payload, indent=2).encode())
    report = ingest_paths(con, [path], now=NOW)
    rep = report.files[0]
    assert rep.status == "loaded" and rep.rows_read == 0
    rows = quarantine_rows(con, path)
    assert [(r[0], r[2]) for r in rows] == [(None, "unknown_shape")]
    assert "keys seen: day, mystery_metric, breakdown_v9" in rows[0][3]
    assert rep.messages[0].startswith(f"{path}: unknown_shape: ")
    assert report.exit_code == EXIT_QUARANTINED
    again = ingest_paths(con, [path], now=NOW)
    assert again.files[0].status == "already_ingested"
    assert len(quarantine_rows(con, path)) == 1


def test_one_object_of_unknown_shape(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write(tmp_path / "export.json", json.dumps({"org": "acme", "usage": [1, 2]}).encode())
    rep = ingest_paths(con, [path], now=NOW).files[0]
    assert rep.quarantined_by_reason == {"unknown_shape": 1}
    assert "keys seen: org, usage" in rep.messages[0]


# ----------------------------------------------------------------------------- unknown table


def test_unknown_table(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        {"table": "suggestions", **suggestion(0)},
        {"table": "clicks", "id": 1},
        {"event_type": "suggestions", **suggestion(1)},
    ]
    path = write(tmp_path / "mixed.jsonl", lines(rows))
    rep = check(con, [path], [Bad(2, "table", "unknown_table")], loaded=2)
    assert any("table 'clicks' is not one of: users" in m for m in rep.messages)


def test_no_table_at_all(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write(tmp_path / "events.jsonl", lines([suggestion(0), suggestion(1)]))
    check(
        con, [path], [Bad(1, "table", "unknown_table"), Bad(2, "table", "unknown_table")], loaded=0
    )


# ----------------------------------------------------------------------------- a mix of everything


def test_many_kinds_in_one_file(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows: list[dict[str, Any] | str] = [
        suggestion(0),
        "{not json",
        suggestion(2, latency_ms=-1, language="klingon", outcome=_DROP),
        suggestion(3, session_id="nope"),
        suggestion(0),
        suggestion(5),
        "",
        suggestion(7, shown_at="2099-01-01T00:00:00Z"),
    ]
    path = write(tmp_path / "suggestions.jsonl", lines(rows))
    rep = check(
        con,
        [path],
        [
            Bad(2, None, "invalid_json"),
            Bad(3, "language", "unknown_value"),
            Bad(3, "latency_ms", "out_of_range"),
            Bad(3, "outcome", "missing_field"),
            Bad(4, "session_id", "orphan"),
            Bad(5, "suggestion_id", "duplicate_id"),
            Bad(8, "shown_at", "bad_timestamp"),
        ],
        loaded=2,
        duplicates=1,
    )
    assert rep.rows_read == 7  # the blank line is not a record


# ----------------------------------------------------------------------------- static fixtures


def test_static_fixtures(tmp_path: Path) -> None:
    """tests/data/events: a tiny example of our format, with one failure of each common kind.

    ``users.csv``, ``sessions.jsonl`` and ``suggestions.jsonl`` (table from the file
    name, or from ``table`` / ``event_type`` as on the last line of sessions.jsonl);
    timestamps ISO-8601 with ``Z``, an offset or none (UTC), or epoch s / ms.
    suggestions.jsonl: line 2 ``bad_type`` (latency_ms "fast"), line 3 ``orphan``
    (session s9), line 4 ``out_of_range`` and ``unknown_value``, line 5 an extra field
    (ignored, loads), line 6 a truncated record (``invalid_json``).
    """
    folder = Path(__file__).resolve().parents[1] / "data" / "events"
    con = db.connect(tmp_path / "warehouse.duckdb")
    try:
        report = ingest_paths(con, [folder], now=NOW)
        by_name = {Path(f.file).name: f for f in report.files}
        assert by_name["users.csv"].loaded == {"users": 3}
        assert by_name["sessions.jsonl"].loaded == {"sessions": 3}
        sugg = by_name["suggestions.jsonl"]
        assert sugg.loaded == {"suggestions": 2}
        got = con.execute(
            "SELECT line, field, reason FROM quarantine ORDER BY line, field"
        ).fetchall()
        assert got == [
            (2, "latency_ms", "bad_type"),
            (3, "session_id", "orphan"),
            (4, "latency_ms", "out_of_range"),
            (4, "outcome", "unknown_value"),
            (6, None, "invalid_json"),
        ]
        assert any("ignored fields" in m and "ide_build" in m for m in sugg.messages)
        starts = dict(con.execute("SELECT session_id, started_at FROM sessions").fetchall())
        assert starts == {
            "s1": datetime(2025, 6, 2, 9),
            "s2": datetime(2025, 6, 2, 9),
            "s3": datetime(2025, 6, 2, 17),
        }
        assert report.exit_code == EXIT_QUARANTINED
    finally:
        con.close()
