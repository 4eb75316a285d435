"""The Spark engine: the catalog's queries, transpiled by sqlglot, on the warehouse's Parquet
export (``codex-ds warehouse export``), in a local Spark session or on a cluster.

This is the scale path of DESIGN.md: the same ``*.sql`` files, the same parameters, the same
output columns; only the engine changes. A :class:`SparkWarehouse` opens (or borrows) a
SparkSession, registers every table of :mod:`codex_ds.telemetry.schema` as a temporary view
over ``<export>/<table>/`` (typed by the schema, so a table the export holds no file for is an
empty view of the right types, as :func:`codex_ds.warehouse.db.export_parquet` writes nothing
for an empty table), and runs :class:`~codex_ds.warehouse.catalog.Query` objects:

* the SQL is :func:`catalog.transpile(query, "spark") <codex_ds.warehouse.catalog.transpile>`
  (sqlglot, plus the catalog's Spark rewrites), with ``:name`` markers;
* parameters are validated by :func:`catalog.bind <codex_ds.warehouse.catalog.bind>` and bound by
  Spark (``spark.sql(text, args={...})``): a value is never formatted into SQL text; a value
  that must occur in a warehouse column (``in table.column``) is checked with a bound query;
* the rows come back as an Arrow table with the declared column names and types, in a
  :class:`~codex_ds.warehouse.catalog.QueryResult`, so DuckDB and Spark results compare
  directly (``tests/warehouse/test_spark.py`` does, for every query).

The session runs in UTC (``spark.sql.session.timeZone``) with ``TIMESTAMP`` meaning a timestamp
without time zone (``spark.sql.timestampType=TIMESTAMP_NTZ``), as in DuckDB: the warehouse
stores UTC wall-clock times. Files are read with ``recursiveFileLookup``, so the ``day=...``
directories of the export add no column; a table's own columns come from its files.

PySpark is an optional dependency (``pip install 'codex-ds[spark]'``) and needs Java 17 or
newer; both are checked before anything starts (:func:`check_available`), with a message that
says what to install.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pyarrow as pa

from codex_ds.telemetry import schema
from codex_ds.warehouse import catalog
from codex_ds.warehouse.db import WarehouseError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

#: The master of a local session: two worker threads (modest on a shared machine).
DEFAULT_MASTER = "local[2]"
#: Shuffle partitions of a local session (Spark's default of 200 is for clusters).
LOCAL_SHUFFLE_PARTITIONS = 2
#: The oldest Java Spark 4 runs on.
MIN_JAVA = 17
#: The oldest PySpark this module works with (``DataFrame.toArrow``, named parameters).
MIN_PYSPARK = (4, 0)
INSTALL_HINT = "pip install 'codex-ds[spark]'"
#: The SQL settings every session of the engine runs with: UTC, and ``TIMESTAMP`` without a
#: time zone, as in DuckDB (the warehouse stores UTC wall-clock times).
SESSION_SQL_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}

_T = TypeVar("_T")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}

# Spark's and PySpark's logging at ERROR: a query's result goes to stdout, and a failure is
# reported once, by the caller, not as a Java stack trace.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.spark.name = org.apache.spark
logger.spark.level = error
"""


class SparkUnavailableError(catalog.EngineNotAvailableError):
    """PySpark or Java is missing (or too old); the message says what to install."""


class ExportNotFoundError(WarehouseError):
    """No Parquet export where the Spark engine was told to read one."""


class SparkError(RuntimeError):
    """Spark did not start, or could not run a query (Spark's message, without the Java
    stack trace)."""


# -- availability ----------------------------------------------------------------------


def unavailable_reason() -> str | None:
    """Why the Spark engine cannot run here (PySpark or Java missing or too old), or None."""
    if importlib.util.find_spec("pyspark") is None:
        return f"the Spark engine needs PySpark: {INSTALL_HINT} (and Java {MIN_JAVA}+)"
    version = _pyspark_version()
    if version is not None and version < MIN_PYSPARK:
        have = ".".join(str(v) for v in version)
        return (
            f"the Spark engine needs PySpark {MIN_PYSPARK[0]}.{MIN_PYSPARK[1]} or newer "
            f"(found {have}): {INSTALL_HINT}"
        )
    java = java_executable()
    if java is None:
        return (
            f"the Spark engine needs Java {MIN_JAVA} or newer: `java` is not on PATH and "
            "JAVA_HOME is not set (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
        )
    major = java_major_version(java)
    if major is not None and major < MIN_JAVA:
        return (
            f"the Spark engine needs Java {MIN_JAVA} or newer; {java} is Java {major} "
            "(set JAVA_HOME to a newer JDK)"
        )
    return None


