"""A simulated warehouse shared by the modeling tests (built once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from codex_ds.telemetry.simulate import SimulationConfig, load_into_warehouse, simulate
from codex_ds.warehouse import db

CONFIG = SimulationConfig(users=1200, days=21, seed=21)


@dataclass
class SimulatedWarehouse:
    path: Path
    con: duckdb.DuckDBPyConnection
    truth: dict[str, Any]


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedWarehouse]:
    path = tmp_path_factory.mktemp("modeling") / "warehouse.duckdb"
    result = simulate(CONFIG)
    con = db.connect(path)
    load_into_warehouse(con, result)
    con.close()
    ro = db.connect(path, read_only=True)
    yield SimulatedWarehouse(path, ro, result.ground_truth)
    ro.close()
