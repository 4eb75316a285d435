"""An evaluation run end to end: tasks × provider → sandbox → metrics → warehouse.

:func:`run_evaluation` creates (or resumes) an ``eval_runs`` row, generates the samples,
runs every sample not yet stored for the run in the sandbox, and streams the verdicts with
their edit distances, complexity, lint findings and generation metadata into
``eval_results``. A run killed half-way resumes (``resume=RUN_ID``) without redoing stored
samples; an endpoint that fails after its retries ends the run as ``failed`` with the
samples finished before it kept.

Identical programs are run once: samples of a task with the same completion share one
verdict (a simulated model, or a real one at low temperature, repeats itself often), and a
``verdict_cache`` shared between runs extends that across runs (``codex-ds all`` uses it for
its two simulated versions). Verdicts are deterministic except for resource limits, which
the reports state.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from codex_ds.evaluation import store
from codex_ds.evaluation.generate import (
    EndpointError,
    Generation,
    GenerationError,
    Provider,
    ReplayProvider,
    make_provider,
)
from codex_ds.evaluation.metrics import (
    cyclomatic_complexity,
    normalised_levenshtein,
    token_edit_distance,
)
from codex_ds.evaluation.quality import lint_counts
from codex_ds.evaluation.runner import (
    DEFAULT_WORKERS,
    Sample,
    Verdict,
    evaluate_samples,
    isolation_level,
)
from codex_ds.evaluation.tasks import LANGUAGES, Task
from codex_ds.evaluation.tasks.builtin_tasks import load_tasks

__all__ = ["RunConfig", "RunOutcome", "run_evaluation"]

#: progress(stage, done, total): stage is "generate" or "evaluate"; total 0 when unknown.
RunProgress = Callable[[str, int, int], None]
VerdictCache = dict[tuple[str, str], Verdict]
BATCH_ROWS = 200
BATCH_SECONDS = 2.0


@dataclass(frozen=True)
class RunConfig:
    """What to evaluate and how."""

    task_set: str = "builtin"
    model: str = "simulated:v1"
    n: int = 1
    ks: tuple[int, ...] = (1,)
    timeout_s: float | None = None
    workers: int = DEFAULT_WORKERS
    base_url: str | None = None
    api: str = "chat"
    temperature: float = 0.2
    max_tokens: int = 512
    stop: tuple[str, ...] | None = None  # None: per-language defaults (completions API)
    concurrency: int = 4
    samples_per_request: int = 1
    request_timeout_s: float = 60.0
    max_retries: int = 5
    languages: tuple[str, ...] | None = None  # restrict the task set
    limit_tasks: int | None = None  # first N tasks (quick runs)
    lint: bool = True
    complexity: bool = True

    def params(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "api": self.api,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop) if self.stop is not None else None,
            "samples_per_request": self.samples_per_request,
            "languages": list(self.languages) if self.languages else None,
            "limit_tasks": self.limit_tasks,
        }


@dataclass
class RunOutcome:
    """What a call of :func:`run_evaluation` did."""

    run_id: str
    status: str
    samples: int
    evaluated: int  # samples whose verdict was stored by this call
    resumed: int  # samples found already stored
    programs_run: int  # distinct programs sent to the sandbox
    skipped_languages: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


def new_run_id(model: str, task_set: str, n: int) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    slug = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in model).strip("-")
    return f"{slug[:40]}-{task_set}-n{n}-{stamp}-{secrets.token_hex(2)}"


def select_tasks(config: RunConfig) -> tuple[dict[str, Task], dict[str, str]]:
    """The run's tasks, without languages whose toolchain is missing (returned with why)."""
    from codex_ds.evaluation.languages import toolchain

    tasks = load_tasks(config.task_set)
    if config.languages:
        tasks = {k: t for k, t in tasks.items() if t.language in config.languages}
    if config.limit_tasks is not None:
        tasks = dict(list(tasks.items())[: config.limit_tasks])
    skipped: dict[str, str] = {}
    for language in LANGUAGES:
        if any(t.language == language for t in tasks.values()):
            tc = toolchain(language)
            if not tc.available:
                skipped[language] = tc.reason
    if skipped:
        tasks = {k: t for k, t in tasks.items() if t.language not in skipped}
    return tasks, skipped


