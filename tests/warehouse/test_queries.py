"""Every named query against an independent computation (an oracle, not a snapshot).

Each query runs on two small warehouses, and its rows are compared with the same metric
computed from the raw tables in pandas and plain Python, following the definitions of
METHODOLOGY.md and the query's header rather than its SQL:

* ``handmade``: a seeded generator of our own with the edge cases that matter (days without
  activity, NULL task types, typed characters and model versions, values on bucket
  boundaries, ties between test runs, suggestions without persistence checks, duplicate
  error messages, overlapping Copilot breakdowns, file-level quarantine rows);
* ``simulated``: ``codex_ds.telemetry.simulate`` with 150 users over 21 days.

Every query is run with its defaults and with filter combinations; a query without an
oracle fails :func:`test_every_query_has_an_oracle`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from codex_ds.warehouse import catalog, db

ACCEPTED = ("accepted", "partially_accepted")
START = dt.date(2026, 1, 5)  # a Monday
CATALOG = catalog.default_catalog()


# ============================================================================ warehouses


def _us(day: dt.date, seconds: float = 0.0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=seconds)


def handmade_tables(seed: int = 11) -> dict[str, pa.Table]:
    """A small warehouse with the edge cases the queries must get right."""
    rng = np.random.default_rng(seed)
    langs = ["python", "typescript", "go"]
    editors = ["vscode", "jetbrains", "neovim"]
    segments = ["beginner", "intermediate", "expert"]
    models = ["m1", "m2"]
    gap_day = START + dt.timedelta(days=5)  # no session at all that day
    days = [START + dt.timedelta(days=i) for i in range(35) if i != 5]  # > 28 days

    users: dict[str, list[Any]] = defaultdict(list)
    n_users = 36
    for i in range(n_users):
        users["user_id"].append(f"u{i:02d}")
        users["segment"].append(segments[i % 3])
        users["primary_language"].append(langs[i % 3])
        users["editor"].append(editors[(i // 3) % 3])
        users["team"].append(None if i % 7 == 0 else f"team-{i % 4}")
        if i < 20:  # signed up before the data starts (cohorts outside the window)
            signup = _us(START - dt.timedelta(days=int(rng.integers(1, 30))), 3600.0 * (i % 20))
        elif i < 34:  # signed up during the window
            signup = _us(START + dt.timedelta(days=int(rng.integers(0, 16))), 60.0 * i)
        else:  # signed up after the last session: no observed day
            signup = _us(START + dt.timedelta(days=25))
        users["signup_at"].append(signup)

    sessions: dict[str, list[Any]] = defaultdict(list)
    suggestions: dict[str, list[Any]] = defaultdict(list)
    persistence: dict[str, list[Any]] = defaultdict(list)
    runs: dict[str, list[Any]] = defaultdict(list)
    n_sug = n_run = 0
    messages = [
        "AssertionError: expected 3",
        "NameError: name 'x' is not defined",
        "SyntaxError: invalid syntax",
        "TypeError: unsupported operand",
    ]
    for ui in range(n_users - 2):  # the last two users never have a session
        uid = f"u{ui:02d}"
        signup_day = users["signup_at"][ui].date()
        active_days = [d for d in days if d >= signup_day - dt.timedelta(days=1)]
        keep = rng.random(len(active_days)) < (0.35 if ui % 5 else 0.1)
        for day in [d for d, k in zip(active_days, keep, strict=True) if k]:
            for _ in range(int(rng.integers(1, 3))):
                sid = f"s{len(sessions['session_id']):04d}"
                start = _us(day, float(rng.integers(6 * 3600, 20 * 3600)))
                minutes = 0.0 if rng.random() < 0.05 else float(np.round(rng.uniform(5, 120), 2))
                sessions["session_id"].append(sid)
                sessions["user_id"].append(uid)
                sessions["started_at"].append(start)
                sessions["ended_at"].append(start + dt.timedelta(minutes=minutes + 1))
                sessions["editor"].append(editors[int(rng.integers(0, 3))])
                sessions["language"].append(langs[int(rng.integers(0, 3))])
                sessions["task_type"].append(
                    None if rng.random() < 0.15 else ["feature", "bugfix", "test"][ui % 3]
                )
                sessions["repo_size_loc"].append(int(rng.integers(100, 10_000)))
                sessions["active_minutes"].append(minutes)
                sessions["typed_chars"].append(
                    None if rng.random() < 0.2 else int(rng.integers(0, 3000))
                )
                shown_times = []
                for k in range(int(rng.integers(0, 9))):
                    gid = f"g{n_sug:05d}"
                    n_sug += 1
                    at = start + dt.timedelta(seconds=30 * k + int(rng.integers(0, 20)))
                    shown_times.append(at)
                    outcome = str(
                        rng.choice(
                            ["accepted", "partially_accepted", "rejected", "not_shown"],
                            p=[0.35, 0.1, 0.45, 0.1],
                        )
                    )
                    chars = int(
                        rng.choice([0, 19, 20, 49, 50, 99, 100, 199, 200, 499, 500, 800])
                        if rng.random() < 0.4
                        else rng.integers(1, 700)
                    )
                    lines = max(1, chars // 40) if chars else 0
                    latency = float(
                        rng.choice([100.0, 200.0, 500.0, 1000.0, 2000.0])
                        if rng.random() < 0.2
                        else np.round(rng.lognormal(5.5, 0.7), 3)
                    )
                    if outcome == "accepted":
                        acc_chars, acc_lines = chars, lines
                    elif outcome == "partially_accepted":
                        acc_chars, acc_lines = chars // 2, lines // 2
                    else:
                        acc_chars = acc_lines = 0
                    suggestions["suggestion_id"].append(gid)
                    suggestions["session_id"].append(sid)
                    suggestions["user_id"].append(uid)
                    suggestions["shown_at"].append(at)
                    suggestions["model_version"].append(models[int(rng.random() < 0.4)])
                    suggestions["language"].append(sessions["language"][-1])
                    suggestions["trigger"].append(
                        ["automatic", "manual", "comment"][int(rng.integers(0, 3))]
                    )
                    suggestions["latency_ms"].append(latency)
                    suggestions["suggested_chars"].append(chars)
                    suggestions["suggested_lines"].append(lines)
                    suggestions["prompt_tokens"].append(int(rng.integers(10, 2000)))
                    suggestions["outcome"].append(outcome)
                    suggestions["accepted_chars"].append(acc_chars)
                    suggestions["accepted_lines"].append(acc_lines)
                    if outcome in ACCEPTED:
                        for check in (30, 120, 300, 600):
                            if rng.random() < 0.15:  # some checks are missing
                                continue
                            removed = bool(rng.random() < 0.1)
                            ratio = float(rng.choice([0.0, 0.0, 0.1, 0.33, 0.5, 0.2]))
                            if removed and rng.random() < 0.7:  # removed, yet a low ratio
                                ratio = 1.0
                            persistence["suggestion_id"].append(gid)
                            persistence["check_after_s"].append(check)
                            persistence["checked_at"].append(at + dt.timedelta(seconds=check))
                            persistence["edit_distance"].append(int(ratio * max(acc_chars, 1)))
                            persistence["edit_ratio"].append(ratio)
                            persistence["removed"].append(removed)
                for _ in range(int(rng.integers(0, 4))):
                    rid = f"r{n_run:05d}"
                    n_run += 1
                    if shown_times and rng.random() < 0.3:
                        ran_at = shown_times[int(rng.integers(0, len(shown_times)))]  # same instant
                    else:
                        ran_at = start + dt.timedelta(seconds=int(rng.integers(0, 300)))
                    kind = "test" if rng.random() < 0.6 else "build"
                    compile_ok = bool(rng.random() < 0.85)
                    failed = 0 if rng.random() < 0.6 else int(rng.integers(1, 4))
                    error = "none"
                    message = None
                    if not compile_ok:
                        error, message = "syntax_error", messages[2]
                    elif kind == "test" and failed:
                        error = str(rng.choice(["assertion_failure", "name_error", "type_error"]))
                        message = None if rng.random() < 0.1 else str(rng.choice(messages))
                    runs["run_id"].append(rid)
                    runs["session_id"].append(sid)
                    runs["user_id"].append(uid)
                    runs["ran_at"].append(ran_at)
                    runs["kind"].append(kind)
                    runs["language"].append(sessions["language"][-1])
                    runs["model_version"].append(
                        None if rng.random() < 0.2 else models[int(rng.random() < 0.4)]
                    )
                    runs["compile_ok"].append(compile_ok)
                    runs["tests_passed"].append(int(rng.integers(0, 20)) if kind == "test" else 0)
                    runs["tests_failed"].append(failed if kind == "test" else 0)
                    runs["error_type"].append(error)
                    runs["error_message"].append(message)
                    runs["duration_ms"].append(float(rng.integers(100, 60_000)))
    # Pairs of test runs at the same instant, right at an unchanged suggestion's shown_at:
    # the run_id breaks the tie (the failing one comes first).
    kept = [
        g
        for g, c, r in zip(
            persistence["suggestion_id"],
            persistence["check_after_s"],
            persistence["edit_ratio"],
            strict=True,
        )
        if c == 30 and r == 0
    ]
    for pair, gid in enumerate(kept[:4]):
        i = suggestions["suggestion_id"].index(gid)
        for rid, failed in ((f"r9{pair}998", 2), (f"r9{pair}999", 0)):
            runs["run_id"].append(rid)
            runs["session_id"].append(suggestions["session_id"][i])
            runs["user_id"].append(suggestions["user_id"][i])
            runs["ran_at"].append(suggestions["shown_at"][i])
            runs["kind"].append("test")
            runs["language"].append(suggestions["language"][i])
            runs["model_version"].append("m1")
            runs["compile_ok"].append(True)
            runs["tests_passed"].append(3)
            runs["tests_failed"].append(failed)
            runs["error_type"].append("assertion_failure" if failed else "none")
            runs["error_message"].append(messages[0] if failed else None)
            runs["duration_ms"].append(None)
    assert gap_day not in {s.date() for s in sessions["started_at"]}

    tables = {
        "users": pa.Table.from_pydict(dict(users)),
        "sessions": pa.Table.from_pydict(dict(sessions)),
        "suggestions": pa.Table.from_pydict(dict(suggestions)),
        "persistence": pa.Table.from_pydict(dict(persistence)),
        "runs": pa.Table.from_pydict(dict(runs)),
    }
    tables.update(_copilot_tables())
    tables.update(_quarantine_tables())
    tables.update(_experiment_tables(n_users))
    tables.update(_causal_tables(n_users))
    return tables


def _experiment_tables(n_users: int) -> dict[str, pa.Table]:
    """Two experiments: one running (no end; the last users never had a session, so they
    count with zeros) and one ended with three variants; two users are never assigned."""
    experiments = {
        "experiment_id": ["exp_model_v2", "exp_other"],
        "name": ["Model m2 vs m1", "Three arms"],
        "description": [None, "ended"],
        "unit": ["user", "user"],
        "control_variant": ["m1", "a"],
        "started_at": [_us(START + dt.timedelta(days=14)), _us(START + dt.timedelta(days=3))],
        "ended_at": [None, _us(START + dt.timedelta(days=20), 3600.0)],
    }
    assignments: dict[str, list[Any]] = defaultdict(list)
    for i in range(n_users):
        if i in (3, 17):  # never assigned
            continue
        assignments["experiment_id"].append("exp_model_v2")
        assignments["user_id"].append(f"u{i:02d}")
        assignments["variant"].append("m2" if i % 2 else "m1")
        assignments["assigned_at"].append(_us(START + dt.timedelta(days=14)))
        if i % 4 != 0:
            assignments["experiment_id"].append("exp_other")
            assignments["user_id"].append(f"u{i:02d}")
            assignments["variant"].append("abc"[i % 3])
            assignments["assigned_at"].append(_us(START + dt.timedelta(days=3)))
    return {
        "experiments": pa.Table.from_pydict(experiments),
        "assignments": pa.Table.from_pydict(dict(assignments)),
    }


def _causal_tables(n_users: int) -> dict[str, pa.Table]:
    """Chat adoption (a third of the users without a row, one adopter with no adopted_at),
    a second feature, and weekly merged PRs (some users without weeks, NULL lead times)."""
    adoption: dict[str, list[Any]] = defaultdict(list)
    outcomes: dict[str, list[Any]] = defaultdict(list)
    for i in range(n_users):
        uid = f"u{i:02d}"
        if i % 3 != 2:
            adopted = i % 2 == 0
            adoption["user_id"].append(uid)
            adoption["feature"].append("chat")
            adoption["adopted"].append(adopted)
            adoption["adopted_at"].append(_us(START, 60.0 * i) if adopted and i != 4 else None)
        if i % 4 == 1:
            adoption["user_id"].append(uid)
            adoption["feature"].append("review")
            adoption["adopted"].append(True)
            adoption["adopted_at"].append(_us(START, 30.0 * i))
        if i % 5 == 4:
            continue  # no delivery data
        for week in range(5):
            if i >= 20 and week < (i - 20) // 4:
                continue  # signed up later: fewer weeks
            outcomes["user_id"].append(uid)
            outcomes["week_start"].append(START + dt.timedelta(days=7 * week))
            outcomes["prs_merged"].append((i * 7 + week * 3) % 6)
            outcomes["lead_time_hours"].append(None if (i + week) % 4 == 0 else 5.0 + i + week)
    return {
        "feature_adoption": pa.Table.from_pydict(dict(adoption)),
        "dev_outcomes": pa.Table.from_pydict(dict(outcomes)),
    }


def _copilot_tables() -> dict[str, pa.Table]:
    daily: dict[str, list[Any]] = defaultdict(list)

    def add(api: str, scope_id: str, day: dt.date, breakdown: str, **kw: Any) -> None:
        row = {
            "api": api,
            "scope": "organization",
            "scope_id": scope_id,
            "day": day,
            "breakdown": breakdown,
            "editor": kw.pop("editor", "all"),
            "model": kw.pop("model", "all"),
            "language": kw.pop("language", "all"),
            "feature": kw.pop("feature", "all"),
            "source_file": f"{api}.json",
        }
        for col in (
            "suggestions",
            "acceptances",
            "lines_suggested",
            "lines_accepted",
            "loc_added",
            "loc_deleted",
            "interactions",
            "active_users",
            "engaged_users",
            "chats",
        ):
            row[col] = kw.pop(col, None)
        row["acceptance_rate"] = (
            row["acceptances"] / row["suggestions"] if row["suggestions"] else None
        )
        assert not kw, kw
        for k, v in row.items():
            daily[k].append(v)

    for d in range(3):
        day = START + dt.timedelta(days=d)
        k = d + 1
        # Copilot Metrics API shapes.
        add(
            "metrics",
            "acme",
            day,
            "total",
            suggestions=100 * k,
            acceptances=30 * k,
            lines_suggested=200 * k,
            lines_accepted=50 * k,
            active_users=9,
            engaged_users=7,
            chats=4,
        )
        add(
            "metrics",
            "acme",
            day,
            "feature",
            feature="code_completion",
            suggestions=100 * k,
            acceptances=30 * k,
            engaged_users=7,
        )
        add(
            "metrics",
            "acme",
            day,
            "feature",
            feature="chat_ide",
            acceptances=5,
            chats=4,
            engaged_users=3,
        )
        add(
            "metrics",
            "acme",
            day,
            "editor",
            editor="vscode",
            feature="code_completion",
            suggestions=60 * k,
            acceptances=20 * k,
            engaged_users=5,
        )
        add(
            "metrics",
            "acme",
            day,
            "editor",
            editor="vscode",
            feature="chat_ide",
            acceptances=5,
            engaged_users=2,
        )
        add(
            "metrics",
            "acme",
            day,
            "editor",
            editor="jetbrains",
            feature="code_completion",
            suggestions=40 * k,
            acceptances=10 * k,
            engaged_users=3,
        )
        for editor, lang, n_sug, n_acc in (
            ("vscode", "python", 40, 15),
            ("vscode", "go", 20, 5),
            ("jetbrains", "python", 40, 10),
        ):
            add(
                "metrics",
                "acme",
                day,
                "editor_model_language",
                editor=editor,
                model="default",
                language=lang,
                feature="code_completion",
                suggestions=n_sug * k,
                acceptances=n_acc * k,
                lines_suggested=n_sug,
                lines_accepted=n_acc,
                engaged_users=2,
            )
        for editor, n_sug, n_acc in (("vscode", 60, 20), ("jetbrains", 40, 10)):
            add(
                "metrics",
                "acme",
                day,
                "editor_model",
                editor=editor,
                model="default",
                feature="code_completion",
                suggestions=n_sug * k,
                acceptances=n_acc * k,
                engaged_users=4,
            )
        if d < 2:  # the language breakdown is missing on the last day
            add(
                "metrics",
                "acme",
                day,
                "language",
                language="python",
                feature="code_completion",
                suggestions=80 * k,
                acceptances=25 * k,
                engaged_users=6,
            )
            add(
                "metrics",
                "acme",
                day,
                "language",
                language="go",
                feature="code_completion",
                suggestions=20 * k,
                acceptances=5 * k,
                engaged_users=2,
            )
        # Current usage-metrics reports.
        add(
            "usage_metrics",
            "",
            day,
            "total",
            suggestions=50 * k,
            acceptances=0,
            interactions=12,
            active_users=5,
        )
        add(
            "usage_metrics",
            "",
            day,
            "ide",
            editor="vscode",
            suggestions=50 * k,
            acceptances=0,
            interactions=12,
            active_users=5,
        )
        for lang, feat, s, a in (
            ("python", "code_completion", 30, 0),
            ("python", "chat_panel_agent_mode", None, 3),
            ("typescript", "code_completion", 20, 0),
        ):
            add(
                "usage_metrics",
                "",
                day,
                "language_feature",
                language=lang,
                feature=feat,
                suggestions=None if s is None else s * k,
                acceptances=a,
                active_users=None,
            )
            add(
                "usage_metrics",
                "",
                day,
                "language_model",
                language=lang,
                model="gpt-4.1",
                suggestions=None if s is None else s * k,
                acceptances=a,
                active_users=2,
            )
        add(
            "usage_metrics",
            "",
            day,
            "model_feature",
            model="gpt-4.1",
            feature="code_completion",
            suggestions=50 * k,
            acceptances=0,
            active_users=4,
        )
    copilot_daily = pa.Table.from_pydict(dict(daily))

    user_rows: dict[str, list[Any]] = defaultdict(list)
    for d in range(2):
        for i in range(4):
            interactions = [0, 3, 5, None][i]
            for k, v in {
                "api": "usage_metrics",
                "scope": "enterprise",
                "scope_id": "ent-1",
                "day": START + dt.timedelta(days=d),
                "user_id": f"gh{i}",
                "user_login": f"login{i}",
                "interactions": interactions,
                "generations": [0, 10, 20, None][i],
                "acceptances": [0, 4, 5, None][i],
                "acceptance_rate": None,
                "loc_suggested_to_add": 10 * i,
                "loc_added": 5 * i + d,
                "loc_deleted": i,
                "used_chat": [True, False, None, True][i],
                "used_agent": [False, True, None, False][i],
                "used_cli": [None, None, True, False][i],
                "active": bool(interactions),
                "source_file": "users.ndjson",
            }.items():
                user_rows[k].append(v)
    return {
        "copilot_daily": copilot_daily,
        "copilot_user_daily": pa.Table.from_pydict(dict(user_rows)),
    }


def _quarantine_tables() -> dict[str, pa.Table]:
    at = _us(START, 3600)
    q: dict[str, list[Any]] = defaultdict(list)
    rows = [
        # ingest, file, line, table, field, reason
        ("i1", "a.jsonl", 3, "suggestions", "latency_ms", "out_of_range"),
        ("i1", "a.jsonl", 3, "suggestions", "language", "unknown_value"),
        ("i1", "a.jsonl", 4, "suggestions", "language", "unknown_value"),
        ("i1", "a.jsonl", 9, "suggestions", None, "invalid_json"),
        ("i2", "a.jsonl", 3, "suggestions", "language", "unknown_value"),  # re-ingest
        ("i3", "b.csv", None, None, None, "not_utf8"),
        ("i4", "c.json", 1, "copilot_daily", "day", "bad_timestamp"),
    ]
    for n, (ingest, file, line, table, fld, reason) in enumerate(rows):
        q["ingest_id"].append(ingest)
        q["file"].append(file)
        q["line"].append(line)
        q["target_table"].append(table)
        q["field"].append(fld)
        q["reason"].append(reason)
        q["detail"].append(f"{reason} in {fld}")
        q["raw"].append("{}")
        q["quarantined_at"].append(at + dt.timedelta(days=n % 3, minutes=n))
    files = {
        "ingest_id": ["i1", "i2", "i3"],
        "file": ["a.jsonl", "a.jsonl", "b.csv"],
        "sha256": ["h1", "h2", "h3"],
        "format": ["events", "events", "events"],
        "rows_read": [10, 12, 0],
        "rows_loaded": [7, 11, 0],
        "rows_duplicate": [0, 0, 0],
        "rows_quarantined": [3, 1, 0],
        "ingested_at": [at, at, at],
    }
    return {
        "quarantine": pa.Table.from_pydict(dict(q)),
        "ingest_files": pa.Table.from_pydict(files),
    }


@dataclass
class Warehouse:
    """An open (read-only) warehouse and its raw tables as pandas frames."""

    name: str
    con: duckdb.DuckDBPyConnection
    t: dict[str, pd.DataFrame]
    cache: dict[str, list[Any]] = field(default_factory=dict)


def _open(name: str, path: Path) -> Warehouse:
    con = db.connect(path, read_only=True)
    frames = {
        table: con.execute(f"SELECT * FROM {table}").df()
        for table in (
            "users",
            "sessions",
            "suggestions",
            "persistence",
            "runs",
            "copilot_daily",
            "copilot_user_daily",
            "quarantine",
            "ingest_files",
            "experiments",
            "assignments",
            "feature_adoption",
            "dev_outcomes",
        )
    }
    return Warehouse(name, con, frames)


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    path = tmp_path_factory.mktemp("handmade") / "w.duckdb"
    con = db.connect(path)
    for table, data in handmade_tables().items():
        db.load_arrow(con, table, data)
    con.close()
    w = _open("handmade", path)
    yield w
    w.con.close()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    try:
        from codex_ds.telemetry.simulate import SimulationConfig, load_into_warehouse, simulate
    except ImportError as exc:  # pragma: no cover - while the simulator is being written
        pytest.skip(f"the simulator does not import yet: {exc}")
    path = tmp_path_factory.mktemp("simulated") / "w.duckdb"
    con = db.connect(path)
    load_into_warehouse(con, simulate(SimulationConfig(users=150, days=21, seed=5)))
    con.close()
    w = _open("simulated", path)
    yield w
    w.con.close()


@pytest.fixture(params=["handmade", "simulated"])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    return request.getfixturevalue(request.param)


# ============================================================================ oracle helpers


def _null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _true(v: Any) -> bool:
    """SQL's CASE WHEN v THEN 1: NULL counts as false."""
    return not _null(v) and bool(v)


