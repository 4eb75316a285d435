"""Telemetry simulator: realistic event tables plus the ground truth of the effects planted in them.

The simulator is a pure function of a frozen :class:`SimulationConfig`: it returns
Arrow tables named and typed as :mod:`codex_ds.telemetry.schema` and a JSON-serialisable
ground-truth dict (the true lift of model ``v2``, the true acceptance-model coefficients,
the true effect of chat adoption under confounding, ...). It opens no file and no
connection and never prints; callers may pass a ``progress(stage, fraction)`` callback.

Generation is vectorised (numpy / pyarrow.compute) and runs in chunks of
``config.chunk_users`` users, each chunk with its own random streams
``SeedSequence(config.seed, spawn_key=(chunk, stage))``. Chunks are generated in order
and ids are numbered globally in that order, so the output depends on the config only
(``chunk_users`` included: another chunk size gives another, equally valid, sample).
:func:`iter_chunks` streams the chunks in bounded memory; :func:`simulate` is their
concatenation.

>>> result = simulate(SimulationConfig(users=40, days=14, experiment_start_day=7, seed=3))
>>> sorted(result.tables) == sorted(schema.EVENT_TABLES)
True
>>> result.tables["users"].num_rows
40
>>> result.ground_truth["experiments"][0]["id"]
'exp_model_v2'
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from codex_ds.telemetry import schema

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

__all__ = [
    "ACCEPTANCE_COEFFICIENTS",
    "EXPERIMENT_ID",
    "PlantedAnomaly",
    "SimulationConfig",
    "SimulationResult",
    "TruthAccumulator",
    "arrow_schema",
    "ground_truth",
    "iter_chunks",
    "load_into_warehouse",
    "simulate",
]

Progress = Callable[[str, float], None]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
Bool = npt.NDArray[np.bool_]
Arr = npt.NDArray[Any]

US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
US_PER_H = 60 * US_PER_MIN
US_PER_DAY = 24 * US_PER_H
_EPOCH = dt.date(1970, 1, 1)
_EARLIEST_US = (dt.date.fromisoformat(schema.EARLIEST_TIMESTAMP[:10]) - _EPOCH).days * US_PER_DAY

EXPERIMENT_ID = "exp_model_v2"
CONTROL, TREATMENT = "v1", "v2"
VERSIONS = (CONTROL, TREATMENT)

# --------------------------------------------------------------------------- population mixes

#: The segments the simulator draws users from (the schema also allows 'unknown', which real
#: data may carry; simulated users always have a known segment).
SIMULATED_SEGMENTS = ("beginner", "intermediate", "expert")
if not set(SIMULATED_SEGMENTS) <= set(schema.SEGMENTS):  # pragma: no cover
    raise ImportError("schema.SEGMENTS no longer holds the simulated segments")
SEGMENT_MIX = (0.30, 0.45, 0.25)  # over SIMULATED_SEGMENTS

# Weights over schema.LANGUAGES (same order) per segment.
_LANGUAGE_WEIGHTS = {
    "beginner": (30, 22, 6, 8, 1, 0.5, 4, 2, 5, 1, 4, 1, 1, 0.2, 1, 4, 5, 3, 1, 0.5, 0.5, 0.3),
    "intermediate": (26, 14, 14, 10, 5, 2, 5, 2, 6, 2, 3, 3, 2, 1, 2, 3, 1.5, 1, 1, 1, 0.5, 0.5),
    "expert": (20, 7, 14, 9, 11, 8, 9, 4, 5, 2, 1, 3, 2, 2, 4, 2, 0.5, 0.5, 1, 2, 0.5, 0.5),
}
# Weights over schema.EDITORS per segment.
_EDITOR_WEIGHTS = {
    "beginner": (72, 14, 1, 2, 6, 2, 0.5, 2.5),
    "intermediate": (58, 24, 5, 3, 5, 2, 1, 2),
    "expert": (38, 28, 14, 7, 4, 2, 5, 2),
}
TASK_MIX = (0.36, 0.26, 0.12, 0.12, 0.05, 0.09)  # over schema.TASK_TYPES
TYPED_CHARS_PER_MINUTE = (60.0, 90.0, 120.0)  # by segment

# --------------------------------------------------------------------------- acceptance model

#: The planted acceptance model (logit scale). Reference levels have coefficient 0.
#: ``model_v2`` is taken from :attr:`SimulationConfig.true_model_effect`.
ACCEPTANCE_COEFFICIENTS: dict[str, Any] = {
    "intercept": 0.15,
    "segment": {"beginner": 0.0, "intermediate": -0.12, "expert": -0.28},
    "language": {
        "python": 0.0,
        "javascript": 0.06,
        "typescript": 0.10,
        "java": -0.04,
        "go": 0.02,
        "rust": -0.25,
        "cpp": -0.22,
        "c": -0.18,
        "csharp": 0.0,
        "ruby": -0.08,
        "php": -0.02,
        "kotlin": -0.06,
        "swift": -0.15,
        "scala": -0.20,
        "shell": -0.12,
        "sql": 0.08,
        "html": 0.15,
        "css": 0.12,
        "markdown": -0.35,
        "yaml": -0.05,
        "json": 0.20,
        "other": -0.30,
    },
    "task_type": {
        "feature": 0.0,
        "bugfix": -0.12,
        "refactor": 0.05,
        "test": 0.25,
        "docs": 0.10,
        "exploration": -0.18,
    },
    "trigger": {"automatic": 0.0, "manual": 0.40, "comment": 0.30},
    "latency_s": -0.70,
    "log_suggested_chars": -0.20,
    "evening": -0.15,
}
ACCEPTANCE_REFERENCE_LEVELS = {
    "segment": "beginner",
    "language": "python",
    "task_type": "feature",
    "trigger": "automatic",
    "model_version": CONTROL,
}
_SEG_COEF = np.array([ACCEPTANCE_COEFFICIENTS["segment"][s] for s in SIMULATED_SEGMENTS])
_LANG_COEF = np.array([ACCEPTANCE_COEFFICIENTS["language"][x] for x in schema.LANGUAGES])
_TASK_COEF = np.array([ACCEPTANCE_COEFFICIENTS["task_type"][t] for t in schema.TASK_TYPES])
_TRIG_COEF = np.array([ACCEPTANCE_COEFFICIENTS["trigger"][t] for t in schema.TRIGGERS])

#: A suggestion is not shown when its latency exceeds this (the developer kept typing) ...
NOT_SHOWN_LATENCY_MS = 1500.0
#: ... or, independently of everything else, with this probability (client-side drop).
NOT_SHOWN_RANDOM_P = 0.015
#: Share of accepted suggestions that are accepted only partially (when suggested_chars >= 2).
PARTIAL_SHARE = 0.22

_SUGGESTED_CHARS_MEDIAN = (36.0, 64.0, 120.0)  # by trigger
_LATENCY_MEDIAN_MS = 240.0
_LATENCY_SPIKE_P = 0.04

# --------------------------------------------------------------------------- persistence model

PERSISTENCE_GROWTH = (0.25, 0.55, 0.80, 1.0)  # share of the final edit fraction at 30/120/300/600 s
PERSISTENCE_UNTOUCHED_P = 0.45
PERSISTENCE_EDIT_BETA = (1.3, 4.0)
PERSISTENCE_REMOVED_P = {CONTROL: 0.10, TREATMENT: 0.08}
PERSISTENCE_REMOVAL_RANGE_S = (5.0, 600.0)

# --------------------------------------------------------------------------- runs model

_RUNNABLE = (
    "python", "javascript", "typescript", "java", "kotlin", "scala", "go", "rust", "cpp", "c",
    "csharp", "ruby", "php", "swift", "shell",
)  # fmt: skip
FAMILIES = (
    "python",
    "js",
    "ts",
    "jvm",
    "go",
    "rust",
    "cpp",
    "csharp",
    "ruby",
    "php",
    "swift",
    "shell",
)
_FAMILY_OF = {
    "python": "python", "javascript": "js", "typescript": "ts", "java": "jvm", "kotlin": "jvm",
    "scala": "jvm", "go": "go", "rust": "rust", "cpp": "cpp", "c": "cpp", "csharp": "csharp",
    "ruby": "ruby", "php": "php", "swift": "swift", "shell": "shell",
}  # fmt: skip
COMPILE_FAIL_INTERCEPT = {
    "python": -2.4, "js": -2.2, "ts": -1.8, "jvm": -1.9, "go": -2.0, "rust": -1.4, "cpp": -1.6,
    "csharp": -1.9, "ruby": -2.4, "php": -2.3, "swift": -1.8, "shell": -2.3,
}  # fmt: skip
RUN_MODEL: dict[str, Any] = {
    "compile_fail_logit": {
        "intercept_by_family": COMPILE_FAIL_INTERCEPT,
        "log1p_accepted_before": 0.20,
        "model_v2": -0.35,
        "segment": {"beginner": 0.40, "intermediate": 0.0, "expert": -0.30},
    },
    "test_fail_logit": {
        "intercept": -1.2,
        "log1p_accepted_before": 0.15,
        "model_v2": -0.30,
        "segment": {"beginner": 0.30, "intermediate": 0.0, "expert": -0.20},
    },
    "test_share": 0.55,
}
_COMPILE_TYPE_WEIGHTS = {
    "syntax_error": 0.35, "name_error": 0.25, "import_error": 0.15, "type_error": 0.15,
    "attribute_error": 0.10,
}  # fmt: skip
_TEST_TYPE_WEIGHTS = {
    "assertion_failure": 0.55, "runtime_error": 0.15, "type_error": 0.08, "name_error": 0.06,
    "attribute_error": 0.06, "timeout": 0.05, "import_error": 0.02, "syntax_error": 0.0,
}  # fmt: skip

# --------------------------------------------------------------------------- causal model (chat)

CHAT_ADOPTION_INTERCEPT = -0.9
CHAT_ADOPTION_SEGMENT = {"beginner": -0.8, "intermediate": 0.0, "expert": 0.9}
CHAT_ADOPTION_TENURE = 1.2  # per unit of tenure_norm
PRS_BASE_BY_SEGMENT = {"beginner": 1.0, "intermediate": 1.8, "expert": 2.6}
TENURE_CAP_DAYS = 730.0

# --------------------------------------------------------------------------- survey model

SURVEY_ITEM_OFFSETS = {
    "perceived_productivity": 0.0,
    "faster_completion": 0.2,
    "stay_in_flow": -0.1,
    "less_frustration": 0.0,
    "focus_on_satisfying_work": -0.2,
    "less_time_searching": 0.3,
}
SURVEY_MODEL = {
    "latent_intercept": 3.3,
    "acceptance_centre": 0.30,
    "user_noise_sd": 0.75,
    "item_noise_sd": 0.6,
    "min_shown_suggestions": 10,
    "response_probability_if_eligible": 0.31,
}


# =========================================================================== config / result

#: What an anomaly plants: ``latency`` multiplies the latency of the affected suggestions
#: by ``factor`` (a regression: ``factor`` > 1); ``acceptance`` multiplies their acceptance
#: probability by ``factor`` (a drop: ``factor`` < 1). The monitor that should catch it:
ANOMALY_MONITORS = {"latency": "latency_p95", "acceptance": "acceptance_rate"}
_ANOMALY_DEFAULT_FACTOR = {"latency": 1.5, "acceptance": 0.7}


@dataclass(frozen=True)
class PlantedAnomaly:
    """An incident planted in the suggestions of days ``[day, day + days)`` (day indices
    from the period start), of one ``language`` or of every language (``None``).

    >>> PlantedAnomaly.parse("acceptance:day=20,days=4,factor=0.6,language=go")
    PlantedAnomaly(kind='acceptance', day=20, days=4, factor=0.6, language='go')
    >>> PlantedAnomaly.parse("latency:day=9").factor
    1.5
    """

    kind: str
    day: int
    days: int = 3
    factor: float = None  # type: ignore[assignment]  # None: 1.5 (latency), 0.7 (acceptance)
    language: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ANOMALY_MONITORS:
            raise ValueError(
                f"anomaly kind {self.kind!r}: expected one of {', '.join(ANOMALY_MONITORS)}"
            )
        if self.factor is None:
            object.__setattr__(self, "factor", _ANOMALY_DEFAULT_FACTOR[self.kind])
        problems = []
        if self.day < 0:
            problems.append("day must be >= 0")
        if self.days < 1:
            problems.append("days must be >= 1")
        if not self.factor > 0 or (self.kind == "acceptance" and self.factor > 1):
            problems.append(
                "factor must be in (0, 1]" if self.kind == "acceptance" else "factor must be > 0"
            )
        if self.language is not None and self.language not in schema.LANGUAGES:
            problems.append(f"unknown language {self.language!r}")
        if problems:
            raise ValueError(f"anomaly {self.kind}: " + "; ".join(problems))

    @classmethod
    def parse(cls, text: str) -> PlantedAnomaly:
        """``KIND:key=value,...`` with keys day (required), days, factor, language."""
        kind, _, rest = text.strip().partition(":")
        values: dict[str, str] = {}
        for item in filter(None, (x.strip() for x in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep or key.strip() not in ("day", "days", "factor", "language"):
                raise ValueError(
                    f"anomaly {text!r}: {item!r} is not one of day=, days=, factor=, language="
                )
            values[key.strip()] = value.strip()
        if "day" not in values:
            raise ValueError(f"anomaly {text!r}: day= is required (e.g. latency:day=20)")
        try:
            return cls(
                kind.strip(),
                int(values["day"]),
                int(values.get("days", "3")),
                float(values["factor"]) if "factor" in values else None,  # type: ignore[arg-type]
                values.get("language") or None,
            )
        except ValueError as exc:
            raise ValueError(f"anomaly {text!r}: {exc}") from None

    @property
    def monitor(self) -> str:
        return ANOMALY_MONITORS[self.kind]


@dataclass(frozen=True)
class SimulationConfig:
    """Everything the simulation depends on; the same config always gives the same tables."""

    users: int = 1000
    days: int = 28
    seed: int = 7
    start: dt.date = dt.date(2026, 1, 5)  # a Monday
    #: Days before it form the pre-period (all users on v1; CUPED covariate). ``None``
    #: (the default) means half the period: day 14 of 28. Always an int once constructed.
    experiment_start_day: int = None  # type: ignore[assignment]
    #: Logit coefficient of ``model_version == 'v2'`` in the acceptance model.
    true_model_effect: float = 0.15
    #: v2 latency = v1 latency x this factor (same random draw: common random numbers).
    #: The default v2 is slightly slower, within a 5 % guardrail; raise it (e.g. 1.15) to
    #: plant a latency regression that the guardrail must catch.
    v2_latency_factor: float = 1.03
    #: Plant a sample-ratio mismatch: lose the assignment rows of some treatment users.
    srm: bool = False
    srm_drop_fraction: float = 0.20
    #: Users per generation chunk (~1 M suggestions, ~0.7 GiB peak): memory stays bounded and
    #: smaller arrays are faster here than one big chunk. Part of the config, like the seed.
    chunk_users: int = 2_500
    #: Share of users who sign up during the simulated period.
    new_user_share: float = 0.25
    churn_probability: float = 0.35
    churn_mean_days: float = 18.0
    resurrection_probability: float = 0.30
    #: Daily activity probability on Saturday/Sunday relative to a weekday.
    weekend_activity: float = 0.20
    #: Mean sessions on an active day.
    sessions_per_active_day: float = 1.6
    #: Mean suggestions per active minute (before the heavy-tailed per-user multiplier).
    suggestions_per_minute: float = 0.75
    #: Mean build/test runs per session is ``runs_base + active_minutes / runs_minutes``.
    runs_base: float = 0.3
    runs_minutes: float = 18.0
    #: Chat prompts per active minute for chat adopters.
    chat_prompts_per_minute: float = 0.06
    #: Planted effect of chat adoption on weekly merged PRs by segment
    #: (beginner, intermediate, expert).
    chat_effect_by_segment: tuple[float, float, float] = (0.5, 0.35, 0.15)
    #: Slope of the latent perceived productivity on the user's acceptance rate.
    survey_acceptance_slope: float = 5.0
    #: Incidents planted for the monitors (``codex-ds monitor``); none by default.
    anomalies: tuple[PlantedAnomaly, ...] = ()

    def __post_init__(self) -> None:
        if self.experiment_start_day is None:
            object.__setattr__(self, "experiment_start_day", self.days // 2)
        problems = []
        if self.users < 1:
            problems.append("users must be >= 1")
        if self.days < 1:
            problems.append("days must be >= 1")
        if self.seed < 0:
            problems.append("seed must be >= 0")
        if not 0 <= self.experiment_start_day < self.days:
            problems.append("experiment_start_day must be in [0, days)")
        if self.chunk_users < 1:
            problems.append("chunk_users must be >= 1")
        if self.start < dt.date(2017, 1, 1):
            problems.append("start must be 2017-01-01 or later (signups reach two years back)")
        for name in (
            "new_user_share",
            "churn_probability",
            "resurrection_probability",
            "weekend_activity",
            "srm_drop_fraction",
        ):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                problems.append(f"{name} must be in [0, 1]")
        if self.v2_latency_factor <= 0:
            problems.append("v2_latency_factor must be > 0")
        if self.sessions_per_active_day < 1:
            problems.append("sessions_per_active_day must be >= 1")
        if min(self.chat_effect_by_segment) < 0:
            problems.append("chat_effect_by_segment must be >= 0")
        for anomaly in self.anomalies:
            if anomaly.day + anomaly.days > self.days:
                problems.append(
                    f"anomaly {anomaly.kind} at day {anomaly.day} ends after the period"
                )
        if problems:
            raise ValueError("invalid SimulationConfig: " + "; ".join(problems))

    @property
    def end(self) -> dt.date:
        """First day after the simulated period."""
        return self.start + dt.timedelta(days=self.days)

    @property
    def experiment_start(self) -> dt.date:
        return self.start + dt.timedelta(days=self.experiment_start_day)

    @property
    def n_chunks(self) -> int:
        return -(-self.users // self.chunk_users)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, dt.date):
                out[key] = value.isoformat()
            elif isinstance(value, tuple):
                out[key] = list(value)
            else:
                out[key] = value
        return out


@dataclass
class SimulationResult:
    """The simulated event tables (one per ``schema.EVENT_TABLES``) and the planted truth."""

    tables: dict[str, pa.Table]
    ground_truth: dict[str, Any]

    def row_counts(self) -> dict[str, int]:
        return {name: t.num_rows for name, t in self.tables.items()}


# =========================================================================== arrow helpers

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a warehouse table (nullability as in :mod:`schema`).

    >>> arrow_schema("persistence").field("check_after_s").type
    DataType(int32)
    """
    spec = schema.TABLES[table]
    return pa.schema(
        [pa.field(c.name, _ARROW_TYPES[c.dtype], nullable=c.nullable) for c in spec.columns]
    )