def provider_for(config: RunConfig, cache_dir: Path | None) -> Provider:
    return make_provider(
        config.model,
        base_url=config.base_url,
        api=config.api,  # type: ignore[arg-type]
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        stop=config.stop,
        concurrency=config.concurrency,
        samples_per_request=config.samples_per_request,
        timeout_s=config.request_timeout_s,
        max_retries=config.max_retries,
        cache_dir=cache_dir,
    )


def config_from_run(run: store.EvalRun) -> RunConfig:
    params = json.loads(run.params or "{}")
    return RunConfig(
        task_set=run.task_set,
        model=run.model,
        n=run.n,
        ks=tuple(run.ks),
        timeout_s=run.timeout_s,
        workers=run.workers,
        base_url=params.get("base_url"),
        api=params.get("api") or "chat",
        temperature=float(params.get("temperature", 0.2)),
        max_tokens=int(params.get("max_tokens", 512)),
        stop=tuple(params["stop"]) if params.get("stop") is not None else None,
        samples_per_request=int(params.get("samples_per_request") or 1),
        languages=tuple(params["languages"]) if params.get("languages") else None,
        limit_tasks=params.get("limit_tasks"),
    )


def _program_measures(task: Task, completion: str, *, complexity: bool) -> dict[str, Any]:
    """Measures that depend only on the program: distance to the reference, complexity."""
    return {
        "edit_distance": normalised_levenshtein(completion, task.canonical_solution),
        "token_edit_distance": token_edit_distance(completion, task.canonical_solution),
        "complexity": (
            cyclomatic_complexity(task.language, task.prompt + completion, task.entry_point)
            if complexity
            else None
        ),
    }


def _result_row(
    run_id: str, task: Task, gen: Generation, verdict: Verdict, measures: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "task_id": task.task_id,
        "sample_index": gen.sample.sample_index,
        "language": task.language,
        "category": task.category,
        "difficulty": task.difficulty,
        "completion": gen.sample.completion,
        "passed": verdict.passed,
        "outcome": verdict.outcome,
        "failure_class": verdict.failure_class,
        "exception_type": verdict.exception_type,
        "detail": verdict.detail,
        "failing_test_index": verdict.failing_test_index,
        "expected": verdict.expected,
        "actual": verdict.actual,
        "cpu_s": verdict.cpu_seconds,
        "wall_s": verdict.wall_seconds,
        **measures,
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "gen_latency_s": gen.latency_s,
        "candidate_kind": gen.candidate_kind,
    }


