"""Benchmark: ingestion of JSON-lines suggestions, with validation, against a pandas baseline.

For each size in ``--events`` it writes a JSONL file of suggestions (plus the users and
sessions they reference, ingested first and timed apart), then measures in the same run:

* **ours**: :func:`codex_ds.telemetry.ingest.ingest_paths` (parse, strict type, vocabulary,
  range, timestamp, length, row-rule, reference and duplicate checks; file hash; one
  transaction), ``--repeat`` times (3), each into a fresh warehouse: the median run is
  reported, and every run's rate beside it;
* **baseline**: ``pandas.read_json(lines=True, chunksize=...)`` and an ``INSERT`` of
  each frame into the same DuckDB table, with no validation at all.

A third run ingests a copy of the file with one bad record at line 10 (a negative
latency): the chunk that holds it misses the direct insert and is staged, with the next,
and the rows are quarantined or loaded as in any file (not a target: the cost of bad input).
Each run loads into a fresh warehouse. The target is 500,000 events/s for ours. For
context it also times DuckDB's own ``read_json`` straight into the table (no checks, no
line numbers: a ceiling, not a baseline) and prints the machine's load average, since
on a shared machine other processes change the figures; the process CPU seconds of ours
and of DuckDB's reader (all threads) are printed too, as they depend less on that load.
Prints a markdown table and one JSON line; ``--record`` writes the table into
docs/benchmarks.md (see benchmarks/record.py).

    python benchmarks/bench_ingest.py --events 2000000 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from codex_ds.telemetry import schema
from codex_ds.telemetry.ingest import ingest_paths
from codex_ds.warehouse import db

TARGET_EVENTS_PER_S = 500_000
SUGGESTIONS_PER_SESSION = 50
USERS = 5_000


def write_fixture(folder: Path, events: int) -> tuple[Path, Path, Path]:
    """Write users.jsonl, sessions.jsonl and suggestions.jsonl with DuckDB (fast, deterministic)."""
    sessions = max(1, events // SUGGESTIONS_PER_SESSION)
    con = duckdb.connect()
    users_path = folder / "users.jsonl"
    sessions_path = folder / "sessions.jsonl"
    suggestions_path = folder / "suggestions.jsonl"
    langs = "['python', 'typescript', 'go', 'rust', 'java']"
    con.execute(
        f"""COPY (SELECT printf('u-%06d', i) AS user_id,
                      (['beginner', 'intermediate', 'expert'])[1 + i % 3] AS segment,
                      {langs}[1 + i % 5] AS primary_language, 'vscode' AS editor,
                      printf('team-%d', i % 40) AS team,
                      strftime(TIMESTAMP '2025-01-01' + to_seconds(i * 60), '%Y-%m-%dT%H:%M:%SZ')
                        AS signup_at
               FROM range({USERS}) t(i))
            TO '{users_path}' (FORMAT JSON)"""
    )
    con.execute(
        f"""COPY (SELECT printf('s-%08d', i) AS session_id,
                      printf('u-%06d', i % {USERS}) AS user_id,
                      strftime(TIMESTAMP '2026-01-01' + to_seconds(i * 30), '%Y-%m-%dT%H:%M:%SZ')
                        AS started_at,
                      strftime(TIMESTAMP '2026-01-01' + to_seconds(i * 30 + 1800),
                               '%Y-%m-%dT%H:%M:%SZ') AS ended_at,
                      'vscode' AS editor, {langs}[1 + i % 5] AS language, 'feature' AS task_type,
                      100000 + i % 5000 AS repo_size_loc, 25.5 AS active_minutes,
                      1000 + i % 700 AS typed_chars
               FROM range({sessions}) t(i))
            TO '{sessions_path}' (FORMAT JSON)"""
    )
    con.execute(
        f"""COPY (SELECT printf('g-%010d', i) AS suggestion_id,
                      printf('s-%08d', i // {SUGGESTIONS_PER_SESSION}) AS session_id,
                      printf('u-%06d', (i // {SUGGESTIONS_PER_SESSION}) % {USERS}) AS user_id,
                      strftime(TIMESTAMP '2026-01-01' + to_milliseconds(i * 600),
                               '%Y-%m-%dT%H:%M:%S.%gZ') AS shown_at,
                      (['m-2026-01', 'm-2026-02'])[1 + i % 2] AS model_version,
                      {langs}[1 + (i // {SUGGESTIONS_PER_SESSION}) % 5] AS language,
                      (['automatic', 'manual', 'comment'])[1 + i % 3] AS trigger,
                      round(50 + (i * 7919) % 900 + 0.25, 2) AS latency_ms,
                      10 + i % 300 AS suggested_chars, 1 + i % 12 AS suggested_lines,
                      500 + i % 3000 AS prompt_tokens,
                      (['accepted', 'rejected', 'rejected', 'partially_accepted'])[1 + i % 4]
                        AS outcome,
                      CASE WHEN i % 4 = 0 THEN 10 + i % 300 ELSE 0 END AS accepted_chars,
                      CASE WHEN i % 4 = 0 THEN 1 + i % 12 ELSE 0 END AS accepted_lines,
                      NULL AS prompt_id, 'return x + y' AS completion_text
               FROM range({events}) t(i))
            TO '{suggestions_path}' (FORMAT JSON)"""
    )
    con.close()
    return users_path, sessions_path, suggestions_path


def write_dirty_copy(suggestions: Path, bad_line: int = 10) -> Path:
    """A copy of the suggestions with one bad record (a negative latency) at ``bad_line``."""
    dirty = suggestions.parent / "dirty" / suggestions.name
    dirty.parent.mkdir()
    with suggestions.open("rb") as src, dirty.open("wb") as out:
        for _ in range(bad_line - 1):
            out.write(src.readline())
        line = src.readline()
        out.write(line.replace(b'"latency_ms":', b'"latency_ms":-5,"was":', 1))
        shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    return dirty


def cpu_seconds() -> float:
    """CPU time of this process so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ours(
    warehouse: Path, parents: list[Path], suggestions: Path, *, quarantined: int = 0
) -> dict[str, float]:
    con = db.connect(warehouse)
    try:
        t0 = time.perf_counter()
        ingest_paths(con, parents)
        t1 = time.perf_counter()
        c1 = cpu_seconds()
        report = ingest_paths(con, [suggestions])
        t2 = time.perf_counter()
        cpu = cpu_seconds() - c1
        loaded = report.totals["loaded"]
        if report.totals["quarantined"] != quarantined or loaded == 0:
            raise SystemExit(f"ingest did not load as expected: {report.to_dict()}")
    finally:
        con.close()
    return {"parents_s": t1 - t0, "seconds": t2 - t1, "rows": float(loaded), "cpu_s": cpu}


def run_baseline(warehouse: Path, parents: list[Path], suggestions: Path) -> dict[str, float]:
    con = db.connect(warehouse)
    cols = list(schema.SUGGESTIONS.column_names)
    try:
        ingest_paths(con, parents)
        t0 = time.perf_counter()
        rows = 0
        for frame in pd.read_json(suggestions, lines=True, chunksize=500_000, dtype=False):
            frame = frame.reindex(columns=cols)
            con.register("frame", frame)
            con.execute(f"INSERT INTO suggestions SELECT {', '.join(cols)} FROM frame")
            con.unregister("frame")
            rows += len(frame)
        seconds = time.perf_counter() - t0
    finally:
        con.close()
    return {"seconds": seconds, "rows": float(rows)}


def run_native(warehouse: Path, parents: list[Path], suggestions: Path) -> dict[str, float]:
    """DuckDB's own JSON reader straight into the table: no validation, no line numbers.

    Not the baseline (it cannot quarantine anything); a ceiling for this machine.
    """
    con = db.connect(warehouse)
    spec = schema.SUGGESTIONS
    columns = "{" + ", ".join(f"'{c.name}': '{c.dtype}'" for c in spec.columns) + "}"
    try:
        ingest_paths(con, parents)
        t0 = time.perf_counter()
        c0 = cpu_seconds()
        row = con.execute(
            f"INSERT INTO suggestions SELECT * FROM read_json('{suggestions}', "
            f"format = 'newline_delimited', columns = {columns})"
        ).fetchone()
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds() - c0
    finally:
        con.close()
    return {"seconds": seconds, "rows": float(row[0] if row else 0), "cpu_s": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--events", type=int, nargs="+", default=[2_000_000, 10_000_000], help="suggestions per run"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: tmp)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pandas baseline")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of ours per size; the median is reported"
    )
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)

    results = []
    for n in args.events:
        work = Path(tempfile.mkdtemp(prefix="codex-ds-bench-", dir=args.workdir))
        try:
            t0 = time.perf_counter()
            users, sessions, suggestions = write_fixture(work, n)
            gen_s = time.perf_counter() - t0
            # the fixture's dirty pages are written back now, not during the timed runs
            os.sync()
            size_mb = suggestions.stat().st_size / 1e6
            runs = [
                run_ours(work / f"ours{i}.duckdb", [users, sessions], suggestions)
                for i in range(args.repeat)
            ]
            ours = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]  # median
            rates = sorted(r["rows"] / r["seconds"] for r in runs)
            dirty = write_dirty_copy(suggestions)
            os.sync()
            ours_dirty = run_ours(work / "dirty.duckdb", [users, sessions], dirty, quarantined=1)
            dirty.unlink()
            base = (
                None
                if args.no_baseline
                else run_baseline(work / "base.duckdb", [users, sessions], suggestions)
            )
            native = run_native(work / "native.duckdb", [users, sessions], suggestions)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        ours_rate = ours["rows"] / ours["seconds"]
        base_rate = base["rows"] / base["seconds"] if base else float("nan")
        results.append(
            {
                "events": n,
                "file_mb": round(size_mb, 1),
                "generate_s": round(gen_s, 2),
                "parents_s": round(ours["parents_s"], 2),
                "ours_s": round(ours["seconds"], 2),
                "ours_events_per_s": round(ours_rate),
                "ours_runs_events_per_s": [round(r) for r in rates],
                "ours_one_bad_line_s": round(ours_dirty["seconds"], 2),
                "ours_one_bad_line_events_per_s": round(
                    (ours_dirty["rows"] + 1) / ours_dirty["seconds"]
                ),
                "baseline_s": round(base["seconds"], 2) if base else None,
                "baseline_events_per_s": round(base_rate) if base else None,
                "ratio": round(ours_rate / base_rate, 2) if base else None,
                "native_s": round(native["seconds"], 2),
                "native_events_per_s": round(native["rows"] / native["seconds"]),
                "ours_cpu_s_per_m": round(ours["cpu_s"] / (ours["rows"] / 1e6), 2),
                "native_cpu_s_per_m": round(native["cpu_s"] / (native["rows"] / 1e6), 2),
                "load_avg_1min": round(os.getloadavg()[0], 1),
                "target_met": ours_rate >= TARGET_EVENTS_PER_S,
            }
        )
        print(f"# {n:,} events done", file=sys.stderr, flush=True)

    header = (
        "| events | file | ours (validated, median run) | events/s (all runs) "
        "| pandas read_json + insert | events/s "
        "| ratio | ≥ 500k/s | DuckDB read_json, no checks | CPU s per M: ours / read_json "
        "| ours, one bad line (line 10) | load avg |\n"
        "|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for r in results:
        base_s = f"{r['baseline_s']:.1f} s" if r["baseline_s"] is not None else "-"
        base_r = f"{r['baseline_events_per_s']:,}" if r["baseline_events_per_s"] else "-"
        ratio = f"{r['ratio']:.1f}×" if r["ratio"] else "-"
        each = ", ".join(f"{x:,}" for x in r["ours_runs_events_per_s"])
        lines.append(
            f"| {r['events']:,} | {r['file_mb']:,.0f} MB | {r['ours_s']:.1f} s | "
            f"{r['ours_events_per_s']:,} ({each}) | {base_s} | {base_r} | {ratio} | "
            f"{'yes' if r['target_met'] else 'no'} | {r['native_events_per_s']:,}/s | "
            f"{r['ours_cpu_s_per_m']:.2f} / {r['native_cpu_s_per_m']:.2f} | "
            f"{r['ours_one_bad_line_events_per_s']:,}/s | {r['load_avg_1min']} |"
        )
    table = "\n".join(lines)
    print(table)
    print(json.dumps({"benchmark": "ingest_jsonl", "results": results}))
    if args.record:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from record import record

        record(
            "ingest",
            "Ingestion of JSON-lines suggestions (validated) vs pandas read_json + insert",
            "python benchmarks/bench_ingest.py --events "
            + " ".join(str(n) for n in args.events)
            + (f" --repeat {args.repeat}" if args.repeat != 3 else ""),
            table,
            packages=("duckdb", "pyarrow", "pandas"),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
