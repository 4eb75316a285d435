"""``codex-ds causal estimate`` on a simulated warehouse, and the ``causal`` step of ``all``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codex_ds import pipeline
from codex_ds.cli.main import app
from codex_ds.settings import Workspace
from codex_ds.telemetry import simulate as sim
from codex_ds.warehouse import db

CONFIG = sim.SimulationConfig(users=600, days=14, seed=3)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = Workspace(tmp_path_factory.mktemp("causal_ws")).ensure()
    result = sim.simulate(CONFIG)
    con = db.connect(ws.warehouse)
    sim.load_into_warehouse(con, result)
    con.close()
    ws.ground_truth.write_text(json.dumps(result.ground_truth))
    return ws.home


def test_estimate_json(home: Path) -> None:
    res = CliRunner().invoke(
        app, ["--home", str(home), "causal", "estimate", "--method", "all", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {e["method"] for e in doc["estimates"]} == {"psm", "ipw", "aipw", "ra", "stratification"}
    for e in doc["estimates"]:
        assert set(e) >= {"method", "estimand", "estimate", "ci", "se"}
        assert e["ci"][0] < e["estimate"] < e["ci"][1]
    assert doc["balance"] and "rows" in doc["balance"][0]
    assert {"e_values", "rosenbaum", "refutations"} <= set(doc["sensitivity"])
    assert doc["covariates"][0] == "segment[expert]"


def test_single_method_probit_and_options(home: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["--home", str(home), "causal", "estimate", "--method", "ipw", "--estimand", "ATE",
         "--link", "probit", "--trim", "crump", "--covariates", "segment,tenure_days",
         "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [(e["method"], e["estimand"]) for e in doc["estimates"]] == [("ipw", "ATE")]
    assert doc["propensity"]["link"] == "probit"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "magic"], "--method must be one of"),
        (["--outcome", "nope"], "missing_column"),
        (["--trim", "lots"], "--trim must be"),
        (["--trim", "0.7"], "--trim must be"),
        (["--link", "cloglog"], "--link must be"),
    ],
)
def test_bad_options_exit_nonzero(home: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["--home", str(home), "causal", "estimate", *args])
    assert res.exit_code == 1
    assert message in res.output


def test_pipeline_step_writes_the_report(home: Path) -> None:
    ws = Workspace(home)
    con = db.connect(ws.warehouse)
    try:
        res = pipeline.step_causal(pipeline.RunContext(ws, con, CONFIG))
    finally:
        con.close()
    text = (ws.reports / "causal.md").read_text()
    payload = json.loads((ws.reports / "causal.json").read_text())
    assert "## Balance" in text and "Planted truth" in text
    assert payload["ground_truth"]["aipw/ATE"]["truth"] == pytest.approx(
        json.loads(ws.ground_truth.read_text())["causal"][0]["true_ate"]
    )
    assert res.summary["aipw_ate"] is not None
    for artefact in res.artifacts:
        assert Path(artefact).exists()
