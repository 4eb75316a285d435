"""The simulator: schema-valid, consistent, deterministic tables with a recoverable truth."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from codex_ds.telemetry import schema
from codex_ds.telemetry import simulate as sim
from codex_ds.telemetry.simulate import (
    SimulationConfig,
    SimulationResult,
    TruthAccumulator,
    arrow_schema,
    ground_truth,
    iter_chunks,
    load_into_warehouse,
    simulate,
)
from codex_ds.warehouse import db

BASE = SimulationConfig(users=2000, days=28, seed=7)


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    return simulate(BASE)


@pytest.fixture(scope="module")
def con(result: SimulationResult) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with every simulated table registered as a view."""
    c = duckdb.connect()
    for name, table in result.tables.items():
        c.register(name, table)
    yield c
    c.close()


def scalar(c: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = c.execute(sql).fetchone()
    assert row is not None
    return row[0]


# --------------------------------------------------------------------------- shape and schema


def test_every_event_table_is_filled(result: SimulationResult) -> None:
    assert list(result.tables) == list(schema.EVENT_TABLES)
    for name, table in result.tables.items():
        assert table.num_rows > 0, name
    assert result.tables["users"].num_rows == BASE.users
    assert result.tables["experiments"].num_rows == 1


def test_size_of_the_default_run(result: SimulationResult) -> None:
    n = result.tables["suggestions"].num_rows
    assert 500_000 <= n <= 1_500_000
    # prompts are fewer than suggestions, around one per eight
    assert n / 14 < result.tables["prompts"].num_rows < n / 5


def _check_against_schema(name: str, table: pa.Table) -> None:
    spec = schema.TABLES[name]
    assert table.schema.equals(arrow_schema(name)), name
    assert table.column_names == list(spec.column_names)
    now = dt.datetime.now() + dt.timedelta(hours=schema.FUTURE_TOLERANCE_HOURS)
    earliest = dt.datetime.fromisoformat(schema.EARLIEST_TIMESTAMP)
    for col in spec.columns:
        arr = table[col.name]
        where = f"{name}.{col.name}"
        if not col.nullable:
            assert arr.null_count == 0, where
        if arr.null_count == len(arr):
            continue
        if col.allowed is not None:
            seen = set(pc.unique(arr.drop_null()).to_pylist())
            assert seen <= set(col.allowed), (where, seen - set(col.allowed))
        if col.minimum is not None:
            assert pc.min(arr).as_py() >= col.minimum, where
        if col.maximum is not None:
            assert pc.max(arr).as_py() <= col.maximum, where
        if col.max_length is not None:
            assert pc.max(pc.utf8_length(arr)).as_py() <= col.max_length, where
        if col.dtype == "TIMESTAMP":
            lo, hi = pc.min_max(arr).values()
            assert lo.as_py() >= earliest, where
            assert hi.as_py() <= now, where
        if col.dtype == "DOUBLE":
            assert pc.all(pc.is_finite(arr.drop_null())).as_py(), where


def test_every_column_respects_the_schema(result: SimulationResult) -> None:
    for name, table in result.tables.items():
        _check_against_schema(name, table)


def test_primary_keys_are_unique(con: duckdb.DuckDBPyConnection) -> None:
    for name in schema.EVENT_TABLES:
        key = ", ".join(schema.TABLES[name].primary_key)
        dup = scalar(
            con,
            f"SELECT count(*) FROM (SELECT {key} FROM {name} GROUP BY {key} HAVING count(*) > 1)",
        )
        assert dup == 0, name


def test_references_hold(con: duckdb.DuckDBPyConnection) -> None:
    for table in schema.EVENT_TABLES:
        for col in schema.TABLES[table].columns:
            if not col.references:
                continue
            parent, pcol = col.references.split(".")
            missing = scalar(
                con,
                f"SELECT count(*) FROM {table} c ANTI JOIN {parent} p ON c.{col.name} = p.{pcol}"
                f" WHERE c.{col.name} IS NOT NULL",
            )
            assert missing == 0, f"{table}.{col.name} -> {col.references}"
    # children belong to the user of their session
    for child in ("suggestions", "runs", "prompts"):
        wrong = scalar(
            con,
            f"SELECT count(*) FROM {child} c JOIN sessions s USING (session_id) "
            "WHERE c.user_id <> s.user_id",
        )
        assert wrong == 0, child
    # a suggestion's prompt exists and is from the same session
    wrong = scalar(
        con,
        "SELECT count(*) FROM suggestions g LEFT JOIN prompts p USING (prompt_id) "
        "WHERE g.prompt_id IS NOT NULL AND (p.prompt_id IS NULL OR p.session_id <> g.session_id)",
    )
    assert wrong == 0


def test_persistence_covers_exactly_the_accepted_suggestions(
    con: duckdb.DuckDBPyConnection,
) -> None:
    not_accepted = scalar(
        con,
        "SELECT count(*) FROM persistence p JOIN suggestions g USING (suggestion_id) "
        "WHERE g.outcome NOT IN ('accepted', 'partially_accepted')",
    )
    assert not_accepted == 0
    accepted = scalar(
        con, "SELECT count(*) FROM suggestions WHERE outcome IN ('accepted', 'partially_accepted')"
    )
    assert scalar(con, "SELECT count(*) FROM persistence") == 4 * accepted
    assert (
        scalar(
            con,
            "SELECT count(*) FROM (SELECT suggestion_id FROM persistence GROUP BY 1 "
            "HAVING list_sort(list(check_after_s)) <> [30, 120, 300, 600])",
        )
        == 0
    )


def test_persistence_is_monotone_and_consistent(con: duckdb.DuckDBPyConnection) -> None:
    bad = scalar(
        con,
        """
        SELECT count(*) FROM (
            SELECT edit_distance, removed, edit_ratio, check_after_s, checked_at,
                   lag(edit_distance) OVER w AS prev_distance,
                   lag(removed) OVER w AS prev_removed,
                   lag(checked_at) OVER w AS prev_checked
            FROM persistence WINDOW w AS (PARTITION BY suggestion_id ORDER BY check_after_s)
        ) WHERE edit_distance < prev_distance OR (prev_removed AND NOT removed)
             OR checked_at <= prev_checked
        """,
    )
    assert bad == 0
    bad = scalar(
        con,
        "SELECT count(*) FROM persistence p JOIN suggestions g USING (suggestion_id) "
        "WHERE p.edit_distance > g.accepted_chars "
        "OR abs(p.edit_ratio - least(p.edit_distance / g.accepted_chars, 1.0)) > 1e-12 "
        "OR (p.removed AND (p.edit_ratio <> 1 OR p.edit_distance <> g.accepted_chars)) "
        "OR p.checked_at <= g.shown_at",
    )
    assert bad == 0
    # Ziegler et al.: most accepted text survives at 30 s, less of it at 10 minutes
    means = dict(
        con.execute("SELECT check_after_s, avg(edit_ratio) FROM persistence GROUP BY 1").fetchall()
    )
    assert means[30] < 0.15 < means[600] < 0.5
    assert means[30] < means[120] < means[300] < means[600]


def test_suggestion_fields_are_consistent(con: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "accepted with all chars": "outcome = 'accepted' AND accepted_chars <> suggested_chars",
        "partial is partial": "outcome = 'partially_accepted' AND NOT "
        "(accepted_chars BETWEEN 1 AND suggested_chars - 1)",
        "no chars unless accepted": "outcome IN ('rejected', 'not_shown') AND "
        "(accepted_chars <> 0 OR accepted_lines <> 0)",
        "lines within": "accepted_lines > suggested_lines OR suggested_lines < 1",
        "chars positive": "suggested_chars < 1",
    }
    for label, where in checks.items():
        assert scalar(con, f"SELECT count(*) FROM suggestions WHERE {where}") == 0, label
    # lines are about chars / 40
    ratio = scalar(
        con,
        "SELECT avg(suggested_chars / suggested_lines) FROM suggestions "
        "WHERE suggested_chars >= 80",
    )
    assert 30 < ratio < 50


def test_times_are_consistent(con: duckdb.DuckDBPyConnection) -> None:
    wrong = {
        "session before signup": "SELECT count(*) FROM sessions s JOIN users u USING (user_id) "
        "WHERE s.started_at < u.signup_at",
        "session ends before start": "SELECT count(*) FROM sessions WHERE ended_at < started_at",
        "suggestion outside its session": "SELECT count(*) FROM suggestions g "
        "JOIN sessions s USING (session_id) WHERE g.shown_at < s.started_at "
        "OR g.shown_at > s.ended_at",
        "run outside its session": "SELECT count(*) FROM runs r JOIN sessions s USING "
        "(session_id) WHERE r.ran_at < s.started_at OR r.ran_at > s.ended_at",
        "prompt outside its session": "SELECT count(*) FROM prompts p JOIN sessions s USING "
        "(session_id) WHERE p.created_at < s.started_at OR p.created_at > s.ended_at",
        "prompt after its suggestion": "SELECT count(*) FROM suggestions g JOIN prompts p "
        "USING (prompt_id) WHERE p.created_at > g.shown_at",
        "assignment before signup or start": "SELECT count(*) FROM assignments a JOIN users u "
        "USING (user_id), experiments e WHERE a.assigned_at < u.signup_at "
        "OR a.assigned_at < e.started_at",
        "adoption before signup": "SELECT count(*) FROM feature_adoption f JOIN users u USING "
        "(user_id) WHERE f.adopted_at < u.signup_at OR (f.adopted <> (f.adopted_at IS NOT NULL))",
        "survey before signup": "SELECT count(*) FROM survey_responses r JOIN users u "
        "USING (user_id) WHERE r.submitted_at < u.signup_at",
        "week without Monday": "SELECT count(*) FROM dev_outcomes WHERE isodow(week_start) <> 1",
    }
    for label, sql in wrong.items():
        assert scalar(con, sql) == 0, label
    end = dt.datetime.combine(BASE.end, dt.time())
    assert scalar(con, "SELECT max(started_at) FROM sessions") < end
    # the last sessions may run past midnight, not further
    assert scalar(con, "SELECT max(ended_at) FROM sessions") < end + dt.timedelta(hours=12)
    assert scalar(con, "SELECT max(submitted_at) FROM survey_responses") < end


def test_users_have_segments_cohorts_and_lifecycles(
    result: SimulationResult, con: duckdb.DuckDBPyConnection
) -> None:
    segments = dict(con.execute("SELECT segment, count(*) FROM users GROUP BY 1").fetchall())
    assert set(segments) == set(sim.SIMULATED_SEGMENTS)
    # experts use neovim/vim/emacs more than beginners
    terminal = dict(
        con.execute(
            "SELECT segment, avg(CAST(editor IN ('neovim', 'vim', 'emacs') AS DOUBLE)) "
            "FROM users GROUP BY 1"
        ).fetchall()
    )
    assert terminal["expert"] > 2 * terminal["beginner"]
    start = dt.datetime.combine(BASE.start, dt.time())
    new_users = scalar(con, f"SELECT count(*) FROM users WHERE signup_at >= '{start}'")
    assert 0.15 * BASE.users < new_users < 0.35 * BASE.users
    assert result.ground_truth["lifecycle"]["new_users"] == new_users
    # some users are active early, silent for days, then active again (resurrection)
    back = scalar(
        con,
        """
        SELECT count(DISTINCT user_id) FROM (
            SELECT user_id, CAST(started_at AS DATE) AS d,
                   lag(CAST(started_at AS DATE))
                       OVER (PARTITION BY user_id ORDER BY started_at) AS p
            FROM sessions) WHERE d - p >= 7
        """,
    )
    assert back > 0.02 * BASE.users
    # heavy-tailed activity: the top 10% of users make a large share of the suggestions
    share = scalar(
        con,
        """
        WITH per AS (SELECT user_id, count(*) AS n FROM suggestions GROUP BY 1),
        ranked AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS decile FROM per)
        SELECT sum(n) FILTER (WHERE decile = 1) / sum(n) FROM ranked
        """,
    )
    assert share > 0.25


def test_weekdays_are_busier_than_weekends(con: duckdb.DuckDBPyConnection) -> None:
    per_day = con.execute(
        "SELECT isodow(started_at) >= 6 AS weekend, "
        "count(*) / count(DISTINCT CAST(started_at AS DATE)) "
        "FROM sessions WHERE started_at < (SELECT max(started_at) FROM sessions) GROUP BY 1"
    ).fetchall()
    rate = dict(per_day)
    assert rate[False] > 3 * rate[True]
    work = scalar(
        con, "SELECT avg(CAST(hour(started_at) BETWEEN 7 AND 18 AS DOUBLE)) FROM sessions"
    )
    assert 0.6 < work < 0.95


# --------------------------------------------------------------------------- runs, prompts, text


def test_runs_outcomes_and_messages(con: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            con,
            "SELECT count(*) FROM runs WHERE (error_type = 'none') <> (error_message IS NULL)",
        )
        == 0
    )
    assert (
        scalar(
            con,
            "SELECT count(*) FROM runs WHERE NOT compile_ok AND (error_type = 'none' "
            "OR tests_passed + tests_failed > 0)",
        )
        == 0
    )
    assert (
        scalar(con, "SELECT count(*) FROM runs WHERE tests_failed > 0 AND error_type = 'none'") == 0
    )
    assert scalar(con, "SELECT count(*) FROM runs WHERE kind = 'build' AND tests_passed > 0") == 0
    fail = scalar(con, "SELECT avg(CAST(error_type <> 'none' AS DOUBLE)) FROM runs")
    assert 0.1 < fail < 0.4
    distinct = scalar(con, "SELECT count(DISTINCT error_message) FROM runs")
    assert distinct > 1000
    samples = {
        "python": [
            'Traceback (most recent call last):\n  File "',
            "NameError: name '",
            "ModuleNotFoundError: No module named '",
            "SyntaxError: ",
            "AssertionError",
        ],
        "javascript": [
            "TypeError: Cannot read properties of undefined (reading '",
            "ReferenceError: ",
        ],
        "cpp": ["error: expected ';' before '}' token", "was not declared in this scope"],
        "java": ["error: cannot find symbol"],
        "go": ["undefined: "],
    }
    for language, needles in samples.items():
        texts = [
            r[0]
            for r in con.execute(
                "SELECT error_message FROM runs WHERE language = ? AND error_message IS NOT NULL",
                [language],
            ).fetchall()
        ]
        for needle in needles:
            assert any(needle in t for t in texts), (language, needle)
    # python name errors look like real tracebacks
    tb = scalar(
        con,
        "SELECT error_message FROM runs WHERE language = 'python' AND error_type = 'name_error' "
        "LIMIT 1",
    )
    assert tb.startswith("Traceback (most recent call last):\n  File ")
    assert "\nNameError: name '" in tb
    assert tb.rstrip().endswith("is not defined") or "Did you mean" in tb


def test_model_version_of_runs_follows_accepted_suggestions(con: duckdb.DuckDBPyConnection) -> None:
    wrong = scalar(
        con,
        """
        SELECT count(*) FROM runs r
        LEFT JOIN (
            SELECT r.run_id, arg_max(g.model_version, g.shown_at) AS last_version
            FROM runs r JOIN suggestions g ON g.session_id = r.session_id
              AND g.shown_at < r.ran_at AND g.outcome IN ('accepted', 'partially_accepted')
            GROUP BY r.run_id
        ) x USING (run_id)
        WHERE r.model_version IS DISTINCT FROM x.last_version
        """,
    )
    assert wrong == 0


def test_prompts_vary_in_content_and_complexity(con: duckdb.DuckDBPyConnection) -> None:
    distinct = scalar(con, "SELECT count(DISTINCT text) FROM prompts")
    assert distinct > 5000
    lengths = con.execute(
        "SELECT min(length(text)), median(length(text)), max(length(text)) FROM prompts"
    ).fetchone()
    assert lengths is not None
    assert lengths[0] >= 20 and lengths[2] > 3 * lengths[1]
    texts = [
        r[0]
        for r in con.execute(
            "SELECT text FROM prompts USING SAMPLE 3000 ROWS (reservoir, 1)"
        ).fetchall()
    ]
    assert any("O(n log n)" in t for t in texts)
    assert any("e.g. " in t for t in texts)
    assert any(t.startswith("# ") for t in texts) and any(t.startswith("// ") for t in texts)
    # chat prompts (not linked to a suggestion) come from adopters after adoption only
    wrong = scalar(
        con,
        """
        SELECT count(*) FROM prompts p JOIN feature_adoption f USING (user_id)
        WHERE p.prompt_id NOT IN (SELECT prompt_id FROM suggestions WHERE prompt_id IS NOT NULL)
          AND (NOT f.adopted OR p.created_at < f.adopted_at)
        """,
    )
    assert wrong == 0


