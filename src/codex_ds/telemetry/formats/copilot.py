"""GitHub Copilot metrics API payloads (all three generations) → ``copilot_*`` tables.

GitHub has published three generations of Copilot metrics endpoints. This reader
recognises each by its keys (never by the file name), maps it onto the tables
``copilot_daily`` (one row per day and breakdown cell), ``copilot_user_daily`` (one
row per user and day) and ``copilot_seats`` and keeps GitHub's own definitions:

* **acceptance rate** = acceptances ÷ suggestions (``total_code_acceptances ÷
  total_code_suggestions`` in the Metrics API, ``code_acceptance_activity_count ÷
  code_generation_activity_count`` in the current reports); ``None`` when there were no
  suggestions;
* **distinct users are never summed** across days, editors, models or teams: a user
  count is stored only in the cell GitHub reported it for, and a cell this reader has
  to build by adding several reported cells gets ``None`` users (the union is unknown);
* a user is **active** on a day when ``user_initiated_interaction_count > 0``.

Rows of different ``breakdown`` values overlap (the ``total`` row is the sum of the
``editor`` rows, and so on): never sum across breakdowns. Dimensions a row is not split
by hold ``'all'``. Editor, model, language and feature names are kept as GitHub reports
them (``vscode``, ``typescriptreact``, ``chat_panel_agent_mode``, ...).

Legacy usage API (``api='usage'``) — a list of objects with ``day``:

=================  ===========================  ===========================================
breakdown          cell                          columns
=================  ===========================  ===========================================
``total``          all dims ``'all'``            suggestions, acceptances, lines_* (code
                                                 completions: ``total_*_count``,
                                                 ``total_lines_*``), active_users =
                                                 ``total_active_users``, chats =
                                                 ``total_chat_turns``
``feature``        feature ``code_completion``   the same completion totals and users
``feature``        feature ``chat``              chats = ``total_chat_turns``, acceptances =
                                                 ``total_chat_acceptances``, active_users =
                                                 ``total_active_chat_users``
``editor_language``  editor × language,          ``breakdown[]``: suggestions_count,
                   feature ``code_completion``   acceptances_count, lines_*, active_users
=================  ===========================  ===========================================

Several ``breakdown[]`` entries for the same (editor, language) on one day occur in
real payloads (their sum matches the day's totals): their counts are added and their
``active_users`` becomes ``None``.

Copilot Metrics API (``api='metrics'``) — a list of objects with ``date``:

=========================  ==================================  ============================
breakdown                  cells                               source
=========================  ==================================  ============================
``total``                  all ``'all'``                       active_users/engaged_users
                                                               = ``total_active_users`` /
                                                               ``total_engaged_users``;
                                                               suggestions, acceptances,
                                                               lines_* = Σ code-completion
                                                               cells; chats = Σ IDE + dotcom
                                                               ``total_chats``
``feature``                ``code_completion``, ``chat_ide``,  each section's
                           ``chat_dotcom``,                    ``total_engaged_users`` and
                           ``pull_request_summaries``          Σ of its counts
``editor``                 editor × (code_completion |         ``editors[]``
                           chat_ide)
``editor_model``           editor × model × (code_completion   ``editors[].models[]``
                           | chat_ide)
``editor_model_language``  editor × model × language,          ``...languages[]``
                           code_completion
``language``               language, code_completion           ``languages[]`` (engaged
                                                               users) with the counts
                                                               summed over editors/models
``model``                  model × (chat_dotcom |              ``models[]``; PR-summary
                           pull_request_summaries)             counts are summed over
                                                               repositories
=========================  ==================================  ============================

Chat rows carry ``chats`` (``total_chats``) and, for IDE chat, ``acceptances`` =
``total_chat_insertion_events + total_chat_copy_events`` (the Metrics API's successor of
the legacy ``total_chat_acceptances``; its ``suggestions`` stay ``None``, so no rate).
PR-summary rows carry ``interactions`` = ``total_pr_summaries_created``. Model names are
GitHub's (``default`` for the standard model); ``is_custom_model`` is not kept.

Current usage-metrics reports (``api='usage_metrics'``) — objects with ``day_totals[]``
(or ``user_totals[]``), single records, lists of records or NDJSON, one record a line:

==================  =========================  ========================================
breakdown           cells                      source
==================  =========================  ========================================
``total``           all ``'all'``              the day record; active_users =
                                               ``daily_active_users``
``ide``             editor                     ``totals_by_ide[]``
``feature``         feature                    ``totals_by_feature[]``
``language_feature``  language × feature       ``totals_by_language_feature[]``
``language_model``  language × model           ``totals_by_language_model[]``
``model_feature``   model × feature            ``totals_by_model_feature[]``
``cli``             feature ``copilot_cli``    ``totals_by_cli.prompt_count`` as
                                               interactions, ``daily_active_cli_users``
==================  =========================  ========================================

with suggestions = ``code_generation_activity_count``, acceptances =
``code_acceptance_activity_count``, lines_suggested = ``loc_suggested_to_add_sum``,
loc_added / loc_deleted = ``loc_added_sum`` / ``loc_deleted_sum``, interactions =
``user_initiated_interaction_count``. ``lines_accepted`` stays ``None``: GitHub's
``loc_added_sum`` also counts chat and agent edits, so it is not the older APIs'
"lines accepted" and is kept in ``loc_added`` only. Weekly/monthly active users and the
``pull_requests`` section have no column and are not kept.

Records that carry ``user_id``/``user_login``/``login`` are per-user: one
``copilot_user_daily`` row each (interactions, generations, acceptances, loc_*,
``used_chat``/``used_agent``/``used_cli``, ``active = interactions > 0``). A
``user_totals[]`` record without a ``day`` is a total over the report period: it becomes
a daily row only when the period is a single day (``report_day``, or start = end);
over a longer period it becomes one ``copilot_user_period`` row (period_start,
period_end): putting a 28-day total on one day would be wrong.

Seats (``{"total_seats", "seats": [...]}``) → ``copilot_seats``. Download-links
manifests (``{"download_links": [...], "report_day" | "report_start_day" ...}``): each
link is resolved by its basename (or basename + ``.gz``) next to the manifest and read as
a report; a link not found is a ParseIssue ``linked_report_missing``.

Scope: a record with only ``enterprise_id`` is enterprise-level, one with only
``organization_id`` organization-level; with both (an organisation's reports carry its
enterprise too) or neither, the file name decides (``enterprise``, ``organization``/
``org``, ``team`` as words in it), then ``organization`` (both ids) or ``unknown``.
``scope_id`` is the id of that scope, ``''`` when absent (legacy and Metrics API payloads
carry none).

``_line`` is the 1-based index of the day (or seat) record in the file, counted in file
order across nested ``day_totals`` lists; for NDJSON it is the line number. Within one
file the copilot_daily key is unique: a day record repeated verbatim is read once, a
different record for the same day and scope is reported as ``duplicate_record``.
``rows_read`` counts source records (day, user and seat records), not output rows.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
import pyarrow as pa

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

NAME = "copilot"

API_USAGE = "usage"
API_METRICS = "metrics"
API_USAGE_METRICS = "usage_metrics"

ALL = "all"

#: Columns that are counts: cells merged into one are added.
ADDITIVE_COLUMNS = (
    "suggestions",
    "acceptances",
    "lines_suggested",
    "lines_accepted",
    "loc_added",
    "loc_deleted",
    "interactions",
    "chats",
)
#: Columns that are distinct-user counts: never added; a merged cell gets None.
DISTINCT_USER_COLUMNS = ("active_users", "engaged_users")

_LEGACY_KEYS = frozenset(
    {
        "total_suggestions_count",
        "total_acceptances_count",
        "total_lines_suggested",
        "total_lines_accepted",
        "total_chat_turns",
        "total_chat_acceptances",
        "total_active_chat_users",
    }
)
_METRICS_KEYS = frozenset(
    {
        "copilot_ide_code_completions",
        "copilot_ide_chat",
        "copilot_dotcom_chat",
        "copilot_dotcom_pull_requests",
    }
)
_USAGE_METRICS_KEYS = frozenset(
    {
        "code_generation_activity_count",
        "code_acceptance_activity_count",
        "user_initiated_interaction_count",
        "loc_suggested_to_add_sum",
        "loc_added_sum",
        "totals_by_ide",
        "totals_by_feature",
        "totals_by_language_feature",
        "totals_by_language_model",
        "totals_by_model_feature",
        "daily_active_users",
    }
)
_USER_KEYS = ("user_id", "user_login", "login")

_SNIFF_KEYS = re.compile(
    rb'"(total_suggestions_count|total_acceptances_count|total_lines_suggested|'
    rb"total_active_chat_users|copilot_ide_code_completions|copilot_ide_chat|"
    rb"copilot_dotcom_chat|copilot_dotcom_pull_requests|day_totals|user_totals|"
    rb"code_generation_activity_count|code_acceptance_activity_count|"
    rb"user_initiated_interaction_count|loc_suggested_to_add_sum|totals_by_ide|"
    rb'totals_by_feature)"\s*:'
)
_SNIFF_LINKS = re.compile(rb'"download_links"\s*:')
_SNIFF_REPORT_DAY = re.compile(rb'"(report_day|report_start_day|report_end_day)"\s*:')
_SNIFF_SEATS = re.compile(rb'"seats"\s*:')
_SNIFF_SEAT_DETAIL = re.compile(rb'"(total_seats|assignee|last_activity_at)"\s*:')


# ---------------------------------------------------------------------------- public API


def sniff(path: Path, head: bytes) -> bool:
    """True when ``head`` (the first bytes, decompressed) is a Copilot metrics payload.

    A JSON (or NDJSON) document that carries a key only GitHub's Copilot endpoints use:
    legacy ``total_suggestions_count``..., Metrics API ``copilot_ide_*``, current
    reports ``day_totals``/``code_generation_activity_count``..., seats
    (``seats`` with ``total_seats``/``assignee``) or a ``download_links`` manifest (with
    its ``report_day`` or ``report_start_day``).

    >>> sniff(Path("x.json"), b'[{"day": "2024-01-01", "total_suggestions_count": 3}]')
    True
    >>> sniff(Path("x.json"), b'{"eventName": "autocomplete", "completionId": "c1"}')
    False
    """
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] not in (b"{", b"["):
        return False
    if _SNIFF_KEYS.search(head):
        return True
    if _SNIFF_LINKS.search(head) and _SNIFF_REPORT_DAY.search(head):
        return True
    return bool(_SNIFF_SEATS.search(head) and _SNIFF_SEAT_DETAIL.search(head))


def read(path: Path) -> ParsedFile:
    """Read one Copilot payload (JSON, NDJSON, gzip-compressed or not).

    Raises :class:`FormatError` only when the file as a whole cannot be read (not
    UTF-8, not JSON nor NDJSON, or of no Copilot shape at all).
    """
    path = Path(path)
    reader = _Reader()
    reader.read_file(path, depth=0)
    return reader.result()


# ---------------------------------------------------------------------------- loading


def load_text(path: Path) -> str:
    """The decompressed UTF-8 text of ``path`` (gzip detected by its magic bytes)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc}") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"{path}: corrupt gzip stream: {exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text: {exc}") from exc


def _truncate(text: str) -> str:
    return text if len(text) <= RAW_KEEP_CHARS else text[:RAW_KEEP_CHARS]


def _dumps(value: Any) -> str:
    return _truncate(orjson.dumps(value).decode())


def _scope_hint(path: Path) -> str | None:
    """'enterprise' / 'organization' / 'team' when the file name says so."""
    words = set(re.split(r"[^a-z]+", path.name.lower()))
    if words & {"enterprise", "enterprises"}:
        return "enterprise"
    if words & {"organization", "organizations", "organisation", "organisations", "org", "orgs"}:
        return "organization"
    if words & {"team", "teams"}:
        return "team"
    return None


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _add(a: Any, b: Any) -> Any:
    """Sum of two counts, None-aware; a non-number is kept (ingest quarantines it)."""
    if a is None:
        return b
    if b is None:
        return a
    if _is_number(a) and _is_number(b):
        return a + b
    return a if not _is_number(a) else b


def acceptance_rate(acceptances: Any, suggestions: Any) -> float | None:
    """GitHub's acceptance rate: acceptances ÷ suggestions; None without suggestions.

    >>> acceptance_rate(25, 100)
    0.25
    >>> acceptance_rate(0, 0) is None
    True
    """
    if not (_is_number(acceptances) and _is_number(suggestions)) or suggestions == 0:
        return None
    return float(acceptances) / float(suggestions)


def normalize_timestamp(value: Any) -> Any:
    """An ISO-8601 timestamp as naive UTC text (``YYYY-MM-DD HH:MM:SS[.ffffff]``).

    Offsets are applied (``+02:00`` → two hours earlier); a value that does not parse is
    returned unchanged so that validation quarantines it with its field.

    >>> normalize_timestamp("2026-01-03T09:00:00+02:00")
    '2026-01-03 07:00:00'
    """
    if not isinstance(value, str):
        return value
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.isoformat(sep=" ")


def rows_to_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pa.Table:
    """An Arrow table of ``rows`` with ``columns``; a column of mixed types becomes text.

    Values that are not of one Arrow type (a count given as ``"12"`` among integers)
    are turned into strings, so that validation casts them and quarantines those that
    are not valid, instead of the reader failing.
    """
    arrays: dict[str, pa.Array] = {}
    for name in columns:
        values = [row.get(name) for row in rows]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            arrays[name] = pa.array(
                [None if v is None else v if isinstance(v, str) else _json_text(v) for v in values],
                type=pa.string(),
            )
    return pa.table(arrays)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


# ---------------------------------------------------------------------------- row sets


class _DailyRows:
    """copilot_daily rows keyed by the table's primary key; duplicates are merged."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, ...], dict[str, Any]] = {}

    def add(
        self,
        *,
        base: dict[str, Any],
        breakdown: str,
        line: int,
        raw: str,
        editor: Any = ALL,
        model: Any = ALL,
        language: Any = ALL,
        feature: Any = ALL,
        **metrics: Any,
    ) -> None:
        dims = {
            "breakdown": breakdown,
            "editor": _dim(editor),
            "model": _dim(model),
            "language": _dim(language),
            "feature": _dim(feature),
        }
        key = (
            base["api"],
            base["scope"],
            base["scope_id"],
            str(base["day"]),
            *(str(v) for v in dims.values()),
        )
        existing = self.rows.get(key)
        if existing is None:
            row = {**base, **dims, **metrics, LINE_COLUMN: line, RAW_COLUMN: raw}
            self.rows[key] = row
            return
        for col in ADDITIVE_COLUMNS:
            existing[col] = _add(existing.get(col), metrics.get(col))
        for col in DISTINCT_USER_COLUMNS:
            existing[col] = None

    def table(self) -> pa.Table:
        rows = list(self.rows.values())
        for row in rows:
            row["acceptance_rate"] = acceptance_rate(row.get("acceptances"), row.get("suggestions"))
        return rows_to_table(rows, (*schema.COPILOT_DAILY.column_names, LINE_COLUMN, RAW_COLUMN))


def _dim(value: Any) -> Any:
    """A dimension value: None (GitHub omits it) stays None so that validation reports it."""
    return value if value is None or isinstance(value, str) else str(value)


class _ShapeError(Exception):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _list(parent: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """``parent[key]`` as a list of objects ([] when absent or null)."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _ShapeError(f"{where}{key}", f"{where}{key} is {type(value).__name__}, not a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _ShapeError(
                f"{where}{key}",
                f"{where}{key}[{i}] is {type(item).__name__}, not an object",
            )
    return value


def _obj(parent: dict[str, Any], key: str, where: str = "") -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _ShapeError(f"{where}{key}", f"{where}{key} is {type(value).__name__}, not an object")
    return value


# ---------------------------------------------------------------------------- the reader


class _Reader:
    def __init__(self) -> None:
        self.daily = _DailyRows()
        self.users: dict[tuple[str, ...], dict[str, Any]] = {}
        self.user_periods: dict[tuple[str, ...], dict[str, Any]] = {}
        self.seats: list[dict[str, Any]] = []
        self.issues: list[ParseIssue] = []
        self.records = 0
        self._seen: dict[tuple[str, ...], bytes] = {}
        # per file being read
        self._source = ""
        self._hint: str | None = None
        self._prefix = ""
        self._counter = 0

    # -- files ------------------------------------------------------------------------

    def read_file(self, path: Path, depth: int) -> None:
        text = load_text(path)
        self._source = str(path)
        self._hint = _scope_hint(path)
        self._counter = 0
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            for lineno, value in self._ndjson_units(path, text):
                self._document(value, line_fn=_constant(lineno))
            return
        if isinstance(document, dict) and "download_links" in document:
            self._manifest(path, document, depth)
            return
        if not self._known_document(document):
            raise FormatError(f"{path}: JSON of no known Copilot metrics shape")
        self._document(document, line_fn=self._next_line)

    def _ndjson_units(self, path: Path, text: str) -> list[tuple[int, Any]]:
        units: list[tuple[int, Any]] = []
        bad: list[ParseIssue] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped:
                continue
            try:
                units.append((lineno, orjson.loads(stripped)))
            except orjson.JSONDecodeError as exc:
                bad.append(
                    ParseIssue(
                        "invalid_json",
                        f"{self._prefix}line {lineno} is not JSON: {exc}",
                        line=lineno,
                        raw=_truncate(line),
                    )
                )
        if not units or not any(self._known_document(v) for _, v in units):
            raise FormatError(f"{path}: neither a JSON document nor NDJSON of Copilot records")
        self.issues.extend(bad)
        return units

    @staticmethod
    def _known_document(value: Any) -> bool:
        if isinstance(value, list):
            return any(_Reader._known_document(v) for v in value[:50])
        if not isinstance(value, dict):
            return False
        return bool(
            {"day_totals", "user_totals", "download_links"} & value.keys()
            or ("seats" in value and isinstance(value.get("seats"), list))
            or _classify(value) is not None
        )

    def _next_line(self) -> int:
        self._counter += 1
        return self._counter

    def _issue(
        self,
        reason: str,
        detail: str,
        *,
        line: int | None,
        field: str | None = None,
        table: str | None = "copilot_daily",
        raw: Any = None,
    ) -> None:
        self.issues.append(
            ParseIssue(
                reason,
                self._prefix + detail,
                line=line,
                field=field,
                table=table,
                raw=None if raw is None else _dumps(raw),
            )
        )

    # -- manifests ----------------------------------------------------------------------

    def _manifest(self, path: Path, manifest: dict[str, Any], depth: int) -> None:
        links = manifest.get("download_links")
        if depth > 0:
            self._issue(
                "nested_manifest",
                f"{path.name} is a download-links manifest linked from another manifest; "
                "not followed",
                line=None,
                table=None,
            )
            return
        if not isinstance(links, list):
            self._issue(
                "invalid_shape",
                "download_links is not a list",
                line=None,
                field="download_links",
                table=None,
                raw=manifest,
            )
            return
        for i, link in enumerate(links, start=1):
            if not isinstance(link, str) or not link.strip():
                self._issue(
                    "invalid_shape",
                    f"download_links[{i - 1}] is not a link",
                    line=i,
                    field="download_links",
                    table=None,
                    raw=link,
                )
                continue
            name = PurePosixPath(unquote(urlparse(link).path)).name
            candidates = [path.parent / name, path.parent / f"{name}.gz"] if name else []
            target = next((c for c in candidates if c.is_file()), None)
            if target is None:
                self._issue(
                    "linked_report_missing",
                    f"linked report {name or link!r} ({link}) not found next to {path.name}",
                    line=i,
                    field="download_links",
                    table=None,
                    raw=link,
                )
                continue
            saved = (self._source, self._hint, self._prefix, self._counter)
            self._prefix = f"{target.name} (linked from {path.name}): "
            try:
                self.read_file(target, depth + 1)
            except FormatError as exc:
                self._issue(
                    "linked_report_unreadable",
                    str(exc),
                    line=i,
                    field="download_links",
                    table=None,
                    raw=link,
                )
            finally:
                self._source, self._hint, self._prefix, self._counter = saved

    # -- documents ------------------------------------------------------------------------

    def _document(self, value: Any, line_fn: Callable[[], int], container: Any = None) -> None:
        if isinstance(value, list):
            for item in value:
                self._document(item, line_fn, container)
            return
        if not isinstance(value, dict):
            self.records += 1
            self._issue(
                "unknown_shape",
                f"record is {type(value).__name__}, not an object",
                line=line_fn(),
                table=None,
                raw=value,
            )
            return
        if "seats" in value and isinstance(value.get("seats"), list):
            self._seats(value, line_fn)
            return
        if "download_links" in value:
            line = line_fn()
            self.records += 1
            self._issue(
                "unknown_shape",
                "a download-links manifest inside a report is not followed",
                line=line,
                table=None,
                raw=value,
            )
            return
        if "day_totals" in value or "user_totals" in value:
            for key in ("day_totals", "user_totals"):
                if key not in value:
                    continue
                records = value[key]
                if not isinstance(records, list):
                    self.records += 1
                    self._issue(
                        "invalid_shape",
                        f"{key} is {type(records).__name__}, not a list",
                        line=line_fn(),
                        field=key,
                        raw=value,
                    )
                    continue
                for record in records:
                    self._document(record, line_fn, container=value)
            return
        self._record(value, line_fn(), container if isinstance(container, dict) else {})

    def _record(self, rec: dict[str, Any], line: int, container: dict[str, Any]) -> None:
        self.records += 1
        kind = _classify(rec)
        if kind is None:
            self._issue(
                "unknown_shape",
                "record of no known Copilot metrics shape (keys: "
                + ", ".join(sorted(rec)[:12])
                + ")",
                line=line,
                table=None,
                raw=rec,
            )
            return
        try:
            if kind == API_USAGE:
                self._legacy(rec, line)
            elif kind == API_METRICS:
                self._metrics(rec, line)
            elif kind == "user":
                self._user(rec, line, container)
            else:
                self._usage_metrics(rec, line, container)
        except _ShapeError as exc:
            self._issue(
                "invalid_shape",
                exc.detail,
                line=line,
                field=exc.field,
                table="copilot_user_daily" if kind == "user" else "copilot_daily",
                raw=rec,
            )

    def _scope(self, rec: dict[str, Any], container: dict[str, Any]) -> tuple[str, str]:
        ent = next(
            (v for v in (rec.get("enterprise_id"), container.get("enterprise_id")) if _present(v)),
            None,
        )
        org = next(
            (
                v
                for v in (rec.get("organization_id"), container.get("organization_id"))
                if _present(v)
            ),
            None,
        )
        if ent is not None and org is None:
            scope = "enterprise"
        elif org is not None and ent is None:
            scope = "organization"
        elif self._hint is not None:
            scope = self._hint
        elif org is not None:
            scope = "organization"
        else:
            scope = "unknown"
        ids = {"enterprise": ent, "organization": org}
        scope_id = ids.get(scope)
        return scope, "" if scope_id is None else str(scope_id)

    def _first_time(self, key: tuple[str, ...], rec: dict[str, Any], line: int, table: str) -> bool:
        """True the first time a day record with this key is seen in the file."""
        body = orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)
        previous = self._seen.get(key)
        if previous is None:
            self._seen[key] = body
            return True
        if previous != body:
            self._issue(
                "duplicate_record",
                f"a different record for the same day and scope ({', '.join(key)}) was read "
                "before; this one is not loaded",
                line=line,
                table=table,
                raw=rec,
            )
        return False

    def _base(
        self, api: str, rec: dict[str, Any], day: Any, container: dict[str, Any]
    ) -> dict[str, Any]:
        scope, scope_id = self._scope(rec, container)
        return {
            "api": api,
            "scope": scope,
            "scope_id": scope_id,
            "day": day,
            "source_file": self._source,
        }

    def _day(self, rec: dict[str, Any], key: str, line: int, table: str) -> Any:
        day = rec.get(key)
        if not _present(day):
            self._issue(
                "missing_field",
                f"day record without {key!r}",
                line=line,
                field=key,
                table=table,
                raw=rec,
            )
            return None
        return day

    # -- legacy usage API -----------------------------------------------------------------

    def _legacy(self, rec: dict[str, Any], line: int) -> None:
        day = self._day(rec, "day", line, "copilot_daily")
        if day is None:
            return
        cells = _list(rec, "breakdown", "")
        base = self._base(API_USAGE, rec, day, {})
        if not self._first_time(
            (API_USAGE, base["scope"], base["scope_id"], str(day)), rec, line, "copilot_daily"
        ):
            return
        raw = _dumps({k: v for k, v in rec.items() if k != "breakdown"})
        completion = {
            "suggestions": rec.get("total_suggestions_count"),
            "acceptances": rec.get("total_acceptances_count"),
            "lines_suggested": rec.get("total_lines_suggested"),
            "lines_accepted": rec.get("total_lines_accepted"),
            "active_users": rec.get("total_active_users"),
        }
        add = self.daily.add
        add(
            base=base,
            breakdown="total",
            line=line,
            raw=raw,
            chats=rec.get("total_chat_turns"),
            **completion,
        )
        add(
            base=base,
            breakdown="feature",
            feature="code_completion",
            line=line,
            raw=raw,
            **completion,
        )
        add(
            base=base,
            breakdown="feature",
            feature="chat",
            line=line,
            raw=raw,
            chats=rec.get("total_chat_turns"),
            acceptances=rec.get("total_chat_acceptances"),
            active_users=rec.get("total_active_chat_users"),
        )
        for cell in cells:
            add(
                base=base,
                breakdown="editor_language",
                editor=cell.get("editor"),
                language=cell.get("language"),
                feature="code_completion",
                line=line,
                raw=_dumps(cell),
                suggestions=cell.get("suggestions_count"),
                acceptances=cell.get("acceptances_count"),
                lines_suggested=cell.get("lines_suggested"),
                lines_accepted=cell.get("lines_accepted"),
                active_users=cell.get("active_users"),
            )

    # -- Copilot Metrics API --------------------------------------------------------------

    def _metrics(self, rec: dict[str, Any], line: int) -> None:
        day = self._day(rec, "date", line, "copilot_daily")
        if day is None:
            return
        # Validate the whole nested shape before emitting anything.
        cc = _obj(rec, "copilot_ide_code_completions")
        chat = _obj(rec, "copilot_ide_chat")
        dotcom = _obj(rec, "copilot_dotcom_chat")
        prs = _obj(rec, "copilot_dotcom_pull_requests")
        cc_editors = _list(cc, "editors", "copilot_ide_code_completions.") if cc else []
        for e in cc_editors:
            for m in _list(e, "models", "copilot_ide_code_completions.editors[]."):
                _list(m, "languages", "copilot_ide_code_completions.editors[].models[].")
        cc_languages = _list(cc, "languages", "copilot_ide_code_completions.") if cc else []
        chat_editors = _list(chat, "editors", "copilot_ide_chat.") if chat else []
        for e in chat_editors:
            _list(e, "models", "copilot_ide_chat.editors[].")
        dotcom_models = _list(dotcom, "models", "copilot_dotcom_chat.") if dotcom else []
        repos = _list(prs, "repositories", "copilot_dotcom_pull_requests.") if prs else []
        for r in repos:
            _list(r, "models", "copilot_dotcom_pull_requests.repositories[].")

        base = self._base(API_METRICS, rec, day, {})
        if not self._first_time(
            (API_METRICS, base["scope"], base["scope_id"], str(day)), rec, line, "copilot_daily"
        ):
            return
        add = self.daily.add
        cc_feature = "code_completion"

        def counts(cells: list[dict[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {
                "suggestions": None,
                "acceptances": None,
                "lines_suggested": None,
                "lines_accepted": None,
            }
            for c in cells:
                out["suggestions"] = _add(out["suggestions"], c.get("total_code_suggestions"))
                out["acceptances"] = _add(out["acceptances"], c.get("total_code_acceptances"))
                out["lines_suggested"] = _add(
                    out["lines_suggested"], c.get("total_code_lines_suggested")
                )
                out["lines_accepted"] = _add(
                    out["lines_accepted"], c.get("total_code_lines_accepted")
                )
            return out

        all_cells: list[dict[str, Any]] = []
        by_language: dict[Any, list[dict[str, Any]]] = {}
        for e in cc_editors:
            editor_cells: list[dict[str, Any]] = []
            for m in _list(e, "models", ""):
                model_cells = _list(m, "languages", "")
                editor_cells.extend(model_cells)
                add(
                    base=base,
                    breakdown="editor_model",
                    editor=e.get("name"),
                    model=m.get("name"),
                    feature=cc_feature,
                    line=line,
                    raw=_dumps({k: v for k, v in m.items() if k != "languages"}),
                    engaged_users=m.get("total_engaged_users"),
                    **counts(model_cells),
                )
                for lang in model_cells:
                    by_language.setdefault(lang.get("name"), []).append(lang)
                    add(
                        base=base,
                        breakdown="editor_model_language",
                        editor=e.get("name"),
                        model=m.get("name"),
                        language=lang.get("name"),
                        feature=cc_feature,
                        line=line,
                        raw=_dumps(lang),
                        engaged_users=lang.get("total_engaged_users"),
                        **counts([lang]),
                    )
            all_cells.extend(editor_cells)
            add(
                base=base,
                breakdown="editor",
                editor=e.get("name"),
                feature=cc_feature,
                line=line,
                raw=_dumps({k: v for k, v in e.items() if k != "models"}),
                engaged_users=e.get("total_engaged_users"),
                **counts(editor_cells),
            )
        reported_languages = set()
        for lang in cc_languages:
            reported_languages.add(lang.get("name"))
            add(
                base=base,
                breakdown="language",
                language=lang.get("name"),
                feature=cc_feature,
                line=line,
                raw=_dumps(lang),
                engaged_users=lang.get("total_engaged_users"),
                **counts(by_language.get(lang.get("name"), [])),
            )
        for name, cells in by_language.items():
            if name not in reported_languages:  # counts without a reported user figure
                add(
                    base=base,
                    breakdown="language",
                    language=name,
                    feature=cc_feature,
                    line=line,
                    raw=_dumps(cells[0]),
                    **counts(cells),
                )
        cc_counts = counts(all_cells)
        if cc is not None:
            add(
                base=base,
                breakdown="feature",
                feature=cc_feature,
                line=line,
                raw=_dumps({k: v for k, v in cc.items() if k not in ("editors", "languages")}),
                engaged_users=cc.get("total_engaged_users"),
                **cc_counts,
            )

        chats_total: Any = None
        if chat is not None:
            chat_chats: Any = None
            chat_acc: Any = None
            for e in chat_editors:
                e_chats: Any = None
                e_acc: Any = None
                for m in _list(e, "models", ""):
                    m_acc = _add(
                        m.get("total_chat_insertion_events"), m.get("total_chat_copy_events")
                    )
                    add(
                        base=base,
                        breakdown="editor_model",
                        editor=e.get("name"),
                        model=m.get("name"),
                        feature="chat_ide",
                        line=line,
                        raw=_dumps(m),
                        engaged_users=m.get("total_engaged_users"),
                        chats=m.get("total_chats"),
                        acceptances=m_acc,
                    )
                    e_chats = _add(e_chats, m.get("total_chats"))
                    e_acc = _add(e_acc, m_acc)
                add(
                    base=base,
                    breakdown="editor",
                    editor=e.get("name"),
                    feature="chat_ide",
                    line=line,
                    raw=_dumps({k: v for k, v in e.items() if k != "models"}),
                    engaged_users=e.get("total_engaged_users"),
                    chats=e_chats,
                    acceptances=e_acc,
                )
                chat_chats = _add(chat_chats, e_chats)
                chat_acc = _add(chat_acc, e_acc)
            add(
                base=base,
                breakdown="feature",
                feature="chat_ide",
                line=line,
                raw=_dumps({k: v for k, v in chat.items() if k != "editors"}),
                engaged_users=chat.get("total_engaged_users"),
                chats=chat_chats,
                acceptances=chat_acc,
            )
            chats_total = _add(chats_total, chat_chats)
        if dotcom is not None:
            d_chats: Any = None
            for m in dotcom_models:
                add(
                    base=base,
                    breakdown="model",
                    model=m.get("name"),
                    feature="chat_dotcom",
                    line=line,
                    raw=_dumps(m),
                    engaged_users=m.get("total_engaged_users"),
                    chats=m.get("total_chats"),
                )
                d_chats = _add(d_chats, m.get("total_chats"))
            add(
                base=base,
                breakdown="feature",
                feature="chat_dotcom",
                line=line,
                raw=_dumps({k: v for k, v in dotcom.items() if k != "models"}),
                engaged_users=dotcom.get("total_engaged_users"),
                chats=d_chats,
            )
            chats_total = _add(chats_total, d_chats)
        if prs is not None:
            summaries: Any = None
            for r in repos:
                for m in _list(r, "models", ""):
                    add(
                        base=base,
                        breakdown="model",
                        model=m.get("name"),
                        feature="pull_request_summaries",
                        line=line,
                        raw=_dumps(m),
                        engaged_users=m.get("total_engaged_users"),
                        interactions=m.get("total_pr_summaries_created"),
                    )
                    summaries = _add(summaries, m.get("total_pr_summaries_created"))
            add(
                base=base,
                breakdown="feature",
                feature="pull_request_summaries",
                line=line,
                raw=_dumps({k: v for k, v in prs.items() if k != "repositories"}),
                engaged_users=prs.get("total_engaged_users"),
                interactions=summaries,
            )
        add(
            base=base,
            breakdown="total",
            line=line,
            raw=_dumps({k: v for k, v in rec.items() if not k.startswith("copilot_")}),
            active_users=rec.get("total_active_users"),
            engaged_users=rec.get("total_engaged_users"),
            chats=chats_total,
            **cc_counts,
        )

    # -- current usage-metrics reports ----------------------------------------------------

    def _usage_metrics(self, rec: dict[str, Any], line: int, container: dict[str, Any]) -> None:
        day = self._day(rec, "day", line, "copilot_daily")
        if day is None:
            return
        sections = {
            key: _list(rec, key, "")
            for key in (
                "totals_by_ide",
                "totals_by_feature",
                "totals_by_language_feature",
                "totals_by_language_model",
                "totals_by_model_feature",
            )
        }
        cli = _obj(rec, "totals_by_cli")
        base = self._base(API_USAGE_METRICS, rec, day, container)
        if not self._first_time(
            (API_USAGE_METRICS, base["scope"], base["scope_id"], str(day)),
            rec,
            line,
            "copilot_daily",
        ):
            return
        add = self.daily.add
        add(
            base=base,
            breakdown="total",
            line=line,
            raw=_dumps({k: v for k, v in rec.items() if not k.startswith("totals_by_")}),
            active_users=rec.get("daily_active_users"),
            **_activity(rec),
        )
        dims_of = {
            "totals_by_ide": ("ide", {"editor": "ide"}),
            "totals_by_feature": ("feature", {"feature": "feature"}),
            "totals_by_language_feature": (
                "language_feature",
                {"language": "language", "feature": "feature"},
            ),
            "totals_by_language_model": (
                "language_model",
                {"language": "language", "model": "model"},
            ),
            "totals_by_model_feature": ("model_feature", {"model": "model", "feature": "feature"}),
        }
        for key, cells in sections.items():
            breakdown, dims = dims_of[key]
            for cell in cells:
                add(
                    base=base,
                    breakdown=breakdown,
                    line=line,
                    raw=_dumps(cell),
                    **{col: cell.get(src) for col, src in dims.items()},
                    **_activity(cell),
                )
        if cli is not None:
            add(
                base=base,
                breakdown="cli",
                feature="copilot_cli",
                line=line,
                raw=_dumps(cli),
                interactions=cli.get("prompt_count"),
                active_users=rec.get("daily_active_cli_users"),
            )

    def _user(self, rec: dict[str, Any], line: int, container: dict[str, Any]) -> None:
        table = "copilot_user_daily"
        day = rec.get("day")
        if not _present(day):
            start = container.get("report_start_day", rec.get("report_start_day"))
            end = container.get("report_end_day", rec.get("report_end_day"))
            single = container.get("report_day", rec.get("report_day"))
            if _present(single):
                day = single
            elif _present(start) and start == end:
                day = start
            elif _present(start) and _present(end):
                self._user_row(rec, line, container, period=(str(start), str(end)))
                return
            else:
                self._issue(
                    "missing_field",
                    "user record without 'day'",
                    line=line,
                    field="day",
                    table=table,
                    raw=rec,
                )
                return
        self._user_row(rec, line, container, day=str(day))

    def _user_row(
        self,
        rec: dict[str, Any],
        line: int,
        container: dict[str, Any],
        *,
        day: str | None = None,
        period: tuple[str, str] | None = None,
    ) -> None:
        """One user record: a day row, or a period row when the report covers many days."""
        table = "copilot_user_daily" if period is None else "copilot_user_period"
        for section in ("totals_by_ide", "totals_by_feature"):
            _list(rec, section, "")
        user_id = rec.get("user_id")
        login = rec.get("user_login", rec.get("login"))
        if not _present(user_id):
            self._issue(
                "missing_field",
                "user record without 'user_id'",
                line=line,
                field="user_id",
                table=table,
                raw=rec,
            )
            return
        scope, scope_id = self._scope(rec, container)
        when: tuple[str, ...] = (str(day),) if period is None else period
        key = (API_USAGE_METRICS, scope, scope_id, *when, str(user_id))
        if not self._first_time(("user", *key), rec, line, table):
            return
        interactions = rec.get("user_initiated_interaction_count")
        generations = rec.get("code_generation_activity_count")
        acceptances = rec.get("code_acceptance_activity_count")
        timing: dict[str, Any] = (
            {"day": day} if period is None else {"period_start": period[0], "period_end": period[1]}
        )
        target = self.users if period is None else self.user_periods
        target[key] = {
            "api": API_USAGE_METRICS,
            "scope": scope,
            "scope_id": scope_id,
            **timing,
            "user_id": str(user_id),
            "user_login": None if login is None else str(login),
            "interactions": interactions,
            "generations": generations,
            "acceptances": acceptances,
            "acceptance_rate": acceptance_rate(acceptances, generations),
            "loc_suggested_to_add": rec.get("loc_suggested_to_add_sum"),
            "loc_added": rec.get("loc_added_sum"),
            "loc_deleted": rec.get("loc_deleted_sum"),
            "used_chat": rec.get("used_chat"),
            "used_agent": rec.get("used_agent"),
            "used_cli": rec.get("used_cli"),
            "active": (
                interactions > 0
                if isinstance(interactions, int | float) and not isinstance(interactions, bool)
                else None
            ),
            "source_file": self._source,
            LINE_COLUMN: line,
            RAW_COLUMN: _dumps({k: v for k, v in rec.items() if not k.startswith("totals_by_")}),
        }

    # -- seats ----------------------------------------------------------------------------

    def _seats(self, payload: dict[str, Any], line_fn: Callable[[], int]) -> None:
        for seat in payload["seats"]:
            line = line_fn()
            self.records += 1
            if not isinstance(seat, dict):
                self._issue(
                    "invalid_shape",
                    f"seat is {type(seat).__name__}, not an object",
                    line=line,
                    table="copilot_seats",
                    raw=seat,
                )
                continue
            assignee = seat.get("assignee")
            team = seat.get("assigning_team")
            if not isinstance(assignee, dict):
                self._issue(
                    "missing_field" if assignee is None else "invalid_shape",
                    "seat without an assignee object",
                    line=line,
                    field="assignee",
                    table="copilot_seats",
                    raw=seat,
                )
                continue
            login = assignee.get("login", assignee.get("slug", assignee.get("name")))
            scope, _ = self._scope(seat, payload)
            scope_id = next(
                (
                    v
                    for v in (
                        seat.get("organization_id"),
                        seat.get("enterprise_id"),
                        payload.get("organization_id"),
                        payload.get("enterprise_id"),
                    )
                    if _present(v)
                ),
                "",
            )
            self.seats.append(
                {
                    "scope": scope,
                    "scope_id": str(scope_id),
                    "user_login": login,
                    "user_id": None if assignee.get("id") is None else str(assignee["id"]),
                    "plan_type": seat.get("plan_type"),
                    "team": team.get("slug", team.get("name")) if isinstance(team, dict) else None,
                    "created_at": normalize_timestamp(seat.get("created_at")),
                    "last_activity_at": normalize_timestamp(seat.get("last_activity_at")),
                    "last_activity_editor": seat.get("last_activity_editor"),
                    "source_file": self._source,
                    LINE_COLUMN: line,
                    RAW_COLUMN: _dumps(seat),
                }
            )

    # -- result ---------------------------------------------------------------------------

    def result(self) -> ParsedFile:
        batches: list[ParsedBatch] = []
        if self.daily.rows:
            batches.append(ParsedBatch("copilot_daily", self.daily.table()))
        if self.users:
            cols = (*schema.COPILOT_USER_DAILY.column_names, LINE_COLUMN, RAW_COLUMN)
            batches.append(
                ParsedBatch("copilot_user_daily", rows_to_table(list(self.users.values()), cols))
            )
        if self.user_periods:
            cols = (*schema.COPILOT_USER_PERIOD.column_names, LINE_COLUMN, RAW_COLUMN)
            batches.append(
                ParsedBatch(
                    "copilot_user_period", rows_to_table(list(self.user_periods.values()), cols)
                )
            )
        if self.seats:
            cols = (*schema.COPILOT_SEATS.column_names, LINE_COLUMN, RAW_COLUMN)
            batches.append(ParsedBatch("copilot_seats", rows_to_table(self.seats, cols)))
        return ParsedFile(format=NAME, batches=batches, issues=self.issues, rows_read=self.records)


def _constant(value: int) -> Callable[[], int]:
    return lambda: value


def _activity(cell: dict[str, Any]) -> dict[str, Any]:
    """The current API's activity counts of one cell, in copilot_daily's columns."""
    return {
        "suggestions": cell.get("code_generation_activity_count"),
        "acceptances": cell.get("code_acceptance_activity_count"),
        "lines_suggested": cell.get("loc_suggested_to_add_sum"),
        "loc_added": cell.get("loc_added_sum"),
        "loc_deleted": cell.get("loc_deleted_sum"),
        "interactions": cell.get("user_initiated_interaction_count"),
    }


def _classify(rec: dict[str, Any]) -> str | None:
    """'usage', 'metrics', 'usage_metrics', 'user' or None for a day record."""
    keys = rec.keys()
    if keys & _METRICS_KEYS:
        return API_METRICS
    if keys & _LEGACY_KEYS or ("breakdown" in keys and "day" in keys):
        return API_USAGE
    if keys & _USAGE_METRICS_KEYS:
        return "user" if any(k in keys for k in _USER_KEYS) else API_USAGE_METRICS
    if "total_engaged_users" in keys and "date" in keys:
        return API_METRICS
    return None
