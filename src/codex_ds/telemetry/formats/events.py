"""Our own event format: the schema's tables as JSON Lines, CSV or Parquet (gzip too).

One record per line (JSONL, CSV) or row (Parquet). The target table comes from the
record's ``table`` field (``event_type`` is accepted too), else from the file name:
``suggestions.jsonl.gz`` and ``sessions-2026-01-05.csv`` hold ``suggestions`` and
``sessions`` rows. Fields that are not columns of the target table are ignored.

>>> table_from_name(Path("sessions-2026-01-05.csv"))
'sessions'
>>> table_from_name(Path("survey_responses.jsonl.gz"))
'survey_responses'
>>> table_from_name(Path("payload.json")) is None
True

The reader does no validation: it splits the bytes into records and reports what
cannot be a record at all (``invalid_json``, ``not_utf8``, ``line_too_long``,
``bad_field_count``, a truncated gzip stream). Ingestion validates the rest from
:mod:`codex_ds.telemetry.schema`.

JSON Lines are the bulk format, so they are not parsed here record by record: the
reader cuts the bytes into lines chunk-wise (numpy finds the newlines, Arrow wraps
the bytes without copying them) and hands :class:`JsonLines` chunks of ``(_line,
_raw)`` to ingestion, which parses them inside DuckDB (:func:`json_struct_type`).
:func:`read` does the same with an in-memory DuckDB for callers that want a
:class:`~codex_ds.telemetry.formats.base.ParsedFile`.
"""

from __future__ import annotations

import csv
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from codex_ds.telemetry import schema
from codex_ds.telemetry.formats.base import (
    LINE_COLUMN,
    RAW_COLUMN,
    RAW_KEEP_CHARS,
    FormatError,
    ParsedBatch,
    ParsedFile,
    ParseIssue,
)

#: Record fields that name the target table, in order of precedence.
TABLE_FIELDS: tuple[str, ...] = ("table", "event_type")
#: Longest line (bytes) that is parsed; longer ones are quarantined as ``line_too_long``.
MAX_LINE_BYTES = 10 * 1024 * 1024
#: Bytes of decompressed input cut into lines at once (a chunk of the bulk path).
CHUNK_BYTES = 128 * 1024 * 1024
#: Size of the first chunk of a file; the next ones grow fourfold up to :data:`CHUNK_BYTES`.
FIRST_CHUNK_BYTES = 32 * 1024 * 1024
#: Rows per Arrow record batch handed to DuckDB (it scans batches in parallel).
BATCH_ROWS = 65_536
#: Rows per batch for CSV and Parquet input.
ROW_BATCH = 200_000
#: Bytes read from disk at a time.
READ_BLOCK = 8 * 1024 * 1024
#: Bytes sniffed from the start of a file to detect its format.
HEAD_BYTES = 64 * 1024
#: Largest JSON document (not JSON Lines) parsed as a whole.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"

Encoding = Literal["jsonl", "json", "csv", "parquet", "empty"]

_NAME_SPLIT = re.compile(r"[^a-z0-9_]")


def loadable_tables() -> tuple[str, ...]:
    """Tables a file of ours may load (every schema table except the system ones)."""
    return tuple(t.name for t in schema.TABLES.values() if t.group != "system")


def table_from_name(path: Path) -> str | None:
    """The table a file name points to: its stem, or the longest table name it starts with.

    The stem is the name without any suffix (``.jsonl.gz`` included); a table name
    must be followed by the end of the stem or a character that cannot be part of a
    name (``sessions-2026-01-05``, ``users.part1``).
    """
    stem = path.name.lower().split(".", 1)[0]
    best: str | None = None
    for name in loadable_tables():
        if stem == name:
            return name
        if stem.startswith(name) and _NAME_SPLIT.match(stem[len(name)]) is not None:
            if best is None or len(name) > len(best):
                best = name
        elif stem.startswith(name + "_") and best is None:
            # e.g. "suggestions_2026_01" (a suffix made of "_" + digits)
            rest = stem[len(name) + 1 :]
            if rest[:1].isdigit():
                best = name
    return best


def json_struct_type(columns: Iterable[str]) -> str:
    """DuckDB ``from_json`` structure that reads each field as VARCHAR (parse once, cast later).

    >>> json_struct_type(["user_id", "table"])
    '{"user_id":"VARCHAR","table":"VARCHAR"}'
    """
    names = list(dict.fromkeys(columns))
    return "{" + ",".join(f'"{n}":"VARCHAR"' for n in names) + "}"


