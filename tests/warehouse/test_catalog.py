"""The query catalog: headers, parameters, bad input, output formats, transpiling (golden
files per dialect) and the ``codex-ds sql`` commands.

The results of the queries themselves are checked against oracles in test_queries.py.
Golden transpiled SQL lives in ``golden/<dialect>/<query>.sql``; after a deliberate change
(a query, or sqlglot's major version), regenerate it with
``CODEX_DS_UPDATE_GOLDEN=1 python -m pytest tests/warehouse/test_catalog.py`` and review the
diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from codex_ds.cli.main import app
from codex_ds.telemetry import schema
from codex_ds.warehouse import catalog, db

try:
    import sqlglot
except ImportError:  # pragma: no cover - sqlglot is a dependency; say so instead of failing
    sqlglot = None
needs_sqlglot = pytest.mark.skipif(
    sqlglot is None, reason="rendering and transpiling need sqlglot (pip install 'sqlglot>=30,<31')"
)

CATALOG = catalog.default_catalog()
GOLDEN = Path(__file__).with_name("golden")
UPDATE_GOLDEN = os.environ.get("CODEX_DS_UPDATE_GOLDEN") == "1"
INJECTION = "'; DROP TABLE users; --"

DEMO = """\
-- name: demo
-- category: engagement
-- description: Users of one segment.
--   A second line of description.
-- param: segment VARCHAR = NULL in SEGMENTS -- only this segment
-- param: team VARCHAR -- required, free text
-- param: n INTEGER = 3 -- how many
-- column: user_id VARCHAR -- the user
-- column: team VARCHAR -- the team

