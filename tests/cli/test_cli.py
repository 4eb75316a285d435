"""The real command line, run in a subprocess on a temporary workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from codex_ds.telemetry import schema

pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEX_DS_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "codex_ds", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def test_three_entry_points_share_one_cli(tmp_path: Path) -> None:
    a = subprocess.run(
        [sys.executable, str(REPO / "app.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    b = cli("--help", home=tmp_path)
    for command in ("simulate", "ingest", "all", "warehouse"):
        assert command in a.stdout and command in b.stdout
    assert a.stdout.split("Commands")[1] == b.stdout.split("Commands")[1]
    v = cli("--version", home=tmp_path)
    assert v.stdout.startswith("codex-ds ")


def test_simulate_fills_every_table_and_info_lists_them(tmp_path: Path) -> None:
    res = json.loads(
        cli(
            "simulate", "--users", "2000", "--days", "28", "--seed", "7", "--json", home=tmp_path
        ).stdout
    )
    for table in schema.EVENT_TABLES:
        assert res["tables"][table] > 0, table
    assert (tmp_path / "ground_truth.json").exists()
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert truth["seed"] == 7
    info = json.loads(cli("warehouse", "info", "--json", home=tmp_path).stdout)
    assert set(info["tables"]) == set(schema.TABLES)
    for table in schema.EVENT_TABLES:
        assert info["tables"][table] == res["tables"][table]
    assert info["date_range"]["start"] is not None


def _fingerprints(path: Path) -> dict[str, tuple[int, int]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for t in schema.EVENT_TABLES:
            n, h = con.execute(
                f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {t} AS t"
            ).fetchone()  # type: ignore[misc]
            out[t] = (int(n), int(h))
        return out
    finally:
        con.close()


def test_same_seed_gives_identical_tables_and_rerun_replaces(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    cli("simulate", "--users", "150", "--days", "10", "--seed", "3", "--json", home=a)
    cli("simulate", "--users", "150", "--days", "10", "--seed", "3", "--json", home=b)
    first = _fingerprints(a / "warehouse.duckdb")
    assert first == _fingerprints(b / "warehouse.duckdb")
    # Simulating again into the same warehouse replaces the event data, it does not duplicate it.
    cli("simulate", "--users", "150", "--days", "10", "--seed", "3", "--json", home=a)
    assert _fingerprints(a / "warehouse.duckdb") == first
    other = tmp_path / "c"
    other.mkdir()
    cli("simulate", "--users", "150", "--days", "10", "--seed", "4", "--json", home=other)
    assert _fingerprints(other / "warehouse.duckdb") != first


def test_all_runs_every_step_and_writes_reports(tmp_path: Path) -> None:
    res = json.loads(cli("all", "--users", "300", "--days", "14", "--json", home=tmp_path).stdout)
    names = [s["name"] for s in res["steps"]]
    assert names == [
        "simulate",
        "warehouse_report",
        "analytics",
        "experiments",
        "rollout",
        "monitors",
        "eval",
        "nlp",
        "model_acceptance",
        "model_productivity",
        "model_segments",
        "causal",
        "export_parquet",
    ]
    analytics = next(s for s in res["steps"] if s["name"] == "analytics")
    assert analytics["summary"]["queries"] >= 20
    index = (tmp_path / "reports" / "analytics.md").read_text()
    assert "acceptance_by_language" in index
    csv = (tmp_path / "reports" / "analytics" / "acceptance_by_language.csv").read_text()
    assert csv.splitlines()[0].startswith("language,")
    assert (tmp_path / "reports" / "warehouse.md").exists()
    assert (tmp_path / "reports" / "all.json").exists()
    assert "# Experiments" in (tmp_path / "reports" / "experiments.md").read_text()
    assert "# Staged rollout" in (tmp_path / "reports" / "rollout.md").read_text()
    assert "# Monitors and alerts" in (tmp_path / "reports" / "monitors.md").read_text()
    assert "## Failure-message classifier" in (tmp_path / "reports" / "nlp.md").read_text()
    assert any((tmp_path / "parquet" / "suggestions").iterdir())


def test_ingest_of_missing_path_fails_with_its_name(tmp_path: Path) -> None:
    proc = cli("ingest", str(tmp_path / "nope.jsonl"), home=tmp_path, check=False)
    assert proc.returncode == 1
    assert "nope.jsonl" in proc.stderr


def test_ingest_quarantine_exit_code_and_messages(tmp_path: Path) -> None:
    users = tmp_path / "users.jsonl"
    rest = '"primary_language": "python", "editor": "vscode", "signup_at": "2026-01-05T09:00:00Z"}'
    users.write_text(
        '{"user_id": "u1", "segment": "expert", ' + rest + "\n"
        '{"user_id": "u2", "segment": "wizard", ' + rest + "\n"
    )
    proc = cli("ingest", str(users), home=tmp_path, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "users.jsonl" in proc.stderr and ":2" in proc.stderr and "segment" in proc.stderr
    rerun = cli("ingest", str(users), "--json", home=tmp_path, check=False)
    data = json.loads(rerun.stdout)
    assert data["files"][0]["status"] == "already_ingested"
    info = json.loads(cli("warehouse", "info", "--json", home=tmp_path).stdout)
    assert info["tables"]["users"] == 1
    assert info["tables"]["quarantine"] >= 1


def test_info_on_missing_warehouse_says_what_to_run(tmp_path: Path) -> None:
    proc = cli("warehouse", "info", home=tmp_path, check=False)
    assert proc.returncode == 1
    assert "codex-ds simulate" in proc.stderr


def test_schema_doc_check(tmp_path: Path) -> None:
    page = tmp_path / "schema.md"
    assert (
        cli(
            "warehouse", "schema-doc", "--check", "--path", str(page), home=tmp_path, check=False
        ).returncode
        == 1
    )
    cli("warehouse", "schema-doc", "--path", str(page), home=tmp_path)
    assert (
        cli("warehouse", "schema-doc", "--check", "--path", str(page), home=tmp_path).returncode
        == 0
    )
