"""The direct insert of JSON-lines chunks (``_FileLoad._try_direct``).

A chunk is inserted straight from its one-parse fast path and kept only when the
staged path would have inserted every row of it; otherwise its rows are deleted by
rowid and the staged path takes over. These tests pin both halves: DuckDB numbers the
rows a transaction appends as the direct insert expects, and for files whose chunks
are clean, partly clean or dirty in every way the checks look for, the warehouse,
the quarantine and the report are the same with and without the direct insert.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from codex_ds.telemetry import ingest as ingest_module
from codex_ds.telemetry.formats import events
from codex_ds.warehouse import db

NOW = datetime(2026, 3, 1, 12, 0, 0)

USER = {"segment": "expert", "primary_language": "python", "editor": "vscode"}
SESSION = {
    "started_at": "2025-06-01T10:00:00Z",
    "ended_at": "2025-06-01T11:00:00Z",
    "editor": "vscode",
    "language": "python",
    "task_type": "feature",
    "repo_size_loc": 1200,
    "active_minutes": 30.5,
    "typed_chars": 800,
}
SUGGESTION = {
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
}


def test_transaction_local_rowids_are_numbered_as_the_direct_insert_expects(
    tmp_path: Path,
) -> None:
    """Rows appended in a transaction are numbered from LOCAL_ROWID_START, in order."""
    con = duckdb.connect(str(tmp_path / "rowids.duckdb"))
    con.execute("CREATE TABLE t (k VARCHAR)")
    con.execute("INSERT INTO t SELECT 'c' || i FROM range(1000) r(i)")
    con.execute("BEGIN")
    con.execute("INSERT INTO t SELECT 'a' || i FROM range(5) r(i)")
    start = ingest_module.LOCAL_ROWID_START
    got = con.execute(f"SELECT rowid, k FROM t WHERE rowid >= {start} ORDER BY rowid").fetchall()
    assert got == [(start + i, f"a{i}") for i in range(5)]
    con.execute(f"DELETE FROM t WHERE rowid >= {start + 3}")
    con.execute("INSERT INTO t SELECT 'b' || i FROM range(2) r(i)")
    got = con.execute(f"SELECT k FROM t WHERE rowid >= {start + 3} ORDER BY rowid").fetchall()
    assert got == [("b0",), ("b1",)]
    assert con.execute(f"SELECT max(rowid) FROM t WHERE rowid < {start}").fetchone() == (999,)
    con.execute("COMMIT")
    assert con.execute("SELECT count(*), max(rowid) FROM t").fetchone() == (1005, 1004)


def _suggestion(i: int, **changes: Any) -> dict[str, Any]:
    return {
        "suggestion_id": f"g{i:05d}",
        "session_id": f"s{i % 3}",
        "user_id": f"u{i % 3}",
        **SUGGESTION,
        **changes,
    }


def _lines(ids: list[int]) -> list[str]:
    return [json.dumps(_suggestion(i)) for i in ids]


def _with(lines: list[str], at: int, line: str) -> list[str]:
    return [*lines[:at], line, *lines[at:]]


def _off_the_fast_path(i: int) -> str:
    """A valid record the fast path cannot vouch for: ``true`` in the text and a number
    column holding 1 written as the string "1" (read as 1 by both paths)."""
    line = json.dumps(_suggestion(i, completion_text="return true", accepted_lines=1))
    return line.replace('"accepted_lines": 1', '"accepted_lines": "1"')


#: name -> lines of suggestions-1.jsonl (suggestions-0.jsonl, loaded first, holds g09999)
SCENARIOS: dict[str, Callable[[], list[str]]] = {
    "clean": lambda: _lines(list(range(300))),
    "repeat_of_an_earlier_chunk": lambda: _lines([*range(200), 5, *range(200, 300)]),
    "repeat_within_a_chunk": lambda: _lines([*range(101), 100, *range(101, 300)]),
    "key_already_in_the_warehouse": lambda: _lines([*range(300), 9999]),
    "bad_field_late": lambda: _with(
        _lines(list(range(300))), 250, json.dumps(_suggestion(900, latency_ms=-1))
    ),
    "orphan_late": lambda: _with(
        _lines(list(range(300))), 250, json.dumps(_suggestion(901, session_id="s404"))
    ),
    "parent_later_in_the_file": lambda: [
        *_with(_lines(list(range(300))), 250, json.dumps(_suggestion(902, session_id="s7"))),
        json.dumps({"table": "sessions", "session_id": "s7", "user_id": "u1", **SESSION}),
    ],
    "invalid_json_late": lambda: _with(_lines(list(range(300))), 250, '{"suggestion_id": "g9'),
    "true_in_a_string": lambda: _with(
        _lines(list(range(300))),
        120,
        json.dumps(_suggestion(903, completion_text="return true", accepted_chars=1)),
    ),
    "off_the_fast_path_in_every_chunk": lambda: [
        _off_the_fast_path(i) if i % 10 == 5 else line
        for i, line in enumerate(_lines(list(range(300))))
    ],
    "boolean_in_a_number": lambda: _with(
        _lines(list(range(300))), 250, json.dumps(_suggestion(904, accepted_lines=True))
    ),
}


#: the reasons each scenario quarantines (the same with the direct insert or without)
REASONS: dict[str, set[str]] = {
    "clean": set(),
    "repeat_of_an_earlier_chunk": {"duplicate_id"},
    "repeat_within_a_chunk": {"duplicate_id"},
    "key_already_in_the_warehouse": {"duplicate_id"},
    "bad_field_late": {"out_of_range"},
    "orphan_late": {"orphan"},
    "parent_later_in_the_file": set(),
    "invalid_json_late": {"invalid_json"},
    "true_in_a_string": set(),
    "boolean_in_a_number": {"bad_type"},
    "off_the_fast_path_in_every_chunk": set(),
}


def _ingest(tmp_path: Path, name: str, lines: list[str], *, direct: bool) -> dict[str, Any]:
    folder = tmp_path / f"{name}-{direct}"
    folder.mkdir()
    users = folder / "users.jsonl"
    users.write_text(
        "".join(
            json.dumps({"user_id": f"u{i}", "signup_at": "2025-01-01T00:00:00Z", **USER}) + "\n"
            for i in range(3)
        )
    )
    sessions = folder / "sessions.jsonl"
    sessions.write_text(
        "".join(
            json.dumps({"session_id": f"s{i}", "user_id": f"u{i % 3}", **SESSION}) + "\n"
            for i in range(3)
        )
    )
    earlier = folder / "suggestions-0.jsonl"
    earlier.write_text(json.dumps(_suggestion(9999)) + "\n")
    path = folder / "suggestions-1.jsonl"
    path.write_text("\n".join(lines) + "\n")
    con = db.connect(folder / "warehouse.duckdb")
    try:
        report = ingest_module.ingest_paths(con, [users, sessions, earlier, path], now=NOW)
        tables = {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("sessions", "suggestions")
        }
        quarantine = con.execute(
            "SELECT regexp_replace(file, '.*/', ''), line, target_table, field, reason, "
            "regexp_replace(detail, '^.*/', '') FROM quarantine ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    files = [
        {k: v for k, v in f.to_dict().items() if k not in ("file", "seconds", "sha256", "messages")}
        for f in report.files
    ]
    return {"files": files, "tables": tables, "quarantine": quarantine}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_direct_insert_gives_what_the_staged_path_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(events, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(events, "FIRST_CHUNK_BYTES", 4096)
    monkeypatch.setattr(events, "MAX_LINE_BYTES", 1024)
    kept: list[bool] = []
    attempt = ingest_module._FileLoad._try_direct

    def counted(self: ingest_module._FileLoad, *args: Any) -> bool:
        tries = self.direct  # off for the rest of a file after a chunk went staged
        result = attempt(self, *args)
        if tries and self.name.endswith("suggestions-1.jsonl"):
            kept.append(result)
        return result

    monkeypatch.setattr(ingest_module._FileLoad, "_try_direct", counted)
    lines = SCENARIOS[name]()
    assert len("\n".join(lines)) > 20 * 4096  # many chunks
    direct = _ingest(tmp_path, name, lines, direct=True)
    tried = list(kept)
    monkeypatch.setattr(ingest_module, "DIRECT_INSERT", False)
    staged = _ingest(tmp_path, name, lines, direct=False)
    assert direct == staged
    if name != "off_the_fast_path_in_every_chunk":  # the first chunks are clean
        assert tried[:3] == [True, True, True]
    if name == "off_the_fast_path_in_every_chunk":
        # every chunk misses: the tries thin out (after 1, 2, 4, ... clean staged chunks)
        assert tried[0] is False and not any(tried)
        assert 3 <= len(tried) <= 6 and direct["quarantine"] == []
        return
    if name in ("clean", "true_in_a_string"):
        assert all(tried) and len(tried) > 20
        loaded = {"suggestions": 300 if name == "clean" else 301}
        assert direct["quarantine"] == [] and direct["files"][-1]["loaded"] == loaded
    else:
        # one miss: the chunk with the problem was staged; the next chunk, staged too,
        # was clean, and the direct insert resumed after it (a second miss where the
        # session comes: the last chunk mixes two tables)
        misses = 2 if name == "parent_later_in_the_file" else 1
        assert tried.count(False) == misses
        assert all(tried[tried.index(False) + 1 :]) or misses == 2
        assert {q[4] for q in direct["quarantine"]} == REASONS[name]


def test_two_line_buffers_go_round_however_many_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader waits for each chunk to be taken before reading the next, so the
    chunk before has been released and its buffer is reused: two buffers in all."""
    monkeypatch.setattr(events, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(events, "FIRST_CHUNK_BYTES", 4096)
    monkeypatch.setattr(events, "MAX_LINE_BYTES", 1024)
    allocated: list[int] = []
    get = events.BufferPool.get

    def counted(self: events.BufferPool) -> Any:
        if not self._free:
            allocated.append(self.size)
        return get(self)

    monkeypatch.setattr(events.BufferPool, "get", counted)
    result = _ingest(tmp_path, "buffers", _lines(list(range(300))), direct=True)
    assert result["files"][-1]["loaded"] == {"suggestions": 300}
    # one pool per file: users, sessions and suggestions-0 need one buffer each
    assert len(allocated) == 3 + 2, allocated
