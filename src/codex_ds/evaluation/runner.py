"""Run samples against their tasks' tests in the sandbox and return one verdict each."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from codex_ds.evaluation.tasks import Task


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
    from codex_ds.evaluation.sandbox import describe_isolation

    return describe_isolation()


def evaluate_samples(
    tasks: Mapping[str, Task],
    samples: Iterable[Sample],
    *,
    timeout_s: float | None = None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Verdict]:
    """Run every sample in the sandbox and yield its verdict (in completion order).

    ``timeout_s`` is a CPU-time limit per sample; ``None`` uses a per-task limit calibrated
    from the reference solution's runtime. ``progress(done, total)`` is called after each
    verdict.
    """
    from codex_ds.evaluation.sandbox import run_samples

    yield from run_samples(tasks, samples, timeout_s=timeout_s, workers=workers, progress=progress)
