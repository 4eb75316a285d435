"""Fixtures of the evaluation tests: an OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from codex_ds.evaluation.tasks import Task
from codex_ds.evaluation.tasks.builtin_tasks import load_builtin


class OpenAICompatibleServer:
    """An OpenAI-compatible server that answers each prompt with its task's reference.

    ``plan(path, body, count)`` may return (status, headers, body) to override the answer
    (count is the number of requests so far for the same prompt), or a float to sleep first.
    """

    def __init__(
        self, tasks: dict[str, Task], plan: Callable[[str, dict[str, Any], int], Any] | None
    ):
        self.tasks = {t.prompt: t for t in tasks.values()}
        self.plan = plan
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.max_choices = 1  # like llama.cpp, ignore the request's n unless raised
        self.per_prompt: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                outer.handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        prompt = body.get("prompt") or body["messages"][-1]["content"]
        with self.lock:
            self.requests.append((h.path, body))
            self.per_prompt[prompt] += 1
            count = self.per_prompt[prompt]
        override = self.plan(h.path, body, count) if self.plan else None
        if isinstance(override, float):
            time.sleep(override)
            override = None
        if override is not None:
            status, headers, text = override
            self._send(h, status, headers, text)
            return
        task = self.tasks[prompt]
        if h.path.endswith("/chat/completions"):
            content = f"Sure.\n```{task.language}\n{task.prompt}{task.canonical_solution}```\n"
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": content},
            }
        else:
            choice = {"index": 0, "text": task.canonical_solution}
        choice["finish_reason"] = "stop"
        payload = {
            "id": "cmpl-test",
            "choices": [
                {**choice, "index": i}
                for i in range(max(1, min(int(body.get("n", 1)), self.max_choices)))
            ],
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 7},
        }
        self._send(h, 200, {}, json.dumps(payload))

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], text: str) -> None:
        data = text.encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


@pytest.fixture
def serve() -> Iterator[Callable[..., OpenAICompatibleServer]]:
    """Start servers (answering with each task's reference) that stop after the test."""
    tasks = load_builtin()
    servers: list[OpenAICompatibleServer] = []

    def start(
        plan: Callable[[str, dict[str, Any], int], Any] | None = None,
    ) -> OpenAICompatibleServer:
        server = OpenAICompatibleServer(tasks, plan)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()
