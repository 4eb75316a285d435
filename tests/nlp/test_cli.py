"""``codex-ds nlp ...`` on bad input and on a small simulated warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from codex_ds.cli.main import app

LABELLED = Path(__file__).resolve().parents[1] / "data" / "requirements_labelled.jsonl"
runner = CliRunner()


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"", "empty"),
        (bytes(range(256)) * 4, "binary"),
        ("写一个函数，返回列表中的最大值。如果列表为空，返回 None。".encode(), "non_english"),
        (b"Return the sum of xs; handle empty input. " * 25_000, "oversized"),
        (b"Return the sum of xs. If xs is empty, return 0.", "ok"),
    ],
    ids=["empty", "binary", "chinese", "one-megabyte", "ok"],
)
def test_prompts_on_bad_files(tmp_path: Path, content: bytes, status: str) -> None:
    f = tmp_path / "p.txt"
    f.write_bytes(content)
    code, out, err = invoke(tmp_path, "nlp", "prompts", "--file", str(f), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["status"] == status
    assert (d["note"] == "") == (status == "ok")
    if status == "ok":
        assert {"xs", "sum", "empty"} <= set(d["keywords"])
    code, out, _ = invoke(tmp_path, "nlp", "requirements", "--file", str(f), "--json")
    assert code == 0 and "requirements" in json.loads(out)


def test_clear_errors(tmp_path: Path) -> None:
    code, _, err = invoke(tmp_path, "nlp", "prompts", "--file", str(tmp_path / "missing.txt"))
    assert code == 1 and "cannot read" in err and "missing.txt" in err
    code, _, err = invoke(tmp_path, "nlp", "prompts", "--text", "a", "--file", "b")
    assert code == 1 and "exactly one" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    code, _, err = invoke(tmp_path, "nlp", "requirements", "--evaluate", str(bad))
    assert code == 1 and "bad.jsonl:1" in err and "Traceback" not in err
    code, _, err = invoke(tmp_path, "nlp", "report")
    assert code == 1 and "warehouse" in err.lower()


def test_requirements_evaluate_json() -> None:
    r = runner.invoke(app, ["nlp", "requirements", "--evaluate", str(LABELLED), "--json"])
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["prompts"] >= 50
    assert d["overall"]["precision"] >= 0.8 and d["overall"]["recall"] >= 0.8


def test_similarity(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text(
        "Return the largest element. If the list is empty, return None."
    )
    (tmp_path / "c.py").write_text("def largest_element(xs):\n    return max(xs) if xs else None\n")
    code, out, _ = invoke(
        tmp_path,
        "nlp",
        "similarity",
        "--prompt",
        str(tmp_path / "p.txt"),
        "--code",
        str(tmp_path / "c.py"),
        "--json",
    )
    d = json.loads(out)
    assert code == 0 and 0 < d["tfidf_cosine"] <= 1 and d["alignment"] > 0
    assert d["embeddings"]["available"] is False


def test_report_and_classifier_on_a_simulated_warehouse(small_warehouse) -> None:
    home = small_warehouse.home
    code, out, err = invoke(home, "nlp", "prompts", "--json")
    assert code == 0, err
    d = json.loads(out)
    con = duckdb.connect(str(small_warehouse.warehouse), read_only=True)
    try:
        n_prompts = con.execute("SELECT COUNT(*) FROM prompts").fetchone()[0]
        rows = con.execute("SELECT source, COUNT(*) FROM prompt_features GROUP BY 1").fetchall()
    finally:
        con.close()
    assert dict(rows)["telemetry"] == n_prompts == d["written"]["telemetry"]
    assert dict(rows).get("humaneval") == 164
    code, out, err = invoke(home, "nlp", "classify-failures", "--json")
    assert code == 0, err
    f = json.loads(out)
    assert f["held_out_kind"].startswith("simulated") and f["real_messages"] == 0
    assert len(f["classifier"]["confusion"]) == len(f["classifier"]["labels"])
    code, out, err = invoke(home, "nlp", "report", "--labelled", str(LABELLED), "--json")
    assert code == 0, err
    payload = json.loads(out)
    md = (small_warehouse.reports / "nlp.md").read_text()
    assert "## Failure-message classifier" in md and "Confusion matrix" in md
    assert payload["evaluation"] is None and "No real evaluation run" in md
    trends = {t["feature"]: t for t in payload["telemetry"]["trends"]}
    # the simulator plants no effect of the comment text on acceptance
    assert trends["complexity"]["covers_planted"] is True
    assert payload["requirements"]["score"]["overall"]["recall"] >= 0.8
    assert "not measured" in payload["telemetry"]["alignment"]


def test_report_on_an_evaluation_run(small_warehouse, tmp_path: Path, humaneval_prompts) -> None:
    """The evaluation section from cached verdicts: reference solutions pass, empty bodies
    fail; every number comes from these 40 samples."""
    import shutil

    from codex_ds.evaluation.tasks import load_humaneval
    from codex_ds.nlp import store

    home = tmp_path / "ws"
    home.mkdir()
    shutil.copy(small_warehouse.warehouse, home / "warehouse.duckdb")
    tasks = sorted(load_humaneval().values(), key=lambda t: int(t.task_id.split("/")[1]))[:20]
    samples, verdicts = [], []
    for t in tasks:
        for i, (completion, ok) in enumerate(((t.canonical_solution, True), ("    pass\n", False))):
            samples.append({"task_id": t.task_id, "completion": completion})
            verdicts.append(
                {
                    "task_id": t.task_id,
                    "sample_index": i,
                    "passed": ok,
                    "failure_class": "passed" if ok else "logical",
                    "exception_type": None,
                    "detail": "" if ok else "AssertionError: test 0 failed",
                }
            )
    sfile = tmp_path / "run.jsonl"
    sfile.write_text("".join(json.dumps(s) + "\n" for s in samples))
    store.write_verdicts(home / "nlp" / "verdicts" / "run.jsonl", verdicts)
    code, out, err = invoke(home, "nlp", "report", "--samples", str(sfile), "--json")
    assert code == 0, err
    e = json.loads(out)["evaluation"]
    assert (e["samples"], e["tasks"], e["pass_rate"]) == (40, 20, 0.5)
    # every task passes half its samples: no variation in pass rate, so no correlation
    assert all(c["error"] == "no variation" for c in e["correlations"])
    assert sum(b["n"] for b in e["quartiles"]) == 40
    loc = next(d for d in e["code_features"] if d["measure"] == "loc")
    assert loc["difference"] < 0  # `pass` is shorter than every reference solution
    assert {k["kind"] for k in e["requirement_kinds"]} >= {"return", "example"}
    assert "Pass rate against prompt features" in (home / "reports" / "nlp.md").read_text()
