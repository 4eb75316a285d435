"""Continue's local dev-data log (``~/.continue/dev_data/0.2.0/autocomplete.jsonl``).

Continue (continuedev/continue) appends one JSON object a line for every tab-autocomplete
outcome: after the suggestion is accepted, or 10 s after it was displayed without
being accepted (then ``accepted`` is false). The fields, as in Continue's zod schemas
``packages/config-yaml/src/schemas/data/autocomplete`` (dev-data schema 0.2.0):
``eventName`` ("autocomplete"), ``schema``/``schemaVersion``, ``timestamp`` (ISO-8601,
epoch milliseconds in older releases), ``userId``, ``userAgent``
(``"<IDE name>/<IDE version> (Continue/<extension version>)"``), ``selectedProfileId``,
``accepted``, ``time`` (ms to produce the completion), ``prefix``, ``suffix``,
``prompt``, ``completion``, ``modelProvider``, ``modelName``, ``completionOptions``,
``cacheHit``, ``filepath`` (a path or ``file://`` URI), ``gitRepo``, ``completionId``,
``uniqueId`` (the machine id), the autocomplete options in force (``debounceDelay``,
``maxPromptTokens``, ``useCache``, ...) and, in newer releases, ``sessionId``,
``createdAt`` and ``platform``.

Mapping to ``suggestions`` (one row per ``completionId``):

==================  ==========================================================
column              from
==================  ==========================================================
suggestion_id       ``completionId``
user_id             ``userId``; when empty, ``continue-<uniqueId>`` (one machine);
                    else ``continue-local``
session_id          ``sessionId`` when logged; else derived, see below
shown_at            ``timestamp`` (UTC). Continue stamps the time the outcome was
                    *logged*: up to ~10 s after display for a rejection
model_version       ``"<modelProvider>/<modelName>"`` (``modelName`` alone without
                    a provider)
language            file extension of ``filepath`` → schema.LANGUAGES ('other')
trigger             ``automatic`` (tab autocomplete fires while typing)
latency_ms          ``time``
suggested_chars     ``len(completion)``
suggested_lines     ``numLines`` when logged, else the lines of ``completion``
prompt_tokens       None (not logged)
outcome             ``accepted`` true → ``accepted``, false → ``rejected``
accepted_chars      suggested_chars when accepted, else 0 (likewise accepted_lines)
completion_text     ``completion``
==================  ==========================================================

The same ``completionId`` can be logged twice: Continue logs a rejection when its 10-s
timer fires and still logs the acceptance if the developer then takes the suggestion.
Such records are merged into one suggestion: accepted if any record says so, shown at
the earliest timestamp, the other fields from the first record.

Derived parents, returned with ``upsert_parents=True`` (rows whose key is already in the
warehouse are left as they are):

* ``sessions``: Continue's ``sessionId`` when present; otherwise a new session starts
  after :data:`SESSION_GAP_MINUTES` minutes without a suggestion from the same user, and
  its id is ``continue-`` + a hash of (user, first timestamp), so re-reading the same file
  gives the same ids. started_at/ended_at are the first/last suggestion, editor the
  editor of the first one, language the most frequent, active_minutes the number of
  distinct clock minutes with a suggestion; task_type, repo_size_loc and typed_chars
  are not logged (None).
* ``users``: one per user_id; editor and primary_language the most frequent in the
  file, signup_at the first suggestion seen, team None and ``segment`` =
  :data:`DEFAULT_SEGMENT`, because the log says nothing about experience and the schema
  requires one of its segments (an analysis by segment must leave these users out).

Editor from ``userAgent``: VS Code and its forks (Cursor, VSCodium, Windsurf, Code - OSS)
→ ``vscode``; IntelliJ-platform IDEs (IntelliJ IDEA, PyCharm, WebStorm, GoLand, Android
Studio, ...) → ``jetbrains``; Neovim, Vim, Emacs, Visual Studio, Xcode by name; anything
else → ``other``.

Problems: a line that is not JSON → ``invalid_json``; not an object → ``unknown_shape``;
an autocomplete record without completionId, timestamp, accepted, completion, modelName
or time → ``missing_field`` (naming the first); an unparseable timestamp →
``invalid_timestamp``; ``accepted`` neither true nor false → ``invalid_value``; each
with its line number. Records of other events (chat, edit, tokensGenerated, ...) are not
suggestions: they are counted in one ``ignored_events`` issue (no line), not loaded.
``rows_read`` counts the non-empty lines.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from codex_ds.telemetry.formats.copilot import load_text

NAME = "continue"

#: Minutes without a suggestion after which a derived session ends.
SESSION_GAP_MINUTES = 30
#: Segment given to users seen only in Continue's log (the schema requires one).
DEFAULT_SEGMENT = "intermediate"
#: user_id when the log has neither a userId nor a machine id.
LOCAL_USER = "continue-local"

_REQUIRED = ("completionId", "timestamp", "accepted", "completion", "modelName", "time")

#: File extension (lower case, without the dot) → schema language.
EXTENSION_LANGUAGES: dict[str, str] = {
    **dict.fromkeys(("py", "pyi", "pyw", "pyx", "ipynb"), "python"),
    **dict.fromkeys(("js", "mjs", "cjs", "jsx"), "javascript"),
    **dict.fromkeys(("ts", "mts", "cts", "tsx"), "typescript"),
    "java": "java",
    "go": "go",
    "rs": "rust",
    **dict.fromkeys(("cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "ipp", "tpp"), "cpp"),
    **dict.fromkeys(("c", "h"), "c"),
    "cs": "csharp",
    **dict.fromkeys(("rb", "rake", "gemspec"), "ruby"),
    "php": "php",
    **dict.fromkeys(("kt", "kts"), "kotlin"),
    "swift": "swift",
    **dict.fromkeys(("scala", "sc"), "scala"),
    **dict.fromkeys(("sh", "bash", "zsh", "ksh", "fish"), "shell"),
    "sql": "sql",
    **dict.fromkeys(("html", "htm", "xhtml"), "html"),
    **dict.fromkeys(("css", "scss", "sass", "less"), "css"),
    **dict.fromkeys(("md", "markdown", "mdx"), "markdown"),
    **dict.fromkeys(("yml", "yaml"), "yaml"),
    **dict.fromkeys(("json", "jsonc", "json5", "jsonl"), "json"),
}

_SNIFF_EVENT = re.compile(rb'"eventName"\s*:')
_SNIFF_AUTOCOMPLETE = re.compile(rb'"(completionId|modelProvider|cacheHit)"\s*:')
_SNIFF_CONTINUE = re.compile(rb'"userAgent"\s*:\s*"[^"\n]*\(Continue/|"(schema|schemaVersion)"\s*:')


def sniff(path: Path, head: bytes) -> bool:
    """True when ``head`` is a Continue dev-data log (JSON Lines).

    Its first non-empty line must be a JSON object with ``eventName`` and a Continue
    marker (a ``userAgent`` ending ``(Continue/x.y.z)``, a ``schema`` version, or the
    autocomplete fields ``completionId``/``modelProvider``/``cacheHit``), or an
    autocomplete outcome without ``eventName`` (dev-data 0.1.0).

    >>> line = b'{"eventName": "autocomplete", "completionId": "c1", "accepted": true}'
    >>> sniff(Path("autocomplete.jsonl"), line)
    True
    >>> sniff(Path("x.json"), b'[{"day": "2024-01-01", "total_suggestions_count": 3}]')
    False
    """
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return False
    first = text.split(b"\n", 1)[0]
    if _SNIFF_EVENT.search(first):
        return bool(_SNIFF_AUTOCOMPLETE.search(first) or _SNIFF_CONTINUE.search(first))
    return all(
        re.search(rb'"%s"\s*:' % key, first)
        for key in (b"completionId", b"modelProvider", b"modelName", b"completion")
    )


def read(path: Path) -> ParsedFile:
    """Read a Continue dev-data log into suggestions plus derived users and sessions."""
    path = Path(path)
    text = load_text(path)
    issues: list[ParseIssue] = []
    events: dict[str, _Event] = {}
    ignored: Counter[str] = Counter()
    rows_read = 0
    parsed_any = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        rows_read += 1
        raw = _truncate(line)
        try:
            rec = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            issues.append(
                ParseIssue(
                    "invalid_json",
                    f"line {lineno} is not JSON: {exc}",
                    line=lineno,
                    table="suggestions",
                    raw=raw,
                )
            )
            continue
        parsed_any = True
        if not isinstance(rec, dict):
            issues.append(
                ParseIssue(
                    "unknown_shape",
                    f"line {lineno} is a JSON {type(rec).__name__}, not an object",
                    line=lineno,
                    table="suggestions",
                    raw=raw,
                )
            )
            continue
        name = rec.get("eventName", "autocomplete" if "completionId" in rec else None)
        if name != "autocomplete":
            ignored[str(name)] += 1
            continue
        event = _event(rec, lineno, raw, issues)
        if event is None:
            continue
        previous = events.get(event.suggestion_id)
        if previous is None:
            events[event.suggestion_id] = event
        else:
            previous.merge(event)
    if not parsed_any:
        raise FormatError(f"{path}: no line is JSON; not a Continue dev-data log")
    if ignored:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(ignored.items()))
        issues.append(
            ParseIssue(
                "ignored_events",
                f"{sum(ignored.values())} records of other events were not loaded ({counts}); "
                "only autocomplete outcomes map to suggestions",
            )
        )
    batches = _batches(list(events.values()))
    return ParsedFile(format=NAME, batches=batches, issues=issues, rows_read=rows_read)


# ---------------------------------------------------------------------------- records


@dataclass
class _Event:
    suggestion_id: str
    user_id: str
    continue_session: str | None
    shown_at: datetime
    model_version: str
    language: str
    editor: str
    latency_ms: Any
    completion: str
    suggested_lines: Any
    accepted: bool
    line: int
    raw: str
    session_id: str = ""

    def merge(self, other: _Event) -> None:
        """Fold a second record of the same completion into this one."""
        self.accepted = self.accepted or other.accepted
        self.shown_at = min(self.shown_at, other.shown_at)

    def suggestion_row(self) -> dict[str, Any]:
        chars = len(self.completion)
        lines = self.suggested_lines
        return {
            "suggestion_id": self.suggestion_id,
            "session_id": self.session_id,
            "user_id": self.user_id,
            "shown_at": self.shown_at,
            "model_version": self.model_version,
            "language": self.language,
            "trigger": "automatic",
            "latency_ms": self.latency_ms,
            "suggested_chars": chars,
            "suggested_lines": lines,
            "prompt_tokens": None,
            "outcome": "accepted" if self.accepted else "rejected",
            "accepted_chars": chars if self.accepted else 0,
            "accepted_lines": lines if self.accepted else 0,
            "prompt_id": None,
            "completion_text": self.completion,
            LINE_COLUMN: self.line,
            RAW_COLUMN: self.raw,
        }


def _event(rec: dict[str, Any], lineno: int, raw: str, issues: list[ParseIssue]) -> _Event | None:
    missing = [k for k in _REQUIRED if rec.get(k) is None or rec.get(k) == ""]
    if "completion" in missing and rec.get("completion") == "":
        missing.remove("completion")  # an empty completion is a completion
    if missing:
        issues.append(
            ParseIssue(
                "missing_field",
                f"autocomplete record on line {lineno} lacks {', '.join(missing)}",
                line=lineno,
                field=missing[0],
                table="suggestions",
                raw=raw,
            )
        )
        return None
    shown_at = parse_timestamp(rec["timestamp"])
    if shown_at is None:
        issues.append(
            ParseIssue(
                "invalid_timestamp",
                f"timestamp {rec['timestamp']!r} on line {lineno} is neither ISO-8601 nor "
                "epoch milliseconds",
                line=lineno,
                field="timestamp",
                table="suggestions",
                raw=raw,
            )
        )
        return None
    flag = rec["accepted"]
    accepted = flag if isinstance(flag, bool) else {"true": True, "false": False}.get(str(flag))
    if accepted is None:
        issues.append(
            ParseIssue(
                "invalid_value",
                f"accepted = {rec['accepted']!r} on line {lineno} is not true or false",
                line=lineno,
                field="accepted",
                table="suggestions",
                raw=raw,
            )
        )
        return None
    completion = rec["completion"]
    if not isinstance(completion, str):
        completion = str(completion)
    provider = rec.get("modelProvider")
    model = str(rec["modelName"])
    user = rec.get("userId")
    machine = rec.get("uniqueId")
    if isinstance(user, str | int) and str(user).strip():
        user_id = str(user).strip()
    elif isinstance(machine, str | int) and str(machine).strip():
        user_id = f"continue-{str(machine).strip()}"
    else:
        user_id = LOCAL_USER
    session = rec.get("sessionId")
    num_lines = rec.get("numLines")
    return _Event(
        suggestion_id=str(rec["completionId"]),
        user_id=user_id,
        continue_session=str(session) if isinstance(session, str | int) and session else None,
        shown_at=shown_at,
        model_version=f"{provider}/{model}" if provider else model,
        language=language_of(rec.get("filepath")),
        editor=editor_of(rec.get("userAgent")),
        latency_ms=rec["time"],
        completion=completion,
        suggested_lines=num_lines if num_lines is not None else count_lines(completion),
        accepted=accepted,
        line=lineno,
        raw=raw,
    )


def parse_timestamp(value: Any) -> datetime | None:
    """A naive-UTC datetime from ISO-8601 text or epoch milliseconds (seconds if small).

    >>> parse_timestamp("2025-03-04T10:15:00.000Z")
    datetime.datetime(2025, 3, 4, 10, 15)
    >>> parse_timestamp(1741083300000)
    datetime.datetime(2025, 3, 4, 10, 15)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return parse_timestamp(float(text))
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            return None
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        return ts
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 1e11 else value
        try:
            return datetime(1970, 1, 1) + timedelta(seconds=seconds)
        except OverflowError:
            return None
    return None