def _table(name: str, columns: Mapping[str, Any]) -> pa.Table:
    sch = arrow_schema(name)
    arrays = []
    for f in sch:
        col = columns[f.name]
        arr = col if isinstance(col, pa.Array | pa.ChunkedArray) else pa.array(col, type=f.type)
        if arr.type != f.type:
            arr = arr.cast(f.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=sch)


def _ts(us: Arr, mask: Bool | None = None) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), type=pa.timestamp("us"), mask=mask)


def _strings(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _take(values: pa.Array, codes: Arr, mask: Bool | None = None) -> pa.Array:
    """``values[codes]`` as an Arrow array; rows where ``mask`` is true are null."""
    return pc.take(values, pa.array(codes, mask=mask))


def _scatter_strings(values: pa.Array, positions: Arr, n: int) -> pa.Array:
    """``n`` rows: ``values[j]`` at row ``positions[j]`` (increasing), null elsewhere.

    Zero-copy for the characters: only offsets and a validity bitmap are built.
    """
    if len(positions) == 0:
        return pa.nulls(n, type=pa.string())
    values = values.cast(pa.string())
    _, v_off, v_data = values.buffers()
    src = np.frombuffer(v_off, dtype=np.int32, count=len(values) + 1, offset=values.offset * 4)
    lengths = np.zeros(n, dtype=np.int32)
    lengths[positions] = np.diff(src)
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0] = src[0]
    np.cumsum(lengths, out=offsets[1:])
    offsets[1:] += src[0]
    valid = np.zeros(n, dtype=bool)
    valid[positions] = True
    bitmap = np.packbits(valid, bitorder="little")
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), v_data, pa.py_buffer(bitmap), null_count=n - len(positions)
    )


_LUT4 = np.array([list(f"{i:04d}".encode()) for i in range(10_000)], dtype=np.uint8)


def _cycle_rows(table: Arr, first: int, count: int) -> Arr:
    """Rows ``table[(first + i) % len(table)]`` for ``i < count``, by slicing and tiling."""
    head = table[first : first + count]
    rest = count - len(head)
    if rest <= 0:
        return head
    full, tail = divmod(rest, len(table))
    return np.concatenate([head, np.tile(table, (full, 1)), table[:tail]])


def _id_range(prefix: str, lo: int, hi: int) -> pa.Array:
    """The strings ``prefix + str(i)`` for ``lo <= i < hi``, built without Python per-row work.

    >>> _id_range("s", 8, 12).to_pylist()
    ['s8', 's9', 's10', 's11']
    """
    pre = np.frombuffer(prefix.encode(), dtype=np.uint8)
    p = len(pre)
    parts: list[Arr] = []
    offsets: list[Arr] = [np.zeros(1, dtype=np.int64)]
    base = 0
    cur = lo
    while cur < hi:
        d = len(str(cur))
        top = min(hi, 10**d)
        m = top - cur
        w = p + d
        mat = np.empty((m, w), dtype=np.uint8)
        mat[:, :p] = pre
        low = _cycle_rows(_LUT4, cur % 10_000, m)
        if d <= 4:
            mat[:, p:] = low[:, 4 - d :]
        else:
            mat[:, w - 4 :] = low
            first_high, last_high = cur // 10_000, (top - 1) // 10_000
            highs = np.arange(first_high, last_high + 1, dtype=np.int64)
            hd = d - 4
            hmat = np.empty((len(highs), hd), dtype=np.uint8)
            rest = highs.copy()
            for k in range(hd - 1, -1, -1):
                hmat[:, k] = (rest % 10 + 48).astype(np.uint8)
                rest //= 10
            counts = np.full(len(highs), 10_000, dtype=np.int64)
            counts[0] = min(top, (first_high + 1) * 10_000) - cur
            if len(highs) > 1:
                counts[-1] = top - last_high * 10_000
            mat[:, p : p + hd] = np.repeat(hmat, counts, axis=0)
        parts.append(mat.reshape(-1))
        offsets.append(base + w * np.arange(1, m + 1, dtype=np.int64))
        base += w * m
        cur = top
    if not parts:
        return pa.array([], type=pa.string())
    buf = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if base >= 2**31:
        raise OverflowError("id column too large for one chunk; lower chunk_users")
    offs = np.concatenate(offsets).astype(np.int32)
    return pa.StringArray.from_buffers(hi - lo, pa.py_buffer(offs), pa.py_buffer(buf))


# =========================================================================== text templates

_SLOT = re.compile(r"\{([a-z][a-z0-9_]*)(#\d+)?\}")


@dataclass(frozen=True)
class _Template:
    """A text with ``{slot}`` holes; ``{slot#2}`` is a second, independent draw from ``slot``."""

    parts: tuple[tuple[bool, str], ...]  # (is_slot, literal text or slot key)

    @classmethod
    def parse(cls, text: str) -> _Template:
        parts: list[tuple[bool, str]] = []
        pos = 0
        for m in _SLOT.finditer(text):
            if m.start() > pos:
                parts.append((False, text[pos : m.start()]))
            parts.append((True, m.group(1) + (m.group(2) or "")))
            pos = m.end()
        if pos < len(text):
            parts.append((False, text[pos:]))
        return cls(tuple(parts))

    @property
    def slots(self) -> set[str]:
        return {key.split("#")[0] for is_slot, key in self.parts if is_slot}


def _render(
    template_ids: Arr,
    templates: Sequence[_Template],
    vocab: Mapping[str, pa.Array],
    rng: np.random.Generator,
    row_slots: Mapping[str, pa.Array] | None = None,
) -> pa.Array:
    """Fill template ``template_ids[i]`` for every row (-1 = null) with random vocabulary draws.

    Rows are grouped by template; each slot is one ``take`` from its vocabulary and each
    template one ``binary_join_element_wise``: the cost is per template, not per row.
    ``row_slots`` are per-row values (e.g. a comment prefix that depends on the language).
    """
    ids = np.asarray(template_ids, dtype=np.int64)
    n = len(ids)
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(-1, len(templates) + 1))
    pieces: list[pa.Array] = []
    if bounds[1] > bounds[0]:
        pieces.append(pa.nulls(int(bounds[1] - bounds[0]), type=pa.string()))
    for t, tpl in enumerate(templates):
        lo, hi = int(bounds[t + 1]), int(bounds[t + 2])
        m = hi - lo
        if m == 0:
            continue
        rows: pa.Array | None = None
        draws: dict[str, pa.Array] = {}
        cols: list[pa.Array | pa.Scalar] = []
        for is_slot, key in tpl.parts:
            if not is_slot:
                cols.append(pa.scalar(key, type=pa.string()))
                continue
            if key not in draws:
                name = key.split("#")[0]
                if row_slots is not None and name in row_slots:
                    if rows is None:
                        rows = pa.array(order[lo:hi])
                    draws[key] = pc.take(row_slots[name], rows)
                else:
                    words = vocab[name]
                    draws[key] = pc.take(words, pa.array(rng.integers(0, len(words), m)))
            cols.append(draws[key])
        if not any(isinstance(c, pa.Array) for c in cols):
            text = "".join(str(c.as_py()) for c in cols)
            pieces.append(pa.repeat(pa.scalar(text, type=pa.string()), m))
        else:
            pieces.append(pc.binary_join_element_wise(*cols, ""))
    if not pieces:
        return pa.array([], type=pa.string())
    joined = pa.concat_arrays(pieces)
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n, dtype=np.int64)
    return pc.take(joined, pa.array(inverse))


def _vocab(raw: Mapping[str, Sequence[str]]) -> dict[str, pa.Array]:
    return {k: _strings(v) for k, v in raw.items()}


def _words(text: str) -> list[str]:
    """A vocabulary written as one whitespace-separated string."""
    return text.split()


