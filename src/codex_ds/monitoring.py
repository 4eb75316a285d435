"""Daily monitors: a robust, day-of-week-aware baseline per metric and dimension, and alerts.

Pure core: :func:`evaluate` takes the rows of the ``monitor_daily_metrics`` query (one row a
day and dimension value with counts and rates) and returns a :class:`MonitorReport`: every
monitor-day evaluated and the :class:`Alert` records among them. No I/O, no printing; the
CLI (``codex-ds monitor``) reads the rows from the warehouse and writes the alerts.

The rule (docs/METHODOLOGY.md, "Monitors and alerts", has the formulas and references):

* each monitor works on a transformed value ``y``: the rate itself for the proportions
  (acceptance, test pass, error), ``ln p95`` for latency;
* **baseline** (a seasonal-hybrid decomposition in the spirit of Twitter's S-H-ESD, with
  medians instead of means): over the trailing ``lookback_days`` before the day, every
  history day's deviation from the median of its own trailing week estimates a weekday
  offset (median per weekday: the same weekday over the trailing weeks, pooled over
  weekdays or weekend days while fewer than three are at hand); the level is the
  median of the de-seasonalised values of the last ``level_days`` days; baseline = level +
  the offset of the evaluated day's weekday;
* **scale**: the nominal sampling variance of the day (binomial ``p(1-p)/n`` for a rate;
  the asymptotic variance of the sample p95, with the density near p95 estimated from
  p90 and p99 (Siddiqui-Bloch-Gastwirth), on the log scale)
  inflated by a robust over-dispersion factor (the squared normalised MAD of the
  standardised residuals of the trailing ``level_days``, floored at 1) and by the
  baseline's own variance;
* **alert** when the robust z (value minus baseline over that scale) is beyond
  ``z_warning`` in the monitor's bad direction *and* the relative change exceeds the
  monitor's ``min_relative_change`` (practical significance): a Hampel identifier on
  volume-standardised residuals. Low-volume days are not evaluated.

>>> rows = [
...     {"day": dt.date(2026, 1, 1) + dt.timedelta(days=i), "dimension": "overall",
...      "dimension_value": "all", "shown": 5000, "accepted": 1500 if i != 30 else 1000,
...      "acceptance_rate": (1500 if i != 30 else 1000) / 5000}
...     for i in range(31)
... ]
>>> report = evaluate(rows, monitors=("acceptance_rate",))
>>> [(a.day.isoformat(), a.monitor, a.direction, a.severity) for a in report.alerts]
[('2026-01-31', 'acceptance_rate', 'down', 'critical')]
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

__all__ = [
    "MONITORS",
    "Alert",
    "Evaluation",
    "MonitorConfig",
    "MonitorReport",
    "MonitorSpec",
    "PlantedWindow",
    "detected",
    "evaluate",
    "monitor_spec",
]

MonitorName = Literal["acceptance_rate", "latency_p95", "test_pass_rate", "error_rate"]
MONITOR_NAMES: tuple[str, ...] = get_args(MonitorName)
Direction = Literal["up", "down"]
Severity = Literal["warning", "critical"]
Status = Literal["ok", "alert", "low_volume", "warming_up"]
Scale = Literal["proportion", "log_quantile"]
Progress = Callable[[str, float], None]
F64 = npt.NDArray[np.float64]

#: Normalising constant of the MAD (1 / Phi^-1(3/4)): MAD x 1.4826 estimates a normal sd.
MAD_TO_SD = 1.482602218505602
#: Asymptotic variance of a sample p-quantile: p (1 - p) s(p)^2 / n, with the sparsity
#: s(p) = 1 / f(F^-1(p)) estimated by the Siddiqui-Bloch-Gastwirth difference quotient
#: (q(0.99) - q(0.90)) / 0.09. On the log scale (delta method) divide by q(0.95)^2.
_P95_VARIANCE = 0.95 * 0.05
_SPARSITY_SPAN = 0.99 - 0.90


#: Same-weekday history days needed for a weekday's own offset; with fewer (a median of one
#: or two values is not robust to one outlier), the offset is pooled over the day type
#: (Monday-Friday or Saturday-Sunday).
_MIN_SAME_WEEKDAY = 3
#: Valid days a trailing week needs for its median to be a history day's local level.
_MIN_WEEK_DAYS = 4


@dataclass(frozen=True)
class MonitorSpec:
    """One daily monitor: which column of ``monitor_daily_metrics`` it watches and how."""

    name: MonitorName
    value_column: str
    volume_column: str
    direction: Direction  # the bad direction
    scale: Scale
    min_volume: int
    min_relative_change: float
    unit: str
    description: str


MONITORS: tuple[MonitorSpec, ...] = (
    MonitorSpec(
        "acceptance_rate",
        "acceptance_rate",
        "shown",
        "down",
        "proportion",
        min_volume=100,
        min_relative_change=0.08,
        unit="share of shown suggestions",
        description="accepted (in full or in part) ÷ shown suggestions",
    ),
    MonitorSpec(
        "latency_p95",
        "latency_p95_ms",
        "shown",
        "up",
        "log_quantile",
        min_volume=200,
        min_relative_change=0.10,
        unit="ms",
        description="95th percentile of the latency of shown suggestions",
    ),
    MonitorSpec(
        "test_pass_rate",
        "test_pass_rate",
        "test_runs",
        "down",
        "proportion",
        min_volume=50,
        min_relative_change=0.08,
        unit="share of test runs",
        description="test runs that compiled with no failed test ÷ test runs",
    ),
    MonitorSpec(
        "error_rate",
        "error_rate",
        "runs",
        "up",
        "proportion",
        min_volume=50,
        min_relative_change=0.15,
        unit="share of runs",
        description="build and test runs with an error ÷ runs",
    ),
)


def monitor_spec(name: str) -> MonitorSpec:
    for spec in MONITORS:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown monitor {name!r}; one of {', '.join(MONITOR_NAMES)}")


@dataclass(frozen=True)
class MonitorConfig:
    """The parameters of the rule (defaults documented in METHODOLOGY.md)."""

    #: Days before the evaluated day that form its history.
    lookback_days: int = 28
    #: The most recent history days whose median (de-seasonalised) is the level, and whose
    #: residuals give the over-dispersion.
    level_days: int = 14
    #: Valid history days needed before a day is evaluated (else "warming_up").
    min_history_days: int = 7
    #: Robust z beyond which an alert fires (warning) ...
    z_warning: float = 3.5
    #: ... and beyond which it is critical.
    z_critical: float = 6.0
    #: Variance of the baseline as a multiple of a typical history day's variance (the
    #: median of ~14 values plus a weekday offset from ~4: about 0.11 + 0.37).
    baseline_variance_factor: float = 0.5

    def __post_init__(self) -> None:
        problems = []
        if self.lookback_days < 7:
            problems.append("lookback_days must be >= 7 (one week, for the weekday offsets)")
        if not 3 <= self.level_days <= self.lookback_days:
            problems.append("level_days must be in [3, lookback_days]")
        if not 3 <= self.min_history_days <= self.lookback_days:
            problems.append("min_history_days must be in [3, lookback_days]")
        if not 0 < self.z_warning <= self.z_critical:
            problems.append("need 0 < z_warning <= z_critical")
        if self.baseline_variance_factor < 0:
            problems.append("baseline_variance_factor must be >= 0")
        if problems:
            raise ValueError("invalid MonitorConfig: " + "; ".join(problems))


@dataclass(frozen=True)
class Evaluation:
    """One monitor-day: one monitor x one dimension value x one day."""

    day: dt.date
    monitor: str
    dimension: str
    dimension_value: str
    status: Status
    value: float | None
    volume: int
    baseline: float | None = None
    threshold: float | None = None
    z: float | None = None

    @property
    def evaluated(self) -> bool:
        return self.status in ("ok", "alert")


@dataclass(frozen=True)
class Alert:
    """A monitor-day whose value crossed its threshold in the bad direction."""

    day: dt.date
    monitor: str
    dimension: str
    dimension_value: str
    value: float
    baseline: float
    threshold: float
    direction: Direction
    severity: Severity
    z: float
    volume: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["day"] = self.day.isoformat()
        return out


@dataclass(frozen=True)
class MonitorReport:
    """Every monitor-day of the evaluated range and the alerts among them."""

    evaluations: tuple[Evaluation, ...]
    alerts: tuple[Alert, ...]
    config: MonitorConfig
    first_day: dt.date | None
    last_day: dt.date | None
    monitors: tuple[str, ...] = field(default=MONITOR_NAMES)

    @property
    def monitor_days(self) -> int:
        """Monitor-days evaluated (status ok or alert)."""
        return sum(e.evaluated for e in self.evaluations)

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(get_args(Status), 0)
        for e in self.evaluations:
            counts[e.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "monitors": list(self.monitors),
            "monitor_days": self.monitor_days,
            "status_counts": self.status_counts(),
            "alerts": [a.to_dict() for a in self.alerts],
            "config": asdict(self.config),
        }


# ---------------------------------------------------------------------------- the rule


def _median(x: F64) -> float:
    return float(np.median(x))


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    v = float(value)
    return v if math.isfinite(v) else math.nan


@dataclass
class _Series:
    """One monitor x dimension value on a dense calendar (NaN where there is no value)."""

    y: F64  # transformed value
    value: F64  # value as reported
    volume: F64
    aux: F64  # latency: the relative sparsity (p99 - p90) / (0.09 p95); else NaN


def _series(
    spec: MonitorSpec, rows: Sequence[Mapping[str, Any]], index: Mapping[dt.date, int], n: int
) -> _Series:
    y = np.full(n, math.nan)
    value = np.full(n, math.nan)
    volume = np.zeros(n)
    aux = np.full(n, math.nan)
    for row in rows:
        i = index[_as_date(row["day"])]
        v = _num(row.get(spec.value_column))
        volume[i] = _num(row.get(spec.volume_column)) if row.get(spec.volume_column) else 0.0
        if math.isnan(v):
            continue
        if spec.scale == "log_quantile":
            p90, p99 = _num(row.get("latency_p90_ms")), _num(row.get("latency_p99_ms"))
            if not v > 0 or math.isnan(p90) or math.isnan(p99):
                continue
            y[i] = math.log(v)
            aux[i] = max(p99 - p90, 0.0) / (_SPARSITY_SPAN * v)
        else:
            y[i] = v
        value[i] = v
    return _Series(y, value, volume, aux)


def _nominal_variance(spec: MonitorSpec, volume: F64, level: float, sparsity: float) -> F64:
    """Sampling variance of the transformed daily value at these volumes."""
    if spec.scale == "log_quantile":
        return _P95_VARIANCE * sparsity * sparsity / volume
    return level * (1.0 - level) / volume


def _evaluate_series(
    spec: MonitorSpec,
    key: tuple[str, str],
    s: _Series,
    days: Sequence[dt.date],
    weekday: npt.NDArray[np.int64],
    first: int,
    config: MonitorConfig,
) -> tuple[list[Evaluation], list[Alert]]:
    evaluations: list[Evaluation] = []
    alerts: list[Alert] = []
    valid = ~np.isnan(s.y) & (s.volume >= spec.min_volume)
    dimension, dim_value = key
    for t in range(first, len(days)):
        if np.isnan(s.y[t]) and s.volume[t] == 0:
            continue  # no row for this dimension value on this day
        base = Evaluation(
            day=days[t],
            monitor=spec.name,
            dimension=dimension,
            dimension_value=dim_value,
            status="ok",
            value=None if np.isnan(s.value[t]) else float(s.value[t]),
            volume=int(s.volume[t]),
        )
        if not valid[t]:
            evaluations.append(replace(base, status="low_volume"))
            continue
        lo = max(0, t - config.lookback_days)
        hist = np.flatnonzero(valid[lo:t]) + lo
        if len(hist) < config.min_history_days:
            evaluations.append(replace(base, status="warming_up"))
            continue
        y = s.y
        # weekday offsets: each history day against the median of its own trailing week
        # (days before the look-back count for that week; a week with fewer than four
        # valid days is too short to say what is typical, and its day is left out)
        before = np.flatnonzero(valid[:t])
        weeks = [before[(before > d - 7) & (before <= d)] for d in hist]
        full = np.array([len(wk) >= _MIN_WEEK_DAYS for wk in weeks])
        dev = np.array([y[d] - _median(y[wk]) for d, wk in zip(hist, weeks, strict=True)])
        dev, dev_days = dev[full], hist[full]
        offset = np.zeros(7)
        weekend = weekday[dev_days] >= 5
        for w in range(7):
            sel = weekday[dev_days] == w
            if sel.sum() < _MIN_SAME_WEEKDAY:  # too few to be robust: pool the day type
                sel = weekend if w >= 5 else ~weekend
            if sel.any():
                offset[w] = _median(dev[sel])
        recent = hist[hist >= t - config.level_days]
        if len(recent) < 3:
            recent = hist[-3:]
        level = _median(y[recent] - offset[weekday[recent]])
        b = level + offset[weekday[t]]
        # scale: nominal sampling variance x robust over-dispersion, plus the baseline's
        if spec.scale == "log_quantile":
            sparsity = _median(s.aux[hist])
            p_level = math.nan
        else:
            sparsity = math.nan
            num = float(np.sum(s.value[hist] * s.volume[hist]))
            p_level = (num + 0.5) / (float(np.sum(s.volume[hist])) + 1.0)
        v_hist = _nominal_variance(spec, s.volume[recent], p_level, sparsity)
        v_t = float(_nominal_variance(spec, s.volume[t : t + 1], p_level, sparsity)[0])
        resid = (y[recent] - level - offset[weekday[recent]]) / np.sqrt(v_hist)
        mad = MAD_TO_SD * _median(np.abs(resid - _median(resid)))
        phi = max(1.0, mad * mad)
        scale = math.sqrt(phi * (v_t + config.baseline_variance_factor * _median(v_hist)))
        if not scale > 0:  # a sparsity of 0 (constant latency): nothing to compare against
            evaluations.append(replace(base, status="warming_up"))
            continue
        z = (float(y[t]) - b) / scale
        sign = 1.0 if spec.direction == "up" else -1.0
        bound_y = b + sign * config.z_warning * scale
        if spec.scale == "log_quantile":
            baseline, stat_bound = math.exp(b), math.exp(bound_y)
        else:
            baseline, stat_bound = b, bound_y
        practical = baseline * (1.0 + sign * spec.min_relative_change)
        threshold = max(stat_bound, practical) if sign > 0 else min(stat_bound, practical)
        value = float(s.value[t])
        fired = (value - threshold) * sign > 0
        evaluations.append(
            replace(
                base,
                status="alert" if fired else "ok",
                baseline=baseline,
                threshold=threshold,
                z=z,
            )
        )
        if fired:
            severity: Severity = "critical" if sign * z >= config.z_critical else "warning"
            alerts.append(
                Alert(
                    day=days[t],
                    monitor=spec.name,
                    dimension=dimension,
                    dimension_value=dim_value,
                    value=value,
                    baseline=baseline,
                    threshold=threshold,
                    direction=spec.direction,
                    severity=severity,
                    z=z,
                    volume=int(s.volume[t]),
                    message=_message(spec, dimension, dim_value, days[t], value, baseline, z),
                )
            )
    return evaluations, alerts


def _fmt(spec: MonitorSpec, x: float) -> str:
    return f"{x:.0f} ms" if spec.scale == "log_quantile" else f"{x:.1%}"


def _message(
    spec: MonitorSpec,
    dimension: str,
    dim_value: str,
    day: dt.date,
    value: float,
    baseline: float,
    z: float,
) -> str:
    where = "overall" if dimension == "overall" else f"{dimension}={dim_value}"
    change = value / baseline - 1.0 if baseline else math.inf
    verb = "rose" if spec.direction == "up" else "fell"
    return (
        f"{spec.name} {where} {verb} to {_fmt(spec, value)} on {day.isoformat()} "
        f"(baseline {_fmt(spec, baseline)}, {change:+.0%}, robust z {z:+.1f})"
    )


def evaluate(
    rows: Iterable[Mapping[str, Any]],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    monitors: Sequence[str] | None = None,
    config: MonitorConfig | None = None,
    progress: Progress | None = None,
) -> MonitorReport:
    """Evaluate the monitors on the rows of ``monitor_daily_metrics``.

    Days from ``start`` to ``end`` (inclusive; default: every day in the rows) are
    evaluated; earlier rows serve as history only (pass ``lookback_days`` of them).
    Rows need ``day``, ``dimension``, ``dimension_value`` and the columns of the chosen
    monitors (see :data:`MONITORS`).
    """
    cfg = config or MonitorConfig()
    specs = [monitor_spec(m) for m in (monitors or MONITOR_NAMES)]
    by_key: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    all_days: set[dt.date] = set()
    for row in rows:
        day = _as_date(row["day"])
        if end is not None and day > end:
            continue
        by_key[(str(row["dimension"]), str(row["dimension_value"]))].append(row)
        all_days.add(day)
    if not all_days:
        return MonitorReport((), (), cfg, start, end, tuple(s.name for s in specs))
    d0, d1 = min(all_days), max(all_days)
    days = [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    weekday = np.array([d.weekday() for d in days], dtype=np.int64)
    first = 0 if start is None else max(0, (start - d0).days)
    evaluations: list[Evaluation] = []
    alerts: list[Alert] = []
    keys = sorted(by_key)
    total = len(keys) * len(specs)
    done = 0
    for spec in specs:
        for key in keys:
            series = _series(spec, by_key[key], index, len(days))
            ev, al = _evaluate_series(spec, key, series, days, weekday, first, cfg)
            evaluations.extend(ev)
            alerts.extend(al)
            done += 1
            if progress is not None:
                progress(spec.name, done / total)
    alerts.sort(key=lambda a: (a.day, a.monitor, a.dimension, a.dimension_value))
    first_day = days[first] if first < len(days) else None
    return MonitorReport(
        tuple(evaluations), tuple(alerts), cfg, first_day, d1, tuple(s.name for s in specs)
    )


# ---------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class PlantedWindow:
    """A planted anomaly as ground_truth.json records it (``anomalies`` list)."""

    monitor: str
    dimension: str
    dimension_value: str
    first_day: dt.date
    last_day: dt.date

    @classmethod
    def from_truth(cls, record: Mapping[str, Any]) -> PlantedWindow:
        return cls(
            str(record["monitor"]),
            str(record["dimension"]),
            str(record["dimension_value"]),
            _as_date(record["first_day"]),
            _as_date(record["last_day"]),
        )


def detected(window: PlantedWindow, alerts: Iterable[Alert]) -> bool:
    """Recall's unit: the anomaly counts as detected when an alert on its monitor and
    dimension value fires on a day of its window."""
    return any(
        a.monitor == window.monitor
        and a.dimension == window.dimension
        and a.dimension_value == window.dimension_value
        and window.first_day <= a.day <= window.last_day
        for a in alerts
    )
