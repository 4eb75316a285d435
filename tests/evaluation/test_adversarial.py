"""Hostile samples: the harness survives, the verdict has the right class, nothing outside
the sandbox changes, and the next (honest) sample on the same worker still passes."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_ds.evaluation import sandbox
from codex_ds.evaluation.languages import toolchain
from codex_ds.evaluation.runner import Sample, Verdict, evaluate_samples
from codex_ds.evaluation.tasks import Task

REPO = Path(__file__).resolve().parents[2]
BWRAP = sandbox.bwrap_status()[0]
needs_bwrap = pytest.mark.skipif(
    not BWRAP, reason=f"bubblewrap unavailable: {sandbox.bwrap_status()[1]}"
)

ADD = Task(
    task_id="adv/python/add",
    language="python",
    prompt='def add(a, b):\n    """Return a + b."""\n',
    entry_point="add",
    canonical_solution="    return a + b\n",
    test=(
        "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 5) == 7\n"
    ),
    category="math",
    difficulty="easy",
    source="builtin",
)
HONEST = "    return a + b\n"
TASKS = {ADD.task_id: ADD}
LIMIT_S = 0.5


def run(completion: str, task: Task = ADD, honest: str = HONEST) -> tuple[Verdict, Verdict]:
    """Run the hostile completion, then an honest one on the same (single) worker."""
    tasks = {task.task_id: task}
    samples = [Sample(task.task_id, completion, 0), Sample(task.task_id, honest, 1)]
    verdicts = list(evaluate_samples(tasks, samples, timeout_s=LIMIT_S, workers=1))
    hostile, follow = sorted(verdicts, key=lambda v: v.sample_index)
    assert follow.passed, f"the next sample did not run normally: {follow}"
    return hostile, follow


def body(code: str) -> str:
    """Indent ``code`` as the body of the prompt's function."""
    return "".join(f"    {line}\n" for line in code.strip("\n").splitlines())


@pytest.fixture
def marker() -> Iterator[str]:
    name = f"codex_ds_adversarial_{uuid.uuid4().hex}"
    yield name
    for base in (REPO, Path("/etc"), Path.home(), Path("/tmp")):
        (base / name).unlink(missing_ok=True)


# --- resources ------------------------------------------------------------------------------


def test_fork_bomb() -> None:
    verdict, _ = run(body("import os\nwhile True:\n    os.fork()"))
    assert verdict.outcome == "runtime_error" and verdict.exception_type == "PermissionError"


def test_spawning_a_shell(marker: str) -> None:
    verdict, _ = run(
        body(f"import subprocess\nsubprocess.run(['/bin/sh', '-c', 'touch /tmp/{marker}'])")
    )
    assert verdict.failure_class == "runtime" and verdict.exception_type == "PermissionError"
    assert not (Path("/tmp") / marker).exists()


def test_memory_bomb() -> None:
    verdict, _ = run(body("blocks = []\nwhile True:\n    blocks.append(bytes(1 << 26))"))
    assert verdict.outcome == "memory_limit" and verdict.failure_class == "resource"


def test_infinite_loop_is_cut_at_the_cpu_limit() -> None:
    verdict, _ = run(body("while True:\n    pass"))
    assert verdict.outcome == "timeout" and verdict.failure_class == "resource"
    assert LIMIT_S <= verdict.cpu_seconds < LIMIT_S + 0.5


