"""Opening, migrating, describing and exporting the warehouse file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codex_ds.telemetry import schema
from codex_ds.warehouse import db


def _users(n: int) -> pa.Table:
    return pa.table(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "segment": ["expert"] * n,
            "primary_language": ["python"] * n,
            "editor": ["vscode"] * n,
            "signup_at": pa.array(
                [1_767_600_000 + 86_400 * (i % 3) for i in range(n)], pa.timestamp("s")
            ),
        }
    )


def test_connect_creates_every_table(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    con = db.connect(path)
    counts = db.table_counts(con)
    assert set(counts) == set(schema.TABLES)
    assert all(v == 0 for v in counts.values())
    con.close()
    assert path.exists()


def test_read_only_open_of_missing_file_says_which_command_fills_it(tmp_path: Path) -> None:
    with pytest.raises(db.WarehouseError, match="codex-ds simulate"):
        db.connect(tmp_path / "none.duckdb", read_only=True)


def test_migration_adds_missing_columns_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute("CREATE TABLE users (user_id VARCHAR NOT NULL, segment VARCHAR NOT NULL)")
    raw.execute("INSERT INTO users VALUES ('u1', 'expert')")
    raw.close()
    con = db.connect(path)
    cols = [r[0] for r in con.execute("DESCRIBE users").fetchall()]
    assert cols[:2] == ["user_id", "segment"]
    assert set(schema.USERS.column_names) <= set(cols)
    assert con.execute("SELECT user_id FROM users").fetchall() == [("u1",)]
    assert db.migrate(con) == schema.SCHEMA_VERSION  # a second migrate is a no-op
    con.close()


def test_load_arrow_and_describe(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    con = db.connect(path)
    db.load_arrow(con, "users", _users(5))
    info = db.describe(con, path)
    assert info.tables["users"] == 5
    assert info.date_range == {"start": "2026-01-05", "end": "2026-01-07"}
    assert info.to_dict()["tables"]["sessions"] == 0
    con.close()


def test_export_parquet_partitions_by_day(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "w.duckdb")
    db.load_arrow(con, "users", _users(6))
    written = db.export_parquet(con, tmp_path / "pq", ["users"])
    assert written == {"users": 6}
    days = sorted(p.name for p in (tmp_path / "pq" / "users").iterdir())
    assert days == ["day=2026-01-05", "day=2026-01-06", "day=2026-01-07"]
    back = pq.read_table(tmp_path / "pq" / "users")
    assert back.num_rows == 6
    # A second export replaces, not appends.
    db.export_parquet(con, tmp_path / "pq", ["users"])
    assert pq.read_table(tmp_path / "pq" / "users").num_rows == 6
    con.close()


def test_writer_waits_for_a_reader_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    db.connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('ready', flush=True); time.sleep(1.5); c.close()",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    con = db.connect(path, lock_wait=20)
    waited = time.monotonic() - t0
    con.close()
    holder.wait(timeout=10)
    assert waited > 0.5, "the writer should have waited for the reader's lock"


def test_lock_wait_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    db.connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(5)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(db.WarehouseError, match="cannot open warehouse"):
            db.connect(path, lock_wait=0.3)
    finally:
        holder.kill()
        holder.wait()
