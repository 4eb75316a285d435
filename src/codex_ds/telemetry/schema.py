"""The telemetry schema: one source of truth for tables, types, vocabularies and checks.

Everything else is generated from the dataclasses below: the DuckDB DDL
(:func:`ddl`), the validation rules used by ingestion (:func:`Column.checks`) and
the reference page ``docs/telemetry_schema.md`` (:func:`render_markdown`; a test
fails when the committed page drifts from it).

>>> SUGGESTIONS.column("outcome").allowed
('accepted', 'partially_accepted', 'rejected', 'not_shown')
>>> TABLES["persistence"].primary_key
('suggestion_id', 'check_after_s')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SCHEMA_VERSION = 1

DType = Literal["VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "TIMESTAMP", "DATE"]
TableGroup = Literal["events", "copilot", "system", "derived", "evaluation"]

#: Earliest timestamp accepted by validation (before it, a clock or a parser is wrong).
EARLIEST_TIMESTAMP = "2015-01-01 00:00:00"
#: Tolerance for clock skew when rejecting timestamps in the future.
FUTURE_TOLERANCE_HOURS = 24

SEGMENTS = ("beginner", "intermediate", "expert", "unknown")
LANGUAGES = (
    "python",
    "javascript",
    "typescript",
    "java",
    "go",
    "rust",
    "cpp",
    "c",
    "csharp",
    "ruby",
    "php",
    "kotlin",
    "swift",
    "scala",
    "shell",
    "sql",
    "html",
    "css",
    "markdown",
    "yaml",
    "json",
    "other",
)
EDITORS = ("vscode", "jetbrains", "neovim", "vim", "visual_studio", "xcode", "emacs", "other")
TASK_TYPES = ("feature", "bugfix", "refactor", "test", "docs", "exploration")
TRIGGERS = ("automatic", "manual", "comment")
OUTCOMES = ("accepted", "partially_accepted", "rejected", "not_shown")
PERSISTENCE_CHECKPOINTS_S = (30, 120, 300, 600)
RUN_KINDS = ("build", "test")
ERROR_TYPES = (
    "none",
    "syntax_error",
    "name_error",
    "attribute_error",
    "import_error",
    "type_error",
    "runtime_error",
    "assertion_failure",
    "timeout",
)
SURVEY_ITEMS = (
    "perceived_productivity",
    "faster_completion",
    "stay_in_flow",
    "less_frustration",
    "focus_on_satisfying_work",
    "less_time_searching",
)
COPILOT_APIS = ("usage", "metrics", "usage_metrics")
COPILOT_SCOPES = ("organization", "enterprise", "team", "unknown")


@dataclass(frozen=True)
class Column:
    """One column: its type, unit, vocabulary, range, nullability and meaning."""

    name: str
    dtype: DType
    description: str
    nullable: bool = False
    unit: str | None = None
    allowed: tuple[str | int, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    references: str | None = None  # "table.column"
    max_length: int | None = None
    #: DuckDB compression of a text column, when known from what the column holds
    #: (see :attr:`storage`); None lets DuckDB choose per segment.
    compression: Literal["dictionary", "fsst"] | None = None

    @property
    def storage(self) -> str | None:
        """Compression the DDL fixes for this column (``USING COMPRESSION``), or None.

        A vocabulary column is a handful of distinct values: dictionary. Columns that
        say so themselves (repeated references, unique ids) take theirs. Fixing the
        method skips DuckDB's trial of every method on every segment, about a fifth
        of the cost of a bulk insert into ``suggestions``, for the method it picks
        anyway on such columns.
        """
        if self.compression is not None:
            return self.compression
        if self.dtype == "VARCHAR" and self.allowed is not None:
            return "dictionary"
        return None

    def checks(self) -> list[str]:
        """Human-readable list of the rules that ingestion enforces on this column."""
        rules = [f"type {self.dtype}"]
        if not self.nullable:
            rules.append("required")
        if self.allowed is not None:
            rules.append("one of " + ", ".join(str(v) for v in self.allowed))
        if self.minimum is not None:
            rules.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            rules.append(f"<= {self.maximum:g}")
        if self.dtype == "TIMESTAMP":
            rules.append(f"between {EARLIEST_TIMESTAMP[:10]} and now + {FUTURE_TOLERANCE_HOURS} h")
        if self.max_length is not None:
            rules.append(f"at most {self.max_length} characters")
        if self.references is not None:
            rules.append(f"references {self.references}")
        return rules


@dataclass(frozen=True)
class RowRule:
    """A rule between two columns of one row: ``column op other`` when both are present.

    A row that breaks it is quarantined on ``column`` with reason ``inconsistent``.
    """

    column: str
    op: Literal[">=", "<="]
    other: str

    def text(self) -> str:
        return f"{self.column} {self.op} {self.other}"


@dataclass(frozen=True)
class Table:
    """One warehouse table."""

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    group: TableGroup = "events"
    time_column: str | None = None  # used for date ranges and day partitioning
    parents: tuple[str, ...] = field(default=())  # tables that must load first
    row_rules: tuple[RowRule, ...] = field(default=())  # rules across columns of a row

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.nullable)

    def ddl(self) -> str:
        lines = []
        for c in self.columns:
            null = "" if c.nullable else " NOT NULL"
            using = f" USING COMPRESSION {c.storage}" if c.storage else ""
            lines.append(f"    {c.name} {c.dtype}{using}{null}")
        body = ",\n".join(lines)
        # The key is enforced by ingestion (an anti-join per batch), not by an index:
        # a DuckDB PRIMARY KEY builds an ART index that costs more than the bulk
        # loads it protects (see docs/benchmarks.md).
        key = f"-- unique key: ({', '.join(self.primary_key)})\n" if self.primary_key else ""
        return f"{key}CREATE TABLE IF NOT EXISTS {self.name} (\n{body}\n);"


def _c(name: str, dtype: DType, description: str, **kw: object) -> Column:
    return Column(name, dtype, description, **kw)  # type: ignore[arg-type]


USERS = Table(
    "users",
    "One row per developer who uses the assistant.",
    (
        _c("user_id", "VARCHAR", "Stable pseudonymous user id.", max_length=128),
        _c("segment", "VARCHAR", "Experience segment.", allowed=SEGMENTS),
        _c("primary_language", "VARCHAR", "Language the user writes most.", allowed=LANGUAGES),
        _c("editor", "VARCHAR", "Editor the user mostly works in.", allowed=EDITORS),
        _c("team", "VARCHAR", "Team or organisation unit.", nullable=True, max_length=128),
        _c("signup_at", "TIMESTAMP", "When the user first enabled the assistant (UTC)."),
    ),
    ("user_id",),
    time_column="signup_at",
)

SESSIONS = Table(
    "sessions",
    "A continuous period of editor activity by one user.",
    (
        _c("session_id", "VARCHAR", "Session id.", max_length=128),
        _c("user_id", "VARCHAR", "The user.", references="users.user_id"),
        _c("started_at", "TIMESTAMP", "Session start (UTC)."),
        _c("ended_at", "TIMESTAMP", "Session end (UTC); not before started_at."),
        _c("editor", "VARCHAR", "Editor of the session.", allowed=EDITORS),
        _c("language", "VARCHAR", "Dominant language of the session.", allowed=LANGUAGES),
        _c("task_type", "VARCHAR", "Kind of work.", allowed=TASK_TYPES, nullable=True),
        _c(
            "repo_size_loc",
            "BIGINT",
            "Size of the repository worked in.",
            unit="lines of code",
            minimum=0,
            nullable=True,
        ),
        _c(
            "active_minutes",
            "DOUBLE",
            "Minutes with editor activity (keystrokes or suggestion events) in the session.",
            unit="minutes",
            minimum=0,
            maximum=24 * 60,
        ),
        _c(
            "typed_chars",
            "BIGINT",
            "Characters typed by the developer (not inserted by the assistant).",
            unit="characters",
            minimum=0,
            nullable=True,
        ),
    ),
    ("session_id",),
    time_column="started_at",
    parents=("users",),
    row_rules=(RowRule("ended_at", ">=", "started_at"),),
)

SUGGESTIONS = Table(
    "suggestions",
    "One completion request: shown (or not) and then accepted, partially accepted or rejected.",
    (
        _c(
            "suggestion_id",
            "VARCHAR",
            "Suggestion (completion) id.",
            max_length=128,
            compression="fsst",
        ),
        _c(
            "session_id",
            "VARCHAR",
            "The session.",
            references="sessions.session_id",
            compression="dictionary",
        ),
        _c(
            "user_id",
            "VARCHAR",
            "The user.",
            references="users.user_id",
            compression="dictionary",
        ),
        _c("shown_at", "TIMESTAMP", "When the suggestion was requested / shown (UTC)."),
        _c(
            "model_version",
            "VARCHAR",
            "Model that produced the suggestion.",
            max_length=128,
            compression="dictionary",
        ),
        _c("language", "VARCHAR", "Language of the file.", allowed=LANGUAGES),
        _c("trigger", "VARCHAR", "What asked for the suggestion.", allowed=TRIGGERS),
        _c(
            "latency_ms",
            "DOUBLE",
            "Time from request to suggestion shown.",
            unit="ms",
            minimum=0,
            maximum=600_000,
        ),
        _c("suggested_chars", "INTEGER", "Length of the suggestion.", unit="characters", minimum=0),
        _c("suggested_lines", "INTEGER", "Lines in the suggestion.", unit="lines", minimum=0),
        _c(
            "prompt_tokens",
            "INTEGER",
            "Tokens of context sent to the model.",
            unit="tokens",
            minimum=0,
            nullable=True,
        ),
        _c("outcome", "VARCHAR", "What the developer did with it.", allowed=OUTCOMES),
        _c(
            "accepted_chars",
            "INTEGER",
            "Characters of the suggestion inserted (0 unless accepted).",
            unit="characters",
            minimum=0,
        ),
        _c(
            "accepted_lines",
            "INTEGER",
            "Lines of the suggestion inserted (0 unless accepted).",
            unit="lines",
            minimum=0,
        ),
        _c("prompt_id", "VARCHAR", "Prompt that produced it, if recorded.", nullable=True),
        _c(
            "completion_text",
            "VARCHAR",
            "The suggested text, where the source records it.",
            nullable=True,
            max_length=100_000,
        ),
    ),
    ("suggestion_id",),
    time_column="shown_at",
    parents=("users", "sessions"),
    row_rules=(
        RowRule("accepted_chars", "<=", "suggested_chars"),
        RowRule("accepted_lines", "<=", "suggested_lines"),
    ),
)

PERSISTENCE = Table(
    "persistence",
    "How much of an accepted suggestion survives, measured at fixed delays after acceptance "
    "(Ziegler et al. 2022).",
    (
        _c(
            "suggestion_id",
            "VARCHAR",
            "The accepted suggestion.",
            references="suggestions.suggestion_id",
        ),
        _c(
            "check_after_s",
            "INTEGER",
            "Delay after acceptance at which the text was compared.",
            unit="s",
            allowed=PERSISTENCE_CHECKPOINTS_S,
        ),
        _c(
            "checked_at",
            "TIMESTAMP",
            "When the check ran (UTC).",
        ),
        _c(
            "edit_distance",
            "INTEGER",
            "Levenshtein distance between the accepted text and the text now in its place.",
            unit="characters",
            minimum=0,
        ),
        _c(
            "edit_ratio",
            "DOUBLE",
            "edit_distance divided by the accepted length (0 = unchanged, 1 = rewritten).",
            minimum=0,
            maximum=1,
        ),
        _c("removed", "BOOLEAN", "The accepted text was deleted entirely."),
    ),
    ("suggestion_id", "check_after_s"),
    time_column="checked_at",
    parents=("suggestions",),
)

RUNS = Table(
    "runs",
    "A build or test run in a session, with its outcome and error.",
    (
        _c("run_id", "VARCHAR", "Run id.", max_length=128),
        _c("session_id", "VARCHAR", "The session.", references="sessions.session_id"),
        _c("user_id", "VARCHAR", "The user.", references="users.user_id"),
        _c("ran_at", "TIMESTAMP", "When the run started (UTC)."),
        _c("kind", "VARCHAR", "Build (compile) or test run.", allowed=RUN_KINDS),
        _c("language", "VARCHAR", "Language built or tested.", allowed=LANGUAGES),
        _c(
            "model_version",
            "VARCHAR",
            "Model whose suggestions were accepted in the session before the run.",
            nullable=True,
        ),
        _c("compile_ok", "BOOLEAN", "The code compiled / parsed."),
        _c("tests_passed", "INTEGER", "Tests that passed.", unit="tests", minimum=0),
        _c("tests_failed", "INTEGER", "Tests that failed.", unit="tests", minimum=0),
        _c(
            "error_type",
            "VARCHAR",
            "Class of the first error ('none' if none).",
            allowed=ERROR_TYPES,
        ),
        _c(
            "error_message",
            "VARCHAR",
            "First error message or traceback tail.",
            nullable=True,
            max_length=20_000,
        ),
        _c("duration_ms", "DOUBLE", "Run duration.", unit="ms", minimum=0, nullable=True),
    ),
    ("run_id",),
    time_column="ran_at",
    parents=("users", "sessions"),
)

PROMPTS = Table(
    "prompts",
    "Natural-language prompts (chat messages, comments that trigger completions) for NLP.",
    (
        _c("prompt_id", "VARCHAR", "Prompt id.", max_length=128),
        _c("session_id", "VARCHAR", "The session.", references="sessions.session_id"),
        _c("user_id", "VARCHAR", "The user.", references="users.user_id"),
        _c("created_at", "TIMESTAMP", "When the prompt was written (UTC)."),
        _c("language", "VARCHAR", "Programming language in context.", allowed=LANGUAGES),
        _c("text", "VARCHAR", "The prompt text.", max_length=1_000_000),
    ),
    ("prompt_id",),
    time_column="created_at",
    parents=("users", "sessions"),
)

EXPERIMENTS = Table(
    "experiments",
    "Declared randomised experiments.",
    (
        _c("experiment_id", "VARCHAR", "Experiment id.", max_length=128),
        _c("name", "VARCHAR", "Human-readable name."),
        _c("description", "VARCHAR", "Hypothesis and change under test.", nullable=True),
        _c("unit", "VARCHAR", "Randomisation unit.", allowed=("user",)),
        _c("control_variant", "VARCHAR", "Name of the control variant."),
        _c("started_at", "TIMESTAMP", "Start of exposure (UTC)."),
        _c("ended_at", "TIMESTAMP", "End of exposure (UTC), null while running.", nullable=True),
    ),
    ("experiment_id",),
    time_column="started_at",
    row_rules=(RowRule("ended_at", ">=", "started_at"),),
)

ASSIGNMENTS = Table(
    "assignments",
    "Which variant each unit was assigned to.",
    (
        _c(
            "experiment_id",
            "VARCHAR",
            "The experiment.",
            references="experiments.experiment_id",
        ),
        _c("user_id", "VARCHAR", "The randomised user.", references="users.user_id"),
        _c("variant", "VARCHAR", "Assigned variant.", max_length=128),
        _c("assigned_at", "TIMESTAMP", "When the assignment was made (UTC)."),
    ),
    ("experiment_id", "user_id"),
    time_column="assigned_at",
    parents=("experiments", "users"),
)

FEATURE_ADOPTION = Table(
    "feature_adoption",
    "Features users chose to adopt (observational, not randomised).",
    (
        _c("user_id", "VARCHAR", "The user.", references="users.user_id"),
        _c("feature", "VARCHAR", "Feature name, e.g. 'chat'.", max_length=128),
        _c("adopted", "BOOLEAN", "The user adopted the feature in the period."),
        _c("adopted_at", "TIMESTAMP", "When it was adopted (UTC).", nullable=True),
    ),
    ("user_id", "feature"),
    time_column="adopted_at",
    parents=("users",),
)

DEV_OUTCOMES = Table(
    "dev_outcomes",
    "Weekly delivery outcomes per user from version control (pull requests merged, lead time).",
    (
        _c("user_id", "VARCHAR", "The user.", references="users.user_id"),
        _c("week_start", "DATE", "Monday of the ISO week."),
        _c("prs_merged", "INTEGER", "Pull requests merged in the week.", unit="PRs", minimum=0),
        _c(
            "lead_time_hours",
            "DOUBLE",
            "Median hours from first commit to merge in the week.",
            unit="hours",
            minimum=0,
            nullable=True,
        ),
    ),
    ("user_id", "week_start"),
    time_column="week_start",
    parents=("users",),
)

SURVEY_RESPONSES = Table(
    "survey_responses",
    "Perceived-productivity survey answers on a 1-5 Likert scale (SPACE items).",
    (
        _c("response_id", "VARCHAR", "Response id.", max_length=128),
        _c("user_id", "VARCHAR", "The respondent.", references="users.user_id"),
        _c("submitted_at", "TIMESTAMP", "When the answer was given (UTC)."),
        _c("item", "VARCHAR", "Survey item.", allowed=SURVEY_ITEMS),
        _c(
            "score",
            "INTEGER",
            "Agreement, 1 (strongly disagree) to 5 (strongly agree).",
            minimum=1,
            maximum=5,
        ),
    ),
    ("response_id",),
    time_column="submitted_at",
    parents=("users",),
)

_COPILOT_KEY = (
    _c("api", "VARCHAR", "API generation the row came from.", allowed=COPILOT_APIS),
    _c("scope", "VARCHAR", "Level of the report.", allowed=COPILOT_SCOPES),
    _c("scope_id", "VARCHAR", "Organisation / enterprise id or slug ('' when absent)."),
    _c("day", "DATE", "Day of activity (UTC)."),
)

COPILOT_DAILY = Table(
    "copilot_daily",
    "GitHub Copilot metrics, one row per day and breakdown cell. 'breakdown' names the "
    "dimensions the row is split by; dimensions not split on hold 'all'. Rows of different "
    "breakdowns overlap and must never be summed together.",
    (
        *_COPILOT_KEY,
        _c(
            "breakdown",
            "VARCHAR",
            "Dimensions of this row, e.g. 'total', 'editor_language', 'editor_model_language', "
            "'ide', 'feature', 'language_feature', 'language_model', 'model_feature'.",
        ),
        _c("editor", "VARCHAR", "Editor / IDE ('all' when not split)."),
        _c("model", "VARCHAR", "Model ('all' when not split)."),
        _c("language", "VARCHAR", "Language ('all' when not split)."),
        _c("feature", "VARCHAR", "Copilot feature, e.g. code_completion, chat ('all')."),
        _c(
            "suggestions",
            "BIGINT",
            "Suggestions shown / code generations.",
            minimum=0,
            nullable=True,
        ),
        _c(
            "acceptances", "BIGINT", "Suggestions / generations accepted.", minimum=0, nullable=True
        ),
        _c(
            "acceptance_rate",
            "DOUBLE",
            "acceptances / suggestions (null when suggestions = 0).",
            minimum=0,
            nullable=True,
        ),
        _c("lines_suggested", "BIGINT", "Lines suggested.", unit="lines", minimum=0, nullable=True),
        _c("lines_accepted", "BIGINT", "Lines accepted.", unit="lines", minimum=0, nullable=True),
        _c(
            "loc_added",
            "BIGINT",
            "Lines added (current API).",
            unit="lines",
            minimum=0,
            nullable=True,
        ),
        _c(
            "loc_deleted",
            "BIGINT",
            "Lines deleted (current API).",
            unit="lines",
            minimum=0,
            nullable=True,
        ),
        _c(
            "interactions",
            "BIGINT",
            "User-initiated interactions (prompts, chats).",
            minimum=0,
            nullable=True,
        ),
        _c(
            "active_users",
            "BIGINT",
            "Distinct active users that day in this cell.",
            minimum=0,
            nullable=True,
        ),
        _c(
            "engaged_users",
            "BIGINT",
            "Distinct engaged users that day in this cell.",
            minimum=0,
            nullable=True,
        ),
        _c("chats", "BIGINT", "Chat turns (chat features).", minimum=0, nullable=True),
        _c("source_file", "VARCHAR", "File the row was read from."),
    ),
    ("api", "scope", "scope_id", "day", "breakdown", "editor", "model", "language", "feature"),
    group="copilot",
    time_column="day",
)

COPILOT_USER_DAILY = Table(
    "copilot_user_daily",
    "GitHub Copilot usage-metrics per user and day (current API user reports).",
    (
        *_COPILOT_KEY,
        _c("user_id", "VARCHAR", "GitHub user id."),
        _c("user_login", "VARCHAR", "GitHub login.", nullable=True),
        _c("interactions", "BIGINT", "user_initiated_interaction_count.", minimum=0, nullable=True),
        _c("generations", "BIGINT", "code_generation_activity_count.", minimum=0, nullable=True),
        _c("acceptances", "BIGINT", "code_acceptance_activity_count.", minimum=0, nullable=True),
        _c("acceptance_rate", "DOUBLE", "acceptances / generations.", minimum=0, nullable=True),
        _c("loc_suggested_to_add", "BIGINT", "Lines suggested to add.", minimum=0, nullable=True),
        _c("loc_added", "BIGINT", "Lines added.", minimum=0, nullable=True),
        _c("loc_deleted", "BIGINT", "Lines deleted.", minimum=0, nullable=True),
        _c("used_chat", "BOOLEAN", "Used chat that day.", nullable=True),
        _c("used_agent", "BOOLEAN", "Used agent mode that day.", nullable=True),
        _c("used_cli", "BOOLEAN", "Used the Copilot CLI that day.", nullable=True),
        _c("active", "BOOLEAN", "interactions > 0 (GitHub's definition of an active user)."),
        _c("source_file", "VARCHAR", "File the row was read from."),
    ),
    ("api", "scope", "scope_id", "day", "user_id"),
    group="copilot",
    time_column="day",
)

COPILOT_SEATS = Table(
    "copilot_seats",
    "Copilot seat assignments (snapshot), with the last activity of each seat.",
    (
        _c("scope", "VARCHAR", "Level of the seat listing.", allowed=COPILOT_SCOPES),
        _c("scope_id", "VARCHAR", "Organisation / enterprise ('' when absent)."),
        _c("user_login", "VARCHAR", "Assignee login."),
        _c("user_id", "VARCHAR", "Assignee id.", nullable=True),
        _c("plan_type", "VARCHAR", "Plan of the seat.", nullable=True),
        _c("team", "VARCHAR", "Assigning team slug.", nullable=True),
        _c("created_at", "TIMESTAMP", "Seat assigned at (UTC).", nullable=True),
        _c("last_activity_at", "TIMESTAMP", "Last Copilot activity (UTC).", nullable=True),
        _c("last_activity_editor", "VARCHAR", "Editor of the last activity.", nullable=True),
        _c("source_file", "VARCHAR", "File the row was read from."),
    ),
    ("scope", "scope_id", "user_login"),
    group="copilot",
    time_column="last_activity_at",
)

COPILOT_USER_PERIOD = Table(
    "copilot_user_period",
    "GitHub Copilot usage-metrics per user over a report period (user reports whose records "
    "carry no day, e.g. 28-day enterprise user totals). Never split into days.",
    (
        _c("api", "VARCHAR", "API generation the row came from.", allowed=COPILOT_APIS),
        _c("scope", "VARCHAR", "Level of the report.", allowed=COPILOT_SCOPES),
        _c("scope_id", "VARCHAR", "Organisation / enterprise id or slug ('' when absent)."),
        _c("period_start", "DATE", "First day of the report period."),
        _c("period_end", "DATE", "Last day of the report period."),
        *(
            c
            for c in COPILOT_USER_DAILY.columns
            if c.name not in ("api", "scope", "scope_id", "day")
        ),
    ),
    ("api", "scope", "scope_id", "period_start", "period_end", "user_id"),
    group="copilot",
    time_column="period_end",
    row_rules=(RowRule("period_end", ">=", "period_start"),),
)

QUARANTINE = Table(
    "quarantine",
    "Input rows that failed validation, with the reason; nothing is dropped silently.",
    (
        _c("ingest_id", "VARCHAR", "The ingest run (see ingest_files)."),
        _c("file", "VARCHAR", "Path of the input file."),
        _c(
            "line",
            "BIGINT",
            "1-based line (JSONL, CSV) or row (Parquet) number; null for a file-level error.",
            nullable=True,
        ),
        _c("target_table", "VARCHAR", "Table the row was meant for.", nullable=True),
        _c("field", "VARCHAR", "Field at fault, null when the whole row is.", nullable=True),
        _c("reason", "VARCHAR", "Machine-readable reason code."),
        _c("detail", "VARCHAR", "Human-readable explanation."),
        _c("raw", "VARCHAR", "The offending input (truncated to 2,000 characters).", nullable=True),
        _c("quarantined_at", "TIMESTAMP", "When it was quarantined (UTC)."),
    ),
    (),
    group="system",
    time_column="quarantined_at",
)

INGEST_FILES = Table(
    "ingest_files",
    "One row per ingested file; a file whose content hash is here is not loaded again.",
    (
        _c("ingest_id", "VARCHAR", "Ingest run id."),
        _c("file", "VARCHAR", "Path as given."),
        _c("sha256", "VARCHAR", "SHA-256 of the file's bytes."),
        _c("format", "VARCHAR", "Detected format."),
        _c("rows_read", "BIGINT", "Records read.", minimum=0),
        _c("rows_loaded", "BIGINT", "Records loaded.", minimum=0),
        _c("rows_duplicate", "BIGINT", "Records skipped as duplicates.", minimum=0),
        _c("rows_quarantined", "BIGINT", "Records quarantined.", minimum=0),
        _c("ingested_at", "TIMESTAMP", "When (UTC)."),
    ),
    ("sha256",),
    group="system",
    time_column="ingested_at",
)

PROMPT_STATUSES = ("ok", "empty", "binary", "non_english", "oversized")
PROMPT_SOURCES = ("telemetry", "humaneval", "builtin", "file")


def _count_column(name: str, description: str) -> Column:
    return _c(name, "INTEGER", description, minimum=0)


PROMPT_FEATURES = Table(
    "prompt_features",
    "Complexity features of each prompt (`codex-ds nlp prompts`; definitions in "
    "METHODOLOGY.md, NLP): telemetry prompts (prompt_id of `prompts`) and benchmark prompts "
    "(HumanEval and built-in task ids). Recomputed rows replace the old ones.",
    (
        _c("source", "VARCHAR", "Where the prompt comes from.", allowed=PROMPT_SOURCES),
        _c("prompt_id", "VARCHAR", "prompts.prompt_id or the task id.", max_length=256),
        _c("status", "VARCHAR", "Whether the text could be read as a prompt.",
           allowed=PROMPT_STATUSES),
        _count_column("n_chars", "Characters (Unicode code points)."),
        _count_column("n_lines", "Lines."),
        _count_column("n_tokens", "Code-aware tokens."),
        _count_column("n_words", "Words of prose (ASCII letters)."),
        _count_column("n_identifiers", "Code identifiers (snake_case, camelCase, a.b, f(, `x`)."),
        _count_column("n_code_symbols", "Operators and brackets."),
        _count_column("n_keywords", "Programming-vocabulary keywords."),
        _count_column("n_constraints", "Constraint cues (must, only, at most, O(n), 1 <= n...)."),
        _count_column("n_edge_cases", "Edge-case cues (empty, None, negative, ties, raise...)."),
        _count_column("n_examples", "Example markers (>>>, f(x) -> y, Input:, e.g.)."),
        _count_column("nesting", "Cues of nesting in the task (for each, nested, recursive...)."),
        _count_column("n_sentences", "Sentences."),
        _c("readability", "DOUBLE", "Flesch reading ease (null without words).", nullable=True),
        _c("complexity", "DOUBLE", "log2(1 + tokens) + constraints + edge cases + nesting.",
           minimum=0),
        _c("computed_at", "TIMESTAMP", "When the row was computed (UTC)."),
    ),
    ("source", "prompt_id"),
    group="derived",
    time_column="computed_at",
)

EVAL_PROVIDERS = ("simulated", "replay", "openai")
EVAL_RUN_STATUSES = ("running", "finished", "failed")
FAILURE_CLASSES = ("passed", "syntax", "runtime", "logical", "hallucination", "resource")

EVAL_RUNS = Table(
    "eval_runs",
    "One code-evaluation run (`codex-ds eval run`): a task set, a model (provider), samples per "
    "task and the sandbox it ran in. Rows of `eval_results` stream in while it runs; a run "
    "that was killed keeps status 'running' and resumes with `--resume RUN_ID`.",
    (
        _c("run_id", "VARCHAR", "Run id.", max_length=128),
        _c("created_at", "TIMESTAMP", "When the run started (UTC)."),
        _c("finished_at", "TIMESTAMP", "When the run finished (UTC).", nullable=True),
        _c("status", "VARCHAR", "Run status.", allowed=EVAL_RUN_STATUSES),
        _c("task_set", "VARCHAR", "Task set.", allowed=("builtin", "humaneval")),
        _c("tasks", "INTEGER", "Tasks in the run.", unit="tasks", minimum=0),
        _c("model", "VARCHAR", "Model spec, e.g. 'simulated:v1', 'openai:gpt-4o'."),
        _c("provider", "VARCHAR", "Provider of the completions.", allowed=EVAL_PROVIDERS),
        _c("provider_label", "VARCHAR", "Label shown in reports (says 'SIMULATED' when so)."),
        _c("n", "INTEGER", "Samples requested per task (replay: the most in the file).",
           minimum=0),
        _c("k_list", "VARCHAR", "The k of pass@k asked for, comma-separated."),
        _c("timeout_s", "DOUBLE", "CPU-time limit per sample; null = calibrated per task.",
           unit="s", minimum=0, nullable=True),
        _c("workers", "INTEGER", "Sandbox workers.", minimum=1),
        _c("isolation", "VARCHAR", "How samples were isolated (isolation_level())."),
        _c("params", "VARCHAR", "Provider parameters as JSON.", nullable=True),
        _c("samples_total", "BIGINT", "Samples generated.", minimum=0, nullable=True),
        _c("samples_passed", "BIGINT", "Samples that passed.", minimum=0, nullable=True),
        _c("error", "VARCHAR", "Why a failed run failed.", nullable=True),
    ),
    ("run_id",),
    group="evaluation",
)

EVAL_RESULTS = Table(
    "eval_results",
    "One verdict per sample of an evaluation run: the completion, the sandbox verdict and "
    "failure taxonomy, edit distance to the reference, code quality and generation metadata.",
    (
        _c("run_id", "VARCHAR", "The run.", references="eval_runs.run_id"),
        _c("task_id", "VARCHAR", "Task id ('HumanEval/0', 'builtin/python/roman_to_int')."),
        _c("sample_index", "INTEGER", "Sample number within the task.", minimum=0),
        _c("language", "VARCHAR", "Language of the task.",
           allowed=("python", "javascript", "cpp")),
        _c("category", "VARCHAR", "Task category."),
        _c("difficulty", "VARCHAR", "Task difficulty.", allowed=("easy", "medium", "hard")),
        _c("completion", "VARCHAR", "The completion that was run.", max_length=1_000_000),
        _c("passed", "BOOLEAN", "Every test passed."),
        _c("outcome", "VARCHAR", "Fine-grained verdict (see evaluation/failures.py)."),
        _c("failure_class", "VARCHAR", "Coarse class of the verdict.", allowed=FAILURE_CLASSES),
        _c("exception_type", "VARCHAR", "Exception or signal name, when there is one.",
           nullable=True),
        _c("detail", "VARCHAR", "Message of the failure (truncated).", nullable=True),
        _c("failing_test_index", "INTEGER", "0-based index of the first failing test.",
           minimum=0, nullable=True),
        _c("expected", "VARCHAR", "Expected value of the failing test, where known.",
           nullable=True),
        _c("actual", "VARCHAR", "Actual value of the failing test, where known.", nullable=True),
        _c("cpu_s", "DOUBLE", "CPU time of the sample in the sandbox.", unit="s", minimum=0),
        _c("wall_s", "DOUBLE", "Wall-clock time of the sample in the sandbox.", unit="s",
           minimum=0),
        _c("edit_distance", "DOUBLE", "Normalised character Levenshtein distance to the "
           "reference (0 = identical).", minimum=0, maximum=1),
        _c("token_edit_distance", "DOUBLE", "Normalised Levenshtein distance over code tokens "
           "to the reference.", minimum=0, maximum=1),
        _c("complexity", "INTEGER", "Cyclomatic complexity of the entry point (lizard).",
           minimum=0, nullable=True),
        _c("lint_findings", "INTEGER", "Lint findings in the completion (ruff for Python, "
           "light checks for JavaScript and C++).", minimum=0, nullable=True),
        _c("prompt_tokens", "INTEGER", "Prompt tokens reported by the provider.", minimum=0,
           nullable=True),
        _c("completion_tokens", "INTEGER", "Completion tokens reported by the provider.",
           minimum=0, nullable=True),
        _c("gen_latency_s", "DOUBLE", "Generation latency.", unit="s", minimum=0,
           nullable=True),
        _c("candidate_kind", "VARCHAR", "Simulated model only: the planted kind of candidate "
           "(correct, off_by_one, ...), the ground truth of the failure analysis.",
           nullable=True),
        _c("evaluated_at", "TIMESTAMP", "When the verdict was stored (UTC)."),
    ),
    ("run_id", "task_id", "sample_index"),
    group="evaluation",
    parents=("eval_runs",),
)

ALERTS = Table(
    "alerts",
    "Alerts of the daily monitors (`codex-ds monitor`): one row per monitor, dimension value "
    "and day whose value crossed its threshold in the bad direction. A rerun replaces the rows "
    "of the days it evaluates (no duplicates) and keeps the first detection time.",
    (
        _c("day", "DATE", "The day (UTC) the monitor evaluated."),
        _c(
            "monitor",
            "VARCHAR",
            "The monitor.",
            allowed=("acceptance_rate", "latency_p95", "test_pass_rate", "error_rate"),
        ),
        _c(
            "dimension",
            "VARCHAR",
            "The breakdown.",
            allowed=("overall", "language", "model_version"),
        ),
        _c("dimension_value", "VARCHAR", "The language or model version ('all' for overall)."),
        _c("value", "DOUBLE", "The day's value (a share, or ms for latency_p95)."),
        _c("baseline", "DOUBLE", "Robust weekday-aware baseline for the day."),
        _c("threshold", "DOUBLE", "The value beyond which the monitor alerts on that day."),
        _c("direction", "VARCHAR", "The bad direction that was crossed.", allowed=("up", "down")),
        _c("severity", "VARCHAR", "By robust z.", allowed=("warning", "critical")),
        _c("z", "DOUBLE", "Robust z: (value - baseline) / scale, on the monitor's scale."),
        _c("volume", "BIGINT", "Shown suggestions, test runs or runs behind the value.", minimum=0),
        _c("message", "VARCHAR", "One line for humans."),
        _c("detected_at", "TIMESTAMP", "When the alert was first written (UTC)."),
    ),
    ("monitor", "dimension", "dimension_value", "day"),
    group="system",
    time_column="day",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        USERS,
        SESSIONS,
        SUGGESTIONS,
        PERSISTENCE,
        RUNS,
        PROMPTS,
        EXPERIMENTS,
        ASSIGNMENTS,
        FEATURE_ADOPTION,
        DEV_OUTCOMES,
        SURVEY_RESPONSES,
        COPILOT_DAILY,
        COPILOT_USER_DAILY,
        COPILOT_SEATS,
        COPILOT_USER_PERIOD,
        QUARANTINE,
        INGEST_FILES,
        ALERTS,
        PROMPT_FEATURES,
        EVAL_RUNS,
        EVAL_RESULTS,
    )
}

#: Event tables in an order in which parents load before children.
EVENT_TABLES: tuple[str, ...] = tuple(t.name for t in TABLES.values() if t.group == "events")


def load_order(names: list[str] | tuple[str, ...]) -> list[str]:
    """Sort table names so that every parent comes before its children.

    >>> load_order(["persistence", "users", "suggestions", "sessions"])
    ['users', 'sessions', 'suggestions', 'persistence']
    """
    order = list(TABLES)
    return sorted(set(names), key=order.index)


def ddl() -> str:
    """The DuckDB DDL of every table."""
    return "\n\n".join(t.ddl() for t in TABLES.values()) + "\n"


def render_markdown() -> str:
    """The reference page ``docs/telemetry_schema.md``, generated from this module."""
    out = [
        "# Telemetry schema",
        "",
        "<!-- Generated by `codex-ds warehouse schema-doc` from "
        "`src/codex_ds/telemetry/schema.py`; do not edit by hand. -->",
        "",
        f"Schema version {SCHEMA_VERSION}. All timestamps are UTC. Every rule in the *checks* "
        "column is enforced by `codex-ds ingest`; a row that breaks one is quarantined with the "
        "file, line, field and reason (table `quarantine`).",
        "",
        f"Timestamps must lie between {EARLIEST_TIMESTAMP[:10]} and "
        f"{FUTURE_TOLERANCE_HOURS} hours after the time of ingestion.",
        "",
    ]
    for group, title in (
        ("events", "Event tables"),
        ("copilot", "GitHub Copilot metrics tables"),
        ("system", "System tables"),
        ("derived", "Derived tables (computed from other tables)"),
        ("evaluation", "Evaluation tables (`codex-ds eval`)"),
    ):
        out += [f"## {title}", ""]
        for t in TABLES.values():
            if t.group != group:
                continue
            out += [f"### `{t.name}`", "", t.description, ""]
            if t.primary_key:
                out.append(f"Primary key: `({', '.join(t.primary_key)})`.")
            if t.parents:
                out.append("Loads after: " + ", ".join(f"`{p}`" for p in t.parents) + ".")
            if t.row_rules:
                out.append(
                    "Row rules (when both are present): "
                    + ", ".join(f"`{r.text()}`" for r in t.row_rules)
                    + "."
                )
            out += [
                "",
                "| column | type | unit | null | checks | meaning |",
                "|---|---|---|---|---|---|",
            ]
            for c in t.columns:
                checks = "; ".join(c.checks()[1:]) or ""
                out.append(
                    f"| `{c.name}` | {c.dtype} | {c.unit or ''} | "
                    f"{'yes' if c.nullable else 'no'} | {checks} | {c.description} |"
                )
            out.append("")
    return "\n".join(out)
