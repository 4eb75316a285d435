"""The built-in task set: our own problems in Python, JavaScript and C++.

The tasks live as data in ``tasks/builtin/<language>.toml`` (one ``[[task]]`` table per
problem: name, entry_point, category, difficulty, prompt, canonical_solution, test), written
to the per-language program conventions of :mod:`codex_ds.evaluation.tasks`. Task ids are
``builtin/<language>/<name>``.

>>> tasks = load_builtin()
>>> tasks["builtin/python/roman_to_int"].entry_point
'roman_to_int'
>>> sorted({t.language for t in tasks.values()})
['cpp', 'javascript', 'python']
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Literal, cast, get_args

from codex_ds.evaluation.tasks import LANGUAGES, Language, Task, load_humaneval

__all__ = [
    "CATEGORIES",
    "DIFFICULTIES",
    "TaskSet",
    "TaskSetError",
    "load_builtin",
    "load_tasks",
]

TaskSet = Literal["builtin", "humaneval"]
CATEGORIES = ("strings", "math", "data_structures", "parsing", "algorithms", "api_use")
DIFFICULTIES = ("easy", "medium", "hard")
_FIELDS = ("name", "entry_point", "category", "difficulty", "prompt", "canonical_solution", "test")


class TaskSetError(ValueError):
    """A task file that breaks the format, or an unknown task set."""


def _parse_language(language: Language, text: str, origin: str) -> dict[str, Task]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskSetError(f"{origin}: {exc}") from exc
    tasks: dict[str, Task] = {}
    for i, row in enumerate(data.get("task", []), start=1):
        missing = [f for f in _FIELDS if not isinstance(row.get(f), str) or not row[f]]
        if missing:
            raise TaskSetError(f"{origin}: task #{i} lacks {', '.join(missing)}")
        if row["category"] not in CATEGORIES:
            raise TaskSetError(f"{origin}: task {row['name']}: unknown category {row['category']}")
        if row["difficulty"] not in DIFFICULTIES:
            raise TaskSetError(
                f"{origin}: task {row['name']}: unknown difficulty {row['difficulty']}"
            )
        task_id = f"builtin/{language}/{row['name']}"
        if task_id in tasks:
            raise TaskSetError(f"{origin}: duplicate task {row['name']}")
        tasks[task_id] = Task(
            task_id=task_id,
            language=language,
            prompt=row["prompt"],
            entry_point=row["entry_point"],
            canonical_solution=row["canonical_solution"],
            test=row["test"],
            category=row["category"],
            difficulty=row["difficulty"],
            source="builtin",
        )
    return tasks


def load_builtin() -> dict[str, Task]:
    """Every built-in task, keyed by task id, in language then file order."""
    root = resources.files("codex_ds.evaluation.tasks") / "builtin"
    tasks: dict[str, Task] = {}
    for language in LANGUAGES:
        text = (root / f"{language}.toml").read_text(encoding="utf-8")
        tasks.update(_parse_language(language, text, f"tasks/builtin/{language}.toml"))
    return tasks


def load_tasks(task_set: str) -> dict[str, Task]:
    """The tasks of a named set: ``builtin`` or ``humaneval``."""
    if task_set not in get_args(TaskSet):
        raise TaskSetError(
            f"unknown task set {task_set!r}: choose one of {', '.join(get_args(TaskSet))}"
        )
    if cast(TaskSet, task_set) == "humaneval":
        return load_humaneval()
    return load_builtin()