def check_available() -> None:
    """Raise :class:`SparkUnavailableError` (with what to install) unless Spark can run."""
    reason = unavailable_reason()
    if reason is not None:
        raise SparkUnavailableError(reason)


def java_executable() -> str | None:
    """The ``java`` PySpark will start: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


@lru_cache(maxsize=4)
def java_major_version(java: str) -> int | None:
    """The major version of a ``java`` executable (8 for ``1.8.0_x``), None if unknown."""
    try:
        proc = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def _pyspark_version() -> tuple[int, int] | None:
    try:
        text = importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return None
    m = re.match(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


# -- the session -----------------------------------------------------------------------


_MASTER_RE = re.compile(
    r"^(local(\[(\*|\d+)(,\s*\d+)?\])?|local-cluster\[.+\]|spark://.+|yarn|k8s://.+)$"
)


def check_master(master: str) -> str:
    """``master`` if Spark accepts it as a master URL, else :class:`catalog.CatalogError`."""
    if not _MASTER_RE.match(master):
        raise catalog.CatalogError(
            f"Spark master {master!r}: expected local[N], local[*], spark://HOST:PORT, yarn or "
            "k8s://https://HOST:PORT"
        )
    return master


def is_local_master(master: str) -> bool:
    """``local``, ``local[N]``, ``local[*]``, ``local-cluster[...]``: the driver's machine."""
    return master == "local" or master.startswith(("local[", "local-cluster["))


def create_session(
    master: str = DEFAULT_MASTER,
    *,
    app_name: str = "codex-ds",
    shuffle_partitions: int | None = None,
    conf: Mapping[str, str] | None = None,
    quiet: bool = True,
) -> SparkSession:
    """A SparkSession for the catalog's queries.

    UTC session time zone, ``TIMESTAMP`` without time zone (as DuckDB), no web UI, no console
    progress bar. A local master binds the driver to 127.0.0.1 and uses
    ``shuffle_partitions`` (default :data:`LOCAL_SHUFFLE_PARTITIONS`); a cluster master keeps
    Spark's own partitioning unless ``shuffle_partitions`` is given. ``conf`` entries are
    passed through (and win). ``quiet`` sets Spark's and PySpark's logging to ERROR.

    Spark allows one SparkContext per process: if a session already runs, Spark returns it
    (its master and static settings stay as they were).
    """
    check_available()
    check_master(master)
    from pyspark.sql import SparkSession

    settings: dict[str, str] = {
        "spark.app.name": app_name,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **SESSION_SQL_CONF,
    }
    local = is_local_master(master)
    if local:
        settings.update(
            {
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.sql.shuffle.partitions": str(shuffle_partitions or LOCAL_SHUFFLE_PARTITIONS),
            }
        )
    elif shuffle_partitions is not None:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    if quiet:
        settings["spark.driver.extraJavaOptions"] = (
            f"-Dlog4j2.configurationFile={_log4j2_file().as_uri()}"
        )
    for key, value in (conf or {}).items():
        if key == "spark.driver.extraJavaOptions" and key in settings:
            value = f"{settings[key]} {value}"
        settings[key] = value
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if quiet:
        session.sparkContext.setLogLevel("ERROR")
        _quiet_pyspark_loggers()
    return session


@lru_cache(maxsize=1)
def _log4j2_file() -> Path:
    """A log4j2 configuration (ERROR and above, on stderr), written once per process and
    removed when it exits (the JVM reads it when it starts)."""
    folder = tempfile.mkdtemp(prefix="codex-ds-spark-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "log4j2.properties"
    path.write_text(_LOG4J2, encoding="utf-8")
    return path


def _quiet_pyspark_loggers() -> None:
    """PySpark logs every query error to stderr before raising it; the caller reports it."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL + 1)


# -- types and views -------------------------------------------------------------------


def spark_type(dtype: str) -> DataType:
    """The Spark type of a schema or catalog type (``TIMESTAMP`` has no time zone)."""
    from pyspark.sql import types as T

    mapping: dict[str, DataType] = {
        "VARCHAR": T.StringType(),
        "BIGINT": T.LongType(),
        "INTEGER": T.IntegerType(),
        "DOUBLE": T.DoubleType(),
        "BOOLEAN": T.BooleanType(),
        "DATE": T.DateType(),
        "TIMESTAMP": T.TimestampNTZType(),
    }
    return mapping[dtype]


def table_schema(table: schema.Table) -> StructType:
    """The Spark schema of a warehouse table (every column nullable, as Parquet reads)."""
    from pyspark.sql import types as T

    return T.StructType([T.StructField(c.name, spark_type(c.dtype), True) for c in table.columns])


def arrow_schema(query: catalog.Query) -> pa.Schema:
    """The Arrow schema a query's result has: its declared columns and types."""
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.dtype]) for c in query.columns])


