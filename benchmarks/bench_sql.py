"""Benchmark the SQL metric suite on a 10-million-event warehouse against pandas.

1. Builds (or reuses, with ``--workdir``) a DuckDB warehouse of ~``--events`` simulated
   suggestion events (``SimulationConfig(users=events / 412)``, 28 days, streamed load).
2. Times the whole suite as ``codex-ds sql run --all`` runs it (every query of the catalog
   with its defaults, one read-only connection), ``--repeat`` times; the target is the
   median ≤ 15 s.
3. The named baseline, measured in the same run: five representative queries
   (acceptance_by_language, latency_percentiles, active_users, cohort_retention_weekly,
   suggestion_funnel) implemented in pandas on the same data. The tables are read into
   pandas first (not timed; low-cardinality strings as categoricals, a favour to the
   baseline); only the computation is timed, and each pandas result must agree with the
   SQL result (same rows, floats to 1e-9 relative).

Prints the suite time, the slowest queries (where the time goes) and the per-query and total
ratio pandas ÷ DuckDB for the five (target ≥ 10×). ``--record`` writes the section of
docs/benchmarks.md.

    python benchmarks/bench_sql.py                       # 10 M events
    python benchmarks/bench_sql.py --events 1e6          # a quick run
    python benchmarks/bench_sql.py --workdir /tmp/bench_sql --record
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from codex_ds.telemetry.simulate import SimulationConfig, iter_chunks, load_into_warehouse
from codex_ds.warehouse import catalog, db

#: Suggestions per simulated user with the default config (benchmarks/bench_simulate.py).
SUGGESTIONS_PER_USER = 412
TARGET_SUITE_S = 15.0
TARGET_RATIO = 10.0
ACCEPTED = ("accepted", "partially_accepted")


# ============================================================================ the warehouse


def build_warehouse(path: Path, events: float, seed: int) -> dict[str, int]:
    """Simulate ~events suggestions and load them into a fresh warehouse at ``path``."""
    users = max(1, math.ceil(events / SUGGESTIONS_PER_USER))
    config = SimulationConfig(users=users, days=28, seed=seed)
    con = db.connect(path)
    try:
        return load_into_warehouse(con, iter_chunks(config))
    finally:
        con.close()


def warehouse(workdir: Path, events: float, seed: int) -> tuple[Path, dict[str, int], float]:
    marker = workdir / f"warehouse-{int(events)}-{seed}.ok"
    path = workdir / f"warehouse-{int(events)}-{seed}.duckdb"
    if marker.exists() and path.exists():
        con = db.connect(path, read_only=True)
        try:
            counts = db.table_counts(con)
        finally:
            con.close()
        return path, counts, 0.0
    if path.exists():
        path.unlink()
    t0 = time.perf_counter()
    counts = build_warehouse(path, events, seed)
    marker.write_text("ok\n")
    return path, counts, time.perf_counter() - t0


# ============================================================================ the SQL suite


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread (DuckDB's workers included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_suite(path: Path) -> tuple[float, float, list[catalog.QueryResult], dict[str, float]]:
    """Every catalog query with its defaults on one read-only connection, as
    ``codex-ds sql run --all`` does: wall and CPU time of the whole loop, the results and
    the CPU seconds of each query (less sensitive than wall time to a busy machine)."""
    con = db.connect(path, read_only=True)
    try:
        cpu_by_query: dict[str, float] = {}
        results = []
        t0, c0 = time.perf_counter(), cpu_seconds()
        for q in catalog.default_catalog().list():
            c1 = cpu_seconds()
            results.append(catalog.run(con, q))
            cpu_by_query[q.name] = cpu_seconds() - c1
        return time.perf_counter() - t0, cpu_seconds() - c0, results, cpu_by_query
    finally:
        con.close()


# ============================================================================ pandas baseline


def load_frames(path: Path) -> dict[str, pd.DataFrame]:
    """The columns the five queries read, as pandas frames (not timed)."""
    con = db.connect(path, read_only=True)
    cols = {
        "users": "user_id, segment, signup_at",
        "sessions": "session_id, user_id, started_at",
        "suggestions": "suggestion_id, session_id, user_id, shown_at, model_version, language, "
        "outcome, latency_ms, suggested_chars, accepted_chars, suggested_lines, accepted_lines",
        "persistence": "suggestion_id, check_after_s, edit_ratio",
        "runs": "run_id, session_id, ran_at, kind, compile_ok, tests_failed",
    }
    try:
        frames = {t: con.execute(f"SELECT {c} FROM {t}").df() for t, c in cols.items()}
    finally:
        con.close()
    for t, names in {
        "users": ("segment",),
        "suggestions": ("model_version", "language", "outcome"),
        "runs": ("kind",),
    }.items():
        for name in names:
            frames[t][name] = frames[t][name].astype("category")
    return frames


def _requests(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Suggestions whose session and user exist (the queries' inner joins)."""
    s = f["suggestions"]
    keep = s["session_id"].isin(f["sessions"]["session_id"]) & s["user_id"].isin(
        f["users"]["user_id"]
    )
    return s[keep]


