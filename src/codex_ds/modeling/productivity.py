"""Productivity linkage: which telemetry metric tracks perceived productivity?

Following Ziegler et al. (2022, "Productivity assessment of neural code completion", MAPS
'22), each user's telemetry metrics are set against the same user's survey answer
(perceived productivity, 1-5) and ranked by the strength of the correlation; the paper found
the acceptance rate the best predictor (r ≈ 0.24). METHODOLOGY.md §6.2 has the formulas:

* Pearson's r with the Fisher-z interval ``tanh(atanh r ± z_{1-α/2} / sqrt(n - 3))`` (the
  interval ``scipy.stats.pearsonr(...).confidence_interval()`` gives) and the two-sided
  t-test p-value (``t = r sqrt((n-2)/(1-r²))``, n - 2 df);
* Spearman's ρ (Pearson's r of the mid-ranks) with the Fisher-z interval using the
  Bonett-Wright (2000) variance ``(1 + ρ²/2)/(n - 3)`` and scipy's t-approximation p-value.

Pairs with a missing value are left out metric by metric (each row says its n). A metric
that is constant over the users, or fewer than :data:`MIN_USERS` complete pairs, gives a row
with an ``error`` code instead of numbers.

The input is the ``user_behaviour`` query's table, or per-user CSV tables a team exports
from its own telemetry and survey tools (:func:`read_team_tables`; columns in
:data:`TELEMETRY_CSV_COLUMNS` and :data:`SURVEY_CSV_COLUMNS`).

>>> import pandas as pd
>>> t = pd.DataFrame({"acceptance_rate": [.1, .2, .3, .4, .5, .6, .15, .25, .35, .45, .55, .65],
...                   "perceived_productivity": [2, 2, 3, 3, 5, 4, 1, 3, 2, 4, 4, 5]})
>>> res = link_productivity(t)
>>> row = res.best
>>> row.metric, row.n, round(row.pearson_r, 3), round(row.spearman_rho, 3)
('acceptance_rate', 12, 0.875, 0.884)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "MIN_USERS",
    "OUTCOMES",
    "SURVEY_CSV_COLUMNS",
    "TELEMETRY_CSV_COLUMNS",
    "LinkageResult",
    "MetricCorrelation",
    "TeamTableError",
    "link_productivity",
    "load_user_behaviour",
    "read_team_tables",
]

Progress = Callable[[str, float], None]
F64 = npt.NDArray[np.float64]

#: The telemetry metrics of the linkage (Ziegler et al. 2022), as named in user_behaviour.
METRICS: tuple[str, ...] = (
    "acceptance_rate",
    "accepted_per_active_hour",
    "unchanged_30s_rate",
    "accepted_chars_per_active_hour",
    "shown_rate",
)
METRIC_LABELS: dict[str, str] = {
    "acceptance_rate": "acceptance rate (accepted ÷ shown)",
    "accepted_per_active_hour": "accepted suggestions per active hour",
    "unchanged_30s_rate": "unchanged 30 s after acceptance (share of accepted)",
    "accepted_chars_per_active_hour": "accepted characters per active hour",
    "shown_rate": "shown rate (shown ÷ requested)",
}
#: Survey outcomes: the perceived-productivity item, or the mean over all items.
OUTCOMES: tuple[str, ...] = ("perceived_productivity", "survey_mean_score")
#: Fewer complete user pairs than this give an error row (Fisher z needs n > 3).
MIN_USERS = 10

MetricError = Literal["too_few_users", "constant_metric", "constant_outcome"]

#: Columns of the per-user telemetry CSV a team exports (one row per user, header first).
TELEMETRY_CSV_COLUMNS: dict[str, str] = {
    "user_id": "required; a non-empty id, unique in the file, as in the survey file",
    **{m: f"optional number (at least one metric column): {METRIC_LABELS[m]}" for m in METRICS},
}
#: Columns of the per-user survey CSV (one row per respondent, header first).
SURVEY_CSV_COLUMNS: dict[str, str] = {
    "user_id": "required; a non-empty id, unique in the file",
    "perceived_productivity": "required number, usually 1-5 (Likert): "
    "'I am more productive when using the assistant'",
    "survey_mean_score": "optional number: the mean over the survey's items",
}


@dataclass(frozen=True)
class MetricCorrelation:
    """One telemetry metric against the survey outcome over the users with both."""

    metric: str
    n: int
    pearson_r: float | None = None
    pearson_ci: tuple[float, float] | None = None
    pearson_p: float | None = None
    spearman_rho: float | None = None
    spearman_ci: tuple[float, float] | None = None
    spearman_p: float | None = None
    rank: int | None = None
    error: MetricError | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("pearson_ci", "spearman_ci"):
            out[k] = None if out[k] is None else list(out[k])
        return out


@dataclass(frozen=True)
class LinkageResult:
    """Every metric's correlation with the outcome, ranked by |Pearson r| (errors last)."""

    outcome: str
    users: int
    respondents: int
    rows: tuple[MetricCorrelation, ...]
    confidence: float = 0.95
    error: Literal["too_few_users", "missing_columns"] | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def best(self) -> MetricCorrelation | None:
        ranked = [r for r in self.rows if r.rank == 1]
        return ranked[0] if ranked else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error,
            "message": self.message,
            "outcome": self.outcome,
            "users": self.users,
            "respondents": self.respondents,
            "confidence": self.confidence,
            "best_metric": None if self.best is None else self.best.metric,
            "rows": [r.to_dict() for r in self.rows],
        }


