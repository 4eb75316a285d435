"""The browser harness shared by the end-to-end tests and ``benchmarks/bench_dashboard.py``:
start the real server (``codex-ds dashboard``) on a free loopback port, and wait in a
Playwright page until a dashboard page has finished rendering.

Playwright (the ``e2e`` extra) drives the system Chromium (Debian package ``chromium``)
through ``executable_path``; nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codex_ds.dashboard.app import PAGES


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def path_of(url: str) -> str:
    """The default (first) page is served at /, not at its url path."""
    return "" if url == PAGES[0][2] else url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(home: Path, log: Path, timeout: float = 90.0) -> Iterator[str]:
    """Run ``codex-ds --home HOME dashboard`` (own process group, output in ``log``: a pipe
    nobody reads would block it) and yield its base URL once /_stcore/health answers."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "codex_ds", "--home", str(home), "dashboard",
             "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited: {log.read_text()}")
            try:
                url = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the dashboard did not become healthy in time") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


RENDERED_JS = """(title) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const h1 = document.querySelector('h1');
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
        && h1 !== null && h1.innerText.trim() === title
        && !document.getElementById('root').hasAttribute('inert');
}"""


def wait_rendered(page: Any, title: str, timeout_ms: int = 60_000) -> None:
    """Until the page titled ``title`` has finished its script run (the app says
    notRunning) and no dialog (such as "Page not found") makes the app inert; then until
    no element is a loading skeleton (Plotly's component loads lazily) and every Plotly chart
    has drawn."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(RENDERED_JS, arg=title, timeout=timeout_ms)
        page.wait_for_function(
            """() => document.querySelector('[data-testid="stMain"] [data-testid="stSkeleton"]')
                    === null
                && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                    .every(c => c.querySelector('.main-svg') !== null)""",
            timeout=timeout_ms,
        )
    except PlaywrightTimeout:
        body = page.inner_text("body")
        raise AssertionError(f"{page.url} did not finish rendering: {body[:2000]}") from None
