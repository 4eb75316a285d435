"""Ingest telemetry files into the warehouse: validate every row, quarantine what fails, load once.

Every format goes through the same validation, generated from
:mod:`codex_ds.telemetry.schema`: type, required, vocabulary, range, timestamp
window, length, references and primary key. Failures are collected lazily (all of a
row's failures, not the first one): one ``quarantine`` row per (line, field,
reason), with a sentence naming file, line, field and value, and the raw input.
Nothing is dropped silently: for every file, rows read = loaded + duplicates +
quarantined.

How it stays fast without per-row Python: the reader cuts JSON lines into Arrow
chunks of ``(_line, _raw)``; DuckDB parses each chunk once (``from_json`` into a
struct of VARCHARs), casts with ``TRY_CAST`` and evaluates every rule as a
generated ``CASE`` into a typed stage table; small anti-/semi-joins find orphans
and duplicates (the warehouse has no key index: the key is enforced here); the
valid rows are inserted from the stage, and the (usually few) bad rows are
re-checked field by field to write their quarantine rows.

Guarantees:

* each file is loaded in one transaction (its rows of every table, its quarantine
  rows, its ``ingest_files`` row): a crash leaves the warehouse as it was;
* a file whose SHA-256 is in ``ingest_files`` is not loaded again;
* files of one call load parents first (:func:`schema.load_order` of the table each
  file starts with), and within a file a child that comes before its parent waits
  for the end of the file before it is called an orphan.

Exit codes (:attr:`IngestReport.exit_code`): :data:`EXIT_OK` when nothing was
quarantined (an empty file, duplicates and already-ingested files are not
failures), :data:`EXIT_QUARANTINED` when any row or file-level problem went to
quarantine, :data:`EXIT_FAILED` when a file could not be ingested at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

import duckdb
import numpy as np
import pyarrow as pa

from codex_ds.telemetry import schema
from codex_ds.telemetry.formats import Source, claimant, expand_paths, open_source
from codex_ds.telemetry.formats import events as ev
from codex_ds.telemetry.formats.base import (
    LINE_COLUMN,
    RAW_COLUMN,
    RAW_KEEP_CHARS,
    FormatError,
    ParsedBatch,
    ParseIssue,
)

EXIT_OK = 0
#: Some rows (or a file-level problem) were quarantined; the valid rows were loaded.
EXIT_QUARANTINED = 3
#: At least one file could not be ingested at all (unreadable, not of any known format).
EXIT_FAILED = 4

#: Human messages kept per file in :attr:`FileReport.messages`.
MAX_MESSAGES = 20
#: Files up to this size are hashed before anything else; larger ones while loading.
HASH_FIRST_BYTES = 64 * 1024 * 1024
#: Records of a JSON-lines file sampled for fields that no column takes (reported, ignored).
UNKNOWN_FIELD_SAMPLE = 1000
#: Longest value shown in a quarantine sentence.
VALUE_SHOWN_CHARS = 200

#: Build the stage of JSON lines with the one-parse fast path (:meth:`_Rules.fast_json_stage`);
#: False types every field from VARCHAR (the reference the tests compare it with).
FAST_JSON_STAGE = True

#: Insert a chunk of JSON lines straight from its one-parse fast path when every row of it
#: turns out valid, and check keys and parents on the inserted rows (see
#: :meth:`_FileLoad._try_direct`); False always stages the chunk first.
DIRECT_INSERT = True

#: First ``rowid`` DuckDB gives a row appended inside a transaction (``MAX_ROW_ID``,
#: 36028797018960000); committed rows are numbered from 0. :meth:`_FileLoad._try_direct`
#: checks that the rows it counts by rowid are exactly the rows it inserted.
LOCAL_ROWID_START = 36_028_797_018_960_000

#: Reason codes of the quarantine table and what they mean.
REASONS: dict[str, str] = {
    "missing_field": "a required field is absent or null",
    "bad_type": "the value cannot be read as the column's type (e.g. latency_ms 'fast', 12.5 "
    "for an integer, NaN)",
    "unknown_value": "the value is not in the column's vocabulary",
    "out_of_range": "the number is below the column's minimum or above its maximum",
    "bad_timestamp": f"the timestamp is before {schema.EARLIEST_TIMESTAMP[:10]} or more than "
    f"{schema.FUTURE_TOLERANCE_HOURS} h after the ingest",
    "too_long": "the text is longer than the column's max_length",
    "inconsistent": "the row breaks a rule between two of its columns (e.g. ended_at before "
    "started_at, accepted_chars above suggested_chars); the field is the first of the two",
    "orphan": "a reference (e.g. a suggestion's session_id) to a row that is neither in the "
    "warehouse nor among the valid rows of this ingest",
    "duplicate_id": "the primary key is already in the warehouse or earlier in the file; the row "
    "is counted as a duplicate, not as quarantined",
    "unknown_table": "the record names no table of the schema (table / event_type field, or "
    "file name)",
    "invalid_json": "the line is not a JSON object (also: a line cut by a truncated file)",
    "not_utf8": "the line has bytes that are not UTF-8 (the other lines load)",
    "line_too_long": f"the line is longer than {ev.MAX_LINE_BYTES // (1024 * 1024)} MiB and "
    "was not parsed",
    "bad_field_count": "the CSV row has a different number of fields than the header",
    "bad_csv": "the CSV row cannot be parsed",
    "unknown_shape": "file-level: a JSON payload no reader recognises (the detail names its keys)",
    "truncated_file": "file-level: a compressed stream ends early or is corrupt; the records "
    "before the cut were loaded",
    "trailing_garbage": "file-level: bytes after the end of a gzip stream were ignored",
}
#: Reader issues that are notes, not failures: reported as messages, not quarantined.
INFORMATIONAL_REASONS = frozenset({"ignored_events"})

DUPLICATE = "duplicate_id"

Status = Literal["loaded", "already_ingested", "error"]
Progress = Callable[[str, int, int], None]


# ----------------------------------------------------------------------------- reports


@dataclass
class FileReport:
    """What happened to one file."""

    file: str
    format: str
    sha256: str
    status: Status
    rows_read: int = 0
    loaded: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    #: Quarantine rows per reason (one per line, field and reason; duplicates excluded).
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    #: First :data:`MAX_MESSAGES` human messages: notes, then "file:line: field: reason: ...".
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Records quarantined (a record with three bad fields counts once).
    rows_quarantined: int = 0

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "sha256": self.sha256,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "loaded": dict(self.loaded),
            "duplicates": self.duplicates,
            "rows_quarantined": self.rows_quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "messages": list(self.messages),
            "seconds": round(self.seconds, 4),
        }


@dataclass
class IngestReport:
    """What happened to every file of one :func:`ingest_paths` call."""

    files: list[FileReport]
    ingest_id: str = ""

    @property
    def totals(self) -> dict[str, int]:
        """Records read, loaded, skipped as duplicates and quarantined, over all files."""
        return {
            "files": len(self.files),
            "read": sum(f.rows_read for f in self.files),
            "loaded": sum(f.rows_loaded for f in self.files),
            "duplicate": sum(f.duplicates for f in self.files),
            "quarantined": sum(f.rows_quarantined for f in self.files),
        }

    @property
    def quarantined_by_reason(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for f in self.files:
            counts.update(f.quarantined_by_reason)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def exit_code(self) -> int:
        if any(f.status == "error" for f in self.files):
            return EXIT_FAILED
        if any(f.quarantined_by_reason for f in self.files):
            return EXIT_QUARANTINED
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingest_id": self.ingest_id,
            "files": [f.to_dict() for f in self.files],
            "totals": self.totals,
            "quarantined_by_reason": self.quarantined_by_reason,
            "exit_code": self.exit_code,
        }


# ----------------------------------------------------------------------------- entry point


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Validate and load files (directories: every file under them) into the warehouse.

    ``con`` is a read-write connection to a migrated warehouse
    (:func:`codex_ds.warehouse.db.connect`) with no transaction open. ``progress`` is
    called as ``progress(file, bytes_done, bytes_total)``. ``now`` is the ingest time
    (UTC; default: the clock): it stamps the quarantine and ``ingest_files`` rows and
    bounds future timestamps.
    """
    stamp = _utc_naive(now if now is not None else datetime.now(UTC))
    ingest_id = uuid.uuid4().hex
    files = _in_load_order(expand_paths(paths))
    row = con.execute("SELECT current_setting('TimeZone')").fetchone()
    zone = str(row[0]) if row else "UTC"
    con.execute("SET TimeZone = 'UTC'")
    reports: list[FileReport] = []
    try:
        for path in files:
            reports.append(_FileLoad(con, path, ingest_id, stamp, progress).run())
    finally:
        con.execute(f"SET TimeZone = {_lit(zone)}")
    return IngestReport(reports, ingest_id)


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _in_load_order(files: list[Path]) -> list[Path]:
    """Files sorted (stably) by the load order of the first table each one holds."""
    order = list(schema.TABLES)

    def rank(path: Path) -> int:
        try:
            head = ev.read_head(path)
            if claimant(path, head) is not None:
                return len(order)
            table = _first_table(path, head)
        except OSError:
            return len(order) + 1
        return order.index(table) if table in order else len(order)

    return sorted(files, key=rank)


