"""Runs in the warehouse: storage round trip, resume after a kill, endpoint failure keeping
finished work, the report's first lines. Real sandbox, real DuckDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from codex_ds.evaluation import store
from codex_ds.evaluation.generate import GenerationError
from codex_ds.evaluation.report import render_report, summarise_run
from codex_ds.evaluation.runner import isolation_level
from codex_ds.evaluation.runs import RunConfig, run_evaluation
from codex_ds.evaluation.simulated import simulate_candidate
from codex_ds.evaluation.tasks.builtin_tasks import load_builtin
from codex_ds.warehouse import db


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = db.connect(tmp_path / "w.duckdb")
    yield c
    c.close()


def _run(run_id: str = "r1") -> store.EvalRun:
    return store.EvalRun(
        run_id=run_id,
        created_at=datetime(2026, 1, 5, 9, 0, 0),
        status="running",
        task_set="builtin",
        tasks=2,
        model="simulated:v1",
        provider="simulated",
        provider_label="simulated:v1 (SIMULATED model, not a real LLM)",
        n=2,
        k_list="1,2",
        timeout_s=None,
        workers=2,
        isolation="test",
    )


def test_store_round_trip_and_totals(con: duckdb.DuckDBPyConnection) -> None:
    store.start_run(con, _run())
    rows = [
        {
            "run_id": "r1",
            "task_id": f"t{i // 2}",
            "sample_index": i % 2,
            "language": "python",
            "category": "math",
            "difficulty": "easy",
            "completion": "x",
            "passed": i != 1,
            "outcome": "passed" if i != 1 else "wrong_answer",
            "failure_class": "passed" if i != 1 else "logical",
            "detail": "d" * 10_000,
            "cpu_s": 0.01,
            "wall_s": 0.02,
            "edit_distance": 0.0,
            "token_edit_distance": 0.0,
        }
        for i in range(4)
    ]
    assert store.insert_results(con, rows) == 4
    assert store.insert_results(con, []) == 0
    assert store.finished_keys(con, "r1") == {("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)}
    store.close_run(con, "r1", status="finished")
    run = store.get_run(con, "r1")
    assert (run.status, run.samples_total, run.samples_passed, run.ks) == ("finished", 4, 3, [1, 2])
    assert run.finished_at is not None
    stored = store.run_results(con, "r1")
    assert [r["sample_index"] for r in stored] == [0, 1, 0, 1]
    assert len(stored[0]["detail"]) == store.DETAIL_MAX_CHARS
    assert stored[0]["complexity"] is None  # absent columns are NULL
    assert [r.run_id for r in store.list_runs(con)] == ["r1"]


def test_unknown_run_names_recent_ones(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(store.RunNotFoundError, match="the warehouse has none"):
        store.get_run(con, "nope")
    store.start_run(con, _run("r7"))
    with pytest.raises(store.RunNotFoundError, match=r"no evaluation run 'nope' \(recent runs: r7"):
        store.get_run(con, "nope")
    # a warehouse created before the evaluation tables existed, opened read-only
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()
    ro = db.connect(old, read_only=True)
    try:
        with pytest.raises(store.RunNotFoundError, match="no evaluation tables yet"):
            store.get_run(ro, "x")
        assert store.list_runs(ro) == []
    finally:
        ro.close()


PY = RunConfig(
    model="simulated:v1", n=3, ks=(1, 3), languages=("python",), limit_tasks=4, timeout_s=2.0
)


def test_a_run_stores_every_sample_with_its_planted_kind(con: duckdb.DuckDBPyConnection) -> None:
    outcome = run_evaluation(con, PY, run_id="py")
    tasks = dict(list(load_builtin().items())[:4])
    assert (outcome.status, outcome.samples, outcome.evaluated) == ("finished", 12, 12)
    rows = store.run_results(con, "py")
    assert len(rows) == 12
    for r in rows:
        cand = simulate_candidate("v1", tasks[r["task_id"]], r["sample_index"])
        assert r["completion"] == cand.completion
        assert r["candidate_kind"] == cand.kind
        if cand.kind == "correct":
            assert r["passed"] and r["edit_distance"] == 0.0
        if cand.kind == "syntax_slip":
            assert r["failure_class"] == "syntax"
        assert r["complexity"] is None or r["complexity"] >= 1
        assert r["lint_findings"] is not None
    run = store.get_run(con, "py")
    assert run.isolation == isolation_level()
    assert run.samples_total == 12
    summary = summarise_run(run, rows, bootstrap=200)
    text = render_report(summary)
    head = text.splitlines()[:5]
    assert "SIMULATED" in head[2] and "simulated:v1" in head[2]
    assert head[3] == f"- **Isolation:** {isolation_level()}"
    assert summary.pass_at_k[0].value == pytest.approx(sum(r["passed"] for r in rows) / 12)


def test_a_killed_run_resumes_without_redoing_samples(con: duckdb.DuckDBPyConnection) -> None:
    calls: list[int] = []

    def kill_after_five(stage: str, done: int, total: int) -> None:
        if stage == "evaluate":
            calls.append(done)
            if done >= 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_evaluation(con, PY, run_id="k", progress=kill_after_five)
    kept = store.finished_keys(con, "k")
    assert 5 <= len(kept) < 12
    assert store.get_run(con, "k").status == "failed"
    resumed = run_evaluation(con, RunConfig(model="ignored:x"), resume="k")
    assert resumed.resumed == len(kept)
    assert resumed.evaluated == 12 - len(kept)
    assert resumed.status == "finished"
    rows = store.run_results(con, "k")
    assert len(rows) == 12 == len({(r["task_id"], r["sample_index"]) for r in rows})
    fresh = run_evaluation(con, PY, run_id="fresh")
    assert fresh.programs_run > 0
    by_key = {
        (r["task_id"], r["sample_index"]): r["passed"] for r in store.run_results(con, "fresh")
    }
    assert {(r["task_id"], r["sample_index"]): r["passed"] for r in rows} == by_key
    # resuming a finished run redoes nothing
    again = run_evaluation(con, PY, resume="k")
    assert (again.evaluated, again.resumed, again.programs_run) == (0, 12, 0)


def test_identical_programs_run_once_and_share_a_cache(con: duckdb.DuckDBPyConnection) -> None:
    cache: dict[Any, Any] = {}
    a = run_evaluation(con, PY, run_id="a", verdict_cache=cache)
    tasks = dict(list(load_builtin().items())[:4])
    distinct = {
        (t, simulate_candidate("v1", tasks[t], i).completion) for t in tasks for i in range(3)
    }
    assert a.programs_run == len(distinct) < 12
    b = run_evaluation(con, PY, run_id="b", verdict_cache=cache)
    assert b.programs_run == 0 and b.evaluated == 12


def test_an_endpoint_that_keeps_failing_ends_the_run_failed_with_work_kept(
    con: duckdb.DuckDBPyConnection, serve: Callable[..., Any], tmp_path: Path
) -> None:
    tasks = dict(list(load_builtin().items())[:3])
    doomed = list(tasks.values())[1]
    state = {"down": True}

    def plan(path: str, body: dict[str, Any], count: int) -> Any:
        prompt = body["messages"][-1]["content"]
        if state["down"] and prompt == doomed.prompt:
            return (503, {"Retry-After": "0"}, "overloaded")
        return None

    server = serve(plan)
    config = RunConfig(
        model="openai:m",
        base_url=server.base_url,
        limit_tasks=3,
        max_retries=1,
        concurrency=1,
        timeout_s=2.0,
    )
    outcome = run_evaluation(con, config, run_id="ep", cache_dir=tmp_path / "cache")
    assert outcome.status == "failed"
    assert outcome.error is not None and "gave up after 2 attempts" in outcome.error
    assert doomed.task_id in outcome.error
    stored = store.run_results(con, "ep")
    assert len(stored) >= 1 and all(r["task_id"] != doomed.task_id for r in stored)
    assert all(r["passed"] for r in stored)  # the server answers with the references
    assert store.get_run(con, "ep").status == "failed"
    state["down"] = False
    before = len(server.requests)
    resumed = run_evaluation(con, config, resume="ep", cache_dir=tmp_path / "cache")
    assert resumed.status == "finished" and resumed.resumed == len(stored)
    assert len(server.requests) - before == 3 - len(stored)  # only the missing samples
    assert len(store.run_results(con, "ep")) == 3


def test_bad_specs_and_files_fail_before_anything_is_stored(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with pytest.raises(GenerationError, match="unknown provider 'gpt'"):
        run_evaluation(con, RunConfig(model="gpt:4"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "builtin/python/roman_to_int", "completion": "x"}\nnot json\n')
    with pytest.raises(GenerationError, match="line 2: not JSON"):
        run_evaluation(con, RunConfig(model=f"replay:{bad}"))
    assert store.list_runs(con) == []


@pytest.mark.slow
def test_simulated_pass_at_1_recovers_the_planted_rate(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from codex_ds.reporting.evaluation import write_run_report

    config = RunConfig(
        model="simulated:v2", n=10, ks=(1, 10), languages=("python",), timeout_s=1.0, lint=False
    )
    run_evaluation(con, config, run_id="truth")
    path, payload = write_run_report(con, tmp_path, "truth")
    planted = payload["planted_pass_at_1"]
    measured = payload["pass_at_k"]["pass@1"]
    # 120 samples: the binomial standard error is about 0.045; equivalent mutants add a little
    assert planted - 0.12 < measured < planted + 0.15
    assert f"{100 * planted:.2f} %" in path.read_text()
    lo, hi = payload["pass_at_k_ci"]["pass@1"]
    assert lo <= measured <= hi


def test_a_run_without_samples_still_reports(con: duckdb.DuckDBPyConnection) -> None:
    store.start_run(con, _run("empty"))
    store.close_run(con, "empty", status="failed", error="EndpointError: gave up")
    run = store.get_run(con, "empty")
    summary = summarise_run(run, store.run_results(con, "empty"))
    assert summary.samples == 0 and summary.pass_at_k[0].status == "no_tasks"
    text = render_report(summary)
    assert "No sample was evaluated." in text
    assert "**Error:** EndpointError: gave up" in text
    assert summary.to_dict()["pass_at_k"] == {"pass@1": None, "pass@2": None}
