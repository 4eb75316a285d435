"""The Experiments page's sequential monitoring and power tables (dashboard/monitoring.py)
against published boundaries, statsmodels and the definitions of METHODOLOGY.md §5.13."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from codex_ds.dashboard import monitoring
from codex_ds.experiments import analysis

DAY0 = dt.date(2026, 1, 5)


def daily_rows(
    effect: float, days: int = 5, users: int = 400, seed: int = 3
) -> list[dict[str, Any]]:
    """``experiment_daily_stats`` rows from simulated per-user daily counts: every user
    sees 10 suggestions a day, so each look adds the same information."""
    rng = np.random.default_rng(seed)
    rows = []
    cum = {arm: np.zeros((users, 3)) for arm in ("v1", "v2")}
    for d in range(days):
        for arm, p in (("v1", 0.30), ("v2", 0.30 * (1 + effect))):
            shown = np.full(users, 10.0)
            accepted = rng.binomial(10, p, users).astype(float)
            latency = rng.gamma(4.0, 50.0, users) * shown
            cum[arm] += np.column_stack([shown, accepted, latency])
            s, a, lat = cum[arm].T
            rows.append({
                "experiment_id": "exp", "day": DAY0 + dt.timedelta(days=d), "variant": arm,
                "is_control": arm == "v1", "units": users,
                "shown_sum": s.sum(), "shown_sum_squares": (s * s).sum(),
                "accepted_sum": a.sum(), "accepted_sum_squares": (a * a).sum(),
                "accepted_shown_sum": (a * s).sum(),
                "latency_sum": lat.sum(), "latency_sum_squares": (lat * lat).sum(),
                "latency_shown_sum": (lat * s).sum(),
            })
    return rows


def test_boundaries_are_the_obrien_fleming_spending_boundaries() -> None:
    # five equally informative looks: the Lan-DeMets O'Brien-Fleming-type boundaries of
    # Jennison & Turnbull (2000), as sequential.py's doctest gives them
    seq = monitoring.sequential_monitoring(daily_rows(0.0), "acceptance_rate")
    assert seq.error is None
    assert [r["information"] for r in seq.rows] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert [round(r["efficacy_boundary"], 3) for r in seq.rows] == [
        4.877, 3.357, 2.68, 2.29, 2.031
    ]


@pytest.mark.parametrize("metric", monitoring.MONITORED_METRICS)
def test_each_look_is_the_comparison_of_the_cumulative_sums(metric: str) -> None:
    rows = daily_rows(0.08)
    seq = monitoring.sequential_monitoring(rows, metric)
    assert seq.variant == "v2" and len(seq.rows) == 5
    for look in seq.rows:
        c = next(r for r in rows if r["day"] == look["day"] and r["is_control"])
        t = next(r for r in rows if r["day"] == look["day"] and not r["is_control"])
        num, den = (
            ("accepted_sum", "shown_sum") if metric == "acceptance_rate"
            else ("latency_sum", "shown_sum")
        )
        expected = (t[num] / t[den]) / (c[num] / c[den]) - 1  # the ratio of pooled ratios
        assert look["relative_effect"] == pytest.approx(expected, rel=1e-12)
        assert np.sign(look["z"]) == np.sign(look["relative_effect"])
        assert look["crossed"] == (abs(look["z"]) >= look["efficacy_boundary"])
        assert look["cs_low"] <= look["ci_low"] and look["cs_high"] >= look["ci_high"]
    crossed = [i for i, r in enumerate(seq.rows) if r["crossed"]]
    assert seq.reject == bool(crossed)
    assert seq.stopped_at_look == (crossed[0] + 1 if crossed else None)


def test_a_large_effect_crosses_and_no_effect_does_not() -> None:
    assert monitoring.sequential_monitoring(daily_rows(0.15)).reject is True
    assert monitoring.sequential_monitoring(daily_rows(0.0, seed=5)).reject is False


def test_no_looks_is_an_error_value() -> None:
    seq = monitoring.sequential_monitoring([])
    assert seq.error == "no_looks" and not seq.rows
    assert monitoring.sequential_monitoring(daily_rows(0.0), "test_pass_rate").error == (
        "unsupported_metric"
    )


def unit_row(n: int, seed: int, with_covariate: bool) -> dict[str, Any]:
    """An ``experiment_unit_stats`` row from simulated users."""
    rng = np.random.default_rng(seed)
    propensity = rng.beta(3, 7, n) if with_covariate else np.full(n, 0.3)  # per user
    pre_s = rng.poisson(40, n).astype(float)
    pre_a = rng.binomial(pre_s.astype(int), propensity).astype(float)
    s = rng.poisson(40, n).astype(float)
    a = rng.binomial(s.astype(int), propensity).astype(float)
    if not with_covariate:
        pre_s = pre_a = np.zeros(n)
    return {
        "variant": "x", "units": n,
        "shown_sum": s.sum(), "shown_sum_squares": (s * s).sum(),
        "accepted_sum": a.sum(), "accepted_sum_squares": (a * a).sum(),
        "accepted_shown_sum": (a * s).sum(),
        "pre_shown_sum": pre_s.sum(), "pre_shown_sum_squares": (pre_s * pre_s).sum(),
        "pre_accepted_sum": pre_a.sum(), "pre_accepted_sum_squares": (pre_a * pre_a).sum(),
        "pre_accepted_shown_sum": (pre_a * pre_s).sum(),
        "accepted_pre_accepted_sum": (a * pre_a).sum(),
        "accepted_pre_shown_sum": (a * pre_s).sum(),
        "shown_pre_accepted_sum": (s * pre_a).sum(),
        "shown_pre_shown_sum": (s * pre_s).sum(),
    }


@pytest.mark.parametrize("with_covariate", [False, True])
def test_power_curve_matches_statsmodels(with_covariate: bool) -> None:
    from statsmodels.stats.power import NormalIndPower

    control, treatment = unit_row(3000, 1, with_covariate), unit_row(2900, 2, with_covariate)
    definition = analysis.ExperimentDefinition("exp")
    curve = monitoring.power_curve(control, treatment, "acceptance_rate", definition)
    assert curve.error is None
    assert (curve.covariate_correlation > 0.1) if with_covariate else (
        curve.covariate_correlation == 0.0
    )
    pilot = analysis.statistic(control, "acceptance_rate", cuped=False)
    sd = float(np.sqrt(pilot.variance))
    shrink = np.sqrt(1 - curve.covariate_correlation**2)
    ref = NormalIndPower()
    for row in curve.rows[::7]:
        d = row["relative_mde"] * pilot.mean / sd / shrink
        expected = ref.power(effect_size=d, nobs1=3000, alpha=0.05, ratio=2900 / 3000)
        assert row["power"] == pytest.approx(expected, rel=1e-9)
    # the MDE at the planned power has that power; the planned MDE's power is on the curve
    d = curve.mde_at_planned_power * pilot.mean / sd / shrink
    assert ref.power(effect_size=d, nobs1=3000, alpha=0.05, ratio=2900 / 3000) == (
        pytest.approx(0.8, abs=1e-6)
    )
    d = 0.02 * pilot.mean / sd / shrink
    assert curve.power_at_planned_mde == pytest.approx(
        ref.power(effect_size=d, nobs1=3000, alpha=0.05, ratio=2900 / 3000), rel=1e-9
    )
    powers = [r["power"] for r in curve.rows]
    assert powers == sorted(powers) and powers[-1] > 0.99


def test_power_curve_without_units_is_an_error_value() -> None:
    empty = {"variant": "x", "units": 0}
    curve = monitoring.power_curve(empty, empty, "acceptance_rate",
                                   analysis.ExperimentDefinition("exp"))
    assert curve.error is not None and not curve.rows