def _ratio(num: Any, den: Any) -> float | None:
    if _null(num) or _null(den) or den == 0:
        return None
    return float(num) / float(den)


def _sum(values: Any) -> Any:
    """SQL SUM: NULL when every value is NULL (or there are none)."""
    kept = [v for v in values if not _null(v)]
    return sum(kept) if kept else None


def _day(ts: Any) -> dt.date:
    return pd.Timestamp(ts).date()


def _monday(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


def _in_range(d: dt.date, p: dict[str, Any]) -> bool:
    return (p.get("start_date") is None or d >= p["start_date"]) and (
        p.get("end_date") is None or d <= p["end_date"]
    )


def _match(row: Any, p: dict[str, Any], pairs: tuple[tuple[str, str], ...]) -> bool:
    return all(p.get(param) is None or getattr(row, col) == p[param] for param, col in pairs)


def _records(df: pd.DataFrame) -> list[Any]:
    return list(df.itertuples(index=False))


def suggestion_rows(
    w: Warehouse, p: dict[str, Any], *, shown: bool = True, dates: bool = True
) -> list[Any]:
    """Suggestions with their session's editor and task type and their user's segment,
    filtered as the segment queries' headers say."""
    if "suggestions" not in w.cache:
        sessions = w.t["sessions"]
        editor = dict(zip(sessions.session_id, sessions.editor, strict=True))
        task = dict(zip(sessions.session_id, sessions.task_type, strict=True))
        segment = dict(zip(w.t["users"].user_id, w.t["users"].segment, strict=True))
        s = w.t["suggestions"].copy()
        s = s[s.session_id.isin(editor.keys()) & s.user_id.isin(segment.keys())]
        s["editor"] = s.session_id.map(editor)
        s["task_type"] = s.session_id.map(task)
        s["segment"] = s.user_id.map(segment)
        s["day"] = s.shown_at.dt.date
        w.cache["suggestions"] = _records(s)
    out = []
    for r in w.cache["suggestions"]:
        if shown and r.outcome == "not_shown":
            continue
        if dates and not _in_range(r.day, p):
            continue
        if not _match(
            r,
            p,
            (
                ("language", "language"),
                ("editor", "editor"),
                ("segment", "segment"),
                ("model_version", "model_version"),
            ),
        ):
            continue
        out.append(r)
    return out


def run_rows(w: Warehouse, p: dict[str, Any], *, dates: bool = True) -> list[Any]:
    editor = dict(zip(w.t["sessions"].session_id, w.t["sessions"].editor, strict=True))
    segment = dict(zip(w.t["users"].user_id, w.t["users"].segment, strict=True))
    r = w.t["runs"].copy()
    r = r[r.session_id.isin(editor.keys()) & r.user_id.isin(segment.keys())]
    r["editor"] = r.session_id.map(editor)
    r["segment"] = r.user_id.map(segment)
    r["model_version"] = r.model_version.astype(object).where(r.model_version.notna(), None)
    r["error_message"] = r.error_message.astype(object).where(r.error_message.notna(), None)
    out = []
    for x in _records(r):
        if dates and not _in_range(_day(x.ran_at), p):
            continue
        if p.get("kind") is not None and x.kind != p["kind"]:
            continue
        if not _match(
            x,
            p,
            (
                ("language", "language"),
                ("editor", "editor"),
                ("segment", "segment"),
                ("model_version", "model_version"),
            ),
        ):
            continue
        out.append(x)
    return out


def _acceptance_metrics(rows: list[Any]) -> dict[str, Any]:
    shown = len(rows)
    accepted = sum(r.outcome in ACCEPTED for r in rows)
    full = sum(r.outcome == "accepted" for r in rows)
    sc = sum(int(r.suggested_chars) for r in rows)
    ac = sum(int(r.accepted_chars) for r in rows)
    sl = sum(int(r.suggested_lines) for r in rows)
    al = sum(int(r.accepted_lines) for r in rows)
    return {
        "users": len({r.user_id for r in rows}),
        "shown": shown,
        "accepted": accepted,
        "fully_accepted": full,
        "acceptance_rate": _ratio(accepted, shown),
        "full_acceptance_rate": _ratio(full, shown),
        "suggested_chars": sc,
        "accepted_chars": ac,
        "char_acceptance_rate": _ratio(ac, sc),
        "suggested_lines": sl,
        "accepted_lines": al,
        "line_acceptance_rate": _ratio(al, sl),
    }


def _by(rows: list[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = defaultdict(list)
    for r in rows:
        k = key(r)
        groups[None if _null(k) else k].append(r)
    return groups


def _with_share(out: list[dict[str, Any]], query: str) -> pd.DataFrame:
    total = sum(r["shown"] for r in out)
    for r in out:
        r["share_of_shown"] = r["shown"] / total
    return pd.DataFrame(out, columns=CATALOG.get(query).column_names)


# ============================================================================ oracles


def segmentation(dim: str) -> Callable[[Warehouse, dict[str, Any]], pd.DataFrame]:
    def oracle(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
        groups = _by(suggestion_rows(w, p), lambda r: getattr(r, dim))
        return _with_share(
            [{dim: k, **_acceptance_metrics(g)} for k, g in groups.items()],
            f"acceptance_by_{dim}",
        )

    return oracle


LENGTH_EDGES = [(0, 19), (20, 49), (50, 99), (100, 199), (200, 499), (500, None)]


def length_bucket(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    def bucket(r: Any) -> tuple[int, int | None]:
        return next(
            (lo, hi)
            for lo, hi in LENGTH_EDGES
            if r.suggested_chars >= lo and (hi is None or r.suggested_chars <= hi)
        )

    out = []
    for (lo, hi), g in _by(suggestion_rows(w, p), bucket).items():
        label = f"{lo}-{hi}" if hi is not None else f"{lo}+"
        out.append(
            {"length_bucket": label, "min_chars": lo, "max_chars": hi, **_acceptance_metrics(g)}
        )
    return _with_share(out, "acceptance_by_length_bucket")


LATENCY_EDGES = [0, 100, 200, 500, 1000, 2000]


def latency_bucket(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    def bucket(r: Any) -> int:
        return max(e for e in LATENCY_EDGES if r.latency_ms >= e) if r.latency_ms >= 0 else 0

    out = []
    for lo, g in _by(suggestion_rows(w, p), bucket).items():
        i = LATENCY_EDGES.index(lo)
        hi = LATENCY_EDGES[i + 1] if i + 1 < len(LATENCY_EDGES) else None
        label = f"{lo}-{hi} ms" if hi is not None else f"{lo}+ ms"
        out.append(
            {
                "latency_bucket": label,
                "min_ms": lo,
                "max_ms": hi,
                "mean_latency_ms": float(np.mean([r.latency_ms for r in g])),
                **_acceptance_metrics(g),
            }
        )
    return _with_share(out, "acceptance_by_latency_bucket")


def funnel(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    requests = suggestion_rows(w, p, shown=False)
    shown = [r for r in requests if r.outcome != "not_shown"]
    accepted = [r for r in requests if r.outcome in ACCEPTED]
    pers = w.t["persistence"]
    kept30 = set(pers[(pers.check_after_s == 30) & (pers.edit_ratio == 0)].suggestion_id)
    unchanged = [r for r in accepted if r.suggestion_id in kept30]
    tests = w.t["runs"][w.t["runs"].kind == "test"]
    by_session: dict[str, list[Any]] = defaultdict(list)
    for t in _records(tests):
        by_session[t.session_id].append(t)
    passing = 0
    for r in unchanged:
        later = sorted(
            (t for t in by_session[r.session_id] if t.ran_at >= r.shown_at),
            key=lambda t: (t.ran_at, t.run_id),
        )
        if later and bool(later[0].compile_ok) and later[0].tests_failed == 0:
            passing += 1
    counts = [len(requests), len(shown), len(accepted), len(unchanged), passing]
    steps = ["opportunity", "shown", "accepted", "unchanged_30s", "tests_pass"]
    return pd.DataFrame(
        {
            "step_order": [1, 2, 3, 4, 5],
            "step": steps,
            "suggestions": counts,
            "step_conversion": [None] + [_ratio(counts[i], counts[i - 1]) for i in range(1, 5)],
            "overall_conversion": [_ratio(c, counts[0]) for c in counts],
        }
    )


def _session_days(w: Warehouse) -> tuple[dict[str, set[dt.date]], dt.date | None, dt.date | None]:
    days: dict[str, set[dt.date]] = defaultdict(set)
    for uid, at in zip(w.t["sessions"].user_id, w.t["sessions"].started_at, strict=True):
        days[uid].add(_day(at))
    every = [d for ds in days.values() for d in ds]
    return days, (min(every) if every else None), (max(every) if every else None)


def _cohort_users(w: Warehouse, p: dict[str, Any]) -> list[tuple[str, dt.date]]:
    out = []
    for r in _records(w.t["users"]):
        signup = _day(r.signup_at)
        if _in_range(signup, p) and (p.get("segment") is None or r.segment == p["segment"]):
            out.append((r.user_id, signup))
    return out


def retention_day_n(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    active, first, last = _session_days(w)
    cells: dict[tuple[dt.date, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for uid, signup in _cohort_users(w, p):
        for n in sorted(set(p["days"])):
            cell = cells[(_monday(signup), n)]
            target = signup + dt.timedelta(days=n)
            eligible = first is not None and last is not None and first <= target <= last
            cell[0] += 1
            if eligible:
                cell[1] += 1
                cell[2] += target in active[uid]
                cell[3] += any(d >= target for d in active[uid])
    return pd.DataFrame(
        [
            {
                "cohort_week": week,
                "day_n": n,
                "cohort_users": c[0],
                "eligible_users": c[1],
                "retained_on": c[2],
                "retained_on_or_after": c[3],
                "retention_on": _ratio(c[2], c[1]),
                "retention_on_or_after": _ratio(c[3], c[1]),
            }
            for (week, n), c in cells.items()
        ],
        columns=CATALOG.get("retention_day_n").column_names,
    )


def cohort_retention_weekly(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    active, first, last = _session_days(w)
    cohorts: dict[dt.date, list[str]] = defaultdict(list)
    for uid, signup in _cohort_users(w, p):
        cohorts[_monday(signup)].append(uid)
    rows = []
    if first is not None and last is not None:
        weeks = []
        wk = _monday(first)
        while wk <= _monday(last):
            weeks.append(wk)
            wk += dt.timedelta(days=7)
        for cw, members in cohorts.items():
            for wk in weeks:
                if wk < cw:
                    continue
                n = sum(any(_monday(d) == wk for d in active[u]) for u in members)
                rows.append(
                    {
                        "cohort_week": cw,
                        "week_n": (wk - cw).days // 7,
                        "activity_week": wk,
                        "cohort_users": len(members),
                        "active_users": n,
                        "retention": n / len(members),
                    }
                )
    return pd.DataFrame(rows, columns=CATALOG.get("cohort_retention_weekly").column_names)


def _activity(w: Warehouse, p: dict[str, Any]) -> dict[str, set[dt.date]]:
    segment = dict(zip(w.t["users"].user_id, w.t["users"].segment, strict=True))
    days: dict[str, set[dt.date]] = defaultdict(set)
    for s in _records(w.t["sessions"]):
        if s.user_id not in segment:
            continue
        if p.get("language") is not None and s.language != p["language"]:
            continue
        if p.get("editor") is not None and s.editor != p["editor"]:
            continue
        if p.get("segment") is not None and segment[s.user_id] != p["segment"]:
            continue
        days[s.user_id].add(_day(s.started_at))
    return days


def active_users(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    days = _activity(w, p)
    every = sorted({d for ds in days.values() for d in ds})
    rows = []
    if every:
        first, last = every[0], every[-1]
        day = first
        while day <= last:
            if _in_range(day, p):
                dau = sum(day in ds for ds in days.values())
                wau = sum(
                    any(day - dt.timedelta(days=7) < d <= day for d in ds) for ds in days.values()
                )
                mau = sum(
                    any(day - dt.timedelta(days=28) < d <= day for d in ds) for ds in days.values()
                )
                rows.append(
                    {
                        "day": day,
                        "dau": dau,
                        "wau": wau,
                        "mau": mau,
                        "stickiness": _ratio(dau, mau),
                        "dau_wau": _ratio(dau, wau),
                        "window_complete": first + dt.timedelta(days=27) <= day,
                    }
                )
            day += dt.timedelta(days=1)
    return pd.DataFrame(rows, columns=CATALOG.get("active_users").column_names)


def user_lifecycle(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    weeks_of = {u: {_monday(d) for d in ds} for u, ds in _activity(w, p).items()}
    every = sorted({wk for ws in weeks_of.values() for wk in ws})
    rows = []
    if every:
        wk = every[0]
        while wk <= every[-1]:
            c: Counter[str] = Counter()
            prev = wk - dt.timedelta(days=7)
            for ws in weeks_of.values():
                first = min(ws)
                if first > wk:
                    continue
                now, before = wk in ws, prev in ws
                c["active_users"] += now
                c["new_users"] += now and first == wk
                c["returning_users"] += now and before
                c["resurrected_users"] += now and not before and first < wk
                c["churned_users"] += (not now) and before
                c["dormant_users"] += (not now) and first < wk
            if _in_range(wk, p):
                rows.append(
                    {
                        "week": wk,
                        **{
                            k: c[k]
                            for k in (
                                "active_users",
                                "new_users",
                                "returning_users",
                                "resurrected_users",
                                "churned_users",
                                "dormant_users",
                            )
                        },
                    }
                )
            wk += dt.timedelta(days=7)
    return pd.DataFrame(rows, columns=CATALOG.get("user_lifecycle").column_names)


def _daily(w: Warehouse, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Per calendar day: shown, accepted, Σ latency, test runs, passing test runs."""
    cells: dict[dt.date, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0, 0])
    for r in suggestion_rows(w, p, dates=False):
        c = cells[_day(r.shown_at)]
        c[0] += 1
        c[1] += r.outcome in ACCEPTED
        c[2] += float(r.latency_ms)
    for t in run_rows(w, {**p, "kind": "test"}, dates=False):
        c = cells[_day(t.ran_at)]
        c[3] += 1
        c[4] += bool(t.compile_ok) and t.tests_failed == 0
    if not cells:
        return []
    out = []
    day, last = min(cells), max(cells)
    while day <= last:
        c = cells.get(day, [0, 0, 0.0, 0, 0])
        out.append(
            {
                "day": day,
                "shown": c[0],
                "accepted": c[1],
                "latency": c[2],
                "tests": c[3],
                "passed": c[4],
            }
        )
        day += dt.timedelta(days=1)
    return out


def daily_metrics(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    daily = _daily(w, p)
    rows = []
    for i, d in enumerate(daily):
        window = daily[max(0, i - 6) : i + 1]
        if not _in_range(d["day"], p):
            continue
        s7 = sum(x["shown"] for x in window)
        rows.append(
            {
                "day": d["day"],
                "shown": d["shown"],
                "accepted": d["accepted"],
                "acceptance_rate": _ratio(d["accepted"], d["shown"]),
                "mean_latency_ms": _ratio(d["latency"], d["shown"]),
                "test_runs": d["tests"],
                "test_pass_rate": _ratio(d["passed"], d["tests"]),
                "days_in_window": len(window),
                "acceptance_rate_7d": _ratio(sum(x["accepted"] for x in window), s7),
                "mean_latency_ms_7d": _ratio(sum(x["latency"] for x in window), s7),
                "test_pass_rate_7d": _ratio(
                    sum(x["passed"] for x in window), sum(x["tests"] for x in window)
                ),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("daily_metrics").column_names)


def weekly_metrics(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    weeks: dict[dt.date, dict[str, float]] = {}
    for d in _daily(w, p):
        wk = weeks.setdefault(_monday(d["day"]), Counter())
        wk["days"] += 1
        for k in ("shown", "accepted", "latency", "tests", "passed"):
            wk[k] += d[k]
    rows: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for week in sorted(weeks):
        c = weeks[week]
        row = {
            "week": week,
            "days": c["days"],
            "shown": c["shown"],
            "accepted": c["accepted"],
            "acceptance_rate": _ratio(c["accepted"], c["shown"]),
            "mean_latency_ms": _ratio(c["latency"], c["shown"]),
            "test_runs": c["tests"],
            "test_pass_rate": _ratio(c["passed"], c["tests"]),
        }

        def diff(a: Any, b: Any) -> float | None:
            return None if a is None or b is None else a - b

        def rel(a: Any, b: Any) -> float | None:
            r = _ratio(a, b)
            return None if r is None else r - 1

        row["shown_wow"] = rel(row["shown"], prev["shown"]) if prev else None
        row["acceptance_rate_wow"] = (
            diff(row["acceptance_rate"], prev["acceptance_rate"]) if prev else None
        )
        row["mean_latency_ms_wow"] = (
            rel(row["mean_latency_ms"], prev["mean_latency_ms"]) if prev else None
        )
        row["test_pass_rate_wow"] = (
            diff(row["test_pass_rate"], prev["test_pass_rate"]) if prev else None
        )
        prev = row
        if _in_range(week, p):
            rows.append(row)
    return pd.DataFrame(rows, columns=CATALOG.get("weekly_metrics").column_names)


def latency_percentiles(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for (model, lang), g in _by(
        suggestion_rows(w, p), lambda r: (r.model_version, r.language)
    ).items():
        lat = np.array([r.latency_ms for r in g], dtype=float)
        rows.append(
            {
                "model_version": model,
                "language": lang,
                "shown": len(g),
                "mean_ms": float(lat.mean()),
                "p50_ms": float(np.percentile(lat, 50)),
                "p90_ms": float(np.percentile(lat, 90)),
                "p99_ms": float(np.percentile(lat, 99)),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("latency_percentiles").column_names)


def persistence(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    ids = {r.suggestion_id for r in suggestion_rows(w, p) if r.outcome in ACCEPTED}
    checks = w.t["persistence"][w.t["persistence"].suggestion_id.isin(ids)]
    rows = []
    for t, g in checks.groupby("check_after_s"):
        n = len(g)
        unchanged = int((g.edit_ratio == 0).sum())
        mostly = int(((g.edit_ratio < 0.33) & ~g.removed.astype(bool)).sum())
        removed = int(g.removed.astype(bool).sum())
        rows.append(
            {
                "check_after_s": int(t),
                "checked": n,
                "unchanged": unchanged,
                "unchanged_share": unchanged / n,
                "mostly_unchanged": mostly,
                "mostly_unchanged_share": mostly / n,
                "removed": removed,
                "removed_share": removed / n,
                "mean_edit_ratio": float(g.edit_ratio.mean()),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("persistence_by_checkpoint").column_names)


def _per_user(w: Warehouse, p: dict[str, Any]) -> list[dict[str, Any]]:
    segment = dict(zip(w.t["users"].user_id, w.t["users"].segment, strict=True))
    sug = w.t["suggestions"]
    acc_n = Counter(sug[sug.outcome.isin(ACCEPTED)].session_id)
    acc_chars = sug.groupby("session_id").accepted_chars.sum().to_dict()
    users: dict[str, dict[str, Any]] = {}
    for s in _records(w.t["sessions"]):
        if s.user_id not in segment or not _in_range(_day(s.started_at), p):
            continue
        if any(
            p.get(k) is not None and v != p[k]
            for k, v in (
                ("language", s.language),
                ("editor", s.editor),
                ("segment", segment[s.user_id]),
            )
        ):
            continue
        u = users.setdefault(
            s.user_id,
            {"sessions": 0, "minutes": 0.0, "accepted": 0, "chars": 0, "typed": [], "ai": []},
        )
        u["sessions"] += 1
        u["minutes"] += float(s.active_minutes)
        u["accepted"] += acc_n.get(s.session_id, 0)
        chars = int(acc_chars.get(s.session_id, 0))
        u["chars"] += chars
        if not _null(s.typed_chars):
            u["typed"].append(int(s.typed_chars))
            u["ai"].append(chars)
    out = []
    for uid in sorted(users):
        u = users[uid]
        hours = u["minutes"] / 60
        typed = sum(u["typed"]) if u["typed"] else None
        ai = sum(u["ai"]) if u["ai"] else None
        out.append(
            {
                "user_id": uid,
                "segment": segment[uid],
                "sessions": u["sessions"],
                "active_hours": hours,
                "accepted": u["accepted"],
                "accepted_chars": u["chars"],
                "accepted_per_active_hour": _ratio(u["accepted"], hours),
                "accepted_chars_per_active_hour": _ratio(u["chars"], hours),
                "typed_chars": typed,
                "ai_chars": ai,
                "ai_code_share": None if typed is None else _ratio(ai, typed + ai),
            }
        )
    return out


def productivity_per_user(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(_per_user(w, p), columns=CATALOG.get("productivity_per_user").column_names)


def productivity_by_segment(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for seg, g in _by(_per_user(w, p), lambda u: u["segment"]).items():
        n = len(g)
        hours = sum(u["active_hours"] for u in g)
        rates = [
            u["accepted_per_active_hour"] for u in g if u["accepted_per_active_hour"] is not None
        ]
        crates = [
            u["accepted_chars_per_active_hour"]
            for u in g
            if u["accepted_chars_per_active_hour"] is not None
        ]
        typed = _sum(u["typed_chars"] for u in g)
        ai = _sum(u["ai_chars"] for u in g)
        rows.append(
            {
                "segment": seg,
                "users": n,
                "sessions": sum(u["sessions"] for u in g),
                "sessions_per_user": sum(u["sessions"] for u in g) / n,
                "active_hours_per_user": hours / n,
                "accepted_per_active_hour": _ratio(sum(u["accepted"] for u in g), hours),
                "accepted_chars_per_active_hour": _ratio(
                    sum(u["accepted_chars"] for u in g), hours
                ),
                "mean_user_accepted_per_active_hour": float(np.mean(rates)) if rates else None,
                "median_user_accepted_per_active_hour": float(np.median(rates)) if rates else None,
                "median_user_accepted_chars_per_active_hour": (
                    float(np.median(crates)) if crates else None
                ),
                "ai_code_share": None if typed is None else _ratio(ai, typed + ai),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("productivity_by_segment").column_names)


def error_types(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for (model, lang), g in _by(run_rows(w, p), lambda r: (r.model_version, r.language)).items():
        errors = Counter(r.error_type for r in g if r.error_type != "none")
        n_errors = sum(errors.values())
        for etype, n in errors.items():
            rows.append(
                {
                    "model_version": model,
                    "language": lang,
                    "error_type": etype,
                    "runs": n,
                    "share_of_errors": n / n_errors,
                    "share_of_runs": n / len(g),
                }
            )
    return pd.DataFrame(rows, columns=CATALOG.get("error_types").column_names)


def top_error_messages(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    failed = [r for r in run_rows(w, p) if r.error_type != "none" and r.error_message is not None]
    rows = []
    for (model, lang), g in _by(failed, lambda r: (r.model_version, r.language)).items():
        by_message = _by(g, lambda r: r.error_message)
        ranked = sorted(by_message.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for rank, (message, runs) in enumerate(ranked[: p["n"]], start=1):
            types = Counter(r.error_type for r in runs)
            top_type = sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            rows.append(
                {
                    "model_version": model,
                    "language": lang,
                    "message_rank": rank,
                    "error_message": message,
                    "error_type": top_type,
                    "runs": len(runs),
                    "share": len(runs) / len(g),
                }
            )
    return pd.DataFrame(rows, columns=CATALOG.get("top_error_messages").column_names)


def run_failure_rates(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for (model, lang), g in _by(run_rows(w, p), lambda r: (r.model_version, r.language)).items():
        builds = [r for r in g if r.kind == "build"]
        tests = [r for r in g if r.kind == "test"]
        fails = sum(not bool(r.compile_ok) for r in builds)
        passes = sum(bool(r.compile_ok) and r.tests_failed == 0 for r in tests)
        pass_rate = _ratio(passes, len(tests))
        rows.append(
            {
                "model_version": model,
                "language": lang,
                "build_runs": len(builds),
                "compile_failures": fails,
                "compile_failure_rate": _ratio(fails, len(builds)),
                "test_runs": len(tests),
                "test_passes": passes,
                "test_pass_rate": pass_rate,
                "test_failure_rate": None if pass_rate is None else 1 - pass_rate,
                "tests_passed": sum(int(r.tests_passed) for r in tests),
                "tests_failed": sum(int(r.tests_failed) for r in tests),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("run_failure_rates").column_names)


def _copilot(w: Warehouse, table: str, p: dict[str, Any]) -> list[Any]:
    return [
        r
        for r in _records(w.t[table])
        if _in_range(_day(r.day), p)
        and (p.get("api") is None or r.api == p["api"])
        and (p.get("scope_id") is None or r.scope_id == p["scope_id"])
    ]


def copilot_daily_totals(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for r in _copilot(w, "copilot_daily", p):
        if r.breakdown != "total":
            continue
        rows.append(
            {
                "api": r.api,
                "scope": r.scope,
                "scope_id": r.scope_id,
                "day": _day(r.day),
                "suggestions": r.suggestions,
                "acceptances": r.acceptances,
                "acceptance_rate": _ratio(r.acceptances, r.suggestions),
                "lines_suggested": r.lines_suggested,
                "lines_accepted": r.lines_accepted,
                "line_acceptance_rate": _ratio(r.lines_accepted, r.lines_suggested),
                "active_users": r.active_users,
                "engaged_users": r.engaged_users,
                "interactions": r.interactions,
                "chats": r.chats,
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("copilot_daily_totals").column_names)


def copilot_by_dimension(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    dim = p["dimension"]
    dims = ("editor", "model", "language", "feature")
    rows = []
    for (api, scope, scope_id, day), g in _by(
        _copilot(w, "copilot_daily", p), lambda r: (r.api, r.scope, r.scope_id, r.day)
    ).items():
        candidates = []
        for breakdown, cells in _by(g, lambda r: r.breakdown).items():
            if any(getattr(r, dim) != "all" for r in cells):
                split = max(sum(getattr(r, d) != "all" for d in dims) for r in cells)
                candidates.append((split, breakdown))
        if not candidates:
            continue
        chosen = min(candidates)[1]
        for value, cells in _by(
            [r for r in g if r.breakdown == chosen], lambda r: getattr(r, dim)
        ).items():
            suggestions = _sum(r.suggestions for r in cells)
            acceptances = _sum(r.acceptances for r in cells if not _null(r.suggestions))
            single = len(cells) == 1
            rows.append(
                {
                    "api": api,
                    "scope": scope,
                    "scope_id": scope_id,
                    "day": _day(day),
                    "dimension": dim,
                    "dimension_value": value,
                    "breakdown": chosen,
                    "cells": len(cells),
                    "suggestions": suggestions,
                    "acceptances": acceptances,
                    "acceptance_rate": _ratio(acceptances, suggestions),
                    "lines_suggested": _sum(r.lines_suggested for r in cells),
                    "lines_accepted": _sum(r.lines_accepted for r in cells),
                    "active_users": cells[0].active_users if single else None,
                    "engaged_users": cells[0].engaged_users if single else None,
                }
            )
    return pd.DataFrame(rows, columns=CATALOG.get("copilot_by_dimension").column_names)


def copilot_user_activity(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for (api, scope, scope_id, day), g in _by(
        _copilot(w, "copilot_user_daily", p), lambda r: (r.api, r.scope, r.scope_id, r.day)
    ).items():
        acceptances = _sum(r.acceptances for r in g)
        generations = _sum(r.generations for r in g)
        rows.append(
            {
                "api": api,
                "scope": scope,
                "scope_id": scope_id,
                "day": _day(day),
                "users": len(g),
                "active_users": sum(_true(r.active) for r in g),
                "chat_users": sum(_true(r.used_chat) for r in g),
                "agent_users": sum(_true(r.used_agent) for r in g),
                "cli_users": sum(_true(r.used_cli) for r in g),
                "interactions": _sum(r.interactions for r in g),
                "generations": generations,
                "acceptances": acceptances,
                "acceptance_rate": _ratio(acceptances, generations),
                "loc_added": _sum(r.loc_added for r in g),
                "loc_deleted": _sum(r.loc_deleted for r in g),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("copilot_user_activity").column_names)


def quarantine_summary(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    q = [
        r
        for r in _records(w.t["quarantine"])
        if _in_range(_day(r.quarantined_at), p)
        and (p.get("reason") is None or r.reason == p["reason"])
        and (p.get("target_table") is None or r.target_table == p["target_table"])
    ]
    read: dict[str, int] = defaultdict(int)
    for f in _records(w.t["ingest_files"]):
        read[f.file] += int(f.rows_read)
    per_file = Counter(r.file for r in q)
    rows = []
    for (file, reason), g in _by(q, lambda r: (r.file, r.reason)).items():
        lines = len({(r.ingest_id, r.line) for r in g if not _null(r.line)})
        records = read.get(file)
        rows.append(
            {
                "file": file,
                "reason": reason,
                "quarantine_rows": len(g),
                "lines": lines,
                "file_level": sum(_null(r.line) for r in g),
                "fields": len({r.field for r in g if not _null(r.field)}),
                "records_read": records,
                "line_share": _ratio(lines, records),
                "share_of_file": len(g) / per_file[file],
                "first_quarantined_at": min(r.quarantined_at for r in g),
                "last_quarantined_at": max(r.quarantined_at for r in g),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("quarantine_summary").column_names)


Oracle = Callable[[Warehouse, dict[str, Any]], pd.DataFrame]


def _experiment_units(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    e, a = w.t["experiments"], w.t["assignments"]
    units = a.merge(e, on="experiment_id")
    if p.get("experiment_id") is not None:
        units = units[units.experiment_id == p["experiment_id"]]
    units = units.assign(is_control=units.variant == units.control_variant)
    return units


def experiment_assignment_counts(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    units = _experiment_units(w, p)
    rows = []
    for (exp, name, variant, ctl), g in units.groupby(
        ["experiment_id", "name", "variant", "is_control"]
    ):
        total = int((units.experiment_id == exp).sum())
        n = int(g.user_id.nunique())
        rows.append(
            {
                "experiment_id": exp,
                "name": name,
                "variant": variant,
                "is_control": bool(ctl),
                "units": n,
                "share": n / total,
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("experiment_assignment_counts").column_names)


def _experiment_population(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """The units of experiment_unit_stats' filters: users by their users-table language,
    editor and segment; assigned by the end date."""
    units = _experiment_units(w, p)
    users = w.t["users"].set_index("user_id")
    for param, column in (("language", "primary_language"), ("editor", "editor"),
                          ("segment", "segment")):
        if p.get(param) is not None:
            keep = [users.loc[u, column] == p[param] for u in units.user_id]
            units = units[pd.Series(keep, index=units.index, dtype=bool)]
    if p.get("end_date") is not None:
        keep = [_day(a) <= p["end_date"] for a in units.assigned_at]
        units = units[pd.Series(keep, index=units.index, dtype=bool)]
    return units


def _in_dates(ts: pd.Series, p: dict[str, Any]) -> pd.Series:
    days = [_day(t) for t in ts]
    keep = [
        (p.get("start_date") is None or d >= p["start_date"])
        and (p.get("end_date") is None or d <= p["end_date"])
        for d in days
    ]
    return pd.Series(keep, index=ts.index, dtype=bool)


def experiment_unit_stats(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """Per-user values in plain Python, then sums per arm (METHODOLOGY.md §5.11); the filters
    select users (pre-treatment attributes) and the days of the post-start events."""
    units = _experiment_population(w, p)
    sug = w.t["suggestions"]
    sug = sug[sug.outcome != "not_shown"]
    runs = w.t["runs"]
    runs = runs[runs.kind == "test"]
    per_user = []
    for u in units.itertuples(index=False):
        start, end = u.started_at, u.ended_at
        mine = sug[sug.user_id == u.user_id]
        if not _null(end):
            mine = mine[mine.shown_at < end]
        post, pre = mine[mine.shown_at >= start], mine[mine.shown_at < start]
        post = post[_in_dates(post.shown_at, p)]
        r = runs[(runs.user_id == u.user_id) & (runs.ran_at >= start)]
        if not _null(end):
            r = r[r.ran_at < end]
        r = r[_in_dates(r.ran_at, p)]
        per_user.append(
            {
                "experiment_id": u.experiment_id,
                "variant": u.variant,
                "is_control": bool(u.is_control),
                "shown": float(len(post)),
                "accepted": float(post.outcome.isin(ACCEPTED).sum()),
                "latency": float(post.latency_ms.sum()),
                "pre_shown": float(len(pre)),
                "pre_accepted": float(pre.outcome.isin(ACCEPTED).sum()),
                "tests_passed": float(r.tests_passed.sum()),
                "tests_run": float((r.tests_passed + r.tests_failed).sum()),
            }
        )
    columns = CATALOG.get("experiment_unit_stats").column_names
    if not per_user:
        return pd.DataFrame([], columns=columns)
    df = pd.DataFrame(per_user)
    q = p.get("winsorize_quantile")
    q = 1.0 if q is None else q
    df["c"] = np.minimum(df.accepted, np.quantile(df.accepted, q))
    df["cp"] = np.minimum(df.pre_accepted, np.quantile(df.pre_accepted, q))
    rows = []
    for (exp, variant, ctl), g in df.groupby(["experiment_id", "variant", "is_control"]):

        def s(x: pd.Series, y: pd.Series | None = None, g: pd.DataFrame = g) -> float:
            return float((x * (x if y is None else y)).sum())

        rows.append(
            {
                "experiment_id": exp,
                "variant": variant,
                "is_control": bool(ctl),
                "units": len(g),
                "active_units": int((g.shown > 0).sum()),
                "shown_sum": float(g.shown.sum()),
                "shown_sum_squares": s(g.shown),
                "accepted_sum": float(g.accepted.sum()),
                "accepted_sum_squares": s(g.accepted),
                "accepted_shown_sum": s(g.accepted, g.shown),
                "pre_shown_sum": float(g.pre_shown.sum()),
                "pre_shown_sum_squares": s(g.pre_shown),
                "pre_accepted_sum": float(g.pre_accepted.sum()),
                "pre_accepted_sum_squares": s(g.pre_accepted),
                "pre_accepted_shown_sum": s(g.pre_accepted, g.pre_shown),
                "accepted_pre_accepted_sum": s(g.accepted, g.pre_accepted),
                "accepted_pre_shown_sum": s(g.accepted, g.pre_shown),
                "shown_pre_accepted_sum": s(g.shown, g.pre_accepted),
                "shown_pre_shown_sum": s(g.shown, g.pre_shown),
                "capped_accepted_sum": float(g.c.sum()),
                "capped_accepted_sum_squares": s(g.c),
                "capped_pre_accepted_sum": float(g.cp.sum()),
                "capped_pre_accepted_sum_squares": s(g.cp),
                "capped_cross_sum": s(g.c, g.cp),
                "latency_sum": float(g.latency.sum()),
                "latency_sum_squares": s(g.latency),
                "latency_shown_sum": s(g.latency, g.shown),
                "tests_passed_sum": float(g.tests_passed.sum()),
                "tests_passed_sum_squares": s(g.tests_passed),
                "tests_run_sum": float(g.tests_run.sum()),
                "tests_run_sum_squares": s(g.tests_run),
                "tests_passed_run_sum": s(g.tests_passed, g.tests_run),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def experiment_daily_stats(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """Cumulative per-user sums at the end of each day with a post-start shown suggestion,
    over the users assigned by then (METHODOLOGY.md §5.13)."""
    units = _experiment_population(w, p)
    sug = w.t["suggestions"]
    sug = sug[sug.outcome != "not_shown"]
    post: dict[str, pd.DataFrame] = {}
    for u in units.itertuples(index=False):
        mine = sug[(sug.user_id == u.user_id) & (sug.shown_at >= u.started_at)]
        if not _null(u.ended_at):
            mine = mine[mine.shown_at < u.ended_at]
        post[u.user_id] = mine[_in_dates(mine.shown_at, p)]
    days = sorted({_day(t) for m in post.values() for t in m.shown_at})
    columns = CATALOG.get("experiment_daily_stats").column_names
    rows = []
    for day in days:
        per_arm: dict[tuple[Any, ...], list[tuple[float, float, float]]] = defaultdict(list)
        for u in units.itertuples(index=False):
            if _day(u.assigned_at) > day:
                continue
            mine = post[u.user_id]
            upto = mine[pd.Series([_day(t) <= day for t in mine.shown_at], index=mine.index,
                                  dtype=bool)]
            per_arm[(u.experiment_id, u.variant, bool(u.is_control))].append(
                (
                    float(len(upto)),
                    float(upto.outcome.isin(ACCEPTED).sum()),
                    float(upto.latency_ms.sum()),
                )
            )
        for (exp, variant, ctl), values in per_arm.items():
            shown, acc, lat = (np.array(v) for v in zip(*values, strict=True))
            rows.append(
                {
                    "experiment_id": exp,
                    "day": day,
                    "variant": variant,
                    "is_control": ctl,
                    "units": len(values),
                    "shown_sum": float(shown.sum()),
                    "shown_sum_squares": float((shown * shown).sum()),
                    "accepted_sum": float(acc.sum()),
                    "accepted_sum_squares": float((acc * acc).sum()),
                    "accepted_shown_sum": float((acc * shown).sum()),
                    "latency_sum": float(lat.sum()),
                    "latency_sum_squares": float((lat * lat).sum()),
                    "latency_shown_sum": float((lat * shown).sum()),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def acceptance_model_patterns(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """Shown suggestions grouped by the acceptance model's covariate pattern (modeling)."""
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for r in suggestion_rows(w, p):
        hour = pd.Timestamp(r.shown_at).hour
        log_chars = math.log(max(int(r.suggested_chars), 1))
        key = (
            r.user_id if p.get("by_user") else None,
            r.segment,
            r.language,
            None if _null(r.task_type) else r.task_type,
            r.trigger,
            r.model_version,
            hour >= 18 or hour < 8,
            math.floor(float(r.latency_ms) / 25.0),
            math.floor(4.0 * log_chars),
        )
        groups[key].append((r, log_chars))
    rows = [
        (
            *key,
            len(g),
            sum(r.outcome in ACCEPTED for r, _ in g),
            sum(float(r.latency_ms) for r, _ in g) / 1000.0,
            sum(lc for _, lc in g),
        )
        for key, g in groups.items()
    ]
    return pd.DataFrame(rows, columns=CATALOG.get("acceptance_model_patterns").column_names)


def user_behaviour(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """Per-user telemetry metrics over the sessions in range, with survey means (modeling)."""
    segment = dict(zip(w.t["users"].user_id, w.t["users"].segment, strict=True))
    sessions = {
        s.session_id: s
        for s in _records(w.t["sessions"])
        if s.user_id in segment
        and _in_range(_day(s.started_at), p)
        and (p.get("segment") is None or segment[s.user_id] == p["segment"])
    }
    checks = w.t["persistence"]
    at_30 = defaultdict(list)
    for c in _records(checks[checks.check_after_s == 30]):
        at_30[c.suggestion_id].append(float(c.edit_ratio))
    survey = w.con.execute("SELECT user_id, item, score FROM survey_responses").df()
    answers: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for a in _records(survey):
        answers[a.user_id].append((a.item, int(a.score)))
    users: dict[str, dict[str, Any]] = {}
    for s in sessions.values():
        u = users.setdefault(s.user_id, defaultdict(float))
        u["sessions"] += 1
        u["minutes"] += float(s.active_minutes)
    for g in _records(w.t["suggestions"]):
        if g.session_id not in sessions:
            continue
        u = users[sessions[g.session_id].user_id]
        shown = g.outcome != "not_shown"
        u["requested"] += 1
        u["shown"] += shown
        u["accepted"] += g.outcome in ACCEPTED
        u["accepted_chars"] += int(g.accepted_chars)
        u["shown_chars"] += int(g.suggested_chars) if shown else 0
        u["invoked"] += shown and g.trigger != "automatic"
        if g.outcome in ACCEPTED:
            for ratio in at_30.get(g.suggestion_id, []):
                u["checked"] += 1
                u["unchanged"] += ratio == 0
    out = []
    for uid in sorted(users):
        u = users[uid]
        hours = u["minutes"] / 60
        mine = answers.get(uid, [])
        pp = [score for item, score in mine if item == "perceived_productivity"]
        out.append(
            {
                "user_id": uid,
                "segment": segment[uid],
                "sessions": int(u["sessions"]),
                "active_hours": hours,
                "requested": int(u["requested"]),
                "shown": int(u["shown"]),
                "accepted": int(u["accepted"]),
                "accepted_chars": int(u["accepted_chars"]),
                "acceptance_rate": _ratio(u["accepted"], u["shown"]),
                "shown_rate": _ratio(u["shown"], u["requested"]),
                "accepted_per_active_hour": _ratio(u["accepted"], hours),
                "accepted_chars_per_active_hour": _ratio(u["accepted_chars"], hours),
                "checked_30s": int(u["checked"]),
                "unchanged_30s": int(u["unchanged"]),
                "unchanged_30s_rate": _ratio(u["unchanged"], u["checked"]),
                "mean_shown_chars": _ratio(u["shown_chars"], u["shown"]),
                "invoked_share": _ratio(u["invoked"], u["shown"]),
                "shown_per_active_hour": _ratio(u["shown"], hours),
                "survey_responses": len(mine),
                "perceived_productivity": sum(pp) / len(pp) if pp else None,
                "survey_mean_score": sum(s for _, s in mine) / len(mine) if mine else None,
            }
        )
    return pd.DataFrame(out, columns=CATALOG.get("user_behaviour").column_names)


def rollout_step_stats(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """Per-user window sums in plain Python over the hash-exposed users (METHODOLOGY §5.12)."""
    import hashlib

    units = _experiment_units(w, p)
    sug = w.t["suggestions"]
    sug = sug[sug.outcome != "not_shown"]
    runs = w.t["runs"]
    per_user = []
    for u in units.itertuples(index=False):
        digest = hashlib.md5(f"{u.experiment_id}:{u.user_id}".encode()).hexdigest()
        bucket = int(digest[:4], 16) / 65536.0
        if not (u.is_control or bucket < p["exposed_share"]):
            continue
        lo = u.started_at if p.get("window_start") is None else p["window_start"]
        hi = u.ended_at if p.get("window_end") is None else p["window_end"]
        if not _null(hi) and not u.assigned_at < hi:
            continue
        mine = sug[(sug.user_id == u.user_id) & (sug.shown_at >= lo)]
        r = runs[(runs.user_id == u.user_id) & (runs.ran_at >= lo)]
        if not _null(hi):
            mine = mine[mine.shown_at < hi]
            r = r[r.ran_at < hi]
        per_user.append(
            {
                "experiment_id": u.experiment_id,
                "variant": u.variant,
                "is_control": bool(u.is_control),
                "shown": float(len(mine)),
                "accepted": float(mine.outcome.isin(ACCEPTED).sum()),
                "latency": float(mine.latency_ms.sum()),
                "runs": float(len(r)),
                "failed": float((r.error_type != "none").sum()),
            }
        )
    columns = CATALOG.get("rollout_step_stats").column_names
    if not per_user:
        return pd.DataFrame([], columns=columns)
    rows = []
    for (exp, variant, ctl), g in pd.DataFrame(per_user).groupby(
        ["experiment_id", "variant", "is_control"]
    ):
        rows.append(
            {
                "experiment_id": exp,
                "variant": variant,
                "is_control": bool(ctl),
                "units": len(g),
                "active_units": int((g.shown > 0).sum()),
                "shown_sum": float(g.shown.sum()),
                "shown_sum_squares": float((g.shown**2).sum()),
                "accepted_sum": float(g.accepted.sum()),
                "accepted_sum_squares": float((g.accepted**2).sum()),
                "accepted_shown_sum": float((g.accepted * g.shown).sum()),
                "latency_sum": float(g.latency.sum()),
                "latency_sum_squares": float((g.latency**2).sum()),
                "latency_shown_sum": float((g.latency * g.shown).sum()),
                "runs_sum": float(g.runs.sum()),
                "runs_sum_squares": float((g.runs**2).sum()),
                "failed_runs_sum": float(g.failed.sum()),
                "failed_runs_sum_squares": float((g.failed**2).sum()),
                "failed_runs_runs_sum": float((g.failed * g.runs).sum()),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def monitor_daily_metrics(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """Per day: overall, by language, by model version (runs without one: not by model)."""
    cells: dict[tuple[dt.date, str, str], dict[str, Any]] = defaultdict(
        lambda: {"lat": [], "shown": 0, "accepted": 0, "tests": 0, "passing": 0, "runs": 0,
                 "errors": 0}
    )  # fmt: skip
    for r in _records(w.t["suggestions"]):
        day = _day(r.shown_at)
        if r.outcome == "not_shown" or not _in_range(day, p):
            continue
        for dim, value in (("overall", "all"), ("language", r.language),
                           ("model_version", r.model_version)):  # fmt: skip
            c = cells[(day, dim, value)]
            c["shown"] += 1
            c["accepted"] += r.outcome in ACCEPTED
            c["lat"].append(float(r.latency_ms))
    for r in _records(w.t["runs"]):
        day = _day(r.ran_at)
        if not _in_range(day, p):
            continue
        dims = [("overall", "all"), ("language", r.language)]
        if not _null(r.model_version):
            dims.append(("model_version", r.model_version))
        for key in dims:
            c = cells[(day, *key)]
            c["runs"] += 1
            c["errors"] += r.error_type != "none"
            if r.kind == "test":
                c["tests"] += 1
                c["passing"] += bool(r.compile_ok) and r.tests_failed == 0
    rows = []
    for (day, dim, value), c in cells.items():
        if p.get("dimension") is not None and dim != p["dimension"]:
            continue
        lat = np.array(c["lat"], dtype=float)

        def pct(q: float, lat: np.ndarray = lat) -> float | None:
            return float(np.percentile(lat, q)) if len(lat) else None

        rows.append(
            {
                "day": day,
                "dimension": dim,
                "dimension_value": value,
                "shown": c["shown"],
                "accepted": c["accepted"],
                "acceptance_rate": _ratio(c["accepted"], c["shown"]),
                "latency_p90_ms": pct(90),
                "latency_p95_ms": pct(95),
                "latency_p99_ms": pct(99),
                "test_runs": c["tests"],
                "tests_passing": c["passing"],
                "test_pass_rate": _ratio(c["passing"], c["tests"]),
                "runs": c["runs"],
                "error_runs": c["errors"],
                "error_rate": _ratio(c["errors"], c["runs"]),
            }
        )
    return pd.DataFrame(rows, columns=CATALOG.get("monitor_daily_metrics").column_names)


def causal_user_outcomes(w: Warehouse, p: dict[str, Any]) -> pd.DataFrame:
    """Per user with a week in range: adoption of the feature, mean PRs and lead time, tenure
    at the first week of dev_outcomes (METHODOLOGY.md, causal methods)."""
    out = w.t["dev_outcomes"]
    columns = CATALOG.get("causal_user_outcomes").column_names
    if out.empty:
        return pd.DataFrame([], columns=columns)
    first_week = _day(out.week_start.min())
    users = w.t["users"].set_index("user_id")
    fa = w.t["feature_adoption"]
    adopted = {
        r.user_id: bool(r.adopted) for r in fa[fa.feature == p["feature"]].itertuples(index=False)
    }
    rows = []
    for uid, g in out.groupby("user_id"):
        days = [_day(d) for d in g.week_start]
        keep = [
            (p.get("start_date") is None or d >= p["start_date"])
            and (p.get("end_date") is None or d <= p["end_date"])
            for d in days
        ]
        g = g[keep]
        u = users.loc[uid]
        if g.empty or (p.get("segment") is not None and u.segment != p["segment"]):
            continue
        tenure = (first_week - _day(u.signup_at)).days
        leads = [float(v) for v in g.lead_time_hours if not _null(v)]
        rows.append(
            {
                "user_id": uid,
                "segment": u.segment,
                "primary_language": u.primary_language,
                "editor": u.editor,
                "tenure_days": max(tenure, 0),
                "adopted": adopted.get(uid, False),
                "weeks": len(g),
                "prs_merged_per_week": float(g.prs_merged.sum()) / len(g),
                "lead_time_hours": sum(leads) / len(leads) if leads else None,
            }
        )
    return pd.DataFrame(rows, columns=columns)


#: query name → (oracle, the columns that identify a row)
ORACLES: dict[str, tuple[Oracle, tuple[str, ...]]] = {
    "causal_user_outcomes": (causal_user_outcomes, ("user_id",)),
    "acceptance_by_language": (segmentation("language"), ("language",)),
    "acceptance_by_editor": (segmentation("editor"), ("editor",)),
    "acceptance_by_segment": (segmentation("segment"), ("segment",)),
    "acceptance_by_task_type": (segmentation("task_type"), ("task_type",)),
    "acceptance_by_model_version": (segmentation("model_version"), ("model_version",)),
    "acceptance_by_trigger": (segmentation("trigger"), ("trigger",)),
    "acceptance_by_length_bucket": (length_bucket, ("min_chars",)),
    "acceptance_by_latency_bucket": (latency_bucket, ("min_ms",)),
    "suggestion_funnel": (funnel, ("step_order",)),
    "retention_day_n": (retention_day_n, ("cohort_week", "day_n")),
    "cohort_retention_weekly": (cohort_retention_weekly, ("cohort_week", "activity_week")),
    "active_users": (active_users, ("day",)),
    "user_lifecycle": (user_lifecycle, ("week",)),
    "daily_metrics": (daily_metrics, ("day",)),
    "monitor_daily_metrics": (monitor_daily_metrics, ("day", "dimension", "dimension_value")),
    "weekly_metrics": (weekly_metrics, ("week",)),
    "latency_percentiles": (latency_percentiles, ("model_version", "language")),
    "persistence_by_checkpoint": (persistence, ("check_after_s",)),
    "productivity_per_user": (productivity_per_user, ("user_id",)),
    "productivity_by_segment": (productivity_by_segment, ("segment",)),
    "error_types": (error_types, ("model_version", "language", "error_type")),
    "top_error_messages": (top_error_messages, ("model_version", "language", "message_rank")),
    "run_failure_rates": (run_failure_rates, ("model_version", "language")),
    "copilot_daily_totals": (copilot_daily_totals, ("api", "scope", "scope_id", "day")),
    "copilot_by_dimension": (
        copilot_by_dimension,
        ("api", "scope", "scope_id", "day", "dimension_value"),
    ),
    "copilot_user_activity": (copilot_user_activity, ("api", "scope", "scope_id", "day")),
    "quarantine_summary": (quarantine_summary, ("file", "reason")),
    "experiment_assignment_counts": (experiment_assignment_counts, ("experiment_id", "variant")),
    "experiment_unit_stats": (experiment_unit_stats, ("experiment_id", "variant")),
    "experiment_daily_stats": (experiment_daily_stats, ("experiment_id", "day", "variant")),
    "rollout_step_stats": (rollout_step_stats, ("experiment_id", "variant")),
    "acceptance_model_patterns": (
        acceptance_model_patterns,
        (
            "user_id", "segment", "language", "task_type", "trigger", "model_version",
            "evening", "latency_bucket", "length_bucket",
        ),
    ),
    "user_behaviour": (user_behaviour, ("user_id",)),
}


# ============================================================================ comparison


def _norm(v: Any) -> Any:
    if _null(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _sort_key(v: Any) -> tuple[int, Any]:
    v = _norm(v)
    if v is None:
        return (1, "")
    if isinstance(v, dt.datetime):
        return (0, v.isoformat())
    if isinstance(v, dt.date):
        return (0, dt.datetime(v.year, v.month, v.day).isoformat())
    return (0, v)


def _as_datetime(x: dt.date) -> dt.datetime:
    return x if isinstance(x, dt.datetime) else dt.datetime(x.year, x.month, x.day)


def _same(a: Any, b: Any) -> bool:
    a, b = _norm(a), _norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        return _as_datetime(a) == _as_datetime(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def assert_matches(
    result: catalog.QueryResult, expected: pd.DataFrame, keys: tuple[str, ...]
) -> None:
    actual = result.records()
    assert list(result.table.column_names) == list(expected.columns)
    exp_rows = [
        dict(zip(expected.columns, row, strict=True)) for row in expected.itertuples(index=False)
    ]
    assert len(actual) == len(exp_rows), f"{len(actual)} rows, oracle {len(exp_rows)}"

    def order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: tuple(_sort_key(r[k]) for k in keys))

    for i, (a, e) in enumerate(zip(order(actual), order(exp_rows), strict=True)):
        for col in expected.columns:
            assert _same(a[col], e[col]), f"row {i} {col}: query {a[col]!r}, oracle {e[col]!r}\n{a}"


# ============================================================================ parameter sets


def param_sets(w: Warehouse, q: catalog.Query) -> list[dict[str, Any]]:
    """Defaults, then filter combinations drawn from the data, then query-specific values."""
    sug = w.t["suggestions"]
    first = _day(w.t["sessions"].started_at.min())
    lang = sug.language.value_counts().index[0]
    model = sorted(sug.model_version.unique())[0]
    editor = w.t["sessions"].editor.value_counts().index[0]
    declared = {p.name for p in q.params}
    candidates: list[dict[str, Any]] = [
        {},
        {
            "start_date": first + dt.timedelta(days=3),
            "end_date": first + dt.timedelta(days=12),
            "segment": "expert",
        },
        {"language": lang, "editor": editor, "model_version": model},
        {"start_date": first + dt.timedelta(days=30)},  # after the data: empty
    ]
    specific = {
        "retention_day_n": [{"days": [0, 3, 10]}, {"days": [2], "segment": "beginner"}],
        "monitor_daily_metrics": [
            {"dimension": "language"},
            {"dimension": "model_version", "end_date": first + dt.timedelta(days=9)},
        ],
        "top_error_messages": [{"n": 1}, {"n": 2, "kind": "test"}],
        "error_types": [{"kind": "build"}],
        "copilot_by_dimension": [
            {"dimension": d} for d in ("language", "editor", "model", "feature")
        ]
        + [{"dimension": "language", "api": "metrics", "end_date": START}],
        "copilot_daily_totals": [{"api": "metrics"}, {"scope_id": ""}],
        "copilot_user_activity": [{"api": "usage_metrics", "end_date": START}],
        "quarantine_summary": [{"reason": "unknown_value"}, {"target_table": "suggestions"}],
        "experiment_unit_stats": [
            {"winsorize_quantile": 0.9},
            {"experiment_id": "exp_other"},
            {"experiment_id": "exp_other", "winsorize_quantile": 0.5},
            {"experiment_id": "no_such_experiment"},
            {"experiment_id": "exp_other", "language": lang, "editor": editor},
        ],
        "experiment_daily_stats": [
            {"experiment_id": "exp_other"},
            {"experiment_id": "exp_other", "segment": "beginner",
             "end_date": first + dt.timedelta(days=10)},
            {"experiment_id": "no_such_experiment"},
        ],
        "acceptance_model_patterns": [{"by_user": True}, {"by_user": True, "segment": "expert"}],
        "causal_user_outcomes": [{"feature": "review"}, {"feature": "no_such_feature"}],
        "experiment_assignment_counts": [
            {"experiment_id": "exp_model_v2"},
            {"experiment_id": "exp_other"},
            {"experiment_id": "no_such_experiment"},
        ],
        "rollout_step_stats": [
            {"exposed_share": 0.3},
            {"experiment_id": "exp_other", "exposed_share": 0.5},
            {
                "exposed_share": 0.6,
                "window_start": _as_datetime(first + dt.timedelta(days=15)),
                "window_end": _as_datetime(first + dt.timedelta(days=18)),
            },
            {"window_end": _as_datetime(first + dt.timedelta(days=17))},
            {"experiment_id": "no_such_experiment"},
        ],
    }.get(q.name, [])
    sets = []
    for c in candidates + specific:
        kept = {k: v for k, v in c.items() if k in declared}
        try:  # values the warehouse does not hold (Copilot data in the simulated one) are
            catalog.bind(q, kept, con=w.con)  # refused: tested in test_catalog.py
        except catalog.ParameterError:
            continue
        if kept not in sets:
            sets.append(kept)
    return sets


# ============================================================================ tests


def test_every_query_has_an_oracle() -> None:
    assert sorted(ORACLES) == CATALOG.names()


@pytest.mark.parametrize("name", CATALOG.names())
def test_query_matches_its_oracle(warehouse: Warehouse, name: str) -> None:
    q = CATALOG.get(name)
    oracle, keys = ORACLES[name]
    for params in param_sets(warehouse, q):
        result = catalog.run(warehouse.con, q, params)
        try:
            assert_matches(result, oracle(warehouse, catalog.bind(q, params)), keys)
        except AssertionError as exc:
            raise AssertionError(f"{warehouse.name} {name} {params}: {exc}") from None


def test_results_are_not_trivially_empty(handmade: Warehouse) -> None:
    """The oracle comparisons mean something: with defaults, every query has rows."""
    for q in CATALOG.list():
        assert catalog.run(handmade.con, q).rows > 0, q.name


_ARROW_TYPES: dict[str, Callable[[pa.DataType], bool]] = {
    "VARCHAR": pa.types.is_string,
    "BIGINT": pa.types.is_int64,
    "INTEGER": pa.types.is_int32,
    "DOUBLE": pa.types.is_float64,
    "BOOLEAN": pa.types.is_boolean,
    "DATE": pa.types.is_date32,
    "TIMESTAMP": pa.types.is_timestamp,
}


@pytest.mark.parametrize("name", CATALOG.names())
def test_output_columns_are_as_declared(handmade: Warehouse, name: str) -> None:
    q = CATALOG.get(name)
    table = catalog.run(handmade.con, q).table
    assert tuple(table.column_names) == q.column_names
    for col, arrow_field in zip(q.columns, table.schema, strict=True):
        assert _ARROW_TYPES[col.dtype](arrow_field.type), (name, col.name, arrow_field.type)


def test_identities_hold_on_the_simulated_warehouse(simulated: Warehouse) -> None:
    """Cross-query consistency: the same count reached by two routes agrees."""
    run = lambda n, **p: catalog.run(simulated.con, CATALOG.get(n), p).records()  # noqa: E731
    by_lang = run("acceptance_by_language")
    by_model = run("acceptance_by_model_version")
    funnel_rows = {r["step"]: r["suggestions"] for r in run("suggestion_funnel")}
    assert sum(r["shown"] for r in by_lang) == sum(r["shown"] for r in by_model)
    assert sum(r["shown"] for r in by_lang) == funnel_rows["shown"]
    assert sum(r["accepted"] for r in by_lang) == funnel_rows["accepted"]
    daily = run("daily_metrics")
    assert sum(r["shown"] for r in daily) == funnel_rows["shown"]
    weekly = run("weekly_metrics")
    assert sum(r["shown"] for r in weekly) == funnel_rows["shown"]
    for r in run("user_lifecycle"):
        assert r["active_users"] == r["new_users"] + r["returning_users"] + r["resurrected_users"]
    lifecycle = run("user_lifecycle")
    for prev, cur in itertools.pairwise(lifecycle):
        assert prev["active_users"] == cur["returning_users"] + cur["churned_users"]
    for r in run("active_users"):
        assert r["dau"] <= r["wau"] <= r["mau"]
    per_user = run("productivity_per_user")
    by_segment = run("productivity_by_segment")
    assert sum(r["users"] for r in by_segment) == len(per_user)
    for r in run("retention_day_n"):
        assert r["retained_on"] <= r["retained_on_or_after"] <= r["eligible_users"]


def test_every_query_runs_on_an_empty_warehouse(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "empty.duckdb")
    try:
        for r in catalog.run_all(con):
            q = CATALOG.get(r.query)
            assert tuple(r.table.column_names) == q.column_names
            if r.query == "suggestion_funnel":  # five steps of zero
                assert [x["suggestions"] for x in r.records()] == [0] * 5
            else:
                assert r.rows == 0, r.query
    finally:
        con.close()


@pytest.mark.parametrize("name", CATALOG.names())
def test_inlined_sql_gives_the_same_rows(handmade: Warehouse, name: str) -> None:
    """render(inline=True) rebuilds the SQL through sqlglot's syntax tree with literals in
    place of parameters: the DuckDB text it produces returns exactly the bound run's rows."""
    pytest.importorskip("sqlglot")
    q = CATALOG.get(name)
    for params in param_sets(handmade, q)[:3]:
        bound = catalog.run(handmade.con, q, params)
        inlined = handmade.con.execute(catalog.render(q, params, inline=True)).to_arrow_table()
        got, want = inlined.to_pylist(), bound.table.to_pylist()
        assert len(got) == len(want), (name, params)
        # Same rows; float sums may differ in the last bits (parallel aggregation order).
        for g, w in zip(got, want, strict=True):
            assert g.keys() == w.keys(), (name, params)
            bad = [k for k in g if not _same(g[k], w[k])]
            assert not bad, (name, params, {k: (g[k], w[k]) for k in bad})