def _first_table(path: Path, head: bytes) -> str | None:
    """The table named by the first record of ``head``, else by the file name."""
    encoding = ev.detect_encoding(head)
    if encoding == "jsonl":
        first = ev.first_record(head)
        if first is not None:
            for name in ev.TABLE_FIELDS:
                value = first.get(name)
                if isinstance(value, str):
                    return value
    elif encoding == "csv":
        lines = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines()
        if len(lines) > 1:
            header = [h.strip() for h in lines[0].split(",")]
            values = lines[1].split(",")
            for name in ev.TABLE_FIELDS:
                if name in header and header.index(name) < len(values):
                    return values[header.index(name)].strip() or ev.table_from_name(path)
    return ev.table_from_name(path)


# ----------------------------------------------------------------------------- SQL rules


def _q(name: str) -> str:
    """Quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(value: object) -> str:
    """SQL literal of a string or a number."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if value is None:
        return "NULL"
    raise TypeError(f"no SQL literal for {value!r}")


def _v(name: str) -> str:
    """Column of the source value (VARCHAR) of schema column ``name``."""
    return _q("v:" + name)


def _shown(v: str) -> str:
    """SQL: the value quoted for a sentence, cut to :data:`VALUE_SHOWN_CHARS`."""
    n = VALUE_SHOWN_CHARS
    return f"('''' || left({v}, {n}) || CASE WHEN length({v}) > {n} THEN '...' ELSE '' END || '''')"


def _once_in_raw(text: str) -> str:
    """SQL: ``text`` occurs exactly once in the raw line."""
    gone = f"length(replace({RAW_COLUMN}, {_lit(text)}, ''))"
    return f"length({RAW_COLUMN}) - {gone} = {len(text)}"


