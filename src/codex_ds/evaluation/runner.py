"""Run samples against their tasks' tests in the sandbox and return one verdict each."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, replace
from typing import Any

from codex_ds.evaluation.failures import (
    Classification,
    StaticFinding,
    classification,
    classify_cpp,
    classify_javascript,
    classify_python,
    static_check,
)
from codex_ds.evaluation.languages import ToolchainMissingError, build_request, toolchain
from codex_ds.evaluation.sandbox import Limits, SandboxPool, describe_isolation
from codex_ds.evaluation.tasks import Task

#: Sandbox workers by default: one more than the cores, so that a core is not left idle
#: while a worker waits for the parent (which hands out samples and classifies results).
DEFAULT_WORKERS = (os.cpu_count() or 1) + 1


@dataclass(frozen=True)
class Sample:
    """One completion of one task (``sample_index`` numbers the samples of a task)."""

    task_id: str
    completion: str
    sample_index: int = 0


@dataclass(frozen=True)
class Verdict:
    """The outcome of running one sample: pass/fail, its kind and class, and the evidence."""

    task_id: str
    sample_index: int
    passed: bool
    outcome: str  # fine-grained kind, see codex_ds.evaluation.failures.Outcome
    failure_class: str  # passed|syntax|runtime|logical|hallucination|resource
    exception_type: str | None
    detail: str
    failing_test_index: int | None
    expected: str | None
    actual: str | None
    cpu_seconds: float
    wall_seconds: float


def isolation_level() -> str:
    """How samples are isolated on this machine, for the first lines of every report."""
    return describe_isolation()


class UnknownTaskError(KeyError):
    """A sample names a task that is not in the task set."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown task"


# Per-task CPU-time limit calibrated from the reference solution, in EvalPlus's form
# max(floor, factor x reference time), in CPU seconds measured in this sandbox, for the tests
# (EvalPlus applies its limit to each test input's call; loading the program is outside it).
# A Python program's module-level code (definitions, imports) runs first under its own limit,
# LOAD_LIMIT_S (EvalPlus's minimum limit, 1 s): the references import only the standard
# library, so 4 x their time says nothing about a sample that imports pandas.
CALIBRATION_FACTOR = 4.0
CALIBRATION_FLOOR_S = 0.1
CALIBRATION_CEILING_S = 10.0
LOAD_LIMIT_S = 1.0
_calibrated: dict[tuple[str, int], float] = {}


def calibrated_limit(reference_cpu_seconds: float) -> float:
    """The tests' CPU-time limit for a task whose reference used ``reference_cpu_seconds``.

    >>> calibrated_limit(0.01), calibrated_limit(0.5), calibrated_limit(9.0)
    (0.1, 2.0, 10.0)
    """
    limit = max(CALIBRATION_FLOOR_S, CALIBRATION_FACTOR * reference_cpu_seconds)
    return min(limit, CALIBRATION_CEILING_S)


def _task_key(task: Task) -> tuple[str, int]:
    return task.task_id, hash((task.prompt, task.canonical_solution, task.test))


def _limits(cpu_seconds: float, load_cpu_seconds: float | None = None) -> Limits:
    total = cpu_seconds + (load_cpu_seconds or 0.0)
    return Limits(
        cpu_seconds=cpu_seconds, load_cpu_seconds=load_cpu_seconds, wall_seconds=3.0 * total + 2.0
    )


def _request(task: Task, completion: str, limits: Limits) -> dict[str, Any]:
    return build_request(
        task,
        completion,
        cpu_seconds=limits.cpu_seconds,
        wall_seconds=limits.wall,
        memory_bytes=limits.memory_bytes,
        file_bytes=limits.file_bytes,
        output_bytes=limits.output_bytes,
        max_processes=limits.max_processes,
        load_cpu_seconds=limits.load_cpu_seconds,
    )


def calibrate(
    tasks: Iterable[Task], pool: SandboxPool, *, ceiling_s: float = CALIBRATION_CEILING_S
) -> dict[str, float]:
    """CPU-time limit per task id from its reference solution's runtime (cached per process).

    The reference runs once, under ``ceiling_s``; a reference that fails keeps the ceiling.
    """
    limits: dict[str, float] = {}
    jobs = []
    for task in tasks:
        key = _task_key(task)
        if key in _calibrated:
            limits[task.task_id] = _calibrated[key]
        elif task.language == "python" or toolchain(task.language).available:
            jobs.append((task, _request(task, task.canonical_solution, _limits(ceiling_s))))
        else:
            limits[task.task_id] = ceiling_s
    for task, answer in pool.imap_unordered(jobs):
        steps = answer.get("steps") or []
        run = steps[-1] if steps else {}
        ok = bool(run) and (run.get("report") or {}).get("phase") == "done"
        limit = calibrated_limit(float(run.get("cpu_seconds", 0.0))) if ok else ceiling_s
        _calibrated[_task_key(task)] = limit
        limits[task.task_id] = limit
    return limits


class _StaticChecker:
    """The AST check with the sandbox's module list and this interpreter's stdlib."""

    _SKIP = frozenset({"this", "antigravity", "idlelib", "tkinter", "turtle", "turtledemo"})

    def __init__(self, modules: frozenset[str]) -> None:
        self.modules = modules
        self._attributes: dict[str, frozenset[str] | None] = {}
        self._cache: dict[str, tuple[StaticFinding, ...]] = {}

    def stdlib_attributes(self, module: str) -> frozenset[str] | None:
        if module in self._attributes:
            return self._attributes[module]
        names: frozenset[str] | None = None
        top = module.split(".")[0]
        if top in sys.stdlib_module_names and top not in self._SKIP and not top.startswith("_"):
            try:
                names = frozenset(dir(importlib.import_module(module)))
            except Exception:
                names = None
        self._attributes[module] = names
        return names

    def __call__(self, source: str) -> tuple[StaticFinding, ...]:
        found = self._cache.get(source)
        if found is None:
            found = static_check(source, self.modules.__contains__, self.stdlib_attributes)
            if len(self._cache) < 50_000:
                self._cache[source] = found
        return found


