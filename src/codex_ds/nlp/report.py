"""The NLP study behind ``codex-ds nlp report`` and the ``nlp`` step of ``codex-ds all``.

Sections (each a plain dict, rendered by :mod:`codex_ds.reporting.nlp`):

* ``prompts`` — prompt features written to the warehouse, by source and status, and the
  distribution of the complexity index per source;
* ``telemetry`` — acceptance of comment-triggered suggestions against the features of their
  prompt (binomial logistic trends, Wilson intervals per complexity quartile);
* ``evaluation`` — pass rate against prompt features and prompt–completion alignment on a
  real evaluation run (verdicts + completions), with task-level intervals, and the
  requirement kinds that failing completions miss;
* ``failures`` — the failure-message classifier: macro-F1 and confusion matrix on held-out
  messages, next to the rule baseline;
* ``requirements`` — requirement extraction on the benchmark prompts, and precision/recall on
  the hand-labelled set when it is given;
* ``embeddings`` — whether sentence embeddings were available.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from codex_ds.nlp import (
    analysis,
    code_features,
    failure_classifier,
    requirements,
    similarity,
    store,
)

Progress = Callable[[str, float], None]
TREND_FEATURES = ("complexity", "n_constraints", "n_edge_cases", "n_examples", "nesting")
TASK_FEATURES = (
    "complexity",
    "n_tokens",
    "n_constraints",
    "n_edge_cases",
    "n_examples",
    "n_identifiers",
    "readability",
)
#: AST features of completions compared between failing and passing samples.
CODE_FEATURES = ("loc", "loops", "branches", "calls", "comprehensions", "max_depth", "recursion")
#: What the simulator plants between prompt text and acceptance: nothing. The comment text
#: is drawn from its templates independently of the suggestion's outcome
#: (telemetry/simulate.py, ``_make_prompts``), so every true slope is 0.
PLANTED_SLOPE = 0.0


def _describe(values: Sequence[float]) -> dict[str, float | int | None]:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return {"n": 0, "mean": None, "median": None, "p10": None, "p90": None}
    return {
        "n": len(v),
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "p10": float(np.quantile(v, 0.1)),
        "p90": float(np.quantile(v, 0.9)),
    }


def prompts_section(con: duckdb.DuckDBPyConnection, run: store.FeatureRun) -> dict[str, Any]:
    return {
        "written": run.by_source,
        "by_status": run.by_status,
        "notes": list(run.notes),
        "summary": [
            {
                "source": r["source"],
                "status": r["status"],
                "prompts": int(r["prompts"]),
                "mean_complexity": r["mean_complexity"],
                "median_complexity": r["median_complexity"],
                "mean_tokens": r["mean_tokens"],
                "mean_constraints": r["mean_constraints"],
                "mean_edge_cases": r["mean_edge_cases"],
                "mean_examples": r["mean_examples"],
            }
            for r in store.prompt_summary(con)
        ],
    }


def telemetry_section(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    groups = store.acceptance_groups(con).to_pylist()
    with_prompt, with_text = store.completion_text_count(con)
    out: dict[str, Any] = {
        "groups": len(groups),
        "shown": sum(int(g["shown"]) for g in groups),
        "accepted": sum(int(g["accepted"]) for g in groups),
        "planted_slope": PLANTED_SLOPE,
        "alignment": (
            "not measured: none of the "
            f"{with_prompt:,} suggestions with a prompt records its completion text "
            "(suggestions.completion_text is null), so prompt–code alignment cannot be "
            "computed on telemetry"
            if with_text == 0
            else f"{with_text:,} of {with_prompt:,} suggestions with a prompt record text"
        ),
    }
    if not groups:
        out["trends"] = []
        out["quartiles"] = []
        out["error"] = "no shown comment-triggered suggestion joins a prompt with features"
        return out
    shown = [int(g["shown"]) for g in groups]
    acc = [int(g["accepted"]) for g in groups]
    trends = []
    for f in TREND_FEATURES:
        if f == "complexity":
            x = [g["sum_complexity"] / g["shown"] for g in groups]
        else:
            x = [float(g[f]) for g in groups]
        t = analysis.logistic_trend(f, x, acc, shown)
        d = t.as_dict()
        d["covers_planted"] = (
            None
            if t.ci_low is None or t.ci_high is None
            else bool(t.ci_low <= PLANTED_SLOPE <= t.ci_high)
        )
        trends.append(d)
    xq = [g["sum_complexity"] / g["shown"] for g in groups]
    out["trends"] = trends
    out["quartiles"] = [asdict(b) for b in analysis.rates_by_quantile(xq, acc, shown, bins=4)]
    return out


def evaluation_section(
    con: duckdb.DuckDBPyConnection,
    verdicts: Sequence[dict[str, Any]],
    completions: dict[tuple[str, int], str] | None,
    *,
    run_name: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Pass rate vs prompt features (task level) and vs alignment (sample level)."""
    feats = store.read_prompt_features(con, "humaneval")
    feats.update(store.read_prompt_features(con, "builtin"))
    outcomes = [(str(v["task_id"]), bool(v["passed"])) for v in verdicts]
    per_task: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t, ok in outcomes:
        per_task[t][0] += int(ok)
        per_task[t][1] += 1
    tasks = sorted(t for t in per_task if t in feats)
    out: dict[str, Any] = {
        "run": run_name,
        "samples": len(verdicts),
        "tasks": len(per_task),
        "tasks_with_features": len(tasks),
        "pass_rate": (sum(ok for _, ok in outcomes) / len(outcomes)) if outcomes else None,
        "failure_classes": dict(Counter(str(v["failure_class"]) for v in verdicts)),
    }
    rates = [per_task[t][0] / per_task[t][1] for t in tasks]
    corr = []
    for f in TASK_FEATURES:
        x = [feats[t][f] if feats[t][f] is not None else float("nan") for t in tasks]
        corr.append(analysis.task_correlation(f, x, rates, seed=seed).as_dict())
    out["correlations"] = corr
    out["quartiles"] = [
        asdict(b)
        for b in analysis.cluster_rates_by_quantile(
            {t: float(feats[t]["complexity"]) for t in tasks}, outcomes, seed=seed
        )
    ]
    if completions:
        out.update(_alignment(con, verdicts, completions, seed=seed))
    else:
        out["alignment"] = None
        out["alignment_note"] = "no completions given: alignment not measured"
    return out