class _Rules:
    """SQL generated from one schema table: typing, rule checks and their explanations."""

    def __init__(self, table: schema.Table, latest: datetime) -> None:
        self.table = table
        self.earliest = schema.EARLIEST_TIMESTAMP
        self.latest = latest.strftime("%Y-%m-%d %H:%M:%S")

    def typed(self, col: schema.Column, v: str | None = None) -> str:
        """SQL giving the typed value of ``col`` from its VARCHAR source (NULL if not castable).

        ``v`` is the SQL of the source value (default: the stage's ``v:<col>`` column).
        """
        v = v if v is not None else _v(col.name)
        if col.dtype == "VARCHAR":
            return v
        if col.dtype in ("INTEGER", "BIGINT"):
            d = f"TRY_CAST({v} AS DOUBLE)"
            return (
                f"CASE WHEN contains({v}, '.') THEN (CASE WHEN {d} = trunc({d}) "
                f"THEN TRY_CAST({d} AS {col.dtype}) END) ELSE TRY_CAST({v} AS {col.dtype}) END"
            )
        if col.dtype == "TIMESTAMP":
            return self._timestamp(v)
        if col.dtype == "DATE":
            return f"coalesce(TRY_CAST({v} AS DATE), CAST({self._timestamp(v)} AS DATE))"
        return f"TRY_CAST({v} AS {col.dtype})"

    @staticmethod
    def _timestamp(v: str) -> str:
        # ISO-8601 with optional Z / offset -> UTC (the session time zone is UTC while
        # ingesting), else epoch seconds, or milliseconds from 1e11 on.
        d = f"TRY_CAST({v} AS DOUBLE)"
        epoch = (
            f"CASE WHEN abs({d}) < 1e14 THEN make_timestamp(CAST(round({d} * "
            f"CASE WHEN abs({d}) >= 1e11 THEN 1000 ELSE 1000000 END) AS BIGINT)) END"
        )
        # (infinity gives NULL here, then fails the epoch branch too: bad_type)
        return f"coalesce(make_timestamp(epoch_us(TRY_CAST({v} AS TIMESTAMPTZ))), {epoch})"

    def checks(
        self, col: schema.Column, t: str, typed_of: Callable[[str], str] | None = None
    ) -> list[tuple[str, str]]:
        """(reason, condition on the typed value ``t``) after the null and type checks.

        ``typed_of(name)`` is the SQL of the typed value of another column, for the
        table's row rules on ``col`` (default: the stage's ``t:<name>`` column).
        """
        other = typed_of if typed_of is not None else (lambda n: _q("t:" + n))
        out: list[tuple[str, str]] = []
        if col.dtype == "DOUBLE":
            out.append(("bad_type", f"NOT isfinite({t})"))
        if col.allowed is not None:
            values = ", ".join(_lit(a) for a in col.allowed)
            out.append(("unknown_value", f"{t} NOT IN ({values})"))
        bounds = []
        if col.minimum is not None:
            bounds.append(f"{t} < {_lit(col.minimum)}")
        if col.maximum is not None:
            bounds.append(f"{t} > {_lit(col.maximum)}")
        if bounds:
            out.append(("out_of_range", " OR ".join(bounds)))
        if col.dtype == "TIMESTAMP":
            out.append(
                (
                    "bad_timestamp",
                    f"{t} < TIMESTAMP {_lit(self.earliest)} OR {t} > TIMESTAMP {_lit(self.latest)}",
                )
            )
        if col.max_length is not None:
            out.append(("too_long", f"length({t}) > {col.max_length}"))
        broken = [
            f"coalesce({t} {'<' if r.op == '>=' else '>'} {other(r.other)}, FALSE)"
            for r in self.table.row_rules
            if r.column == col.name
        ]
        if broken:
            out.append(("inconsistent", " OR ".join(broken)))
        return out

    def error(self, col: schema.Column, t: str) -> str | None:
        """SQL giving the reason ``col`` fails (NULL if it passes); None if it cannot fail."""
        v = _v(col.name)
        whens = []
        if col.nullable:
            whens.append(f"WHEN {v} IS NULL THEN NULL")
        else:
            whens.append(f"WHEN {v} IS NULL THEN 'missing_field'")
        if col.dtype != "VARCHAR":
            whens.append(f"WHEN {t} IS NULL THEN 'bad_type'")
        whens += [f"WHEN {cond} THEN {_lit(reason)}" for reason, cond in self.checks(col, t)]
        if col.nullable and len(whens) == 1:
            return None
        return "CASE " + " ".join(whens) + " END"

    def explain(self, col: schema.Column, reason: str, v: str) -> str:
        """SQL giving the explanation of ``reason`` for ``col`` (value column ``v``)."""
        shown = _shown(v)
        if reason == "missing_field":
            return _lit("required field is missing or null")
        if reason == "bad_type":
            return f"'value ' || {shown} || {_lit(' is not a valid ' + col.dtype)}"
        if reason == "unknown_value":
            allowed = ", ".join(str(a) for a in (col.allowed or ()))
            return f"'value ' || {shown} || {_lit(' is not one of: ' + allowed)}"
        if reason == "out_of_range":
            lo = "-inf" if col.minimum is None else f"{col.minimum:g}"
            hi = "inf" if col.maximum is None else f"{col.maximum:g}"
            unit = f" {col.unit}" if col.unit else ""
            return f"'value ' || {shown} || {_lit(f' is outside [{lo}, {hi}]{unit}')}"
        if reason == "bad_timestamp":
            window = (
                f" is not between {self.earliest[:10]} and {self.latest} UTC "
                f"(ingest time + {schema.FUTURE_TOLERANCE_HOURS} h)"
            )
            return f"'timestamp ' || {shown} || {_lit(window)}"
        if reason == "too_long":
            longer = f" characters is longer than {col.max_length}"
            return f"'value of ' || length({v}) || {_lit(longer)}"
        if reason == "inconsistent":
            parts = [
                f"CASE WHEN coalesce({_q('t:' + col.name)} {'<' if r.op == '>=' else '>'} "
                f"{_q('t:' + r.other)}, FALSE) THEN 'value ' || {shown} || "
                f"{_lit(' breaks ' + r.text() + ' (' + r.other + ' is ')} || "
                f"{_shown(_v(r.other))} || ')' END"
                for r in self.table.row_rules
                if r.column == col.name
            ]
            return "concat_ws('; ', " + ", ".join(parts) + ")"
        return _lit(REASONS.get(reason, reason))

    def stage_select(self, source: str, table_expr: str) -> str:
        """SELECT of the stage: typed columns named as the schema's, plus ``_fok``."""
        cols = self.table.columns
        typed = ", ".join(f"{self.typed(c)} AS {_q('t:' + c.name)}" for c in cols)
        errors = [e for c in cols if (e := self.error(c, _q("t:" + c.name))) is not None]
        fok = f"coalesce({', '.join(errors)}) IS NULL" if errors else "TRUE"
        out = ", ".join(f"{_q('t:' + c.name)} AS {_q(c.name)}" for c in cols)
        return (
            f"SELECT _rid, _line, _json, _table, {out}, "
            f"(_json AND _table IS NOT DISTINCT FROM {table_expr} AND {fok}) AS _fok "
            f"FROM (SELECT *, {typed} FROM ({source}))"
        )

    # -- the fast path of JSON lines ------------------------------------------------

    #: Types the fast parse reads a column as (others are read as VARCHAR and typed as
    #: in :meth:`typed`). Integers are read as DOUBLE so that 12.5 is not cut to 12.
    FAST_TYPES: ClassVar[dict[str, str]] = {
        "DOUBLE": "DOUBLE",
        "INTEGER": "DOUBLE",
        "BIGINT": "DOUBLE",
        "TIMESTAMP": "TIMESTAMPTZ",
    }

    def fast_struct(self) -> str:
        """``from_json`` structure of the fast parse: numbers and timestamps typed at once."""
        fields = [f'"{n}":"VARCHAR"' for n in ev.TABLE_FIELDS]
        fields += [
            f'"{c.name}":"{self.FAST_TYPES.get(c.dtype, "VARCHAR")}"' for c in self.table.columns
        ]
        return "{" + ",".join(fields) + "}"

    def _fast_typed(self, col: schema.Column, f: str) -> str:
        """SQL of the typed value of ``col`` from the fast field ``f`` (NULL: not decided)."""
        if col.dtype not in self.FAST_TYPES:
            return self.typed(col, f)
        if col.dtype in ("INTEGER", "BIGINT"):
            # integral and below 2^52 (exact as a double); else the exact path decides
            return (
                f"CASE WHEN isfinite({f}) AND {f} = trunc({f}) AND abs({f}) < 4503599627370496 "
                f"THEN TRY_CAST({f} AS {col.dtype}) END"
            )
        if col.dtype == "TIMESTAMP":
            return f"make_timestamp(epoch_us({f}))"
        return f

    def _no_boolean_read_as_number(self) -> str:
        """SQL: no JSON ``true``/``false`` was read as 1 / 0 into a number of the fast parse.

        Only a number column holding 0 or 1 can have been a boolean, and only if the
        line has ``true`` or ``false`` somewhere (code in a completion often does).
        Such a column clears itself when its key is in the line exactly once and is
        followed by a JSON number (``"key": 0``, ``"key":1.0``): a key spelled with
        escapes, a repeated key or any other value leaves the row to the exact path.
        """
        numbers = [c for c in self.table.columns if c.dtype in ("DOUBLE", "INTEGER", "BIGINT")]
        if not numbers:
            return "TRUE"
        cleared = []
        for c in numbers:
            key = '"' + c.name + '"'
            pattern = re.escape(key) + r"\s*:\s*-?[0-9]"
            cleared.append(
                f"CASE WHEN f.{_q(c.name)} IN (0, 1) THEN {_once_in_raw(key)} AND "
                f"regexp_matches({RAW_COLUMN}, {_lit(pattern)}) ELSE TRUE END"
            )
        return (
            f"CASE WHEN NOT contains({RAW_COLUMN}, 'true') AND NOT contains({RAW_COLUMN}, 'false') "
            f"THEN TRUE ELSE {' AND '.join(cleared)} END"
        )

    def _genuine_null(self, col: schema.Column) -> str:
        """SQL: the record has no value for ``col`` (absent or JSON null), not a failed parse.

        Only for fields read typed: a NULL there may also be a value that did not
        convert. The key, in quotes, is either absent from the line or there exactly
        once followed by ``:null`` (a quote inside a JSON string is escaped, so the
        pattern can only be a key).
        """
        key = '"' + col.name + '"'
        return (
            f"(NOT contains(_raw, {_lit(key)}) OR ((contains(_raw, {_lit(key + ':null')}) "
            f"OR contains(_raw, {_lit(key + ': null')})) AND {_once_in_raw(key)}))"
        )

    def fast_json_stage(self, lines: str, fallback: str) -> str:
        """SELECT of the stage of :meth:`stage_select` from raw JSON lines, parsed once.

        ``lines`` is a FROM item with ``_line`` and ``_raw``; ``fallback`` the SQL of the
        table for records without a table field. Each line is parsed once with
        :meth:`fast_struct`; a row whose every field converts strictly and passes every
        rule (no JSON ``true``/``false`` read as 1 / 0 into a number, see
        :meth:`_no_boolean_read_as_number`; integers integral; no ambiguous NULL) is *fast* and
        takes the typed values as they are. Every other row is parsed again as VARCHAR
        fields and typed and checked exactly as :meth:`stage_select` does (a CASE
        evaluates that branch only for those rows), so the stage is the same either way.
        """
        cols = self.table.columns
        name = _lit(self.table.name)
        guard = f"(starts_with({RAW_COLUMN}, '{{') OR starts_with(ltrim({RAW_COLUMN}), '{{'))"
        struct = ev.json_struct_type([*self.table.column_names, *ev.TABLE_FIELDS])
        slow_values = ", ".join(f"s.{_q(c.name)} AS {_v(c.name)}" for c in cols)
        f_values = ", ".join(_q("f:" + c.name) for c in cols)
        v_values = ", ".join(_v(c.name) for c in cols)
        unified = ", ".join(
            f"CASE WHEN _fast THEN {_q('f:' + c.name)} ELSE {self.typed(c)} END "
            f"AS {_q('t:' + c.name)}"
            for c in cols
        )
        errors = [e for c in cols if (e := self.error(c, _q("t:" + c.name))) is not None]
        slow_fok = f"coalesce({', '.join(errors)}) IS NULL" if errors else "TRUE"
        out = ", ".join(f"{_q('t:' + c.name)} AS {_q(c.name)}" for c in cols)
        return (
            f"SELECT _rid, _line, _json, _table, {out}, CASE WHEN _fast THEN TRUE ELSE "
            f"(_json AND _table IS NOT DISTINCT FROM {name} AND {slow_fok}) END AS _fok "
            f"FROM (SELECT _rid, _line, _fast, _json, _table, {v_values}, {unified} FROM ("
            f"SELECT _rid, _line, _fast, {f_values}, "
            f"CASE WHEN _fast THEN TRUE ELSE s IS NOT NULL END AS _json, "
            f"CASE WHEN _fast THEN {name} WHEN s IS NOT NULL THEN coalesce(s.{_q('table')}, "
            f"s.{_q('event_type')}, {fallback}) END AS _table, {slow_values} FROM ("
            f"SELECT *, CASE WHEN NOT _fast AND {guard} THEN try(from_json({RAW_COLUMN}, "
            f"{_lit(struct)})) END AS s FROM ({self.fast_rows(lines, fallback)}))))"
        )

    def fast_rows(self, lines: str, fallback: str) -> str:
        """SELECT of ``_rid``, ``_line``, the raw line, ``f:<col>`` typed values and ``_fast``.

        See :meth:`fast_json_stage`; ``f:<col>`` is meaningful where ``_fast`` is true.
        """
        cols = self.table.columns
        name = _lit(self.table.name)
        guard = f"(starts_with({RAW_COLUMN}, '{{') OR starts_with(ltrim({RAW_COLUMN}), '{{'))"
        f_typed = ", ".join(
            f"{self._fast_typed(c, 'f.' + _q(c.name))} AS {_q('f:' + c.name)}" for c in cols
        )
        oks = []
        for c in cols:
            t = _q("f:" + c.name)
            raw = f"f.{_q(c.name)}"
            fails = [cond for _, cond in self.checks(c, t, lambda n: _q("f:" + n))]
            passes = f"coalesce(NOT ({' OR '.join(fails)}), FALSE)" if fails else "TRUE"
            present = f"{t} IS NOT NULL" if c.dtype != "VARCHAR" else "TRUE"
            value_ok = f"({present} AND {passes})"
            if not c.nullable:
                oks.append(f"({raw} IS NOT NULL AND {value_ok})")
            elif c.dtype in self.FAST_TYPES:
                oks.append(
                    f"(CASE WHEN {raw} IS NULL THEN {self._genuine_null(c)} ELSE {value_ok} END)"
                )
            else:
                oks.append(f"({raw} IS NULL OR {value_ok})")
        fast = (
            f"f IS NOT NULL AND coalesce(f.{_q('table')}, f.{_q('event_type')}, {fallback}) = "
            f"{name} AND {self._no_boolean_read_as_number()} AND " + " AND ".join(oks)
        )
        f_values = ", ".join(_q("f:" + c.name) for c in cols)
        return (
            f"SELECT _rid, _line, {RAW_COLUMN}, {f_values}, coalesce({fast}, FALSE) AS _fast FROM ("
            f"SELECT _rid, _line, {RAW_COLUMN}, f, {f_typed} FROM ("
            f"SELECT {LINE_COLUMN} AS _rid, {LINE_COLUMN} AS _line, {RAW_COLUMN}, "
            f"CASE WHEN {guard} THEN try(from_json({RAW_COLUMN}, {_lit(self.fast_struct())})) "
            f"END AS f FROM {lines}))"
        )

    def check_select(self, source: str) -> str:
        """SELECT of ``_rid``, ``e:<col>`` reason codes, ``v:<col>`` values and ``t:<col>`` typed
        values (bad rows only)."""
        cols = self.table.columns
        typed = ", ".join(f"{self.typed(c)} AS {_q('t:' + c.name)}" for c in cols)
        parts = []
        for c in cols:
            e = self.error(c, _q("t:" + c.name))
            parts.append(
                f"{e if e is not None else 'CAST(NULL AS VARCHAR)'} AS {_q('e:' + c.name)}"
            )
        values = ", ".join(_v(c.name) for c in cols)
        typed_names = ", ".join(_q("t:" + c.name) for c in cols)
        return (
            f"SELECT _rid, _line, {values}, {typed_names}, {', '.join(parts)} "
            f"FROM (SELECT *, {typed} FROM ({source}))"
        )


