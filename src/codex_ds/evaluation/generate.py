"""Generation: three providers of completions behind one interface.

``make_provider(spec)`` parses a model spec and returns a :class:`Provider` whose
``generate(tasks, n)`` yields one :class:`Generation` per (task, sample index): the
:class:`~codex_ds.evaluation.runner.Sample` plus generation metadata (tokens, latency, the
simulated candidate kind).

* ``simulated:VERSION`` -- the deterministic stand-in model family of
  :mod:`codex_ds.evaluation.simulated` (labelled *simulated* everywhere).
* ``replay:FILE`` -- completions from a JSONL file in the human-eval sample format
  (``{"task_id": ..., "completion": ...}`` a line; a task's samples are numbered in file
  order). Malformed lines and unknown task ids raise :class:`SamplesFileError` naming the file
  and the line numbers.
* ``openai:MODEL`` -- any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server)
  over ``/v1/chat/completions`` (default) or ``/v1/completions``: temperature, max tokens, stop
  sequences; ``samples_per_request`` choices a request (the API's ``n``; 1 by default, for
  servers that ignore it), ``concurrency`` requests at a time on a thread pool; 429, 5xx,
  time-outs and connection errors are retried with exponential back-off (honouring
  ``Retry-After``); every finished sample is appended to a JSONL cache keyed by model, prompt,
  parameters and sample index, so a killed or failed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from codex_ds.evaluation.runner import Sample
from codex_ds.evaluation.simulated import VERSIONS, UnknownVersionError, simulate_candidate
from codex_ds.evaluation.tasks import Task

__all__ = [
    "EndpointError",
    "Generation",
    "GenerationError",
    "OpenAIProvider",
    "Provider",
    "ProviderKind",
    "ReplayProvider",
    "SamplesFileError",
    "SimulatedProvider",
    "completion_from_chat",
    "extract_code",
    "make_provider",
    "read_samples_file",
]

ProviderKind = Literal["simulated", "replay", "openai"]
Progress = Callable[[int, int], None]


class GenerationError(RuntimeError):
    """Generation could not proceed (bad spec, bad file, endpoint failure)."""


class SamplesFileError(GenerationError):
    """A replay file with malformed lines or unknown task ids."""


class EndpointError(GenerationError):
    """An endpoint that kept failing after the retries (finished samples stay cached)."""


@dataclass(frozen=True)
class Generation:
    """One sample and how it was generated."""

    sample: Sample
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    candidate_kind: str | None = None  # simulated only: the planted kind of candidate
    cached: bool = False


class Provider(Protocol):
    """Something that writes completions for tasks."""

    kind: ProviderKind

    @property
    def model(self) -> str:
        """The spec, e.g. ``simulated:v1``."""
        ...

    @property
    def label(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    def generate(
        self,
        tasks: Mapping[str, Task],
        n: int,
        *,
        progress: Progress | None = None,
    ) -> Iterator[Generation]: ...


# --- simulated ------------------------------------------------------------------------------


@dataclass
class SimulatedProvider:
    """``simulated:VERSION``: deterministic candidates from the simulated model family."""

    version: str
    kind: ProviderKind = "simulated"

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise UnknownVersionError(
                f"unknown simulated version {self.version!r}: choose one of {', '.join(VERSIONS)}"
            )

    @property
    def model(self) -> str:
        return f"simulated:{self.version}"

    @property
    def label(self) -> str:
        return f"simulated:{self.version} (SIMULATED model, not a real LLM)"

    @property
    def params(self) -> dict[str, Any]:
        return {"version": self.version}

    def generate(
        self, tasks: Mapping[str, Task], n: int, *, progress: Progress | None = None
    ) -> Iterator[Generation]:
        total = len(tasks) * n
        speed = VERSIONS[self.version].tokens_per_second
        done = 0
        for task in tasks.values():
            prompt_tokens = len(_TOKEN.findall(task.prompt))
            for i in range(n):
                cand = simulate_candidate(self.version, task, i)
                tokens = len(_TOKEN.findall(cand.completion))
                yield Generation(
                    Sample(task.task_id, cand.completion, i),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=tokens,
                    latency_s=round(0.05 + tokens / speed, 4),
                    candidate_kind=cand.kind,
                )
                done += 1
                if progress is not None:
                    progress(done, total)


_TOKEN = re.compile(r"\w+|[^\w\s]")


# --- replay ---------------------------------------------------------------------------------


def read_samples_file(
    path: str | Path, tasks: Mapping[str, Task], *, known: Collection[str] | None = None
) -> list[Sample]:
    """Read a human-eval samples JSONL file; every problem names its file and lines.

    Samples of tasks in ``known`` (the whole task set) but not in ``tasks`` (the tasks chosen
    for this run) are skipped; a task id in neither is an error.

    Each line is ``{"task_id": str, "completion": str}`` (other keys are ignored). Samples of
    a task are numbered 0, 1, … in file order. Blank lines are skipped. An empty completion
    is a valid (failing) sample.
    """
    p = Path(path)
    if not p.is_file():
        raise SamplesFileError(f"{p}: no such samples file")
    malformed: list[str] = []
    unknown: dict[str, list[int]] = {}
    samples: list[Sample] = []
    counts: dict[str, int] = {}
    with p.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                malformed.append(f"line {lineno}: not JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                malformed.append(f"line {lineno}: not a JSON object")
                continue
            task_id, completion = row.get("task_id"), row.get("completion")
            if not isinstance(task_id, str):
                malformed.append(f"line {lineno}: field task_id missing or not a string")
                continue
            if not isinstance(completion, str):
                malformed.append(f"line {lineno}: field completion missing or not a string")
                continue
            if task_id not in tasks:
                if known is None or task_id not in known:
                    unknown.setdefault(task_id, []).append(lineno)
                continue
            index = counts.get(task_id, 0)
            counts[task_id] = index + 1
            samples.append(Sample(task_id, completion, index))
    problems: list[str] = []
    if malformed:
        shown = "; ".join(malformed[:10])
        more = f" (and {len(malformed) - 10} more)" if len(malformed) > 10 else ""
        problems.append(f"{len(malformed)} malformed line(s): {shown}{more}")
    if unknown:
        shown = "; ".join(
            f"{tid!r} (line {', '.join(map(str, lines[:3]))})"
            for tid, lines in list(unknown.items())[:10]
        )
        problems.append(f"{len(unknown)} unknown task id(s) not in the task set: {shown}")
    if problems:
        raise SamplesFileError(f"{p}: " + "; ".join(problems))
    if not samples:
        raise SamplesFileError(f"{p}: no samples")
    return samples


@dataclass
class ReplayProvider:
    """``replay:FILE``: completions recorded elsewhere (human-eval sample format)."""

    path: Path
    kind: ProviderKind = "replay"
    known: frozenset[str] | None = None  # every task id of the set (others are errors)

    @property
    def model(self) -> str:
        return f"replay:{self.path}"

    @property
    def label(self) -> str:
        return f"replay of {self.path.name} (recorded completions)"

    @property
    def params(self) -> dict[str, Any]:
        return {"file": str(self.path)}

    def samples_per_task(self, tasks: Mapping[str, Task]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in read_samples_file(self.path, tasks, known=self.known):
            counts[s.task_id] = counts.get(s.task_id, 0) + 1
        return counts

    def generate(
        self, tasks: Mapping[str, Task], n: int, *, progress: Progress | None = None
    ) -> Iterator[Generation]:
        """Every sample in the file for the given tasks (``n`` is ignored: the file decides)."""
        samples = read_samples_file(self.path, tasks, known=self.known)
        for done, s in enumerate(samples, start=1):
            completion = normalise_completion(tasks[s.task_id], s.completion)
            yield Generation(Sample(s.task_id, completion, s.sample_index))
            if progress is not None:
                progress(done, len(samples))


# --- completions from chat answers ------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([\w+#-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FENCE_LANGS = {
    "python": ("python", "py", "python3"),
    "javascript": ("javascript", "js", "node", "nodejs"),
    "cpp": ("cpp", "c++", "cxx", "cc"),
}


def extract_code(text: str, language: str) -> str:
    """The code of a chat answer: the first fenced block in the language (or any fenced
    block, or the whole text when there is none).

    >>> extract_code("Sure:\\n```python\\ndef f():\\n    return 1\\n```\\nDone.", "python")
    'def f():\\n    return 1\\n'
    """
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    if not blocks:
        return text
    for tag, body in blocks:
        if tag in _FENCE_LANGS.get(language, ()):
            return body
    return blocks[0][1]


def normalise_completion(task: Task, code: str) -> str:
    """Turn code that repeats the prompt or the whole function into a completion.

    Python is left as it is (human-eval runs ``prompt + completion``: a repeated definition
    simply replaces the prompt's, which is also how the reference harness scores it).
    JavaScript and C++ cannot define the function twice: a completion that repeats the
    prompt loses it, and one that repeats the signature keeps what follows its ``{``.
    """
    if task.language == "python":
        return code
    if code.startswith(task.prompt):
        return code[len(task.prompt) :]
    stripped = code.lstrip()
    if stripped.startswith(task.prompt.lstrip()):
        return stripped[len(task.prompt.lstrip()) :]
    name = re.escape(task.entry_point)
    pattern = rf"function\s+{name}\s*\(" if task.language == "javascript" else rf"\b{name}\s*\("
    m = re.search(pattern + r"[^)]*\)[^{;]*\{", code)
    if m is None:
        return code
    return code[m.end() :].lstrip("\n")


def completion_from_chat(task: Task, answer: str) -> str:
    """Completion for ``task`` from a chat model's answer (fenced code, prompt removed)."""
    code = extract_code(answer, task.language)
    if task.language == "python":
        if code.startswith(task.prompt):
            return code[len(task.prompt) :]
        # a whole definition (with its imports) goes after the prompt on its own lines
        if re.search(rf"^def\s+{re.escape(task.entry_point)}\s*\(", code, re.MULTILINE):
            return "\n" + code
        return code
    return normalise_completion(task, code)


# --- openai-compatible ------------------------------------------------------------------------

Api = Literal["chat", "completions"]
DEFAULT_STOP: dict[str, tuple[str, ...]] = {
    "python": ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"),
    "javascript": ("\nfunction ", "\n/*", "\n//", "\nconsole.log"),
    "cpp": ("\nint main", "\n/*", "\n//"),
}
CHAT_SYSTEM = (
    "You are a code completion model. Complete the {language} function the user gives you. "
    "Answer with the complete function in one fenced code block and nothing else."
)


@dataclass
class OpenAIProvider:
    """``openai:MODEL`` against any OpenAI-compatible server."""

    model_name: str
    base_url: str = "https://api.openai.com/v1"
    api: Api = "chat"
    temperature: float = 0.2
    max_tokens: int = 512
    stop: tuple[str, ...] | None = None  # None: per-language defaults (completions API only)
    concurrency: int = 4
    samples_per_request: int = 1  # the API's n: choices asked for in one request
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    api_key: str | None = None
    cache_path: Path | None = None
    kind: ProviderKind = "openai"
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @property
    def model(self) -> str:
        return f"openai:{self.model_name}"

    @property
    def label(self) -> str:
        return f"openai:{self.model_name} at {self.base_url} ({self.api} API)"

    @property
    def params(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "api": self.api,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop) if self.stop is not None else None,
        }

    # cache ----------------------------------------------------------------------------------
    def cache_key(self, task: Task, sample_index: int) -> str:
        payload = json.dumps(
            {
                "model": self.model_name,
                "base_url": self.base_url.rstrip("/"),
                "api": self.api,
                "prompt": task.prompt,
                "language": task.language,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "stop": list(self._stop(task)),
                "sample_index": sample_index,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def _read_cache(self) -> dict[str, dict[str, Any]]:
        cached: dict[str, dict[str, Any]] = {}
        if self.cache_path is None or not self.cache_path.exists():
            return cached
        with self.cache_path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short when a run was killed: regenerate that sample
                if isinstance(row, dict) and isinstance(row.get("key"), str):
                    cached[row["key"]] = row
        return cached

    # requests -------------------------------------------------------------------------------
    def _stop(self, task: Task) -> tuple[str, ...]:
        if self.stop is not None:
            return self.stop
        return DEFAULT_STOP.get(task.language, ()) if self.api == "completions" else ()

    def _request_body(self, task: Task, n: int = 1) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "n": n,
        }
        stop = self._stop(task)
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API accepts at most four
        if self.api == "chat":
            body["messages"] = [
                {"role": "system", "content": CHAT_SYSTEM.format(language=task.language)},
                {"role": "user", "content": task.prompt},
            ]
            return "/chat/completions", body
        body["prompt"] = task.prompt
        return "/completions", body

    def _post(self, client: Any, task: Task, n: int = 1) -> tuple[dict[str, Any], float]:
        import httpx

        path, body = self._request_body(task, n)
        url = self.base_url.rstrip("/") + path
        last = ""
        for attempt in range(self.max_retries + 1):
            wait_s: float | None = None
            t0 = time.perf_counter()
            try:
                response = client.post(url, json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                last = f"connection error: {exc}"
            else:
                latency = time.perf_counter() - t0
                if response.status_code == 200:
                    try:
                        payload = response.json()
                        payload["choices"][0]
                    except (ValueError, KeyError, IndexError, TypeError) as exc:
                        raise EndpointError(
                            f"{url}: answer for {task.task_id} is not a completion "
                            f"response ({exc!r}): {response.text[:200]}"
                        ) from exc
                    return payload, latency
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code != 429 and response.status_code < 500:
                    raise EndpointError(f"{url}: {task.task_id}: {last} (not retried)")
                wait_s = _retry_after(response.headers.get("retry-after"))
            if attempt == self.max_retries:
                break
            backoff = min(self.max_backoff_s, self.backoff_s * 2**attempt)
            self.sleep(min(self.max_backoff_s, wait_s) if wait_s is not None else backoff)
        raise EndpointError(
            f"{url}: {task.task_id}: gave up after {self.max_retries + 1} attempts; last: {last}"
        )

    def _batch(self, client: Any, task: Task, indices: list[int]) -> list[dict[str, Any]]:
        """Samples ``indices`` of ``task``: ``len(indices)`` choices a request, asking again
        for the rest when a server returns fewer choices than asked (llama.cpp ignores n).

        With several choices in one response, completion tokens are the response's total
        split evenly and the latency is the request's.
        """
        rows: list[dict[str, Any]] = []
        remaining = list(indices)
        while remaining:
            payload, latency = self._post(client, task, len(remaining))
            choices = payload["choices"][: len(remaining)]
            usage = payload.get("usage") or {}
            total_tokens = usage.get("completion_tokens")
            for choice in choices:
                index = remaining.pop(0)
                if self.api == "chat":
                    message = choice.get("message") or {}
                    raw = str(message.get("content") or "")
                    completion = completion_from_chat(task, raw)
                else:
                    raw = str(choice.get("text") or "")
                    completion = normalise_completion(task, raw)
                rows.append(
                    {
                        "key": self.cache_key(task, index),
                        "task_id": task.task_id,
                        "sample_index": index,
                        "completion": completion,
                        "raw": raw,
                        "finish_reason": choice.get("finish_reason"),
                        "prompt_tokens": usage.get("prompt_tokens"),
                        "completion_tokens": (
                            round(total_tokens / len(choices))
                            if isinstance(total_tokens, int | float)
                            else None
                        ),
                        "latency_s": round(latency, 4),
                    }
                )
        return rows

    def generate(
        self, tasks: Mapping[str, Task], n: int, *, progress: Progress | None = None
    ) -> Iterator[Generation]:
        """Yield cached samples first, then request the rest concurrently.

        Raises :class:`EndpointError` when a request keeps failing; every sample finished
        before that is already in the cache (and was yielded).
        """
        import httpx

        cached = self._read_cache()
        todo: list[tuple[Task, list[int]]] = []
        total = len(tasks) * n
        done = 0
        per_request = max(1, self.samples_per_request)
        for task in tasks.values():
            missing: list[int] = []
            for i in range(n):
                row = cached.get(self.cache_key(task, i))
                if row is None:
                    missing.append(i)
                    continue
                done += 1
                yield _generation(row, cached=True)
                if progress is not None:
                    progress(done, total)
            for start in range(0, len(missing), per_request):
                todo.append((task, missing[start : start + per_request]))
        if not todo:
            return
        headers = {"Content-Type": "application/json"}
        key = self.api_key if self.api_key is not None else os.environ.get("OPENAI_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        lock = threading.Lock()
        cache_fh = None
        if self.cache_path is not None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_fh = self.cache_path.open("a", encoding="utf-8")
        try:
            with (
                httpx.Client(headers=headers, timeout=self.timeout_s) as client,
                ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool,
            ):
                pending: set[Future[list[dict[str, Any]]]] = set()
                queue = iter(todo)
                failure: EndpointError | None = None

                def submit() -> None:
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.add(pool.submit(self._batch, client, nxt[0], nxt[1]))

                for _ in range(max(1, self.concurrency)):
                    submit()
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        pending.discard(fut)
                        try:
                            rows = fut.result()
                        except EndpointError as exc:
                            failure = failure or exc
                            continue
                        for row in rows:
                            if cache_fh is not None:
                                with lock:
                                    cache_fh.write(json.dumps(row) + "\n")
                                    cache_fh.flush()
                            done += 1
                            yield _generation(row, cached=False)
                            if progress is not None:
                                progress(done, total)
                        if failure is None:
                            submit()
                if failure is not None:
                    raise failure
        finally:
            if cache_fh is not None:
                cache_fh.close()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _generation(row: Mapping[str, Any], *, cached: bool) -> Generation:
    return Generation(
        Sample(str(row["task_id"]), str(row["completion"]), int(row["sample_index"])),
        prompt_tokens=row.get("prompt_tokens"),
        completion_tokens=row.get("completion_tokens"),
        latency_s=row.get("latency_s"),
        cached=cached,
    )


# --- the spec -------------------------------------------------------------------------------


def make_provider(
    spec: str,
    *,
    base_url: str | None = None,
    api: Api = "chat",
    temperature: float = 0.2,
    max_tokens: int = 512,
    stop: tuple[str, ...] | None = None,
    concurrency: int = 4,
    samples_per_request: int = 1,
    timeout_s: float = 60.0,
    max_retries: int = 5,
    cache_dir: Path | None = None,
) -> Provider:
    """The provider of a model spec: ``simulated:VERSION``, ``replay:FILE`` or ``openai:MODEL``.

    >>> make_provider("simulated:v2").label
    'simulated:v2 (SIMULATED model, not a real LLM)'
    """
    kind, _, arg = spec.partition(":")
    if not arg:
        raise GenerationError(
            f"model spec {spec!r} must look like simulated:v1, replay:FILE or openai:MODEL"
        )
    if kind == "simulated":
        try:
            return SimulatedProvider(arg)
        except UnknownVersionError as exc:
            raise GenerationError(str(exc)) from exc
    if kind == "replay":
        return ReplayProvider(Path(arg))
    if kind == "openai":
        provider = OpenAIProvider(
            model_name=arg,
            api=api,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=stop,
            concurrency=concurrency,
            samples_per_request=samples_per_request,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
        if base_url:
            provider.base_url = base_url
        if cache_dir is not None:
            digest = hashlib.sha256(
                json.dumps([arg, provider.base_url, provider.params], sort_keys=True).encode()
            ).hexdigest()[:16]
            provider.cache_path = cache_dir / f"{_slug(arg)}-{digest}.jsonl"
        return provider
    raise GenerationError(
        f"unknown provider {kind!r} in {spec!r}: use simulated:VERSION, replay:FILE or openai:MODEL"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def generation_record(g: Generation) -> dict[str, Any]:
    """A flat dict of a generation (for storage)."""
    out = asdict(g)
    sample = out.pop("sample")
    return {**sample, **out}
