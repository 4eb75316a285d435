"""The query catalog: named SQL queries in ``warehouse/queries/*.sql``, listed, described,
rendered, transpiled and run with bound parameters.

Each file holds one query in DuckDB's dialect, restricted to a portable subset (explicit
``GROUP BY``, ``CAST``, no alias reuse, no ``QUALIFY``/``GROUP BY ALL``/``FILTER``), and
starts with a header of ``-- key: value`` comment lines::

    -- name: acceptance_by_language
    -- category: segmentation
    -- description: Acceptance of shown suggestions by the language of the file.
    --   (a line of "--" and three or more spaces continues the previous entry)
    -- param: start_date DATE = NULL -- first day included; NULL: no lower bound
    -- param: language VARCHAR = NULL in LANGUAGES -- only this language; NULL: all
    -- param: n INTEGER = 5 -- messages per cell
    -- param: days INTEGER[] = [1, 7, 14, 28] -- days since signup
    -- param: dimension VARCHAR = 'language' in (language, editor) -- what to split by
    -- param: model_version VARCHAR = NULL in suggestions.model_version -- one model
    -- column: language VARCHAR -- language of the file
    -- column: acceptance_rate DOUBLE -- accepted ÷ shown

* ``name`` (the file's stem), ``category`` (one of :data:`CATEGORIES`), ``description``
  and at least one ``column`` are required;
* ``param: NAME TYPE [= DEFAULT] [in VOCABULARY | in (a, b, ...) | in table.column]
  [-- description]``: TYPE is one of :data:`PARAM_TYPES`; without a default the parameter
  is required; a ``NULL`` default makes it optional (NULL means "no filter"); ``in
  LANGUAGES`` names a vocabulary of :mod:`codex_ds.telemetry.schema`, ``in (a, b)`` lists
  the choices, ``in table.column`` requires a value that occurs in that warehouse column
  (checked, with a bound query, when a connection is at hand);
* ``column: NAME TYPE -- description`` lists the output columns, in order (a test runs
  every query and checks names and types against them).

The body refers to parameters as ``$name``. They are bound by the engine (DuckDB's
prepared statements here; :func:`transpile` turns them into ``:name`` markers, which
Spark's ``spark.sql(text, args=...)`` binds); user input is never formatted into SQL
text. :func:`render` with ``inline=True`` replaces each marker by a literal node of the
SQL syntax tree (quoted by sqlglot for the target dialect), for engines without binding.

Parameters named as in :data:`FILTERS` are the uniform filters a dashboard can pass to
every query that declares them (:attr:`Query.filters`).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import pyarrow as pa

from codex_ds.telemetry import schema

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import sqlglot.expressions as sqlglot_exp

    from codex_ds.warehouse.spark import SparkWarehouse

QUERIES_DIR = Path(__file__).with_name("queries")

ParamType = Literal[
    "DATE", "TIMESTAMP", "VARCHAR", "INTEGER", "BIGINT", "DOUBLE", "BOOLEAN", "INTEGER[]"
]
PARAM_TYPES: tuple[str, ...] = get_args(ParamType)
ColumnType = Literal["DATE", "TIMESTAMP", "VARCHAR", "INTEGER", "BIGINT", "DOUBLE", "BOOLEAN"]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
Category = Literal[
    "segmentation",
    "funnel",
    "retention",
    "engagement",
    "time_series",
    "latency",
    "persistence",
    "productivity",
    "errors",
    "copilot",
    "data_quality",
    "experiments",
]
CATEGORIES: tuple[str, ...] = get_args(Category)
OutputFormat = Literal["table", "csv", "json", "parquet"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)
Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = get_args(Engine)
Dialect = Literal["duckdb", "spark", "bigquery", "snowflake", "postgres"]
DIALECTS: tuple[str, ...] = get_args(Dialect)
#: Dialects ``codex-ds sql transpile`` targets (the source dialect is DuckDB).
TRANSPILE_DIALECTS: tuple[str, ...] = ("spark", "bigquery", "snowflake", "postgres")

#: Vocabularies a parameter may name after ``in`` (the schema's single source of truth).
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "LANGUAGES": schema.LANGUAGES,
    "EDITORS": schema.EDITORS,
    "SEGMENTS": schema.SEGMENTS,
    "TASK_TYPES": schema.TASK_TYPES,
    "TRIGGERS": schema.TRIGGERS,
    "OUTCOMES": schema.OUTCOMES,
    "RUN_KINDS": schema.RUN_KINDS,
    "ERROR_TYPES": schema.ERROR_TYPES,
    "COPILOT_APIS": schema.COPILOT_APIS,
    "COPILOT_SCOPES": schema.COPILOT_SCOPES,
}

_INT32 = 2**31 - 1
_INT64 = 2**63 - 1
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_PARAM_RE = re.compile(
    r"^(?P<name>[a-z][a-z0-9_]*)\s+(?P<type>[A-Z]+(?:\[\])?)"
    r"(?:\s*=\s*(?P<default>'(?:[^']|'')*'|\[[^\]]*\]|[^\s\[']+))?"
    r"(?:\s+in\s+(?P<choices>[A-Z_]+|\([^)]*\)|[a-z_]+\.[a-z_]+))?"
    r"(?:\s+--\s*(?P<description>.*))?$"
)
_COLUMN_RE = re.compile(
    r"^(?P<name>[a-z][a-z0-9_]*)\s+(?P<type>[A-Z]+)(?:\s+--\s*(?P<description>.*))?$"
)
_KEYS = ("name", "category", "description", "param", "column")


class CatalogError(ValueError):
    """A request the catalog cannot satisfy; the message says what to do instead."""


class UnknownQueryError(CatalogError):
    """No query of that name; :attr:`suggestions` holds the closest names."""

    def __init__(self, name: str, suggestions: Sequence[str]) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = (
            f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else ""
        )
        super().__init__(f"unknown query {name!r}{hint} (`codex-ds sql list` lists them)")


class ParameterError(CatalogError):
    """A parameter that is unknown, missing, ill-typed or outside its vocabulary."""


class QueryDefinitionError(CatalogError):
    """A ``.sql`` file whose header or placeholders are malformed (a bug in the catalog)."""


class EngineNotAvailableError(CatalogError):
    """An engine that cannot run here: Spark without PySpark or Java (the message says what
    to install), or a connection of one engine asked to run on another."""


@dataclass(frozen=True)
class Param:
    """One declared parameter of a query."""

    name: str
    dtype: ParamType
    default: Any = None
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] | None = None
    vocabulary: str | None = None  # name in VOCABULARIES when the choices come from the schema
    values_from: str | None = None  # "table.column" whose values the parameter must match

    @property
    def nullable(self) -> bool:
        """NULL is accepted (it means "no filter") exactly when the default is NULL."""
        return not self.required and self.default is None

    def parse(self, text: str) -> Any:
        """Parse a value given as text (``--param k=v``); ``null`` means NULL."""
        raw = text.strip()
        if raw.lower() == "null":
            return self.check(None)
        try:
            value = _parse_typed(self.dtype, raw)
        except ValueError as exc:
            phrase = _type_phrase(self.dtype)
            raise ParameterError(
                f"parameter {self.name!r} ({self.dtype}): {text!r} is not {phrase} ({exc})"
            ) from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """Validate (and normalise) a Python value for this parameter."""
        if value is None:
            if self.nullable:
                return None
            raise ParameterError(f"parameter {self.name!r} ({self.dtype}) cannot be NULL")
        if isinstance(value, str) and self.dtype != "VARCHAR":
            return self.parse(value)
        try:
            value = _coerce(self.dtype, value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"parameter {self.name!r} ({self.dtype}): {value!r} is not "
                f"{_type_phrase(self.dtype)} ({exc})"
            ) from None
        if self.choices is not None and value not in self.choices:
            close = difflib.get_close_matches(str(value), self.choices, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            shown = (
                f"{self.vocabulary} ({', '.join(self.choices)})"
                if self.vocabulary
                else ", ".join(self.choices)
            )
            raise ParameterError(f"parameter {self.name!r}: {value!r} is not one of {shown}{hint}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.dtype,
            "default": _jsonable(self.default),
            "required": self.required,
            "nullable": self.nullable,
            "choices": list(self.choices) if self.choices is not None else None,
            "vocabulary": self.vocabulary,
            "values_from": self.values_from,
            "description": self.description,
        }


@dataclass(frozen=True)
class OutputColumn:
    """One declared output column."""

    name: str
    dtype: ColumnType
    description: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.dtype, "description": self.description}


#: The uniform filters: a query that declares one of these names declares it exactly so
#: (type, NULL default, vocabulary), and NULL means "all".
FILTERS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("start_date", "DATE", description="first day included (UTC)"),
        Param("end_date", "DATE", description="last day included (UTC)"),
        Param(
            "language",
            "VARCHAR",
            description="programming language",
            choices=schema.LANGUAGES,
            vocabulary="LANGUAGES",
        ),
        Param(
            "editor",
            "VARCHAR",
            description="editor of the session",
            choices=schema.EDITORS,
            vocabulary="EDITORS",
        ),
        Param(
            "segment",
            "VARCHAR",
            description="user experience segment",
            choices=schema.SEGMENTS,
            vocabulary="SEGMENTS",
        ),
        Param(
            "model_version",
            "VARCHAR",
            description="model version",
            values_from="suggestions.model_version",
        ),
    )
}


@dataclass(frozen=True)
class Query:
    """One named query: its header and its SQL body (DuckDB dialect, portable subset)."""

    name: str
    category: Category
    description: str
    params: tuple[Param, ...]
    columns: tuple[OutputColumn, ...]
    sql: str  # the body, header removed
    path: Path | None = None

    @property
    def summary(self) -> str:
        """The description's first sentence."""
        first = re.split(r"(?<=[.!?])\s", self.description, maxsplit=1)[0]
        return first

    @property
    def filters(self) -> tuple[str, ...]:
        """Names of the uniform :data:`FILTERS` this query accepts, in declaration order."""
        return tuple(p.name for p in self.params if p.name in FILTERS)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise _unknown_param(self, name)

    def to_dict(self, *, with_sql: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "params": [p.to_dict() for p in self.params],
            "filters": list(self.filters),
            "columns": [c.to_dict() for c in self.columns],
            "path": str(self.path) if self.path else None,
        }
        if with_sql:
            data["sql"] = self.sql
        return data