_NUMBERS = [str(i) for i in range(0, 100)]
_VOCAB_RAW: dict[str, Sequence[str]] = {
    "line": [str(i) for i in range(3, 480)],
    "line_small": [str(i) for i in range(1, 25)],
    "col": [str(i) for i in range(1, 60)],
    "num": _NUMBERS,
    "timeout_s": _words("5 10 30 60 120 300"),
    "timeout_ms": _words("2000 5000 10000 30000"),
    "word": ["abc", "12a", "", "N/A", "true", "3.5.1", "none", "0x1F"],
    # python
    "pyfile": _words(
        "app/main.py app/config.py app/models/user.py src/parser.py src/utils/io.py "
        "service/handlers.py lib/cache.py scripts/migrate.py api/routes.py pipeline/transform.py "
        "core/engine.py tools/report.py"
    ),
    "pytestfile": _words(
        "tests/test_parser.py tests/test_api.py tests/unit/test_cache.py tests/test_models.py "
        "tests/integration/test_db.py tests/test_utils.py"
    ),
    "py_func": _words(
        "parse load_config handle_request main transform run __init__ fetch_user compute_total "
        "to_dict validate build_index <module>"
    ),
    "py_ident": _words(
        "parse_config load_events user_count normalize_path fetch_orders compute_median "
        "retry_with_backoff MAX_RETRIES build_query session_id flatten dedupe_events slugify "
        "merge_sorted read_csv_rows cache_key"
    ),
    "py_var": _words("data rows config user path items result payload ctx"),
    "py_stmt": [
        "data = parse_config(path)",
        "return items[idx]",
        "total += row.amount",
        "for key, value in mapping.items()",
        "result = client.fetch(user_id)",
        "self.cache[key] = value",
        "rows = list(reader)",
        "print(f'{count} rows')",
        "return json.loads(payload)",
    ],
    "py_module": _words("os json collections itertools app.config app.models utils"),
    "py_badmodule": _words(
        "requests_magic numpyx app.settingz yaml2 pandas_utils torch_light fastjsonx "
        "dataclasses_json2"
    ),
    "py_stdmodule": _words("os json re math time itertools pathlib random"),
    "py_badattr": _words("fastwalk loads_fast fullmatchall clamp now_utc flatten pathjoin"),
    "py_attr": _words("items strip append get name id split keys"),
    "py_class": _words("User Config Order Session Request Parser Node dict list"),
    # javascript / typescript
    "jsfile": _words(
        "src/index.js src/api/client.js src/components/Table.jsx lib/utils.js server/routes.js "
        "src/store.js src/hooks/useUser.js"
    ),
    "tsfile": _words(
        "src/index.ts src/api/client.ts src/components/Table.tsx src/lib/date.ts "
        "src/services/orders.ts src/store/user.ts"
    ),
    "js_ident": _words(
        "fetchUser parseConfig orderTotal retryWithBackoff formatDate userList handleSubmit "
        "debounce apiClient renderRow mergeSorted useSession"
    ),
    "js_prop": _words("map length id data then name forEach push items"),
    "js_func": _words("Object.render fetchUser handleClick processTicksAndRejections main"),
    "js_stmt": [
        "const items = data.map(x => x.id",
        "export default {",
        "return user?.name ??",
        "import x from",
    ],
    "js_badmodule": _words("lodash-es ./utils/formatDate react-table-v9 @app/config axios-retry2"),
    "ts_type": _words("User Order Config Response<T> string never {} Props"),
    # jvm
    "javafile": _words(
        "src/main/java/com/example/App.java src/main/java/com/example/OrderService.java "
        "src/main/java/com/example/UserRepository.java Main.java "
        "src/main/java/com/acme/Parser.java"
    ),
    "java_stmt": [
        "int count = items.size()",
        "return user.getName()",
        "List<String> names = new ArrayList<>()",
    ],
    "java_ident": _words("userCount orderTotal parseConfig MAX_SIZE logger repository"),
    "java_var": _words("user order config name items request"),
    "java_class": _words("OrderService UserRepository App Parser InvoiceController CacheManager"),
    "java_method": _words("parse process findById handle toString validate"),
    "java_test": _words("testParse shouldReturnOrders findsUserById computesTotal"),
    "java_pkg": _words("com.example com.acme.billing org.demo.api"),
    "java_badpkg": _words(
        "org.apache.commons.lang4 com.google.guavax javax.persistence2 org.junit.jupiter.apix"
    ),
    # go
    "gofile": _words(
        "main.go internal/server/handler.go pkg/cache/lru.go cmd/app/main.go internal/db/store.go"
    ),
    "gotestfile": _words("handler_test.go lru_test.go store_test.go parse_test.go"),
    "go_ident": _words("parseConfig userCount newServer ErrNotFound loadEnv retryWithBackoff"),
    "go_var": _words("cfg n id resp buf ctx"),
    "go_func": _words("fmt.Println strconv.Itoa json.Marshal s.handle parse"),
    "go_type": _words("Config Server *Store User Options"),
    "go_badfield": _words("Timeot Nmae Adress Lenght Cnt"),
    "go_badpkg": _words("github.com/acme/logrusx golang.org/x/exp/slicesx github.com/foo/bar"),
    "go_test": _words("Parse Handler LRUEvict StoreGet RetryBackoff"),
    # rust
    "rsfile": _words("main.rs lib.rs parser.rs cache.rs server/mod.rs"),
    "rs_ident": _words("parse_config user_count buf_len max_retries conn"),
    "rs_badcrate": _words("serde_jsonx tokio::sync::mpscx crate::utilz anyhowx"),
    "rs_badfield": _words("nmae lenght idd adress"),
    "rs_type": _words("User Config Request Node<T> &str"),
    "rs_test": _words("parse_empty evicts_oldest roundtrip handles_unicode"),
    # c / c++
    "cppfile": _words("main.cpp src/parser.cpp src/graph.cc lib/buffer.c src/server.cpp util.c"),
    "cpp_testfile": _words("tests/parser_test.cc tests/graph_test.cpp test/buffer_test.cpp"),
    "cpp_ident": _words("count buf graph node result total idx"),
    "cpp_typo": [
        "'vectr' was not declared in this scope; did you mean 'vector'?",
        "'cout' was not declared in this scope; did you mean 'std::cout'?",
        "'strng' was not declared in this scope",
        "'nullptr_t' was not declared in this scope",
        "'parse_config' was not declared in this scope",
        "'uint' was not declared in this scope; did you mean 'uint8_t'?",
    ],
    "cpp_func": _words("parse std::max push Graph::addEdge insert to_string"),
    "cpp_header": _words(
        "boost/asio.hpp fmt/core.h nlohmann/json.hpp config.h absl/strings/str_cat.h"
    ),
    "cpp_badmember": _words("pushback lenght emplace_front sizee contains_key"),
    "cpp_test": _words("ParserTest.Empty GraphTest.ShortestPath BufferTest.Overflow"),
    # c#
    "csfile": _words(
        "Program.cs Services/OrderService.cs Controllers/UserController.cs Models/Invoice.cs"
    ),
    "cs_ident": _words("parseConfig userCount orderTotal logger _cache"),
    "cs_badns": _words("Newtonsoft AutoMapperX Serilog.Sinks.Filex Dapperx"),
    "cs_type": _words("User Order Invoice OrderService Config"),
    "cs_badmember": _words("Nmae Totl GetAllAsyncs Lenght"),
    "cs_ns": _words("Acme.Billing Shop.Api Contoso.Orders"),
    "cs_method": _words("Parse GetOrders Handle Compute"),
    # ruby / php / swift / shell
    "rbfile": _words(
        "app/models/user.rb lib/parser.rb app/controllers/orders_controller.rb script/run.rb"
    ),
    "rb_ident": _words("parse_config user_count order_total cache_key"),
    "rb_method": _words("call parse index perform"),
    "rb_badmethod": _words("each_pairs to_hsh fetchh sizee"),
    "rb_badgem": _words("httpartyx nokogiri2 active_support/core_extx"),
    "phpfile": _words(
        "index.php src/Controller/UserController.php src/Service/Cart.php lib/db.php"
    ),
    "php_func": _words("parse_config get_user array_flaten render_view"),
    "php_badpkg": _words("guzzlehttpx symfony/consolex monolog2"),
    "swiftfile": _words("Sources/App/main.swift Sources/Core/Parser.swift App/ViewModel.swift"),
    "sw_ident": _words("parseConfig userCount viewModel fetchUser"),
    "shfile": _words("deploy.sh scripts/build.sh run_tests.sh ci/setup.sh"),
    "sh_cmd": _words("jqq pyhton dockr kubeclt gti"),
    # prompts
    "verb": _words(
        "Write Implement Create Add Refactor Fix Optimize Explain Document Convert Generate "
        "Rewrite Simplify Test"
    ),
    "verb_lower": _words("write implement add refactor fix optimize simplify handle"),
    "object": [
        "a function that parses a CSV file into a list of records",
        "a class that caches HTTP responses on disk",
        "a binary search over a sorted array",
        "an endpoint that returns the user's orders as JSON",
        "a unit test for the date parser",
        "the retry logic in the payment client",
        "a SQL query that counts active users per week",
        "a CLI command that exports the monthly report",
        "a component that renders a paginated table",
        "a function that merges two sorted lists",
        "a regular expression that validates e-mail addresses",
        "the config loader so that it reads environment variables",
        "a thread-safe queue with a bounded size",
        "a function that computes the running median of a stream",
        "a parser for ISO 8601 durations",
        "a Dockerfile for this service",
        "a migration that adds an index on created_at",
        "a function that deduplicates events by id",
        "an LRU cache with a fixed capacity",
        "a rate limiter using a token bucket",
        "the error handling around the database connection",
        "pagination for the search results",
        "a function that flattens a nested dictionary",
        "a breadth-first search on the dependency graph",
    ],
    "constraint": [
        "it must run in O(n log n)",
        "handle empty input",
        "handle None / null values",
        "do not use external libraries",
        "keep it thread-safe",
        "return early on invalid input",
        "add type annotations",
        "keep the public API unchanged",
        "avoid recursion",
        "stream the input instead of loading it into memory",
        "use at most O(1) extra memory",
        "log errors instead of raising",
        "support unicode input",
        "make it idempotent",
        "time out after 5 seconds",
        "keep it compatible with the existing tests",
        "raise a ValueError on negative numbers",
        "preserve the original order",
    ],
    "example": [
        "e.g. f([1, 2]) -> 3",
        "e.g. parse('3h15m') -> 11700",
        "e.g. merge([1, 4], [2, 3]) == [1, 2, 3, 4]",
        "e.g. slugify('Hello World!') -> 'hello-world'",
        "e.g. median([5, 1, 3]) == 3",
        "e.g. is_valid('a@b.co') returns true",
        "e.g. flatten({'a': {'b': 1}}) -> {'a.b': 1}",
        "e.g. an empty list returns 0",
    ],
    "ident": _words(
        "parse_config UserRepository fetchUser order_total retryWithBackoff load_events "
        "MAX_RETRIES handle_request OrderService useSession build_index CacheManager "
        "normalize_path EventBus"
    ),
    "errsnippet": [
        "a KeyError",
        "'NoneType' object is not subscriptable",
        "a timeout",
        "a null pointer",
        "an off-by-one error",
        "a deadlock under load",
        "a 500 from the API",
    ],
}
VOCAB = _vocab(_VOCAB_RAW)

_PY_TB = (
    'Traceback (most recent call last):\n  File "{pyfile}", line {line}, in {py_func}\n'
    "    {py_stmt}\n"
)
_PY_TEST_TB = (
    'Traceback (most recent call last):\n  File "{pytestfile}", line {line}, in test_{py_ident}\n'
    "    result = {py_ident}({py_var})\n"
)