def test_busy_threads_count_against_the_cpu_limit() -> None:
    code = """
import threading
def spin():
    while True:
        pass
threads = [threading.Thread(target=spin) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""
    verdict, _ = run(body(code))
    assert verdict.outcome == "timeout"


def test_sleeping_past_the_limit_hits_the_wall_clock() -> None:
    verdict, _ = run(body("import time\ntime.sleep(600)"))
    assert verdict.outcome == "timeout" and "wall-clock" in verdict.detail
    assert verdict.wall_seconds < 10


def test_ignoring_sigterm_does_not_help() -> None:
    verdict, _ = run(
        body("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass")
    )
    assert verdict.outcome == "timeout"


def test_one_gigabyte_stdout_flood() -> None:
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)"
    verdict, _ = run(body(code))
    assert verdict.outcome == "output_limit" and verdict.failure_class == "resource"


def test_one_file_past_the_size_limit() -> None:
    verdict, _ = run(
        body("with open('big', 'wb') as fh:\n    while True:\n        fh.write(b'0' * (1 << 20))")
    )
    assert verdict.outcome == "output_limit"


@needs_bwrap
def test_filling_the_disk_stays_in_the_private_tmpfs() -> None:
    before = os.statvfs("/tmp").f_bavail
    code = """
i = 0
while True:
    with open(f'fill{i}', 'wb') as fh:
        for _ in range(60):
            fh.write(b'0' * (1 << 20))
    i += 1
"""
    verdict, _ = run(body(code))
    assert verdict.outcome == "output_limit" and "No space left" in verdict.detail
    # the host's /tmp did not lose the sandbox's 512 MiB
    assert os.statvfs("/tmp").f_bavail * os.statvfs("/tmp").f_frsize > (
        before * os.statvfs("/tmp").f_frsize
    ) - (256 << 20)


def test_deep_recursion() -> None:
    verdict, _ = run(body("def f(n):\n    return f(n + 1)\nreturn f(0)"))
    assert verdict.outcome == "runtime_error" and verdict.exception_type == "RecursionError"


def test_ctypes_segfault() -> None:
    verdict, _ = run(body("import ctypes\nctypes.string_at(0)"))
    assert verdict.outcome == "signal" and verdict.exception_type == "SIGSEGV"


def test_raising_its_own_rlimits() -> None:
    code = """
import resource
unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
resource.setrlimit(resource.RLIMIT_CPU, unlimited)
while True:
    pass
