"""The worker that runs inside the sandbox (stdlib only; its source is passed to ``python -c``).

One worker per sandbox. It pre-imports the interpreter's common modules once, then serves
requests from the parent on fd 0 (length-prefixed JSON) and answers on fd 1. Each request is
one sample: the worker forks a fresh child that

1. starts a new session (its own process group), enters a fresh directory, points
   stdin at /dev/null and stdout/stderr at a pipe the worker reads with a cap,
2. sets rlimits (CPU, address space, file size, processes, open files, no core files),
3. installs a seccomp filter that refuses to create processes (threads stay allowed),
4. runs the program (Python in-process; JavaScript and C++ by ``execve`` of node / the
   compiled binary), and reports the outcome on a verdict pipe, tagged with a per-sample
   random nonce that the candidate code never sees before its code has finished.

The worker enforces the wall-clock limit and a CPU-time limit at 10 ms resolution by reading
``/proc/<pid>/stat`` (RLIMIT_CPU, whole seconds, is the backstop; a Python request may give
the program's module-level code a limit of its own, the harness saying on the verdict pipe,
with the nonce, when the tests start), kills the child's whole
process group and then every other process left in the sandbox's PID namespace, and answers
with what it observed. The parent decides the verdict (see ``codex_ds.evaluation.failures``).

This file must not import anything from ``codex_ds``: the sandbox cannot see the repository.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import gc
import json
import os
import platform
import resource
import select
import signal
import struct
import sys
import time
import types
from collections.abc import Callable
from typing import Any

# Pre-import what candidate programs commonly use, so each forked child has it for free.
_PRELOAD = (
    "math", "re", "string", "collections", "itertools", "functools", "heapq", "bisect",
    "random", "statistics", "fractions", "decimal", "hashlib", "typing", "operator",
    "copy", "datetime", "json", "sys", "os", "time", "inspect", "numbers", "array",
    "dataclasses", "enum", "abc", "textwrap", "unicodedata", "cmath", "struct",
)  # fmt: skip

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_NOBODY = 65534
_OUTPUT_KEEP = 2000  # bytes of the sample's output kept for the report


# --- seccomp: no new processes -------------------------------------------------------------

_ARCH = {
    # machine: (AUDIT_ARCH, [process-creating syscalls without CLONE_THREAD], clone, clone3, ptrace)
    "x86_64": (0xC000003E, [57, 58], 56, 435, 101),  # fork, vfork
    "aarch64": (0xC00000B7, [], 220, 435, 117),
}


def _seccomp_no_processes() -> bool:
    """Install the filter prepared at start-up (in the child, just before the sample runs)."""
    if _SECCOMP is None:
        return False
    return _SECCOMP()


def _prepare_seccomp() -> Callable[[], bool] | None:
    """Build the filter that refuses fork/vfork/clone-without-CLONE_THREAD/clone3/ptrace.

    EPERM for all but clone3, which gets ENOSYS so that libc falls back to clone. Built once
    in the worker; installing it in a child is then two prctl calls.
    """
    arch = _ARCH.get(platform.machine())
    if arch is None:
        return None
    audit, forks, nr_clone, nr_clone3, nr_ptrace = arch
    BPF_LD_W_ABS, BPF_JEQ, BPF_JSET, BPF_RET = 0x20, 0x15, 0x45, 0x06
    ALLOW, KILL = 0x7FFF0000, 0x80000000
    EPERM, ENOSYS = 0x00050000 | 1, 0x00050000 | 38
    CLONE_THREAD = 0x00010000
    prog: list[tuple[int, int, int, int]] = []

    def op(code: int, jt: int, jf: int, k: int) -> None:
        prog.append((code, jt, jf, k))

    op(BPF_LD_W_ABS, 0, 0, 4)  # arch
    op(BPF_JEQ, 1, 0, audit)
    op(BPF_RET, 0, 0, KILL)
    op(BPF_LD_W_ABS, 0, 0, 0)  # syscall number
    blocked = [*forks, nr_ptrace]
    # layout: [jeq blocked...] [jeq clone3] [jeq clone] [ret allow] [ret eperm] [ret enosys]
    #         [clone: ld arg0] [jset THREAD] [ret eperm] [ret allow]
    n_blocked = len(blocked)
    for i, nr in enumerate(blocked):
        # distance to "ret eperm": remaining blocked + clone3 + clone + allow
        op(BPF_JEQ, (n_blocked - i - 1) + 3, 0, nr)
    op(BPF_JEQ, 3, 0, nr_clone3)  # -> ret enosys
    op(BPF_JEQ, 3, 0, nr_clone)  # -> clone check
    op(BPF_RET, 0, 0, ALLOW)
    op(BPF_RET, 0, 0, EPERM)
    op(BPF_RET, 0, 0, ENOSYS)
    op(BPF_LD_W_ABS, 0, 0, 16)  # clone flags (low 32 bits of args[0])
    op(BPF_JSET, 1, 0, CLONE_THREAD)
    op(BPF_RET, 0, 0, EPERM)
    op(BPF_RET, 0, 0, ALLOW)
    raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    fprog_ref = ctypes.byref(fprog)
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2

    def install() -> bool:
        _keep = (buf, fprog)  # the filter's memory must outlive the call
        if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return bool(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog_ref, 0, 0) == 0 and _keep)

    return install


_SECCOMP: Callable[[], bool] | None = None


def _set_nondumpable() -> None:
    """Make this process unreadable to its children (/proc/<pid>/fd, /mem, ptrace)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


