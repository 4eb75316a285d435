"""The sandbox: pre-started isolated workers that run each sample in a fresh forked child.

Isolation, outermost first:

* **bubblewrap** (when it can run): new user, PID, network, IPC, UTS and cgroup namespaces
  (``--unshare-all``: no network at all), the sandbox user is ``nobody`` with no
  capabilities, the system directories (``/usr`` and the Python installation) are bound
  read-only, ``/tmp`` is a private size-capped tmpfs, ``/proc`` shows only the sandbox's own
  processes, and nothing else is visible: not the repository, the home directory, the
  workspace or its warehouse. The environment is cleared. ``--die-with-parent`` and
  ``--new-session`` tie its lifetime to ours and detach it from our terminal.
* **per sample** (inside the worker, see :mod:`codex_ds.evaluation.sandbox_worker`): a fresh
  ``fork`` in its own session, rlimits (CPU, address space, file size, processes, open files,
  no core), a seccomp filter that refuses to create processes, a wall-clock and a CPU-time
  limit enforced from outside the child, capped output, and a sweep that kills anything left
  in the namespace afterwards.

Where bubblewrap cannot run, the worker still runs each sample in a forked child with the
same rlimits, seccomp filter, session and temporary directory, and :func:`describe_isolation`
says that namespaces are missing (reports print it in their first lines).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import itertools
import json
import os
import platform
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

WORKER_SOURCE = Path(__file__).with_name("sandbox_worker.py")

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sample (CPU and wall seconds; bytes)."""

    cpu_seconds: float = 3.0
    wall_seconds: float | None = None  # None: 2 x (load + cpu) + 2 s
    #: Python only: the program's module-level code (definitions, imports) gets this much
    #: CPU time, then the tests get ``cpu_seconds``; None: one limit for the whole program
    load_cpu_seconds: float | None = None
    memory_bytes: int = 2 * GIB  # address space (RLIMIT_AS)
    file_bytes: int = 64 * MIB  # largest file the sample may write (RLIMIT_FSIZE)
    output_bytes: int = 16 * MIB  # stdout + stderr before the sample is killed
    max_processes: int = 64  # RLIMIT_NPROC

    @property
    def wall(self) -> float:
        if self.wall_seconds is not None:
            return self.wall_seconds
        return 2.0 * (self.cpu_seconds + (self.load_cpu_seconds or 0.0)) + 2.0


TMPFS_BYTES = 512 * MIB


class SandboxError(RuntimeError):
    """The sandbox worker died or answered nonsense (the sample may have killed it)."""


def _python_root() -> Path:
    return Path(sys.base_prefix).resolve()