# -- parsing ---------------------------------------------------------------------------


def parse_query(text: str, *, name: str | None = None, path: Path | None = None) -> Query:
    """Parse one query file's text (header and body).

    >>> q = parse_query(
    ...     "-- name: demo\\n-- category: engagement\\n-- description: Users.\\n"
    ...     "-- param: n INTEGER = 3 -- how many\\n-- column: users BIGINT -- users\\n"
    ...     "SELECT COUNT(*) AS users FROM users LIMIT $n\\n"
    ... )
    >>> q.name, q.param("n").default, q.column_names
    ('demo', 3, ('users',))
    """
    where = str(path) if path else (name or "<query>")
    lines = text.splitlines()
    entries: list[tuple[str, str, int]] = []  # key, value, line number
    body_start = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("--"):
            body_start = i
            break
        content = stripped[2:]
        if not content.strip():
            continue
        if content.startswith("   ") or content.startswith("\t"):
            # A continuation line (three or more spaces after "--").
            if not entries:
                raise QueryDefinitionError(f"{where}:{i + 1}: continuation before any entry")
            key, value, at = entries[-1]
            entries[-1] = (key, f"{value} {content.strip()}", at)
            continue
        m = re.match(r"^\s*([a-z_]+):\s*(.*)$", content)
        if not m or m.group(1) not in _KEYS:
            raise QueryDefinitionError(
                f"{where}:{i + 1}: header line must be '-- KEY: value' with KEY one of "
                f"{', '.join(_KEYS)}: {stripped!r}"
            )
        entries.append((m.group(1), m.group(2).strip(), i + 1))
    body = "\n".join(lines[body_start:]).strip() + "\n"

    fields: dict[str, str] = {}
    params: list[Param] = []
    columns: list[OutputColumn] = []
    for key, value, at in entries:
        if key == "param":
            params.append(_parse_param(value, f"{where}:{at}"))
        elif key == "column":
            columns.append(_parse_column(value, f"{where}:{at}"))
        elif key in fields:
            raise QueryDefinitionError(f"{where}:{at}: {key!r} given twice")
        else:
            fields[key] = value
    for key in ("name", "category", "description"):
        if not fields.get(key):
            raise QueryDefinitionError(f"{where}: header lacks '-- {key}: ...'")
    qname = fields["name"]
    if not _NAME_RE.match(qname):
        raise QueryDefinitionError(f"{where}: query name {qname!r} must be snake_case")
    if name is not None and qname != name:
        raise QueryDefinitionError(f"{where}: header name {qname!r} differs from file name")
    if fields["category"] not in CATEGORIES:
        raise QueryDefinitionError(
            f"{where}: category {fields['category']!r} is not one of {', '.join(CATEGORIES)}"
        )
    if not columns:
        raise QueryDefinitionError(f"{where}: header lists no '-- column: ...'")
    for kind, names in (("param", [p.name for p in params]), ("column", [c.name for c in columns])):
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise QueryDefinitionError(f"{where}: {kind} declared twice: {', '.join(dupes)}")
    for p in params:
        canon = FILTERS.get(p.name)
        if canon is not None and (
            p.dtype != canon.dtype
            or not p.nullable
            or p.choices != canon.choices
            or p.values_from != canon.values_from
        ):
            raise QueryDefinitionError(
                f"{where}: filter {p.name!r} must be declared as {canon.dtype} = NULL"
                + (
                    f" in {canon.vocabulary or canon.values_from}"
                    if canon.vocabulary or canon.values_from
                    else ""
                )
            )
    used = set(_PLACEHOLDER_RE.findall(body))
    declared = {p.name for p in params}
    if used - declared:
        raise QueryDefinitionError(
            f"{where}: the SQL uses undeclared parameter(s) {', '.join(sorted(used - declared))}"
        )
    if declared - used:
        raise QueryDefinitionError(
            f"{where}: declared parameter(s) {', '.join(sorted(declared - used))} are not used"
        )
    if not body.strip():
        raise QueryDefinitionError(f"{where}: no SQL after the header")
    return Query(
        name=qname,
        category=cast(Category, fields["category"]),
        description=fields["description"],
        params=tuple(params),
        columns=tuple(columns),
        sql=body,
        path=path,
    )


