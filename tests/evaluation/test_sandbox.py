"""The sandbox: its command line, the verdict channel, the worker pool and the fallback."""

from __future__ import annotations

import importlib.util
import os
import types
from pathlib import Path
from types import ModuleType

import pytest

from codex_ds.evaluation import sandbox
from codex_ds.evaluation.runner import Sample, evaluate_samples, isolation_level
from codex_ds.evaluation.tasks import Task, load_humaneval

REPO = Path(__file__).resolve().parents[2]
BWRAP, WHY_NOT = sandbox.bwrap_status()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"bubblewrap unavailable: {WHY_NOT}")

TASK = Task(
    task_id="sb/python/double",
    language="python",
    prompt="def double(x):\n",
    entry_point="double",
    canonical_solution="    return 2 * x\n",
    test="def check(candidate):\n    assert candidate(2) == 4\n",
    category="math",
    difficulty="easy",
    source="builtin",
)


def worker_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sandbox_worker_under_test", sandbox.WORKER_SOURCE
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bwrap_command_isolates_everything() -> None:
    if not BWRAP:
        pytest.skip(WHY_NOT)
    cmd = sandbox.bwrap_command()
    for flag in ("--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
                 "--clearenv", "--cap-drop", "--remount-ro"):  # fmt: skip
        assert flag in cmd
    binds = {cmd[i + 1] for i, arg in enumerate(cmd) if arg in ("--bind", "--ro-bind")}
    assert "--bind" not in cmd  # nothing is bound writable
    for hidden in (str(REPO), str(Path.home()), os.getcwd(), "/work"):
        assert not any(b == hidden or hidden.startswith(b + "/") for b in binds if b != "/usr"), (
            hidden,
            binds,
        )
    assert cmd[cmd.index("--tmpfs") - 1] == str(sandbox.TMPFS_BYTES)


def test_isolation_level_names_what_is_in_force() -> None:
    text = isolation_level()
    assert ("bubblewrap" in text) == BWRAP
    assert "rlimits" in text and "seccomp" in text


def test_verdict_parsing_accepts_only_the_nonce() -> None:
    worker = worker_module()
    nonce = "ab" * 16
    assert worker._parse_verdict(b"P:" + nonce.encode(), nonce) == {"phase": "done"}
    assert worker._parse_verdict(b"P:" + b"cd" * 16, nonce) == {"forged": True}
    assert worker._parse_verdict(b'{"phase": "done"}', nonce) == {"forged": True}
    # a pass followed by anything (or anything followed by the pass) is not a pass
    assert worker._parse_verdict(b"P:" + nonce.encode() + b"P:", nonce) == {"forged": True}
    fail = b"F:" + nonce.encode() + b':{"phase": "check", "exc": "ValueError"}'
    assert worker._parse_verdict(fail, nonce) == {"phase": "check", "exc": "ValueError"}
    # a failure record claiming to be a pass stays a failure
    claim = b"F:" + nonce.encode() + b':{"phase": "done"}'
    assert worker._parse_verdict(claim, nonce) == {"phase": "unreportable"}


def test_failure_record_encoding_is_json() -> None:
    import json

    worker = worker_module()
    record = {"phase": "check", "msg": 'quote " and \\ and é\n', "index": 3, "ok": False,
              "none": None, "other": [1]}  # fmt: skip
    decoded = json.loads(worker._encode_record(record))
    assert decoded == {**record, "other": None}


def test_python_rewrite_records_operands_without_changing_semantics() -> None:
    import ast

    worker = worker_module()
    source = (
        "def check(candidate):\n"
        "    assert candidate(1) == 2\n"
        "    assert 3 == candidate(2), 'msg'\n"
        "    assert candidate(3) > 0\n"
    )
    tree = ast.parse(source)
    line, spans = worker._rewrite_check(tree, 1)
    assert line == 1 and spans == [(2, 2), (3, 3), (4, 4)]
    namespace: dict[str, object] = {}
    exec(compile(tree, "<t>", "exec"), namespace)
    check = namespace["check"]
    assert callable(check)
    check(lambda x: x + 1)  # all pass: same truth values as the original asserts
    with pytest.raises(AssertionError, match="msg"):
        check(lambda x: x * 1 if x == 2 else x + 1)


def test_pool_runs_every_request_once() -> None:
    with sandbox.SandboxPool(2) as pool:
        assert "json" in pool.modules and "numpy_does_not_exist" not in pool.modules
        verdicts = list(
            evaluate_samples(
                {TASK.task_id: TASK},
                [Sample(TASK.task_id, f"    return 2 * x + {i % 2}\n", i) for i in range(12)],
                timeout_s=1.0,
                workers=2,
            )
        )
    assert sorted(v.sample_index for v in verdicts) == list(range(12))
    assert [v.passed for v in sorted(verdicts, key=lambda v: v.sample_index)] == [
        i % 2 == 0 for i in range(12)
    ]
    with pytest.raises(ValueError, match="workers must be >= 1"):
        sandbox.SandboxPool(0)


