"""Launcher: ``python app.py all`` runs the main job, ``python app.py <command>`` any CLI command.

It is the same command-line interface as the ``codex-ds`` console script.
"""

import sys
from pathlib import Path

try:
    from codex_ds.cli.main import run
except ModuleNotFoundError as exc:  # pragma: no cover - only before installation
    if exc.name and exc.name.split(".")[0] == "codex_ds":
        sys.exit(
            "codex_ds is not installed: run `python -m pip install -e .` in "
            f"{Path(__file__).resolve().parent} first (see README.md)."
        )
    raise

if __name__ == "__main__":
    run()