"""
    verdict, _ = run(body(code))
    assert verdict.outcome == "runtime_error" and verdict.exception_type == "ValueError"


# --- the file system and secrets ------------------------------------------------------------


@needs_bwrap
@pytest.mark.parametrize("where", ["repo", "etc", "home", "host_tmp"])
def test_writing_outside_the_sandbox(where: str, marker: str) -> None:
    target = {"repo": REPO, "etc": Path("/etc"), "home": Path.home(), "host_tmp": Path("/tmp")}[
        where
    ]
    path = target / marker
    verdict, _ = run(body(f"open({str(path)!r}, 'w').write('pwned')\nreturn 0"))
    assert not path.exists(), f"the sample wrote {path}"
    if where == "host_tmp":  # /tmp is the sandbox's own tmpfs: the write succeeds there only
        assert verdict.outcome == "wrong_answer"
    else:
        assert verdict.outcome == "runtime_error"
        assert verdict.exception_type in {"OSError", "PermissionError", "FileNotFoundError"}


@needs_bwrap
def test_reading_an_environment_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = uuid.uuid4().hex
    monkeypatch.setenv("CODEX_DS_ADVERSARIAL_SECRET", secret)
    verdict, _ = run(
        body("import os\nraise RuntimeError('LEAK ' + os.environ['CODEX_DS_ADVERSARIAL_SECRET'])")
    )
    assert verdict.exception_type == "KeyError" and secret not in verdict.detail


@needs_bwrap
def test_reading_ssh_keys_and_the_workspace_warehouse(tmp_path: Path) -> None:
    secret = uuid.uuid4().hex
    key = tmp_path / ".ssh" / "id_ed25519"
    key.parent.mkdir()
    key.write_text(secret)
    warehouse = tmp_path / "codex_ds_data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    warehouse.write_text(secret)
    for path in (key, warehouse, Path.home() / ".ssh" / "id_rsa"):
        verdict, _ = run(body(f"raise RuntimeError('LEAK ' + open({str(path)!r}).read())"))
        assert verdict.exception_type in {"FileNotFoundError", "PermissionError"}, verdict
        assert secret not in verdict.detail
    listing, _ = run(
        body("import os\nraise RuntimeError(repr(sorted(os.listdir(os.path.expanduser('~')))))")
    )
    assert secret not in listing.detail


@needs_bwrap
def test_connecting_to_a_loopback_server() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        for _ in range(20):
            try:
                accepted.append(server.accept())
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    verdict, _ = run(
        body(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn 0")
    )
    thread.join()
    server.close()
    assert accepted == []
    assert verdict.outcome == "runtime_error"
    assert verdict.exception_type in {"ConnectionRefusedError", "OSError", "TimeoutError"}


# --- the harness itself ---------------------------------------------------------------------


def test_killing_its_worker() -> None:
    verdict, _ = run(body("import os\nos.kill(os.getppid(), 9)\nreturn 0"))
    assert verdict.outcome == "worker_killed" and verdict.failure_class == "runtime"


@needs_bwrap  # without a PID namespace kill(-1) reaches every process of its user
def test_killing_every_process_it_can_see() -> None:
    verdict, _ = run(body("import os\nos.kill(-1, 9)\nreturn 0"))
    assert not verdict.passed
    assert verdict.failure_class == "runtime"


def test_killing_its_own_process_group() -> None:
    verdict, _ = run(body("import os\nos.killpg(0, 9)\nreturn 0"))
    assert verdict.outcome == "signal" and verdict.exception_type == "SIGKILL"


@needs_bwrap
def test_killing_the_test_process_by_pid() -> None:
    verdict, _ = run(body(f"import os\nos.kill({os.getpid()}, 9)\nreturn 0"))
    # the PID namespace hides us: the pid does not exist (or is someone harmless inside)
    assert not verdict.passed


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.exit(0)",
        "import os\nos._exit(0)",
        "raise SystemExit(0)",
        "exit(0)",
    ],
)
def test_early_exit_is_not_a_pass(code: str) -> None:
    verdict, _ = run(body(code))
    assert verdict.outcome == "early_exit" and verdict.failure_class == "runtime"


def test_printing_a_fake_success_marker() -> None:
    verdict, _ = run(body('print(\'{"phase": "done"}\')\nprint("passed")\nreturn 0'))
    assert verdict.outcome == "wrong_answer"


def test_writing_a_fake_verdict_on_every_descriptor() -> None:
    code = """
import os
for fd in range(3, 256):
    try:
        os.write(fd, b'{"phase": "done"}')
    except OSError:
        pass
return 0
"""
    verdict, _ = run(body(code))
    assert not verdict.passed and verdict.outcome == "tampering"


def test_patching_builtins_and_the_check_function() -> None:
    code = """
import builtins, threading, sys
builtins.AssertionError = type('Nope', (Exception,), {})
builtins.isinstance = lambda *a: True
g = sys._getframe().f_globals
threading.Thread(target=lambda: g.update(check=lambda c: None)).start()
return 0
"""
    completion = body(code) + "def check(candidate):\n    pass\n"
    verdict, _ = run(completion)
    assert verdict.outcome == "wrong_answer" and verdict.failing_test_index == 0
    assert verdict.expected == "3" and verdict.actual == "0"


def test_exit_from_an_atexit_hook_or_excepthook() -> None:
    code = """
