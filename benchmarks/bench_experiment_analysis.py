"""Benchmark: analysing one experiment (SQL aggregation + statistics) at 100k users and
~10 million suggestion events, against a pandas groupby pipeline.

The warehouse is simulated first (``codex_ds.telemetry.simulate``, streamed into a DuckDB
file; ~16 s at 10 M events, **not timed**). Then both sides analyse the simulator's
experiment ``exp_model_v2`` on the same ten metrics, each treatment-vs-control test on the
relative scale (delta method, Welch, CUPED where the pre-period covariate exists), plus the
sample-ratio check and Holm over the ten p-values:

 1. acceptance rate (ratio, user-clustered)       6. shown per user, CUPED
 2. acceptance rate, CUPED (ratio covariate)      7. mean latency (ratio)
 3. accepted per user (mean)                      8. test pass rate (ratio)
 4. accepted per user, winsorised at p99 + CUPED  9. tests run per user (mean)
 5. shown per user (mean)                         10. active users (proportion)

* **ours**: the named queries ``experiment_assignment_counts`` and ``experiment_unit_stats``
  (one pass over the events, every per-user sum, square and cross product aggregated next to
  the data in DuckDB), then the package's statistics on the two arm rows;
* **baseline** (pandas groupby): read the needed columns of ``suggestions``, ``runs``,
  ``assignments`` and ``experiments`` into pandas, compute the per-user values with
  ``groupby``, winsorise with ``numpy.quantile``, sum per arm, and run the same statistics.

Both must give the same estimates (checked to 1e-9 relative). Target: ours ≤ 5 s.

    python benchmarks/bench_experiment_analysis.py                    # 100k users, ~10 M events
    python benchmarks/bench_experiment_analysis.py --users 10000      # a quick run
    python benchmarks/bench_experiment_analysis.py --record           # docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from codex_ds.experiments import analysis
from codex_ds.experiments.corrections import holm
from codex_ds.experiments.frequentist import EffectResult, TestConfig, compare
from codex_ds.experiments.srm import srm_test
from codex_ds.experiments.statistics import (
    Proportion,
    RegressionAdjusted,
    SampleMean,
    UnitStatistic,
)
from codex_ds.telemetry.simulate import SimulationConfig, iter_chunks, load_into_warehouse
from codex_ds.warehouse import db

TARGET_S = 5.0
EXPERIMENT = "exp_model_v2"
WINSORIZE = 0.99
ACCEPTED = ("accepted", "partially_accepted")
Row = Mapping[str, Any]


def _f(row: Row, key: str) -> float:
    v = row.get(key)
    return 0.0 if v is None else float(v)


def metric_statistics(row: Row) -> dict[str, UnitStatistic]:
    """The ten metrics' sufficient statistics from one arm's ``experiment_unit_stats`` row."""
    n = int(row["units"])
    return {
        "acceptance_rate": analysis.statistic(row, "acceptance_rate", False),
        "acceptance_rate_cuped": analysis.statistic(row, "acceptance_rate", True),
        "accepted_per_user": SampleMean(
            n, _f(row, "accepted_sum"), _f(row, "accepted_sum_squares")
        ),
        "accepted_per_user_p99_cuped": analysis.statistic(row, "accepted_per_user", True),
        "shown_per_user": SampleMean(n, _f(row, "shown_sum"), _f(row, "shown_sum_squares")),
        "shown_per_user_cuped": RegressionAdjusted(
            n,
            _f(row, "shown_sum"),
            _f(row, "shown_sum_squares"),
            _f(row, "pre_shown_sum"),
            _f(row, "pre_shown_sum_squares"),
            _f(row, "shown_pre_shown_sum"),
        ),
        "latency_ms": analysis.statistic(row, "latency_ms", False),
        "test_pass_rate": analysis.statistic(row, "test_pass_rate", False),
        "tests_run_per_user": SampleMean(
            n, _f(row, "tests_run_sum"), _f(row, "tests_run_sum_squares")
        ),
        "active_users": Proportion(n, int(row["active_units"])),
    }


def analyse_rows(counts: Mapping[str, int], rows: Mapping[str, Row]) -> dict[str, Any]:
    """SRM, the ten relative effects and Holm: the statistics both sides share."""
    srm = srm_test(counts, dict.fromkeys(counts, 1.0 / len(counts)))
    c, t = metric_statistics(rows["v1"]), metric_statistics(rows["v2"])
    config = TestConfig(difference="relative")
    results: dict[str, EffectResult] = {m: compare(c[m], t[m], config) for m in c}
    adjusted = holm([1.0 if r.p_value is None else r.p_value for r in results.values()])
    return {
        "srm_p_value": srm.p_value,
        "metrics": {
            m: {"estimate": r.estimate, "p_value": r.p_value, "holm": float(a), "error": r.error}
            for (m, r), a in zip(results.items(), adjusted, strict=True)
        },
    }


def ours(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    agg = analysis.load_aggregates(con, EXPERIMENT, winsorize_quantile=WINSORIZE)
    counts = {str(r["variant"]): int(r["units"]) for r in agg.counts}
    rows = {str(r["variant"]): r for r in agg.stats}
    return analyse_rows(counts, rows)


def baseline(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Events into pandas, per-user values by groupby, per-arm sums, the same statistics."""
    exp = con.execute(
        "SELECT experiment_id, control_variant, started_at, ended_at FROM experiments "
        "WHERE experiment_id = ?",
        [EXPERIMENT],
    ).df()
    start, end = exp.started_at.iloc[0], exp.ended_at.iloc[0]
    assign = con.execute(
        "SELECT user_id, variant FROM assignments WHERE experiment_id = ?", [EXPERIMENT]
    ).df()
    sug = con.execute("SELECT user_id, shown_at, outcome, latency_ms FROM suggestions").df()
    runs = con.execute("SELECT user_id, ran_at, kind, tests_passed, tests_failed FROM runs").df()
    sug = sug[sug.outcome != "not_shown"]
    if not pd.isna(end):
        sug = sug[sug.shown_at < end]
    post = sug.shown_at >= start
    acc = sug.outcome.isin(ACCEPTED)
    per = pd.DataFrame(
        {
            "user_id": sug.user_id,
            "shown": post.astype(float),
            "accepted": (post & acc).astype(float),
            "latency": np.where(post, sug.latency_ms, 0.0),
            "pre_shown": (~post).astype(float),
            "pre_accepted": (~post & acc).astype(float),
        }
    )
    by_user = per.groupby("user_id", sort=False).sum()
    runs = runs[(runs.kind == "test") & (runs.ran_at >= start)]
    if not pd.isna(end):
        runs = runs[runs.ran_at < end]
    tests = (
        pd.DataFrame(
            {
                "user_id": runs.user_id,
                "tests_passed": runs.tests_passed.astype(float),
                "tests_run": (runs.tests_passed + runs.tests_failed).astype(float),
            }
        )
        .groupby("user_id", sort=False)
        .sum()
    )
    units = assign.set_index("user_id").join(by_user).join(tests).fillna(0.0)
    cap = np.quantile(units.accepted, WINSORIZE)
    pre_cap = np.quantile(units.pre_accepted, WINSORIZE)
    units["capped"] = np.minimum(units.accepted, cap)
    units["capped_pre"] = np.minimum(units.pre_accepted, pre_cap)
    rows: dict[str, dict[str, float]] = {}
    for variant, g in units.groupby("variant"):

        def s(a: str, b: str | None = None, g: pd.DataFrame = g) -> float:
            return float((g[a] * g[b if b else a]).sum())

        rows[str(variant)] = {
            "units": len(g),
            "active_units": int((g.shown > 0).sum()),
            "shown_sum": float(g.shown.sum()),
            "shown_sum_squares": s("shown"),
            "accepted_sum": float(g.accepted.sum()),
            "accepted_sum_squares": s("accepted"),
            "accepted_shown_sum": s("accepted", "shown"),
            "pre_shown_sum": float(g.pre_shown.sum()),
            "pre_shown_sum_squares": s("pre_shown"),
            "pre_accepted_sum": float(g.pre_accepted.sum()),
            "pre_accepted_sum_squares": s("pre_accepted"),
            "pre_accepted_shown_sum": s("pre_accepted", "pre_shown"),
            "accepted_pre_accepted_sum": s("accepted", "pre_accepted"),
            "accepted_pre_shown_sum": s("accepted", "pre_shown"),
            "shown_pre_accepted_sum": s("shown", "pre_accepted"),
            "shown_pre_shown_sum": s("shown", "pre_shown"),
            "capped_accepted_sum": float(g.capped.sum()),
            "capped_accepted_sum_squares": s("capped"),
            "capped_pre_accepted_sum": float(g.capped_pre.sum()),
            "capped_pre_accepted_sum_squares": s("capped_pre"),
            "capped_cross_sum": s("capped", "capped_pre"),
            "latency_sum": float(g.latency.sum()),
            "latency_sum_squares": s("latency"),
            "latency_shown_sum": s("latency", "shown"),
            "tests_passed_sum": float(g.tests_passed.sum()),
            "tests_passed_sum_squares": s("tests_passed"),
            "tests_run_sum": float(g.tests_run.sum()),
            "tests_run_sum_squares": s("tests_run"),
            "tests_passed_run_sum": s("tests_passed", "tests_run"),
        }
    counts = {v: int(r["units"]) for v, r in rows.items()}
    return analyse_rows(counts, rows)