def detect_encoding(head: bytes) -> Encoding:
    """Encoding of (decompressed) content from its first bytes: magic bytes, else first character.

    >>> detect_encoding(b"PAR1....")
    'parquet'
    >>> detect_encoding(b'  {"table": "users"}')
    'jsonl'
    >>> detect_encoding(b"[{}]")
    'json'
    >>> detect_encoding(b"user_id,segment\\n")
    'csv'
    """
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    text = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    stripped = text.lstrip()
    if not stripped:
        return "empty"
    if stripped[:1] == b"[":
        return "json"
    if stripped[:1] == b"{":
        return "jsonl"
    return "csv"


# ----------------------------------------------------------------------------- bytes


class ByteSource:
    """The decompressed bytes of a file, block by block.

    gzip is detected from the magic bytes (not the name) and decoded with :mod:`zlib`
    so that everything before a cut is kept: a truncated or corrupt stream ends the
    iteration and leaves a file-level :class:`ParseIssue` in :attr:`issue`.
    Concatenated gzip members are read one after the other.
    """

    def __init__(self, path: Path, *, block_size: int = READ_BLOCK) -> None:
        self.path = path
        self.block_size = block_size
        self.size = path.stat().st_size
        with path.open("rb") as f:
            self.gzip = f.read(2) == GZIP_MAGIC
        #: Bytes of the file (compressed) consumed so far.
        self.position = 0
        #: Bytes produced so far (decompressed).
        self.produced = 0
        self.issue: ParseIssue | None = None
        self._file: Any = None
        self._blocks: Iterator[bytes] | None = None
        self._pending = memoryview(b"")

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` with the next bytes (fewer only at the end); 0 at the end.

        For a plain file this reads straight into ``view`` (no intermediate bytes
        objects); for gzip it copies decompressed blocks.
        """
        if self._blocks is None:
            if not self.gzip:
                self._file = self.path.open("rb", buffering=0)
                self._blocks = iter(())
            else:
                self._blocks = iter(self)
        filled = 0
        size = len(view)
        while filled < size:
            if self._file is not None:
                got = self._file.readinto(view[filled:])
                if not got:
                    self._file.close()
                    self._file = None
                    break
                self.position += got
                self.produced += got
                filled += got
                continue
            if not self._pending:
                assert self._blocks is not None
                block = next(self._blocks, None)
                if block is None:
                    break
                self._pending = memoryview(block)
            take = min(size - filled, len(self._pending))
            view[filled : filled + take] = self._pending[:take]
            self._pending = self._pending[take:]
            filled += take
        return filled

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            if not self.gzip:
                while block := f.read(self.block_size):
                    self.position += len(block)
                    self.produced += len(block)
                    yield block
                return
            yield from self._gunzip(f)

    def _gunzip(self, f: BinaryIO) -> Iterator[bytes]:
        read = f.read
        inflater = zlib.decompressobj(wbits=31)
        started = False
        limit = 4 * self.block_size
        while True:
            block = read(self.block_size)
            if not block:
                break
            self.position += len(block)
            data = block
            while data:
                if inflater.eof:
                    # a further member (``cat a.gz b.gz``) or trailing bytes
                    if not data.startswith(GZIP_MAGIC):
                        self.issue = ParseIssue(
                            "trailing_garbage",
                            f"{len(data)} bytes after the end of the gzip stream were ignored",
                        )
                        return
                    inflater = zlib.decompressobj(wbits=31)
                started = True
                try:
                    out = inflater.decompress(data, limit)
                except zlib.error as exc:
                    self.issue = ParseIssue(
                        "truncated_file",
                        f"corrupt gzip stream after {self.produced:,} decompressed bytes ({exc}); "
                        "the records before the damage were read",
                    )
                    return
                if out:
                    self.produced += len(out)
                    yield out
                data = inflater.unconsumed_tail
                if inflater.eof:
                    data = inflater.unused_data
                    if data:
                        continue
                    break
        if started and not inflater.eof:
            tail = inflater.flush()
            if tail:
                self.produced += len(tail)
                yield tail
            self.issue = ParseIssue(
                "truncated_file",
                f"the gzip stream ends before its end marker after {self.produced:,} "
                "decompressed bytes (file truncated?); the records before the cut were read",
            )


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of the file's content, decompressed when it is gzip."""
    with path.open("rb") as f:
        raw = f.read(size)
    if not raw.startswith(GZIP_MAGIC):
        return raw
    inflater = zlib.decompressobj(wbits=31)
    out = b""
    with path.open("rb") as f:
        while len(out) < size:
            block = f.read(256 * 1024)
            if not block:
                break
            try:
                out += inflater.decompress(block, size - len(out))
            except zlib.error:
                break
            if inflater.eof:
                break
    return out


# ----------------------------------------------------------------------------- lines


class BufferPool:
    """Reusable buffers for line chunks: a chunk's Arrow strings point into its buffer.

    :meth:`get` hands out a free buffer (or a new one); a consumer done with a chunk
    gives its buffer back with :meth:`LineChunk.release`. Reuse avoids the page
    faults of fresh allocations, which cost as much as the parsing on some VMs.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def get(self) -> np.ndarray:
        """A free buffer, or a new one (``np.empty``: pages are faulted in only when used)."""
        with self._lock:
            if self._free:
                return self._free.pop()
        return np.empty(self.size, dtype=np.uint8)

    def put(self, buffer: np.ndarray) -> None:
        with self._lock:
            self._free.append(buffer)


@dataclass
class LineChunk:
    """A chunk of non-blank lines: Arrow ``(_line int64, _raw string)`` plus reader issues."""

    data: pa.Table
    issues: list[ParseIssue] = field(default_factory=list)
    #: Lines of the chunk that are records (kept in ``data`` or reported in ``issues``).
    records: int = 0
    #: Physical lines the chunk covers, blank ones included.
    lines_seen: int = 0
    buffer: np.ndarray | None = None
    pool: BufferPool | None = None

    def release(self) -> None:
        """Give the buffer back for reuse; ``data`` must not be used afterwards."""
        if self.buffer is not None and self.pool is not None:
            self.data = _lines_table(pa.array([], pa.string()), np.array([], np.int64))
            self.pool.put(self.buffer)
        self.buffer = None


@dataclass
class JsonLines:
    """A chunk of JSON-lines records for ingestion to parse (in DuckDB).

    ``data`` has :data:`LINE_COLUMN` and :data:`RAW_COLUMN`; each raw line keeps its
    line terminator. ``default_table`` is the table named by the file, used for
    records without a ``table`` field. Call :meth:`release` when done with ``data``.
    """

    data: pa.Table
    default_table: str | None
    chunk: LineChunk | None = None

    def release(self) -> None:
        if self.chunk is not None:
            self.chunk.release()
            self.chunk = None


def _lines_table(lines: pa.Array, numbers: np.ndarray) -> pa.Table:
    """Arrow table of lines cut into record batches of :data:`BATCH_ROWS`."""
    line_arr = pa.array(numbers, type=pa.int64())
    batches = [
        pa.RecordBatch.from_arrays(
            [line_arr.slice(i, BATCH_ROWS), lines.slice(i, BATCH_ROWS)],
            names=[LINE_COLUMN, RAW_COLUMN],
        )
        for i in range(0, len(lines), BATCH_ROWS)
    ]
    if not batches:
        return pa.table(
            {LINE_COLUMN: pa.array([], pa.int64()), RAW_COLUMN: pa.array([], pa.string())}
        )
    return pa.Table.from_batches(batches)


def _raw_text(data: bytes | bytearray | memoryview | np.ndarray) -> str:
    return bytes(data[: RAW_KEEP_CHARS * 4]).decode("utf-8", "replace")[:RAW_KEEP_CHARS]


#: Bytes scanned for newlines at a time (a small reused mask instead of a chunk-sized one).
_SCAN_BLOCK = 8 * 1024 * 1024


def _newlines(view: np.ndarray) -> np.ndarray:
    """Positions of the ``\\n`` bytes of ``view`` (int64), found block by block.

    A chunk-sized boolean temporary would cost a page fault per 4 KiB on every chunk;
    one small mask, reused, stays in cache.
    """
    n = len(view)
    mask = np.empty(min(n, _SCAN_BLOCK), dtype=bool)
    found = []
    for start in range(0, n, _SCAN_BLOCK):
        part = view[start : start + _SCAN_BLOCK]
        m = mask[: len(part)]
        np.equal(part, 10, out=m)
        hits = np.flatnonzero(m)
        if hits.size:
            found.append(hits + start)
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)


def _cut(
    data: np.ndarray | bytes,
    begin: int,
    end: int,
    first_line: int,
    *,
    max_line_bytes: int,
    table: str | None,
) -> LineChunk:
    """Cut ``data[begin:end]`` into lines; ``data[end - 1]`` is a newline unless at end of input.

    The Arrow strings point into ``data`` (no copy) unless some lines are dropped.
    """
    view = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
    newlines = _newlines(view)
    span = end - begin
    if newlines.size and newlines[-1] == span - 1:
        stops = newlines
        ends = newlines + 1
    else:  # the last line has no terminator
        stops = np.append(newlines, span)
        ends = np.append(newlines + 1, span)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1]
    lengths = stops - starts  # without the "\n"
    numbers = np.arange(first_line, first_line + len(starts), dtype=np.int64)
    issues: list[ParseIssue] = []
    keep = lengths > 0
    short = np.flatnonzero(lengths == 1)
    if short.size:  # "\r\n" alone is blank too
        keep[short[view[starts[short]] == 13]] = False
    records = int(keep.sum())
    long_mask = keep & (lengths > max_line_bytes)
    if long_mask.any():
        for i in np.flatnonzero(long_mask):
            s = begin + int(starts[i])
            issues.append(
                ParseIssue(
                    "line_too_long",
                    f"the line has {int(lengths[i]):,} bytes, more than the "
                    f"{max_line_bytes:,}-byte limit, and was not parsed",
                    line=int(numbers[i]),
                    table=table,
                    raw=_raw_text(data[s : s + RAW_KEEP_CHARS * 4]),
                )
            )
        keep &= ~long_mask
    offsets = (np.append(starts, ends[-1]) + begin).astype(np.int32)
    lines = pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        for i in np.flatnonzero(keep):
            s, e = begin + int(starts[i]), begin + int(ends[i])
            line = bytes(data[s:e])
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                keep[i] = False
                issues.append(
                    ParseIssue(
                        "not_utf8",
                        f"byte {exc.start + 1} of the line is not UTF-8 "
                        f"({line[exc.start : exc.start + 4]!r}...)",
                        line=int(numbers[i]),
                        table=table,
                        raw=_raw_text(line),
                    )
                )
    if not keep.all():
        lines = pc.filter(lines, pa.array(keep))
        numbers = numbers[keep]
    return LineChunk(_lines_table(lines, numbers), issues, records, len(starts))


def _too_long(line: int, max_line_bytes: int, table: str | None, data: bytes) -> ParseIssue:
    return ParseIssue(
        "line_too_long",
        f"the line is longer than the {max_line_bytes:,}-byte limit and was not parsed",
        line=line,
        table=table,
        raw=_raw_text(data),
    )


def _empty_chunk(issues: list[ParseIssue], records: int) -> LineChunk:
    return LineChunk(
        _lines_table(pa.array([], pa.string()), np.array([], np.int64)), issues, records, 0
    )


def iter_line_chunks(
    source: ByteSource | Iterable[bytes],
    *,
    chunk_bytes: int = CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
    table: str | None = None,
    pool: BufferPool | None = None,
) -> Iterator[LineChunk]:
    """Cut a byte stream into chunks of lines, without per-line Python.

    Blank lines are skipped (their numbers still count). A line longer than
    ``max_line_bytes`` is reported as ``line_too_long`` and not kept; bytes that are
    not UTF-8 make their line a ``not_utf8`` issue while the rest of the chunk is
    kept. The last line may lack its terminator. Each chunk's strings live in a
    buffer of ``pool`` (about ``chunk_bytes``); release the chunk to reuse it.
    """
    fill = _filler(source)
    full = max(chunk_bytes, 2 * max_line_bytes + 2)
    if pool is None or pool.size != full:
        pool = BufferPool(full)
    # small first chunks, growing: the consumer starts at once instead of waiting
    # for a whole chunk to be read (and its fresh pages faulted in)
    size = min(full, max(FIRST_CHUNK_BYTES, 2 * max_line_bytes + 2))
    carry = b""  # an unfinished line, copied out of the previous buffer
    next_line = 1  # number of the line that starts at the beginning of the buffer
    skipping = False  # the current line was reported as over-long: drop up to its end
    first = True
    eof = False
    while not eof:
        buf = pool.get()
        view = buf.data[:size]
        n = len(carry)
        view[:n] = carry
        carry = b""
        while n < size:
            got = fill(view[n:])
            if not got:
                eof = True
                break
            n += got
        if first:
            first = False
            if bytes(view[:3]) == UTF8_BOM:
                view[: n - 3] = view[3:n]
                n -= 3
        begin = 0
        if skipping:
            nl = _find_newline(buf, 0, n)
            if nl < 0:
                pool.put(buf)
                continue
            begin, skipping = nl + 1, False
            next_line += 1
        if eof:
            end = n
        else:
            last = _rfind_newline(buf, begin, n)
            if last < 0:  # no line ends in this buffer
                rest = bytes(view[begin:n])
                pool.put(buf)
                if len(rest) > max_line_bytes:
                    yield _empty_chunk([_too_long(next_line, max_line_bytes, table, rest)], 1)
                    skipping = True
                else:
                    carry = rest
                continue
            end = last + 1
        if end <= begin:
            pool.put(buf)
            continue
        size = min(full, 4 * size)
        chunk = _cut(buf, begin, end, next_line, max_line_bytes=max_line_bytes, table=table)
        next_line += chunk.lines_seen
        chunk.buffer, chunk.pool = buf, pool
        if not eof:
            carry = bytes(view[end:n])
            if len(carry) > max_line_bytes:
                chunk.issues.append(_too_long(next_line, max_line_bytes, table, carry))
                chunk.records += 1
                carry, skipping = b"", True
        yield chunk


def _find_newline(buf: np.ndarray, start: int, stop: int) -> int:
    """Position of the first ``\\n`` in ``buf[start:stop]``, or -1."""
    step = 1 << 20
    for i in range(start, stop, step):
        hits = np.flatnonzero(buf[i : min(i + step, stop)] == 10)
        if hits.size:
            return i + int(hits[0])
    return -1


def _rfind_newline(buf: np.ndarray, start: int, stop: int) -> int:
    """Position of the last ``\\n`` in ``buf[start:stop]``, or -1."""
    step = 1 << 16
    j = stop
    while j > start:
        i = max(start, j - step)
        hits = np.flatnonzero(buf[i:j] == 10)
        if hits.size:
            return i + int(hits[-1])
        j = i
        step = min(step * 4, 1 << 22)
    return -1


def _filler(source: ByteSource | Iterable[bytes]) -> Callable[[memoryview], int]:
    """A ``readinto``-like function over a :class:`ByteSource` or any iterable of blocks."""
    if isinstance(source, ByteSource):
        return source.readinto
    blocks = iter(source)
    pending = memoryview(b"")

    def fill(view: memoryview) -> int:
        nonlocal pending
        filled = 0
        while filled < len(view):
            if not pending:
                block = next(blocks, None)
                if block is None:
                    break
                pending = memoryview(block)
            take = min(len(view) - filled, len(pending))
            view[filled : filled + take] = pending[:take]
            pending = pending[take:]
            filled += take
        return filled

    return fill


# ----------------------------------------------------------------------------- pieces

#: What a reader of ours yields: parsed rows, raw JSON lines, or a problem.
Piece = ParsedBatch | JsonLines | ParseIssue


class EventsReader:
    """Streams one file of ours as :data:`Piece` objects, keeping memory bounded.

    :attr:`format` names the detected format (``events-jsonl``, ``events-csv``,
    ``events-parquet``, with ``+gzip`` when compressed); :attr:`rows_read` counts the
    records met so far (every non-blank line or data row, good or bad).
    """

    def __init__(
        self,
        path: Path,
        *,
        head: bytes | None = None,
        chunk_bytes: int | None = None,
        max_line_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.source = ByteSource(self.path)
        self.head = head if head is not None else read_head(self.path)
        self.encoding = detect_encoding(self.head)
        self.default_table = table_from_name(self.path)
        # the module's limits when not given, read now (tests make them small)
        self.chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        self.max_line_bytes = MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes
        self.rows_read = 0
        self.notes: list[str] = []
        self.pool: BufferPool | None = None
        suffix = "+gzip" if self.source.gzip else ""
        kind = {"jsonl": "jsonl", "json": "json", "csv": "csv", "parquet": "parquet"}.get(
            self.encoding, "empty"
        )
        self.format = f"events-{kind}{suffix}"

    @property
    def position(self) -> int:
        """Bytes of the file consumed so far (for progress)."""
        return self.source.position

    @property
    def size(self) -> int:
        return self.source.size

    def __iter__(self) -> Iterator[Piece]:
        if self.encoding == "empty":
            if self.source.size and self.source.gzip:
                # content empty after decompression: still check the stream ends well
                for _ in self.source:
                    pass
                if self.source.issue is not None:
                    yield self.source.issue
            return
        if self.encoding == "parquet":
            yield from self._parquet()
        elif self.encoding == "csv":
            yield from self._csv()
        elif self.encoding == "json":
            yield from self._document()
        else:
            yield from self._jsonl()
        if self.source.issue is not None:
            yield self.source.issue

    # -- JSON lines ---------------------------------------------------------------

    def _jsonl(self) -> Iterator[Piece]:
        first = first_record(self.head)
        if first is None or (self.default_table is None and not _names_table(first)):
            # One JSON value of no table of ours: maybe a whole document (a payload
            # of an unknown shape) rather than records.
            document = self._whole_document()
            if document is not None:
                yield from self._document_value(document)
                return
        for chunk in iter_line_chunks(
            self.source,
            chunk_bytes=self.chunk_bytes,
            max_line_bytes=self.max_line_bytes,
            table=self.default_table,
            pool=self.pool,
        ):
            self.rows_read += chunk.records
            yield from chunk.issues
            if chunk.data.num_rows:
                yield JsonLines(chunk.data, self.default_table, chunk)
            else:
                chunk.release()

    def _whole_document(self) -> object | None:
        """The file parsed as one JSON value, or None when it is not one (e.g. JSON Lines)."""
        if self.source.size > MAX_DOCUMENT_BYTES:
            return None
        data = b"".join(ByteSource(self.path))
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        # a one-line JSONL file is also one document: only a single record counts
        return value

    def _document(self) -> Iterator[Piece]:
        if self.source.size > MAX_DOCUMENT_BYTES:
            yield ParseIssue(
                "unknown_shape",
                f"a JSON document of {self.source.size:,} bytes is larger than the "
                f"{MAX_DOCUMENT_BYTES:,}-byte limit for whole documents",
            )
            return
        data = b"".join(self.source)
        if self.source.issue is not None:
            return  # the truncation is reported by __iter__
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield ParseIssue("invalid_json", f"the file is not a JSON document: {exc}")
            return
        yield from self._document_value(value)

    def _document_value(self, value: object) -> Iterator[Piece]:
        """A whole JSON document: an array of our records, one record, or an unknown shape."""
        records = value if isinstance(value, list) else [value]
        objects = [r for r in records if isinstance(r, dict)]
        ours = bool(objects) and (
            self.default_table is not None or any(_names_table(r) for r in objects[:100])
        )
        if not ours:
            yield ParseIssue("unknown_shape", _shape_detail(value))
            return
        raws = [orjson.dumps(r).decode() for r in records]
        self.rows_read += len(raws)
        lines = pa.array(raws, pa.string())
        numbers = np.arange(1, len(raws) + 1, dtype=np.int64)
        yield JsonLines(_lines_table(lines, numbers), self.default_table)

    # -- CSV ----------------------------------------------------------------------

    def _csv(self) -> Iterator[Piece]:
        csv.field_size_limit(max(self.max_line_bytes, 131072))
        state = _CsvLines(self.source, self.max_line_bytes, self.default_table)
        reader = csv.reader(state)
        header: list[str] | None = None
        columns: list[str] = []
        table_idx: int | None = None
        rows: dict[str, list[list[str | None]]] = {}
        lines: dict[str, list[int]] = {}
        raws: dict[str, list[str]] = {}
        buffered = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                start, raw = state.take()
                self.rows_read += 1
                yield ParseIssue(
                    "bad_csv",
                    f"the line cannot be read as CSV: {exc}",
                    line=start,
                    table=self.default_table,
                    raw=raw,
                )
                continue
            start, raw = state.take()
            yield from state.issues
            self.rows_read += state.dropped
            state.issues.clear()
            state.dropped = 0
            if header is None:
                header = [h.strip() for h in record]
                if header and header[0].startswith("\ufeff"):
                    header[0] = header[0][1:]
                columns = header
                for name in TABLE_FIELDS:
                    if name in header:
                        table_idx = header.index(name)
                        break
                continue
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            self.rows_read += 1
            if len(record) != len(columns):
                yield ParseIssue(
                    "bad_field_count",
                    f"the row has {len(record)} fields, the header has {len(columns)}",
                    line=start,
                    table=self.default_table,
                    raw=raw,
                )
                continue
            target = (record[table_idx] or None) if table_idx is not None else None
            target = target or self.default_table or ""
            rows.setdefault(target, []).append([v if v != "" else None for v in record])
            lines.setdefault(target, []).append(start)
            raws.setdefault(target, []).append(raw)
            buffered += 1
            if buffered >= ROW_BATCH:
                yield from _csv_batches(columns, rows, lines, raws)
                rows, lines, raws, buffered = {}, {}, {}, 0
        yield from state.issues
        self.rows_read += state.dropped
        if header is not None:
            ignored = [c for c in columns if c not in _all_columns() and c not in TABLE_FIELDS]
            if ignored:
                self.notes.append("ignored columns not in the schema: " + ", ".join(ignored))
        yield from _csv_batches(columns, rows, lines, raws)

    # -- Parquet ------------------------------------------------------------------

    def _parquet(self) -> Iterator[Piece]:
        import pyarrow.parquet as pq

        try:
            if self.source.gzip:
                data = b"".join(self.source)
                pfile = pq.ParquetFile(pa.BufferReader(data))
            else:
                pfile = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise FormatError(f"{self.path}: not a readable Parquet file: {exc}") from exc
        names = pfile.schema_arrow.names
        table_col = next((n for n in TABLE_FIELDS if n in names), None)
        ignored = [n for n in names if n not in _all_columns() and n not in TABLE_FIELDS]
        if ignored:
            self.notes.append("ignored columns not in the schema: " + ", ".join(ignored))
        row = 0
        try:
            for batch in pfile.iter_batches(batch_size=ROW_BATCH):
                n = batch.num_rows
                numbers = pa.array(np.arange(row + 1, row + n + 1, dtype=np.int64))
                row += n
                self.rows_read += n
                self.source.position = int(self.source.size * row / max(pfile.metadata.num_rows, 1))
                table = pa.Table.from_batches([batch]).append_column(LINE_COLUMN, numbers)
                yield from _route_arrow(table, table_col, self.default_table)
        except (pa.ArrowException, OSError) as exc:
            raise FormatError(
                f"{self.path}: Parquet data unreadable after row {row}: {exc}"
            ) from exc


class _CsvLines:
    """Feeds decoded physical lines to :mod:`csv` and remembers where each record began."""

    def __init__(self, source: ByteSource, max_line_bytes: int, table: str | None) -> None:
        self._lines = _physical_lines(source)
        self.max_line_bytes = max_line_bytes
        self.table = table
        self.issues: list[ParseIssue] = []
        self.dropped = 0  # records dropped before the csv module saw them
        self._start: int | None = None
        self._raw: list[str] = []
        self._first = True

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        while True:
            number, data = next(self._lines)
            if self._first:
                self._first = False
                if data.startswith(UTF8_BOM):
                    data = data[len(UTF8_BOM) :]
            if len(data) > self.max_line_bytes:
                self.dropped += 1
                self.issues.append(
                    ParseIssue(
                        "line_too_long",
                        f"line of {len(data):,} bytes is longer than the "
                        f"{self.max_line_bytes:,}-byte limit and was not parsed",
                        line=number,
                        table=self.table,
                        raw=_raw_text(data),
                    )
                )
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.dropped += 1
                self.issues.append(
                    ParseIssue(
                        "not_utf8",
                        f"bytes that are not UTF-8 at byte {exc.start} of the line "
                        f"({data[exc.start : exc.start + 4]!r})",
                        line=number,
                        table=self.table,
                        raw=_raw_text(data),
                    )
                )
                continue
            if self._start is None:
                self._start = number
            self._raw.append(text)
            return text

    def take(self) -> tuple[int, str]:
        """Line where the last record began and its raw text; resets for the next record."""
        start = self._start or 0
        raw = "".join(self._raw).rstrip("\r\n")[:RAW_KEEP_CHARS]
        self._start = None
        self._raw = []
        return start, raw


def _physical_lines(source: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(1-based number, bytes with terminator) of every line of a block stream."""
    carry = b""
    number = 0
    for block in source:
        data = carry + block if carry else block
        parts = data.split(b"\n")
        carry = parts.pop()
        for part in parts:
            number += 1
            yield number, part + b"\n"
    if carry:
        yield number + 1, carry


def _csv_batches(
    columns: list[str],
    rows: dict[str, list[list[str | None]]],
    lines: dict[str, list[int]],
    raws: dict[str, list[str]],
) -> Iterator[ParsedBatch]:
    known = _all_columns()
    order = list(schema.TABLES)
    for target in sorted(rows, key=lambda t: order.index(t) if t in order else len(order)):
        values = rows[target]
        data: dict[str, pa.Array] = {}
        spec = schema.TABLES.get(target)
        wanted = set(spec.column_names) if spec is not None else known
        for i, name in enumerate(columns):
            if name in wanted and name not in data:
                data[name] = pa.array([r[i] for r in values], pa.string())
        data[LINE_COLUMN] = pa.array(lines[target], pa.int64())
        data[RAW_COLUMN] = pa.array(raws[target], pa.string())
        yield ParsedBatch(target, pa.table(data))


def _route_arrow(
    table: pa.Table, table_col: str | None, default: str | None
) -> Iterator[ParsedBatch]:
    """Split an Arrow table by its ``table`` column (or send it all to ``default``)."""
    if table_col is None:
        yield ParsedBatch(default or "", table)
        return
    col = pc.cast(table.column(table_col), pa.string())
    if default is not None:
        col = pc.fill_null(col, default)
    col = pc.fill_null(col, "")
    names = pc.unique(col).to_pylist()
    if len(names) == 1:
        yield ParsedBatch(str(names[0]), table)
        return
    for name in names:
        yield ParsedBatch(str(name), table.filter(pc.equal(col, name)))


def _all_columns() -> set[str]:
    return {c for name in loadable_tables() for c in schema.TABLES[name].column_names}


def first_record(head: bytes) -> dict[str, object] | None:
    """The first JSON-lines record in ``head`` when it is a JSON object, else None."""
    text = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    for line in text.split(b"\n")[:50]:
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    return None


def _names_table(record: dict[str, object]) -> bool:
    return any(isinstance(record.get(f), str) for f in TABLE_FIELDS)


def _shape_detail(value: object) -> str:
    """One sentence describing a JSON value of an unknown shape, naming the keys seen."""
    if isinstance(value, dict):
        keys = list(value)[:20]
        return (
            "a JSON object that no reader recognises (no known Copilot or Continue "
            f"shape, no 'table' field); keys seen: {', '.join(map(str, keys)) or '(none)'}"
        )
    if isinstance(value, list):
        objects = [v for v in value if isinstance(v, dict)]
        if objects:
            keys = list(dict.fromkeys(k for o in objects[:100] for k in o))[:20]
            return (
                f"a JSON array of {len(value)} items that no reader recognises (no known "
                f"Copilot or Continue shape, no 'table' field); keys seen: {', '.join(keys)}"
            )
        kinds = sorted({type(v).__name__ for v in value})
        return f"a JSON array of {len(value)} items of type {', '.join(kinds) or 'nothing'}"
    return f"a JSON {type(value).__name__}, not an object or array of records"


# ----------------------------------------------------------------------------- ParsedFile


def read(path: Path) -> ParsedFile:
    """Read a whole file of ours into a :class:`ParsedFile` (columns as strings).

    JSON lines are parsed with an in-memory DuckDB the same way ingestion parses
    them; rows of JSON lines that are not objects become ``invalid_json`` issues.
    Ingestion itself streams with :class:`EventsReader` instead.
    """
    reader = EventsReader(Path(path))
    out = ParsedFile(format=reader.format)
    con = duckdb.connect()
    try:
        for piece in reader:
            if isinstance(piece, ParseIssue):
                out.issues.append(piece)
            elif isinstance(piece, ParsedBatch):
                out.batches.append(piece)
            else:
                _parse_json_lines(con, piece, out)
    finally:
        con.close()
    out.rows_read = reader.rows_read
    return out


def _parse_json_lines(con: duckdb.DuckDBPyConnection, piece: JsonLines, out: ParsedFile) -> None:
    """Parse a :class:`JsonLines` chunk into one batch per table (strings), plus issues."""
    columns = sorted(_all_columns())
    struct = json_struct_type([*columns, *TABLE_FIELDS])
    default = "NULL" if piece.default_table is None else _sql_str(piece.default_table)
    con.register("__codex_ds_read_lines", piece.data)
    try:
        rel = con.execute(
            f"""
            SELECT {LINE_COLUMN}, rtrim({RAW_COLUMN}, chr(13) || chr(10)) AS {RAW_COLUMN},
                   coalesce(s."table", s."event_type", {default}) AS __table,
                   s IS NULL AS __invalid, s.*
            FROM (SELECT {LINE_COLUMN}, {RAW_COLUMN},
                         CASE WHEN starts_with(ltrim({RAW_COLUMN}), '{{')
                              THEN try(from_json({RAW_COLUMN}, '{struct}')) END AS s
                  FROM __codex_ds_read_lines)
            ORDER BY {LINE_COLUMN}
            """
        ).to_arrow_table()
    finally:
        con.unregister("__codex_ds_read_lines")
    invalid = rel.filter(pc.field("__invalid"))
    for line, raw in zip(
        invalid.column(LINE_COLUMN).to_pylist(), invalid.column(RAW_COLUMN).to_pylist(), strict=True
    ):
        out.issues.append(
            ParseIssue("invalid_json", "the line is not a JSON object", line=line, raw=raw)
        )
    valid = rel.filter(pc.invert(pc.field("__invalid")))
    for target in pc.unique(pc.fill_null(valid.column("__table"), "")).to_pylist():
        part = valid.filter(pc.equal(pc.fill_null(valid.column("__table"), ""), target))
        spec = schema.TABLES.get(str(target))
        keep = [LINE_COLUMN, RAW_COLUMN, *(spec.column_names if spec else ())]
        out.batches.append(ParsedBatch(str(target), part.select(keep)))


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def file_size(path: Path) -> int:
    """Size of a file in bytes (0 when it cannot be read)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