# ----------------------------------------------------------------------------- one file


class _Hasher:
    """SHA-256 of a file computed in a thread (hashlib releases the GIL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest: str | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="codex-ds-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Background work: at the lowest priority the load's threads (DuckDB's, the
        # reader's) get the cores first, and the hash fills their gaps; it is waited
        # for before the commit. Linux numbers threads, so this is per thread there.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            h = hashlib.sha256()
            buf = bytearray(4 * 1024 * 1024)
            view = memoryview(buf)
            with self.path.open("rb", buffering=0) as f:
                while n := f.readinto(buf):
                    h.update(view[:n])
            self.digest = h.hexdigest()
        except BaseException as exc:  # reported by result()
            self.error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> str:
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.digest is not None
        return self.digest


class _Prefetch:
    """Runs a reader in a thread one piece ahead, so reading overlaps the DuckDB work.

    The reader's heavy steps (file reads, numpy, Arrow, zlib) release the GIL, as
    DuckDB does while it executes; exceptions of the reader are raised by the
    consumer in order. After handing over a chunk of lines the reader waits until
    the consumer has taken it before it reads the next: by then the consumer has
    released the chunk before, whose buffer the next one reuses. Two buffers go
    round instead of three, so a third never has its pages faulted in (reading a
    chunk takes a fraction of the time its load does).
    """

    def __init__(self, pieces: Iterator[ev.Piece], depth: int = 1) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._taken = threading.Semaphore(0)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._run, args=(pieces,), name="codex-ds-reader", daemon=True
        )
        self._thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, pieces: Iterator[ev.Piece]) -> None:
        try:
            for piece in pieces:
                if not self._put(("piece", piece)):
                    if isinstance(piece, ev.JsonLines):
                        piece.release()
                    return
                if isinstance(piece, ev.JsonLines):
                    while not self._taken.acquire(timeout=0.1):
                        if self._stop.is_set():
                            return
            self._put(("end", None))
        except BaseException as exc:  # handed to the consumer
            self._put(("error", exc))

    def __iter__(self) -> _Prefetch:
        return self

    def __next__(self) -> ev.Piece:
        if self._done:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == "piece":
            if isinstance(value, ev.JsonLines):
                self._taken.release()
            return value
        self._done = True
        if kind == "end":
            raise StopIteration
        raise value

    def close(self) -> None:
        """Stop the reader thread (after an error or an early end) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                kind, value = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if kind == "piece" and isinstance(value, ev.JsonLines):
                value.release()
        self._thread.join()


class _RowidMismatch(RuntimeError):
    """DuckDB numbered a transaction's appended rows otherwise than the direct insert expects."""