def bwrap_command(extra_ro: tuple[str, ...] = ()) -> list[str]:
    """The bubblewrap command line that wraps a worker (without the worker itself)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bwrap is not installed (Debian package `bubblewrap`)")
    cmd = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--uid", "65534",
        "--gid", "65534",
        "--cap-drop", "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
        "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            cmd += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            cmd += ["--ro-bind", str(target), f"/{link}"]
    root = _python_root()
    if not str(root).startswith("/usr/"):
        cmd += ["--ro-bind", str(root), str(root)]
    for path in extra_ro:
        cmd += ["--ro-bind", path, path]
    cmd += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
        "--chdir", "/tmp",
        "--remount-ro", "/",
    ]  # fmt: skip
    return cmd


@cache
def bwrap_status() -> tuple[bool, str]:
    """Whether bubblewrap can run here, and why not when it cannot."""
    try:
        cmd = [*bwrap_command(), "--", "/bin/true"]
    except FileNotFoundError as exc:
        return False, str(exc)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {proc.stderr.strip()[:200]}"
    return True, ""


def describe_isolation() -> str:
    """One line naming the isolation in force, for the first lines of every report."""
    ok, reason = bwrap_status()
    per_sample = "rlimits (CPU, memory, file size, processes, open files)"
    if platform.machine() in ("x86_64", "aarch64"):
        per_sample += ", seccomp no-fork"
    else:  # the filter is built for these two architectures only
        per_sample += f", NO seccomp filter on {platform.machine()}"
    if ok:
        return (
            f"bubblewrap (no network, read-only system, private /tmp, no repo/home/workspace) "
            f"+ {per_sample} + wall-clock kill of the process group"
        )
    who = ", runs as nobody" if os.geteuid() == 0 else ""
    return (
        f"FALLBACK without namespaces ({reason}): {per_sample}, own process group, temporary "
        f"directory{who}; the sample can see the file system and the network"
    )


#: where the prebuilt matplotlib font cache is mounted (read-only) inside the sandbox
MATPLOTLIB_CACHE_MOUNT = "/var/cache/codex_ds_matplotlib"


@cache
def matplotlib_font_cache() -> str | None:
    """A matplotlib font cache built once per process, outside the sandbox (or None).

    Importing matplotlib with an empty config directory scans every font and writes
    ``fontlist-*.json`` first; each sample has its own ``MPLCONFIGDIR`` (nothing it leaves
    there reaches the next sample), so without this every sample that imports matplotlib
    would pay for the scan. The worker copies these files into the sample's directory.
    Only matplotlib's own code runs here, never a sample's.
    """
    if importlib.util.find_spec("matplotlib") is None:
        return None
    path = tempfile.mkdtemp(prefix="codex_ds_matplotlib_")
    env = {"PATH": "/usr/bin:/bin", "HOME": path, "MPLCONFIGDIR": path, "LANG": "C.UTF-8"}
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", "import matplotlib.font_manager"],
            env=env, capture_output=True, timeout=120, check=False, cwd=path,
        )  # fmt: skip
        built = proc.returncode == 0 and any(n.startswith("fontlist") for n in os.listdir(path))
    except (OSError, subprocess.TimeoutExpired):
        built = False
    if not built:
        shutil.rmtree(path, ignore_errors=True)
        return None
    os.chmod(path, 0o755)
    for name in os.listdir(path):
        os.chmod(os.path.join(path, name), 0o644)
    atexit.register(shutil.rmtree, path, True)
    return path


class Worker:
    """One pre-started worker process (inside bubblewrap when possible)."""

    _ids = itertools.count()
    #: CPU seconds the workers themselves (not the samples) used, summed over closed workers;
    #: a sandbox's processes are not reaped by us, so their rusage never reaches ours
    closed_worker_cpu_seconds = 0.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._counter = itertools.count()
        self.sandboxed = False
        self.modules: frozenset[str] = frozenset()
        self.restarts = 0
        self.worker_cpu_seconds = 0.0

    def _start(self) -> None:
        source = WORKER_SOURCE.read_text(encoding="utf-8")
        python = str(Path(sys.executable).resolve())
        ok, _ = bwrap_status()
        fonts = matplotlib_font_cache()
        if ok:
            cmd = bwrap_command()
            args = ["--sweep"]
            if fonts is not None:
                cmd[-2:-2] = ["--ro-bind", fonts, MATPLOTLIB_CACHE_MOUNT]  # before --remount-ro
                args += ["--mpl-cache", MATPLOTLIB_CACHE_MOUNT]
            cmd = [*cmd, "--", python, "-I", "-c", source, *args]
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            self.sandboxed = True
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="codex_ds_sandbox_")
            os.chmod(self._tmp.name, 0o711)  # samples run as nobody when we are root
            env = {"PATH": "/usr/bin:/bin", "HOME": self._tmp.name, "LANG": "C.UTF-8"}
            args = ["--mpl-cache", fonts] if fonts is not None else []
            self._proc = subprocess.Popen(
                [python, "-I", "-c", source, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=self._tmp.name,
                env=env,
                start_new_session=True,
            )
            self.sandboxed = False
        hello = self._receive()
        if not hello.get("ready"):
            raise SandboxError(f"sandbox worker did not start: {hello}")
        self.modules = frozenset(hello.get("modules", ()))

    def _receive(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        head = self._proc.stdout.read(4)
        if len(head) < 4:
            raise SandboxError("sandbox worker exited")
        (size,) = struct.unpack("!I", head)
        body = self._proc.stdout.read(size)
        if len(body) < size:
            raise SandboxError("sandbox worker exited mid-answer")
        answer: dict[str, Any] = json.loads(body)
        return answer

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        data = json.dumps(message).encode()
        self._proc.stdin.write(struct.pack("!I", len(data)) + data)
        self._proc.stdin.flush()

    def ensure_started(self) -> None:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one request; a dead worker is restarted and the failure reported as such."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            base = "/tmp" if self.sandboxed else (self._tmp.name if self._tmp else "/tmp")
            request = {**request, "cwd": f"{base}/s{next(self._counter)}"}
            try:
                self._send(request)
                answer = self._receive()
                self.worker_cpu_seconds = float(answer.get("worker_cpu_seconds", 0.0))
                return answer
            except (SandboxError, BrokenPipeError, OSError, ValueError) as exc:
                self._kill()
                self.restarts += 1
                return {"worker_died": True, "error": str(exc), "steps": []}

    def _kill(self, graceful: bool = False) -> None:
        proc = self._proc
        self._proc = None
        Worker.closed_worker_cpu_seconds += self.worker_cpu_seconds
        self.worker_cpu_seconds = 0.0
        if proc is None:
            return
        if graceful and proc.poll() is None:
            # end of input: the worker returns, the sandbox exits and every process in it
            # is reaped in turn (so their CPU time is accounted to us)
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            if not self.sandboxed:
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    def close(self) -> None:
        with self._lock:
            self._kill(graceful=True)
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SandboxPool:
    """``size`` pre-started workers; :meth:`imap_unordered` runs requests on all of them."""

    def __init__(self, size: int = 2) -> None:
        if size < 1:
            raise ValueError(f"workers must be >= 1, got {size}")
        self.workers = [Worker() for _ in range(size)]

    def start(self) -> None:
        for worker in self.workers:
            worker.ensure_started()

    @property
    def modules(self) -> frozenset[str]:
        """Top-level modules the sandbox interpreter can import."""
        self.workers[0].ensure_started()
        return self.workers[0].modules

    def imap_unordered(
        self, jobs: Iterable[tuple[Any, dict[str, Any]]]
    ) -> Iterator[tuple[Any, dict[str, Any]]]:
        """Run ``(key, request)`` jobs; yield ``(key, answer)`` as they finish."""
        todo: queue.Queue[tuple[Any, dict[str, Any]] | None] = queue.Queue(
            maxsize=4 * len(self.workers)
        )
        done: queue.Queue[tuple[Any, dict[str, Any]] | BaseException | None] = queue.Queue()

        def serve(worker: Worker) -> None:
            try:
                while True:
                    job = todo.get()
                    if job is None:
                        return
                    key, request = job
                    done.put((key, worker.run(request)))
            except BaseException as exc:  # surfaced in the consumer
                done.put(exc)
            finally:
                done.put(None)

        threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in self.workers]
        for thread in threads:
            thread.start()
        submitted = 0
        received = 0
        finished_threads = 0
        stop = False
        jobs_iter = iter(jobs)
        try:
            while True:
                # keep the queue topped up without blocking on a full queue
                while not stop and not todo.full():
                    job = next(jobs_iter, None)
                    if job is None:
                        stop = True
                        for _ in threads:
                            todo.put(None)
                        break
                    todo.put(job)
                    submitted += 1
                if stop and received == submitted:
                    break
                item = done.get()
                if item is None:
                    finished_threads += 1
                    if finished_threads == len(threads) and received < submitted:
                        raise SandboxError("all sandbox workers stopped with work pending")
                    continue
                if isinstance(item, BaseException):
                    raise item
                received += 1
                yield item
        finally:
            if not stop:
                # abandoned early: drain the queue and stop the threads
                with contextlib.suppress(queue.Empty):
                    while True:
                        todo.get_nowait()
                for _ in threads:
                    with contextlib.suppress(queue.Full):
                        todo.put_nowait(None)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