# --- framing --------------------------------------------------------------------------------


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(fd: int) -> dict:
    (size,) = struct.unpack("!I", _read_exact(fd, 4))
    return json.loads(_read_exact(fd, size))


def _send(fd: int, message: dict) -> None:
    data = json.dumps(message).encode()
    data = struct.pack("!I", len(data)) + data
    while data:
        data = data[os.write(fd, data) :]


# --- the Python harness (runs in the child, after fork) -------------------------------------


def _rewrite_check(tree: ast.Module, test_line: int) -> tuple[int, list[tuple[int, int]]]:
    """Make ``check``'s ``assert a == b`` record (a, b) in a local; return assert line spans.

    ``assert a == b, m`` becomes ``assert (__cds_v := (a, b))[0] == __cds_v[1], m``: the same
    evaluation order and truth test, but the operands stay readable from check's frame.
    """
    check = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check" and node.lineno >= test_line:
            check = node
    if check is None:
        return -1, []
    asserts = sorted(
        (n for n in ast.walk(check) if isinstance(n, ast.Assert)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    spans = []
    for node in asserts:
        spans.append((node.lineno, node.end_lineno or node.lineno))
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            pair = ast.Tuple(elts=[test.left, test.comparators[0]], ctx=ast.Load())
            named = ast.NamedExpr(target=ast.Name(id="__cds_v", ctx=ast.Store()), value=pair)
            left = ast.Subscript(value=named, slice=ast.Constant(0), ctx=ast.Load())
            right = ast.Subscript(
                value=ast.Name(id="__cds_v", ctx=ast.Load()), slice=ast.Constant(1), ctx=ast.Load()
            )
            node.test = ast.Compare(left=left, ops=[ast.Eq()], comparators=[right])
    ast.fix_missing_locations(tree)
    return check.lineno, spans


def _encode_record(
    record: dict,
    *,
    escape: Callable[[str], str] = json.encoder.encode_basestring_ascii,
    isinstance: Callable[..., bool] = isinstance,
    str: type = str,
    bool: type = bool,
    int: type = int,
    int_repr: Callable[[int], str] = int.__repr__,
    join: Callable[[Any], str] = ", ".join,
) -> str:
    """Flat JSON for the failure record, from references bound before the sample ran.

    (The json module's Python layer calls builtins the sample may have patched.)
    """
    parts = []
    for key, value in record.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = int_repr(value)
        elif isinstance(value, str):
            text = escape(value)
        else:
            text = "null"
        parts.append(escape(key) + ": " + text)
    return "{" + join(parts) + "}"


def _mentions_candidate(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "candidate" for n in ast.walk(node))


def _short_repr(value: object, limit: int = 300, *, repr: Callable[[object], str] = repr) -> str:
    try:
        text = repr(value)
    except BaseException as exc:  # a candidate object whose __repr__ raises
        text = f"<unrepresentable: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TEST_CACHE: dict[str, tuple] = {}


def _compile_test(test: str, test_line: int) -> tuple:
    """The test part compiled once per worker and task (trusted text): code, check, spans,
    orientation, with the line numbers of the whole program (``test`` starts on
    ``test_line``), so tracebacks and assert indices match compiling the concatenation.

    The test is compiled once from line 1 and its code objects moved to ``test_line``
    (``co_firstlineno``; CPython stores every other line relative to it), so the cache holds
    one entry per task however long the samples' heads are.
    """
    cached = _TEST_CACHE.get(test)
    if cached is None:
        tree = ast.parse(test, "<program>")
        cached = _compile_tree(tree, 1)
        if len(_TEST_CACHE) < 1024:
            _TEST_CACHE[test] = cached
    code, check_code, spans, orientation = cached
    delta = test_line - 1
    if delta == 0:
        return cached
    moved = _move_code(code, delta)
    moved_check = None
    if check_code is not None:
        for const in moved.co_consts:
            if (
                isinstance(const, types.CodeType)
                and const.co_name == "check"
                and (const.co_firstlineno == check_code.co_firstlineno + delta)
            ):
                moved_check = const
    return (
        moved,
        moved_check,
        [(start + delta, end + delta) for start, end in spans],
        {line + delta: side for line, side in orientation.items()},
    )


def _move_code(code: types.CodeType, delta: int) -> types.CodeType:
    """``code`` and the code objects nested in it, ``delta`` lines further down."""
    consts = tuple(
        _move_code(c, delta) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)


def _compile_tree(tree: ast.Module, test_line: int) -> tuple:
    check_line, spans = _rewrite_check(tree, test_line)
    # orientation: which operand of each rewritten assert holds the candidate's answer
    orientation: dict[int, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            left = node.test.left
            if isinstance(left, ast.Subscript) and isinstance(left.value, ast.NamedExpr):
                pair = left.value.value
                assert isinstance(pair, ast.Tuple)
                a, b = pair.elts
                orientation[node.lineno] = _mentions_candidate(a) or not _mentions_candidate(b)
    code = compile(tree, "<program>", "exec", dont_inherit=True)
    check_code = None
    for const in code.co_consts:
        if (
            isinstance(const, types.CodeType)
            and const.co_name == "check"
            and const.co_firstlineno == check_line
        ):
            check_code = const
    return code, check_code, spans, orientation


def _python_child(
    req: dict,
    test: tuple | None,
    passed: Callable[[], None],
    report: Callable[[dict], None],
    loaded: Callable[[], None],
) -> None:
    """Compile, exec, call check(entry_point); report exactly what happened.

    The program is HumanEval's concatenation ``head + test`` (head = prompt + completion +
    newline). When the head compiles on its own (and has no ``__future__`` import) the two
    parts are compiled separately: the test was compiled by the worker before the fork
    (``test``, once per worker and task); two valid modules joined at a line boundary execute
    exactly as their concatenation does. Otherwise the whole program is compiled, so a syntax
    error is reported as compiling the concatenation reports it. ``loaded()`` tells the
    worker that the program's module-level code has run and the tests start.
    """
    exception_record = _exception_record
    function_type = types.FunctionType
    source = req["program"]
    head_chars = req.get("head_chars")
    codes: list = []
    try:
        head_code = None
        if head_chars is not None and "__future__" not in source[:head_chars]:
            try:
                head_code = compile(source[:head_chars], "<program>", "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                head_code = None
        if head_code is not None and test is not None:
            test_code, check_code, spans, orientation = test
            codes = [head_code, test_code]
        else:
            tree = ast.parse(source, "<program>")
            whole, check_code, spans, orientation = _compile_tree(tree, req["test_line"])
            codes = [whole]
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        report({"phase": "compile", "exc": type(exc).__name__, "msg": str(exc)[:500],
                "line": getattr(exc, "lineno", None)})  # fmt: skip
        return
    namespace: dict = {}
    try:
        for code in codes:
            exec(code, namespace)
    except BaseException as exc:
        try:
            record = exception_record("exec", exc, None, spans, orientation)
        except BaseException:
            record = {"phase": "exec", "exc": None, "msg": "unreportable exception"}
        report(record)
        return
    loaded()
    if check_code is None:
        report({"phase": "harness", "exc": None, "msg": "the test defines no check() function"})
        return
    entry = req["entry_point"]
    if entry not in namespace:
        report({"phase": "entry", "exc": "NameError", "msg": f"name '{entry}' is not defined"})
        return
    # A fresh function from the compiled test code: the sample cannot have replaced it.
    check = function_type(check_code, namespace, "check")
    try:
        check(namespace[entry])
    except BaseException as exc:
        try:
            record = exception_record("check", exc, check_code, spans, orientation)
        except BaseException:
            record = {"phase": "check", "exc": None, "msg": "unreportable exception"}
        report(record)
        return
    passed()


def _exception_record(
    phase: str,
    exc: BaseException,
    check_code: types.CodeType | None,
    spans: list[tuple[int, int]],
    orientation: dict[int, bool],
    *,
    isinstance: Callable[..., bool] = isinstance,  # bound now: the sample may patch builtins
    len: Callable[..., int] = len,
    type: Callable[..., type] = type,
    str: Callable[..., str] = str,
    tuple: type = tuple,
    enumerate: Callable[..., Any] = enumerate,
    AssertionError: type = AssertionError,
    SystemExit: type = SystemExit,
) -> dict:
    record: dict = {"phase": phase, "exc": type(exc).__name__, "msg": _short_repr(exc, 500)}
    with contextlib.suppress(Exception):
        record["msg"] = str(exc)[:500]
    if isinstance(exc, SystemExit):
        record["msg"] = f"SystemExit({exc.code!r})"[:500]  # type: ignore[attr-defined]
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    if frames:
        record["line"] = frames[-1][1]
        record["where"] = frames[-1][0].f_code.co_name
    if check_code is not None:
        in_check = [(f, ln) for f, ln in frames if f.f_code is check_code]
        if in_check:
            frame, line = in_check[-1]
            for index, (start, end) in enumerate(spans):
                if start <= line <= end:
                    record["index"] = index
                    break
            record["raised_in_check"] = frames[-1][0] is frame
            if record["raised_in_check"] and isinstance(exc, AssertionError):
                pair: Any = frame.f_locals.get("__cds_v")
                start_line = spans[record["index"]][0] if "index" in record else None
                if (
                    isinstance(pair, tuple)
                    and len(pair) == 2
                    and start_line is not None
                    and start_line in orientation
                ):
                    actual, expected = pair if orientation[start_line] else (pair[1], pair[0])
                    record["actual"] = _short_repr(actual)
                    record["expected"] = _short_repr(expected)
    return record


# --- one sample -----------------------------------------------------------------------------


def _child_setup(req: dict, step: dict, out_w: int, verdict_w: int) -> int:
    """In the forked child: session, cwd, stdio, rlimits, seccomp. Returns the verdict fd."""
    os.setsid()
    os.chdir(req["cwd"])
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    verdict_fd = 3 + int.from_bytes(os.urandom(2), "big") % 200
    os.dup2(verdict_w, verdict_fd)
    os.closerange(3, verdict_fd)
    os.closerange(verdict_fd + 1, 1024)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGXCPU):
        signal.signal(sig, signal.SIG_DFL)
    cpu = int(float(step["cpu_limit"]) + float(step.get("load_cpu_limit") or 0.0)) + 1
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_AS: (step["memory_bytes"], step["memory_bytes"]),
        resource.RLIMIT_FSIZE: (req["file_bytes"], req["file_bytes"]),
        resource.RLIMIT_NPROC: (step["max_processes"], step["max_processes"]),
        resource.RLIMIT_NOFILE: (256, 256),
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, value in limits.items():
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, value)
    if os.geteuid() == 0:
        # Only without namespaces (the fallback run as root): become nobody, so the sample
        # cannot signal or write as root, and RLIMIT_NPROC binds.
        os.setgroups([])
        os.setgid(_NOBODY)
        os.setuid(_NOBODY)
    return verdict_fd


def _run_child(
    req: dict, step: dict, nonce: str, out_w: int, verdict_w: int, test: tuple | None
) -> None:
    verdict_fd = _child_setup(req, step, out_w, verdict_w)
    # Everything the harness needs after the sample's code has run is bound here, before it
    # runs: patching modules or builtins later does not reach these references.
    write = os.write
    dumps = _encode_record
    passed_message = b"P:" + nonce.encode()
    failed_prefix = b"F:" + nonce.encode() + b":"
    loaded_message = b"L:" + nonce.encode()

    def send(data: bytes) -> None:
        while data:
            data = data[write(verdict_fd, data) :]

    def passed() -> None:
        # A pass is a separate code path writing a fixed message: no failure record, however
        # its encoding is tampered with, can turn into it.
        send(passed_message)

    def failed(record: dict) -> None:
        try:
            body = dumps(record).encode("ascii")
        except BaseException:
            body = b'{"phase": "unreportable"}'
        send(failed_prefix + body)

    def loaded() -> None:
        # the module-level code has run: from here on the tests' CPU-time limit applies
        if two_phase:
            send(loaded_message)

    two_phase = step.get("load_cpu_limit") is not None

    argv = step.get("argv")
    if argv is None:  # Python, in this process
        if step["seccomp"]:
            _seccomp_no_processes()
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        # Nothing a sample leaves in its home directory reaches the next sample.
        os.environ["HOME"] = req["cwd"]
        os.environ["MPLCONFIGDIR"] = os.path.join(req["cwd"], ".matplotlib")
        _python_child(req, test, passed, failed, loaded)
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
        os._exit(0)
    # Another language: exec the tool; a harness inside the program reports on fd 3.
    if verdict_fd != 3:
        os.dup2(verdict_fd, 3)
        os.close(verdict_fd)
    # Only the harness's own text carries the nonce; the sample's text is never substituted.
    stdin_data = (
        step.get("stdin_prefix", "") + step.get("stdin_suffix", "").replace("@NONCE@", nonce)
    ).encode()
    if stdin_data:
        r, w = os.pipe()
        with contextlib.suppress(OSError):
            import fcntl

            fcntl.fcntl(w, 1031, max(65536, len(stdin_data) + 4096))  # F_SETPIPE_SZ
        os.write(w, stdin_data)
        os.close(w)
        os.dup2(r, 0)
        os.close(r)
    if step["seccomp"]:
        _seccomp_no_processes()
    env = {"PATH": "/usr/bin:/bin", "HOME": req["cwd"], "LANG": "C.UTF-8", "TMPDIR": req["cwd"]}
    argv = [a.replace("@CWD@", req["cwd"]) for a in argv]
    os.execve(argv[0], argv, env)


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def _sweep(own: set[int]) -> int:
    """SIGKILL every process in this PID namespace but ourselves; return how many."""
    killed = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in own:
            with contextlib.suppress(OSError):
                os.kill(int(name), signal.SIGKILL)
                killed += 1
    return killed


def _prepared_test(req: dict, step: dict) -> tuple | None:
    """The test part of a Python program compiled here, in the worker, before the fork.

    The test is the task's own (trusted) text; compiling it once per worker and task keeps
    that work out of every sample's child. ``None`` when the program is compiled whole.
    """
    head_chars = req.get("head_chars")
    if step.get("argv") is not None or head_chars is None:
        return None
    source = req["program"]
    if "__future__" in source[:head_chars]:
        return None
    try:
        return _compile_test(source[head_chars:], req["test_line"])
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None  # the child compiles the whole program and reports the error


def run_step(req: dict, step: dict, own: set[int], sweep: bool) -> dict:
    """Run one step (one fork, maybe one execve) under the limits; say what was observed.

    With ``load_cpu_limit`` (Python) the CPU-time limit has two phases: the program's
    module-level code (its definitions and imports) runs under ``load_cpu_limit``; once the
    harness says it has run, the tests get ``cpu_limit`` more.
    """
    test = _prepared_test(req, step)
    nonce = os.urandom(16).hex()
    out_r, out_w = os.pipe()
    verdict_r, verdict_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 71
        try:
            os.close(out_r)
            os.close(verdict_r)
            _run_child(req, step, nonce, out_w, verdict_w, test)
        except BaseException:
            code = 72
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(verdict_w)
    pidfd = None  # readable once the child has exited: no polling for its exit
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(pid)
    load_limit = step.get("load_cpu_limit")
    cpu_limit = float(step["cpu_limit"] if load_limit is None else load_limit)
    loaded_message = b"L:" + nonce.encode() if load_limit is not None else None
    phase = "load" if load_limit is not None else None
    wall_limit = float(step["wall_limit"])
    output_cap = int(req["output_bytes"])
    output = bytearray()
    output_total = 0
    verdict = bytearray()
    killed = None
    open_fds = {out_r, verdict_r}
    waited = None
    next_cpu_check = start + 0.01
    while True:
        now = time.monotonic()
        if now - start >= wall_limit:
            killed = "wall"
            break
        if now >= next_cpu_check:
            next_cpu_check = now + 0.01
            if _cpu_seconds(pid) > cpu_limit:
                killed = "cpu"
                break
        if not open_fds:
            # the child closed its pipes: it is exiting (or left them to a survivor)
            wpid, status, usage = os.wait4(pid, os.WNOHANG)
            if wpid:
                waited = (status, usage)
                break
            if pidfd is None:
                time.sleep(0.001)
            else:
                wait = max(0.0, min(next_cpu_check, start + wall_limit) - now)
                select.select([pidfd], [], [], wait)
            continue
        timeout = max(0.0, min(next_cpu_check, start + wall_limit) - now)
        ready, _, _ = select.select(list(open_fds), [], [], timeout)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                os.close(fd)
            elif fd == out_r:
                output_total += len(chunk)
                if len(output) < _OUTPUT_KEEP:
                    output += chunk[: _OUTPUT_KEEP - len(output)]
            elif len(verdict) < 1 << 20:
                verdict += chunk
                if phase == "load" and loaded_message and verdict.startswith(loaded_message):
                    # the tests start: they get cpu_limit more than the load used
                    phase = "check"
                    cpu_limit = _cpu_seconds(pid) + float(step["cpu_limit"])
        if output_total > output_cap:
            killed = "output"
            break
    if killed is not None or waited is None:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if waited is None:
        _, status, usage = os.wait4(pid, 0)
    else:
        status, usage = waited
    wall = time.monotonic() - start
    for fd in open_fds:
        os.close(fd)
    if pidfd is not None:
        os.close(pidfd)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    # with the no-fork filter in force nothing can outlive the child: no sweep needed
    swept = _sweep(own) if sweep and not (step["seccomp"] and _SECCOMP is not None) else 0
    record = None
    if phase == "check":
        del verdict[: len(loaded_message or b"")]
    if verdict:
        record = _parse_verdict(bytes(verdict), nonce)
    return {
        "report": record,
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "killed": killed,
        "phase": phase,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": wall,
        "max_rss_kb": usage.ru_maxrss,
        "output_bytes": output_total,
        "output": bytes(output).decode("utf-8", "replace"),
        "swept": swept,
    }


def _parse_verdict(data: bytes, nonce: str) -> dict:
    """``P:<nonce>`` is a pass; ``F:<nonce>:<json>`` a failure record; anything else forged."""
    if data == b"P:" + nonce.encode():
        return {"phase": "done"}
    prefix = b"F:" + nonce.encode() + b":"
    if data.startswith(prefix):
        try:
            record = json.loads(data[len(prefix) :].decode("utf-8", "replace"))
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("phase") != "done":
            return record
        return {"phase": "unreportable"}
    return {"forged": True}


def run_request(req: dict, own: set[int], sweep: bool) -> dict:
    """Write the request's files into a fresh directory, run its steps until one fails."""
    os.makedirs(req["cwd"], exist_ok=True)
    if os.geteuid() == 0:
        os.chown(req["cwd"], _NOBODY, _NOBODY)
    try:
        for name, text in req.get("files", {}).items():
            with open(os.path.join(req["cwd"], name), "w", encoding="utf-8") as fh:
                fh.write(text)
        if _MATPLOTLIB_CACHE and "matplotlib" in req.get("program", ""):
            _copy_matplotlib_cache(_MATPLOTLIB_CACHE, req["cwd"])
        results = []
        for step in req["steps"]:
            result = run_step(req, step, own, sweep)
            result["step"] = step["name"]
            results.append(result)
            if result["exit_code"] != 0 or result["killed"]:
                break
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"steps": results, "worker_cpu_seconds": usage.ru_utime + usage.ru_stime}
    finally:
        _remove_tree(req["cwd"])
        _clear_scratch(os.path.dirname(req["cwd"]))


def _clear_scratch(base: str) -> None:
    """Remove whatever a sample left in the worker's scratch area (``/tmp`` in the sandbox)
    outside its own directory, so that nothing written there reaches the next sample."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(entry.path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


_MATPLOTLIB_CACHE: str | None = None  # a font cache built outside, read-only in here


def _copy_matplotlib_cache(source: str, cwd: str) -> None:
    """Give the sample its own copy of the prebuilt font cache (MPLCONFIGDIR is per sample):
    importing matplotlib then reads it instead of scanning every font, and nothing one sample
    does to it reaches another."""
    target = os.path.join(cwd, ".matplotlib")
    with contextlib.suppress(OSError):
        os.mkdir(target)
        for name in os.listdir(source):
            with open(os.path.join(source, name), "rb") as src:
                data = src.read()
            with open(os.path.join(target, name), "wb") as dst:
                dst.write(data)
            if os.geteuid() == 0:
                os.chown(os.path.join(target, name), _NOBODY, _NOBODY)
        if os.geteuid() == 0:
            os.chown(target, _NOBODY, _NOBODY)


def _remove_tree(path: str) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(root, name))
        for name in dirs:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(root, name))
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _available_modules() -> list[str]:
    import pkgutil

    names = set(sys.builtin_module_names)
    names.update(m.name for m in pkgutil.iter_modules())
    return sorted(names)


def serve(sweep: bool, matplotlib_cache: str | None = None) -> None:
    """Answer requests on fd 0/1 until EOF."""
    global _MATPLOTLIB_CACHE
    if matplotlib_cache and os.path.isdir(matplotlib_cache):
        _MATPLOTLIB_CACHE = matplotlib_cache
    for name in _PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(name)
    global _SECCOMP
    _SECCOMP = _prepare_seccomp()
    _set_nondumpable()
    own = {os.getpid(), 1}
    if sweep:
        # bwrap's reaper (pid 1) is our parent inside the namespace
        own.add(os.getppid())
    gc.freeze()  # what we inherit stays out of the children's collections (fewer copied pages)
    _send(1, {"ready": True, "pid": os.getpid(), "modules": _available_modules(),
              "seccomp": platform.machine() in _ARCH})  # fmt: skip
    while True:
        try:
            req = _recv(0)
        except EOFError:
            return
        if req.get("probe"):
            _send(1, {"probe": True})
            continue
        _send(1, run_request(req, own, sweep))


if __name__ == "__main__":
    _args = sys.argv[1:]
    serve(
        sweep="--sweep" in _args,
        matplotlib_cache=_args[_args.index("--mpl-cache") + 1] if "--mpl-cache" in _args else None,
    )