def to_declared(table: pa.Table, query: catalog.Query) -> pa.Table:
    """``table`` with the query's declared column names and Arrow types.

    Only representations change (a ``void`` column of NULLs, ``large_string``, a UTC
    timestamp with its zone dropped); a value that does not fit its declared type raises
    :class:`SparkError` instead of being truncated.
    """
    target = arrow_schema(query)
    if table.column_names != target.names:
        raise SparkError(
            f"query {query.name!r} on Spark returned columns {table.column_names}, "
            f"declared {target.names}"
        )
    columns = []
    for name, wanted in zip(target.names, target.types, strict=True):
        column = table.column(name)
        if column.type != wanted:
            if pa.types.is_timestamp(column.type) and column.type.tz is not None:
                column = column.cast(pa.timestamp(column.type.unit, tz="UTC")).cast(
                    pa.timestamp(column.type.unit)
                )
            try:
                column = column.cast(wanted, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SparkError(
                    f"query {query.name!r} on Spark: column {name!r} of type {column.type} "
                    f"does not convert to its declared type {wanted}: {exc}"
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=target)


def _is_uri(location: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location) is not None and not (
        location.startswith("file://")
    )


def _location(export_dir: str | os.PathLike[str]) -> str:
    text = os.fspath(export_dir)
    if _is_uri(text):
        return text.rstrip("/")
    if text.startswith("file://"):
        text = text[len("file://") :]
    return str(Path(text).expanduser().resolve())


# -- the warehouse on Spark ------------------------------------------------------------


@dataclass
class SparkWarehouse:
    """The warehouse's Parquet export, as temporary views of a Spark session.

    Open with :meth:`open`; close (or use as a context manager) to stop a session it started.
    :func:`catalog.run <codex_ds.warehouse.catalog.run>` accepts it in place of a DuckDB
    connection.
    """

    session: SparkSession
    export_dir: str
    tables: dict[str, bool]  # table -> files found (False: an empty view)
    owns_session: bool = False
    engine: Literal["spark"] = "spark"

    @classmethod
    def open(
        cls,
        export_dir: str | os.PathLike[str],
        *,
        master: str = DEFAULT_MASTER,
        session: SparkSession | None = None,
        conf: Mapping[str, str] | None = None,
        cache: bool = False,
        quiet: bool = True,
    ) -> SparkWarehouse:
        """Register the export at ``export_dir`` (a folder, or a URI such as
        ``hdfs://...`` or ``s3a://...`` that the cluster can read) as views.

        With ``session`` (or when this thread already has an active session), the views live
        in a new session sharing its SparkContext, which is not stopped on close (``master``
        and ``conf`` are then those of the running context); otherwise a session is created
        for ``master`` and stopped on close. ``cache`` keeps the tables in Spark's memory
        (many queries over a small export).
        """
        location = _location(export_dir)
        if not _is_uri(location) and not Path(location).is_dir():
            raise ExportNotFoundError(
                f"no Parquet export at {location}: run `codex-ds warehouse export` first "
                "(or pass --parquet DIR)"
            )
        if session is None:
            session = _active_session()
        owns = session is None
        if session is None:
            spark = _guarded(
                f"Spark did not start (master {master})",
                lambda: create_session(master, conf=conf, quiet=quiet),
            )
        else:
            spark = session.newSession()
            for key, value in SESSION_SQL_CONF.items():  # whoever configured the context
                spark.conf.set(key, value)
        try:
            found = _guarded(
                f"cannot read the Parquet export at {location}",
                lambda: register_export(spark, location, cache=cache),
            )
        except BaseException:
            if owns:
                spark.stop()
            raise
        if _is_uri(location) and not any(found.values()):
            if owns:
                spark.stop()
            raise ExportNotFoundError(
                f"no Parquet export at {location}: no table folder was found there"
            )
        return cls(spark, location, found, owns)

    def sql(self, text: str, args: Mapping[str, Any] | None = None) -> DataFrame:
        """Spark SQL with named ``:markers`` bound by Spark (never formatted into ``text``)."""
        return self.session.sql(text, args=dict(args) if args else None)

    def run(
        self,
        query: catalog.Query,
        params: Mapping[str, Any] | None = None,
        *,
        check_values: bool = True,
    ) -> catalog.QueryResult:
        """Run ``query`` with bound parameters; rows as declared (names and types).

        As on DuckDB, a parameter declared ``in table.column`` must match a value of that
        column (checked with a bound query) unless ``check_values`` is false.
        """
        bound = catalog.bind(query, params)
        if check_values:
            for p in query.params:
                if p.values_from and params and p.name in params and bound[p.name] is not None:
                    self._check_known(p, bound[p.name])
        started = time.perf_counter()
        table = to_declared(self.arrow(query, bound), query)
        return catalog.QueryResult(query.name, bound, table, time.perf_counter() - started, "spark")

    def arrow(self, query: catalog.Query, bound: Mapping[str, Any]) -> pa.Table:
        """The rows of ``query`` as Spark returns them (Spark's own types), parameters
        ``bound`` (as :func:`catalog.bind` returns them)."""
        text = catalog.transpile(query, "spark", pretty=False).sql
        args = {p.name: _spark_value(bound[p.name]) for p in query.params}
        return self._collect(f"query {query.name!r}", lambda: self.sql(text, args).toArrow())

    def _check_known(self, param: catalog.Param, value: Any) -> None:
        assert param.values_from is not None
        table, _, column = param.values_from.partition(".")
        spec = schema.TABLES[table]
        if column not in spec.column_names:  # pragma: no cover - checked when parsed
            raise catalog.QueryDefinitionError(f"{param.values_from!r} is not a schema column")
        what = f"checking parameter {param.name!r}"
        found = self._collect(
            what,
            lambda: self.sql(
                f"SELECT 1 AS found FROM {spec.name} WHERE {column} = :value LIMIT 1",
                {"value": value},
            ).collect(),
        )
        if found:
            return
        rows = self._collect(
            what,
            lambda: self.sql(
                f"SELECT DISTINCT {column} AS v FROM {spec.name} WHERE {column} IS NOT NULL "
                f"ORDER BY v LIMIT 11"
            ).collect(),
        )
        raise catalog.unknown_value_error(param, value, [r[0] for r in rows])

    def _collect(self, what: str, action: Callable[[], _T]) -> _T:
        return _guarded(f"{what} failed on Spark", action)

    def close(self) -> None:
        """Drop the views; stop the session if this object started it."""
        if self.owns_session:
            self.session.stop()
        else:
            for name in self.tables:
                self.session.catalog.dropTempView(name)

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _active_session() -> SparkSession | None:
    check_available()
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def register_export(
    spark: SparkSession,
    export_dir: str,
    tables: Iterable[str] | None = None,
    *,
    cache: bool = False,
) -> dict[str, bool]:
    """Register ``<export_dir>/<table>/`` of each schema table as a temporary view typed by
    the schema; a table without files becomes an empty view. Returns which had files.
    """
    found: dict[str, bool] = {}
    for name in tables or list(schema.TABLES):
        spec = schema.TABLES[name]
        struct = table_schema(spec)
        path = f"{export_dir}/{name}"
        frame = None
        if _is_uri(export_dir) or Path(path).is_dir():
            frame = _read_parquet(spark, path, struct)
        found[name] = frame is not None
        if frame is None:
            frame = spark.createDataFrame([], struct)
        if cache:
            frame = frame.cache()
        frame.createOrReplaceTempView(name)
    return found


def _read_parquet(spark: SparkSession, path: str, struct: StructType) -> DataFrame | None:
    """Every ``*.parquet`` under ``path`` (recursively: the ``day=`` folders add no column),
    read with the table's schema; None when the folder does not exist."""
    from pyspark.errors import AnalysisException

    try:
        return (
            spark.read.schema(struct)
            .option("recursiveFileLookup", "true")
            .option("pathGlobFilter", "*.parquet")
            .parquet(path)
        )
    except AnalysisException as exc:
        if exc.getCondition() == "PATH_NOT_FOUND":
            return None
        raise


def _guarded(what: str, action: Callable[[], _T]) -> _T:
    """``action()``, with PySpark's and Py4J's errors as :class:`SparkError`."""
    from py4j.protocol import Py4JError, Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        return action()
    except Py4JJavaError as exc:  # the Java exception says more than "error calling o47"
        raise SparkError(f"{what}: {_first_line(exc.java_exception.toString())}") from None
    except (PySparkException, Py4JError) as exc:
        raise SparkError(f"{what}: {_first_line(exc)}") from None


def _spark_value(value: Any) -> Any:
    """A bound value as PySpark turns it into a literal (lists: arrays; None: NULL)."""
    if isinstance(value, tuple):
        return list(value)
    return value


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:2000]


# -- the export's freshness ------------------------------------------------------------


def export_is_stale(warehouse: str | os.PathLike[str], export_dir: str | os.PathLike[str]) -> bool:
    """True when the local warehouse file changed after the newest table of the local export
    was written (``codex-ds warehouse export`` refreshes it). False when either is absent or
    the export is not a local folder.
    """
    location = os.fspath(export_dir)
    if _is_uri(location):
        return False
    wh = Path(warehouse)
    folder = Path(_location(location))
    if not wh.is_file() or not folder.is_dir():
        return False
    written = [p.stat().st_mtime for p in folder.iterdir() if p.name in schema.TABLES]
    if not written:
        return False
    return wh.stat().st_mtime > max(written) + 1.0