@needs_bwrap
def test_the_sandbox_sees_no_repository_home_or_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEX_DS_SANDBOX_PROBE", "visible")
    probe = (
        "    import os\n"
        f"    seen = [p for p in ({str(REPO)!r}, '/work', '/root/.ssh') if os.path.exists(p)]\n"
        "    env = sorted(os.environ)\n"
        "    own = (os.environ['HOME'] == os.getcwd(),\n"
        "           os.environ['MPLCONFIGDIR'] == os.path.join(os.getcwd(), '.matplotlib'))\n"
        "    raise RuntimeError(repr((seen, env, os.getuid(), own)))\n"
    )
    (verdict,) = evaluate_samples({TASK.task_id: TASK}, [Sample(TASK.task_id, probe)], timeout_s=1)
    seen, env, uid, own = eval(verdict.detail.split(": ", 1)[1].rsplit(" (test", 1)[0])
    assert seen == []
    assert "CODEX_DS_SANDBOX_PROBE" not in env
    assert set(env) <= {"PATH", "HOME", "LANG", "PWD", "MPLCONFIGDIR"}
    assert uid == 65534
    # each sample's home (and matplotlib's config directory) is its own fresh directory
    assert own == (True, True)


def test_fallback_without_bubblewrap_still_limits_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "bwrap_status", lambda: (False, "bwrap disabled for this test"))
    assert isolation_level().startswith("FALLBACK without namespaces (bwrap disabled")
    samples = [
        Sample(TASK.task_id, "    return 2 * x\n", 0),
        Sample(TASK.task_id, "    while True:\n        pass\n", 1),
        Sample(TASK.task_id, "    import os\n    os._exit(0)\n", 2),
        Sample(TASK.task_id, "    import os\n    os.fork()\n", 3),
    ]
    verdicts = sorted(
        evaluate_samples({TASK.task_id: TASK}, samples, timeout_s=0.3, workers=1),
        key=lambda v: v.sample_index,
    )
    assert [v.outcome for v in verdicts] == ["passed", "timeout", "early_exit", "runtime_error"]
    with sandbox.Worker() as worker:
        worker.ensure_started()
        assert worker.sandboxed is False


def test_output_is_captured_with_a_cap() -> None:
    worker_limits = sandbox.Limits(cpu_seconds=1.0, output_bytes=1 << 20)
    from codex_ds.evaluation.runner import _request

    request = _request(TASK, "    print('y' * 5000)\n    return 2 * x\n", worker_limits)
    with sandbox.Worker() as worker:
        answer = worker.run(request)
    step = answer["steps"][-1]
    assert step["report"] == {"phase": "done"}
    assert step["output_bytes"] == 5001 and len(step["output"]) == 2000


def test_test_compiled_once_is_moved_to_the_program_lines_exactly() -> None:
    """The worker compiles a task's test once and moves it; the result equals compiling the
    test at its place in the program (same bytecode, positions, assert spans, orientation)."""
    worker = worker_module()
    tests = [t.test for t in load_humaneval().values() if t.language == "python"][:40]

    def positions(code: types.CodeType) -> list:
        nested = [c for c in code.co_consts if isinstance(c, types.CodeType)]
        return [(code.co_name, code.co_firstlineno, list(code.co_positions()))] + [
            p for c in nested for p in positions(c)
        ]

    for test in tests:
        for line in (1, 2, 37, 400):
            tree = worker.ast.parse(test)
            worker.ast.increment_lineno(tree, line - 1)
            code, check, spans, orientation = worker._compile_tree(tree, line)
            moved, moved_check, moved_spans, moved_orientation = worker._compile_test(test, line)
            assert moved.co_code == code.co_code
            # the module's own first line differs (it is always 1 when compiled whole); every
            # instruction's position but the module's RESUME, and all nested code, are equal
            assert list(moved.co_positions())[1:] == list(code.co_positions())[1:]
            assert positions(moved)[1:] == positions(code)[1:]
            assert (moved_spans, moved_orientation) == (spans, orientation)
            assert check is not None and moved_check is not None
            assert list(moved_check.co_positions()) == list(check.co_positions())


@pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed"
)
def test_matplotlib_gets_a_prebuilt_font_cache_of_its_own() -> None:
    """A sample that imports matplotlib finds the font cache built once outside (so the
    import does not scan every font) in its own MPLCONFIGDIR."""
    probe = (
        "    return a\n"
        "import os\n"
        "import matplotlib\n"
        "names = os.listdir(os.environ['MPLCONFIGDIR'])\n"
        "assert any(n.startswith('fontlist') for n in names), names\n"
        "assert matplotlib.get_cachedir() == os.environ['MPLCONFIGDIR']\n"
    )
    task = Task(
        "t/mpl", "python", "def f(a):\n", "f", "    return a\n",
        "def check(candidate):\n    assert candidate(1) == 1\n", "math", "easy", "builtin",
    )  # fmt: skip
    (verdict,) = evaluate_samples({task.task_id: task}, [Sample(task.task_id, probe)], timeout_s=3)
    assert verdict.passed, verdict.detail
