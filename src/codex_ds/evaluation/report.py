"""Summaries and the Markdown report of an evaluation run (pure: rows in, text out).

:func:`summarise_run` turns a run's ``eval_results`` rows into a :class:`RunSummary`
(pass@k with bootstrap intervals, by language and category, failure distribution with one
example per class, quality and runtime figures); :func:`render_report` writes
``evaluation_report.md``, whose first lines name the provider (saying *SIMULATED* for the
simulated model family) and the sandbox isolation of the run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codex_ds.evaluation.metrics import (
    PassAtKEstimate,
    RunComparison,
    pass_at_k,
    pass_at_k_summary,
)
from codex_ds.evaluation.runner import LOAD_LIMIT_S
from codex_ds.evaluation.store import EvalRun
from codex_ds.reporting.markdown import md_table

__all__ = ["FAILURE_CLASSES", "GroupSummary", "RunSummary", "render_report", "summarise_run"]

FAILURE_CLASSES = ("passed", "syntax", "runtime", "logical", "hallucination", "resource")
_CLASS_MEANING = {
    "syntax": "does not parse or compile",
    "runtime": "raises / crashes while running",
    "logical": "runs but gives a wrong answer",
    "hallucination": "uses a module, function or attribute that does not exist",
    "resource": "time-out, memory or output limit",
}


@dataclass(frozen=True)
class GroupSummary:
    """pass@k of a slice of the tasks (a language or a category)."""

    name: str
    tasks: int
    samples: int
    passed: int
    pass_at_k: list[PassAtKEstimate]


@dataclass(frozen=True)
class RunSummary:
    """Everything the report and ``--json`` say about a run."""

    run: EvalRun
    tasks: int
    samples: int
    passed: int
    pass_at_k: list[PassAtKEstimate]
    by_language: list[GroupSummary]
    by_category: list[GroupSummary]
    failures: dict[str, int]
    outcomes: dict[str, int]
    examples: dict[str, dict[str, Any]]
    quality: dict[str, float | None]
    planted: dict[str, dict[str, int]] = field(default_factory=dict)
    per_task: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> (n, c)

    def pass_at_k_dict(self) -> dict[str, float | None]:
        return {f"pass@{e.k}": e.value for e in self.pass_at_k}

    def per_task_pass_at_k(self) -> dict[str, dict[str, Any]]:
        """task -> {"n", "c", "pass@k" for every k with n >= k}."""
        out: dict[str, dict[str, Any]] = {}
        for task, (n, c) in self.per_task.items():
            row: dict[str, Any] = {"n": n, "c": c}
            for e in self.pass_at_k:
                if e.k <= n:
                    row[f"pass@{e.k}"] = float(pass_at_k(n, c, e.k))
            out[task] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "status": self.run.status,
            "model": self.run.model,
            "provider": self.run.provider,
            "provider_label": self.run.provider_label,
            "simulated": self.run.simulated,
            "isolation": self.run.isolation,
            "task_set": self.run.task_set,
            "tasks": self.tasks,
            "n_samples": self.samples,
            "n_passed": self.passed,
            "pass_at_k": self.pass_at_k_dict(),
            "pass_at_k_ci": {
                f"pass@{e.k}": [e.ci_low, e.ci_high] for e in self.pass_at_k if e.value is not None
            },
            "pass_at_k_unavailable": {
                f"pass@{e.k}": e.message for e in self.pass_at_k if e.value is None
            },
            "failures": self.failures,
            "outcomes": self.outcomes,
            "by_language": {g.name: _group_dict(g) for g in self.by_language},
            "by_category": {g.name: _group_dict(g) for g in self.by_category},
            "quality": self.quality,
            "per_task": self.per_task_pass_at_k(),
            "error": self.run.error,
        }


def _group_dict(g: GroupSummary) -> dict[str, Any]:
    return {
        "tasks": g.tasks,
        "samples": g.samples,
        "passed": g.passed,
        "pass_at_k": {f"pass@{e.k}": e.value for e in g.pass_at_k},
    }


def _counts(rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        cell = per[str(r["task_id"])]
        cell[0] += 1
        cell[1] += int(bool(r["passed"]))
    names = sorted(per)
    return (
        np.array([per[t][0] for t in names], dtype=np.int64),
        np.array([per[t][1] for t in names], dtype=np.int64),
        names,
    )


def _groups(
    rows: Sequence[Mapping[str, Any]], column: str, ks: Sequence[int], bootstrap: int
) -> list[GroupSummary]:
    by: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by[str(r[column])].append(r)
    out = []
    for name in sorted(by):
        n, c, names = _counts(by[name])
        out.append(
            GroupSummary(
                name,
                len(names),
                int(n.sum()),
                int(c.sum()),
                pass_at_k_summary(n, c, ks, bootstrap=bootstrap, seed=1),
            )
        )
    return out


def _mean(values: Sequence[float | int | None]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return float(np.mean(xs)) if xs else None


def _quantile(values: Sequence[float | int | None], q: float) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return float(np.quantile(xs, q)) if xs else None


def summarise_run(
    run: EvalRun, rows: Sequence[Mapping[str, Any]], *, bootstrap: int = 2000
) -> RunSummary:
    """Summarise a run from its result rows (``store.run_results``)."""
    ks = run.ks or [1]
    n, c, names = _counts(rows)
    failures = Counter(str(r["failure_class"]) for r in rows)
    outcomes = Counter(str(r["outcome"]) for r in rows)
    examples: dict[str, dict[str, Any]] = {}
    for r in rows:
        cls = str(r["failure_class"])
        if cls != "passed" and cls not in examples:
            examples[cls] = {
                key: r.get(key)
                for key in (
                    "task_id",
                    "sample_index",
                    "outcome",
                    "exception_type",
                    "detail",
                    "failing_test_index",
                    "expected",
                    "actual",
                    "completion",
                    "candidate_kind",
                )
            }
    passing = [r for r in rows if r["passed"]]
    failing = [r for r in rows if not r["passed"]]
    quality: dict[str, float | None] = {
        "edit_distance_mean": _mean([r.get("edit_distance") for r in rows]),
        "edit_distance_passing": _mean([r.get("edit_distance") for r in passing]),
        "edit_distance_failing": _mean([r.get("edit_distance") for r in failing]),
        "token_edit_distance_mean": _mean([r.get("token_edit_distance") for r in rows]),
        "complexity_mean": _mean([r.get("complexity") for r in rows]),
        "lint_findings_per_sample": _mean([r.get("lint_findings") for r in rows]),
        "cpu_s_median": _quantile([r.get("cpu_s") for r in rows], 0.5),
        "cpu_s_p90": _quantile([r.get("cpu_s") for r in rows], 0.9),
        "wall_s_median": _quantile([r.get("wall_s") for r in rows], 0.5),
        "completion_tokens_mean": _mean([r.get("completion_tokens") for r in rows]),
        "gen_latency_s_mean": _mean([r.get("gen_latency_s") for r in rows]),
    }
    planted: dict[str, dict[str, int]] = {}
    if run.simulated:
        for r in rows:
            kind = str(r.get("candidate_kind") or "unknown")
            cell = planted.setdefault(kind, {})
            cls = str(r["failure_class"])
            cell[cls] = cell.get(cls, 0) + 1
    return RunSummary(
        run=run,
        tasks=len(names),
        samples=len(rows),
        passed=int(c.sum()) if c.size else 0,
        pass_at_k=pass_at_k_summary(n, c, ks, bootstrap=bootstrap, seed=0),
        by_language=_groups(rows, "language", ks, bootstrap),
        by_category=_groups(rows, "category", ks, bootstrap),
        failures={k: failures[k] for k in FAILURE_CLASSES if failures[k]},
        outcomes=dict(outcomes.most_common()),
        examples=examples,
        quality=quality,
        planted=planted,
        per_task={t: (int(a), int(b)) for t, a, b in zip(names, n, c, strict=True)},
    )


# --- Markdown -------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _estimate(e: PassAtKEstimate) -> str:
    if e.value is None:
        return f"n/a ({e.message})"
    if e.ci_low is None or e.ci_high is None:
        return _pct(e.value)
    return f"{_pct(e.value)} [{_pct(e.ci_low)}, {_pct(e.ci_high)}]"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _snippet(text: Any, limit: int = 300) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[:limit] + " …"


def _group_table(groups: Sequence[GroupSummary], label: str, ks: Sequence[int]) -> str:
    headers = [label, "tasks", "samples", "passed", *[f"pass@{k} % [95% CI]" for k in ks]]
    rows = [
        [g.name, g.tasks, g.samples, g.passed, *[_estimate(e) for e in g.pass_at_k]] for g in groups
    ]
    return md_table(headers, rows)


def render_report(
    summary: RunSummary,
    *,
    comparison: RunComparison | None = None,
    other: EvalRun | None = None,
    skipped_languages: Mapping[str, str] | None = None,
    planted_pass1: float | None = None,
) -> str:
    """The Markdown report of a run (optionally compared with another run).

    ``planted_pass1`` (simulated runs): the mean over the run's tasks of the simulator's
    planted probability of a correct candidate, the value pass@1 estimates (up to mutants
    that happen to pass).
    """
    run = summary.run
    ks = run.ks or [1]
    limit = (
        f"{LOAD_LIMIT_S:g} s CPU to load a Python program, then calibrated per task for its tests"
        if run.timeout_s is None
        else f"{run.timeout_s:g} s CPU"
    )
    sim = " — **the numbers below measure the simulator, not a real LLM**"
    lines = [
        f"# Evaluation report: {run.run_id}",
        "",
        f"- **Provider:** {run.provider_label}{sim if run.simulated else ''}",
        f"- **Isolation:** {run.isolation}",
        f"- **Run:** status {run.status}; task set `{run.task_set}` ({summary.tasks} tasks); "
        f"model `{run.model}`; n = {run.n} samples per task; "
        f"time limit {limit}"
        f"; {run.workers} workers; started {run.created_at:%Y-%m-%d %H:%M:%S} UTC.",
    ]
    if run.error:
        lines.append(f"- **Error:** {run.error} (samples finished before it are kept)")
    for language, why in (skipped_languages or {}).items():
        lines.append(f"- **Skipped {language}:** {why}")
    lines += [
        "",
        "## Overall",
        "",
        f"{summary.samples} samples, {summary.passed} passed. pass@k is the unbiased estimator "
        "of Chen et al. (2021), reported only for k ≤ the smallest n of any task; the interval "
        "is a 95 % percentile bootstrap over tasks.",
        "",
        md_table(
            ["metric", "value % [95% CI]"],
            [[f"pass@{e.k}", _estimate(e)] for e in summary.pass_at_k],
        ),
        "",
        *(
            [
                f"Planted truth: the simulator's mean probability of a correct candidate on "
                f"these tasks is {_pct(planted_pass1)} %; pass@1 estimates it (mutants that "
                "happen to pass add a little).",
                "",
            ]
            if planted_pass1 is not None
            else []
        ),
        "## By language",
        "",
        _group_table(summary.by_language, "language", ks),
        "",
        "## By category",
        "",
        _group_table(summary.by_category, "category", ks),
        "",
        "## Hardest tasks",
        "",
        _hardest(summary),
        "",
        "## Failure distribution",
        "",
        md_table(
            ["class", "samples", "share %", "meaning"],
            [
                [
                    cls,
                    count,
                    f"{100 * count / summary.samples:.1f}" if summary.samples else "n/a",
                    _CLASS_MEANING.get(cls, "every test passed"),
                ]
                for cls, count in summary.failures.items()
            ],
        ),
        "",
        "Outcomes (fine-grained): "
        + ", ".join(f"{k} {v}" for k, v in summary.outcomes.items())
        + ".",
        "",
        "### An example of each failure class",
        "",
    ]
    if summary.samples == 0:
        lines += ["No sample was evaluated.", ""]
    elif not summary.examples:
        lines += ["Every sample passed.", ""]
    for cls, ex in summary.examples.items():
        where = (
            f"test #{ex['failing_test_index']}" if ex.get("failing_test_index") is not None else ""
        )
        lines += [
            f"**{cls}** — `{ex['task_id']}` sample {ex['sample_index']}: outcome "
            f"`{ex['outcome']}`"
            + (f", {ex['exception_type']}" if ex.get("exception_type") else "")
            + (f", {where}" if where else "")
            + (
                f", expected `{_snippet(ex['expected'], 80)}` got `{_snippet(ex['actual'], 80)}`"
                if ex.get("expected") is not None or ex.get("actual") is not None
                else ""
            )
            + (f" (planted: {ex['candidate_kind']})" if ex.get("candidate_kind") else ""),
            "",
            "```text",
            _snippet(ex.get("detail"), 400),
            "```",
            "",
        ]
    if summary.planted:
        kinds = sorted(summary.planted)
        classes = [c for c in FAILURE_CLASSES if any(summary.planted[k].get(c) for k in kinds)]
        lines += [
            "## Planted candidate kinds (simulated model) against the verdicts",
            "",
            "The simulator knows which kind of candidate it wrote; the sandbox does not. Rows "
            "are the planted kinds, columns the failure classes the sandbox assigned.",
            "",
            md_table(
                ["planted kind", *classes],
                [[k, *[summary.planted[k].get(c, 0) for c in classes]] for k in kinds],
            ),
            "",
        ]
    q = summary.quality
    lines += [
        "## Quality and runtime",
        "",
        md_table(
            ["measure", "value"],
            [
                ["normalised edit distance to the reference, mean", _fmt(q["edit_distance_mean"])],
                ["… of passing samples", _fmt(q["edit_distance_passing"])],
                ["… of failing samples", _fmt(q["edit_distance_failing"])],
                ["token edit distance to the reference, mean", _fmt(q["token_edit_distance_mean"])],
                ["cyclomatic complexity of the entry point, mean", _fmt(q["complexity_mean"], 2)],
                ["lint findings per sample", _fmt(q["lint_findings_per_sample"], 2)],
                ["CPU seconds per sample, median", _fmt(q["cpu_s_median"])],
                ["CPU seconds per sample, 90th percentile", _fmt(q["cpu_s_p90"])],
                ["wall seconds per sample, median", _fmt(q["wall_s_median"])],
                ["completion tokens, mean", _fmt(q["completion_tokens_mean"], 1)],
                ["generation latency s, mean", _fmt(q["gen_latency_s_mean"])],
            ],
        ),
        "",
    ]
    if comparison is not None and other is not None:
        lines += render_comparison(other, run, comparison)
    lines += [
        "## Method",
        "",
        "Samples run in the sandbox described above; identical programs of a task run once. "
        "Time-outs depend on the machine: a sample near its CPU limit can flip between runs. "
        "Definitions: docs/METHODOLOGY.md, section on code evaluation.",
        "",
    ]
    return "\n".join(lines)


def _hardest(summary: RunSummary, limit: int = 10) -> str:
    ranked = sorted(summary.per_task.items(), key=lambda item: (item[1][1] / item[1][0], item[0]))
    rows = [[t, n, c, _pct(c / n)] for t, (n, c) in ranked[:limit] if n]
    if not rows:
        return "No task was evaluated."
    return md_table(["task", "samples", "passed", "pass@1 %"], rows)


def render_comparison(a: EvalRun, b: EvalRun, comparison: RunComparison) -> list[str]:
    """Markdown lines comparing run ``a`` (baseline) with run ``b``."""
    m, bs = comparison.mcnemar, comparison.bootstrap
    tag_a = " (SIMULATED)" if a.simulated else ""
    tag_b = " (SIMULATED)" if b.simulated else ""
    lines = [
        f"## Comparison: {a.run_id} → {b.run_id}",
        "",
        f"Baseline A `{a.model}`{tag_a}, candidate B `{b.model}`{tag_b}; "
        f"{comparison.common_tasks} tasks in common"
        + (
            f" ({comparison.only_in_a} only in A, {comparison.only_in_b} only in B, left out)"
            if comparison.only_in_a or comparison.only_in_b
            else ""
        )
        + ".",
        "",
        md_table(
            ["measure", "value"],
            [
                ["pass@1 A %", _pct(comparison.pass1_a)],
                ["pass@1 B %", _pct(comparison.pass1_b)],
                [
                    "difference B − A, points [95% paired bootstrap CI]",
                    "n/a"
                    if bs.difference is None
                    else f"{100 * bs.difference:+.2f} [{100 * (bs.ci_low or 0):+.2f}, "
                    f"{100 * (bs.ci_high or 0):+.2f}]",
                ],
                ["paired bootstrap p (tasks resampled)", _fmt(bs.p_value, 4)],
                ["paired samples (same task and sample index)", m.pairs],
                ["passed only in A / only in B", f"{m.only_a} / {m.only_b}"],
                ["McNemar exact p", _fmt(m.p_value, 4) + (f" ({m.message})" if m.message else "")],
            ],
        ),
        "",
    ]
    return lines