#: Error-message templates by (language family, stage, error_type); stage is "compile" or "test".
_ERROR_TEMPLATES_RAW: dict[tuple[str, str, str], list[str]] = {
    ("python", "compile", "syntax_error"): [
        '  File "{pyfile}", line {line}\n    {py_stmt}\n    ^\nSyntaxError: invalid syntax',
        '  File "{pyfile}", line {line}\n    if {py_var} = {num}:\n       ^\n'
        "SyntaxError: invalid syntax. Maybe you meant '==' or ':=' instead of '='?",
        "  File \"{pyfile}\", line {line}\n    return {py_ident}(\n          ^\nSyntaxError: '(' "
        "was never closed",
        '  File "{pyfile}", line {line}\n    {py_stmt}\nIndentationError: unexpected indent',
    ],
    ("python", "compile", "import_error"): [
        'Traceback (most recent call last):\n  File "{pyfile}", line {line_small}, in <module>\n'
        "    import {py_badmodule}\nModuleNotFoundError: No module named '{py_badmodule}'",
        'Traceback (most recent call last):\n  File "{pyfile}", line {line_small}, in <module>\n'
        "    from {py_module} import {py_ident}\n"
        "ImportError: cannot import name '{py_ident}' from '{py_module}' (unknown location)",
    ],
    ("python", "test", "assertion_failure"): [
        _PY_TEST_TB + "    assert result == {num}\nAssertionError: expected {num}, got {num#2}",
        "FAILED {pytestfile}::test_{py_ident} - AssertionError: assert {num} == {num#2}",
        "E       AssertionError: assert [{num}, {num#2}] == [{num#2}, {num}]\n"
        "{pytestfile}:{line}: AssertionError",
    ],
    ("python", "test", "name_error"): [
        _PY_TB + "NameError: name '{py_ident}' is not defined",
        _PY_TB + "NameError: name '{py_ident}' is not defined. Did you mean: '{py_ident#2}'?",
    ],
    ("python", "test", "attribute_error"): [
        _PY_TB + "AttributeError: module '{py_stdmodule}' has no attribute '{py_badattr}'",
        _PY_TB + "AttributeError: 'NoneType' object has no attribute '{py_attr}'",
        _PY_TB + "AttributeError: '{py_class}' object has no attribute '{py_badattr}'",
    ],
    ("python", "test", "type_error"): [
        _PY_TB + "TypeError: {py_func}() missing 1 required positional argument: '{py_var}'",
        _PY_TB + "TypeError: unsupported operand type(s) for +: 'int' and 'str'",
        _PY_TB + "TypeError: 'NoneType' object is not subscriptable",
    ],
    ("python", "test", "runtime_error"): [
        _PY_TB + "KeyError: '{py_var}'",
        _PY_TB + "IndexError: list index out of range",
        _PY_TB + "ZeroDivisionError: division by zero",
        _PY_TB + "ValueError: invalid literal for int() with base 10: '{word}'",
        _PY_TB + "RecursionError: maximum recursion depth exceeded",
    ],
    ("python", "test", "timeout"): [
        "FAILED {pytestfile}::test_{py_ident} - Failed: Timeout >{timeout_s}.0s",
        "subprocess.TimeoutExpired: Command '['python', '{pyfile}']' timed out after {timeout_s} "
        "seconds",
    ],
    ("python", "test", "import_error"): [
        "ImportError while importing test module '/app/{pytestfile}'.\n"
        "E   ModuleNotFoundError: No module named '{py_badmodule}'",
    ],
    ("js", "compile", "syntax_error"): [
        "{jsfile}:{line}\n{js_stmt}\n    ^\n\nSyntaxError: Unexpected token '}'",
        "{jsfile}:{line}\n\nSyntaxError: Unexpected identifier '{js_ident}'",
        "SyntaxError: missing ) after argument list\n    at {jsfile}:{line}:{col}",
    ],
    ("js", "compile", "import_error"): [
        "Error: Cannot find module '{js_badmodule}'\nRequire stack:\n- /app/{jsfile}",
        "SyntaxError: Cannot use import statement outside a module\n    at {jsfile}:{line_small}",
    ],
    ("js", "test", "type_error"): [
        "TypeError: Cannot read properties of undefined (reading '{js_prop}')\n"
        "    at {js_func} ({jsfile}:{line}:{col})",
        "TypeError: {js_ident}.{js_prop} is not a function\n    at {js_func} "
        "({jsfile}:{line}:{col})",
        "TypeError: Assignment to constant variable.\n    at {jsfile}:{line}:{col}",
    ],
    ("js", "test", "name_error"): [
        "ReferenceError: {js_ident} is not defined\n    at {js_func} ({jsfile}:{line}:{col})",
    ],
    ("js", "test", "assertion_failure"): [
        "expect(received).toBe(expected) // Object.is equality\n\nExpected: {num}\nReceived: "
        "{num#2}",
        "expect(received).toEqual(expected) // deep equality\n\n- Expected  - 1\n+ Received  + 1",
        "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n\n{num} !== "
        "{num#2}\n",
    ],
    ("js", "test", "runtime_error"): [
        "RangeError: Maximum call stack size exceeded\n    at {js_func} ({jsfile}:{line}:{col})",
        "Error: ENOENT: no such file or directory, open '/app/data/{js_ident}.json'",
        "UnhandledPromiseRejection: Error: Request failed with status code 500",
    ],
    ("js", "test", "timeout"): [
        'thrown: "Exceeded timeout of 5000 ms for a test.\n'
        'Add a timeout value to this test to increase the timeout, if this is a long-running '
        'test."',
        "Error: Timeout of {timeout_ms}ms exceeded. For async tests and hooks, ensure \"done()\" "
        "is called",
    ],
    ("ts", "compile", "type_error"): [
        "{tsfile}({line},{col}): error TS2322: Type 'string' is not assignable to type 'number'.",
        "{tsfile}({line},{col}): error TS2345: Argument of type 'string | undefined' is not "
        "assignable to parameter of type 'string'.",
    ],
    ("ts", "compile", "name_error"): [
        "{tsfile}:{line}:{col} - error TS2304: Cannot find name '{js_ident}'.",
    ],
    ("ts", "compile", "attribute_error"): [
        "{tsfile}:{line}:{col} - error TS2339: Property '{js_prop}' does not exist on type "
        "'{ts_type}'.",
    ],
    ("ts", "compile", "import_error"): [
        "{tsfile}:{line_small}:{col} - error TS2307: Cannot find module '{js_badmodule}' or its "
        "corresponding type declarations.",
    ],
    ("ts", "compile", "syntax_error"): [
        "{tsfile}({line},{col}): error TS1005: ';' expected.",
        "{tsfile}({line},{col}): error TS1128: Declaration or statement expected.",
    ],
    ("jvm", "compile", "syntax_error"): [
        "{javafile}:{line}: error: ';' expected\n        {java_stmt}\n                ^",
        "{javafile}:{line}: error: reached end of file while parsing",
    ],
    ("jvm", "compile", "name_error"): [
        "{javafile}:{line}: error: cannot find symbol\n  symbol:   variable {java_ident}\n"
        "  location: class {java_class}",
    ],
    ("jvm", "compile", "attribute_error"): [
        "{javafile}:{line}: error: cannot find symbol\n  symbol:   method {java_method}s()\n"
        "  location: variable {java_var} of type {java_class}",
    ],
    ("jvm", "compile", "type_error"): [
        "{javafile}:{line}: error: incompatible types: String cannot be converted to int",
        "{javafile}:{line}: error: incompatible types: possible lossy conversion from double to "
        "int",
    ],
    ("jvm", "compile", "import_error"): [
        "{javafile}:{line_small}: error: package {java_badpkg} does not exist",
    ],
    ("jvm", "test", "assertion_failure"): [
        "org.opentest4j.AssertionFailedError: expected: <{num}> but was: <{num#2}>\n"
        "\tat {java_pkg}.{java_class}Test.{java_test}({java_class}Test.java:{line})",
        "java.lang.AssertionError: expected:<{num}> but was:<{num#2}>",
    ],
    ("jvm", "test", "runtime_error"): [
        'java.lang.NullPointerException: Cannot invoke "String.length()" because "{java_var}" is '
        'null\n'
        "\tat {java_pkg}.{java_class}.{java_method}({java_class}.java:{line})",
        "java.lang.ArrayIndexOutOfBoundsException: Index {num} out of bounds for length {num#2}\n"
        "\tat {java_pkg}.{java_class}.{java_method}({java_class}.java:{line})",
        "java.lang.IllegalStateException: Connection pool exhausted",
    ],
    ("jvm", "test", "type_error"): [
        "java.lang.ClassCastException: class java.lang.String cannot be cast to class "
        "java.lang.Integer",
    ],
    ("jvm", "test", "timeout"): [
        "org.junit.runners.model.TestTimedOutException: test timed out after {timeout_ms} "
        "milliseconds",
    ],
    ("go", "compile", "syntax_error"): [
        "./{gofile}:{line}:{col}: syntax error: unexpected }, expected expression",
        "./{gofile}:{line}:{col}: syntax error: non-declaration statement outside function body",
    ],
    ("go", "compile", "name_error"): [
        "./{gofile}:{line}:{col}: undefined: {go_ident}",
    ],
    ("go", "compile", "type_error"): [
        "./{gofile}:{line}:{col}: cannot use {go_var} (variable of type int) as string value in "
        "argument to {go_func}",
    ],
    ("go", "compile", "import_error"): [
        "{gofile}:{line_small}:2: no required module provides package {go_badpkg}; to add it:\n"
        "\tgo get {go_badpkg}",
    ],
    ("go", "compile", "attribute_error"): [
        "./{gofile}:{line}:{col}: {go_var}.{go_badfield} undefined (type {go_type} has no field "
        "or method {go_badfield})",
    ],
    ("go", "test", "assertion_failure"): [
        "--- FAIL: Test{go_test} ({num}.00s)\n    {gotestfile}:{line}: expected {num#2}, got "
        "{num#3}\nFAIL",
    ],
    ("go", "test", "runtime_error"): [
        "panic: runtime error: index out of range [{num}] with length {num#2}\n\n"
        "goroutine 1 [running]:\nmain.{go_ident}(...)\n\t/app/{gofile}:{line}",
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]",
    ],
    ("go", "test", "timeout"): [
        "panic: test timed out after {timeout_s}s\nrunning tests:\n\tTest{go_test} ({timeout_s}s)",
    ],
    ("rust", "compile", "syntax_error"): [
        "error: expected one of `,`, `:`, or `}`, found `{`\n --> src/{rsfile}:{line}:{col}",
        "error: expected `;`, found `let`\n --> src/{rsfile}:{line}:{col}",
    ],
    ("rust", "compile", "name_error"): [
        "error[E0425]: cannot find value `{rs_ident}` in this scope\n --> "
        "src/{rsfile}:{line}:{col}",
    ],
    ("rust", "compile", "import_error"): [
        "error[E0432]: unresolved import `{rs_badcrate}`\n --> src/{rsfile}:{line_small}:5",
    ],
    ("rust", "compile", "type_error"): [
        "error[E0308]: mismatched types\n --> src/{rsfile}:{line}:{col}\n  |\n"
        "  = note: expected `i32`, found `String`",
        "error[E0382]: borrow of moved value: `{rs_ident}`\n --> src/{rsfile}:{line}:{col}",
    ],
    ("rust", "compile", "attribute_error"): [
        "error[E0609]: no field `{rs_badfield}` on type `{rs_type}`\n --> "
        "src/{rsfile}:{line}:{col}",
    ],
    ("rust", "test", "assertion_failure"): [
        "thread 'tests::{rs_test}' panicked at src/{rsfile}:{line}:{col}:\n"
        "assertion `left == right` failed\n  left: {num}\n right: {num#2}",
    ],
    ("rust", "test", "runtime_error"): [
        "thread 'main' panicked at src/{rsfile}:{line}:{col}:\ncalled `Option::unwrap()` on a "
        "`None` value",
        "thread 'main' panicked at src/{rsfile}:{line}:{col}:\n"
        "index out of bounds: the len is {num} but the index is {num#2}",
    ],
    ("rust", "test", "timeout"): [
        "test tests::{rs_test} has been running for over 60 seconds",
    ],
    ("cpp", "compile", "syntax_error"): [
        "{cppfile}:{line}:{col}: error: expected ';' before '}' token",
        "{cppfile}:{line}:{col}: error: expected primary-expression before ')' token",
        "{cppfile}:{line}:{col}: error: expected '}' at end of input",
    ],
    ("cpp", "compile", "name_error"): [
        "{cppfile}: In function 'int main()':\n{cppfile}:{line}:{col}: error: {cpp_typo}",
        "{cppfile}:{line}:{col}: error: '{cpp_ident}' undeclared (first use in this function)",
    ],
    ("cpp", "compile", "type_error"): [
        "{cppfile}:{line}:{col}: error: no matching function for call to "
        "'{cpp_func}(std::string&)'",
        "{cppfile}:{line}:{col}: error: cannot convert 'std::string' {aka "
        "'std::__cxx11::basic_string"
        "<char>'} to 'int' in initialization",
        "{cppfile}:{line}:{col}: error: invalid conversion from 'const char*' to 'int' "
        "[-fpermissive]",
    ],
    ("cpp", "compile", "import_error"): [
        "{cppfile}:{line_small}:10: fatal error: {cpp_header}: No such file or directory\n"
        "compilation terminated.",
    ],
    ("cpp", "compile", "attribute_error"): [
        "{cppfile}:{line}:{col}: error: 'class std::vector<int>' has no member named "
        "'{cpp_badmember}'",
    ],
    ("cpp", "test", "assertion_failure"): [
        "{cpp_testfile}:{line}: Failure\nExpected equality of these values:\n  {cpp_ident}\n"
        "    Which is: {num}\n  {num#2}",
        "Assertion failed: ({cpp_ident} != nullptr), function {cpp_func}, file {cppfile}, line "
        "{line}.",
    ],
    ("cpp", "test", "runtime_error"): [
        "Segmentation fault (core dumped)",
        "terminate called after throwing an instance of 'std::out_of_range'\n"
        "  what():  vector::_M_range_check: __n (which is {num}) >= this->size() (which is "
        "{num#2})\n"
        "Aborted (core dumped)",
        "free(): double free detected in tcache 2\nAborted (core dumped)",
    ],
    ("cpp", "test", "timeout"): [
        "{num}/{num#2} Test #{num}: {cpp_test} ...***Timeout {timeout_s}.01 sec",
    ],
    ("csharp", "compile", "syntax_error"): [
        "{csfile}({line},{col}): error CS1002: ; expected",
        "{csfile}({line},{col}): error CS1513: } expected",
    ],
    ("csharp", "compile", "name_error"): [
        "{csfile}({line},{col}): error CS0103: The name '{cs_ident}' does not exist in the current "
        "context",
    ],
    ("csharp", "compile", "type_error"): [
        "{csfile}({line},{col}): error CS0029: Cannot implicitly convert type 'string' to 'int'",
    ],
    ("csharp", "compile", "import_error"): [
        "{csfile}({line_small},{col}): error CS0246: The type or namespace name '{cs_badns}' could "
        "not be found (are you missing a using directive or an assembly reference?)",
    ],
    ("csharp", "compile", "attribute_error"): [
        "{csfile}({line},{col}): error CS1061: '{cs_type}' does not contain a definition for "
        "'{cs_badmember}' and no accessible extension method '{cs_badmember}' accepting a first "
        "argument of type '{cs_type}' could be found",
    ],
    ("csharp", "test", "assertion_failure"): [
        "Assert.Equal() Failure\nExpected: {num}\nActual:   {num#2}",
    ],
    ("csharp", "test", "runtime_error"): [
        "System.NullReferenceException: Object reference not set to an instance of an object.\n"
        "   at {cs_ns}.{cs_type}.{cs_method}() in /app/{csfile}:line {line}",
        "System.InvalidOperationException: Sequence contains no elements",
    ],
    ("csharp", "test", "timeout"): [
        "Test method {cs_ns}.{cs_type}Tests.{cs_method} exceeded execution timeout period.",
    ],
    ("ruby", "compile", "syntax_error"): [
        "{rbfile}:{line}: syntax error, unexpected end-of-input, expecting `end'",
    ],
    ("ruby", "compile", "import_error"): [
        "<internal:/usr/lib/ruby/3.2.0/rubygems/core_ext/kernel_require.rb>:85:in `require': "
        "cannot load such file -- {rb_badgem} (LoadError)",
    ],
    ("ruby", "test", "name_error"): [
        "{rbfile}:{line}:in `{rb_method}': undefined local variable or method `{rb_ident}' for "
        "main:Object (NameError)",
    ],
    ("ruby", "test", "attribute_error"): [
        "{rbfile}:{line}:in `{rb_method}': undefined method `{rb_badmethod}' for nil:NilClass "
        "(NoMethodError)",
    ],
    ("ruby", "test", "assertion_failure"): [
        "Failure:\nOrderTest#test_{rb_ident} [{rbfile}:{line}]:\nExpected: {num}\n  Actual: "
        "{num#2}",
    ],
    ("ruby", "test", "runtime_error"): [
        "{rbfile}:{line}:in `/': divided by 0 (ZeroDivisionError)",
    ],
    ("ruby", "test", "timeout"): ["Timeout::Error: execution expired"],
    ("php", "compile", "syntax_error"): [
        'PHP Parse error:  syntax error, unexpected token "}" in /app/{phpfile} on line {line}',
    ],
    ("php", "compile", "import_error"): [
        "PHP Warning:  require_once(vendor/{php_badpkg}/autoload.php): Failed to open stream: "
        "No such file or directory in /app/{phpfile} on line {line_small}",
    ],
    ("php", "test", "name_error"): [
        "PHP Fatal error:  Uncaught Error: Call to undefined function {php_func}() in "
        "/app/{phpfile}:{line}",
    ],
    ("php", "test", "type_error"): [
        "PHP Fatal error:  Uncaught TypeError: {php_func}(): Argument #1 ($value) must be of type "
        "int, string given, called in /app/{phpfile} on line {line}",
    ],
    ("php", "test", "assertion_failure"): [
        "Failed asserting that {num} matches expected {num#2}.",
    ],
    ("php", "test", "timeout"): [
        "PHP Fatal error:  Maximum execution time of {timeout_s} seconds exceeded in "
        "/app/{phpfile} on line {line}",
    ],
    ("swift", "compile", "name_error"): [
        "{swiftfile}:{line}:{col}: error: cannot find '{sw_ident}' in scope",
    ],
    ("swift", "compile", "type_error"): [
        "{swiftfile}:{line}:{col}: error: cannot convert value of type 'String' to expected "
        "argument type 'Int'",
    ],
    ("swift", "compile", "syntax_error"): [
        "{swiftfile}:{line}:{col}: error: expected '}' in struct",
    ],
    ("swift", "test", "assertion_failure"): [
        'XCTAssertEqual failed: ("{num}") is not equal to ("{num#2}")',
    ],
    ("swift", "test", "runtime_error"): [
        "Fatal error: Index out of range",
        "Fatal error: Unexpectedly found nil while unwrapping an Optional value",
    ],
    ("shell", "compile", "syntax_error"): [
        "{shfile}: line {line}: syntax error near unexpected token `fi'",
        "{shfile}: line {line}: syntax error: unexpected end of file",
    ],
    ("shell", "test", "name_error"): [
        "{shfile}: line {line}: {sh_cmd}: command not found",
    ],
    ("shell", "test", "assertion_failure"): [
        "not ok {num} - {sh_cmd} prints usage\n# (in test file test/{shfile}, line {line})",
    ],
    ("shell", "test", "timeout"): [
        "Terminated: {shfile} exceeded the {timeout_s} s limit",
    ],
}  # fmt: skip


def _index_templates(
    raw: Mapping[tuple[str, str, str], Sequence[str]],
) -> tuple[list[_Template], dict[tuple[str, str, str], tuple[int, int]]]:
    """Flatten the templates; map (family, stage, error_type) to (first index, count)."""
    templates: list[_Template] = []
    ranges: dict[tuple[str, str, str], tuple[int, int]] = {}
    for key, texts in raw.items():
        ranges[key] = (len(templates), len(texts))
        templates.extend(_Template.parse(t) for t in texts)
    # The TypeScript test runner (jest) prints the JavaScript runtime errors.
    for (family, stage, error_type), span in list(ranges.items()):
        if family == "js" and stage == "test":
            ranges[("ts", "test", error_type)] = span
    return templates, ranges


ERROR_TEMPLATES, _TEMPLATE_RANGE = _index_templates(_ERROR_TEMPLATES_RAW)


def _stage_type_table(stage: str, weights: Mapping[str, float]) -> tuple[F64, I64, I64]:
    """Per family: cumulative error-type probabilities over ERROR_TYPES, template start, count."""
    n_fam, n_et = len(FAMILIES), len(schema.ERROR_TYPES)
    cdf = np.zeros((n_fam, n_et))
    start = np.zeros((n_fam, n_et), dtype=np.int64)
    count = np.zeros((n_fam, n_et), dtype=np.int64)
    for f, fam in enumerate(FAMILIES):
        w = np.zeros(n_et)
        for e, et in enumerate(schema.ERROR_TYPES):
            if (fam, stage, et) in _TEMPLATE_RANGE:
                start[f, e], count[f, e] = _TEMPLATE_RANGE[(fam, stage, et)]
                w[e] = weights.get(et, 0.0)
        if w.sum() <= 0:
            raise AssertionError(f"no {stage} error templates for family {fam}")
        cdf[f] = np.cumsum(w / w.sum())
    return cdf, start, count


_COMPILE_TABLE = _stage_type_table("compile", _COMPILE_TYPE_WEIGHTS)
_TEST_TABLE = _stage_type_table("test", _TEST_TYPE_WEIGHTS)

_CHAT_TEMPLATES_RAW = [
    "{verb} {object}.",
    "{verb} {object} in {langname}.",
    "{verb} {object}; {constraint}.",
    "{verb} {object} in {langname}. Requirements: {constraint}, {constraint#2}.",
    "{verb} {object} in {langname}. Requirements: {constraint}; {constraint#2}; {constraint#3}. "
    "Example: {example}. Reuse `{ident}` from the existing module.",
    "Why does `{ident}` fail with {errsnippet}?",
    "Explain what `{ident}` does and how to test it.",
    "Can you {verb_lower} {object}? {example}.",
    "{verb} {object}.\n\nRequirements:\n- {constraint}\n- {constraint#2}\n- {constraint#3}\n\n"
    "Example: {example}\nThe existing helper `{ident}` should be reused.",
    "How do I {verb_lower} {object} without breaking `{ident}`?",
]
_CHAT_TEMPLATE_WEIGHTS = np.array([14, 12, 12, 10, 6, 10, 8, 10, 4, 6], dtype=np.float64)
_COMMENT_TEMPLATES_RAW = [
    "{cprefix}TODO: {verb_lower} {object}{csuffix}",
    "{cprefix}{verb} {object}{csuffix}",
    "{cprefix}{verb} {object} ({constraint}){csuffix}",
    "{cprefix}{verb} {object}, {example}{csuffix}",
]
CHAT_TEMPLATES = [_Template.parse(t) for t in _CHAT_TEMPLATES_RAW]
COMMENT_TEMPLATES = [_Template.parse(t) for t in _COMMENT_TEMPLATES_RAW]

_LANG_NAMES = {
    "python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "java": "Java",
    "go": "Go", "rust": "Rust", "cpp": "C++", "c": "C", "csharp": "C#", "ruby": "Ruby",
    "php": "PHP", "kotlin": "Kotlin", "swift": "Swift", "scala": "Scala", "shell": "Bash",
    "sql": "SQL", "html": "HTML", "css": "CSS", "markdown": "Markdown", "yaml": "YAML",
    "json": "JSON", "other": "the current language",
}  # fmt: skip
_HASH_COMMENT = {"python", "ruby", "shell", "yaml", "other"}
_COMMENT_PREFIX = _strings(
    [
        "# " if x in _HASH_COMMENT
        else "-- " if x == "sql"
        else "<!-- " if x in ("html", "markdown")
        else "/* " if x in ("css", "json")
        else "// "
        for x in schema.LANGUAGES
    ]
)  # fmt: skip
_COMMENT_SUFFIX = _strings(
    [
        " -->" if x in ("html", "markdown") else " */" if x in ("css", "json") else ""
        for x in schema.LANGUAGES
    ]
)
_LANG_NAME_ARRAY = _strings([_LANG_NAMES[x] for x in schema.LANGUAGES])