def run_evaluation(
    con: duckdb.DuckDBPyConnection,
    config: RunConfig,
    *,
    resume: str | None = None,
    run_id: str | None = None,
    cache_dir: Path | None = None,
    progress: RunProgress | None = None,
    verdict_cache: VerdictCache | None = None,
    on_start: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run (or resume) one evaluation and store it; see the module docstring.

    Raises :class:`~codex_ds.evaluation.generate.GenerationError` for a bad model spec or
    samples file before anything is stored, :class:`store.RunNotFoundError` for an unknown
    ``resume`` id. An endpoint failure during generation does not raise: the run ends
    ``failed`` with the finished samples kept and the error in the outcome.
    """
    t0 = time.perf_counter()
    if resume is not None:
        run = store.get_run(con, resume)
        config = config_from_run(run)
    tasks, skipped = select_tasks(config)
    provider = provider_for(config, cache_dir)
    if isinstance(provider, ReplayProvider):
        provider.known = frozenset(load_tasks(config.task_set))
        counts = provider.samples_per_task(tasks)  # validates the file before anything is stored
        tasks = {k: t for k, t in tasks.items() if k in counts}
        n = max(counts.values())
    else:
        n = config.n
    if not tasks:
        raise GenerationError("no tasks to evaluate (every language skipped or filtered out)")
    if resume is not None:
        rid = resume
        store.mark_running(con, rid)
    else:
        rid = run_id or new_run_id(config.model, config.task_set, n)
        store.start_run(
            con,
            store.EvalRun(
                run_id=rid,
                created_at=datetime.now(UTC).replace(tzinfo=None),
                status="running",
                task_set=config.task_set,
                tasks=len(tasks),
                model=provider.model,
                provider=provider.kind,
                provider_label=provider.label,
                n=n,
                k_list=",".join(str(k) for k in config.ks),
                timeout_s=config.timeout_s,
                workers=config.workers,
                isolation=isolation_level(),
                params=json.dumps(
                    {**config.params(), **provider.params, "skipped_languages": skipped},
                    default=str,
                ),
            ),
        )
    done = store.finished_keys(con, rid)
    if on_start is not None:
        on_start(rid)

    def gen_progress(d: int, total: int) -> None:
        if progress is not None:
            progress("generate", d, total)

    generations: list[Generation] = []
    error: str | None = None
    try:
        for g in provider.generate(tasks, n, progress=gen_progress):
            generations.append(g)
    except EndpointError as exc:
        error = str(exc)
    except BaseException as exc:  # interrupted while generating: the run stays resumable
        store.close_run(con, rid, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    pending = [g for g in generations if (g.sample.task_id, g.sample.sample_index) not in done]

    # one program per distinct (task, completion)
    groups: dict[tuple[str, str], list[Generation]] = {}
    for g in pending:
        groups.setdefault((g.sample.task_id, g.sample.completion), []).append(g)
    cache: VerdictCache = verdict_cache if verdict_cache is not None else {}
    known = {key: cache[key] for key in groups if key in cache}
    to_run = [
        Sample(task_id, completion, members[0].sample.sample_index)
        for (task_id, completion), members in groups.items()
        if (task_id, completion) not in known
    ]
    total = len(pending)
    evaluated = 0
    batch: list[dict[str, Any]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal batch, last_flush
        if not batch:
            return
        if config.lint:
            keys: dict[tuple[str, str], str] = {}
            items: dict[str, tuple[str, str, str]] = {}
            for r in batch:
                key = (r["task_id"], r["completion"])
                if key not in keys:
                    keys[key] = str(len(keys))
                    program = tasks[r["task_id"]].prompt + r["completion"]
                    items[keys[key]] = (r["language"], program, r["completion"])
            counts = lint_counts(items)
            for r in batch:
                r["lint_findings"] = counts.get(keys[(r["task_id"], r["completion"])])
        store.insert_results(con, batch)
        batch = []
        last_flush = time.monotonic()

    def emit(key: tuple[str, str], verdict: Verdict) -> None:
        nonlocal evaluated
        task = tasks[key[0]]
        measures = _program_measures(task, key[1], complexity=config.complexity)
        for g in groups[key]:
            batch.append(_result_row(rid, task, g, verdict, measures))
            evaluated += 1
        if progress is not None:
            progress("evaluate", evaluated, total)
        if len(batch) >= BATCH_ROWS or time.monotonic() - last_flush > BATCH_SECONDS:
            flush()

    for key, verdict in known.items():
        emit(key, verdict)
    by_sample = {(s.task_id, s.sample_index): (s.task_id, s.completion) for s in to_run}
    try:
        if to_run:
            for verdict in evaluate_samples(
                tasks, to_run, timeout_s=config.timeout_s, workers=config.workers
            ):
                key = by_sample[(verdict.task_id, verdict.sample_index)]
                cache[key] = verdict
                emit(key, verdict)
        flush()
    except BaseException as exc:
        flush()  # keep what finished; the run stays resumable
        store.close_run(con, rid, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    status = "failed" if error else "finished"
    store.close_run(con, rid, status=status, error=error)
    return RunOutcome(
        run_id=rid,
        status=status,
        samples=len(done) + evaluated,
        evaluated=evaluated,
        resumed=len(done),
        programs_run=len(to_run),
        skipped_languages=skipped,
        error=error,
        seconds=round(time.perf_counter() - t0, 3),
    )


def stored_pairs(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int], bool]:
    """``(task_id, sample_index) -> passed`` of stored result rows."""
    return {(str(r["task_id"]), int(r["sample_index"])): bool(r["passed"]) for r in rows}
