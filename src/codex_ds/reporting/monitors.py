"""reports/monitors.md: what the daily monitors evaluated and the alerts they raised."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from codex_ds import monitoring
from codex_ds.reporting.markdown import md_table


def _fmt(monitor: str, x: float) -> str:
    return f"{x:.0f} ms" if monitor == "latency_p95" else f"{100 * x:.2f} %"


#: Columns of the alert table (the report's and ``codex-ds monitor``'s).
ALERT_COLUMNS = ("day", "monitor", "dimension", "value", "baseline", "threshold", "z", "severity")


def alert_rows(alerts: Sequence[monitoring.Alert]) -> list[tuple[str, ...]]:
    """One row of :data:`ALERT_COLUMNS` per alert, values in the monitor's unit."""
    return [
        (
            a.day.isoformat(),
            a.monitor,
            "overall" if a.dimension == "overall" else f"{a.dimension}={a.dimension_value}",
            _fmt(a.monitor, a.value),
            _fmt(a.monitor, a.baseline),
            _fmt(a.monitor, a.threshold),
            f"{a.z:+.1f}",
            a.severity,
        )
        for a in alerts
    ]


def render_monitors_report(
    report: monitoring.MonitorReport, planted: list[dict[str, Any]] | None = None
) -> str:
    """The rule, the monitor-days evaluated per monitor, the alerts, and (when the data was
    simulated with planted anomalies) whether each planted anomaly was detected."""
    cfg = report.config
    days = f"{report.first_day} to {report.last_day}" if report.first_day else "no data"
    per_monitor: dict[str, Counter[str]] = {m: Counter() for m in report.monitors}
    for e in report.evaluations:
        per_monitor[e.monitor][e.status] += 1
    lines = [
        "# Monitors and alerts",
        "",
        f"Days evaluated: {days}. Monitor-days evaluated: {report.monitor_days:,}; "
        f"alerts: {len(report.alerts)}. Rule (docs/METHODOLOGY.md, *Monitors and alerts*): "
        f"weekday-aware robust baseline over the trailing {cfg.lookback_days} days (level: "
        f"median of the last {cfg.level_days}), volume-standardised robust z with MAD "
        f"over-dispersion; alert when z is beyond {cfg.z_warning:g} in the bad direction and "
        f"the relative change exceeds the monitor's minimum (critical beyond {cfg.z_critical:g}).",
        "",
        md_table(
            [
                "monitor",
                "bad direction",
                "volume",
                "min volume",
                "min change",
                "evaluated",
                "alerts",
                "low volume",
                "warming up",
            ],
            [
                (
                    s.name,
                    s.direction,
                    s.volume_column,
                    s.min_volume,
                    f"{s.min_relative_change:.0%}",
                    per_monitor[s.name]["ok"] + per_monitor[s.name]["alert"],
                    per_monitor[s.name]["alert"],
                    per_monitor[s.name]["low_volume"],
                    per_monitor[s.name]["warming_up"],
                )
                for s in monitoring.MONITORS
                if s.name in per_monitor
            ],
        ),
        "",
        "## Alerts",
        "",
    ]
    if report.alerts:
        lines.append(md_table(list(ALERT_COLUMNS), alert_rows(report.alerts)))
    else:
        lines.append("No alert.")
    if planted:
        lines += ["", "## Planted anomalies (ground_truth.json)", ""]
        rows = []
        for record in planted:
            w = monitoring.PlantedWindow.from_truth(record)
            rows.append(
                (
                    w.monitor,
                    "overall" if w.dimension == "overall" else f"{w.dimension}={w.dimension_value}",
                    f"{w.first_day} to {w.last_day}",
                    record.get("effect", ""),
                    "yes" if monitoring.detected(w, report.alerts) else "no",
                )
            )
        lines.append(md_table(["monitor", "dimension", "window", "effect", "detected"], rows))
    return "\n".join(lines) + "\n"
