"""Continue dev-data autocomplete log → suggestions, with derived users and sessions."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from codex_ds.telemetry import schema
from codex_ds.telemetry.formats import continue_dev, copilot
from codex_ds.telemetry.formats.base import LINE_COLUMN, RAW_COLUMN, FormatError, ParsedFile

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "data" / "continue"
LOG = FIXTURES / "autocomplete.jsonl"
MALFORMED = FIXTURES / "autocomplete_malformed.jsonl"


def rows(parsed: ParsedFile, table: str) -> list[dict[str, Any]]:
    return [r for b in parsed.batches if b.table == table for r in b.data.to_pylist()]


def test_sniff_claims_continue_logs_only() -> None:
    for path in (LOG, MALFORMED):
        head = path.read_bytes()[:65536]
        assert continue_dev.sniff(path, head)
        assert not copilot.sniff(path, head)
    for path in sorted((REPO / "tests" / "data" / "copilot").iterdir()):
        assert not continue_dev.sniff(path, path.read_bytes()[:65536])
    assert not continue_dev.sniff(
        Path("events.jsonl"), b'{"suggestion_id": "s1", "outcome": "accepted"}\n'
    )
    assert not continue_dev.sniff(Path("a.csv"), b"eventName,completionId\n")


def test_the_dispatcher_hands_it_to_this_reader() -> None:
    from codex_ds.telemetry import formats

    claimant = getattr(formats, "claimant", None)
    if claimant is None:  # pragma: no cover - until the dispatcher lands
        pytest.skip("codex_ds.telemetry.formats.claimant is not available yet")
    assert claimant(LOG) == claimant(MALFORMED) == "continue_dev"


def test_suggestions_round_trip() -> None:
    parsed = continue_dev.read(LOG)
    assert parsed.format == continue_dev.NAME
    assert parsed.issues == []
    assert parsed.rows_read == 8
    source = [json.loads(line) for line in LOG.read_text().splitlines()]
    got = {r["suggestion_id"]: r for r in rows(parsed, "suggestions")}
    # completion 8a1e2c3d-0003 is logged twice (rejected by the 10-s timer, then accepted)
    assert len(got) == len({s["completionId"] for s in source}) == 7
    for lineno, s in enumerate(source, start=1):
        r = got[s["completionId"]]
        assert r["model_version"] == f"{s['modelProvider']}/{s['modelName']}"
        assert r["completion_text"] == s["completion"]
        assert r["suggested_chars"] == len(s["completion"])
        assert r["suggested_lines"] == (s["completion"].count("\n") + 1 if s["completion"] else 0)
        assert r["latency_ms"] == s["time"]
        assert r["trigger"] == "automatic"
        if r[LINE_COLUMN] == lineno:
            assert r[RAW_COLUMN] == LOG.read_text().splitlines()[lineno - 1]
    twice = got["8a1e2c3d-0003"]
    assert (twice["outcome"], twice[LINE_COLUMN]) == ("accepted", 3)
    assert twice["shown_at"] == datetime(2026, 3, 2, 9, 10, 12, 4000)  # the earlier record
    assert twice["accepted_chars"] == twice["suggested_chars"] == 53
    rejected = got["8a1e2c3d-0002"]
    assert (rejected["outcome"], rejected["accepted_chars"], rejected["accepted_lines"]) == (
        "rejected",
        0,
        0,
    )
    assert {k: got[k]["language"] for k in got} == {
        "8a1e2c3d-0001": "python",
        "8a1e2c3d-0002": "python",
        "8a1e2c3d-0003": "typescript",
        "8a1e2c3d-0004": "markdown",
        "8a1e2c3d-0005": "sql",
        "5c7d9e10-0001": "java",
        "5c7d9e10-0002": "rust",
    }
    epoch = got["5c7d9e10-0001"]
    assert epoch["shown_at"] == datetime(2026, 3, 2, 10, 0, 0)  # epoch milliseconds
    assert epoch["user_id"] == "bo@acme.example"
    # no userId: the machine id stands for the user
    assert got["8a1e2c3d-0001"]["user_id"] == "continue-3f9c0a7e-machine-a"
    empty = got["8a1e2c3d-0004"]
    assert (empty["suggested_chars"], empty["suggested_lines"], empty["outcome"]) == (
        0,
        0,
        "accepted",
    )


def test_columns_match_the_schema_and_parents_upsert() -> None:
    parsed = continue_dev.read(LOG)
    assert [b.table for b in parsed.batches] == ["users", "sessions", "suggestions"]
    for batch in parsed.batches:
        table = schema.TABLES[batch.table]
        extra = {LINE_COLUMN, RAW_COLUMN} if batch.table == "suggestions" else {LINE_COLUMN}
        assert set(batch.data.column_names) == {*table.column_names, *extra}
        assert batch.upsert_parents == (batch.table != "suggestions")
        for r in batch.data.to_pylist():
            for col in table.columns:
                value = r[col.name]
                if not col.nullable:
                    assert value is not None, (batch.table, col.name)
                if col.allowed is not None and value is not None:
                    assert value in col.allowed, (batch.table, col.name, value)


def test_derived_sessions_and_users() -> None:
    parsed = continue_dev.read(LOG)
    sessions = {r["session_id"]: r for r in rows(parsed, "sessions")}
    suggestions = rows(parsed, "suggestions")
    assert {s["session_id"] for s in suggestions} == set(sessions)
    # machine a: 09:00-09:12, then a gap of more than 30 min, then 11:30
    machine = sorted(
        (s for s in sessions.values() if s["user_id"] == "continue-3f9c0a7e-machine-a"),
        key=lambda s: s["started_at"],
    )
    assert [(s["started_at"].hour, s["ended_at"].minute) for s in machine] == [(9, 12), (11, 30)]
    assert machine[0]["language"] == "python"  # two of four suggestions
    assert machine[0]["active_minutes"] == 4.0  # 09:00, 09:03, 09:10, 09:12
    assert machine[0]["editor"] == "vscode"
    # Continue's own sessionId is kept
    cursor = sessions["0d6f2a44-5b1e-4c3a-9d7e-2f1b8c9a7e61"]
    assert (cursor["user_id"], cursor["editor"], cursor["language"]) == (
        "cy@acme.example",
        "vscode",
        "rust",
    )
    assert len(sessions) == 4
    users = {r["user_id"]: r for r in rows(parsed, "users")}
    assert set(users) == {"continue-3f9c0a7e-machine-a", "bo@acme.example", "cy@acme.example"}
    assert users["bo@acme.example"]["editor"] == "jetbrains"
    assert {u["segment"] for u in users.values()} == {continue_dev.DEFAULT_SEGMENT}
    assert users["continue-3f9c0a7e-machine-a"]["signup_at"] == datetime(
        2026, 3, 2, 9, 0, 5, 120000
    )
    # deterministic ids: reading again gives the same sessions
    again = continue_dev.read(LOG)
    assert rows(again, "sessions") == rows(parsed, "sessions")


def test_malformed_lines_are_issues_with_line_numbers() -> None:
    parsed = continue_dev.read(MALFORMED)
    located = [(i.reason, i.line, i.field) for i in parsed.issues if i.line is not None]
    assert located == [
        ("invalid_json", 2, None),
        ("missing_field", 3, "accepted"),
        ("unknown_shape", 5, None),
        ("invalid_timestamp", 6, "timestamp"),
        ("invalid_value", 8, "accepted"),
        ("missing_field", 9, "time"),
    ]
    assert all(i.raw for i in parsed.issues if i.line is not None)
    (ignored,) = [i for i in parsed.issues if i.line is None]
    assert ignored.reason == "ignored_events" and "chatInteraction: 1" in ignored.detail
    assert [r["suggestion_id"] for r in rows(parsed, "suggestions")] == ["9b-0001"]
    assert parsed.rows_read == 8  # non-empty lines


def test_gzip_and_unreadable_input(tmp_path: Path) -> None:
    packed = tmp_path / "autocomplete.jsonl.gz"
    packed.write_bytes(gzip.compress(LOG.read_bytes()))
    assert rows(continue_dev.read(packed), "suggestions") == rows(
        continue_dev.read(LOG), "suggestions"
    )
    junk = tmp_path / "autocomplete.jsonl"
    junk.write_text("not json\nnor this\n")
    with pytest.raises(FormatError):
        continue_dev.read(junk)
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(FormatError):
        continue_dev.read(binary)


@pytest.mark.parametrize(
    ("user_agent", "editor"),
    [
        ("Visual Studio Code/1.96.2 (Continue/0.8.66)", "vscode"),
        ("VSCodium/1.95.0 (Continue/0.8.60)", "vscode"),
        ("Cursor/0.45.11 (Continue/1.0.3)", "vscode"),
        ("IntelliJ IDEA/2024.3 (Continue/0.0.83)", "jetbrains"),
        ("Android Studio/2024.2 (Continue/0.0.80)", "jetbrains"),
        ("Neovim/0.10 (Continue/1.0.0)", "neovim"),
        ("Visual Studio/17.12 (Continue/1.0.0)", "visual_studio"),
        ("Unknown/Unknown (Continue/Unknown)", "other"),
        (None, "other"),
    ],
)
def test_editor_from_user_agent(user_agent: str | None, editor: str) -> None:
    assert continue_dev.editor_of(user_agent) == editor
    assert editor in schema.EDITORS


@pytest.mark.parametrize(
    ("filepath", "language"),
    [
        ("file:///home/a/x.py", "python"),
        ("file:///c%3A/Users/a/App.tsx", "typescript"),
        ("/srv/app/main.go", "go"),
        ("C:\\src\\lib.rs", "rust"),
        ("/srv/include/vec.hpp", "cpp"),
        ("/srv/x/deploy.yml", "yaml"),
        ("/srv/x/Dockerfile", "other"),
        ("/srv/x/notes.txt", "other"),
        (None, "other"),
    ],
)
def test_language_from_extension(filepath: str | None, language: str) -> None:
    assert continue_dev.language_of(filepath) == language
    assert language in schema.LANGUAGES


def test_extension_map_uses_the_schema_vocabulary() -> None:
    assert set(continue_dev.EXTENSION_LANGUAGES.values()) <= set(schema.LANGUAGES)


def test_end_to_end_ingest(tmp_path: Path) -> None:
    try:
        from codex_ds.telemetry.ingest import ingest_paths
    except ImportError as exc:  # pragma: no cover - until ingestion lands
        pytest.skip(f"codex_ds.telemetry.ingest is not available yet: {exc}")
    from codex_ds.warehouse import db

    con = db.connect(tmp_path / "w.duckdb")
    try:
        ingest_paths(con, [LOG])
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()
            for t in ("users", "sessions", "suggestions")
        }
        assert counts == {"users": (3,), "sessions": (4,), "suggestions": (7,)}
        accepted = con.execute(
            "SELECT count(*) FROM suggestions WHERE outcome = 'accepted'"
        ).fetchone()
        assert accepted == (4,)
    finally:
        con.close()
