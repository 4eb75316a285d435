"""A small simulated workspace shared by the dashboard tests (built once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the dashboard extra is not installed")
pytest.importorskip("plotly", reason="the dashboard extra is not installed")

USERS = 300


def build_workspace(home: Path, users: int = USERS, eval_runs: bool = True) -> Path:
    """Simulate ``users`` developers into ``home`` and store two small simulated evaluation
    runs (v1 and v2 on the first built-in tasks); returns the warehouse path."""
    from codex_ds.evaluation.runs import RunConfig, run_evaluation
    from codex_ds.settings import Workspace
    from codex_ds.telemetry import simulate as sim
    from codex_ds.warehouse import db

    ws = Workspace(home).ensure()
    con = db.connect(ws.warehouse)
    try:
        result = sim.simulate(sim.SimulationConfig(users=users))
        sim.load_into_warehouse(con, result)
        ws.ground_truth.write_text(json.dumps(result.ground_truth, indent=2) + "\n")
        if eval_runs:
            cache: dict = {}
            for model in ("simulated:v1", "simulated:v2"):
                run_evaluation(
                    con,
                    RunConfig(
                        model=model, n=2, ks=(1, 2), limit_tasks=10, timeout_s=1.0,
                        lint=False, complexity=False,
                    ),
                    verdict_cache=cache,
                )
    finally:
        con.close()
    return ws.warehouse


@pytest.fixture(scope="session")
def simulated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("dashboard_ws")
    build_workspace(home)
    return home