def _parse_param(spec: str, where: str) -> Param:
    m = _PARAM_RE.match(spec)
    if not m:
        raise QueryDefinitionError(
            f"{where}: parameter must read 'NAME TYPE [= DEFAULT] [in VOCABULARY|(a, b)] "
            f"[-- description]': {spec!r}"
        )
    dtype = m.group("type")
    if dtype not in PARAM_TYPES:
        raise QueryDefinitionError(
            f"{where}: parameter type {dtype!r} is not one of {', '.join(PARAM_TYPES)}"
        )
    choices: tuple[str, ...] | None = None
    vocabulary: str | None = None
    values_from: str | None = None
    spec_choices = m.group("choices")
    if spec_choices:
        if dtype != "VARCHAR":
            raise QueryDefinitionError(f"{where}: only VARCHAR parameters take 'in ...'")
        if "." in spec_choices:
            table, _, column = spec_choices.partition(".")
            if table not in schema.TABLES or column not in schema.TABLES[table].column_names:
                raise QueryDefinitionError(f"{where}: {spec_choices!r} is not a schema column")
            values_from = spec_choices
        elif spec_choices.startswith("("):
            choices = tuple(c.strip() for c in spec_choices[1:-1].split(",") if c.strip())
        elif spec_choices in VOCABULARIES:
            vocabulary = spec_choices
            choices = VOCABULARIES[spec_choices]
        else:
            raise QueryDefinitionError(
                f"{where}: unknown vocabulary {spec_choices!r}; one of {', '.join(VOCABULARIES)}"
            )
    default_text = m.group("default")
    required = default_text is None
    default: Any = None
    provisional = Param(
        m.group("name"), cast(ParamType, dtype), None, False, "", choices, vocabulary
    )
    if default_text is not None and default_text.upper() != "NULL":
        text = default_text
        if text.startswith("'") and text.endswith("'"):
            text = text[1:-1].replace("''", "'")
        try:
            default = provisional.parse(text)
        except ParameterError as exc:
            raise QueryDefinitionError(f"{where}: bad default: {exc}") from None
    return Param(
        name=m.group("name"),
        dtype=cast(ParamType, dtype),
        default=default,
        required=required,
        description=(m.group("description") or "").strip(),
        choices=choices,
        vocabulary=vocabulary,
        values_from=values_from,
    )


