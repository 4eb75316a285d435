"""``codex-ds model ...`` and the model steps of ``all`` on a simulated workspace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codex_ds.cli.main import app
from codex_ds.pipeline import (
    RunContext,
    step_model_acceptance,
    step_model_productivity,
    step_model_segments,
)
from codex_ds.settings import Workspace
from codex_ds.telemetry.simulate import SimulationConfig
from codex_ds.warehouse import db

runner = CliRunner()


@pytest.fixture(scope="module")
def home(simulated, tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = tmp_path_factory.mktemp("model_home")
    shutil.copy(simulated.path, h / "warehouse.duckdb")
    (h / "ground_truth.json").write_text(json.dumps(simulated.truth))
    return h


def _json(home: Path, *args: str) -> tuple[int, dict]:
    res = runner.invoke(app, ["--home", str(home), "model", *args, "--json"])
    return res.exit_code, json.loads(res.stdout)


def test_acceptance_json(home: Path) -> None:
    code, payload = _json(home, "acceptance", "--folds", "2")
    assert code == 0 and payload["ok"]
    names = [c["name"] for c in payload["coefficients"]]
    assert names[0] == "intercept" and "model_version[v2]" in names
    assert payload["covariance"] == "cluster_user"
    assert payload["prediction"]["cv_folds"] == 2
    assert len(payload["truth"]) == len(names)
    assert sum(t["covered"] for t in payload["truth"]) >= 0.85 * len(names)
    # no folds: the fast path (patterns without users, scores per user in SQL), same model
    code, fast = _json(home, "acceptance", "--folds", "0")
    assert code == 0 and fast["ok"] and fast["covariance"] == "cluster_user"
    assert fast["users"] == payload["users"] and fast["patterns"] < payload["patterns"]
    assert fast["prediction"]["cv_folds"] == 0
    for a, b in zip(fast["coefficients"], payload["coefficients"], strict=True):
        assert a["name"] == b["name"] and abs(a["estimate"] - b["estimate"]) < 0.05 * b["se"]


def test_productivity_json_and_table(home: Path, simulated) -> None:
    code, payload = _json(home, "productivity")
    assert code == 0 and payload["best_metric"] == "acceptance_rate"
    r = payload["rows"][0]["pearson_r"]
    assert r == pytest.approx(
        simulated.truth["survey"]["realised_correlation_perceived_productivity"], rel=1e-9
    )
    res = runner.invoke(app, ["--home", str(home), "model", "productivity"])
    assert res.exit_code == 0 and "acceptance_rate" in res.stdout


def test_productivity_from_team_csvs(home: Path, tmp_path: Path) -> None:
    tel = tmp_path / "tel.csv"
    sur = tmp_path / "sur.csv"
    tel.write_text("user_id,acceptance_rate\n" + "".join(f"u{i},{i / 40}\n" for i in range(20)))
    sur.write_text(
        "user_id,perceived_productivity\n" + "".join(f"u{i},{1 + i // 5}\n" for i in range(20))
    )
    args = ["--telemetry-csv", str(tel), "--survey-csv", str(sur)]
    code, payload = _json(home, "productivity", *args)
    assert code == 0 and payload["respondents"] == 20 and payload["rows"][0]["n"] == 20
    sur.write_text("user_id,perceived_productivity\nu1,four\n")
    res = runner.invoke(app, ["--home", str(home), "model", "productivity", *args])
    assert res.exit_code == 2
    assert "sur.csv:2: column perceived_productivity: 'four' is not a number" in res.stderr
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["--home", str(home), "model", "productivity", args[0], args[1]])
    assert res.exit_code == 2 and "both --telemetry-csv and --survey-csv" in res.stderr


def test_segments_json_and_output(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "seg.csv"
    code, payload = _json(home, "segments", "--k", "3", "--output", str(out))
    assert code == 0 and payload["k"] == 3 and len(payload["clusters"]) == 3
    lines = out.read_text().splitlines()
    assert lines[0] == "user_id,segment" and len(lines) == payload["users"] + 1
    res = runner.invoke(app, ["--home", str(home), "model", "segments", "--features", "nope"])
    assert res.exit_code == 2 and "unknown feature(s) nope" in res.stderr


def test_bad_input_is_a_message_not_a_traceback(home: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["--home", str(home), "model", "acceptance", "--engine", "x"])
    assert res.exit_code == 2 and "unknown engine" in res.stderr
    res = runner.invoke(
        app, ["--home", str(home), "model", "acceptance", "--start-date", "not-a-date"]
    )
    assert res.exit_code == 2 and "start_date" in res.stderr
    # a warehouse without suggestions: no data to model, exit 1 with the reason
    empty = tmp_path / "empty"
    empty.mkdir()
    db.connect(empty / "warehouse.duckdb").close()
    res = runner.invoke(app, ["--home", str(empty), "model", "acceptance"])
    assert res.exit_code == 1 and "no_data" in res.stderr and "Traceback" not in res.output
    res = runner.invoke(app, ["--home", str(empty), "model", "productivity"])
    assert res.exit_code == 1 and "too_few_users" in res.stderr
    res = runner.invoke(app, ["--home", str(empty), "model", "segments", "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["error"] == "too_few_users"
    # before the experiment every suggestion is v1: model_version is constant → a note, still a fit
    res = runner.invoke(app, ["--home", str(home), "model", "acceptance", "--folds", "0",
                              "--end-date", "2026-01-10"])  # fmt: skip
    assert res.exit_code == 0 and "model_version is constant" in res.stderr


def test_model_steps_write_the_reports(home: Path, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws").ensure()
    shutil.copy(home / "warehouse.duckdb", ws.warehouse)
    shutil.copy(home / "ground_truth.json", ws.ground_truth)
    con = db.connect(ws.warehouse)
    try:
        ctx = RunContext(ws, con, SimulationConfig())
        a = step_model_acceptance(ctx)
        p = step_model_productivity(ctx)
        s = step_model_segments(ctx)
    finally:
        con.close()
    assert a.summary["ok"] and "truth_covered" in a.summary
    assert p.summary["best_metric"] == "acceptance_rate"
    assert s.summary["ok"] and len(s.summary["segments"]) == s.summary["k"]
    text = (ws.reports / "acceptance_model.md").read_text()
    assert "## Coefficients" in text and "planted" in text
    assert "Best predictor: **acceptance_rate**" in (ws.reports / "productivity.md").read_text()
    assert "## Segment 1:" in (ws.reports / "segments.md").read_text()
    for name in ("acceptance_model", "productivity", "segments"):
        assert json.loads((ws.reports / f"{name}.json").read_text())["ok"]