def count_lines(text: str) -> int:
    """Lines of a completion: 0 when empty, else newlines + 1.

    >>> count_lines(""), count_lines("x = 1"), count_lines("if x:\\n    y()")
    (0, 1, 2)
    """
    return 0 if not text else text.count("\n") + 1


def language_of(filepath: Any) -> str:
    """Schema language of a file path or ``file://`` URI, by extension ('other').

    >>> language_of("file:///home/ana/src/app/main.tsx")
    'typescript'
    >>> language_of("C:\\\\work\\\\Makefile")
    'other'
    """
    if not isinstance(filepath, str) or not filepath:
        return "other"
    path = unquote(urlparse(filepath).path) if "://" in filepath else filepath
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    if "." not in name:
        return "other"
    return EXTENSION_LANGUAGES.get(name.rsplit(".", 1)[1], "other")


_JETBRAINS = re.compile(
    r"intellij|pycharm|webstorm|goland|clion|rider|phpstorm|rubymine|datagrip|rustrover|"
    r"android studio|appcode|dataspell|aqua|fleet|jetbrains",
    re.IGNORECASE,
)
_VSCODE = re.compile(
    r"visual studio code|^code\b|vscode|vscodium|cursor|windsurf|code - oss", re.IGNORECASE
)


def editor_of(user_agent: Any) -> str:
    """Schema editor of a Continue ``userAgent`` (``"<IDE>/<version> (Continue/x)"``).

    >>> editor_of("Visual Studio Code/1.96.2 (Continue/0.8.66)")
    'vscode'
    >>> editor_of("PyCharm/2024.3 (Continue/0.0.83)")
    'jetbrains'
    >>> editor_of("Unknown/Unknown (Continue/Unknown)")
    'other'
    """
    if not isinstance(user_agent, str):
        return "other"
    ide = user_agent.split("(", 1)[0].rsplit("/", 1)[0].strip() or user_agent
    if _VSCODE.search(ide):
        return "vscode"
    if _JETBRAINS.search(ide):
        return "jetbrains"
    lowered = ide.lower()
    for needle, editor in (
        ("neovim", "neovim"),
        ("nvim", "neovim"),
        ("vim", "vim"),
        ("emacs", "emacs"),
        ("visual studio", "visual_studio"),
        ("xcode", "xcode"),
    ):
        if needle in lowered:
            return editor
    return "other"


