"""Providers: the simulated family, replay files, and an OpenAI-compatible endpoint served by
a real HTTP server on loopback (started here; no mocked client)."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codex_ds.evaluation.generate import (
    EndpointError,
    GenerationError,
    OpenAIProvider,
    SamplesFileError,
    completion_from_chat,
    extract_code,
    make_provider,
    normalise_completion,
    read_samples_file,
)
from codex_ds.evaluation.simulated import VERSIONS, probability_correct, simulate_candidate
from codex_ds.evaluation.tasks import Task
from codex_ds.evaluation.tasks.builtin_tasks import load_builtin


@pytest.fixture(scope="module")
def tasks() -> dict[str, Task]:
    return load_builtin()


# --- simulated ------------------------------------------------------------------------------


def test_simulated_is_deterministic_and_labelled(tasks: dict[str, Task]) -> None:
    provider = make_provider("simulated:v1")
    first = [g.sample for g in provider.generate(tasks, 3)]
    second = [g.sample for g in make_provider("simulated:v1").generate(tasks, 3)]
    assert first == second
    assert len(first) == 3 * len(tasks)
    assert "SIMULATED" in provider.label
    with pytest.raises(GenerationError, match="unknown simulated version 'v9'"):
        make_provider("simulated:v9")


def test_simulated_rates_follow_the_planted_probabilities(tasks: dict[str, Task]) -> None:
    n = 60
    for version in ("v1", "v2"):
        correct = collections.Counter()
        for task in tasks.values():
            kinds = [simulate_candidate(version, task, i).kind for i in range(n)]
            correct[task.task_id] = sum(k == "correct" for k in kinds)
        observed = sum(correct.values()) / (n * len(tasks))
        planted = sum(probability_correct(VERSIONS[version], t) for t in tasks.values()) / len(
            tasks
        )
        # a binomial proportion over 1,800 draws: 4 standard errors ≈ 0.05
        assert abs(observed - planted) < 0.05, (version, observed, planted)
    assert sum(probability_correct(VERSIONS["v2"], t) for t in tasks.values()) > sum(
        probability_correct(VERSIONS["v1"], t) for t in tasks.values()
    )


def test_simulated_candidates_cover_every_kind_and_python_ones_are_real_mutants(
    tasks: dict[str, Task],
) -> None:
    import ast

    seen: set[str] = set()
    for task in tasks.values():
        for i in range(30):
            cand = simulate_candidate("v1", task, i)
            seen.add(cand.kind)
            if cand.kind == "correct":
                assert cand.completion == task.canonical_solution
            else:
                assert cand.completion != task.canonical_solution
            if task.language == "python" and cand.kind not in ("syntax_slip", "correct"):
                ast.parse(task.prompt + cand.completion)  # a mutant, not a syntax error
            if task.language == "python" and cand.kind == "syntax_slip":
                with pytest.raises(SyntaxError):
                    ast.parse(task.prompt + cand.completion)
    assert seen == {
        "correct",
        "off_by_one",
        "wrong_operator",
        "hallucinated_api",
        "syntax_slip",
        "infinite_loop",
        "missing_return",
    }


# --- replay ---------------------------------------------------------------------------------


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_reads_samples_in_file_order(tmp_path: Path, tasks: dict[str, Task]) -> None:
    tid = "builtin/python/roman_to_int"
    f = _write(
        tmp_path / "s.jsonl",
        [
            json.dumps({"task_id": tid, "completion": "    return 1\n"}),
            "",
            json.dumps({"task_id": tid, "completion": "", "extra": 1}),
        ],
    )
    samples = read_samples_file(f, tasks)
    assert [(s.task_id, s.sample_index, s.completion) for s in samples] == [
        (tid, 0, "    return 1\n"),
        (tid, 1, ""),
    ]
    provider = make_provider(f"replay:{f}")
    assert [g.sample for g in provider.generate(tasks, 99)] == samples


def test_replay_names_malformed_lines_and_unknown_task_ids(
    tmp_path: Path, tasks: dict[str, Task]
) -> None:
    tid = "builtin/python/roman_to_int"
    f = _write(
        tmp_path / "bad.jsonl",
        [
            json.dumps({"task_id": tid, "completion": "x"}),
            '{"task_id": "builtin/python/roman_to_int", "completion": ',
            json.dumps({"task_id": tid}),
            json.dumps([1, 2]),
            json.dumps({"task_id": "HumanEval/999", "completion": "x"}),
        ],
    )
    with pytest.raises(SamplesFileError) as info:
        read_samples_file(f, tasks)
    message = str(info.value)
    assert str(f) in message
    assert "3 malformed line(s)" in message
    assert "line 2: not JSON" in message
    assert "line 3: field completion missing" in message
    assert "line 4: not a JSON object" in message
    assert "'HumanEval/999' (line 5)" in message
    with pytest.raises(SamplesFileError, match="no such samples file"):
        read_samples_file(tmp_path / "absent.jsonl", tasks)


def test_replay_of_a_subset_skips_the_other_known_tasks(
    tmp_path: Path, tasks: dict[str, Task]
) -> None:
    a, b = "builtin/python/roman_to_int", "builtin/cpp/is_prime"
    f = _write(
        tmp_path / "s.jsonl",
        [json.dumps({"task_id": t, "completion": "x"}) for t in (a, b, a)],
    )
    subset = {a: tasks[a]}
    got = read_samples_file(f, subset, known=set(tasks))
    assert [(s.task_id, s.sample_index) for s in got] == [(a, 0), (a, 1)]
    with pytest.raises(SamplesFileError, match=r"1 unknown task id\(s\).*'builtin/cpp/is_prime'"):
        read_samples_file(f, subset)


def test_whole_program_completions_become_completions(tasks: dict[str, Task]) -> None:
    js = tasks["builtin/javascript/binary_search"]
    assert normalise_completion(js, js.prompt + js.canonical_solution) == js.canonical_solution
    whole = "function binarySearch(sorted, target) {\n" + js.canonical_solution
    assert normalise_completion(js, whole) == js.canonical_solution
    cpp = tasks["builtin/cpp/is_prime"]
    assert normalise_completion(cpp, cpp.prompt + cpp.canonical_solution) == (
        cpp.canonical_solution
    )
    py = tasks["builtin/python/roman_to_int"]
    assert normalise_completion(py, py.prompt + py.canonical_solution) == (
        py.prompt + py.canonical_solution
    )


def test_code_is_extracted_from_markdown_fences(tasks: dict[str, Task]) -> None:
    answer = "Here you go:\n```js\nfunction f() {}\n```\n```python\nprint(1)\n```\n"
    assert extract_code(answer, "python") == "print(1)\n"
    assert extract_code(answer, "cpp") == "function f() {}\n"
    assert extract_code("no fences", "python") == "no fences"
    assert extract_code("```python\nunterminated", "python") == "unterminated"
    py = tasks["builtin/python/roman_to_int"]
    full = py.prompt + py.canonical_solution
    assert completion_from_chat(py, f"```python\n{full}```") == py.canonical_solution
    body_only = "```python\nimport re\n\ndef roman_to_int(numeral):\n    return 0\n```"
    assert completion_from_chat(py, body_only).startswith("\nimport re\n")


# --- openai-compatible, on loopback ---------------------------------------------------------


def _subset(tasks: dict[str, Task], k: int = 2) -> dict[str, Task]:
    chosen: dict[str, Task] = {}
    for language in ("python", "javascript", "cpp"):
        chosen.update(dict([(i, t) for i, t in tasks.items() if t.language == language][:k]))
    return chosen


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_openai_endpoint_yields_the_served_code_with_tokens_and_latency(
    api: str, serve: Callable[..., Any], tasks: dict[str, Task], tmp_path: Path
) -> None:
    server = serve()
    subset = _subset(tasks)
    provider = make_provider(
        "openai:test-model",
        base_url=server.base_url,
        api=api,
        cache_dir=tmp_path,  # type: ignore[arg-type]
    )
    gens = list(provider.generate(subset, 2))
    assert len(gens) == 2 * len(subset) == len(server.requests)
    for g in gens:
        assert g.sample.completion == subset[g.sample.task_id].canonical_solution
        assert g.completion_tokens == 7
        assert g.latency_s is not None and g.latency_s >= 0
        assert not g.cached
    path, body = server.requests[0]
    assert path == ("/v1/chat/completions" if api == "chat" else "/v1/completions")
    assert body["model"] == "test-model" and body["max_tokens"] == 512
    if api == "completions":
        assert body["stop"]  # per-language stop sequences
    # a second run is served from the cache: no new request
    again = list(
        make_provider(
            "openai:test-model",
            base_url=server.base_url,
            api=api,
            cache_dir=tmp_path,  # type: ignore[arg-type]
        ).generate(subset, 2)
    )
    assert len(server.requests) == 2 * len(subset)
    assert all(g.cached for g in again)
    assert sorted((g.sample.task_id, g.sample.sample_index) for g in again) == sorted(
        (g.sample.task_id, g.sample.sample_index) for g in gens
    )


def test_openai_asks_for_several_choices_per_request_and_again_for_the_rest(
    serve: Callable[..., Any], tasks: dict[str, Task]
) -> None:
    server = serve()
    server.max_choices = 3  # a server that caps n
    subset = dict(list(tasks.items())[:2])
    provider = OpenAIProvider("m", base_url=server.base_url, samples_per_request=4)
    gens = list(provider.generate(subset, 5))
    assert sorted((g.sample.task_id, g.sample.sample_index) for g in gens) == sorted(
        (t, i) for t in subset for i in range(5)
    )
    # per task: n=4 answered with 3 choices, n=1 for the fourth, n=1 for the fifth
    assert sorted(body["n"] for _, body in server.requests) == sorted([4, 1, 1] * 2)
    three = [g for g in gens if g.completion_tokens == round(7 / 3)]
    assert len(three) == 3 * 2  # the response's 7 tokens split over its 3 choices


def test_openai_retries_429_and_500_then_succeeds(
    serve: Callable[..., Any], tasks: dict[str, Task]
) -> None:
    def plan(path: str, body: dict[str, Any], count: int) -> Any:
        if count == 1:
            return (429, {"Retry-After": "0.25"}, '{"error": "rate limited"}')
        if count == 2:
            return (500, {}, '{"error": "boom"}')
        return None

    server = serve(plan)
    sleeps: list[float] = []
    provider = OpenAIProvider("m", base_url=server.base_url, sleep=sleeps.append, backoff_s=0.01)
    subset = _subset(tasks, 1)
    gens = list(provider.generate(subset, 1))
    assert len(gens) == len(subset)
    assert len(server.requests) == 3 * len(subset)
    assert sorted(sleeps) == sorted([0.25, 0.02] * len(subset))  # Retry-After, then back-off


def test_openai_gives_up_with_a_clear_error_and_keeps_finished_work(
    serve: Callable[..., Any], tasks: dict[str, Task], tmp_path: Path
) -> None:
    subset = _subset(tasks, 1)
    doomed = next(t for t in subset.values() if t.language == "cpp")

    def plan(path: str, body: dict[str, Any], count: int) -> Any:
        prompt = body["messages"][-1]["content"]
        return (503, {}, "overloaded") if prompt == doomed.prompt else None

    server = serve(plan)
    provider = make_provider("openai:m", base_url=server.base_url, cache_dir=tmp_path)
    assert isinstance(provider, OpenAIProvider)
    provider.sleep = lambda s: None
    provider.max_retries = 2
    got = []
    with pytest.raises(EndpointError, match=r"gave up after 3 attempts; last: HTTP 503"):
        for g in provider.generate(subset, 1):
            got.append(g.sample.task_id)
    assert doomed.task_id not in got and len(got) == len(subset) - 1
    assert provider.cache_path is not None
    cached = [json.loads(line) for line in provider.cache_path.read_text().splitlines()]
    assert sorted(r["task_id"] for r in cached) == sorted(got)


def test_openai_timeouts_are_retried_then_reported(
    serve: Callable[..., Any], tasks: dict[str, Task]
) -> None:
    server = serve(lambda path, body, count: 1.0)
    provider = OpenAIProvider(
        "m", base_url=server.base_url, timeout_s=0.2, max_retries=1, sleep=lambda s: None
    )
    subset = dict(list(_subset(tasks, 1).items())[:1])
    with pytest.raises(
        EndpointError, match=r"gave up after 2 attempts; last: timed out after 0.2 s"
    ):
        list(provider.generate(subset, 1))


def test_openai_client_errors_are_not_retried(
    serve: Callable[..., Any], tasks: dict[str, Task]
) -> None:
    server = serve(lambda path, body, count: (401, {}, '{"error": "bad key"}'))
    provider = OpenAIProvider("m", base_url=server.base_url, sleep=lambda s: None)
    subset = dict(list(tasks.items())[:1])
    with pytest.raises(EndpointError, match=r"HTTP 401.*not retried"):
        list(provider.generate(subset, 1))
    assert len(server.requests) == 1


def test_a_killed_run_resumes_from_the_cache(
    serve: Callable[..., Any], tasks: dict[str, Task], tmp_path: Path
) -> None:
    server = serve()
    subset = _subset(tasks, 1)
    provider = make_provider("openai:m", base_url=server.base_url, cache_dir=tmp_path)
    assert isinstance(provider, OpenAIProvider)
    provider.concurrency = 1
    stream = provider.generate(subset, 2)
    first = [next(stream) for _ in range(3)]
    stream.close()  # the run is killed after three samples
    assert provider.cache_path is not None
    with provider.cache_path.open("a") as fh:
        fh.write('{"key": "cut sho')  # a line cut short by the kill
    before = len(server.requests)
    rest = list(provider.generate(subset, 2))
    assert sum(g.cached for g in rest) >= len(first)
    assert len(rest) == 2 * len(subset)
    assert len(server.requests) - before == 2 * len(subset) - sum(g.cached for g in rest)
