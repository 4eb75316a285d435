"""The Experiments page's sequential monitoring and power tables (METHODOLOGY.md §5.13).

Pure: rows of the catalog's queries in, rows for a chart and its CSV out. Every statistic
comes from the package: the sufficient statistics of an arm from
:func:`codex_ds.experiments.analysis.statistic`, the comparison from
:func:`codex_ds.experiments.frequentist.compare`, the boundaries from
:func:`codex_ds.experiments.sequential.group_sequential_test` and the confidence sequence from
:func:`codex_ds.experiments.sequential.always_valid_test`, power and the minimum detectable
effect from :mod:`codex_ds.experiments.power`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codex_ds.experiments import analysis
from codex_ds.experiments.frequentist import TestConfig, compare
from codex_ds.experiments.power import PowerConfig, mde_means, power_means
from codex_ds.experiments.sequential import (
    AlwaysValidConfig,
    always_valid_test,
    group_sequential_test,
)
from codex_ds.experiments.statistics import (
    RatioStatistic,
    SampleMean,
)

Row = Mapping[str, Any]

#: Metrics ``experiment_daily_stats`` carries (per-user cumulative sums of shown, accepted
#: and latency): the acceptance rate and the mean latency, both ratio metrics.
MONITORED_METRICS = ("acceptance_rate", "latency_ms")


@dataclass(frozen=True)
class Monitoring:
    """Daily looks of one treatment against the control: ``rows`` (one per look), the
    decision of the group-sequential test, or ``error`` and ``message``."""

    metric: str
    variant: str | None = None
    rows: tuple[dict[str, Any], ...] = ()
    reject: bool | None = None
    stopped_at_look: int | None = None
    error: str | None = None
    message: str | None = None


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def sequential_monitoring(
    daily: Sequence[Row], metric: str = "acceptance_rate", alpha: float = 0.05
) -> Monitoring:
    """The cumulative z-statistic of the relative effect at each day with its O'Brien–Fleming
    (Lan–DeMets) efficacy boundary, and the always-valid confidence sequence (mSPRT, Ville's
    calibration: valid however often and however long one looks; the horizon calibration's
    one-off numerical search would cost seconds on a page's first render).

    ``daily`` are ``experiment_daily_stats`` rows. The looks are the days; the information
    fraction of look k is the shown suggestions of both arms so far ÷ those of the last look
    (the last look is the final analysis, t = 1). The first treatment variant (in the query's
    order) is compared with the control.
    """
    if metric not in MONITORED_METRICS:
        return Monitoring(metric, error="unsupported_metric",
                          message=f"monitored metrics: {', '.join(MONITORED_METRICS)}")
    days = sorted({r["day"] for r in daily})
    controls = {r["day"]: r for r in daily if r["is_control"]}
    variants = sorted({str(r["variant"]) for r in daily if not r["is_control"]})
    if not days or not controls or not variants:
        return Monitoring(metric, error="no_looks",
                          message="no day with a shown suggestion in both arms after the start")
    variant = variants[0]
    treated = {r["day"]: r for r in daily if str(r["variant"]) == variant}
    looks: list[dict[str, Any]] = []
    for day in days:
        c_row, t_row = controls.get(day), treated.get(day)
        if c_row is None or t_row is None:
            continue
        c = analysis.statistic(c_row, metric, cuped=False)
        t = analysis.statistic(t_row, metric, cuped=False)
        effect = compare(c, t, TestConfig(alpha=alpha, difference="relative"))
        if effect.error or effect.statistic is None or not math.isfinite(effect.statistic):
            continue  # too early (a zero denominator): no look yet
        shown = float(c_row["shown_sum"] or 0) + float(t_row["shown_sum"] or 0)
        looks.append({
            "day": day,
            "units": int(c_row["units"]) + int(t_row["units"]),
            "shown": shown,
            "relative_effect": effect.estimate,
            "ci_low": _finite(effect.ci_low),
            "ci_high": _finite(effect.ci_high),
            "z": float(effect.statistic),
            "_c": c,
            "_t": t,
        })
    if not looks:
        return Monitoring(metric, variant, error="no_looks",
                          message="no day with a defined effect yet (zero denominators)")
    final_shown = looks[-1]["shown"]
    info = [lk["shown"] / final_shown for lk in looks]
    keep = [i for i, t in enumerate(info) if t > 0 and (i == 0 or t > info[i - 1])]
    looks = [looks[i] for i in keep]
    info = [info[i] for i in keep]
    test = group_sequential_test([lk["z"] for lk in looks], info, alpha=alpha)
    if test.error:
        return Monitoring(metric, variant, error=test.error, message=test.message)
    planned = max(looks[-1]["units"], 2)
    rows = []
    for lk, t, bound in zip(looks, info, test.design.boundaries, strict=True):
        seq = always_valid_test(
            lk["_c"], lk["_t"],
            AlwaysValidConfig(
                planned_n=planned, alpha=alpha, difference="relative", calibration="ville"
            ),
        )
        rows.append({
            "day": lk["day"],
            "units": lk["units"],
            "shown": int(lk["shown"]),
            "information": t,
            "relative_effect": lk["relative_effect"],
            "ci_low": lk["ci_low"],
            "ci_high": lk["ci_high"],
            "z": lk["z"],
            "efficacy_boundary": bound,
            "crossed": abs(lk["z"]) >= bound,
            "cs_low": None if seq.error else _finite(seq.ci_low),
            "cs_high": None if seq.error else _finite(seq.ci_high),
            "always_valid_p": None if seq.error else seq.p_value,
        })
    return Monitoring(metric, variant, tuple(rows), test.reject, test.stopped_at_look)


@dataclass(frozen=True)
class PowerCurve:
    """Power against the relative minimum detectable effect at the current units."""

    metric: str
    n_control: int = 0
    allocation_ratio: float = 1.0
    baseline: float | None = None
    covariate_correlation: float = 0.0
    planned_mde: float | None = None
    planned_power: float | None = None
    power_at_planned_mde: float | None = None
    mde_at_planned_power: float | None = None
    rows: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    error: str | None = None
    message: str | None = None


def power_curve(
    control: Row,
    treatment: Row,
    metric: str,
    definition: analysis.ExperimentDefinition,
    points: int = 60,
) -> PowerCurve:
    """Power of the two-sided z-test at the experiment's current units (control n, the
    treatment/control allocation) for relative effects up to three times the larger of the
    planned MDE and the MDE at the planned power; σ is the control arm's per-user standard
    deviation (delta method for ratio metrics), with CUPED's variance reduction when the arm
    carries the covariate."""
    pilot = analysis.statistic(control, metric, cuped=False)
    problem = pilot.check()
    if problem is not None:
        return PowerCurve(metric, error=problem[0], message=problem[1])
    if not isinstance(pilot, RatioStatistic | SampleMean) or not pilot.mean:
        return PowerCurve(metric, error="no_baseline", message="the control mean is zero")
    n_c = int(control.get("units") or 0)
    n_t = int(treatment.get("units") or 0)
    if n_c < 2 or n_t < 1:
        return PowerCurve(metric, error="too_few_units", message="fewer than 2 units per arm")
    rho = analysis.covariate_correlation(control, metric)
    config = PowerConfig(
        alpha=definition.alpha, power=definition.power, allocation_ratio=n_t / n_c,
        covariate_correlation=rho,
    )
    sd, baseline = math.sqrt(pilot.variance), abs(pilot.mean)
    at_power = mde_means(sd, n_c, config, baseline)
    if at_power.error or at_power.mde_relative is None:
        return PowerCurve(metric, error=at_power.error, message=at_power.message)
    planned = power_means(sd, definition.mde * baseline, n_c, config, baseline)
    top = 3.0 * max(definition.mde, at_power.mde_relative)
    rows = []
    for i in range(1, points + 1):
        rel = top * i / points
        p = power_means(sd, rel * baseline, n_c, config, baseline)
        rows.append({"relative_mde": rel, "absolute_mde": rel * baseline, "power": p.power})
    return PowerCurve(
        metric,
        n_control=n_c,
        allocation_ratio=n_t / n_c,
        baseline=pilot.mean,
        covariate_correlation=rho,
        planned_mde=definition.mde,
        planned_power=definition.power,
        power_at_planned_mde=planned.power,
        mde_at_planned_power=at_power.mde_relative,
        rows=tuple(rows),
    )