# code arrays used by the generators
_LANG_INDEX = {x: i for i, x in enumerate(schema.LANGUAGES)}
_RUNNABLE_MASK = np.array([x in _RUNNABLE for x in schema.LANGUAGES])
_FAMILY_OF_LANG = np.array(
    [FAMILIES.index(_FAMILY_OF[x]) if x in _FAMILY_OF else 0 for x in schema.LANGUAGES],
    dtype=np.int64,
)
_COMPILE_INTERCEPT = np.array([COMPILE_FAIL_INTERCEPT[f] for f in FAMILIES])
_ERROR_INDEX = {e: i for i, e in enumerate(schema.ERROR_TYPES)}

_A_SEGMENTS = _strings(SIMULATED_SEGMENTS)
_A_LANGUAGES = _strings(schema.LANGUAGES)
_A_EDITORS = _strings(schema.EDITORS)
_A_TASKS = _strings(schema.TASK_TYPES)
_A_TRIGGERS = _strings(schema.TRIGGERS)
_A_OUTCOMES = _strings(schema.OUTCOMES)
_A_VERSIONS = _strings(VERSIONS)
_A_KINDS = _strings(schema.RUN_KINDS)
_A_ERRORS = _strings(schema.ERROR_TYPES)
_A_ITEMS = _strings(schema.SURVEY_ITEMS)


def _cdf(weights: Sequence[float]) -> F64:
    w = np.asarray(weights, dtype=np.float64)
    return np.asarray(np.cumsum(w / w.sum()))


_LANG_CDF = np.stack([_cdf(_LANGUAGE_WEIGHTS[s]) for s in SIMULATED_SEGMENTS])
_EDITOR_CDF = np.stack([_cdf(_EDITOR_WEIGHTS[s]) for s in SIMULATED_SEGMENTS])


# =========================================================================== random helpers


def _rng(config: SimulationConfig, chunk: int, stage: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(chunk, stage)))


def _draw(cdf: F64, u: F64) -> I64:
    """Inverse-CDF draw of category codes."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1).astype(np.int64)


def _draw_by_row(cdfs: F64, row: I64, u: F64) -> I64:
    """Inverse-CDF draw where each row has its own distribution ``cdfs[row[i]]`` (few rows)."""
    out = np.empty(len(u), dtype=np.int64)
    for r in range(cdfs.shape[0]):
        m = row == r
        if m.any():
            out[m] = _draw(cdfs[r], u[m])
    return out


def _sigmoid(x: F64) -> F64:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)))


def _hash_uniform(seed: int, salt: int, index: I64) -> F64:
    """A uniform in [0, 1) that depends only on (seed, salt, user index): chunking-invariant."""
    base = np.uint64((seed * 1_000_003 + salt * 7_919) % (2**63))
    with np.errstate(over="ignore"):
        h = _splitmix64(index.astype(np.uint64) ^ _splitmix64(np.array([base], dtype=np.uint64)))
    return np.asarray((h >> np.uint64(11)).astype(np.float64) / float(2**53))


def _group_starts(counts: I64) -> I64:
    """Index of the first element of each group in a ``np.repeat(arange, counts)`` layout."""
    starts = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=starts[1:])
    return starts


def _rank_in_group(counts: I64) -> I64:
    """0, 1, ... within each group of a ``np.repeat(arange, counts)`` layout."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(_group_starts(counts), counts)


def _us(day: dt.date) -> int:
    return (day - _EPOCH).days * US_PER_DAY


# =========================================================================== ground truth