def _parse_column(spec: str, where: str) -> OutputColumn:
    m = _COLUMN_RE.match(spec)
    if not m or m.group("type") not in COLUMN_TYPES:
        raise QueryDefinitionError(
            f"{where}: column must read 'NAME TYPE -- description' with TYPE one of "
            f"{', '.join(COLUMN_TYPES)}: {spec!r}"
        )
    return OutputColumn(
        m.group("name"), cast(ColumnType, m.group("type")), (m.group("description") or "").strip()
    )


def _parse_typed(dtype: str, raw: str) -> Any:
    if dtype == "INTEGER[]":
        inner = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
        items = [x.strip() for x in inner.split(",") if x.strip()]
        if not items:
            raise ValueError("an empty list")
        return [_parse_typed("INTEGER", x) for x in items]
    if dtype == "VARCHAR":
        return raw
    if dtype in ("INTEGER", "BIGINT"):
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise ValueError("expected digits")
        return int(raw)
    if dtype == "DOUBLE":
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError("not finite")
        return value
    if dtype == "BOOLEAN":
        low = raw.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError("expected true or false")
    if dtype == "DATE":
        return date.fromisoformat(raw)
    if dtype == "TIMESTAMP":
        return datetime.fromisoformat(raw)
    raise ValueError(f"unknown type {dtype}")  # pragma: no cover - PARAM_TYPES is closed


def _coerce(dtype: str, value: Any) -> Any:
    if dtype == "INTEGER[]":
        if not isinstance(value, list | tuple) or not value:
            raise TypeError("expected a non-empty list of integers")
        return [_coerce("INTEGER", v) for v in value]
    if dtype == "VARCHAR":
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {type(value).__name__}")
        return value
    if dtype in ("INTEGER", "BIGINT"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {type(value).__name__}")
        limit = _INT32 if dtype == "INTEGER" else _INT64
        if not -limit - 1 <= value <= limit:
            raise ValueError("out of range")
        return value
    if dtype == "DOUBLE":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError("not finite")
        return float(value)
    if dtype == "BOOLEAN":
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {type(value).__name__}")
        return value
    if dtype == "DATE":
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"expected a date, got {type(value).__name__}")
        return value
    if dtype == "TIMESTAMP":
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        raise TypeError(f"expected a timestamp, got {type(value).__name__}")
    raise TypeError(f"unknown type {dtype}")  # pragma: no cover


