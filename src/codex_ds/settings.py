"""The workspace: where the warehouse, reports and ground truth live.

The workspace directory is chosen, in order, by the ``--home`` option, the
``CODEX_DS_HOME`` environment variable, or ``./codex_ds_data``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "CODEX_DS_HOME"
DEFAULT_HOME = "codex_ds_data"


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace. Creating the object touches nothing on disk."""

    home: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Workspace:
        chosen = home if home is not None else os.environ.get(HOME_ENV) or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def ground_truth(self) -> Path:
        return self.home / "ground_truth.json"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def exports(self) -> Path:
        return self.home / "parquet"

    def ensure(self) -> Workspace:
        self.home.mkdir(parents=True, exist_ok=True)
        self.reports.mkdir(exist_ok=True)
        return self
