"""Lint findings of completions: ruff for Python (run as a tool on temporary files), the
light rules of :func:`codex_ds.evaluation.metrics.style_findings` for JavaScript and C++.

This module runs a program (ruff) and writes temporary files, so it sits at the edge; ruff
only parses the code, it never executes it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from codex_ds.evaluation.metrics import style_findings

__all__ = ["RUFF_RULES", "lint_counts", "ruff_available"]

#: pycodestyle errors and warnings, pyflakes, bugbear: defects rather than taste.
RUFF_RULES = "E,F,W,B"


def _ruff() -> list[str] | None:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ruff"]


def ruff_available() -> bool:
    return _ruff() is not None


def _ruff_counts(programs: Mapping[str, str]) -> dict[str, int | None]:
    command = _ruff()
    if command is None or not programs:
        return {key: None for key in programs}
    with tempfile.TemporaryDirectory(prefix="codex-ds-lint-") as tmp:
        names: dict[str, str] = {}
        for i, (key, program) in enumerate(programs.items()):
            path = Path(tmp) / f"sample_{i}.py"
            path.write_text(program, encoding="utf-8")
            names[str(path)] = key
        proc = subprocess.run(
            [
                *command,
                "check",
                "--isolated",
                "--no-cache",
                "--select",
                RUFF_RULES,
                "--output-format",
                "json",
                "--exit-zero",
                tmp,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            findings = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            return {key: None for key in programs}
    counts: dict[str, int | None] = {key: 0 for key in programs}
    for f in findings:
        owner = names.get(str(Path(f.get("filename", ""))))
        if owner is not None:
            counts[owner] = (counts[owner] or 0) + 1
    return counts


def lint_counts(
    items: Mapping[str, tuple[str, str, str]],
) -> dict[str, int | None]:
    """Findings per item; ``items`` maps a key to (language, program, completion).

    Python items are linted as whole programs (prompt + completion, without the tests) by
    one ruff process; JavaScript and C++ completions get the light style rules. None when
    ruff is not available.
    """
    python = {k: program for k, (lang, program, _) in items.items() if lang == "python"}
    counts = _ruff_counts(python)
    for key, (lang, _, completion) in items.items():
        if lang != "python":
            counts[key] = sum(style_findings(lang, completion).values())
    return counts