class _AlreadyIngested(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _FileLoad:
    """Loads one file in one transaction; see :func:`ingest_paths`."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        ingest_id: str,
        now: datetime,
        progress: Progress | None,
    ) -> None:
        self.con = con
        self.path = path
        self.name = str(path)
        self.ingest_id = ingest_id
        self.now = now
        self.latest = now + timedelta(hours=schema.FUTURE_TOLERANCE_HOURS)
        self.progress = progress
        self.report = FileReport(self.name, "unknown", "", "error")
        self.rules: dict[str, _Rules] = {}
        self.issues: list[ParseIssue] = []
        self.notes: list[str] = []
        self.deferred: dict[str, int] = {}  # table -> rows waiting for a parent
        self.next_rid = 0
        self.quarantined_rows = 0
        self.expected_table: str | None = None
        self.hasher: _Hasher | None = None
        #: Per table: (lowest, highest) key of the warehouse before this file and of each
        #: chunk of this file since; see :meth:`_may_be_loaded`.
        self.key_ranges: dict[str, list[tuple[Any, Any]]] = {}
        #: Whether the next chunk of this file tries :meth:`_try_direct`: off after a miss,
        #: on again after 1, 2, 4, ... clean staged chunks (doubling with each miss), so a
        #: file whose every chunk has a row off the fast path is soon staged only.
        self.direct = DIRECT_INSERT
        self._misses = 0
        self._clean_staged = 0
        #: Rows of this file found duplicate so far (each also has a quarantine row).
        self.duplicate_rows = 0

    # -- driver -------------------------------------------------------------------

    def run(self) -> FileReport:
        """Load the file; never raises for a problem of the file itself (see the status)."""
        start = time.perf_counter()
        try:
            self._run()
        except _AlreadyIngested as exc:
            self._rolled_back("already_ingested", exc.message)
        except (OSError, FormatError) as exc:
            text = str(exc)
            self._rolled_back("error", text if self.name in text else f"{self.name}: {text}")
        except (
            duckdb.Error,
            ValueError,
            TypeError,
            KeyError,
            pa.ArrowException,
            _RowidMismatch,
        ) as exc:
            self._rolled_back(
                "error", f"{self.name}: ingestion failed: {type(exc).__name__}: {exc}"
            )
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _rolled_back(self, status: Status, message: str) -> None:
        """Report a file of which nothing was kept."""
        rep = self.report
        rep.status = status
        rep.rows_read = 0
        rep.loaded = {}
        rep.duplicates = 0
        rep.quarantined_by_reason = {}
        rep.rows_quarantined = 0
        rep.messages = [message]

    def _tell(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(self.name, done, total)

    def _check_hash(self, *, wait: bool) -> None:
        assert self.hasher is not None
        if not wait and not self.hasher.done():
            return
        digest = self.hasher.result()
        self.report.sha256 = digest
        row = self.con.execute(
            "SELECT file, ingested_at FROM ingest_files WHERE sha256 = ? LIMIT 1", [digest]
        ).fetchone()
        if row is not None:
            raise _AlreadyIngested(
                f"{self.name}: identical content (sha256 {digest[:12]}...) was already "
                f"ingested from {row[0]} at {row[1]:%Y-%m-%d %H:%M:%S} UTC; nothing loaded"
            )

    def _run(self) -> None:
        size = self.path.stat().st_size
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.name} is a directory")
        self._tell(0, size)
        self.hasher = _Hasher(self.path)
        if size <= HASH_FIRST_BYTES:
            self._check_hash(wait=True)
        source = open_source(self.path)
        self.report.format = source.format
        self.con.execute("BEGIN TRANSACTION")
        try:
            self._load(source, size)
            self._check_hash(wait=True)
            self._finish(source)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self._drop_temps()
        self._tell(size, size)

    def _load(self, source: Source, size: int) -> None:
        pieces = _Prefetch(source.pieces)
        try:
            self._load_pieces(pieces, source, size)
        finally:
            pieces.close()

    def _load_pieces(self, pieces: Iterator[ev.Piece], source: Source, size: int) -> None:
        for piece in pieces:
            if isinstance(piece, ParseIssue):
                if piece.reason in INFORMATIONAL_REASONS:
                    self.notes.append(f"{self.name}: {piece.detail}")
                else:
                    self.issues.append(piece)
                continue
            if self.hasher is not None and self.report.sha256 == "":
                self._check_hash(wait=False)
            if isinstance(piece, ev.JsonLines):
                self._json_lines(piece)
            else:
                self._batch(piece)
            self._flush_issues()
            self._tell(source.position, size)
        self._flush_issues()
        for table in schema.load_order(list(self.deferred)):
            if self.deferred[table]:
                self._settle_deferred(table)
        self.report.rows_read = source.rows_read
        self.notes.extend(f"{self.name}: {n}" for n in source.all_notes)

    def _finish(self, source: Source) -> None:
        rep = self.report
        reasons = self.con.execute(
            "SELECT reason, count(*) FROM quarantine WHERE ingest_id = ? AND file = ? "
            "GROUP BY reason ORDER BY 2 DESC, 1",
            [self.ingest_id, self.name],
        ).fetchall()
        rep.quarantined_by_reason = {str(r): int(n) for r, n in reasons if r != DUPLICATE}
        rep.duplicates = sum(int(n) for r, n in reasons if r == DUPLICATE)
        rep.rows_quarantined = self.quarantined_rows
        rep.status = "loaded"
        messages = list(self.notes)
        if rep.rows_read == 0 and not rep.quarantined_by_reason:
            messages.insert(0, f"{self.name}: empty file (no records)")
        found = self.con.execute(
            "SELECT detail FROM quarantine WHERE ingest_id = ? AND file = ? "
            "ORDER BY line NULLS FIRST, field LIMIT ?",
            [self.ingest_id, self.name, MAX_MESSAGES],
        ).fetchall()
        messages.extend(str(r[0]) for r in found)
        rep.messages = messages[:MAX_MESSAGES]
        self.con.execute(
            "INSERT INTO ingest_files (ingest_id, file, sha256, format, rows_read, rows_loaded, "
            "rows_duplicate, rows_quarantined, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.ingest_id,
                self.name,
                rep.sha256,
                rep.format,
                rep.rows_read,
                rep.rows_loaded,
                rep.duplicates,
                rep.rows_quarantined,
                self.now,
            ],
        )

    def _drop_temps(self) -> None:
        for name in ("__cx_lines", "__cx_batch", "__cx_issues"):
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(name)
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary "
            "AND starts_with(table_name, '__cx_')"
        ).fetchall()
        for (name,) in rows:
            self.con.execute(f"DROP TABLE IF EXISTS temp.{_q(name)}")

    # -- helpers ------------------------------------------------------------------

    def _rules(self, table: str) -> _Rules:
        if table not in self.rules:
            self.rules[table] = _Rules(schema.TABLES[table], self.latest)
        return self.rules[table]

    def _count(self, sql: str, params: list[Any] | None = None) -> int:
        row = self.con.execute(sql, params or []).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _prefix(self) -> str:
        """SQL prefix of a sentence: ``'<file>:' || line || ': '``."""
        return f"{_lit(self.name + ':')} || coalesce(CAST(_line AS VARCHAR), '?') || ': '"

    def _quarantine(self, select: str) -> int:
        """Insert the rows ``select`` gives (line, target_table, field, reason, detail, raw)."""
        row = self.con.execute(
            "INSERT INTO quarantine (ingest_id, file, line, target_table, field, reason, detail, "
            f"raw, quarantined_at) SELECT {_lit(self.ingest_id)}, {_lit(self.name)}, line, "
            f"target_table, field, reason, detail, left(raw, {RAW_KEEP_CHARS}), "
            f"TIMESTAMP {_lit(self.now.strftime('%Y-%m-%d %H:%M:%S.%f'))} FROM ({select})"
        ).fetchone()
        return int(row[0]) if row else 0

    def _flush_issues(self) -> None:
        """Write the reader issues gathered so far to the quarantine table."""
        if not self.issues:
            return
        issues, self.issues = self.issues, []
        details = []
        for i in issues:
            where = f"{self.name}:{i.line}" if i.line is not None else self.name
            what = f"{i.field}: " if i.field else ("(row): " if i.line is not None else "")
            details.append(f"{where}: {what}{i.reason}: {i.detail}")
        data = pa.table(
            {
                "line": pa.array([i.line for i in issues], pa.int64()),
                "target_table": pa.array(
                    [i.table or self.expected_table for i in issues], pa.string()
                ),
                "field": pa.array([i.field for i in issues], pa.string()),
                "reason": pa.array([i.reason for i in issues], pa.string()),
                "detail": pa.array(details, pa.string()),
                "raw": pa.array([i.raw for i in issues], pa.string()),
            }
        )
        self.con.register("__cx_issues", data)
        try:
            self._quarantine("SELECT * FROM __cx_issues")
        finally:
            self.con.unregister("__cx_issues")
        self.quarantined_rows += len({i.line for i in issues if i.line is not None})

    # -- JSON lines ---------------------------------------------------------------

    def _json_source(self, table: schema.Table | None, default: str | None, where: str = "") -> str:
        """SELECT over ``__cx_lines`` parsing each line once into VARCHAR fields."""
        cols = table.column_names if table is not None else ()
        struct = ev.json_struct_type([*cols, *ev.TABLE_FIELDS])
        values = "".join(f", s.{_q(c)} AS {_v(c)}" for c in cols)
        fallback = _lit(default) if default is not None else "NULL"
        return (
            f"SELECT _rid, _line, s IS NOT NULL AS _json, "
            f"CASE WHEN s IS NOT NULL THEN coalesce(s.{_q('table')}, s.{_q('event_type')}, "
            f"{fallback}) END AS _table{values} "
            f"FROM (SELECT {LINE_COLUMN} AS _rid, {LINE_COLUMN} AS _line, "
            f"CASE WHEN starts_with({RAW_COLUMN}, '{{') OR starts_with(ltrim({RAW_COLUMN}), '{{') "
            f"THEN try(from_json({RAW_COLUMN}, {_lit(struct)})) END AS s "
            f"FROM __cx_lines {where})"
        )

    def _json_rechecker(self, table: schema.Table, default: str | None) -> Callable[[str], str]:
        """``check_source`` for :meth:`_settle`: the JSON source restricted to some lines."""

        def source(ids: str) -> str:
            return self._json_source(table, default, f"WHERE {LINE_COLUMN} IN ({ids})")

        return source

    _LINES_RAW = (
        f"SELECT {LINE_COLUMN} AS _rid, rtrim({RAW_COLUMN}, chr(13) || chr(10)) AS raw "
        "FROM __cx_lines"
    )

    def _json_lines(self, piece: ev.JsonLines) -> None:
        default = piece.default_table
        guess = self.expected_table or default
        if self.expected_table is None and piece.data.num_rows:
            guess = _first_table_of(piece) or default
        spec = schema.TABLES[guess] if guess in ev.loadable_tables() else None
        self.con.register("__cx_lines", piece.data)
        try:
            tried = self.direct
            if spec is not None and self._try_direct(spec, piece):
                return
            missed = tried and not self.direct
            before = self._problems()
            self._stage_json_lines(piece, spec)
            if missed:
                self._misses += 1
                self._clean_staged = 0
            elif DIRECT_INSERT and not self.direct:
                if self._problems() != before:
                    self._clean_staged = 0
                else:
                    self._clean_staged += 1
                    if self._clean_staged >= 2 ** (self._misses - 1):
                        self.direct = True  # clean again: the next chunk may go in directly
        finally:
            self.con.unregister("__cx_lines")
            piece.release()

    def _problems(self) -> tuple[int, int, int]:
        """Rows quarantined, found duplicate and deferred so far in this file."""
        return self.quarantined_rows, self.duplicate_rows, sum(self.deferred.values())

    def _stage_json_lines(self, piece: ev.JsonLines, spec: schema.Table | None) -> None:
        """The staged path of a chunk of JSON lines in ``__cx_lines`` (see :meth:`_settle`)."""
        default = piece.default_table
        if spec is not None:
            rules = self._rules(spec.name)
            if FAST_JSON_STAGE:
                fallback = _lit(default) if default is not None else "NULL"
                stage = rules.fast_json_stage("__cx_lines", fallback)
            else:
                stage = rules.stage_select(self._json_source(spec, default), _lit(spec.name))
        else:
            stage = (
                "SELECT _rid, _line, _json, _table, FALSE AS _fok FROM "
                f"({self._json_source(None, default)})"
            )
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE __cx_stage AS {stage}")
        groups = self.con.execute(
            "SELECT _json, _table, count(*) FROM __cx_stage GROUP BY ALL ORDER BY 3 DESC"
        ).fetchall()
        loadable = set(ev.loadable_tables())
        present: list[str] = []
        invalid = 0
        unknown = 0
        for is_json, name, n in groups:
            if not is_json:
                invalid += int(n)
            elif name in loadable:
                present.append(str(name))
            else:
                unknown += int(n)
        if invalid:
            self._quarantine_json_invalid(default)
        if unknown:
            self._quarantine_unknown_table("__cx_stage", default, self._LINES_RAW)
        if present and self.expected_table is None:
            self._note_unknown_fields(default)
        if present:
            self.expected_table = present[0]
        for name in schema.load_order(present):
            table = schema.TABLES[name]
            stage = "__cx_stage"
            if spec is None or name != spec.name:  # a table the first stage did not type
                stage = "__cx_stage2"
                lines = (
                    f"WHERE {LINE_COLUMN} IN (SELECT _rid FROM __cx_stage "
                    f"WHERE _json AND _table = {_lit(name)})"
                )
                if FAST_JSON_STAGE:
                    fallback = _lit(default) if default is not None else "NULL"
                    select = self._rules(name).fast_json_stage(
                        f"(SELECT * FROM __cx_lines {lines})", fallback
                    )
                else:
                    sub = self._json_source(table, default, lines)
                    select = self._rules(name).stage_select(sub, _lit(name))
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} AS {select}")
            self._settle(
                name,
                stage=stage,
                where=f"_table = {_lit(name)}",
                check_source=self._json_rechecker(table, default),
                raw_sql=self._LINES_RAW,
                upsert=False,
            )

    def _try_direct(self, spec: schema.Table, piece: ev.JsonLines) -> bool:
        """Insert the chunk in ``__cx_lines`` at once if every row is valid; False: nothing done.

        The chunk's rows go straight from :meth:`_Rules.fast_rows` into the table (rows
        that are not *fast* are left out), with no stage in between. The inserted rows
        are then read back by rowid, key and parent columns only: the chunk is kept
        when every line was inserted, no key repeats within it or is already in the
        warehouse, and every parent exists, which is exactly when the staged path
        would insert every row and quarantine, defer or count as duplicate none.
        Otherwise the rows are deleted again and the staged path takes the chunk, and
        the next ones until one of them turns out clean (a file with one bad row often
        has more).
        """
        if not (self.direct and FAST_JSON_STAGE and len(spec.primary_key) == 1):
            return False
        if spec.column(spec.primary_key[0]).dtype not in ("VARCHAR", "INTEGER", "BIGINT"):
            return False
        n = piece.data.num_rows
        if n == 0:
            return False
        table = _q(spec.name)
        key = _q(spec.primary_key[0])
        self._key_ranges(spec)  # the warehouse's range, before this chunk's rows
        top = self._count(f"SELECT max(rowid) FROM {table} WHERE rowid >= {LOCAL_ROWID_START}")
        base = max(top + 1, LOCAL_ROWID_START)
        new = f"(SELECT * FROM {table} WHERE rowid >= {base})"
        default = piece.default_table
        fallback = _lit(default) if default is not None else "NULL"
        cols = ", ".join(_q(c) for c in spec.column_names)
        fast = ", ".join(_q("f:" + c) for c in spec.column_names)
        inserted = self._count(
            f"INSERT INTO {table} ({cols}) SELECT {fast} FROM "
            f"({self._rules(spec.name).fast_rows('__cx_lines', fallback)}) WHERE _fast"
        )
        keep = False
        if inserted == n:
            # one pass over the new rows: keys, and references whose parent is nowhere
            orphans = []
            for c in spec.columns:
                if c.references:
                    parent, pkey = str(c.references).split(".")
                    orphans.append(
                        f"count(*) FILTER (WHERE {_q(c.name)} IS NOT NULL AND {_q(c.name)} "
                        f"NOT IN (SELECT {_q(pkey)} FROM {_q(parent)}))"
                    )
            row = self.con.execute(
                f"SELECT count(*), count({key}), count(DISTINCT {key}), min({key}), max({key}), "
                f"{' + '.join(orphans) if orphans else '0'} FROM {new}"
            ).fetchone()
            assert row is not None
            rows, keys, distinct, low, high, orphaned = row
            if rows != inserted:
                raise _RowidMismatch(
                    f"rows appended to {spec.name} are not numbered from rowid {base} "
                    f"({rows:,} counted, {inserted:,} inserted): this DuckDB numbers "
                    "transaction-local rows differently; nothing of the file was kept"
                )
            keep = keys == distinct == n and orphaned == 0
            if keep and self._may_be_loaded(spec, low, high):
                keep = not self._count(
                    f"SELECT count(*) FROM {new} a SEMI JOIN "
                    f"(SELECT {key} FROM {table} WHERE rowid < {base}) b ON a.{key} = b.{key}"
                )
            if keep:
                self.key_ranges[spec.name].append((low, high))
        if not keep:
            self.con.execute(f"DELETE FROM {table} WHERE rowid >= {base}")
            self.direct = False
            return False
        if self.expected_table is None:
            self._note_unknown_fields(default)
            self.expected_table = spec.name
        self.report.loaded[spec.name] = self.report.loaded.get(spec.name, 0) + n
        return True

    def _note_unknown_fields(self, default: str | None) -> None:
        """Note the fields of the first records that are no column of their table (ignored)."""
        sample = UNKNOWN_FIELD_SAMPLE
        found = self.con.execute(
            "SELECT DISTINCT t, k FROM (SELECT coalesce(json_extract_string(r, '$.table'), "
            f"json_extract_string(r, '$.event_type'), {_lit(default)}) AS t, "
            "unnest(json_keys(r)) AS k FROM (SELECT "
            f"{RAW_COLUMN} AS r FROM __cx_lines LIMIT {sample}) WHERE json_valid(r) "
            "AND json_type(r) = 'OBJECT')"
        ).fetchall()
        ignored = sorted(
            {
                str(k)
                for t, k in found
                if t in schema.TABLES
                and k not in schema.TABLES[t].column_names
                and k not in ev.TABLE_FIELDS
            }
        )
        if ignored:
            self.notes.append(
                f"{self.name}: ignored fields that are no column of their table: "
                f"{', '.join(ignored[:20])} (seen in the first {sample:,} records)"
            )

    def _quarantine_json_invalid(self, default: str | None) -> None:
        prefix = self._prefix()
        n = self._quarantine(
            f"SELECT s._line AS line, {_lit(default)} AS target_table, NULL AS field, "
            f"'invalid_json' AS reason, {prefix} || '(row): invalid_json: the line is not a "
            "JSON object' || CASE WHEN r.raw = '' THEN '' ELSE ' (starts ' || "
            f"{_shown('left(r.raw, 40)')} || ')' END AS detail, r.raw AS raw "
            f"FROM __cx_stage s JOIN ({self._LINES_RAW}) r USING (_rid) WHERE NOT s._json"
        )
        self.quarantined_rows += n

    def _quarantine_unknown_table(self, stage: str, default: str | None, raw_sql: str) -> None:
        """Quarantine the staged rows whose table is missing or not a table of ours."""
        names = ev.loadable_tables()
        no_table = "the record has no table / event_type field and the file name names no table"
        self.quarantined_rows += self._quarantine(
            "SELECT s._line AS line, NULL AS target_table, 'table' AS field, "
            f"'unknown_table' AS reason, {self._prefix()} || 'table: unknown_table: ' || "
            f"CASE WHEN s._table IS NULL THEN {_lit(no_table)} ELSE 'table ' || "
            f"{_shown('s._table')} || {_lit(' is not one of: ' + ', '.join(names))} END "
            f"AS detail, r.raw AS raw FROM (SELECT * FROM {stage} WHERE _json AND "
            f"(_table IS NULL OR _table NOT IN ({', '.join(_lit(t) for t in names)}))) s "
            f"LEFT JOIN ({raw_sql}) r USING (_rid)"
        )

    # -- Arrow batches ------------------------------------------------------------

    def _batch(self, batch: ParsedBatch) -> None:
        data = batch.data
        n = data.num_rows
        if n == 0:
            return
        rid = pa.array(np.arange(self.next_rid, self.next_rid + n, dtype=np.int64))
        self.next_rid += n
        if LINE_COLUMN not in data.column_names:
            data = data.append_column(LINE_COLUMN, rid)
        data = data.append_column("__rid", rid)
        table = batch.table
        if self.expected_table is None and table:
            self.expected_table = table
        self.con.register("__cx_batch", data)
        try:
            names = set(data.column_names)
            if RAW_COLUMN in names:
                raw_sql = (
                    f"SELECT __rid AS _rid, CAST({RAW_COLUMN} AS VARCHAR) AS raw FROM __cx_batch"
                )
            else:
                raw_sql = (
                    "SELECT __rid AS _rid, CAST(to_json(b) AS VARCHAR) AS raw FROM __cx_batch b"
                )
            if table not in ev.loadable_tables():
                self.con.execute(
                    "CREATE OR REPLACE TEMP TABLE __cx_stage AS SELECT __rid AS _rid, "
                    f"{_q(LINE_COLUMN)} AS _line, TRUE AS _json, "
                    f"{_lit(table) if table else 'CAST(NULL AS VARCHAR)'} AS _table FROM __cx_batch"
                )
                self._quarantine_unknown_table("__cx_stage", None, raw_sql)
                return
            spec = schema.TABLES[table]

            def source(where: str = "") -> str:
                values = ", ".join(
                    (
                        f"CAST({_q(c)} AS VARCHAR) AS {_v(c)}"
                        if c in names
                        else f"CAST(NULL AS VARCHAR) AS {_v(c)}"
                    )
                    for c in spec.column_names
                )
                return (
                    f"SELECT __rid AS _rid, CAST({_q(LINE_COLUMN)} AS BIGINT) AS _line, "
                    f"TRUE AS _json, {_lit(table)} AS _table, {values} FROM __cx_batch {where}"
                )

            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE __cx_stage AS "
                + self._rules(table).stage_select(source(), _lit(table))
            )
            self._settle(
                table,
                stage="__cx_stage",
                where="TRUE",
                check_source=lambda ids: source(f"WHERE __rid IN ({ids})"),
                raw_sql=raw_sql,
                upsert=batch.upsert_parents,
            )
        finally:
            self.con.unregister("__cx_batch")

    # -- validation of one staged table -------------------------------------------

    def _settle(
        self,
        table: str,
        *,
        stage: str,
        where: str,
        check_source: Callable[[str], str] | None,
        raw_sql: str,
        upsert: bool,
        final: bool = False,
    ) -> None:
        """Quarantine, defer, count as duplicate or insert every staged row of ``table``.

        ``stage`` holds typed rows and ``_fok`` (every field rule passed); ``where``
        selects the rows of ``table`` in it. ``check_source(ids_sql)`` re-reads the
        source restricted to the rows ``ids_sql`` selects, to explain the failures of
        bad rows field by field; ``raw_sql`` gives ``(_rid, raw)``. Rows whose parent
        is missing wait for the end of the file (:meth:`_defer`) unless ``final``.
        """
        spec = schema.TABLES[table]
        rows = f"(SELECT * FROM {stage} WHERE {where})"
        n_orph = self._find_orphans(spec, rows)
        n_dup = self._find_duplicates(spec, rows, n_orph)
        self.duplicate_rows += n_dup
        n_bad = 0 if final else self._count(f"SELECT count(*) FROM {rows} WHERE NOT _fok")
        if n_bad:
            assert check_source is not None
            self._quarantine_field_errors(spec, rows, check_source, raw_sql)
            self.quarantined_rows += n_bad
        if n_orph:
            # with the row's other failures now; alone: at the end of the file
            self._quarantine_orphans(spec, rows, raw_sql, "TRUE" if final else "NOT s._fok")
            if final:
                self.quarantined_rows += self._count("SELECT count(DISTINCT _rid) FROM __cx_orph")
            else:
                waiting = (
                    f"SELECT * FROM {rows} WHERE _fok AND _rid IN (SELECT _rid FROM __cx_orph)"
                )
                self._defer(table, waiting, raw_sql)
        if n_dup and not upsert:  # derived parents (upsert) are skipped silently
            self._quarantine_duplicates(spec, rows, raw_sql)
        skip = "".join(
            f" AND _rid NOT IN (SELECT _rid FROM {t})"
            for t, n in (("__cx_orph", n_orph), ("__cx_dup", n_dup))
            if n
        )
        cols = ", ".join(_q(c) for c in spec.column_names)
        loaded = self._count(
            f"INSERT INTO {_q(table)} ({cols}) SELECT {cols} FROM {rows} WHERE _fok{skip}"
        )
        if loaded:
            self.report.loaded[table] = self.report.loaded.get(table, 0) + loaded

    def _find_orphans(self, spec: schema.Table, rows: str) -> int:
        """Fill ``__cx_orph (_rid, field)``: a row per reference whose parent is nowhere.

        The parent tables already hold the valid rows of this ingest (parents load
        first), so "nowhere" means neither in the warehouse nor in this ingest.
        """
        refs = [c for c in spec.columns if c.references]
        parts = []
        for c in refs:
            parent, key = str(c.references).split(".")
            parts.append(
                f"SELECT s._rid, {_lit(c.name)} AS field FROM {rows} s ANTI JOIN {_q(parent)} p "
                f"ON s.{_q(c.name)} = p.{_q(key)} WHERE s.{_q(c.name)} IS NOT NULL"
            )
        empty = "SELECT CAST(NULL AS BIGINT) AS _rid, CAST(NULL AS VARCHAR) AS field LIMIT 0"
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE __cx_orph AS " + (" UNION ALL ".join(parts) or empty)
        )
        return self._count("SELECT count(*) FROM __cx_orph") if refs else 0

    def _find_duplicates(self, spec: schema.Table, rows: str, n_orph: int) -> int:
        """Fill ``__cx_dup (_rid, first_line, in_warehouse)`` for otherwise valid rows.

        A row is a duplicate when its key is in the warehouse (earlier chunks of this
        file included) or on an earlier valid row of this chunk. One aggregate first
        counts the distinct keys and takes their range: the self-join runs only when
        some key repeats, and the join with the warehouse only when the range overlaps
        the range of keys the warehouse may hold (:meth:`_may_be_loaded`), so that
        keys that grow with time (sequential ids) are not looked up in an ever larger
        table chunk after chunk.
        """
        not_orphan = " AND _rid NOT IN (SELECT _rid FROM __cx_orph)" if n_orph else ""
        cand = f"(SELECT * FROM {rows} WHERE _fok{not_orphan})"
        kcols = ", ".join(_q(k) for k in spec.primary_key)
        on = " AND ".join(f"a.{_q(k)} = b.{_q(k)}" for k in spec.primary_key)
        ranged = len(spec.primary_key) == 1 and spec.column(spec.primary_key[0]).dtype in (
            "VARCHAR",
            "INTEGER",
            "BIGINT",
        )
        repeats = in_warehouse = True
        if ranged:
            key = _q(spec.primary_key[0])
            row = self.con.execute(
                f"SELECT count({key}), count(DISTINCT {key}), min({key}), max({key}) FROM {cand}"
            ).fetchone()
            assert row is not None
            n, distinct, low, high = row
            repeats = n != distinct
            in_warehouse = n > 0 and self._may_be_loaded(spec, low, high)
            if n:
                self.key_ranges[spec.name].append((low, high))
        parts = []
        if repeats:
            parts.append(
                f"SELECT a._rid, b.first_line, FALSE AS in_warehouse FROM {cand} a JOIN "
                f"(SELECT {kcols}, min(_rid) AS first_rid, arg_min(_line, _rid) AS first_line "
                f"FROM {cand} GROUP BY ALL HAVING count(*) > 1) b ON {on} "
                "WHERE a._rid > b.first_rid"
            )
        if in_warehouse:
            parts.append(
                f"SELECT a._rid, CAST(NULL AS BIGINT) AS first_line, TRUE AS in_warehouse "
                f"FROM {cand} a SEMI JOIN {_q(spec.name)} b ON {on}"
            )
        if not parts:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE __cx_dup AS SELECT CAST(NULL AS BIGINT) AS _rid, "
                "CAST(NULL AS BIGINT) AS first_line, FALSE AS in_warehouse LIMIT 0"
            )
            return 0
        self.con.execute("CREATE OR REPLACE TEMP TABLE __cx_dup AS " + " UNION ALL ".join(parts))
        return self._count("SELECT count(DISTINCT _rid) FROM __cx_dup")

    def _may_be_loaded(self, spec: schema.Table, low: Any, high: Any) -> bool:
        """Whether a key in ``[low, high]`` may be in the warehouse (False: surely not).

        The ranges are the warehouse's at the first look in this file, then those of
        every chunk of this file looked at since (each a superset of what it loaded).
        VARCHAR keys compare as DuckDB compares them: UTF-8 bytes, i.e. code points.
        """
        return any(not (high < lo or low > hi) for lo, hi in self._key_ranges(spec))

    def _key_ranges(self, spec: schema.Table) -> list[tuple[Any, Any]]:
        """The key ranges of :meth:`_may_be_loaded`, the warehouse's read at the first call."""
        if spec.name not in self.key_ranges:
            key = _q(spec.primary_key[0])
            row = self.con.execute(f"SELECT min({key}), max({key}) FROM {_q(spec.name)}").fetchone()
            loaded = row is not None and row[0] is not None
            self.key_ranges[spec.name] = [(row[0], row[1])] if loaded and row else []
        return self.key_ranges[spec.name]

    @staticmethod
    def _raw_of(raw_sql: str, ids: str) -> str:
        """``(_rid, raw)`` of the rows whose ids ``ids`` selects."""
        return f"(SELECT * FROM ({raw_sql}) WHERE _rid IN ({ids}))"

    def _quarantine_field_errors(
        self,
        spec: schema.Table,
        rows: str,
        check_source: Callable[[str], str],
        raw_sql: str,
    ) -> None:
        """One quarantine row per failing field of every row whose ``_fok`` is false."""
        con = self.con
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __cx_badids AS SELECT _rid FROM {rows} WHERE NOT _fok"
        )
        rules = self._rules(spec.name)
        checked = rules.check_select(check_source("SELECT _rid FROM __cx_badids"))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __cx_bad AS SELECT c.*, r.raw FROM ({checked}) c "
            f"LEFT JOIN {self._raw_of(raw_sql, 'SELECT _rid FROM __cx_badids')} r USING (_rid)"
        )
        parts = []
        for col in spec.columns:
            e = _q("e:" + col.name)
            reasons = ["missing_field", "bad_type"] + [r for r, _ in rules.checks(col, "x")]
            explain = " ".join(
                f"WHEN {_lit(r)} THEN {rules.explain(col, r, _v(col.name))}"
                for r in dict.fromkeys(reasons)
            )
            parts.append(
                f"SELECT _line AS line, {_lit(spec.name)} AS target_table, "
                f"{_lit(col.name)} AS field, {e} AS reason, {self._prefix()} || "
                f"{_lit(col.name + ': ')} || {e} || ': ' || (CASE {e} {explain} END) AS detail, "
                f"raw FROM __cx_bad WHERE {e} IS NOT NULL"
            )
        self._quarantine(" UNION ALL ".join(parts))

    def _quarantine_orphans(self, spec: schema.Table, rows: str, raw_sql: str, which: str) -> None:
        """One quarantine row per missing parent of the rows ``which`` selects (alias ``s``)."""
        refs = [c for c in spec.columns if c.references]
        values = " UNION ALL ".join(
            f"SELECT _rid, _line, _fok, {_lit(c.name)} AS field, "
            f"CAST({_q(c.name)} AS VARCHAR) AS value, {_lit(str(c.references))} AS parent "
            f"FROM {rows}"
            for c in refs
        )
        nowhere = " (neither in the warehouse nor among the valid rows of this ingest)"
        self._quarantine(
            f"SELECT s._line AS line, {_lit(spec.name)} AS target_table, o.field, "
            f"'orphan' AS reason, {self._prefix()} || o.field || ': orphan: ' || o.field || ' ' "
            f"|| {_shown('s.value')} || ' is not in ' || s.parent || {_lit(nowhere)} AS detail, "
            f"r.raw AS raw FROM __cx_orph o JOIN ({values}) s "
            "ON s._rid = o._rid AND s.field = o.field "
            f"LEFT JOIN {self._raw_of(raw_sql, 'SELECT _rid FROM __cx_orph')} r "
            f"ON r._rid = o._rid WHERE {which}"
        )

    def _quarantine_duplicates(self, spec: schema.Table, rows: str, raw_sql: str) -> None:
        """One ``duplicate_id`` row per duplicate, naming the key and where it was first seen."""
        keys = spec.primary_key
        if len(keys) == 1:
            key_value = f"CAST(s.{_q(keys[0])} AS VARCHAR)"
        else:
            key_value = (
                "concat_ws(', ', " + ", ".join(f"CAST(s.{_q(k)} AS VARCHAR)" for k in keys) + ")"
            )
        name = ", ".join(keys)
        earlier = " is already in the warehouse (loaded earlier from this or another file)"
        self._quarantine(
            f"SELECT s._line AS line, {_lit(spec.name)} AS target_table, {_lit(name)} AS field, "
            f"{_lit(DUPLICATE)} AS reason, {self._prefix()} || "
            f"{_lit(f'{name}: {DUPLICATE}: {name} ')} || {_shown(key_value)} || "
            f"CASE WHEN d.in_warehouse THEN {_lit(earlier)} ELSE ' was first seen at line ' || "
            "d.first_line || ' of this file' END AS detail, r.raw AS raw "
            "FROM (SELECT _rid, bool_or(in_warehouse) AS in_warehouse, "
            "min(first_line) AS first_line FROM __cx_dup GROUP BY _rid) d "
            f"JOIN {rows} s USING (_rid) "
            f"LEFT JOIN {self._raw_of(raw_sql, 'SELECT _rid FROM __cx_dup')} r USING (_rid)"
        )

    def _defer(self, table: str, select: str, raw_sql: str) -> None:
        """Keep valid rows whose parent is missing until the end of the file."""
        name = _q(f"__cx_deferred_{table}")
        if table not in self.deferred:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT s.*, CAST(NULL AS VARCHAR) AS raw "
                f"FROM ({select}) s LIMIT 0"
            )
            self.deferred[table] = 0
        row = self.con.execute(
            f"INSERT INTO {name} SELECT s.*, r.raw FROM ({select}) s LEFT JOIN "
            f"(SELECT * FROM ({raw_sql}) WHERE _rid IN (SELECT _rid FROM __cx_orph)) r USING (_rid)"
        ).fetchone()
        self.deferred[table] += int(row[0]) if row else 0

    def _settle_deferred(self, table: str) -> None:
        name = _q(f"__cx_deferred_{table}")
        self._settle(
            table,
            stage=name,
            where="TRUE",
            check_source=None,
            raw_sql=f"SELECT _rid, raw FROM {name}",
            upsert=False,
            final=True,
        )
        self.deferred[table] = 0


def _first_table_of(piece: ev.JsonLines) -> str | None:
    """The table named by the first record of a chunk (a hint for the stage; not trusted)."""
    import orjson

    raw = piece.data.column(RAW_COLUMN)[0].as_py()
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict):
        for name in ev.TABLE_FIELDS:
            if isinstance(value.get(name), str):
                return str(value[name])
    return None


def iter_reasons() -> Iterator[tuple[str, str]]:
    """(reason code, meaning) of every quarantine reason, for documentation."""
    yield from REASONS.items()