def _task_prompts() -> dict[str, str]:
    bench, _ = store.benchmark_prompts()
    return {b.prompt_id: b.text for b in bench}


def _alignment(
    con: duckdb.DuckDBPyConnection,
    verdicts: Sequence[dict[str, Any]],
    completions: dict[tuple[str, int], str],
    *,
    seed: int,
) -> dict[str, Any]:
    prompts_by_task = _task_prompts()
    rows = [
        v
        for v in verdicts
        if (str(v["task_id"]), int(v["sample_index"])) in completions
        and str(v["task_id"]) in prompts_by_task
    ]
    if not rows:
        return {"alignment": None, "alignment_note": "no verdict matches a completion"}
    texts = [prompts_by_task[str(v["task_id"])] for v in rows]
    codes = [completions[(str(v["task_id"]), int(v["sample_index"]))] for v in rows]
    # IDF fitted on the prompts and on one completion per task, so that 100 samples of a
    # task do not make its own words look common
    fit = list(prompts_by_task.values())
    cos = similarity.tfidf_cosine(texts, codes, fit_on=fit)
    reqs = {t: requirements.extract_requirements(p) for t, p in prompts_by_task.items()}
    align = []
    by_kind: dict[str, list[tuple[float, bool, str]]] = defaultdict(list)
    for v, code in zip(rows, codes, strict=True):
        t = str(v["task_id"])
        a = similarity.requirement_alignment(reqs[t], code)
        align.append(a.score if a.score is not None else float("nan"))
        for kind, c in zip(a.kinds, a.per_requirement, strict=True):
            by_kind[kind].append((c, bool(v["passed"]), t))
    passed = [bool(v["passed"]) for v in rows]
    groups = [str(v["task_id"]) for v in rows]
    # a completion is the body of the prompt's function: parse the program prompt + completion
    programs = [t + c for t, c in zip(texts, codes, strict=True)]
    features: dict[str, code_features.CodeFeatures] = {}
    for prog in set(programs):
        features[prog] = code_features.code_features(prog)
    code_rows = []
    for name in CODE_FEATURES:
        vals = [
            float(getattr(features[p], name)) if features[p].status == "ok" else float("nan")
            for p in programs
        ]
        code_rows.append(
            analysis.cluster_difference(name, vals, passed, groups, seed=seed).as_dict()
        )
    unparsable = sum(1 for p in programs if features[p].status != "ok")
    kinds = []
    for kind in requirements.REQUIREMENT_KINDS:
        items = by_kind.get(kind, [])
        if not items:
            continue
        d = analysis.cluster_difference(
            f"coverage of {kind} terms",
            [c for c, _, _ in items],
            [p for _, p, _ in items],
            [g for _, _, g in items],
            seed=seed,
        ).as_dict()
        d["kind"] = kind
        d["miss_rate_failing"] = None if d["mean_failing"] is None else 1 - float(d["mean_failing"])
        kinds.append(d)
    return {
        "alignment": [
            analysis.cluster_difference(
                "TF-IDF cosine(prompt, completion)", cos.tolist(), passed, groups, seed=seed
            ).as_dict(),
            analysis.cluster_difference(
                "requirement alignment", align, passed, groups, seed=seed
            ).as_dict(),
        ],
        "requirement_kinds": kinds,
        "code_features": code_rows,
        "code_unparsable": unparsable,
    }


def failures_section(
    real: Sequence[failure_classifier.LabelledMessage],
    simulated: Sequence[failure_classifier.LabelledMessage],
    *,
    seed: int = 0,
    progress: Progress | None = None,
    real_kind: str = "real evaluation messages",
) -> dict[str, Any]:
    if not real and not simulated:
        return {"error": "no failure messages: no failed runs and no verdicts"}
    try:
        st = failure_classifier.study(
            real, simulated, seed=seed, progress=progress, real_kind=real_kind
        )
    except ValueError as exc:
        return {"error": str(exc)}
    d = st.as_dict()
    d["real_messages"] = len(real)
    d["simulated_messages"] = len(simulated)
    return d


def requirements_section(labelled: Path | None) -> dict[str, Any]:
    prompts_by_task = _task_prompts()
    counts: Counter[str] = Counter()
    with_kind: Counter[str] = Counter()
    for p in prompts_by_task.values():
        r = requirements.extract_requirements(p)
        for k in requirements.REQUIREMENT_KINDS:
            n = r.count(k)
            counts[k] += n
            with_kind[k] += int(n > 0)
    out: dict[str, Any] = {
        "benchmark_prompts": len(prompts_by_task),
        "extracted": dict(counts),
        "prompts_with_kind": dict(with_kind),
    }
    if labelled is not None and labelled.exists():
        score = requirements.evaluate_extraction(requirements.load_labelled(labelled))
        out["labelled_set"] = str(labelled)
        out["score"] = score.as_dict()
    else:
        out["score"] = None
    return out


def embeddings_section() -> dict[str, Any]:
    b = similarity.embedding_backend()
    return {"available": b.available, "reason": b.reason}