SELECT user_id, team
FROM users
WHERE ($segment IS NULL OR segment = $segment) AND team = $team
ORDER BY user_id
LIMIT $n
"""


# ============================================================================ the catalog


def test_catalog_lists_at_least_twenty_queries_in_every_category() -> None:
    assert len(CATALOG) >= 20
    assert {q.category for q in CATALOG} == set(catalog.CATEGORIES)
    for q in CATALOG:
        assert q.path is not None and q.path.stem == q.name
        assert q.description and q.columns
        assert all(p.description for p in q.params), q.name
        assert all(c.description for c in q.columns), q.name


def test_filters_are_uniform() -> None:
    """A dashboard can pass the same filters to every query that declares them."""
    segment_queries = [q for q in CATALOG if q.category in ("segmentation", "latency")]
    for q in segment_queries:
        assert set(q.filters) == set(catalog.FILTERS), q.name
    for q in CATALOG:
        for name in q.filters:
            p, canon = q.param(name), catalog.FILTERS[name]
            assert (p.dtype, p.default, p.choices, p.values_from) == (
                canon.dtype,
                None,
                canon.choices,
                canon.values_from,
            )


def test_header_is_parsed() -> None:
    q = catalog.parse_query(DEMO, name="demo")
    assert q.description == "Users of one segment. A second line of description."
    assert q.summary == "Users of one segment."
    seg, team, n = q.params
    assert (seg.nullable, seg.vocabulary, seg.choices) == (
        True,
        "SEGMENTS",
        schema.SEGMENTS,
    )
    assert (team.required, team.nullable) == (True, False)
    assert (n.dtype, n.default) == ("INTEGER", 3)
    assert q.filters == ("segment",)
    assert q.column_names == ("user_id", "team")
    assert q.to_dict()["params"][2] == {
        "name": "n",
        "type": "INTEGER",
        "default": 3,
        "required": False,
        "nullable": False,
        "choices": None,
        "vocabulary": None,
        "values_from": None,
        "description": "how many",
    }


def test_defaults_of_every_type_are_parsed() -> None:
    text = DEMO.replace(
        "-- param: n INTEGER = 3 -- how many",
        "-- param: n INTEGER = 3 -- how many\n"
        "-- param: d DATE = '2026-01-05' -- a day\n"
        "-- param: days INTEGER[] = [1, 7, 28] -- days\n"
        "-- param: x DOUBLE = 0.5 -- share\n"
        "-- param: b BOOLEAN = TRUE -- flag\n"
        "-- param: s VARCHAR = 'it''s' in (it's, other) -- quoted\n"
        "-- param: ts TIMESTAMP = '2026-01-05 10:00:00' -- instant",
    ).replace("LIMIT $n", "LIMIT $n -- $d $days $x $b $s $ts")
    q = catalog.parse_query(text, name="demo")
    defaults = {p.name: p.default for p in q.params}
    assert defaults["d"] == dt.date(2026, 1, 5)
    assert defaults["days"] == [1, 7, 28]
    assert defaults["x"] == 0.5
    assert defaults["b"] is True
    assert defaults["s"] == "it's"
    assert defaults["ts"] == dt.datetime(2026, 1, 5, 10)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("-- name: demo\n", ""), "lacks '-- name"),
        (("-- category: engagement", "-- category: fun"), "category 'fun'"),
        (("-- name: demo", "-- title: demo"), "KEY one of"),
        (("-- param: n INTEGER = 3", "-- param: n INT = 3"), "parameter type 'INT'"),
        (("-- param: n INTEGER = 3", "-- param: n INTEGER = three"), "bad default"),
        (("LIMIT $n", "LIMIT $m"), "undeclared parameter(s) m"),
        (("LIMIT $n", "LIMIT 3"), "are not used"),
        (("in SEGMENTS", "in COLOURS"), "unknown vocabulary"),
        (("in SEGMENTS", "in users.colour"), "not a schema column"),
        (
            ("-- param: segment VARCHAR = NULL in SEGMENTS", "-- param: segment VARCHAR"),
            "filter 'segment' must be declared",
        ),
        (
            ("-- column: user_id VARCHAR -- the user\n-- column: team VARCHAR -- the team\n", ""),
            "lists no '-- column",
        ),
        (
            (
                "-- param: n INTEGER = 3 -- how many",
                "-- param: n INTEGER = 3 -- how many\n-- param: n INTEGER = 4 -- again",
            ),
            "declared twice",
        ),
    ],
)
def test_malformed_headers_are_refused(edit: tuple[str, str], message: str) -> None:
    old, new = edit
    assert old in DEMO
    with pytest.raises(catalog.QueryDefinitionError, match=re.escape(message)):
        catalog.parse_query(DEMO.replace(old, new), name="demo")


def test_header_name_must_match_the_file() -> None:
    with pytest.raises(catalog.QueryDefinitionError, match="differs from file name"):
        catalog.parse_query(DEMO, name="other")


def test_unknown_query_suggests_close_names() -> None:
    with pytest.raises(catalog.UnknownQueryError) as info:
        CATALOG.get("acceptance_by_languag")
    assert info.value.suggestions[0] == "acceptance_by_language"
    assert "did you mean 'acceptance_by_language'" in str(info.value)
    with pytest.raises(catalog.UnknownQueryError) as info:
        CATALOG.get("funnel")
    assert info.value.suggestions == ("suggestion_funnel",)


# ============================================================================ parameters


def test_bind_parses_text_and_fills_defaults() -> None:
    q = CATALOG.get("retention_day_n")
    bound = catalog.bind(q, {"days": "1, 7,30", "start_date": "2026-01-05", "segment": "null"})
    assert bound == {
        "days": [1, 7, 30],
        "start_date": dt.date(2026, 1, 5),
        "end_date": None,
        "segment": None,
    }
    assert catalog.bind(q, {"days": [2, 3]})["days"] == [2, 3]


@pytest.mark.parametrize(
    ("query", "values", "message"),
    [
        ("acceptance_by_language", {"start_date": "yesterday"}, "is not a date (YYYY-MM-DD)"),
        ("acceptance_by_language", {"start_date": ""}, "is not a date"),
        ("acceptance_by_language", {"start_date": 20260105}, "is not a date"),
        ("top_error_messages", {"n": "five"}, "'five' is not an integer"),
        ("top_error_messages", {"n": "99999999999"}, "out of range"),
        ("top_error_messages", {"n": True}, "is not an integer"),
        ("top_error_messages", {"n": "null"}, "cannot be NULL"),
        ("retention_day_n", {"days": "1,seven"}, "comma-separated list of integers"),
        ("acceptance_by_language", {"languag": "python"}, "did you mean 'language'"),
        ("acceptance_by_language", {"language": "pyhton"}, "did you mean 'python'"),
        ("acceptance_by_language", {"language": INJECTION}, "is not one of LANGUAGES"),
        ("copilot_by_dimension", {"dimension": "team"}, "not one of language, editor"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(
    query: str, values: dict[str, object], message: str
) -> None:
    with pytest.raises(catalog.ParameterError, match=re.escape(message)):
        catalog.bind(CATALOG.get(query), values)


def test_a_missing_required_parameter_is_named() -> None:
    q = catalog.parse_query(DEMO, name="demo")
    with pytest.raises(catalog.ParameterError, match=r"needs parameter\(s\) team: --param team="):
        catalog.bind(q, {})


def test_parse_assignments() -> None:
    assert catalog.parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(catalog.ParameterError, match="expected NAME=VALUE"):
        catalog.parse_assignments(["start_date"])
    with pytest.raises(catalog.ParameterError, match="given twice"):
        catalog.parse_assignments(["a=1", "a=2"])


@pytest.fixture
def small_warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = db.connect(tmp_path / "w.duckdb")
    users = pa.table(
        {
            "user_id": ["u1", "u2", "u3"],
            "segment": ["expert", "beginner", "expert"],
            "primary_language": ["python"] * 3,
            "editor": ["vscode"] * 3,
            "team": ["a", INJECTION, "a"],
            "signup_at": pa.array([dt.datetime(2026, 1, 5)] * 3, pa.timestamp("us")),
        }
    )
    db.load_arrow(con, "users", users)
    yield con
    con.close()


def test_sql_in_a_value_is_only_a_value(small_warehouse: duckdb.DuckDBPyConnection) -> None:
    con = small_warehouse
    q = catalog.parse_query(DEMO, name="demo")
    # Free text is bound, never pasted: it matches the row that holds that very text.
    assert catalog.run(con, q, {"team": INJECTION}).records() == [
        {"user_id": "u2", "team": INJECTION}
    ]
    assert catalog.run(con, q, {"team": "a' OR '1'='1"}).rows == 0
    # A filter checked against the warehouse refuses it with the known values.
    with pytest.raises(catalog.ParameterError, match=r"does not occur in suggestions\.model_v"):
        catalog.run(con, CATALOG.get("acceptance_by_language"), {"model_version": INJECTION})
    assert con.execute("SELECT count(*) FROM users").fetchone() == (3,)


def test_known_values_fill_a_picker(small_warehouse: duckdb.DuckDBPyConnection) -> None:
    q = CATALOG.get("acceptance_by_language")
    assert catalog.known_values(small_warehouse, q.param("segment")) == list(schema.SEGMENTS)
    assert catalog.known_values(small_warehouse, q.param("model_version")) == []
    assert catalog.known_values(small_warehouse, q.param("start_date")) == []


def test_spark_engine_does_not_run_on_a_duckdb_connection(
    small_warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """Spark reads the Parquet export (test_spark.py); without PySpark or Java the error
    says what to install."""
    with pytest.raises(catalog.EngineNotAvailableError, match=r"SparkWarehouse|pip install|Java"):
        catalog.run(small_warehouse, CATALOG.get("active_users"), engine="spark")


# ============================================================================ output


def test_outputs_csv_json_parquet(
    small_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    q = catalog.parse_query(
        DEMO.replace(
            "-- column: team VARCHAR -- the team",
            "-- column: team VARCHAR -- the team\n-- column: rate DOUBLE -- r\n"
            "-- column: day DATE -- d",
        ).replace(
            "SELECT user_id, team",
            "SELECT user_id, team, CAST('nan' AS DOUBLE) AS rate, DATE '2026-01-05' AS day",
        ),
        name="demo",
    )
    result = catalog.run(small_warehouse, q, {"team": "a"})
    assert catalog.to_csv(result) == "user_id,team,rate,day\nu1,a,,2026-01-05\nu3,a,,2026-01-05\n"
    assert json.loads(catalog.to_json(result))[0] == {
        "user_id": "u1",
        "team": "a",
        "rate": None,
        "day": "2026-01-05",
    }
    path = catalog.write_result(result, "parquet", tmp_path / "out" / "r.parquet")
    back = pq.read_table(path)
    assert back.schema == result.table.schema
    assert back.column("user_id").to_pylist() == ["u1", "u3"]
    assert result.to_dict()["params"] == {"segment": None, "team": "a", "n": 3}


# ============================================================================ transpiling


@needs_sqlglot
@pytest.mark.parametrize("dialect", catalog.TRANSPILE_DIALECTS)
def test_transpiled_sql_matches_the_golden_files(dialect: str) -> None:
    changed = []
    for q in CATALOG:
        t = catalog.transpile(q, dialect)
        text = "".join(f"-- warning: {w}\n" for w in t.warnings) + t.sql
        path = GOLDEN / dialect / f"{q.name}.sql"
        if UPDATE_GOLDEN:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            changed.append(q.name)
    stale = sorted(p.stem for p in (GOLDEN / dialect).glob("*.sql") if p.stem not in CATALOG)
    assert not changed, f"transpiled {dialect} SQL differs from golden/ for {changed}"
    assert not stale, f"golden files without a query: {stale}"


@needs_sqlglot
def test_spark_sql_is_complete_and_uses_named_markers() -> None:
    for q in CATALOG:
        t = catalog.transpile(q, "spark")
        assert t.warnings == (), (q.name, t.warnings)
        for p in q.params:
            assert f":{p.name}" in t.sql, (q.name, p.name)
        assert "$" not in t.sql
        sqlglot.parse_one(t.sql, read="spark")  # Spark SQL that sqlglot can read back
    spark = catalog.transpile(CATALOG.get("latency_percentiles"), "spark").sql
    # exact, not percentile_approx; the list of fractions is Spark's array (0-based indexing)
    assert "PERCENTILE(latency_ms, ARRAY(0.5, 0.9, 0.99))" in spark
    assert "latency_ms_q[0] AS DOUBLE) AS p50_ms" in spark
    assert "PERCENTILE_APPROX" not in spark


@needs_sqlglot
def test_percentiles_use_what_snowflake_and_bigquery_accept() -> None:
    # DuckDB's list form percentile_cont([...]) is neither engine's syntax; BigQuery has no
    # aggregate PERCENTILE_CONT at all (analytic only), so it is approximated, with a warning
    q = CATALOG.get("latency_percentiles")
    snow = catalog.transpile(q, "snowflake")
    assert snow.warnings == ()
    assert "PERCENTILE_CONT([" not in snow.sql
    assert snow.sql.count("PERCENTILE_CONT(0.9) WITHIN GROUP") == 1
    assert "ARRAY_CONSTRUCT(" in snow.sql
    sqlglot.parse_one(snow.sql, read="snowflake")
    big = catalog.transpile(q, "bigquery")
    big_code = re.sub(r"/\*.*?\*/", "", big.sql, flags=re.DOTALL)
    assert "PERCENTILE_CONT" not in big_code and "WITHIN GROUP" not in big_code
    assert "APPROX_QUANTILES(latency_ms, 1000)[OFFSET(990)]" in big.sql
    assert any("approximated by APPROX_QUANTILES" in w for w in big.warnings)
    sqlglot.parse_one(big.sql, read="bigquery")
    for name in CATALOG.names():
        for dialect in ("snowflake", "bigquery"):
            sql = catalog.transpile(CATALOG.get(name), dialect).sql
            assert "PERCENTILE_CONT([" not in sql, (name, dialect)
            if dialect == "bigquery":
                assert "WITHIN GROUP" not in sql, name


def test_queries_keep_to_the_portable_subset() -> None:
    forbidden = {
        "QUALIFY": r"\bQUALIFY\b",
        "GROUP BY ALL": r"GROUP\s+BY\s+ALL\b",
        "ORDER BY ALL": r"ORDER\s+BY\s+ALL\b",
        "FILTER (WHERE": r"FILTER\s*\(\s*WHERE",
        ":: casts": r"::",
        "EXCLUDE / REPLACE": r"\b(EXCLUDE|REPLACE)\s*\(",
        "integer division //": r"//",
        "list/struct functions": r"\b(list_\w+|struct_\w+|array_\w+)\s*\(",
        "SELECT *": r"SELECT\s+\*",
    }
    for q in CATALOG:
        body = re.sub(r"--[^\n]*", "", q.sql)
        for what, pattern in forbidden.items():
            assert not re.search(pattern, body, re.IGNORECASE), f"{q.name} uses {what}"


@needs_sqlglot
def test_render_inlines_parameters_as_quoted_literals() -> None:
    q = CATALOG.get("acceptance_by_language")
    sql = catalog.render(
        q, {"model_version": INJECTION, "start_date": "2026-01-05"}, inline=True, pretty=False
    )
    assert "'''; DROP TABLE users; --'" in sql
    assert "CAST('2026-01-05' AS DATE)" in sql
    assert "$" not in sql
    spark = catalog.render(q, {"model_version": INJECTION}, dialect="spark", inline=True)
    assert "'\\'; DROP TABLE users; --'" in spark
    assert catalog.render(q) == q.sql
    with pytest.raises(catalog.CatalogError, match="unknown dialect 'oracle'"):
        catalog.render(q, dialect="oracle")


# ============================================================================ the CLI


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A workspace with an empty warehouse."""
    db.connect(tmp_path / "warehouse.duckdb").close()
    return tmp_path


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--home", str(home), "sql", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_list_and_show(home: Path) -> None:
    code, out, _ = invoke(home, "list", "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed) >= 20
    assert {"name", "category", "description", "params", "filters", "columns"} <= set(listed[0])
    code, out, _ = invoke(home, "list", "--category", "funnel")
    assert code == 0 and "suggestion_funnel" in out
    code, out, _ = invoke(home, "show", "retention_day_n", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["params"][0]["default"] == [1, 7, 14, 28]
    assert "UNNEST($days)" in shown["sql"]
    code, out, _ = invoke(home, "show", "retention_day_n")
    assert code == 0 and "on or after" in out


def test_cli_run_formats(home: Path, tmp_path: Path) -> None:
    code, out, _ = invoke(home, "run", "suggestion_funnel", "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == "step_order,step,suggestions,step_conversion,overall_conversion"
    code, out, _ = invoke(home, "run", "suggestion_funnel", "--json")
    assert code == 0 and json.loads(out)[0]["step"] == "opportunity"
    code, out, _ = invoke(home, "run", "suggestion_funnel")
    assert code == 0 and "tests_pass" in out
    target = tmp_path / "f.parquet"
    code, _, err = invoke(home, "run", "suggestion_funnel", "-f", "parquet", "-o", str(target))
    assert code == 0 and pq.read_table(target).num_rows == 5 and "wrote 5 row(s)" in err
    code, _, err = invoke(home, "run", "suggestion_funnel", "-f", "parquet")
    assert code == 2 and "needs --out" in err


def test_cli_run_all_on_an_empty_warehouse(home: Path, tmp_path: Path) -> None:
    code, out, _ = invoke(home, "run", "--all", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["failed"] == 0
    assert len(summary["queries"]) == len(CATALOG)
    code, _, _ = invoke(home, "run", "--all", "--out", str(tmp_path / "all"), "-f", "json")
    assert code == 0 and len(list((tmp_path / "all").glob("*.json"))) == len(CATALOG)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "acceptance_by_languag"), "did you mean 'acceptance_by_language'"),
        (("show", "funnel"), "did you mean 'suggestion_funnel'"),
        (("run", "active_users", "--param", "start_date=yesterday"), "is not a date"),
        (("run", "active_users", "--param", "start_date"), "expected NAME=VALUE"),
        (("run", "active_users", "--param", "since=2026-01-05"), "has no parameter 'since'"),
        (("run", "top_error_messages", "-p", "n=ten"), "'ten' is not an integer"),
        (("run", "active_users", "-p", f"language={INJECTION}"), "is not one of LANGUAGES"),
        (("run", "daily_metrics", "-p", f"model_version={INJECTION}"), "does not occur in"),
        (("run", "active_users", "--engine", "sparc"), "unknown engine 'sparc'"),
        (("run", "active_users", "--spark-master", "local[1]"), "need(s) --engine spark"),
        (("run", "active_users", "--format", "xlsx"), "one of table, csv, json, parquet"),
        (("run",), "give a query NAME or --all"),
        (("run", "--all", "-p", "nope=1"), "no query has parameter(s) nope"),
        (("transpile", "active_users", "--dialect", "oracle"), "one of spark, bigquery"),
        (("list", "--category", "misc"), "unknown category"),
    ],
)
def test_cli_bad_input_fails_clearly(home: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = invoke(home, *args)
    assert code == 2, (code, out, err)
    assert message in " ".join(err.split()), err
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM users").fetchone() == (0,)  # still there
    finally:
        con.close()


def test_cli_without_a_warehouse_says_how_to_make_one(tmp_path: Path) -> None:
    code, _, err = invoke(tmp_path, "run", "active_users")
    assert code == 1 and "codex-ds simulate" in err


@needs_sqlglot
def test_cli_transpile(home: Path) -> None:
    code, out, _ = invoke(home, "transpile", "latency_percentiles", "--dialect", "spark")
    assert (
        code == 0
        and "PERCENTILE(latency_ms, ARRAY(0.5, 0.9, 0.99))" in out
        and ":model_version" in out
    )
    code, out, _ = invoke(home, "transpile", "daily_metrics", "--dialect", "bigquery", "--json")
    data = json.loads(out)
    assert code == 0 and data["dialect"] == "bigquery" and "@language" in data["sql"]


@pytest.mark.subprocess
def test_real_cli_lists_and_runs_everything_on_a_fresh_simulated_warehouse(
    tmp_path: Path,
) -> None:
    pytest.importorskip("codex_ds.telemetry.simulate", reason="the simulator is not there yet")
    env = {**os.environ, "CODEX_DS_HOME": str(tmp_path), "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "codex_ds", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )

    listed = cli("sql", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) >= 20
    sim = cli("simulate", "--users", "150", "--days", "21", "--json")
    assert sim.returncode == 0, sim.stderr
    ran = cli("sql", "run", "--all", "--json")
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["failed"] == 0
    rows = {e["query"]: e["rows"] for e in summary["queries"]}
    event_queries = [q.name for q in CATALOG if q.category not in ("copilot", "data_quality")]
    assert all(rows[n] > 0 for n in event_queries), rows
    table = cli("sql", "run", "acceptance_by_model_version")
    assert table.returncode == 0 and "model_version" in table.stdout
