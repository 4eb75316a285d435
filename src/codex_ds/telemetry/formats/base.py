"""What every input format reader returns, so that ingestion can validate it one way.

A reader turns one file into :class:`ParsedFile`: batches of rows aimed at schema
tables, plus the problems it met while parsing (a line that is not JSON, bytes
that are not UTF-8, a payload of an unknown shape). Readers do no validation of
types, vocabularies, ranges, references or duplicates: ingestion does that for
every format from :mod:`codex_ds.telemetry.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

#: Name of the column that carries the 1-based source line (JSONL, CSV) or row (Parquet,
#: JSON payloads: the index of the record) of each row. Nullable.
LINE_COLUMN = "_line"
#: Optional column with the raw source text of the row (kept for quarantine).
RAW_COLUMN = "_raw"
#: Longest raw text kept in the quarantine table.
RAW_KEEP_CHARS = 2000


@dataclass(frozen=True)
class ParseIssue:
    """A problem found while reading a file, before schema validation."""

    reason: str  # machine-readable code, e.g. "invalid_json", "not_utf8", "unknown_shape"
    detail: str  # one human sentence naming what is wrong
    line: int | None = None
    field: str | None = None
    table: str | None = None
    raw: str | None = None


@dataclass
class ParsedBatch:
    """Rows for one table.

    ``data`` has columns named as the schema's (a subset is fine: absent columns are
    treated as missing), of any Arrow type (strings are cast during validation), plus
    :data:`LINE_COLUMN` and optionally :data:`RAW_COLUMN`.
    """

    table: str
    data: pa.Table
    #: When True, rows whose key is already in the warehouse are skipped silently
    #: (not counted as duplicates): for parent rows a format derives itself, such as
    #: the users and sessions implied by Continue's autocomplete log.
    upsert_parents: bool = False


@dataclass
class ParsedFile:
    format: str
    batches: list[ParsedBatch] = field(default_factory=list)
    issues: list[ParseIssue] = field(default_factory=list)
    rows_read: int = 0


class FormatError(ValueError):
    """The file as a whole cannot be read in the format it claims (the message names it)."""