import atexit, os, sys
atexit.register(lambda: os._exit(0))
sys.excepthook = lambda *a: None
return 0
"""
    verdict, _ = run(body(code))
    assert verdict.outcome == "wrong_answer"


# --- other languages ------------------------------------------------------------------------

JS = Task(
    "adv/javascript/add", "javascript", "function add(a, b) {\n  // a + b\n", "add",
    "  return a + b;\n}\n",
    "const assert = require('node:assert');\nfunction check(candidate) {\n"
    "  assert.deepStrictEqual(candidate(1, 2), 3);\n}\n",
    "math", "easy", "builtin",
)  # fmt: skip
CPP = Task(
    "adv/cpp/add", "cpp", "#include <cassert>\n#include <unistd.h>\n#include <cstdlib>\n"
    "using namespace std;\nint add(int a, int b) {\n", "add", "    return a + b;\n}\n",
    "int main() {\n    assert(add(1, 2) == 3);\n    return 0;\n}\n",
    "math", "easy", "builtin",
)  # fmt: skip


@pytest.mark.skipif(not toolchain("javascript").available, reason="node is not installed")
@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("  process.exit(0);\n}\n", "early_exit"),
        ("  require('child_process').execSync('true');\n  return 0;\n}\n", "runtime_error"),
        ("  return 0;\n}\ncheck = function () {};\n", "wrong_answer"),
        ("  return 0;\n}\nrequire('node:assert').deepStrictEqual = () => {};\n", "wrong_answer"),
        ("  return 0;\n}\nrequire = () => ({ deepStrictEqual() {} });\n", "wrong_answer"),
        ("  require('fs').writeSync(3, '{\"phase\":\"done\"}');\n  return 0;\n}\n", "tampering"),
    ],
)
def test_javascript_tricks(code: str, outcome: str) -> None:
    verdict, _ = run(code, JS, "  return a + b;\n}\n")
    assert verdict.outcome == outcome, verdict


@pytest.mark.skipif(not toolchain("cpp").available, reason="g++ is not installed")
@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("    exit(0);\n}\n", "early_exit"),
        ("    while (true) fork();\n}\n", "timeout"),
        ("    return 0;\n}\n#define assert(x) ((void)0)\n", "wrong_answer"),
        ("    return *(volatile int *)nullptr;\n}\n", "signal"),
    ],
)
def test_cpp_tricks(code: str, outcome: str) -> None:
    verdict, _ = run(code, CPP, "    return a + b;\n}\n")
    assert verdict.outcome == outcome, verdict


def test_a_forged_load_marker_does_not_buy_cpu_time() -> None:
    """With the default two limits, a sample that writes a load-phase marker of its own on
    every descriptor, then loops in the tests, is still cut (within the load limit: the
    worker never sees the real marker first) and never passes."""
    from codex_ds.evaluation import runner

    forge = (
        "    return a + b\n"
        "import os\n"
        "for fd in range(3, 300):\n"
        "    try:\n"
        "        os.write(fd, b'L:' + b'ab' * 16)\n"
        "    except OSError:\n"
        "        pass\n"
        "def add(a, b):\n"
        "    while True:\n"
        "        pass\n"
    )
    samples = [Sample(ADD.task_id, forge, 0), Sample(ADD.task_id, HONEST, 1)]
    verdicts = sorted(evaluate_samples(TASKS, samples, workers=1), key=lambda v: v.sample_index)
    hostile, follow = verdicts
    assert follow.passed
    assert not hostile.passed and hostile.outcome in ("timeout", "tampering")
    assert hostile.cpu_seconds < runner.LOAD_LIMIT_S + 0.3


def test_files_a_sample_leaves_in_tmp_do_not_reach_the_next_sample(marker: str) -> None:
    # A sample could leave answers (or junk) for later samples of its worker outside its own
    # directory; the worker clears its scratch area after every sample.
    task = ADD
    plant = body(
        f"import os\nos.makedirs('/tmp/{marker}_dir', exist_ok=True)\n"
        f"open('/tmp/{marker}', 'w').write('3')\n"
        f"open('/tmp/{marker}_dir/x', 'w').write('3')\nreturn a + b"
    )
    peek = body(
        f"import os\nif os.path.exists('/tmp/{marker}') or os.path.exists('/tmp/{marker}_dir'):\n"
        "    return -1\nreturn a + b"
    )
    samples = [Sample(task.task_id, plant, 0), Sample(task.task_id, peek, 1)]
    verdicts = sorted(
        evaluate_samples({task.task_id: task}, samples, timeout_s=LIMIT_S, workers=1),
        key=lambda v: v.sample_index,
    )
    assert verdicts[0].passed
    assert verdicts[1].passed, f"the second sample saw the first one's files: {verdicts[1]}"
    assert not (Path("/tmp") / marker).exists()