def _fisher_ci(r: float, se: float, zq: float) -> tuple[float, float]:
    z = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15))
    return math.tanh(z - zq * se), math.tanh(z + zq * se)


def _t_p(r: float, n: int) -> float:
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt((n - 2) / (1.0 - r * r))
    return float(2 * stats.t.sf(abs(t), n - 2))


def _pearson(x: F64, y: F64) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    return float(np.dot(xc, yc) / math.sqrt(np.dot(xc, xc) * np.dot(yc, yc)))


def correlate(x: F64, y: F64, metric: str = "x", confidence: float = 0.95) -> MetricCorrelation:
    """Pearson and Spearman correlation of two complete vectors, with intervals."""
    n = len(x)
    if n < MIN_USERS:
        return MetricCorrelation(
            metric,
            n,
            error="too_few_users",
            message=f"{n} users with both values; at least {MIN_USERS} needed",
        )
    if float(np.ptp(x)) == 0.0:
        return MetricCorrelation(
            metric,
            n,
            error="constant_metric",
            message=f"{metric} is the same ({x[0]:g}) for every user",
        )
    if float(np.ptp(y)) == 0.0:
        return MetricCorrelation(
            metric,
            n,
            error="constant_outcome",
            message=f"the outcome is the same ({y[0]:g}) for every user",
        )
    zq = float(stats.norm.ppf(0.5 + confidence / 2))
    r = _pearson(x, y)
    rho = _pearson(stats.rankdata(x), stats.rankdata(y))
    se_r = 1.0 / math.sqrt(n - 3)
    se_rho = math.sqrt((1.0 + rho * rho / 2.0) / (n - 3))
    return MetricCorrelation(
        metric=metric,
        n=n,
        pearson_r=r,
        pearson_ci=_fisher_ci(r, se_r, zq),
        pearson_p=_t_p(r, n),
        spearman_rho=rho,
        spearman_ci=_fisher_ci(rho, se_rho, zq),
        spearman_p=_t_p(rho, n),
    )