@dataclass
class TruthAccumulator:
    """Mergeable sums from which :meth:`to_dict` computes the exact planted estimands.

    Pass one to :func:`iter_chunks` to get the ground truth of a streamed simulation.
    """

    sums: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, **values: float) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def add_rows(self, tables: Mapping[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.rows[name] = self.rows.get(name, 0) + table.num_rows

    def get(self, key: str) -> float:
        return self.sums.get(key, 0.0)

    def to_dict(self, config: SimulationConfig) -> dict[str, Any]:
        return _truth_dict(config, self)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _truth_dict(config: SimulationConfig, acc: TruthAccumulator) -> dict[str, Any]:
    g = acc.get
    exp_start = dt.datetime.combine(config.experiment_start, dt.time()).isoformat()
    end = dt.datetime.combine(config.end, dt.time()).isoformat()
    rate_v1 = _ratio(g("tp_shown_p_v1"), g("tp_shown_v1"))
    rate_v2 = _ratio(g("tp_shown_p_v2"), g("tp_shown_v2"))
    abs_lift = rate_v2 - rate_v1 if rate_v1 is not None and rate_v2 is not None else None
    rel_lift = rate_v2 / rate_v1 - 1 if rate_v1 and rate_v2 is not None else None
    lat_c = _ratio(g("tp_latency_v1"), g("tp_shown_v1"))
    lat_t = _ratio(g("tp_latency_v2"), g("tp_shown_v2"))
    n_assigned_t, n_assigned_c = g("assigned_treatment"), g("assigned_control")
    coefficients: dict[str, float] = {"intercept": ACCEPTANCE_COEFFICIENTS["intercept"]}
    for factor in ("segment", "language", "task_type", "trigger"):
        for level, value in ACCEPTANCE_COEFFICIENTS[factor].items():
            coefficients[f"{factor}[{level}]"] = value
    coefficients["latency_s"] = ACCEPTANCE_COEFFICIENTS["latency_s"]
    coefficients["log_suggested_chars"] = ACCEPTANCE_COEFFICIENTS["log_suggested_chars"]
    coefficients["model_version[v2]"] = config.true_model_effect
    coefficients["evening"] = ACCEPTANCE_COEFFICIENTS["evening"]

    pop_n, adopters_n = g("causal_users"), g("causal_adopters")
    non_n = pop_n - adopters_n
    ate = _ratio(g("causal_tau_sum"), pop_n)
    att = _ratio(g("causal_tau_adopters"), adopters_n)
    exp_adopt = _ratio(g("causal_mu1_adopters"), adopters_n)
    exp_non = _ratio(g("causal_mu0_non"), non_n)
    naive = exp_adopt - exp_non if exp_adopt is not None and exp_non is not None else None

    sn, sx, sy = g("survey_n"), g("survey_x"), g("survey_y")
    corr = None
    if sn > 2:
        cov = g("survey_xy") - sx * sy / sn
        vx = g("survey_xx") - sx * sx / sn
        vy = g("survey_yy") - sy * sy / sn
        corr = cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else None

    n_acc = g("persist_n")
    persistence_means = {
        str(t): _ratio(g(f"persist_ratio_{t}"), n_acc) for t in schema.PERSISTENCE_CHECKPOINTS_S
    }
    removed_share = {
        str(t): _ratio(g(f"persist_removed_{t}"), n_acc) for t in schema.PERSISTENCE_CHECKPOINTS_S
    }
    return {
        "seed": config.seed,
        "config": config.to_dict(),
        "generator": "codex_ds.telemetry.simulate",
        "period": {
            "start": dt.datetime.combine(config.start, dt.time()).isoformat(),
            "end": end,
            "days": config.days,
            "timezone": "UTC",
        },
        "tables": dict(acc.rows),
        "acceptance_model": {
            "formula": (
                "logit P(accepted | shown) = intercept + segment + language + task_type + trigger"
                " + latency_s * latency_s + log_suggested_chars * ln(suggested_chars)"
                " + model_version[v2] * [model_version = 'v2'] + evening * [evening]"
            ),
            "outcome": "1 if outcome in ('accepted', 'partially_accepted'); rows with outcome "
            "'not_shown' are excluded",
            "coefficients": coefficients,
            "reference_levels": ACCEPTANCE_REFERENCE_LEVELS,
            "covariates": {
                "segment": "users.segment of suggestions.user_id",
                "language": "suggestions.language",
                "task_type": "sessions.task_type of suggestions.session_id",
                "trigger": "suggestions.trigger",
                "latency_s": "suggestions.latency_ms / 1000 (exact, not rounded)",
                "log_suggested_chars": "natural log of suggestions.suggested_chars (>= 1)",
                "model_version[v2]": "suggestions.model_version = 'v2'",
                "evening": "hour of suggestions.shown_at (UTC) >= 18 or < 8",
            },
            "omitted_variables": "none: given these covariates the acceptance draws are "
            "independent (no user random effect), so a logistic regression on shown "
            "suggestions is correctly specified",
            "not_shown_rule": (
                f"outcome = 'not_shown' iff latency_ms > {NOT_SHOWN_LATENCY_MS:g} (the developer "
                f"kept typing) or an independent Bernoulli({NOT_SHOWN_RANDOM_P:g}) client drop; "
                "decided before and independently of the acceptance draw, so selection into "
                "'shown' depends on covariates only (latency) and leaves the model on shown "
                "suggestions intact"
            ),
            "partial_rule": (
                f"an accepted suggestion with suggested_chars >= 2 is 'partially_accepted' with "
                f"probability {PARTIAL_SHARE:g}; then accepted_chars = "
                "clip(floor(U(0.15, 0.9) * suggested_chars), 1, suggested_chars - 1)"
            ),
            "latency_model": (
                f"latency_ms = {_LATENCY_MEDIAN_MS:g} * (prompt_tokens/1000)^0.3 * "
                "(suggested_chars/40)^0.1 * exp(0.38 z) * spike, spike = exp(N(ln 4, 0.5)) with "
                f"probability {_LATENCY_SPIKE_P:g} else 1; v2 multiplies by "
                f"{config.v2_latency_factor:g}"
            ),
            "shown_suggestions": int(g("shown")),
            "expected_acceptance_rate": _ratio(g("shown_p"), g("shown")),
            "realised_acceptance_rate": _ratio(g("shown_accepted"), g("shown")),
        },
        "experiments": [
            {
                "id": EXPERIMENT_ID,
                "unit": "user",
                "metric": "acceptance_rate",
                "metric_definition": "count(outcome in ('accepted','partially_accepted')) / "
                "count(outcome != 'not_shown') over suggestions with shown_at >= start",
                "control": CONTROL,
                "treatment": TREATMENT,
                "start": exp_start,
                "end": end,
                "allocation": {"control": 0.5, "treatment": 0.5},
                "assignment_rule": "every user is assigned, by a hash of (seed, user index): "
                "treatment iff hash_uniform < 0.5; assigned_at = max(start, signup_at); "
                "treatment users get model v2 for suggestions shown at or after start",
                "true_rate_control": rate_v1,
                "true_rate_treatment": rate_v2,
                "true_absolute_lift": abs_lift,
                "true_relative_lift": rel_lift,
                "true_lift_definition": (
                    "common random numbers over every suggestion shown at or after start by any "
                    "user (both arms): rate(v) = sum_i shown_i(v) p_i(v) / sum_i shown_i(v), "
                    "where latency_i(v), shown_i(v) and p_i(v) are the potential latency, shown "
                    "indicator and acceptance probability under version v; relative = "
                    "rate(v2)/rate(v1) - 1, absolute = rate(v2) - rate(v1)"
                ),
                "logit_effect": config.true_model_effect,
                "v2_latency_factor": config.v2_latency_factor,
                "true_mean_latency_control": lat_c,
                "true_mean_latency_treatment": lat_t,
                "true_relative_latency_change": (
                    lat_t / lat_c - 1 if lat_c and lat_t is not None else None
                ),
                "latency_guardrail_regression": {
                    "beyond_5_percent_margin": bool(lat_c and lat_t and lat_t / lat_c > 1.05),
                    "definition": "mean latency_ms of shown suggestions (the latency_ms "
                    "guardrail) under v2 and v1, common random numbers over every suggestion "
                    "shown at or after start by any user: sum_i shown_i(v) latency_i(v) / "
                    "sum_i shown_i(v); v2 multiplies every latency by v2_latency_factor, and "
                    "suggestions slower than the not-shown threshold drop out, so the change "
                    "in the shown mean is a little below the factor",
                },
                "pre_period": {
                    "start": dt.datetime.combine(config.start, dt.time()).isoformat(),
                    "end": exp_start,
                    "days": config.experiment_start_day,
                    "note": "all users on v1 before start: the per-user pre-period acceptance "
                    "rate (same metric) is a valid CUPED covariate and any pre-period arm "
                    "difference is pure noise (A/A)",
                    "expected_rate": _ratio(g("pre_shown_p"), g("pre_shown")),
                },
                "users_assigned": int(n_assigned_t + n_assigned_c),
                "assignments_logged": {
                    "control": int(n_assigned_c),
                    "treatment": int(n_assigned_t - g("srm_dropped")),
                },
                "srm_planted": config.srm,
                "srm_mechanism": (
                    f"the assignment rows of a random {config.srm_drop_fraction:.0%} of treatment "
                    "users are lost (logging bug); those users still get v2"
                    if config.srm
                    else None
                ),
                "srm_dropped_assignments": int(g("srm_dropped")),
            }
        ],
        "causal": [
            {
                "treatment": "feature_adoption.chat",
                "outcome": "dev_outcomes.prs_merged (mean per week per user)",
                "population": "users with at least one dev_outcomes row",
                "true_ate": ate,
                "true_att": att,
                "effect_by_segment": dict(
                    zip(SIMULATED_SEGMENTS, config.chat_effect_by_segment, strict=True)
                ),
                "effect_model": "prs_merged ~ Poisson(mu0_u + tau_u * adopted_u) each week; "
                "tau_u = effect_by_segment[segment] * Gamma(4, 1/4); mu0_u = base[segment] * "
                "(0.6 + 0.8 * tenure_norm) * Gamma(8, 1/8)",
                "baseline_by_segment": PRS_BASE_BY_SEGMENT,
                "adoption_model": {
                    "formula": "logit P(adopted) = intercept + segment + tenure * tenure_norm",
                    "intercept": CHAT_ADOPTION_INTERCEPT,
                    "segment": CHAT_ADOPTION_SEGMENT,
                    "tenure": CHAT_ADOPTION_TENURE,
                },
                "confounders": ["segment", "tenure_days"],
                "confounder_definitions": {
                    "segment": "users.segment",
                    "tenure_days": "(period start - users.signup_at) in days (negative for "
                    "users who sign up during the period)",
                    "tenure_norm": f"clip(tenure_days, 0, {TENURE_CAP_DAYS:g}) / "
                    f"{TENURE_CAP_DAYS:g}",
                },
                "adoption_timing": "adopted_at is before the user's first dev_outcomes week",
                "n_users": int(pop_n),
                "n_adopters": int(adopters_n),
                "expected_naive_difference": naive,
                "naive_difference_expected_sign": "+" if (naive or 0) > 0 else "-",
                "naive_bias": naive - ate if naive is not None and ate is not None else None,
            }
        ],
        "persistence": {
            "checkpoints_s": list(schema.PERSISTENCE_CHECKPOINTS_S),
            "growth": list(PERSISTENCE_GROWTH),
            "untouched_probability": PERSISTENCE_UNTOUCHED_P,
            "edit_fraction_beta": list(PERSISTENCE_EDIT_BETA),
            "removed_probability_by_version": PERSISTENCE_REMOVED_P,
            "removal_time_log_uniform_s": list(PERSISTENCE_REMOVAL_RANGE_S),
            "model": "per accepted suggestion: with probability "
            f"{PERSISTENCE_UNTOUCHED_P:g} never edited, else edit fraction e ~ "
            "Beta(edit_fraction_beta); edit_distance(t) = min(round(e * growth(t) * "
            "accepted_chars), accepted_chars) at the checkpoints; removed within 600 s with "
            "removed_probability_by_version at a log-uniform time in removal_time_log_uniform_s "
            "(from then on removed = true, edit_distance = accepted_chars, edit_ratio = 1); "
            "edit_ratio = edit_distance / accepted_chars",
            "accepted_suggestions": int(n_acc),
            "mean_edit_ratio": persistence_means,
            "removed_share": removed_share,
        },
        "runs": RUN_MODEL
        | {
            "covariates": {
                "accepted_before": "accepted suggestions of the session shown before ran_at",
                "model_v2": "runs.model_version = 'v2' (version of the last such suggestion)",
            }
        },
        "survey": {
            "items": list(schema.SURVEY_ITEMS),
            "respondents": int(g("survey_n")),
            "eligibility": "signed up at least 3 days before the period end and at least "
            f"{SURVEY_MODEL['min_shown_suggestions']} shown suggestions",
            "model": "latent_u = latent_intercept + slope * (acceptance_rate_u - "
            "acceptance_centre) + N(0, user_noise_sd); score = clip(round(latent_u + "
            "item_offset + N(0, item_noise_sd)), 1, 5)",
            "parameters": SURVEY_MODEL
            | {"slope": config.survey_acceptance_slope, "item_offsets": SURVEY_ITEM_OFFSETS},
            "acceptance_rate_definition": "(accepted + partially_accepted) / shown over all "
            "of the user's suggestions in the period",
            "realised_correlation_perceived_productivity": corr,
        },
        "lifecycle": {
            "new_users": int(g("new_users")),
            "churned_users": int(g("churned")),
            "resurrected_users": int(g("resurrected")),
            "dormant_from_start": int(g("dormant_from_start")),
            "rule": "a user is active on a day with probability active_p (x weekend_activity on "
            "Saturday/Sunday) from signup until the churn day (day index, counted within the "
            "period); resurrected users are active again from 3 + Exp(6) days after churning; "
            "churned/resurrected count churn and return days inside the period; "
            "dormant_from_start = users signed up before the period who churn on day 0",
            "churn_probability": config.churn_probability,
            "churn_mean_days": config.churn_mean_days,
            "resurrection_probability": config.resurrection_probability,
            "weekend_activity": config.weekend_activity,
        },
        "anomalies": _anomaly_truth(config),
    }


# =========================================================================== generation


@dataclass
class _Offsets:
    """Running id counters across chunks."""

    sessions: int = 0
    suggestions: int = 0
    runs: int = 0
    prompts: int = 0
    responses: int = 0


@dataclass
class _Users:
    index: I64  # global user index
    ids: pa.Array
    seg: I64
    lang: I64
    editor: I64
    signup_us: I64
    signup_day: I64
    tenure_days: F64
    new: Bool
    treat: Bool
    active_p: F64
    sessions_lambda: F64
    rate: F64
    p_manual: F64
    p_comment: F64
    churn_day: I64
    res_day: I64
    churned: Bool
    resurrected: Bool
    adopted: Bool
    adopted_us: I64


def _make_users(config: SimulationConfig, chunk: int, lo: int, hi: int) -> tuple[_Users, pa.Table]:
    rng = _rng(config, chunk, 0)
    n = hi - lo
    start_us = _us(config.start)
    index = np.arange(lo, hi, dtype=np.int64)
    seg = _draw(_cdf(SEGMENT_MIX), rng.random(n))
    lang = _draw_by_row(_LANG_CDF, seg, rng.random(n))
    editor = _draw_by_row(_EDITOR_CDF, seg, rng.random(n))
    n_teams = max(1, -(-config.users // 12))
    team = rng.integers(0, n_teams, n)
    team_null = rng.random(n) < 0.04
    new = rng.random(n) < config.new_user_share
    signup_day_new = rng.integers(0, config.days, n)
    hour_new = rng.uniform(7.0, 19.0, n)
    tenure_pre = 1.0 + rng.exponential(300.0, n)
    tenure_pre = np.minimum(tenure_pre, 720.0)
    signup_us = np.where(
        new,
        start_us + signup_day_new * US_PER_DAY + (hour_new * US_PER_H).astype(np.int64),
        start_us - (tenure_pre * US_PER_DAY).astype(np.int64),
    )
    signup_us = np.maximum(signup_us, _EARLIEST_US)
    signup_day = np.floor_divide(signup_us - start_us, US_PER_DAY)
    tenure_days = (start_us - signup_us) / US_PER_DAY

    active_p = rng.beta(2.0, 1.6, n)
    sessions_lambda = (config.sessions_per_active_day - 1.0) * rng.lognormal(-0.245, 0.7, n)
    rate = config.suggestions_per_minute * rng.lognormal(-0.125, 0.5, n)
    p_manual = np.minimum(0.12 * rng.gamma(2.0, 0.5, n), 0.6)
    p_comment = np.minimum(0.08 * rng.gamma(2.0, 0.5, n), 0.3)
    churned = rng.random(n) < config.churn_probability
    churn_from = np.where(new, signup_day + 1, 0)
    churn_day = np.where(
        churned,
        churn_from + np.floor(rng.exponential(config.churn_mean_days, n)).astype(np.int64),
        np.iinfo(np.int32).max,
    )
    resurrected = churned & (rng.random(n) < config.resurrection_probability)
    res_day = np.where(
        resurrected,
        churn_day + 3 + np.floor(rng.exponential(6.0, n)).astype(np.int64),
        np.iinfo(np.int32).max,
    )
    treat = _hash_uniform(config.seed, 1, index) < 0.5

    # chat adoption: confounded by segment and tenure
    tenure_norm = np.clip(tenure_days, 0.0, TENURE_CAP_DAYS) / TENURE_CAP_DAYS
    seg_adopt = np.array([CHAT_ADOPTION_SEGMENT[s] for s in SIMULATED_SEGMENTS])
    logit = CHAT_ADOPTION_INTERCEPT + seg_adopt[seg] + CHAT_ADOPTION_TENURE * tenure_norm
    adopted = rng.random(n) < _sigmoid(logit)
    first_week = _first_week_after(config, signup_us)
    window_lo = np.maximum(signup_us, first_week - 120 * US_PER_DAY)
    window_hi = np.minimum(first_week, _us(config.end))
    adopted_us = window_lo + (rng.random(n) * np.maximum(window_hi - window_lo, 1)).astype(np.int64)

    ids = _id_range("u", lo, hi)
    team_names = _id_range("team-", 1, n_teams + 1)
    table = _table(
        "users",
        {
            "user_id": ids,
            "segment": _take(_A_SEGMENTS, seg),
            "primary_language": _take(_A_LANGUAGES, lang),
            "editor": _take(_A_EDITORS, editor),
            "team": _take(team_names, team, mask=team_null),
            "signup_at": _ts(signup_us),
        },
    )
    users = _Users(
        index=index, ids=ids, seg=seg, lang=lang, editor=editor, signup_us=signup_us,
        signup_day=signup_day, tenure_days=tenure_days, new=new, treat=treat,
        active_p=active_p, sessions_lambda=sessions_lambda, rate=rate, p_manual=p_manual,
        p_comment=p_comment, churn_day=churn_day, res_day=res_day, churned=churned,
        resurrected=resurrected, adopted=adopted, adopted_us=adopted_us,
    )  # fmt: skip
    return users, table


def _week_starts(config: SimulationConfig) -> I64:
    """Mondays (as µs) of the ISO weeks that overlap the period."""
    first = config.start - dt.timedelta(days=config.start.weekday())
    weeks = []
    day = first
    while day < config.end:
        weeks.append(_us(day))
        day += dt.timedelta(days=7)
    return np.array(weeks, dtype=np.int64)


def _first_week_after(config: SimulationConfig, signup_us: I64) -> I64:
    """Start of the first week (Monday 00:00) strictly after signup; may lie after the period."""
    first_monday = _us(config.start - dt.timedelta(days=config.start.weekday()))
    k = np.floor_divide(signup_us - first_monday, 7 * US_PER_DAY) + 1
    return np.maximum(first_monday, first_monday + k * 7 * US_PER_DAY)


@dataclass
class _Sessions:
    ids: pa.Array
    user: I64  # local user index
    start_us: I64
    end_us: I64
    active_min: F64
    lang: I64
    task: I64
    repo: F64


def _make_sessions(
    config: SimulationConfig, chunk: int, users: _Users, offsets: _Offsets, acc: TruthAccumulator
) -> tuple[_Sessions, pa.Table]:
    rng = _rng(config, chunk, 1)
    n, days = len(users.index), config.days
    day = np.arange(days)
    weekend = ((config.start.weekday() + day) % 7) >= 5
    factor = np.where(weekend, config.weekend_activity, 1.0)
    alive = (day[None, :] >= users.signup_day[:, None]) & (
        (day[None, :] < users.churn_day[:, None]) | (day[None, :] >= users.res_day[:, None])
    )
    p = users.active_p[:, None] * factor[None, :]
    p = np.where(users.new[:, None] & (day[None, :] == users.signup_day[:, None]), 1.0, p)
    active = alive & (rng.random((n, days), dtype=np.float32) < p)
    ui, di = np.nonzero(active)
    ui = ui.astype(np.int64)
    di = di.astype(np.int64)
    acc.add(
        new_users=float(users.new.sum()),
        churned=float(np.count_nonzero(users.churn_day < days)),
        resurrected=float(np.count_nonzero(users.res_day < days)),
        dormant_from_start=float(np.count_nonzero((users.churn_day <= 0) & ~users.new)),
    )

    per_day = 1 + rng.poisson(users.sessions_lambda[ui])
    s_user = np.repeat(ui, per_day)
    s_day = np.repeat(di, per_day)
    group = np.repeat(np.arange(len(ui), dtype=np.int64), per_day)
    n_s = len(s_user)

    # first session of the day: working hours mostly, some evenings, a few at any hour
    g_weekend = weekend[di]
    u = rng.random(len(ui))
    work = rng.normal(9.3, 1.3, len(ui))
    afternoon = rng.normal(13.8, 1.5, len(ui))
    evening = rng.normal(19.8, 1.4, len(ui))
    anytime = rng.uniform(0.0, 24.0, len(ui))
    h_work = np.where(rng.random(len(ui)) < 0.7, work, afternoon)
    cut1 = np.where(g_weekend, 0.45, 0.82)
    cut2 = np.where(g_weekend, 0.80, 0.95)
    h0 = np.where(u < cut1, h_work, np.where(u < cut2, evening, anytime))
    h0 = np.clip(h0, 0.0, 23.5)

    active_min = np.clip(rng.lognormal(math.log(28.0), 0.75, n_s), 1.0, 480.0)
    wall_min = active_min * rng.uniform(1.05, 1.5, n_s)
    gap_min = rng.exponential(75.0, n_s)
    step = ((wall_min + gap_min) * US_PER_MIN).astype(np.int64)
    csum = np.cumsum(step)
    g_first = _group_starts(per_day)
    before = csum - step - (csum[g_first] - step[g_first])[group]
    start = (
        _us(config.start) + s_day * US_PER_DAY + (h0[group] * US_PER_H).astype(np.int64) + before
    )
    # sessions never start before signup (shift the user's whole day)
    shift = np.maximum(0, users.signup_us[ui] + US_PER_MIN - start[g_first])
    start = start + shift[group]
    # a day's last sessions can be pushed past midnight: none starts after the period
    inside = start < _us(config.end)
    if not inside.all():
        s_user, start, wall_min, active_min = (
            s_user[inside],
            start[inside],
            wall_min[inside],
            active_min[inside],
        )
        n_s = len(s_user)
    end = start + (wall_min * US_PER_MIN).astype(np.int64)

    seg = users.seg[s_user]
    own = rng.random(n_s) < 0.75
    other = _draw_by_row(_LANG_CDF, seg, rng.random(n_s))
    lang = np.where(own, users.lang[s_user], other)
    keep_editor = rng.random(n_s) < 0.96
    editor = np.where(keep_editor, users.editor[s_user], rng.integers(0, len(schema.EDITORS), n_s))
    task = _draw(_cdf(TASK_MIX), rng.random(n_s))
    repo = np.maximum(rng.lognormal(math.log(40_000.0), 1.3, n_s), 50.0)
    repo_null = rng.random(n_s) < 0.03
    cpm = np.asarray(TYPED_CHARS_PER_MINUTE)[seg]
    typed = rng.poisson(active_min * cpm)
    typed_null = rng.random(n_s) < 0.02

    ids = _id_range("s", offsets.sessions, offsets.sessions + n_s)
    offsets.sessions += n_s
    table = _table(
        "sessions",
        {
            "session_id": ids,
            "user_id": _take(users.ids, s_user),
            "started_at": _ts(start),
            "ended_at": _ts(end),
            "editor": _take(_A_EDITORS, editor),
            "language": _take(_A_LANGUAGES, lang),
            "task_type": _take(_A_TASKS, task),
            "repo_size_loc": pa.array(repo.astype(np.int64), mask=repo_null),
            "active_minutes": np.round(active_min, 2),
            "typed_chars": pa.array(typed.astype(np.int64), mask=typed_null),
        },
    )
    sessions = _Sessions(ids, s_user, start, end, active_min, lang, task, repo)
    return sessions, table


@dataclass
class _Suggestions:
    ids: pa.Array
    session: I64
    user: I64
    shown_us: I64
    accepted: Bool
    v2: Bool
    acc_chars: Arr
    comment_idx: I64
    user_shown: Arr  # shown suggestions per (local) user
    user_accepted: Arr  # accepted (incl. partially) per (local) user


def _make_suggestions(
    config: SimulationConfig,
    chunk: int,
    users: _Users,
    sess: _Sessions,
    offsets: _Offsets,
    acc: TruthAccumulator,
) -> tuple[_Suggestions, pa.Table]:
    rng = _rng(config, chunk, 2)
    c = ACCEPTANCE_COEFFICIENTS
    n_s = len(sess.user)
    s_user = sess.user
    counts = rng.poisson(sess.active_min * users.rate[s_user])
    g = np.repeat(np.arange(n_s, dtype=np.int64), counts)
    n = len(g)

    # sorted uniform times within each session: normalised exponential spacings
    starts = _group_starts(counts)[counts > 0]
    ends = starts + counts[counts > 0] - 1
    has = counts > 0
    csum = rng.standard_exponential(n)
    first_spacing = csum[starts]
    np.cumsum(csum, out=csum)
    base = np.zeros(n_s)
    base[has] = csum[starts] - first_spacing  # cumulated spacing before the session's first
    span = rng.standard_exponential(n_s)  # the gap after the session's last suggestion
    span[has] += csum[ends] - base[has]
    scale = (sess.end_us - sess.start_us) / span
    csum -= base[g]
    csum *= scale[g]
    shown_us = sess.start_us[g] + csum.astype(np.int64)
    del csum, base, span, scale

    # per-session parts of the covariates, gathered once per suggestion
    s_eta = (
        c["intercept"]
        + _SEG_COEF[users.seg[s_user]]
        + _LANG_COEF[sess.lang]
        + _TASK_COEF[sess.task]
    )
    exp_start_us = _us(config.experiment_start)
    after = shown_us >= exp_start_us
    v2 = users.treat[s_user][g]
    v2 &= after

    ut = rng.random(n)
    trig = np.zeros(n, dtype=np.int64)
    trig[ut < (users.p_manual + users.p_comment)[s_user][g]] = 2
    trig[ut < users.p_manual[s_user][g]] = 1
    del ut
    hour = (shown_us // US_PER_H) % 24
    evening = (hour >= 18) | (hour < 8)
    del hour

    log_tokens = rng.standard_normal(n)
    log_tokens *= 0.55
    log_tokens += (math.log(1100.0) + 0.12 * np.log(sess.repo / 40_000.0))[g]
    tokens = np.clip(np.exp(log_tokens), 16, 16_000).astype(np.int32)
    del log_tokens
    chars_f = rng.lognormal(0.0, 0.85, n)
    chars_f *= np.asarray(_SUGGESTED_CHARS_MEDIAN)[trig]
    np.ceil(chars_f, out=chars_f)
    np.clip(chars_f, 1, 4000, out=chars_f)
    chars = chars_f.astype(np.int32)
    log_chars = np.log(chars_f)
    lines_f = rng.uniform(0.75 / 40.0, 1.25 / 40.0, n)
    lines_f *= chars_f
    np.rint(lines_f, out=lines_f)
    lines = np.maximum(lines_f, 1.0).astype(np.int32)
    del chars_f, lines_f

    # planted anomalies (monitors): which suggestions each one hits
    hit = _anomaly_masks(config, shown_us, sess.lang[g])

    # latency (ms) under v1; v2 multiplies it (common random numbers)
    lat_v1 = rng.standard_normal(n)
    lat_v1 *= 0.38
    lat_v1 += 0.1 * (log_chars - math.log(40.0))
    lat_v1 += 0.3 * np.log(tokens / 1000.0)
    np.exp(lat_v1, out=lat_v1)
    lat_v1 *= _LATENCY_MEDIAN_MS
    spiked = np.flatnonzero(rng.random(n) < _LATENCY_SPIKE_P)
    lat_v1[spiked] *= rng.lognormal(math.log(4.0), 0.5, len(spiked))
    for anomaly, mask in hit:
        if anomaly.kind == "latency":
            lat_v1[mask] *= anomaly.factor
    np.clip(lat_v1, 5.0, 600_000.0, out=lat_v1)
    lat_v2 = np.clip(lat_v1 * config.v2_latency_factor, 5.0, 600_000.0)
    drop = rng.random(n) < NOT_SHOWN_RANDOM_P
    shown_v1 = lat_v1 <= NOT_SHOWN_LATENCY_MS
    shown_v1 &= ~drop
    shown_v2 = lat_v2 <= NOT_SHOWN_LATENCY_MS
    shown_v2 &= ~drop
    del drop

    eta = s_eta[g]
    eta += _TRIG_COEF[trig]
    log_chars *= c["log_suggested_chars"]
    eta += log_chars
    del log_chars
    eta[evening] += c["evening"]
    p_v1 = eta + c["latency_s"] / 1000.0 * lat_v1
    p_v1 = _sigmoid(p_v1)
    eta += config.true_model_effect
    eta += c["latency_s"] / 1000.0 * lat_v2
    p_v2 = _sigmoid(eta)
    del eta
    for anomaly, mask in hit:
        if anomaly.kind == "acceptance":
            p_v1[mask] *= anomaly.factor
            p_v2[mask] *= anomaly.factor
    latency = np.where(v2, lat_v2, lat_v1)
    shown = np.where(v2, shown_v2, shown_v1)
    p = np.where(v2, p_v2, p_v1)
    accepted = rng.random(n) < p
    accepted &= shown

    # ground truth: potential outcomes of every treatment-period suggestion (both arms)
    w1 = p_v1 * shown_v1
    w2 = p_v2 * shown_v2
    pre = ~after
    acc.add(
        tp_shown_v1=float(np.count_nonzero(shown_v1 & after)),
        tp_shown_p_v1=float(w1.sum(where=after)),
        tp_shown_v2=float(np.count_nonzero(shown_v2 & after)),
        tp_shown_p_v2=float(w2.sum(where=after)),
        tp_latency_v1=float(lat_v1.sum(where=shown_v1 & after)),
        tp_latency_v2=float(lat_v2.sum(where=shown_v2 & after)),
        pre_shown=float(np.count_nonzero(shown_v1 & pre)),
        pre_shown_p=float(w1.sum(where=pre)),
        shown=float(np.count_nonzero(shown)),
        shown_p=float(p.sum(where=shown)),
        shown_accepted=float(np.count_nonzero(accepted)),
    )
    del lat_v1, lat_v2, shown_v1, shown_v2, p_v1, p_v2, p, w1, w2, pre

    partial = rng.random(n) < PARTIAL_SHARE
    partial &= accepted
    partial &= chars >= 2
    part_frac = rng.uniform(0.15, 0.9, n)
    acc_chars = np.where(accepted, chars, 0).astype(np.int32)
    acc_lines = np.where(accepted, lines, 0).astype(np.int32)
    rows = np.flatnonzero(partial)
    pc_chars = np.clip(np.floor(part_frac[rows] * chars[rows]), 1, chars[rows] - 1)
    acc_chars[rows] = pc_chars
    acc_lines[rows] = np.clip(np.ceil(lines[rows] * pc_chars / chars[rows]), 1, lines[rows])
    del part_frac, pc_chars
    outcome = np.full(n, 3, dtype=np.int8)  # not_shown
    outcome[shown] = 2
    outcome[accepted] = 0
    outcome[rows] = 1

    # per-user telemetry acceptance (survey link)
    n_users = len(users.index)
    u_local = s_user[g]
    user_shown = np.bincount(u_local, weights=shown, minlength=n_users)
    user_acc = np.bincount(u_local, weights=accepted, minlength=n_users)

    comment_idx = np.flatnonzero(trig == 2)
    prompt_ids = _id_range("p", offsets.prompts, offsets.prompts + len(comment_idx))

    ids = _id_range("g", offsets.suggestions, offsets.suggestions + n)
    offsets.suggestions += n
    table = _table(
        "suggestions",
        {
            "suggestion_id": ids,
            "session_id": _take(sess.ids, g),
            "user_id": _take(users.ids, u_local),
            "shown_at": _ts(shown_us),
            "model_version": _take(_A_VERSIONS, v2.view(np.int8)),
            "language": _take(_A_LANGUAGES, sess.lang[g]),
            "trigger": _take(_A_TRIGGERS, trig),
            "latency_ms": latency,
            "suggested_chars": chars,
            "suggested_lines": lines,
            "prompt_tokens": tokens,
            "outcome": _take(_A_OUTCOMES, outcome),
            "accepted_chars": acc_chars,
            "accepted_lines": acc_lines,
            "prompt_id": _scatter_strings(prompt_ids, comment_idx, n),
            "completion_text": pa.nulls(n, type=pa.string()),
        },
    )
    sug = _Suggestions(
        ids, g, u_local, shown_us, accepted, v2, acc_chars, comment_idx, user_shown, user_acc
    )
    return sug, table


def _anomaly_masks(
    config: SimulationConfig, shown_us: I64, lang: I64
) -> list[tuple[PlantedAnomaly, Bool]]:
    """For each planted anomaly, the suggestions it hits (by day of shown_at and language)."""
    if not config.anomalies:
        return []
    day = (shown_us - _us(config.start)) // US_PER_DAY
    out = []
    for anomaly in config.anomalies:
        mask = (day >= anomaly.day) & (day < anomaly.day + anomaly.days)
        if anomaly.language is not None:
            mask &= lang == _LANG_INDEX[anomaly.language]
        out.append((anomaly, mask))
    return out


def _anomaly_truth(config: SimulationConfig) -> list[dict[str, Any]]:
    return [
        {
            "kind": a.kind,
            "monitor": a.monitor,
            "dimension": "overall" if a.language is None else "language",
            "dimension_value": "all" if a.language is None else a.language,
            "first_day": (config.start + dt.timedelta(days=a.day)).isoformat(),
            "last_day": (config.start + dt.timedelta(days=a.day + a.days - 1)).isoformat(),
            "day_index": a.day,
            "days": a.days,
            "factor": a.factor,
            "effect": (
                f"latency_ms x {a.factor:g}"
                if a.kind == "latency"
                else f"P(accepted | shown) x {a.factor:g}"
            )
            + " for suggestions shown on these days"
            + ("" if a.language is None else f" in {a.language}"),
        }
        for a in config.anomalies
    ]


def _make_persistence(
    config: SimulationConfig, chunk: int, sug: _Suggestions, acc: TruthAccumulator
) -> pa.Table:
    rng = _rng(config, chunk, 3)
    idx = np.flatnonzero(sug.accepted)
    m = len(idx)
    k = len(schema.PERSISTENCE_CHECKPOINTS_S)
    chars = sug.acc_chars[idx]
    v2 = sug.v2[idx]
    edit = np.where(
        rng.random(m) < PERSISTENCE_UNTOUCHED_P, 0.0, rng.beta(*PERSISTENCE_EDIT_BETA, m)
    )
    p_removed = np.where(v2, PERSISTENCE_REMOVED_P[TREATMENT], PERSISTENCE_REMOVED_P[CONTROL])
    removed_any = rng.random(m) < p_removed
    lo, hi = PERSISTENCE_REMOVAL_RANGE_S
    removal_s = np.exp(rng.uniform(math.log(lo), math.log(hi), m))
    checks = np.asarray(schema.PERSISTENCE_CHECKPOINTS_S, dtype=np.int64)
    growth = np.asarray(PERSISTENCE_GROWTH)
    dist = np.rint(edit[:, None] * growth[None, :] * chars[:, None]).astype(np.int64)
    removed = removed_any[:, None] & (removal_s[:, None] <= checks[None, :])
    dist = np.where(removed, chars[:, None], np.minimum(dist, chars[:, None]))
    ratio = np.clip(dist / chars[:, None], 0.0, 1.0)
    checked = sug.shown_us[idx][:, None] + US_PER_S + checks[None, :] * US_PER_S
    acc.add(persist_n=float(m))
    for j, t in enumerate(schema.PERSISTENCE_CHECKPOINTS_S):
        acc.add(**{f"persist_ratio_{t}": float(ratio[:, j].sum())})
        acc.add(**{f"persist_removed_{t}": float(removed[:, j].sum())})
    return _table(
        "persistence",
        {
            "suggestion_id": _take(sug.ids, np.repeat(idx, k)),
            "check_after_s": np.tile(checks, m).astype(np.int32),
            "checked_at": _ts(checked.ravel()),
            "edit_distance": dist.ravel().astype(np.int32),
            "edit_ratio": ratio.ravel(),
            "removed": removed.ravel(),
        },
    )


def _make_runs(
    config: SimulationConfig,
    chunk: int,
    users: _Users,
    sess: _Sessions,
    sug: _Suggestions,
    offsets: _Offsets,
) -> pa.Table:
    rng = _rng(config, chunk, 4)
    n_s = len(sess.user)
    counts = rng.poisson(config.runs_base + sess.active_min / config.runs_minutes)
    r_sess = np.repeat(np.arange(n_s, dtype=np.int64), counts)
    n = len(r_sess)
    offset = (rng.random(n) * (sess.end_us - sess.start_us)[r_sess]).astype(np.int64)
    ran_us = sess.start_us[r_sess] + offset

    # accepted suggestions of the session shown before the run (suggestions are sorted by
    # (session, time), so composite keys are sorted and searchsorted counts them)
    shift = np.int64(1) << np.int64(40)
    a_idx = np.flatnonzero(sug.accepted)
    a_sess = sug.session[a_idx]
    a_key = a_sess * shift + (sug.shown_us[a_idx] - sess.start_us[a_sess])
    r_key = r_sess * shift + offset
    pos = np.searchsorted(a_key, r_key, side="left")
    n_before = pos - np.searchsorted(a_key, r_sess * shift, side="left")
    has_before = n_before > 0
    last_v2 = np.zeros(n, dtype=bool)
    last_v2[has_before] = sug.v2[a_idx[pos[has_before] - 1]]

    user = sess.user[r_sess]
    seg = users.seg[user]
    s_lang = sess.lang[r_sess]
    p_lang = users.lang[user]
    fallback = np.where(_RUNNABLE_MASK[p_lang], p_lang, _LANG_INDEX["python"])
    lang = np.where(_RUNNABLE_MASK[s_lang], s_lang, fallback)
    fam = _FAMILY_OF_LANG[lang]
    is_test = rng.random(n) < RUN_MODEL["test_share"]
    cf = RUN_MODEL["compile_fail_logit"]
    seg_c = np.array([cf["segment"][s] for s in SIMULATED_SEGMENTS])
    log_before = np.log1p(n_before)
    p_cfail = _sigmoid(
        _COMPILE_INTERCEPT[fam]
        + cf["log1p_accepted_before"] * log_before
        + cf["model_v2"] * last_v2
        + seg_c[seg]
    )
    compile_ok = rng.random(n) >= p_cfail
    tf = RUN_MODEL["test_fail_logit"]
    seg_t = np.array([tf["segment"][s] for s in SIMULATED_SEGMENTS])
    p_tfail = _sigmoid(
        tf["intercept"]
        + tf["log1p_accepted_before"] * log_before
        + tf["model_v2"] * last_v2
        + seg_t[seg]
    )
    runs_tests = is_test & compile_ok
    test_fail = runs_tests & (rng.random(n) < p_tfail)
    n_tests = 1 + rng.negative_binomial(2, 2.0 / 25.0, n)
    failed = np.where(test_fail, 1 + rng.binomial(np.maximum(n_tests - 1, 0), 0.06), 0)
    failed = np.minimum(failed, n_tests)
    passed = np.where(runs_tests, n_tests - failed, 0)

    # error type and message template
    err = np.zeros(n, dtype=np.int64)  # 'none'
    tpl = np.full(n, -1, dtype=np.int64)
    u_type = rng.random(n)
    u_tpl = rng.random(n)
    for mask, (cdf, start, count) in (
        (~compile_ok, _COMPILE_TABLE),
        (test_fail, _TEST_TABLE),
    ):
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            continue
        f = fam[rows]
        e = np.empty(len(rows), dtype=np.int64)
        for fi in range(len(FAMILIES)):
            sel = f == fi
            if sel.any():
                e[sel] = _draw(cdf[fi], u_type[rows][sel])
        err[rows] = e
        tpl[rows] = start[f, e] + np.minimum(
            (u_tpl[rows] * count[f, e]).astype(np.int64), count[f, e] - 1
        )
    message = _render(tpl, ERROR_TEMPLATES, VOCAB, rng)

    timeout = err == _ERROR_INDEX["timeout"]
    duration = np.where(
        is_test, rng.lognormal(math.log(20_000.0), 0.9, n), rng.lognormal(math.log(6_000.0), 0.8, n)
    )
    duration = np.where(timeout, rng.uniform(60_000.0, 63_000.0, n), duration)
    duration_null = rng.random(n) < 0.01

    ids = _id_range("r", offsets.runs, offsets.runs + n)
    offsets.runs += n
    return _table(
        "runs",
        {
            "run_id": ids,
            "session_id": _take(sess.ids, r_sess),
            "user_id": _take(users.ids, user),
            "ran_at": _ts(ran_us),
            "kind": _take(_A_KINDS, is_test.astype(np.int8)),
            "language": _take(_A_LANGUAGES, lang),
            "model_version": _take(_A_VERSIONS, last_v2.astype(np.int8), mask=~has_before),
            "compile_ok": compile_ok,
            "tests_passed": passed.astype(np.int32),
            "tests_failed": failed.astype(np.int32),
            "error_type": _take(_A_ERRORS, err),
            "error_message": message,
            "duration_ms": pa.array(np.round(duration, 1), mask=duration_null),
        },
    )


def _make_prompts(
    config: SimulationConfig,
    chunk: int,
    users: _Users,
    sess: _Sessions,
    sug: _Suggestions,
    offsets: _Offsets,
) -> pa.Table:
    rng = _rng(config, chunk, 5)
    # comment prompts: one per comment-triggered suggestion, written just before it
    c_idx = sug.comment_idx
    c_sess = sug.session[c_idx]
    lead_us = (rng.uniform(1.0, 20.0, len(c_idx)) * US_PER_S).astype(np.int64)
    c_created = np.maximum(sess.start_us[c_sess], sug.shown_us[c_idx] - lead_us)
    # chat prompts: adopters only, in sessions after adoption
    n_s = len(sess.user)
    chat_ok = users.adopted[sess.user] & (sess.start_us >= users.adopted_us[sess.user])
    counts = np.where(chat_ok, rng.poisson(sess.active_min * config.chat_prompts_per_minute), 0)
    h_sess = np.repeat(np.arange(n_s, dtype=np.int64), counts)
    h_created = sess.start_us[h_sess] + (
        rng.random(len(h_sess)) * (sess.end_us - sess.start_us)[h_sess]
    ).astype(np.int64)

    n_c, n_h = len(c_idx), len(h_sess)
    p_sess = np.concatenate([c_sess, h_sess])
    lang = sess.lang[p_sess]
    lang_arr = pa.array(lang)
    tpl = np.concatenate(
        [
            rng.integers(0, len(COMMENT_TEMPLATES), n_c),
            len(COMMENT_TEMPLATES) + _draw(_cdf(list(_CHAT_TEMPLATE_WEIGHTS)), rng.random(n_h)),
        ]
    )
    text = _render(
        tpl,
        COMMENT_TEMPLATES + CHAT_TEMPLATES,
        VOCAB,
        rng,
        row_slots={
            "cprefix": pc.take(_COMMENT_PREFIX, lang_arr),
            "csuffix": pc.take(_COMMENT_SUFFIX, lang_arr),
            "langname": pc.take(_LANG_NAME_ARRAY, lang_arr),
        },
    )
    ids = _id_range("p", offsets.prompts, offsets.prompts + n_c + n_h)
    offsets.prompts += n_c + n_h
    return _table(
        "prompts",
        {
            "prompt_id": ids,
            "session_id": _take(sess.ids, p_sess),
            "user_id": _take(users.ids, sess.user[p_sess]),
            "created_at": _ts(np.concatenate([c_created, h_created])),
            "language": _take(_A_LANGUAGES, lang),
            "text": text,
        },
    )


def _make_user_tables(
    config: SimulationConfig,
    chunk: int,
    users: _Users,
    sug: _Suggestions,
    offsets: _Offsets,
    acc: TruthAccumulator,
) -> dict[str, pa.Table]:
    """assignments, feature_adoption, dev_outcomes and survey_responses of the chunk's users."""
    rng = _rng(config, chunk, 6)
    n = len(users.index)
    exp_start_us = _us(config.experiment_start)
    end_us = _us(config.end)

    # assignments (every user; SRM drops some treatment rows)
    dropped = (
        users.treat & (_hash_uniform(config.seed, 2, users.index) < config.srm_drop_fraction)
        if config.srm
        else np.zeros(n, dtype=bool)
    )
    keep = ~dropped
    acc.add(
        assigned_treatment=float(users.treat.sum()),
        assigned_control=float((~users.treat).sum()),
        srm_dropped=float(dropped.sum()),
    )
    n_keep = int(keep.sum())
    assignments = _table(
        "assignments",
        {
            "experiment_id": pa.repeat(pa.scalar(EXPERIMENT_ID, type=pa.string()), n_keep),
            "user_id": users.ids.filter(pa.array(keep)),
            "variant": _take(_A_VERSIONS, users.treat[keep].astype(np.int8)),
            "assigned_at": _ts(np.maximum(exp_start_us, users.signup_us[keep])),
        },
    )

    adoption = _table(
        "feature_adoption",
        {
            "user_id": users.ids,
            "feature": pa.repeat(pa.scalar("chat", type=pa.string()), n),
            "adopted": users.adopted,
            "adopted_at": _ts(users.adopted_us, mask=~users.adopted),
        },
    )

    # weekly merged PRs: confounded baseline + planted adoption effect
    weeks = _week_starts(config)
    tenure_norm = np.clip(users.tenure_days, 0.0, TENURE_CAP_DAYS) / TENURE_CAP_DAYS
    base = np.array([PRS_BASE_BY_SEGMENT[s] for s in SIMULATED_SEGMENTS])[users.seg]
    mu0 = base * (0.6 + 0.8 * tenure_norm) * rng.gamma(8.0, 1.0 / 8.0, n)
    tau = np.asarray(config.chat_effect_by_segment)[users.seg] * rng.gamma(4.0, 0.25, n)
    in_week = weeks[None, :] > users.signup_us[:, None]
    ui, wi = np.nonzero(in_week)
    mean = mu0[ui] + tau[ui] * users.adopted[ui]
    prs = rng.poisson(mean)
    lead = rng.lognormal(math.log(30.0), 0.7, len(ui))
    has_rows = in_week.any(axis=1)
    a = users.adopted
    acc.add(
        causal_users=float(has_rows.sum()),
        causal_adopters=float((has_rows & a).sum()),
        causal_tau_sum=float(tau[has_rows].sum()),
        causal_tau_adopters=float(tau[has_rows & a].sum()),
        causal_mu1_adopters=float((mu0 + tau)[has_rows & a].sum()),
        causal_mu0_non=float(mu0[has_rows & ~a].sum()),
    )
    outcomes = _table(
        "dev_outcomes",
        {
            "user_id": _take(users.ids, ui),
            "week_start": pa.array(weeks[wi] // US_PER_DAY, type=pa.int32()).cast(pa.date32()),
            "prs_merged": prs.astype(np.int32),
            "lead_time_hours": pa.array(np.round(lead, 2), mask=prs == 0),
        },
    )

    # survey: perceived productivity linked to the user's telemetry acceptance rate
    shown, accepted = sug.user_shown, sug.user_accepted
    eligible = (users.signup_us < end_us - 3 * US_PER_DAY) & (
        shown >= SURVEY_MODEL["min_shown_suggestions"]
    )
    respond = eligible & (rng.random(n) < SURVEY_MODEL["response_probability_if_eligible"])
    r_users = np.flatnonzero(respond)
    rate = accepted[r_users] / np.maximum(shown[r_users], 1)
    latent = (
        SURVEY_MODEL["latent_intercept"]
        + config.survey_acceptance_slope * (rate - SURVEY_MODEL["acceptance_centre"])
        + rng.normal(0.0, SURVEY_MODEL["user_noise_sd"], len(r_users))
    )
    items = len(schema.SURVEY_ITEMS)
    offs = np.array([SURVEY_ITEM_OFFSETS[i] for i in schema.SURVEY_ITEMS])
    score = np.clip(
        np.rint(
            latent[:, None]
            + offs[None, :]
            + rng.normal(0.0, SURVEY_MODEL["item_noise_sd"], (len(r_users), items))
        ),
        1,
        5,
    ).astype(np.int64)
    submitted = end_us - (rng.uniform(0.1, 3.0, len(r_users)) * US_PER_DAY).astype(np.int64)
    submitted_rows = submitted[:, None] + np.arange(items, dtype=np.int64)[None, :] * 20 * US_PER_S
    y = score[:, 0].astype(np.float64)
    acc.add(
        survey_n=float(len(r_users)),
        survey_x=float(rate.sum()),
        survey_y=float(y.sum()),
        survey_xx=float((rate * rate).sum()),
        survey_yy=float((y * y).sum()),
        survey_xy=float((rate * y).sum()),
    )
    n_resp = len(r_users) * items
    survey = _table(
        "survey_responses",
        {
            "response_id": _id_range("q", offsets.responses, offsets.responses + n_resp),
            "user_id": _take(users.ids, np.repeat(r_users, items)),
            "submitted_at": _ts(submitted_rows.ravel()),
            "item": _take(_A_ITEMS, np.tile(np.arange(items), len(r_users))),
            "score": score.ravel().astype(np.int32),
        },
    )
    offsets.responses += n_resp
    return {
        "assignments": assignments,
        "feature_adoption": adoption,
        "dev_outcomes": outcomes,
        "survey_responses": survey,
    }


def _experiments_table(config: SimulationConfig) -> pa.Table:
    return _table(
        "experiments",
        {
            "experiment_id": [EXPERIMENT_ID],
            "name": ["Completion model v2 vs v1"],
            "description": [
                "Hypothesis: model v2 raises the suggestion acceptance rate. Users are "
                "randomised 50/50; treatment users get completions from v2 from the start."
            ],
            "unit": ["user"],
            "control_variant": [CONTROL],
            "started_at": _ts(np.array([_us(config.experiment_start)])),
            "ended_at": _ts(np.array([_us(config.end)])),
        },
    )


def _empty(name: str) -> pa.Table:
    return arrow_schema(name).empty_table()


def iter_chunks(
    config: SimulationConfig,
    *,
    progress: Progress | None = None,
    truth: TruthAccumulator | None = None,
) -> Iterator[dict[str, pa.Table]]:
    """Generate the simulation chunk by chunk (``config.chunk_users`` users each).

    Every yielded dict holds every event table (empty where the chunk has no rows; the
    one-row ``experiments`` table comes with the first chunk). Concatenating the chunks
    table by table gives exactly :func:`simulate`'s tables. Pass a
    :class:`TruthAccumulator` to collect the ground truth while streaming.
    """
    acc = truth if truth is not None else TruthAccumulator()
    offsets = _Offsets()
    n_chunks = config.n_chunks
    for chunk in range(n_chunks):
        lo = chunk * config.chunk_users
        hi = min(config.users, lo + config.chunk_users)

        def report(stage: str, part: float, chunk: int = chunk) -> None:
            if progress is not None:
                progress(stage, (chunk + part) / n_chunks)

        report("users", 0.0)
        users, users_table = _make_users(config, chunk, lo, hi)
        report("sessions", 0.05)
        sess, sessions_table = _make_sessions(config, chunk, users, offsets, acc)
        report("suggestions", 0.1)
        sug, suggestions_table = _make_suggestions(config, chunk, users, sess, offsets, acc)
        report("persistence", 0.5)
        persistence_table = _make_persistence(config, chunk, sug, acc)
        report("prompts", 0.65)
        prompts_table = _make_prompts(config, chunk, users, sess, sug, offsets)
        report("runs", 0.75)
        runs_table = _make_runs(config, chunk, users, sess, sug, offsets)
        report("outcomes", 0.9)
        per_user = _make_user_tables(config, chunk, users, sug, offsets, acc)
        del sug, sess, users
        tables = {
            "users": users_table,
            "sessions": sessions_table,
            "suggestions": suggestions_table,
            "persistence": persistence_table,
            "runs": runs_table,
            "prompts": prompts_table,
            "experiments": _experiments_table(config) if chunk == 0 else _empty("experiments"),
            **per_user,
        }
        # every schema event table, in schema order (one added to the schema later and not
        # yet simulated comes out empty, with its columns)
        tables = {
            name: tables[name] if name in tables else _empty(name) for name in schema.EVENT_TABLES
        }
        acc.add_rows(tables)
        report("chunk done", 1.0)
        yield tables


def simulate(config: SimulationConfig, progress: Progress | None = None) -> SimulationResult:
    """Simulate every event table and compute the ground truth of the planted effects."""
    acc = TruthAccumulator()
    parts: dict[str, list[pa.Table]] = {name: [] for name in schema.EVENT_TABLES}
    for chunk in iter_chunks(config, progress=progress, truth=acc):
        for name, table in chunk.items():
            parts[name].append(table)
    tables = {name: pa.concat_tables(parts[name]) for name in schema.EVENT_TABLES}
    if progress is not None:
        progress("done", 1.0)
    return SimulationResult(tables=tables, ground_truth=acc.to_dict(config))


def ground_truth(config: SimulationConfig) -> dict[str, Any]:
    """The ground truth of ``config``'s simulation (runs the generators; tables are discarded)."""
    acc = TruthAccumulator()
    for _ in iter_chunks(config, truth=acc):
        pass
    return acc.to_dict(config)


#: Rows per Arrow batch handed to DuckDB: one row group, so DuckDB scans (and compresses)
#: batches on all its threads instead of one giant array on one thread.
LOAD_BATCH_ROWS = 122_880


def _for_duckdb(table: pa.Table) -> pa.Table:
    """The table as DuckDB loads it fastest, same content.

    Split (zero-copy) into batches of at most ``LOAD_BATCH_ROWS`` rows; columns that are
    entirely null are left out (``load_arrow`` fills absent schema columns with NULL).
    """
    empty = [c for c in table.column_names if table[c].null_count == table.num_rows]
    if empty and len(empty) < table.num_columns:
        table = table.drop_columns(empty)
    if table.num_rows <= LOAD_BATCH_ROWS:
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=LOAD_BATCH_ROWS), table.schema)


#: When loading a stream of chunks, chunks are buffered until their largest table holds this
#: many rows and then inserted together: DuckDB parallelises one large INSERT far better
#: than many ~1 M-row ones (17.7 s instead of 27 s for 10 M suggestions on two cores),
#: while memory stays bounded by the group.
LOAD_GROUP_ROWS = 4_000_000


def _grouped(chunks: Iterable[Mapping[str, pa.Table]]) -> Iterator[dict[str, pa.Table]]:
    """Concatenate consecutive chunks (zero-copy) into groups of about ``LOAD_GROUP_ROWS``."""
    buffer: list[Mapping[str, pa.Table]] = []
    rows = 0

    def flush() -> dict[str, pa.Table]:
        names = [n for n in schema.EVENT_TABLES if any(n in c for c in buffer)]
        names += [n for c in buffer for n in c if n not in names]
        return {n: pa.concat_tables([c[n] for c in buffer if n in c]) for n in names}

    for chunk in chunks:
        buffer.append(chunk)
        rows += max((t.num_rows for t in chunk.values()), default=0)
        if rows >= LOAD_GROUP_ROWS:
            yield flush()
            buffer, rows = [], 0
    if buffer:
        yield flush()


def load_into_warehouse(
    con: duckdb.DuckDBPyConnection,
    result: SimulationResult | Iterable[Mapping[str, pa.Table]],
) -> dict[str, int]:
    """Replace the event data of the warehouse with a simulation, in one transaction.

    All rows of every event table (``schema.EVENT_TABLES``) are deleted first, so loading a
    simulation replaces the event data instead of appending to it; the Copilot and system
    tables are left alone. Nothing is visible to other connections until the commit, and
    on any error everything is rolled back (the old event data stays).

    ``result`` is a :class:`SimulationResult` or an iterable of chunks as yielded by
    :func:`iter_chunks`, streamed in bounded memory (chunks are grouped into inserts of
    about ``LOAD_GROUP_ROWS`` rows). Every table goes through
    :func:`codex_ds.warehouse.db.load_arrow`. Returns rows loaded per event table.
    """
    from codex_ds.warehouse import db

    chunks: Iterable[Mapping[str, pa.Table]] = (
        [result.tables] if isinstance(result, SimulationResult) else _grouped(result)
    )
    counts = {name: 0 for name in schema.EVENT_TABLES}
    con.execute("BEGIN TRANSACTION")
    try:
        for name in reversed(schema.load_order(schema.EVENT_TABLES)):
            con.execute(f"DELETE FROM {name}")
        for chunk in chunks:
            for name in schema.load_order(list(chunk)):
                if chunk[name].num_rows:
                    counts[name] += db.load_arrow(con, name, _for_duckdb(chunk[name]))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts
