"""DuckDB and Spark agree: every catalog query, on both engines, over the same warehouse.

One SparkSession (``local[2]``) for the module. The warehouse is the simulator's (150 users,
21 days) plus the Copilot and quarantine tables of the hand-made fixture of test_queries.py
(the simulator writes none), so every query has rows to compare; it is exported with
``db.export_parquet`` and read by :class:`codex_ds.warehouse.spark.SparkWarehouse`. Each query
runs with its defaults and with filtered parameter sets on DuckDB (the warehouse file) and on
Spark (the export), and the results must be equal after sorting by all columns: same names,
the declared types, the same rows; floats within 1e-9 (relative or absolute), NULL equal to
NULL only. The empty warehouse, SQL injection through a parameter, integer casts and the
CLI's ``--engine spark`` are checked too.

To fit a busy two-core CI machine, the session runs one shuffle partition with interpreted
(not compiled) expressions, and the differential tests keep the export's tables in Spark's
memory after reading them once; the CLI tests read the Parquet files as a user's run does.

Without PySpark or Java 17 the module skips with the reason; with ``CODEX_DS_REQUIRE_SPARK=1``
(CI) it fails instead, so the comparison cannot silently stop running.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from codex_ds.cli.main import app
from codex_ds.telemetry import schema
from codex_ds.warehouse import catalog, db
from codex_ds.warehouse import spark as spark_engine

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CATALOG = catalog.default_catalog()
INJECTION = "'; DROP TABLE users; --"
REL = ABS = 1e-9

_reason = spark_engine.unavailable_reason()
if _reason is not None:
    if os.environ.get("CODEX_DS_REQUIRE_SPARK") == "1":
        pytest.fail(f"CODEX_DS_REQUIRE_SPARK=1 but {_reason}", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)


def _test_queries() -> ModuleType:
    """test_queries.py, for its hand-made tables (the test modules are not a package)."""
    path = Path(__file__).with_name("test_queries.py")
    spec = importlib.util.spec_from_file_location("codex_ds_test_queries_for_spark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ============================================================================ fixtures


@dataclass
class Pair:
    """One warehouse on both engines: the DuckDB file and its Parquet export on Spark."""

    home: Path
    duck: duckdb.DuckDBPyConnection
    spark: spark_engine.SparkWarehouse


#: Tiny data: interpreted expressions and one shuffle partition cost a third of the CPU of
#: compiled code (Spark evaluates both ways alike; its own suites test both).
FAST_SMALL_DATA = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@pytest.fixture(scope="module")
def session() -> Iterator[SparkSession]:
    started = time.perf_counter()
    s = spark_engine.create_session("local[2]", shuffle_partitions=1, conf=FAST_SMALL_DATA)
    print(f"SparkSession started in {time.perf_counter() - started:.1f} s")
    yield s
    s.stop()


def _pair(home: Path, session: SparkSession) -> Pair:
    with db.open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        db.export_parquet(con, home / "parquet")
    duck = db.connect(home / "warehouse.duckdb", read_only=True)
    wh = spark_engine.SparkWarehouse.open(home / "parquet", session=session, cache=True)
    return Pair(home, duck, wh)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory, session: SparkSession) -> Iterator[Pair]:
    from codex_ds.telemetry.simulate import SimulationConfig, load_into_warehouse, simulate

    home = tmp_path_factory.mktemp("spark_full")
    con = db.connect(home / "warehouse.duckdb")
    load_into_warehouse(con, simulate(SimulationConfig(users=150, days=21, seed=5)))
    handmade = _test_queries().handmade_tables()
    copilot = handmade["copilot_daily"]
    # Rows whose scope_id is SQL text: a filter on it must match them, as a value.
    acme = copilot.filter(pc.equal(copilot.column("scope_id"), "acme")).slice(0, 6)
    injected = acme.set_column(
        acme.schema.get_field_index("scope_id"), "scope_id", pa.array([INJECTION] * acme.num_rows)
    )
    handmade["copilot_daily"] = pa.concat_tables([copilot, injected])
    for table in ("copilot_daily", "copilot_user_daily", "quarantine", "ingest_files"):
        db.load_arrow(con, table, handmade[table])
    con.execute(
        "UPDATE users SET team = ? WHERE user_id = (SELECT min(user_id) FROM users)", [INJECTION]
    )
    con.close()
    pair = _pair(home, session)
    yield pair
    pair.spark.close()
    pair.duck.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory, session: SparkSession) -> Iterator[Pair]:
    home = tmp_path_factory.mktemp("spark_empty")
    db.connect(home / "warehouse.duckdb").close()
    pair = _pair(home, session)
    yield pair
    pair.spark.close()
    pair.duck.close()


# ============================================================================ comparison


def _sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    key: list[Any] = []
    for v in row.values():
        if v is None:
            key.append((2, ""))
        elif isinstance(v, float):
            key.append((1, "nan") if math.isnan(v) else (0, float(f"{v:.9g}")))
        elif isinstance(v, dt.date):  # datetime too
            key.append((0, v.isoformat()))
        elif isinstance(v, list):
            key.append((0, json.dumps(v, default=str)))
        else:
            key.append((0, v))
    return tuple(key)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL, abs_tol=ABS)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def assert_same_rows(duck: pa.Table, spark: pa.Table, what: str) -> None:
    """Equal after sorting by all columns (floats within 1e-9, NULL only equal to NULL)."""
    assert spark.column_names == duck.column_names, what
    assert spark.schema.types == duck.schema.types, (what, spark.schema, duck.schema)
    assert spark.num_rows == duck.num_rows, (
        f"{what}: Spark {spark.num_rows} rows, DuckDB {duck.num_rows}"
    )
    d_rows = sorted(duck.to_pylist(), key=_sort_key)
    s_rows = sorted(spark.to_pylist(), key=_sort_key)
    for i, (d, s) in enumerate(zip(d_rows, s_rows, strict=True)):
        for col in duck.column_names:
            assert _same(d[col], s[col]), (
                f"{what} row {i} {col}: DuckDB {d[col]!r}, Spark {s[col]!r}\n{d}\n{s}"
            )


def test_the_comparison_sees_a_difference() -> None:
    base = pa.table({"k": ["a", "b"], "x": [1.0, None], "d": [dt.date(2026, 1, 5)] * 2})
    assert_same_rows(base, base.take([1, 0]), "order does not matter")
    close = base.set_column(1, "x", pa.array([1.0 + 1e-12, None]))
    assert_same_rows(base, close, "within tolerance")
    for changed in (
        base.set_column(1, "x", pa.array([1.0 + 1e-6, None])),
        base.set_column(1, "x", pa.array([1.0, 0.0])),
        base.set_column(2, "d", pa.array([dt.date(2026, 1, 6)] * 2)),
        base.set_column(1, "x", pa.array([1, None], pa.int64())),
    ):
        with pytest.raises(AssertionError):
            assert_same_rows(base, changed, "different")


# ============================================================================ parameter sets


def param_sets(pair: Pair, q: catalog.Query) -> list[dict[str, Any]]:
    """Defaults, then filters drawn from the data, then values specific to the query."""
    first, top_language, top_editor, last_model = pair.duck.execute(
        "SELECT (SELECT CAST(min(started_at) AS DATE) FROM sessions), "
        "(SELECT mode(language) FROM suggestions), (SELECT mode(editor) FROM sessions), "
        "(SELECT max(model_version) FROM suggestions)"
    ).fetchone() or (None, None, None, None)
    candidates: list[dict[str, Any]] = [
        {},
        {
            "start_date": first + dt.timedelta(days=3),
            "end_date": first + dt.timedelta(days=12),
            "segment": "expert",
        },
        {"language": top_language, "editor": top_editor, "model_version": last_model},
    ]
    specific: dict[str, list[dict[str, Any]]] = {
        "retention_day_n": [{"days": [0, 3, 10], "segment": "beginner"}],
        "monitor_daily_metrics": [{"dimension": "model_version"}],
        "top_error_messages": [{"n": 2, "kind": "test"}],
        "error_types": [{"kind": "build"}],
        "copilot_by_dimension": [{"dimension": "editor", "api": "metrics"}],
        "copilot_daily_totals": [{"api": "usage_metrics"}, {"scope_id": INJECTION}],
        "copilot_user_activity": [{"api": "usage_metrics", "end_date": dt.date(2026, 1, 5)}],
        "quarantine_summary": [{"reason": "unknown_value"}],
        "experiment_unit_stats": [{"winsorize_quantile": 0.9}, {"experiment_id": "no_such"}],
        "experiment_daily_stats": [{"experiment_id": "exp_model_v2"}],
        "experiment_assignment_counts": [{"experiment_id": "exp_model_v2"}],
        "rollout_step_stats": [
            {"exposed_share": 0.3},
            {
                "exposed_share": 0.6,
                "window_start": dt.datetime.combine(first, dt.time()) + dt.timedelta(days=11),
                "window_end": dt.datetime.combine(first, dt.time()) + dt.timedelta(days=14),
            },
        ],
    }
    declared = {p.name for p in q.params}
    sets: list[dict[str, Any]] = []
    for c in candidates + specific.get(q.name, []):
        kept = {k: v for k, v in c.items() if k in declared}
        if kept not in sets:
            sets.append(kept)
    return sets


# ============================================================================ the differential test


@pytest.mark.parametrize("name", CATALOG.names())
def test_query_agrees_on_duckdb_and_spark(full: Pair, name: str) -> None:
    q = CATALOG.get(name)
    sets = param_sets(full, q)
    assert len(sets) >= 2, f"{name}: no filtered parameter set"
    for params in sets:
        what = f"{name} {params}"
        duck = catalog.run(full.duck, q, params)
        bound = catalog.bind(q, params)
        raw = full.spark.arrow(q, bound)
        # Spark's own types are the declared ones: nothing is papered over by a cast.
        assert raw.schema.types == spark_engine.arrow_schema(q).types, (what, raw.schema)
        assert_same_rows(duck.table, spark_engine.to_declared(raw, q), what)
        if not params:
            assert duck.rows > 0, f"{name}: no rows with defaults, the comparison says little"


def test_every_table_reads_back_from_the_export(full: Pair) -> None:
    """The export's ``day=`` folders add no column and lose no row; Copilot tables, which own
    a ``day`` column, keep theirs."""
    counts = " UNION ALL ".join(
        f"SELECT '{name}' AS t, COUNT(*) AS n FROM {name}" for name in schema.TABLES
    )
    spark_counts = {r["t"]: r["n"] for r in full.spark.sql(counts).collect()}
    duck_counts = db.table_counts(full.duck)
    assert spark_counts == duck_counts
    assert all(full.spark.tables[t] == (n > 0) for t, n in duck_counts.items())
    for name, spec in schema.TABLES.items():
        assert full.spark.session.table(name).columns == list(spec.column_names), name
    days = "SELECT day, COUNT(*) AS n FROM copilot_daily GROUP BY day"
    assert sorted(tuple(r) for r in full.spark.sql(days).collect()) == sorted(
        full.duck.execute(days).fetchall()
    )


def test_every_query_agrees_on_an_empty_warehouse(empty: Pair) -> None:
    assert not any(empty.spark.tables.values())  # an empty warehouse exports no file
    duck = {r.query: r for r in catalog.run_all(empty.duck)}
    spark = {r.query: r for r in catalog.run_all(empty.spark)}
    assert sorted(spark) == sorted(duck) == CATALOG.names()
    for name, result in spark.items():
        assert result.engine == "spark"
        assert_same_rows(duck[name].table, result.table, name)
        if name == "suggestion_funnel":  # five steps of zero
            assert [r["suggestions"] for r in result.records()] == [0] * 5
        else:
            assert result.rows == 0, name


# ============================================================================ parameters


DEMO = """\
-- name: demo
-- category: engagement
-- description: Users of one team.
-- param: team VARCHAR -- required, free text
-- param: n INTEGER = 3 -- how many
-- column: user_id VARCHAR -- the user
-- column: team VARCHAR -- the team

SELECT user_id, team
FROM users
WHERE team = $team
ORDER BY user_id
LIMIT $n
"""


def test_sql_in_a_value_is_only_a_value_on_spark(full: Pair) -> None:
    q = catalog.parse_query(DEMO, name="demo")
    users = full.spark.sql("SELECT COUNT(*) FROM users").collect()[0][0]
    hit = catalog.run(full.spark, q, {"team": INJECTION})
    assert hit.engine == "spark" and [r["team"] for r in hit.records()] == [INJECTION]
    assert hit.records() == catalog.run(full.duck, q, {"team": INJECTION}).records()
    assert catalog.run(full.spark, q, {"team": "a' OR '1'='1"}).rows == 0
    # A filter on a Copilot scope whose id is SQL text matches exactly its rows.
    totals = CATALOG.get("copilot_daily_totals")
    on_spark = catalog.run(full.spark, totals, {"scope_id": INJECTION})
    assert on_spark.rows > 0
    assert_same_rows(
        catalog.run(full.duck, totals, {"scope_id": INJECTION}).table, on_spark.table, "scope"
    )
    # A value that must occur in a column is checked (with a bound query) on Spark too ...
    by_language = CATALOG.get("acceptance_by_language")
    with pytest.raises(catalog.ParameterError, match=r"does not occur in suggestions\.model_v"):
        catalog.run(full.spark, by_language, {"model_version": INJECTION})
    # ... and, unchecked, is still only a value.
    assert full.spark.run(by_language, {"model_version": INJECTION}, check_values=False).rows == 0
    assert full.spark.sql("SELECT COUNT(*) FROM users").collect()[0][0] == users


def test_engine_and_connection_must_match(full: Pair) -> None:
    q = CATALOG.get("active_users")
    with pytest.raises(catalog.EngineNotAvailableError, match=r"SparkWarehouse\.open"):
        catalog.run(full.duck, q, engine="spark")
    with pytest.raises(catalog.EngineNotAvailableError, match="DuckDB connection"):
        catalog.run(full.spark, q, engine="duckdb")
    assert catalog.run(full.spark, q, engine="spark").engine == "spark"


# ============================================================================ transpilation


CASTS = """\
-- name: casts
-- category: errors
-- description: Integer casts of divisions.
-- column: chars INTEGER -- suggested characters
-- column: half INTEGER -- chars / 2 as an integer
-- column: quarter BIGINT -- chars / 4 as an integer