def pandas_acceptance_by_language(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    s = _requests(f)
    s = s[s["outcome"] != "not_shown"]
    s = s.assign(
        acc=s["outcome"].isin(ACCEPTED).astype("int64"),
        full=(s["outcome"] == "accepted").astype("int64"),
    )
    g = s.groupby("language", observed=True).agg(
        users=("user_id", "nunique"),
        shown=("acc", "size"),
        accepted=("acc", "sum"),
        fully_accepted=("full", "sum"),
        suggested_chars=("suggested_chars", "sum"),
        accepted_chars=("accepted_chars", "sum"),
        suggested_lines=("suggested_lines", "sum"),
        accepted_lines=("accepted_lines", "sum"),
    )
    g = g.reset_index()
    g["language"] = g["language"].astype(str)
    out = pd.DataFrame(
        {
            "language": g["language"],
            "users": g["users"],
            "shown": g["shown"],
            "accepted": g["accepted"],
            "fully_accepted": g["fully_accepted"],
            "acceptance_rate": g["accepted"] / g["shown"],
            "full_acceptance_rate": g["fully_accepted"] / g["shown"],
            "suggested_chars": g["suggested_chars"],
            "accepted_chars": g["accepted_chars"],
            "char_acceptance_rate": g["accepted_chars"] / g["suggested_chars"],
            "suggested_lines": g["suggested_lines"],
            "accepted_lines": g["accepted_lines"],
            "line_acceptance_rate": g["accepted_lines"] / g["suggested_lines"],
            "share_of_shown": g["shown"] / g["shown"].sum(),
        }
    )
    return out.sort_values(["shown", "language"], ascending=[False, True])


def pandas_latency_percentiles(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    s = _requests(f)
    s = s[s["outcome"] != "not_shown"]
    g = s.groupby(["model_version", "language"], observed=True)["latency_ms"]
    q = g.quantile([0.5, 0.9, 0.99]).unstack()
    out = pd.DataFrame(
        {"shown": g.size(), "mean_ms": g.mean(), "p50_ms": q[0.5], "p90_ms": q[0.9],
         "p99_ms": q[0.99]}
    ).reset_index()  # fmt: skip
    for c in ("model_version", "language"):
        out[c] = out[c].astype(str)
    return out


def pandas_active_users(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    se = f["sessions"]
    se = se[se["user_id"].isin(f["users"]["user_id"])]
    act = pd.DataFrame({"user_id": se["user_id"], "day": se["started_at"].dt.normalize()})
    act = act.drop_duplicates()
    first, last = act["day"].min(), act["day"].max()
    rows = []
    for day in pd.date_range(first, last, freq="D"):
        window = act[(act["day"] <= day) & (act["day"] > day - pd.Timedelta(days=28))]
        week = window[window["day"] > day - pd.Timedelta(days=7)]
        dau = int((window["day"] == day).sum())
        wau = int(week["user_id"].nunique())
        mau = int(window["user_id"].nunique())
        rows.append(
            {
                "day": day.date(),
                "dau": dau,
                "wau": wau,
                "mau": mau,
                "stickiness": dau / mau if mau else None,
                "dau_wau": dau / wau if wau else None,
                "window_complete": first + pd.Timedelta(days=27) <= day,
            }
        )
    return pd.DataFrame(rows)


def pandas_cohort_retention_weekly(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    u = f["users"]
    signup = u["signup_at"].dt.normalize()
    cohort = pd.DataFrame(
        {"user_id": u["user_id"], "cohort_week": signup - pd.to_timedelta(signup.dt.weekday, "D")}
    )
    size = cohort.groupby("cohort_week").size().rename("cohort_users").reset_index()
    se = f["sessions"]
    day = se["started_at"].dt.normalize()
    sess = pd.DataFrame(
        {"user_id": se["user_id"], "activity_week": day - pd.to_timedelta(day.dt.weekday, "D")}
    )
    act = cohort.merge(sess, on="user_id").drop_duplicates()
    active = act.groupby(["cohort_week", "activity_week"]).size().rename("active_users")
    weeks = pd.DataFrame(
        {"activity_week": pd.date_range(sess["activity_week"].min(), sess["activity_week"].max(),
                                        freq="7D")}
    )  # fmt: skip
    grid = size.merge(weeks, how="cross")
    grid = grid[grid["activity_week"] >= grid["cohort_week"]]
    grid = grid.merge(active.reset_index(), on=["cohort_week", "activity_week"], how="left")
    grid["active_users"] = grid["active_users"].fillna(0).astype("int64")
    return pd.DataFrame(
        {
            "cohort_week": grid["cohort_week"].dt.date,
            "week_n": ((grid["activity_week"] - grid["cohort_week"]).dt.days // 7).astype("int32"),
            "activity_week": grid["activity_week"].dt.date,
            "cohort_users": grid["cohort_users"],
            "active_users": grid["active_users"],
            "retention": grid["active_users"] / grid["cohort_users"],
        }
    )


def pandas_suggestion_funnel(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    r = _requests(f)
    shown = r["outcome"] != "not_shown"
    accepted = r["outcome"].isin(ACCEPTED)
    p = f["persistence"]
    clean30 = p.loc[(p["check_after_s"] == 30) & (p["edit_ratio"] == 0), "suggestion_id"]
    unchanged = accepted & r["suggestion_id"].isin(clean30)
    u = r.loc[unchanged, ["suggestion_id", "session_id", "shown_at"]]
    runs = f["runs"]
    tests = runs.loc[
        runs["kind"] == "test", ["session_id", "ran_at", "run_id", "compile_ok", "tests_failed"]
    ]
    m = u.merge(tests, on="session_id")
    m = m[m["ran_at"] >= m["shown_at"]]
    m = m.sort_values(["suggestion_id", "ran_at", "run_id"]).drop_duplicates("suggestion_id")
    passing = int((m["compile_ok"] & (m["tests_failed"] == 0)).sum())
    counts = [len(r), int(shown.sum()), int(accepted.sum()), int(unchanged.sum()), passing]
    steps = ["opportunity", "shown", "accepted", "unchanged_30s", "tests_pass"]
    prev = [None, *counts[:-1]]
    return pd.DataFrame(
        {
            "step_order": np.arange(1, 6, dtype="int32"),
            "step": steps,
            "suggestions": counts,
            "step_conversion": [
                None if not b else a / b for a, b in zip(counts, prev, strict=True)
            ],
            "overall_conversion": [a / counts[0] if counts[0] else None for a in counts],
        }
    )


BASELINE: dict[str, tuple[Callable[[dict[str, pd.DataFrame]], pd.DataFrame], tuple[str, ...]]] = {
    "acceptance_by_language": (pandas_acceptance_by_language, ("language",)),
    "latency_percentiles": (pandas_latency_percentiles, ("model_version", "language")),
    "active_users": (pandas_active_users, ("day",)),
    "cohort_retention_weekly": (pandas_cohort_retention_weekly, ("cohort_week", "activity_week")),
    "suggestion_funnel": (pandas_suggestion_funnel, ("step_order",)),
}


def _norm(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date() if v == v.normalize() else v.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    return v


def agree(sql: catalog.QueryResult, frame: pd.DataFrame, keys: Sequence[str]) -> str | None:
    """None when the pandas frame has the SQL result's rows (any order), else what differs."""
    got = sql.records()
    want = [
        {k: _norm(v) for k, v in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]
    if list(frame.columns) != list(sql.table.column_names):
        return f"columns {list(frame.columns)} != {sql.table.column_names}"
    if len(got) != len(want):
        return f"{len(got)} rows in SQL, {len(want)} in pandas"

    def key(r: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(_norm(r[k])) for k in keys)

    for a, b in zip(sorted(got, key=key), sorted(want, key=key), strict=True):
        for col in frame.columns:
            x, y = _norm(a[col]), b[col]
            if x is None or y is None:
                if (x is None) != (y is None):
                    return f"{col}: {x!r} vs {y!r} at {key(a)}"
            elif isinstance(x, float) or isinstance(y, float):
                if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12):
                    return f"{col}: {x!r} vs {y!r} at {key(a)}"
            elif x != y:
                return f"{col}: {x!r} vs {y!r} at {key(a)}"
    return None


# ============================================================================ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=float, default=10e6, help="suggestion events")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="suite runs (median reported)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep (and reuse) the warehouse here"
    )
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_sql_")
        workdir = Path(tmp.name)
    else:
        workdir = args.workdir
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, workdir)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _run(args: argparse.Namespace, workdir: Path) -> int:
    load_before = os.getloadavg()[0]
    path, counts, build_s = warehouse(workdir, args.events, args.seed)
    print(
        f"warehouse {path}: {counts['suggestions']:,} suggestion events"
        + (f" (built in {build_s:.1f} s)" if build_s else " (reused)"),
        file=sys.stderr,
    )
    suite_times: list[float] = []
    suite_cpu: list[float] = []
    results: list[catalog.QueryResult] = []
    cpu_by_query: dict[str, float] = {}
    for i in range(args.repeat):
        seconds, cpu, results, cpu_by_query = run_suite(path)
        suite_times.append(seconds)
        suite_cpu.append(cpu)
        print(
            f"suite run {i + 1}: {seconds:.2f} s, {cpu:.1f} CPU s ({len(results)} queries)",
            file=sys.stderr,
        )
    suite = statistics.median(suite_times)
    by_name = {r.query: r for r in results}
    slowest = sorted(results, key=lambda r: cpu_by_query[r.query], reverse=True)[:8]

    t0 = time.perf_counter()
    frames = load_frames(path)
    read_s = time.perf_counter() - t0
    print(f"read the tables into pandas in {read_s:.1f} s (not timed)", file=sys.stderr)
    rows = []
    for name, (fn, keys) in BASELINE.items():
        t1, c1 = time.perf_counter(), cpu_seconds()
        frame = fn(frames)
        pandas_s, pandas_cpu = time.perf_counter() - t1, cpu_seconds() - c1
        diff = agree(by_name[name], frame, keys)
        if diff is not None:
            print(f"DISAGREE {name}: {diff}", file=sys.stderr)
        rows.append(
            (name, by_name[name].seconds, pandas_s, diff is None, cpu_by_query[name], pandas_cpu)
        )
        print(f"{name}: duckdb {by_name[name].seconds:.3f} s, pandas {pandas_s:.2f} s",
              file=sys.stderr)  # fmt: skip
    text = markdown(
        counts,
        suite,
        suite_times,
        statistics.median(suite_cpu),
        len(results),
        [(r.query, cpu_by_query[r.query]) for r in slowest],
        rows,
        load_before,
    )
    print(text)
    if args.record:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from record import record

        command = "python benchmarks/bench_sql.py" + (
            f" --events {args.events:g}" if args.events != 10e6 else ""
        )
        record(
            "sql",
            f"SQL metric suite on a {counts['suggestions'] / 1e6:.0f}M-event warehouse vs pandas",
            command + " --record",
            text,
            ("duckdb", "pandas", "numpy"),
        )
    ok = all(r[3] for r in rows)
    return 0 if ok else 1


def markdown(
    counts: dict[str, int],
    suite: float,
    suite_times: Sequence[float],
    suite_cpu: float,
    n_queries: int,
    slowest: Sequence[tuple[str, float]],
    rows: Sequence[tuple[str, float, float, bool, float, float]],
    load_before: float,
) -> str:
    total_sql = sum(r[1] for r in rows)
    total_pd = sum(r[2] for r in rows)
    verdict = "met" if suite <= TARGET_SUITE_S else "MISSED"
    lines = [
        f"Warehouse: {counts['suggestions']:,} suggestion events ({counts['sessions']:,} "
        f"sessions, {counts['persistence']:,} persistence checks, {counts['runs']:,} runs, "
        f"{counts['users']:,} users; simulated, 28 days). Load average before: "
        f"{load_before:.1f} (the machine is shared: figures are noisy).",
        "",
        f"**Whole suite ({n_queries} queries, `codex-ds sql run --all` equivalent): median "
        f"{suite:.1f} s of {len(suite_times)} runs ("
        + ", ".join(f"{t:.1f}" for t in suite_times)
        + f" s); target ≤ {TARGET_SUITE_S:g} s: {verdict}.** CPU time of the suite (all "
        f"threads): {suite_cpu:.1f} s, so at least {suite_cpu / (os.cpu_count() or 1):.1f} s of "
        f"wall time on this machine's {os.cpu_count()} cores even when idle.",
        "",
        "Where the time goes (CPU s, last run): "
        + ", ".join(f"`{name}` {cpu:.2f}" for name, cpu in slowest)
        + ".",
        "",
        "| query | DuckDB s (in the suite) | pandas s (computation only) | pandas ÷ DuckDB | "
        "DuckDB CPU s | pandas CPU s | results agree |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for name, sql_s, pd_s, ok, sql_cpu, pd_cpu in rows:
        lines.append(
            f"| `{name}` | {sql_s:.3f} | {pd_s:.2f} | {pd_s / sql_s:.1f}× | {sql_cpu:.2f} | "
            f"{pd_cpu:.2f} | {'yes' if ok else 'NO'} |"
        )
    ratio = total_pd / total_sql
    cpu_sql = sum(r[4] for r in rows)
    cpu_pd = sum(r[5] for r in rows)
    lines += [
        f"| **five queries** | {total_sql:.2f} | {total_pd:.2f} | **{ratio:.1f}×** | "
        f"{cpu_sql:.2f} | {cpu_pd:.2f} | {'yes' if all(r[3] for r in rows) else 'NO'} |",
        "",
        f"Target ≥ {TARGET_RATIO:g}× faster than pandas in total: "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}. pandas {pd.__version__}: tables read "
        "first (not timed), low-cardinality strings as categoricals; the inner joins of the "
        "SQL are semi-joins (`isin`) in pandas.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