def test_templates_only_use_known_slots() -> None:
    row_slots = {"cprefix", "csuffix", "langname"}
    for tpl in sim.ERROR_TEMPLATES + sim.CHAT_TEMPLATES + sim.COMMENT_TEMPLATES:
        assert tpl.slots <= set(sim.VOCAB) | row_slots, tpl


# --------------------------------------------------------------------------- experiment


def test_model_versions_follow_the_experiment(con: duckdb.DuckDBPyConnection) -> None:
    start = dt.datetime.combine(BASE.experiment_start, dt.time())
    assert (
        scalar(
            con,
            f"SELECT count(*) FROM suggestions WHERE shown_at < '{start}' "
            "AND model_version <> 'v1'",
        )
        == 0
    )
    wrong = scalar(
        con,
        f"SELECT count(*) FROM suggestions g JOIN assignments a USING (user_id) "
        f"WHERE g.shown_at >= '{start}' AND g.model_version <> a.variant",
    )
    assert wrong == 0
    split = dict(con.execute("SELECT variant, count(*) FROM assignments GROUP BY 1").fetchall())
    assert set(split) == {"v1", "v2"} and abs(split["v1"] - split["v2"]) < 0.08 * BASE.users


def test_ab_lift_matches_the_truth(
    result: SimulationResult, con: duckdb.DuckDBPyConnection
) -> None:
    truth = result.ground_truth["experiments"][0]
    start = dt.datetime.combine(BASE.experiment_start, dt.time())
    rates = dict(
        con.execute(
            f"""
            SELECT a.variant,
                   avg(CAST(g.outcome IN ('accepted', 'partially_accepted') AS DOUBLE))
            FROM suggestions g JOIN assignments a USING (user_id)
            WHERE g.shown_at >= '{start}' AND g.outcome <> 'not_shown'
            GROUP BY 1
            """
        ).fetchall()
    )
    assert rates["v2"] > rates["v1"]
    observed = rates["v2"] / rates["v1"] - 1
    assert truth["true_relative_lift"] > 0.03
    assert abs(observed - truth["true_relative_lift"]) < 0.03
    assert abs(rates["v1"] - truth["true_rate_control"]) < 0.01
    assert (
        abs(
            truth["true_absolute_lift"]
            - (truth["true_rate_treatment"] - truth["true_rate_control"])
        )
        < 1e-12
    )
    # pre-period: everybody on v1, arms equal up to noise
    pre = dict(
        con.execute(
            f"""
            SELECT a.variant,
                   avg(CAST(g.outcome IN ('accepted', 'partially_accepted') AS DOUBLE))
            FROM suggestions g JOIN assignments a USING (user_id)
            WHERE g.shown_at < '{start}' AND g.outcome <> 'not_shown' GROUP BY 1
            """
        ).fetchall()
    )
    assert abs(pre["v2"] / pre["v1"] - 1) < 0.03
    assert truth["srm_planted"] is False


