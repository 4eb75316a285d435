"""The Overview's key metrics (this period against the one before) and its plain-language
insights. Pure: rows of the catalog's queries and analysis results in, values out.

A period's metric is pooled over its days from ``daily_metrics`` counts (METHODOLOGY.md,
"Dashboard"): acceptance = Σ accepted ÷ Σ shown, mean latency = Σ(mean latency × shown) ÷
Σ shown (the mean over every shown suggestion of the period), test pass rate = Σ(pass rate ×
test runs) ÷ Σ test runs, and mean DAU = the mean of ``active_users.dau`` over the days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeyMetric:
    name: str
    label: str
    current: float | None
    previous: float | None
    unit: str = ""

    @property
    def change(self) -> float | None:
        """current − previous (percentage points for rates), None when either is missing."""
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous



def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length that ends the day before ``start``.

    >>> previous_period(dt.date(2026, 1, 15), dt.date(2026, 1, 21))
    (datetime.date(2026, 1, 8), datetime.date(2026, 1, 14))
    """
    days = (end - start).days + 1
    return start - dt.timedelta(days=days), start - dt.timedelta(days=1)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def pooled(daily: Sequence[Mapping[Any, Any]], dau: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    """Pool ``daily_metrics`` rows (and ``active_users`` rows) of one period.

    >>> rows = [{"shown": 10, "accepted": 5, "mean_latency_ms": 100.0, "test_runs": 2,
    ...          "test_pass_rate": 0.5},
    ...         {"shown": 30, "accepted": 6, "mean_latency_ms": 200.0, "test_runs": 0,
    ...          "test_pass_rate": None}]
    >>> p = pooled(rows, [{"dau": 3}, {"dau": 5}])
    >>> p["acceptance_rate"], p["mean_latency_ms"], p["test_pass_rate"], p["mean_dau"]
    (0.275, 175.0, 0.5, 4.0)
    """
    shown = sum(int(r["shown"] or 0) for r in daily)
    accepted = sum(int(r["accepted"] or 0) for r in daily)
    latency_sum = sum(
        float(r["mean_latency_ms"]) * int(r["shown"] or 0)
        for r in daily
        if r["mean_latency_ms"] is not None and r["mean_latency_ms"] == r["mean_latency_ms"]
    )
    runs = sum(int(r["test_runs"] or 0) for r in daily)
    passing = sum(
        float(r["test_pass_rate"]) * int(r["test_runs"] or 0)
        for r in daily
        if r["test_pass_rate"] is not None and r["test_pass_rate"] == r["test_pass_rate"]
    )
    daus = [int(r["dau"]) for r in dau if r.get("dau") is not None]
    return {
        "shown": shown,
        "accepted": accepted,
        "acceptance_rate": _ratio(accepted, shown),
        "mean_latency_ms": _ratio(latency_sum, shown),
        "test_runs": runs,
        "test_pass_rate": _ratio(passing, runs),
        "mean_dau": (sum(daus) / len(daus)) if daus else None,
    }


def key_metrics(current: Mapping[str, Any], previous: Mapping[str, Any]) -> list[KeyMetric]:
    """The Overview's cards, in order."""
    spec = (
        ("shown", "Suggestions shown", ""),
        ("acceptance_rate", "Acceptance rate", "%"),
        ("mean_latency_ms", "Mean latency", "ms"),
        ("test_pass_rate", "Test pass rate", "%"),
        ("mean_dau", "Mean daily active users", ""),
    )
    out = []
    for name, label, unit in spec:
        cur, prev = current.get(name), previous.get(name)
        out.append(
            KeyMetric(
                name,
                label,
                None if cur is None else float(cur),
                None if prev is None else float(prev),
                unit,
            )
        )
    return out


def insights(
    metrics: Sequence[KeyMetric],
    by_language: Sequence[Mapping[Any, Any]],
    decisions: Sequence[tuple[str, str, str]],
    alerts: int,
) -> list[str]:
    """Sentences about the results: the change of acceptance and latency, the best and worst
    language, each experiment's decision, and the alerts of the period.

    >>> m = [KeyMetric("acceptance_rate", "Acceptance rate", 0.31, 0.29, "%")]
    >>> insights(m, [], [("exp", "ship", "goal up")], 0)[0]
    'Acceptance rate rose from 29.0 % to 31.0 % (+2.0 points) against the previous period.'
    """
    out: list[str] = []
    by_name = {m.name: m for m in metrics}
    acc = by_name.get("acceptance_rate")
    if acc is not None and acc.change is not None and acc.previous is not None:
        verb = "rose" if acc.change > 0 else "fell" if acc.change < 0 else "held"
        out.append(
            f"Acceptance rate {verb} from {100 * acc.previous:.1f} % to "
            f"{100 * (acc.current or 0):.1f} % ({100 * acc.change:+.1f} points) against the "
            "previous period."
        )
    lat = by_name.get("mean_latency_ms")
    if lat is not None and lat.change is not None and lat.previous:
        rel = lat.change / lat.previous
        out.append(
            f"Mean latency {'rose' if rel > 0 else 'fell'} by {100 * abs(rel):.1f} % "
            f"({lat.previous:.0f} ms → {lat.current:.0f} ms)."
        )
    ranked = [
        r for r in by_language if r.get("acceptance_rate") is not None and int(r["shown"]) >= 100
    ]
    if len(ranked) >= 2:
        ranked.sort(key=lambda r: float(r["acceptance_rate"]), reverse=True)
        best, worst = ranked[0], ranked[-1]
        out.append(
            f"{best['language']} has the highest acceptance ({100 * best['acceptance_rate']:.1f} %"
            f"), {worst['language']} the lowest ({100 * worst['acceptance_rate']:.1f} %), among "
            "languages with at least 100 suggestions shown."
        )
    for experiment, decision, reason in decisions:
        out.append(f"Experiment {experiment}: **{decision}** — {reason}")
    if alerts:
        out.append(f"{alerts} monitor alert(s) fired in the period (see Telemetry → Alerts).")
    return out