# ---------------------------------------------------------------------------- parents


def _most_common(values: list[str]) -> str:
    """The most frequent value; ties go to the one seen first."""
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def _derived_session_id(user_id: str, started_at: datetime) -> str:
    digest = hashlib.sha256(f"{user_id}|{started_at.isoformat()}".encode()).hexdigest()
    return f"continue-{digest[:24]}"


def _assign_sessions(events: list[_Event]) -> dict[str, list[_Event]]:
    """Set each event's session_id; return the events of each session in time order."""
    sessions: dict[str, list[_Event]] = {}
    by_user: dict[str, list[_Event]] = {}
    for ev in sorted(events, key=lambda e: (e.shown_at, e.line)):
        if ev.continue_session is not None:
            ev.session_id = ev.continue_session
            sessions.setdefault(ev.session_id, []).append(ev)
        else:
            by_user.setdefault(ev.user_id, []).append(ev)
    gap = timedelta(minutes=SESSION_GAP_MINUTES)
    for user_id, user_events in by_user.items():
        current: list[_Event] = []
        for ev in user_events:
            if current and ev.shown_at - current[-1].shown_at > gap:
                _close(user_id, current, sessions)
                current = []
            current.append(ev)
        if current:
            _close(user_id, current, sessions)
    return sessions