def test_srm_changes_the_split() -> None:
    res = simulate(SimulationConfig(users=2000, days=15, experiment_start_day=7, seed=7, srm=True))
    counts = pc.value_counts(res.tables["assignments"]["variant"])
    split = dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )
    n = split["v1"] + split["v2"]
    chi2 = (split["v1"] - n / 2) ** 2 / (n / 2) + (split["v2"] - n / 2) ** 2 / (n / 2)
    p_value = math.erfc(math.sqrt(chi2 / 2))  # chi-square with 1 df
    assert p_value < 1e-4
    truth = res.ground_truth["experiments"][0]
    assert truth["srm_planted"] is True
    assert truth["assignments_logged"] == {"control": split["v1"], "treatment": split["v2"]}
    assert truth["srm_dropped_assignments"] == truth["users_assigned"] - n
    # unlogged treatment users still got v2
    logged = set(res.tables["assignments"]["user_id"].to_pylist())
    v2_users = set(
        res.tables["suggestions"]
        .filter(pc.equal(res.tables["suggestions"]["model_version"], "v2"))["user_id"]
        .to_pylist()
    )
    assert v2_users - logged


# --------------------------------------------------------------------------- acceptance model


def _logistic_fit(
    x: np.ndarray, y: np.ndarray, iterations: int = 15
) -> tuple[np.ndarray, np.ndarray]:
    """Newton-Raphson logistic regression; returns coefficients and standard errors.

    einsum rather than ``@``: multi-threaded BLAS crawls on a busy two-core machine.
    """
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.einsum("ni,i->n", x, beta)))
        hessian = np.einsum("ni,nj->ij", x, x * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, np.einsum("ni,n->i", x, y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-7:
            break
    p = 1 / (1 + np.exp(-np.einsum("ni,i->n", x, beta)))
    cov = np.linalg.inv(np.einsum("ni,nj->ij", x, x * (p * (1 - p))[:, None]))
    return beta, np.sqrt(np.diag(cov))


def test_planted_logistic_model_is_recovered(
    result: SimulationResult, con: duckdb.DuckDBPyConnection
) -> None:
    truth = result.ground_truth["acceptance_model"]
    coefs: dict[str, float] = truth["coefficients"]
    rows = con.execute(
        """
        SELECT u.segment, g.language, s.task_type, g.trigger, g.latency_ms / 1000 AS latency_s,
               ln(g.suggested_chars) AS log_chars, CAST(g.model_version = 'v2' AS DOUBLE) AS v2,
               CAST(hour(g.shown_at) >= 18 OR hour(g.shown_at) < 8 AS DOUBLE) AS evening,
               CAST(g.outcome IN ('accepted', 'partially_accepted') AS DOUBLE) AS y
        FROM suggestions g JOIN users u USING (user_id) JOIN sessions s USING (session_id)
        WHERE g.outcome <> 'not_shown'
        """
    ).fetchnumpy()
    names = ["intercept"]
    cols = [np.ones(len(rows["y"]))]
    for factor, column in (
        ("segment", "segment"),
        ("language", "language"),
        ("task_type", "task_type"),
        ("trigger", "trigger"),
    ):
        values = np.asarray(rows[column])
        for level in coefs:
            if (
                level.startswith(f"{factor}[")
                and level != f"{factor}[{truth['reference_levels'][factor]}]"
            ):
                names.append(level)
                cols.append((values == level[len(factor) + 1 : -1]).astype(float))
    for name, column in (
        ("latency_s", "latency_s"),
        ("log_suggested_chars", "log_chars"),
        ("model_version[v2]", "v2"),
        ("evening", "evening"),
    ):
        names.append(name)
        cols.append(np.asarray(rows[column], dtype=float))
    x = np.column_stack(cols)
    y = np.asarray(rows["y"], dtype=float)
    keep = np.random.default_rng(0).random(len(y)) < 200_000 / len(y)  # fast, ample
    beta, se = _logistic_fit(x[keep], y[keep])
    z = {n: (b - coefs[n]) / s for n, b, s in zip(names, beta, se, strict=True)}
    assert max(abs(v) for v in z.values()) < 4.5, sorted(z.items(), key=lambda kv: -abs(kv[1]))[:5]
    # the key effects are estimated tightly
    for key in ("model_version[v2]", "latency_s", "log_suggested_chars", "evening"):
        i = names.index(key)
        assert abs(beta[i] - coefs[key]) < 4 * se[i] and se[i] < 0.1, key
    # the expected rate over shown suggestions matches the empirical one
    assert abs(truth["realised_acceptance_rate"] - truth["expected_acceptance_rate"]) < 0.003
    assert abs(float(y.mean()) - truth["realised_acceptance_rate"]) < 1e-12  # all shown rows
    assert 0.2 < float(y.mean()) < 0.4


def test_not_shown_is_decided_by_latency_or_a_small_random_drop(
    con: duckdb.DuckDBPyConnection,
) -> None:
    share = scalar(con, "SELECT avg(CAST(outcome = 'not_shown' AS DOUBLE)) FROM suggestions")
    assert 0.01 < share < 0.08
    assert (
        scalar(
            con,
            f"SELECT count(*) FROM suggestions WHERE latency_ms > {sim.NOT_SHOWN_LATENCY_MS} "
            "AND outcome <> 'not_shown'",
        )
        == 0
    )


# --------------------------------------------------------------------------- causal, survey


def test_naive_chat_effect_is_biased_and_stratification_fixes_it(
    result: SimulationResult, con: duckdb.DuckDBPyConnection
) -> None:
    truth = result.ground_truth["causal"][0]
    start = dt.datetime.combine(BASE.start, dt.time())
    df = con.execute(
        f"""
        SELECT u.segment, f.adopted,
               date_diff('second', u.signup_at, TIMESTAMP '{start}') / 86400.0 AS tenure_days,
               avg(o.prs_merged) AS y
        FROM dev_outcomes o JOIN users u USING (user_id) JOIN feature_adoption f USING (user_id)
        WHERE f.feature = 'chat'
        GROUP BY u.user_id, u.segment, f.adopted, u.signup_at
        """
    ).df()
    assert len(df) == truth["n_users"]
    assert int(df["adopted"].sum()) == truth["n_adopters"]
    naive = df.loc[df.adopted, "y"].mean() - df.loc[~df.adopted, "y"].mean()
    ate = truth["true_ate"]
    assert truth["naive_difference_expected_sign"] == "+"
    assert naive - ate > 0.3 * ate
    assert abs(naive - truth["expected_naive_difference"]) < 0.25
    # stratify on the confounders (segment x tenure quintile) and standardise to everyone
    df["tenure_bin"] = df.groupby("segment")["tenure_days"].transform(
        lambda t: np.minimum((t.rank(pct=True) * 5).astype(int), 4)
    )
    estimate, weight = 0.0, 0
    for _, stratum in df.groupby(["segment", "tenure_bin"]):
        treated, control = stratum[stratum.adopted], stratum[~stratum.adopted]
        if len(treated) and len(control):
            estimate += len(stratum) * (treated.y.mean() - control.y.mean())
            weight += len(stratum)
    estimate /= weight
    assert abs(estimate - ate) < 0.15, (estimate, ate, naive)
    assert abs(estimate - ate) < abs(naive - ate) / 3
    assert truth["true_att"] != ate


def test_survey_links_perceived_productivity_to_acceptance(
    result: SimulationResult, con: duckdb.DuckDBPyConnection
) -> None:
    truth = result.ground_truth["survey"]
    respondents = scalar(con, "SELECT count(DISTINCT user_id) FROM survey_responses")
    assert respondents == truth["respondents"]
    assert 0.2 * BASE.users < respondents < 0.4 * BASE.users
    assert (
        scalar(
            con,
            "SELECT count(*) FROM (SELECT user_id FROM survey_responses GROUP BY 1 "
            f"HAVING count(DISTINCT item) <> {len(schema.SURVEY_ITEMS)})",
        )
        == 0
    )
    r = scalar(
        con,
        """
        WITH rate AS (
            SELECT user_id, avg(CAST(outcome IN ('accepted', 'partially_accepted') AS DOUBLE)) AS a
            FROM suggestions WHERE outcome <> 'not_shown' GROUP BY 1)
        SELECT corr(a, score) FROM survey_responses JOIN rate USING (user_id)
        WHERE item = 'perceived_productivity'
        """,
    )
    assert 0.1 < r < 0.45
    assert abs(r - truth["realised_correlation_perceived_productivity"]) < 1e-9


# --------------------------------------------------------------------------- determinism, streaming


SMALL = SimulationConfig(users=450, days=21, experiment_start_day=10, seed=11, chunk_users=160)


def test_same_config_same_tables() -> None:
    a, b = simulate(SMALL), simulate(SMALL)
    for name in schema.EVENT_TABLES:
        assert a.tables[name].equals(b.tables[name]), name
    assert a.ground_truth == b.ground_truth
    c = simulate(SimulationConfig(**{**SMALL.__dict__, "seed": 12}))
    assert not c.tables["suggestions"].equals(a.tables["suggestions"])


def test_streamed_chunks_concatenate_to_simulate() -> None:
    whole = simulate(SMALL)
    acc = TruthAccumulator()
    chunks = list(iter_chunks(SMALL, truth=acc))
    assert len(chunks) == SMALL.n_chunks == 3
    for name in schema.EVENT_TABLES:
        assert all(list(c) == list(schema.EVENT_TABLES) for c in chunks)
        joined = pa.concat_tables([c[name] for c in chunks])
        assert joined.equals(whole.tables[name]), name
    assert acc.to_dict(SMALL) == whole.ground_truth
    assert ground_truth(SMALL) == whole.ground_truth
    # every chunk is schema-valid on its own (the CLI may write them one by one)
    for chunk in chunks:
        for name, table in chunk.items():
            assert table.schema.equals(arrow_schema(name))


def test_ground_truth_is_json_serialisable(result: SimulationResult) -> None:
    text = json.dumps(result.ground_truth, allow_nan=False)
    back = json.loads(text)
    assert back["seed"] == BASE.seed
    assert back["config"]["start"] == BASE.start.isoformat()
    assert back["tables"] == {name: t.num_rows for name, t in result.tables.items()}
    assert {"acceptance_model", "experiments", "causal", "survey", "persistence"} <= set(back)


def test_progress_is_reported_monotonically() -> None:
    seen: list[tuple[str, float]] = []
    simulate(SMALL, progress=lambda stage, f: seen.append((stage, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0
    assert seen[-1][0] == "done"


@pytest.mark.parametrize(
    "bad",
    [
        {"users": 0},
        {"days": 0},
        {"experiment_start_day": 28},
        {"days": 10, "experiment_start_day": 10},
        {"chunk_users": 0},
        {"seed": -1},
        {"srm_drop_fraction": 1.5},
        {"start": dt.date(2010, 1, 1)},
    ],
)
def test_invalid_configs_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid SimulationConfig"):
        SimulationConfig(**bad)


def test_experiment_starts_mid_period_by_default() -> None:
    assert SimulationConfig().experiment_start_day == 14
    assert SimulationConfig(days=10).experiment_start_day == 5
    assert SimulationConfig(days=10, experiment_start_day=2).experiment_start_day == 2
    one_day = simulate(SimulationConfig(users=30, days=1))
    assert one_day.tables["suggestions"].num_rows > 0
    assert one_day.ground_truth["experiments"][0]["pre_period"]["days"] == 0


def test_id_helpers() -> None:
    ids = sim._id_range("x", 9_990, 10_012)
    assert ids.to_pylist() == [f"x{i}" for i in range(9_990, 10_012)]
    assert sim._id_range("x", 5, 5).to_pylist() == []
    big = sim._id_range("g", 123_456_780, 123_456_790)
    assert big.to_pylist() == [f"g{i}" for i in range(123_456_780, 123_456_790)]
    values = pa.array(["a", "bb", "ccc"]).slice(0)
    scattered = sim._scatter_strings(values, np.array([1, 4, 5]), 7)
    scattered.validate(full=True)
    assert scattered.to_pylist() == [None, "a", None, None, "bb", "ccc", None]


# --------------------------------------------------------------------------- warehouse


def _insert_placeholder_row(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """One valid row of a table, whatever its columns (built from the schema)."""
    placeholder = {
        "VARCHAR": "x",
        "BIGINT": 0,
        "INTEGER": 0,
        "DOUBLE": 0.0,
        "BOOLEAN": False,
        "TIMESTAMP": dt.datetime(2026, 1, 1),
        "DATE": dt.date(2026, 1, 1),
    }
    cols = schema.TABLES[name].required_columns
    values = [
        (
            schema.TABLES[name].column(c).allowed
            or [placeholder[schema.TABLES[name].column(c).dtype]]
        )[0]
        for c in cols
    ]
    con.execute(
        f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", values
    )


def test_load_into_warehouse_replaces_event_data(tmp_path: Path) -> None:
    res = simulate(SMALL)
    con = db.connect(tmp_path / "w.duckdb")
    try:
        _insert_placeholder_row(con, "copilot_seats")
        first = load_into_warehouse(con, res)
        assert first == res.row_counts()
        second = load_into_warehouse(con, iter_chunks(SMALL))  # streamed, same data
        assert second == first
        counts = db.table_counts(con)
        for name in schema.EVENT_TABLES:
            assert counts[name] == res.tables[name].num_rows, name
        assert counts["copilot_seats"] == 1

        # a failure midway rolls everything back
        def broken() -> Iterator[dict[str, pa.Table]]:
            yield from iter_chunks(SMALL)
            raise RuntimeError("disk full")

        with pytest.raises(RuntimeError, match="disk full"):
            load_into_warehouse(con, broken())
        assert db.table_counts(con)["suggestions"] == res.tables["suggestions"].num_rows
        # what DuckDB stored is what was simulated
        stored = con.execute(
            "SELECT sum(accepted_chars), count(DISTINCT session_id), min(shown_at) FROM suggestions"
        ).fetchone()
        s = res.tables["suggestions"]
        assert stored == (
            pc.sum(s["accepted_chars"]).as_py(),
            len(pc.unique(s["session_id"])),
            pc.min(s["shown_at"]).as_py(),
        )
    finally:
        con.close()
