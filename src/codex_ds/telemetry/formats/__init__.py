"""Input formats: detection from content, and dispatch to the reader that claims a file.

The readers are tried in a fixed order, each on the first bytes of the file's
content (decompressed when it is gzip): Continue dev-data logs
(:mod:`.continue_dev`), GitHub Copilot metrics payloads (:mod:`.copilot`), then our
own schema (:mod:`.events`: JSON Lines, CSV, Parquet). The format is told by the
content (gzip ``1f 8b``, Parquet ``PAR1``, JSON ``{``/``[`` as first non-space
character, else CSV), never by the extension alone. A JSON document that no
reader claims and that holds no records of ours becomes one file-level
``unknown_shape`` issue naming the keys it saw.

>>> from pathlib import Path
>>> expand_paths([]) == []
True
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from codex_ds.telemetry import schema
from codex_ds.telemetry.formats import events
from codex_ds.telemetry.formats.base import FormatError, ParsedBatch, ParsedFile, ParseIssue

#: Readers tried before ours, in order (modules exposing ``sniff`` and ``read``).
EXTERNAL_READERS: tuple[str, ...] = ("continue_dev", "copilot")


class _Reader(Protocol):
    def sniff(self, path: Path, head: bytes) -> bool: ...

    def read(self, path: Path) -> ParsedFile: ...


def _external(name: str) -> ModuleType | None:
    """The reader module ``name``, or None while it does not exist (imported lazily)."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            return None
        raise


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named by ``paths``; a directory stands for every file under it (sorted).

    Hidden files and directories (names starting with ``.``) inside a directory are
    skipped. Paths are kept as given (not resolved), in the given order.
    """
    out: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            out.append(path)
    return out


def claimant(path: Path, head: bytes | None = None) -> str | None:
    """Name of the external reader that claims ``path`` (see :data:`EXTERNAL_READERS`), if any.

    ``head`` is the start of the file's content, decompressed when it is gzip.
    """
    if head is None:
        head = events.read_head(path)
    for name in EXTERNAL_READERS:
        module = _external(name)
        if module is None:
            continue
        reader: _Reader = module
        try:
            if reader.sniff(path, head):
                return name
        except Exception:  # a sniffer must never stop the others from trying
            continue
    return None


def detect_format(path: str | Path) -> str:
    """Name of the format of a file, from its content (the file is not parsed).

    ``continue_dev`` / ``copilot`` when such a reader claims it, else one of ours:
    ``events-jsonl``, ``events-json``, ``events-csv``, ``events-parquet`` or
    ``events-empty``, with ``+gzip`` when the bytes are gzip-compressed.
    """
    path = Path(path)
    head = events.read_head(path)
    name = claimant(path, head)
    if name is not None:
        gz = "+gzip" if events.ByteSource(path).gzip else ""
        return f"{name}{gz}"
    return events.EventsReader(path, head=head).format


@dataclass
class Source:
    """One file opened for ingestion: its format and a stream of pieces.

    ``pieces`` yields :class:`ParsedBatch`, :class:`~.events.JsonLines` (raw JSON lines
    parsed by ingestion) and :class:`ParseIssue` objects. ``rows_read``, ``position``
    and ``notes`` are up to date once the stream is exhausted.
    """

    path: Path
    format: str
    size: int
    _pieces: Iterator[events.Piece]
    _reader: events.EventsReader | None = None
    _parsed: ParsedFile | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pieces(self) -> Iterator[events.Piece]:
        return self._pieces

    @property
    def rows_read(self) -> int:
        if self._reader is not None:
            return self._reader.rows_read
        if self._parsed is not None:
            return self._parsed.rows_read or sum(b.data.num_rows for b in self._parsed.batches)
        return 0

    @property
    def position(self) -> int:
        if self._reader is not None:
            return self._reader.position
        return self.size

    @property
    def all_notes(self) -> list[str]:
        return self.notes + (self._reader.notes if self._reader is not None else [])


def _table_rank(name: str) -> int:
    order = list(schema.TABLES)
    return order.index(name) if name in order else len(order)


def _parsed_pieces(parsed: ParsedFile) -> Iterator[events.Piece]:
    yield from parsed.issues
    yield from parsed.batches


def open_source(path: Path, **reader_options: Any) -> Source:
    """Detect the format of ``path`` and open it for streaming.

    Raises :class:`FormatError` when the chosen reader cannot read the file at all,
    and :class:`OSError` when it cannot be opened.
    """
    path = Path(path)
    head = events.read_head(path)
    name = claimant(path, head)
    if name is not None:
        module = _external(name)
        reader: _Reader = module  # type: ignore[assignment]
        parsed = reader.read(path)
        if events.ByteSource(path).gzip and "gzip" not in parsed.format:
            parsed.format = f"{parsed.format}+gzip"
        batches = sorted(parsed.batches, key=lambda b: _table_rank(b.table))
        parsed.batches = batches
        size = path.stat().st_size
        return Source(path, parsed.format, size, _parsed_pieces(parsed), _parsed=parsed)
    ours = events.EventsReader(path, head=head, **reader_options)
    return Source(path, ours.format, ours.size, iter(ours), _reader=ours)


def read_file(path: str | Path) -> ParsedFile:
    """Read any supported file into a :class:`ParsedFile` (format detected from content).

    Directories are not files: expand them with :func:`expand_paths` first.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory: read its files (see expand_paths)")
    source = open_source(path)
    if source._parsed is not None:
        return source._parsed
    return events.read(path)


__all__ = [
    "EXTERNAL_READERS",
    "FormatError",
    "ParseIssue",
    "ParsedBatch",
    "ParsedFile",
    "Source",
    "claimant",
    "detect_format",
    "expand_paths",
    "open_source",
    "read_file",
]