def _build(path: Path, config: SimulationConfig) -> dict[str, int]:
    con = db.connect(path)
    try:
        return load_into_warehouse(con, iter_chunks(config))
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7, help="simulated days (10 M events)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--warehouse", type=Path, default=None, help="reuse/keep this file")
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    config = SimulationConfig(
        users=args.users, days=args.days, seed=args.seed, experiment_start_day=args.days // 2
    )
    tmp = tempfile.TemporaryDirectory(prefix="bench_exp_")
    path = args.warehouse or Path(tmp.name) / "warehouse.duckdb"
    t0 = time.perf_counter()
    built = not path.exists()
    if built:
        _build(path, config)
    sim_s = time.perf_counter() - t0
    simulated = f"simulation ({sim_s:.0f} s) not timed" if built else "warehouse reused, not timed"
    con = db.connect(path, read_only=True)
    try:
        events = int(con.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0])
        ours(con)  # warm-up: the first query pays for opening the file's pages
        ours_times, base_times = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            mine = ours(con)
            ours_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs = baseline(con)
            base_times.append(time.perf_counter() - t)
    finally:
        con.close()
        tmp.cleanup()
    worst = 0.0
    for m, r in mine["metrics"].items():
        a, b = r["estimate"], theirs["metrics"][m]["estimate"]
        if a is None or b is None:
            raise SystemExit(f"metric {m}: no estimate ({r['error']})")
        worst = max(worst, abs(a - b) / max(abs(b), 1e-12))
    ours_s, base_s = min(ours_times), min(base_times)

    def p(x: float) -> str:
        return "< 1e-300" if x == 0 else f"{x:.2g}"

    rows = [
        f"| {m} | {100 * r['estimate']:+.2f} % | {p(r['p_value'])} | {p(r['holm'])} |"
        for m, r in mine["metrics"].items()
    ]
    table = "\n".join(
        [
            f"{args.users:,} users, {events:,} suggestion events ({args.days} days, experiment "
            f"from day {config.experiment_start_day}); ten metrics of `{EXPERIMENT}` "
            "(relative effects, SRM, Holm); best of "
            f"{args.repeat} runs, {simulated}.",
            "",
            "| metric | effect | p | Holm p |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"**Ours (SQL sufficient statistics + statistics): {ours_s:.2f} s; baseline (pandas "
            f"groupby + the same statistics): {base_s:.2f} s; ratio {base_s / ours_s:.1f}×; "
            f"largest relative estimate difference {worst:.1e}; target ≤ {TARGET_S:.0f} s: "
            f"{'met' if ours_s <= TARGET_S else 'NOT met'}.**",
        ]
    )
    print(table)
    print(
        json.dumps(
            {
                "benchmark": "experiment_analysis",
                "users": args.users,
                "events": events,
                "ours_s": round(ours_s, 3),
                "baseline_s": round(base_s, 3),
                "ratio": round(base_s / ours_s, 1),
                "target_met": ours_s <= TARGET_S,
                "max_relative_difference": worst,
                "srm_p_value": mine["srm_p_value"],
            }
        )
    )
    if worst > 1e-9:
        print(f"# estimates of ours and the baseline differ by {worst:.1e}", file=sys.stderr)
        return 1
    if args.record:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from record import record

        record(
            "experiment_analysis",
            "Experiments: one experiment's analysis (SQL + statistics) vs pandas groupby",
            f"python benchmarks/bench_experiment_analysis.py --users {args.users} "
            f"--days {args.days}",
            table,
            packages=("duckdb", "pandas", "numpy", "scipy"),
        )
    return 0 if math.isfinite(ours_s) else 1


if __name__ == "__main__":
    raise SystemExit(main())