def _type_phrase(dtype: str) -> str:
    return {
        "DATE": "a date (YYYY-MM-DD)",
        "TIMESTAMP": "a timestamp (YYYY-MM-DD[THH:MM[:SS]])",
        "VARCHAR": "text",
        "INTEGER": "an integer",
        "BIGINT": "an integer",
        "DOUBLE": "a number",
        "BOOLEAN": "true or false",
        "INTEGER[]": "a comma-separated list of integers (e.g. 1,7,28)",
    }[dtype]


def _unknown_param(query: Query, name: str) -> ParameterError:
    names = [p.name for p in query.params]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    known = ", ".join(names) if names else "none"
    return ParameterError(
        f"query {query.name!r} has no parameter {name!r}{hint} (parameters: {known})"
    )


# -- the catalog -----------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """The queries of one folder, by name."""

    queries: Mapping[str, Query]
    directory: Path | None = None

    @classmethod
    def load(cls, directory: str | Path = QUERIES_DIR) -> Catalog:
        """Parse every ``*.sql`` file of ``directory`` (one query per file)."""
        folder = Path(directory)
        queries: dict[str, Query] = {}
        for path in sorted(folder.glob("*.sql")):
            q = parse_query(path.read_text(encoding="utf-8"), name=path.stem, path=path)
            queries[q.name] = q
        return cls(queries, folder)

    def names(self) -> list[str]:
        return sorted(self.queries)

    def list(self, category: str | None = None) -> list[Query]:
        """Queries sorted by category (in :data:`CATEGORIES` order), then name."""
        order = {c: i for i, c in enumerate(CATEGORIES)}
        return sorted(
            (q for q in self.queries.values() if category is None or q.category == category),
            key=lambda q: (order[q.category], q.name),
        )

    def get(self, name: str) -> Query:
        """The query called ``name``, or :class:`UnknownQueryError` with close names."""
        try:
            return self.queries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.queries), n=3, cutoff=0.5)
            if not close:
                close = [n for n in self.names() if name and name.lower() in n][:3]
            raise UnknownQueryError(name, close) from None

    def __iter__(self) -> Iterator[Query]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.queries)

    def __contains__(self, name: object) -> bool:
        return name in self.queries


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The package's own queries (parsed once per process)."""
    return Catalog.load(QUERIES_DIR)


# -- binding and running ---------------------------------------------------------------


def bind(
    query: Query,
    values: Mapping[str, Any] | None = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Any]:
    """Validate ``values`` (text from the command line or Python values) against the
    query's parameters and fill in defaults; returns one value per declared parameter.

    With a connection, a parameter declared ``in table.column`` must match a value of that
    column (a typo, or text that is not a value at all, fails with the known values).

    >>> q = default_catalog().get("top_error_messages")
    >>> bind(q, {"n": "3"})["n"]
    3
    """
    given = dict(values or {})
    for key in given:
        if not any(p.name == key for p in query.params):
            raise _unknown_param(query, key)
    bound: dict[str, Any] = {}
    missing: list[str] = []
    for p in query.params:
        if p.name in given:
            raw = given[p.name]
            bound[p.name] = p.parse(raw) if isinstance(raw, str) else p.check(raw)
        elif p.required:
            missing.append(p.name)
        else:
            bound[p.name] = p.default
    if missing:
        raise ParameterError(
            f"query {query.name!r} needs parameter(s) {', '.join(missing)}: "
            + "; ".join(f"--param {n}=<{_type_phrase(query.param(n).dtype)}>" for n in missing)
        )
    if con is not None:
        for p in query.params:
            if p.values_from and p.name in given and bound[p.name] is not None:
                _check_known(con, p, bound[p.name])
    return bound


def known_values(con: duckdb.DuckDBPyConnection, param: Param, limit: int = 1000) -> list[Any]:
    """The values a filter can take: its vocabulary, or the distinct values of the column it
    is declared ``in`` (sorted; at most ``limit``). A dashboard fills its pickers from this.
    """
    if param.choices is not None:
        return list(param.choices)
    if param.values_from is None:
        return []
    table, column = _values_source(param)
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL "
        f"ORDER BY {column} LIMIT ?",
        [limit],
    ).fetchall()
    return [r[0] for r in rows]


def _values_source(param: Param) -> tuple[str, str]:
    # Both names come from a query header and were checked against the schema when parsed.
    assert param.values_from is not None
    table, _, column = param.values_from.partition(".")
    spec = schema.TABLES[table]
    if column not in spec.column_names:  # pragma: no cover - checked when parsed
        raise QueryDefinitionError(f"{param.values_from!r} is not a schema column")
    return spec.name, column