def link_productivity(
    table: pd.DataFrame,
    *,
    outcome: str = "perceived_productivity",
    metrics: Sequence[str] | None = None,
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> LinkageResult:
    """Correlate each telemetry metric with the survey outcome, per user, and rank them.

    ``metrics`` defaults to the columns of :data:`METRICS` that ``table`` has.
    """
    if metrics is None:
        metrics = [m for m in METRICS if m in table.columns] or list(METRICS)
    needed = [outcome, *metrics]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        return LinkageResult(
            outcome,
            len(table),
            0,
            (),
            confidence,
            "missing_columns",
            f"missing column(s): {', '.join(missing)}; have {', '.join(map(str, table.columns))}",
        )
    y_all = pd.to_numeric(table[outcome], errors="coerce").to_numpy(dtype=float)
    respondents = int(np.isfinite(y_all).sum())
    if respondents < MIN_USERS:
        return LinkageResult(
            outcome,
            len(table),
            respondents,
            (),
            confidence,
            "too_few_users",
            f"{respondents} users answered the survey ({outcome}); at least {MIN_USERS} are "
            "needed to correlate telemetry with perceived productivity",
        )
    rows = []
    for i, m in enumerate(metrics):
        if progress is not None:
            progress(m, i / len(metrics))
        x_all = pd.to_numeric(table[m], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x_all) & np.isfinite(y_all)
        rows.append(correlate(x_all[ok], y_all[ok], m, confidence))
    good = sorted((r for r in rows if r.error is None), key=lambda r: -abs(r.pearson_r or 0.0))
    ranked = [
        MetricCorrelation(
            **{**asdict(r), "rank": k + 1, "pearson_ci": r.pearson_ci, "spearman_ci": r.spearman_ci}
        )
        for k, r in enumerate(good)
    ]
    bad = [r for r in rows if r.error is not None]
    return LinkageResult(outcome, len(table), respondents, (*ranked, *bad), confidence)


# =========================================================================== input


def load_user_behaviour(con: Any, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run the ``user_behaviour`` query (per-user metrics and survey means)."""
    from codex_ds.warehouse import catalog

    q = catalog.default_catalog().get("user_behaviour")
    return catalog.run(con, q, dict(params or {})).table.to_pandas()


class TeamTableError(ValueError):
    """A per-user CSV table that cannot be read; the message names file, line and column."""


def _read_csv(
    path: Path, required: Sequence[str], numeric: Sequence[str], at_least_one: Sequence[str] = ()
) -> pd.DataFrame:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TeamTableError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise TeamTableError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise TeamTableError(f"{path}:1: empty file; the first line must be the header")
    header = [h.strip() for h in header]
    absent = [c for c in required if c not in header]
    if absent:
        raise TeamTableError(
            f"{path}:1: missing column(s) {', '.join(absent)} in the header ({', '.join(header)})"
        )
    if at_least_one and not any(c in header for c in at_least_one):
        raise TeamTableError(
            f"{path}:1: none of the metric columns ({', '.join(at_least_one)}) is in the header"
        )
    cols = {c: [] for c in header}  # type: dict[str, list[Any]]
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise TeamTableError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        for name, cell in zip(header, row, strict=True):
            cell = cell.strip()
            if name == "user_id":
                if not cell:
                    raise TeamTableError(f"{path}:{line}: column user_id: empty user id")
                if cell in seen:
                    raise TeamTableError(
                        f"{path}:{line}: column user_id: {cell!r} repeats line {seen[cell]}"
                    )
                seen[cell] = line
                cols[name].append(cell)
            elif name in numeric:
                if cell == "" or cell.lower() in ("na", "nan", "null"):
                    cols[name].append(math.nan)
                    continue
                try:
                    value = float(cell)
                except ValueError:
                    raise TeamTableError(
                        f"{path}:{line}: column {name}: {cell!r} is not a number"
                    ) from None
                if not math.isfinite(value):
                    raise TeamTableError(f"{path}:{line}: column {name}: {cell!r} is not finite")
                cols[name].append(value)
            else:
                cols[name].append(cell)
    if not seen:
        raise TeamTableError(f"{path}: no data rows after the header")
    return pd.DataFrame(cols)


def read_team_tables(telemetry_csv: str | Path, survey_csv: str | Path) -> pd.DataFrame:
    """Per-user telemetry and survey CSVs, joined on ``user_id`` (users in both files).

    Columns are documented in :data:`TELEMETRY_CSV_COLUMNS` and :data:`SURVEY_CSV_COLUMNS`;
    other columns are kept as text. Raises :class:`TeamTableError` naming file, line and
    column on bad input.
    """
    tel = _read_csv(Path(telemetry_csv), ["user_id"], METRICS, at_least_one=METRICS)
    sur = _read_csv(Path(survey_csv), ["user_id", "perceived_productivity"], OUTCOMES)
    overlap = [c for c in sur.columns if c in tel.columns and c != "user_id"]
    merged = tel.merge(sur.drop(columns=overlap), on="user_id", how="inner")
    if merged.empty:
        raise TeamTableError(
            f"{telemetry_csv} and {survey_csv} share no user_id: check that both files use "
            "the same user ids"
        )
    return merged