def _assert_lines(task: Task, test_line: int) -> tuple[int, ...]:
    """Program line numbers of the test's assertion lines (JavaScript and C++)."""
    pattern = _ASSERT_CALL[task.language]
    return tuple(
        test_line + i for i, line in enumerate(task.test.splitlines()) if pattern.search(line)
    )


_ASSERT_CALL = {
    "javascript": re.compile(r"\bassert(\.\w+)*\s*\("),
    "cpp": re.compile(r"\bassert\s*\("),
    "python": re.compile(r"^\s*assert\b"),
}


def _verdict(sample: Sample, result: Classification, answer: dict[str, Any] | None) -> Verdict:
    steps = (answer or {}).get("steps") or []
    return Verdict(
        task_id=sample.task_id,
        sample_index=sample.sample_index,
        passed=result.passed,
        outcome=result.outcome,
        failure_class=result.failure_class,
        exception_type=result.exception_type,
        detail=result.detail,
        failing_test_index=result.failing_test_index,
        expected=result.expected,
        actual=result.actual,
        cpu_seconds=round(sum(float(s.get("cpu_seconds", 0.0)) for s in steps), 6),
        wall_seconds=round(sum(float(s.get("wall_seconds", 0.0)) for s in steps), 6),
    )


# the outcomes whose class or detail the static check's findings can change
_NEEDS_STATIC_CHECK = frozenset({"runtime_error", "hallucinated_attribute", "hallucinated_import"})


def _classify(
    task: Task,
    answer: dict[str, Any],
    static_findings: Callable[[], tuple[StaticFinding, ...]],
    test_line: int,
) -> Classification:
    findings: tuple[StaticFinding, ...] = ()
    if task.language == "python":
        result = classify_python(answer)
        if result.outcome in _NEEDS_STATIC_CHECK:
            # the AST check only matters for these, so it runs only for them
            findings = static_findings()
            result = classify_python(answer, findings)
    elif task.language == "javascript":
        result = classify_javascript(answer, _assert_lines(task, test_line))
    else:
        result = classify_cpp(answer, _assert_lines(task, test_line), task.entry_point)
    if findings and result.outcome in ("runtime_error", "hallucinated_attribute",
                                       "hallucinated_import"):  # fmt: skip
        note = "; ".join(f"{f.kind} {f.name} (line {f.line})" for f in findings)
        result = replace(result, detail=f"{result.detail} [static check: {note}]")
    return result


def evaluate_samples(
    tasks: Mapping[str, Task],
    samples: Iterable[Sample],
    *,
    timeout_s: float | None = None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Verdict]:
    """Run every sample in the sandbox and yield its verdict (in completion order).

    ``timeout_s`` is a CPU-time limit per sample (the whole program); ``None`` gives a
    Python program's module-level code :data:`LOAD_LIMIT_S` and its tests a per-task limit
    calibrated from the reference solution's runtime (:func:`calibrated_limit`). ``progress(done,
    total)`` is called after each verdict (``total`` is 0 while the samples are a stream of
    unknown length). An unknown task id raises :class:`UnknownTaskError`.
    """
    if timeout_s is not None and not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    total = len(samples) if isinstance(samples, Sized) else 0
    with SandboxPool(workers) as pool:
        pool.start()
        if timeout_s is None:
            sample_list = list(samples)
            total = len(sample_list)
            wanted = {s.task_id for s in sample_list}
            for task_id in sorted(wanted - set(tasks)):
                raise UnknownTaskError(f"unknown task id {task_id!r} (not in the task set)")
            limits = calibrate((tasks[t] for t in sorted(wanted)), pool)
            samples = sample_list
        else:
            limits = {}
        checker = _StaticChecker(pool.modules)
        skipped: list[Verdict] = []

        def jobs() -> Iterator[tuple[Any, dict[str, Any]]]:
            for sample in samples:
                task = tasks.get(sample.task_id)
                if task is None:
                    raise UnknownTaskError(
                        f"unknown task id {sample.task_id!r} (not in the task set)"
                    )
                if timeout_s is not None:
                    sample_limits = _limits(timeout_s)  # one limit for the whole program
                else:
                    sample_limits = _limits(limits[task.task_id], LOAD_LIMIT_S)
                try:
                    request = _request(task, sample.completion, sample_limits)
                except ToolchainMissingError as exc:
                    skipped.append(_verdict(sample, classification(
                        "toolchain_missing", detail=f"skipped: {exc}"), None))  # fmt: skip
                    continue
                yield (sample, task, int(request.get("test_line", 0))), request

        done = 0
        for key, answer in pool.imap_unordered(jobs()):
            while skipped:
                done += 1
                yield skipped.pop()
                if progress is not None:
                    progress(done, total)
            sample, task, test_line = key

            def static_findings(
                source: str = task.prompt + sample.completion,
            ) -> tuple[StaticFinding, ...]:
                return checker(source)

            done += 1
            yield _verdict(sample, _classify(task, answer, static_findings, test_line), answer)
            if progress is not None:
                progress(done, total)
        while skipped:
            done += 1
            yield skipped.pop()
            if progress is not None:
                progress(done, total)