def _close(user_id: str, members: list[_Event], sessions: dict[str, list[_Event]]) -> None:
    session_id = _derived_session_id(user_id, members[0].shown_at)
    for ev in members:
        ev.session_id = session_id
    sessions[session_id] = members


def _batches(events: list[_Event]) -> list[ParsedBatch]:
    if not events:
        return []
    sessions = _assign_sessions(events)
    session_rows = []
    for session_id, members in sessions.items():
        minutes = {ev.shown_at.replace(second=0, microsecond=0) for ev in members}
        session_rows.append(
            {
                "session_id": session_id,
                "user_id": members[0].user_id,
                "started_at": members[0].shown_at,
                "ended_at": members[-1].shown_at,
                "editor": members[0].editor,
                "language": _most_common([ev.language for ev in members]),
                "task_type": None,
                "repo_size_loc": None,
                "active_minutes": float(len(minutes)),
                "typed_chars": None,
                LINE_COLUMN: min(ev.line for ev in members),
            }
        )
    by_user: dict[str, list[_Event]] = {}
    for ev in sorted(events, key=lambda e: (e.shown_at, e.line)):
        by_user.setdefault(ev.user_id, []).append(ev)
    user_rows = [
        {
            "user_id": user_id,
            "segment": DEFAULT_SEGMENT,
            "primary_language": _most_common([ev.language for ev in evs]),
            "editor": _most_common([ev.editor for ev in evs]),
            "team": None,
            "signup_at": evs[0].shown_at,
            LINE_COLUMN: min(ev.line for ev in evs),
        }
        for user_id, evs in by_user.items()
    ]
    suggestion_rows = [ev.suggestion_row() for ev in sorted(events, key=lambda e: e.line)]
    return [
        ParsedBatch(
            "users",
            _table(user_rows, (*schema.USERS.column_names, LINE_COLUMN)),
            upsert_parents=True,
        ),
        ParsedBatch(
            "sessions",
            _table(session_rows, (*schema.SESSIONS.column_names, LINE_COLUMN)),
            upsert_parents=True,
        ),
        ParsedBatch(
            "suggestions",
            _table(suggestion_rows, (*schema.SUGGESTIONS.column_names, LINE_COLUMN, RAW_COLUMN)),
        ),
    ]


_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
}


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pa.Table:
    """Arrow table with the schema's types where every value fits, else text.

    A value of the wrong type (``"time": "fast"``) turns its column into text, so that
    validation casts it and quarantines the row with its field instead of this reader
    failing.
    """
    arrays: dict[str, pa.Array] = {}
    for name in columns:
        values = [row.get(name) for row in rows]
        dtype = _column_type(name)
        try:
            arrays[name] = pa.array(values, type=dtype)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            arrays[name] = pa.array(
                [None if v is None else v if isinstance(v, str) else _text(v) for v in values],
                type=pa.string(),
            )
    return pa.table(arrays)


def _column_type(name: str) -> pa.DataType | None:
    if name == LINE_COLUMN:
        return pa.int64()
    if name == RAW_COLUMN:
        return pa.string()
    for table in (schema.SUGGESTIONS, schema.SESSIONS, schema.USERS):
        if name in table.column_names:
            return _TYPES[table.column(name).dtype]
    return None


def _text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _truncate(text: str) -> str:
    return text if len(text) <= RAW_KEEP_CHARS else text[:RAW_KEEP_CHARS]