def _check_known(con: duckdb.DuckDBPyConnection, param: Param, value: Any) -> None:
    table, column = _values_source(param)
    found = con.execute(f"SELECT 1 FROM {table} WHERE {column} = ? LIMIT 1", [value]).fetchone()
    if found:
        return
    raise unknown_value_error(param, value, known_values(con, param, limit=11))


def unknown_value_error(param: Param, value: Any, known: Sequence[Any]) -> ParameterError:
    """The error for a value of a parameter declared ``in table.column`` that does not occur
    in that column; ``known`` holds (up to 11 of) the values that do, sorted."""
    table, _ = _values_source(param)
    close = difflib.get_close_matches(str(value), [str(k) for k in known], n=3)
    listed = ", ".join(str(k) for k in known[:10]) + (", ..." if len(known) > 10 else "")
    return ParameterError(
        f"parameter {param.name!r}: {value!r} does not occur in {param.values_from}"
        + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "")
        + (f" (values: {listed})" if known else f" ({table} is empty)")
    )


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` (the CLI's ``--param``) into a dict; the value may contain ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"--param {pair!r}: expected NAME=VALUE")
        if key in out:
            raise ParameterError(f"--param {key!r} given twice")
        out[key] = value
    return out


@dataclass(frozen=True)
class QueryResult:
    """The rows of one run, with what produced them."""

    query: str
    params: dict[str, Any]
    table: pa.Table
    seconds: float
    engine: Engine = "duckdb"

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts; NaN becomes None."""
        return [{k: _clean(v) for k, v in row.items()} for row in self.table.to_pylist()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "engine": self.engine,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "rows": self.rows,
            "columns": self.table.column_names,
            "seconds": round(self.seconds, 4),
        }


def require_engine(engine: str) -> Engine:
    """``engine`` if it can run queries here: :class:`CatalogError` for an unknown name,
    :class:`EngineNotAvailableError` (with what to install) for Spark without PySpark or
    Java 17+.
    """
    if engine == "spark":
        from codex_ds.warehouse import spark

        spark.check_available()
        return "spark"
    if engine != "duckdb":
        raise CatalogError(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}")
    return "duckdb"


def engine_of(con: duckdb.DuckDBPyConnection | SparkWarehouse) -> Engine:
    """The engine behind a connection: ``spark`` for a
    :class:`~codex_ds.warehouse.spark.SparkWarehouse`, else ``duckdb``."""
    return "spark" if getattr(con, "engine", None) == "spark" else "duckdb"


def run(
    con: duckdb.DuckDBPyConnection | SparkWarehouse,
    query: Query,
    params: Mapping[str, Any] | None = None,
    *,
    engine: Engine | None = None,
) -> QueryResult:
    """Run ``query`` with bound parameters on ``con``: a DuckDB warehouse connection, or the
    warehouse's Parquet export on Spark (:meth:`codex_ds.warehouse.spark.SparkWarehouse.open`).
    ``engine``, when given, must be the connection's.
    """
    actual = engine_of(con)
    if engine is not None and require_engine(engine) != actual:
        raise EngineNotAvailableError(
            f"engine {engine!r} cannot run on a {actual} connection: "
            + (
                "open the Parquet export with codex_ds.warehouse.spark.SparkWarehouse.open "
                "(`codex-ds warehouse export` writes it)"
                if engine == "spark"
                else "pass a DuckDB connection (codex_ds.warehouse.db.connect)"
            )
        )
    if actual == "spark":
        return cast("SparkWarehouse", con).run(query, params)
    duck = cast("duckdb.DuckDBPyConnection", con)
    bound = bind(query, params, con=duck)
    started = time.perf_counter()
    table = duck.execute(query.sql, bound).to_arrow_table()
    return QueryResult(query.name, bound, table, time.perf_counter() - started, "duckdb")


def run_all(
    con: duckdb.DuckDBPyConnection | SparkWarehouse,
    catalog: Catalog | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[QueryResult]:
    """Run every query with its defaults; ``params`` apply to the queries that declare them."""
    cat = catalog or default_catalog()
    results = []
    for q in cat.list():
        declared = {p.name for p in q.params}
        own = {k: v for k, v in (params or {}).items() if k in declared}
        results.append(run(con, q, own))
    return results


# -- output ----------------------------------------------------------------------------


def to_csv(result: QueryResult | pa.Table) -> str:
    """CSV text with a header row; NULL is an empty field, dates are ISO 8601."""
    table = result.table if isinstance(result, QueryResult) else result
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(["" if (v := _clean(x)) is None else _text(v) for x in row.values()])
    return buf.getvalue()


def to_json(result: QueryResult | pa.Table) -> str:
    """A JSON array of row objects; NULL and NaN are ``null``, dates ISO 8601."""
    table = result.table if isinstance(result, QueryResult) else result
    rows = [{k: _jsonable(_clean(v)) for k, v in row.items()} for row in table.to_pylist()]
    return json.dumps(rows, indent=2) + "\n"


def write_result(result: QueryResult | pa.Table, fmt: OutputFormat, path: str | Path) -> Path:
    """Write the rows to ``path`` as CSV, JSON or Parquet (``table`` writes CSV)."""
    import pyarrow.parquet as pq

    table = result.table if isinstance(result, QueryResult) else result
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, target)
    elif fmt == "json":
        target.write_text(to_json(table), encoding="utf-8")
    else:
        target.write_text(to_csv(table), encoding="utf-8")
    return target


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps([_jsonable(v) for v in value])
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# -- rendering and transpiling (sqlglot) -----------------------------------------------


@dataclass(frozen=True)
class Transpiled:
    """SQL of a query in another dialect, with what sqlglot could not translate."""

    query: str
    dialect: str
    sql: str
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "dialect": self.dialect,
            "sql": self.sql,
            "warnings": list(self.warnings),
        }


def sqlglot_version() -> str:
    """The installed sqlglot version, or a :class:`CatalogError` saying how to install it."""
    return str(_sqlglot().__version__)


def transpile(query: Query, dialect: str, *, pretty: bool = True) -> Transpiled:
    """The query in ``dialect`` (one of :data:`DIALECTS`), parameters as that dialect's
    markers (``:name`` for Spark and Snowflake, ``@name`` for BigQuery, ``%(name)s`` for
    Postgres). Constructs sqlglot cannot translate are listed in ``warnings``.
    """
    return _generate(query, dialect, None, pretty=pretty)


def render(
    query: Query,
    params: Mapping[str, Any] | None = None,
    *,
    dialect: str = "duckdb",
    inline: bool = False,
    pretty: bool = True,
) -> str:
    """The SQL to run: with ``inline=False`` the DuckDB source as written (other dialects:
    :func:`transpile`); with ``inline=True`` every parameter is replaced by a literal node
    of the syntax tree built from its bound value (never by formatting text), so the
    result runs on an engine without parameter binding.
    """
    if not inline:
        if dialect == "duckdb":
            return query.sql
        return _generate(query, dialect, None, pretty=pretty).sql
    bound = bind(query, params)
    return _generate(query, dialect, bound, pretty=pretty).sql


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ModuleNotFoundError:  # pragma: no cover - depends on the environment
        raise CatalogError(
            "rendering and transpiling need sqlglot: pip install 'sqlglot>=30,<31'"
        ) from None
    return sqlglot


def _generate(
    query: Query, dialect: str, bound: Mapping[str, Any] | None, *, pretty: bool
) -> Transpiled:
    if dialect not in DIALECTS:
        close = difflib.get_close_matches(dialect, DIALECTS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise CatalogError(f"unknown dialect {dialect!r}{hint}; one of {', '.join(DIALECTS)}")
    sqlglot = _sqlglot()
    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import ErrorLevel

    tree = sqlglot.parse_one(query.sql, read="duckdb")
    if bound is not None:
        types = {p.name: p.dtype for p in query.params}

        def to_literal(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Placeholder) and node.name in types:
                return _literal(exp, types[node.name], bound[node.name])
            return node

        tree = tree.transform(to_literal)
    notes: list[str] = []
    if dialect == "spark":
        tree = tree.transform(_spark_exact_percentile)
        tree = tree.transform(_spark_rounding_integer_cast)
    elif dialect in ("snowflake", "bigquery"):
        tree = tree.transform(_percentile_list_as_array)
        if dialect == "snowflake":
            tree = tree.transform(_snowflake_array_construct)
        else:
            approximated: list[str] = []
            tree = tree.transform(lambda node: _bigquery_approx_percentile(node, approximated))
            if approximated:
                notes.append(
                    "BigQuery has no exact aggregate percentile: PERCENTILE_CONT(q) WITHIN GROUP "
                    "is approximated by APPROX_QUANTILES(x, 1000)[OFFSET(round(1000 q))] "
                    f"(no interpolation; for {', '.join(sorted(set(approximated)))})"
                )
    generator = Dialect.get_or_raise(dialect).generator(
        pretty=pretty, unsupported_level=ErrorLevel.IGNORE
    )
    sql = generator.generate(tree, copy=False)
    return Transpiled(query.name, dialect, sql + "\n", (*generator.unsupported_messages, *notes))


def _ascending_percentile(node: sqlglot_exp.Expr) -> bool:
    """``node`` is ``percentile_cont(...) WITHIN GROUP (ORDER BY x)``, one key, ascending."""
    from sqlglot import exp

    return (
        isinstance(node, exp.WithinGroup)
        and isinstance(node.this, exp.PercentileCont)
        and isinstance(node.expression, exp.Order)
        and len(node.expression.expressions) == 1
        and not node.expression.expressions[0].args.get("desc")
    )


def _percentile_list_as_array(node: sqlglot_exp.Expr) -> sqlglot_exp.Expr:
    """DuckDB's ``percentile_cont([q1, q2]) WITHIN GROUP (ORDER BY x)`` (a list of fractions,
    one sort) → an array of one ``percentile_cont(q) WITHIN GROUP`` per fraction, for the
    engines whose percentile takes a single fraction (Snowflake, BigQuery)."""
    from sqlglot import exp

    if _ascending_percentile(node) and isinstance(node.this.this, exp.Array):
        return exp.Array(
            expressions=[
                exp.WithinGroup(
                    this=exp.PercentileCont(this=q.copy()), expression=node.expression.copy()
                )
                for q in node.this.this.expressions
            ]
        )
    return node


def _snowflake_array_construct(node: sqlglot_exp.Expr) -> sqlglot_exp.Expr:
    """An array of expressions → Snowflake's ``ARRAY_CONSTRUCT(...)``."""
    from sqlglot import exp

    if isinstance(node, exp.Array) and any(
        not isinstance(e, exp.Literal) for e in node.expressions
    ):
        return exp.Anonymous(this="ARRAY_CONSTRUCT", expressions=node.expressions)
    return node


def _bigquery_approx_percentile(node: sqlglot_exp.Expr, seen: list[str]) -> sqlglot_exp.Expr:
    """``percentile_cont(q) WITHIN GROUP (ORDER BY x)`` → ``APPROX_QUANTILES(x, 1000)[OFFSET(k)]``
    with k = round(1000 q): BigQuery's PERCENTILE_CONT is an analytic function only, so an
    aggregate percentile there is approximate (``seen`` collects the columns, for a warning).
    """
    from sqlglot import exp

    if (
        _ascending_percentile(node)
        and isinstance(node.this.this, exp.Literal)
        and not node.this.this.is_string
    ):
        x = node.expression.expressions[0].this
        seen.append(x.sql("bigquery"))
        k = round(1000 * float(node.this.this.this))
        return exp.Bracket(
            this=exp.ApproxQuantiles(this=x.copy(), expression=exp.Literal.number(1000)),
            expressions=[exp.Literal.number(k)],
            offset=0,
            safe=False,
        )
    return node


def _spark_exact_percentile(node: sqlglot_exp.Expr) -> sqlglot_exp.Expr:
    """``percentile_cont(q) WITHIN GROUP (ORDER BY x)`` → Spark's exact ``percentile(x, q)``
    (sqlglot's default is ``percentile_approx``, which neither interpolates nor is exact).
    """
    from sqlglot import exp

    if _ascending_percentile(node):
        ordered = node.expression.expressions[0]
        return exp.Quantile(this=ordered.this.copy(), quantile=node.this.this.copy())
    return node


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT")


def _spark_rounding_integer_cast(node: sqlglot_exp.Expr) -> sqlglot_exp.Expr:
    """``CAST(a / b AS INTEGER)`` → ``CAST(BROUND(a / b) AS INT)`` on Spark.

    ``/`` gives a DOUBLE on both engines, but DuckDB casts a DOUBLE to an integer by rounding
    to the nearest (ties to even: 2.5 → 2, 3.5 → 4, 2.7 → 3) and Spark truncates (2.7 → 2).
    ``BROUND`` (half-even) makes Spark round as DuckDB does. Only a division is rewritten:
    the catalog casts other doubles to integers nowhere, and sqlglot does not know the type
    of a bare column.
    """
    from sqlglot import exp

    if (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Div)
        and node.to.this.name in _INTEGER_TYPES
    ):
        rounded = exp.Anonymous(this="BROUND", expressions=[node.this.copy()])
        return exp.Cast(this=rounded, to=node.to.copy())
    return node


def _literal(exp: Any, dtype: str, value: Any) -> Any:
    """A typed literal node for a bound value (quoting is the generator's job)."""
    if value is None:
        return exp.cast(exp.null(), exp.DataType.build(dtype, dialect="duckdb"))
    if dtype == "INTEGER[]":
        return exp.Array(expressions=[exp.Literal.number(int(v)) for v in value])
    if dtype == "VARCHAR":
        return exp.Literal.string(str(value))
    if dtype == "BOOLEAN":
        return exp.Boolean(this=bool(value))
    if dtype in ("INTEGER", "BIGINT"):
        return exp.Literal.number(int(value))
    if dtype == "DOUBLE":
        return exp.Literal.number(repr(float(value)))
    text = value.isoformat(sep=" ") if dtype == "TIMESTAMP" else value.isoformat()
    return exp.cast(exp.Literal.string(text), dtype)