SELECT DISTINCT
    suggested_chars AS chars,
    CAST(suggested_chars / 2 AS INTEGER) AS half,
    CAST(suggested_chars / 4 AS BIGINT) AS quarter
FROM suggestions
WHERE suggested_chars < 40
"""


def test_integer_casts_round_on_spark_as_on_duckdb(full: Pair) -> None:
    """DuckDB rounds a DOUBLE to the nearest integer when casting (ties to even), Spark
    truncates: the catalog's Spark rewrite (BROUND) makes them agree."""
    q = catalog.parse_query(CASTS, name="casts")
    duck = catalog.run(full.duck, q).table
    assert {c % 4 for c in duck.column("chars").to_pylist()} == {0, 1, 2, 3}  # .25, .5, .75
    assert_same_rows(duck, catalog.run(full.spark, q).table, "casts")
    import sqlglot

    plain = sqlglot.transpile(q.sql, read="duckdb", write="spark")[0]
    truncated = full.spark.sql(plain).toArrow()
    with pytest.raises(AssertionError):  # without the rewrite, Spark truncates
        assert_same_rows(duck, spark_engine.to_declared(truncated, q), "plain sqlglot")


# ============================================================================ the CLI


def _cli(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--home", str(home), "sql", "run", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_runs_on_spark(full: Pair, empty: Pair) -> None:
    # The running session is borrowed (not stopped) and the default export is <home>/parquet.
    code, out, err = _cli(full.home, "latency_percentiles", "--engine", "spark", "--json")
    assert code == 0, err
    code_d, out_d, _ = _cli(full.home, "latency_percentiles", "--json")
    assert code_d == 0
    as_table = lambda text: pa.Table.from_pylist(json.loads(text))  # noqa: E731
    assert_same_rows(as_table(out_d), as_table(out), "CLI latency_percentiles")
    code, out, err = _cli(empty.home, "--all", "--engine", "spark", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["engine"] == "spark" and summary["failed"] == 0, err
    assert len(summary["queries"]) == len(CATALOG)
    assert full.spark.sql("SELECT 1 AS alive").collect()[0]["alive"] == 1  # not stopped


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("active_users", "--engine", "spark", "--parquet", "nowhere"), 1, "warehouse export"),
        (("active_users", "--spark-master", "local[1]"), 2, "need(s) --engine spark"),
        (("active_users", "--parquet", "x"), 2, "need(s) --engine spark"),
        (("active_users", "--engine", "spark", "--spark-conf", "x=1"), 2, "spark.KEY=VALUE"),
        (("active_users", "--engine", "sparc"), 2, "unknown engine 'sparc'"),
        (("active_users", "--engine", "spark", "--spark-master", "x://y"), 2, "expected local[N]"),
    ],
)
def test_cli_spark_input_errors(
    empty: Pair, tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    got, _, err = _cli(empty.home, *[str(tmp_path / a) if a == "nowhere" else a for a in args])
    assert got == code, err
    assert message in " ".join(err.split()), err


def test_cli_warns_when_the_export_is_older_than_the_warehouse(empty: Pair) -> None:
    parquet = empty.home / "parquet"
    parquet.mkdir(exist_ok=True)
    (parquet / "users").mkdir(exist_ok=True)
    old = time.time() - 3600
    os.utime(parquet / "users", (old, old))
    try:
        assert spark_engine.export_is_stale(empty.home / "warehouse.duckdb", parquet)
        code, _, err = _cli(empty.home, "active_users", "--engine", "spark", "--json")
        assert code == 0 and "older than the warehouse" in " ".join(err.split())
    finally:
        (parquet / "users").rmdir()
