"""Daily monitors: the rule on hand-built series (exact baselines, volume awareness, weekday
awareness, directions, statuses), planted anomalies in the simulator, recall and false
alarms on small simulations, the alerts table and ``codex-ds monitor``."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest

from codex_ds import monitoring
from codex_ds.monitoring import MonitorConfig, evaluate
from codex_ds.telemetry import schema
from codex_ds.telemetry.simulate import PlantedAnomaly, SimulationConfig, simulate
from codex_ds.warehouse import alerts as alert_store
from codex_ds.warehouse import catalog, db

START = dt.date(2026, 1, 5)  # a Monday


def rate_rows(
    rates: Sequence[float],
    volumes: Sequence[int] | int = 10_000,
    *,
    dimension: str = "overall",
    value: str = "all",
) -> list[dict[str, Any]]:
    """Rows of monitor_daily_metrics carrying only an acceptance rate."""
    vols = [volumes] * len(rates) if isinstance(volumes, int) else list(volumes)
    return [
        {
            "day": START + dt.timedelta(days=i),
            "dimension": dimension,
            "dimension_value": value,
            "shown": n,
            "accepted": round(r * n),
            "acceptance_rate": r,
        }
        for i, (r, n) in enumerate(zip(rates, vols, strict=True))
    ]


def weekly(weekday: float, weekend: float, weeks: int) -> list[float]:
    return [weekend if i % 7 >= 5 else weekday for i in range(7 * weeks)]


def acceptance(rows: list[dict[str, Any]], **kw: Any) -> monitoring.MonitorReport:
    return evaluate(rows, monitors=("acceptance_rate",), **kw)


# ============================================================================ the rule


def test_baseline_is_the_weekday_value_of_a_noiseless_weekly_pattern() -> None:
    """Weekends 20 % lower every week: the baseline of every day is exactly its weekday's
    value, so the lower weekends never alert (a rule without weekday offsets would)."""
    rows = rate_rows(weekly(0.30, 0.24, 5))
    report = acceptance(rows)
    evaluated = [e for e in report.evaluations if e.evaluated]
    assert len(evaluated) == 35 - 7  # the first week warms up
    for e in evaluated:
        expected = 0.24 if e.day.weekday() >= 5 else 0.30
        assert e.baseline == pytest.approx(expected, abs=1e-12)
        assert e.z == pytest.approx(0.0, abs=1e-9)
    assert report.alerts == ()
    assert [e.status for e in report.evaluations[:7]] == ["warming_up"] * 7


def test_a_drop_alerts_with_value_baseline_threshold_and_direction() -> None:
    rates = weekly(0.30, 0.24, 5)
    rates[30] = 0.20  # a Wednesday
    report = acceptance(rate_rows(rates))
    (alert,) = report.alerts
    assert alert.day == START + dt.timedelta(days=30)
    assert (alert.monitor, alert.dimension, alert.dimension_value) == (
        "acceptance_rate",
        "overall",
        "all",
    )
    assert alert.value == 0.20
    assert alert.baseline == pytest.approx(0.30)
    assert alert.direction == "down" and alert.severity == "critical"
    assert alert.value < alert.threshold < alert.baseline
    assert alert.volume == 10_000
    assert "fell to 20.0%" in alert.message and "baseline 30.0%" in alert.message


def test_only_the_bad_direction_alerts() -> None:
    rates = weekly(0.30, 0.24, 5)
    rates[30] = 0.45  # acceptance up: good news, no alert
    assert acceptance(rate_rows(rates)).alerts == ()


def _noisy(rng: np.random.Generator, p: Sequence[float], n: Sequence[int]) -> list[float]:
    return [float(rng.binomial(k, q) / k) for q, k in zip(p, n, strict=True)]


def test_the_threshold_scales_with_volume() -> None:
    """The same 4-point drop is noise at 150 shown suggestions and an incident at 50,000."""
    rng = np.random.default_rng(3)
    days = 35
    for volume, fires in ((150, False), (50_000, True)):
        p = [0.30] * days
        rates = _noisy(rng, p, [volume] * days)
        rates[-1] = 0.26
        report = acceptance(rate_rows(rates, volume))
        assert (report.alerts != ()) is fires, volume
        last = report.evaluations[-1]
        assert last.status == ("alert" if fires else "ok")


def test_alert_status_is_exactly_value_beyond_threshold() -> None:
    rng = np.random.default_rng(11)
    days = 56
    vols = [int(v) for v in rng.integers(200, 20_000, days)]
    rates = _noisy(rng, weekly(0.3, 0.26, 8), vols)
    for i in rng.choice(np.arange(14, days), 6, replace=False):
        rates[int(i)] *= 0.7
    report = acceptance(rate_rows(rates, vols))
    alerts = {a.day for a in report.alerts}
    assert alerts  # some of the planted drops fire
    for e in report.evaluations:
        if e.evaluated:
            assert e.threshold is not None and e.value is not None
            assert (e.value < e.threshold) == (e.status == "alert") == (e.day in alerts)


def test_low_volume_days_are_not_evaluated_and_one_outlier_does_not_move_the_baseline() -> None:
    rates = weekly(0.30, 0.24, 5)
    vols = [10_000] * 35
    vols[20] = 40  # below the minimum volume of 100
    rates[20] = 0.0
    rates[13] = 0.95  # one wild day in the history (an upward spike: no alert)
    report = acceptance(rate_rows(rates, vols))
    by_day = {e.day: e for e in report.evaluations}
    assert by_day[START + dt.timedelta(days=20)].status == "low_volume"
    assert report.alerts == ()
    # the medians ignore both the spike and the low-volume day
    assert by_day[START + dt.timedelta(days=21)].baseline == pytest.approx(0.30)
    assert report.monitor_days == 35 - 7 - 1 - 0  # warm-up week and the low-volume day


def test_start_and_end_restrict_the_days_evaluated_not_the_history() -> None:
    rates = weekly(0.30, 0.24, 5)
    rows = rate_rows(rates)
    report = acceptance(rows, start=START + dt.timedelta(days=28), end=START + dt.timedelta(31))
    assert [e.day for e in report.evaluations] == [
        START + dt.timedelta(days=d) for d in range(28, 32)
    ]
    assert all(e.status == "ok" for e in report.evaluations)
    assert report.first_day == START + dt.timedelta(days=28)
    assert report.last_day == START + dt.timedelta(days=31)


def test_latency_p95_uses_the_log_scale_and_alerts_upwards() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(35):
        p95 = 560.0 * float(np.exp(rng.normal(0, 0.01)))
        if i == 30:
            p95 *= 1.5
        if i == 31:
            p95 *= 0.6  # faster: no alert
        rows.append(
            {
                "day": START + dt.timedelta(days=i),
                "dimension": "language",
                "dimension_value": "go",
                "shown": 20_000,
                "latency_p90_ms": p95 * 0.8,
                "latency_p95_ms": p95,
                "latency_p99_ms": p95 * 1.9,
            }
        )
    report = evaluate(rows, monitors=("latency_p95",))
    (alert,) = report.alerts
    assert alert.day == START + dt.timedelta(days=30) and alert.direction == "up"
    assert alert.baseline == pytest.approx(560.0, rel=0.02)
    assert "ms" in alert.message


def test_a_report_serialises_and_counts() -> None:
    rates = weekly(0.30, 0.24, 5)
    rates[30] = 0.2
    report = acceptance(rate_rows(rates))
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["monitor_days"] == 28
    assert payload["status_counts"] == {"ok": 27, "alert": 1, "low_volume": 0, "warming_up": 7}
    assert payload["alerts"][0]["day"] == "2026-02-04"


def test_empty_input_gives_an_empty_report() -> None:
    report = evaluate([])
    assert (report.monitor_days, report.alerts, report.first_day) == (0, (), None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lookback_days": 5}, "lookback_days"),
        ({"level_days": 2}, "level_days"),
        ({"min_history_days": 40}, "min_history_days"),
        ({"z_warning": 5, "z_critical": 4}, "z_warning <= z_critical"),
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MonitorConfig(**kwargs)


def test_unknown_monitor_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown monitor 'latency'; one of"):
        evaluate([], monitors=("latency",))


def test_monitor_vocabulary_matches_the_alerts_table() -> None:
    table = schema.TABLES["alerts"]
    assert table.column("monitor").allowed == monitoring.MONITOR_NAMES
    assert table.column("direction").allowed == ("up", "down")
    assert table.column("severity").allowed == ("warning", "critical")


# ============================================================================ planted anomalies


def test_anomaly_spec_parses_and_bad_specs_say_why() -> None:
    a = PlantedAnomaly.parse("acceptance:day=20,days=4,factor=0.6,language=go")
    assert (a.kind, a.day, a.days, a.factor, a.language, a.monitor) == (
        "acceptance",
        20,
        4,
        0.6,
        "go",
        "acceptance_rate",
    )
    assert PlantedAnomaly.parse("latency:day=3").factor == 1.5
    for text, message in (
        ("slow:day=3", "expected one of latency, acceptance"),
        ("latency:days=3", "day= is required"),
        ("latency:day=3,speed=2", "is not one of day="),
        ("latency:day=x", "invalid literal"),
        ("acceptance:day=3,factor=1.5", r"factor must be in \(0, 1\]"),
        ("acceptance:day=3,language=klingon", "unknown language 'klingon'"),
    ):
        with pytest.raises(ValueError, match=message):
            PlantedAnomaly.parse(text)
    with pytest.raises(ValueError, match="ends after the period"):
        SimulationConfig(users=10, days=10, anomalies=(PlantedAnomaly("latency", 9, 3),))


def test_anomalies_change_only_their_window_and_are_in_the_ground_truth() -> None:
    base = SimulationConfig(users=300, days=14, seed=4)
    planted = (
        PlantedAnomaly("latency", 3, 2, 1.5),
        PlantedAnomaly("acceptance", 8, 3, 0.5, "python"),
    )
    clean = simulate(base).tables["suggestions"]
    hit = simulate(SimulationConfig(**{**base.__dict__, "anomalies": planted}))
    sug = hit.tables["suggestions"]
    assert sug.num_rows == clean.num_rows
    day = pc.cast(sug["shown_at"], "date32").to_numpy(zero_copy_only=False)
    index = np.array([(d - base.start).days for d in day.astype("datetime64[D]").tolist()])
    lang = sug["language"].to_numpy(zero_copy_only=False)
    lat, lat0 = sug["latency_ms"].to_numpy(), clean["latency_ms"].to_numpy()
    in_latency = (index >= 3) & (index < 5)
    in_accept = (index >= 8) & (index < 11) & (lang == "python")
    unclipped = (lat0 > 5.0) & (lat0 * 1.5 < 600_000)
    np.testing.assert_allclose(lat[in_latency & unclipped] / lat0[in_latency & unclipped], 1.5)
    np.testing.assert_array_equal(lat[~in_latency], lat0[~in_latency])
    out, out0 = sug["outcome"].to_numpy(False), clean["outcome"].to_numpy(False)
    untouched = ~in_latency & ~in_accept
    np.testing.assert_array_equal(out[untouched], out0[untouched])
    accepted = np.isin(out, ["accepted", "partially_accepted"])
    accepted0 = np.isin(out0, ["accepted", "partially_accepted"])
    # the same uniform draw decides, with P(accept) halved: accepted only if it was before
    assert not (accepted & ~accepted0 & in_accept).any()
    assert accepted[in_accept].sum() < 0.7 * accepted0[in_accept].sum()
    truth = hit.ground_truth["anomalies"]
    assert [(t["monitor"], t["dimension"], t["dimension_value"]) for t in truth] == [
        ("latency_p95", "overall", "all"),
        ("acceptance_rate", "language", "python"),
    ]
    assert (truth[1]["first_day"], truth[1]["last_day"]) == ("2026-01-13", "2026-01-15")
    assert simulate(base).ground_truth["anomalies"] == []


# ================================================================ recall and false alarms


def _daily(config: SimulationConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    result = simulate(config)
    con = duckdb.connect()
    for name in ("suggestions", "runs"):
        con.register(name, result.tables[name])
    q = catalog.default_catalog().get("monitor_daily_metrics")
    rows = con.execute(q.sql, catalog.bind(q, {})).to_arrow_table().to_pylist()
    con.close()
    return rows, result.ground_truth


@pytest.mark.slow
def test_recall_and_false_alarms_on_small_simulations() -> None:
    """A small version of benchmarks/bench_monitors.py: on clean data at most 1 false alarm
    per 100 monitor-days; every planted latency regression and busy-language acceptance
    drop detected within its window."""
    days = 35
    monitor_days = false_alarms = 0
    for seed in (21, 22):
        rows, _ = _daily(SimulationConfig(users=1500, days=days, seed=seed))
        report = evaluate(rows, start=START + dt.timedelta(days=7))
        monitor_days += report.monitor_days
        false_alarms += len(report.alerts)
    assert monitor_days > 2_000
    assert false_alarms / monitor_days <= 0.01
    plans = [
        (PlantedAnomaly("latency", 16, 3), PlantedAnomaly("acceptance", 24, 3, 0.7, "typescript")),
        (PlantedAnomaly("latency", 29, 3), PlantedAnomaly("acceptance", 17, 3, 0.7, "java")),
    ]
    for seed, plan in zip((31, 32), plans, strict=True):
        rows, truth = _daily(SimulationConfig(users=1500, days=days, seed=seed, anomalies=plan))
        report = evaluate(rows, start=START + dt.timedelta(days=7))
        for record in truth["anomalies"]:
            window = monitoring.PlantedWindow.from_truth(record)
            assert monitoring.detected(window, report.alerts), (seed, record)


# ================================================================ the alerts table and the CLI


def test_alerts_are_written_idempotently(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "w.duckdb")
    try:
        rates = weekly(0.30, 0.24, 5)
        rates[30] = 0.2
        rates[33] = 0.1
        report = acceptance(rate_rows(rates))
        assert alert_store.write_alerts(con, report) == 2
        first = alert_store.read_alerts(con)
        assert alert_store.write_alerts(con, report) == 2
        again = alert_store.read_alerts(con)
        assert again == first  # no duplicate, first detection time kept
        # the data changes: day 33 is normal now; its alert goes, day 30's stays
        rates[33] = 0.30
        alert_store.write_alerts(con, acceptance(rate_rows(rates)))
        (kept,) = alert_store.read_alerts(con)
        assert kept == first[0]
        # evaluating other days leaves these alerts alone
        alert_store.write_alerts(
            con, acceptance(rate_rows(rates), end=START + dt.timedelta(days=20))
        )
        assert alert_store.read_alerts(con) == [kept]
        assert alert_store.read_alerts(con, end=START + dt.timedelta(days=29)) == []
    finally:
        con.close()


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEX_DS_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "codex_ds", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_monitor_exit_codes_json_and_idempotence(tmp_path: Path) -> None:
    sim = ("simulate", "--users", "800", "--days", "28", "--seed", "5", "--json")
    assert cli(*sim, home=tmp_path).returncode == 0
    clean = cli("monitor", "--json", home=tmp_path)
    assert clean.returncode == 0, clean.stderr
    payload = json.loads(clean.stdout)
    assert payload["alerts"] == [] and payload["monitor_days"] > 400
    planted = cli(*sim, "--anomaly", "latency:day=20,days=2", home=tmp_path)
    assert planted.returncode == 0, planted.stderr
    truth = json.loads((tmp_path / "ground_truth.json").read_text())["anomalies"]
    assert truth[0]["first_day"] == "2026-01-25"
    fired = cli("monitor", home=tmp_path)
    assert fired.returncode == 5, fired.stderr
    assert "latency_p95" in fired.stdout and "exit code 5" in fired.stderr
    rerun = cli("monitor", "--json", "--start", "2026-01-20", home=tmp_path)
    assert rerun.returncode == 5
    alerts = json.loads(rerun.stdout)["alerts"]
    assert any(a["dimension"] == "overall" and a["day"] == "2026-01-25" for a in alerts)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT count(*), count(DISTINCT (monitor, dimension, dimension_value, day)) FROM alerts"
    ).fetchone()
    con.close()
    assert rows is not None and rows[0] == rows[1] > 0


def test_cli_bad_input_and_help(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from codex_ds.cli.main import app

    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["--home", str(tmp_path), *args])

    missing = run("monitor")
    assert missing.exit_code == 1 and "no warehouse" in missing.output
    db.connect(tmp_path / "warehouse.duckdb").close()  # an empty warehouse
    empty = run("monitor", "--json")
    assert empty.exit_code == 0 and json.loads(empty.stdout)["monitor_days"] == 0
    bad = run("monitor", "--start", "2026-13-01")
    assert bad.exit_code == 2 and "--start" in bad.output and bad.exception is not None
    assert isinstance(bad.exception, SystemExit)  # a clean exit, not a traceback
    order = run("monitor", "--start", "2026-02-01", "--end", "2026-01-01")
    assert order.exit_code == 2 and "after --end" in order.output
    spec = run("simulate", "--days", "10", "--anomaly", "latency:day=9")
    assert spec.exit_code == 2 and "ends after the period" in spec.output
    help_text = run("monitor", "--help").output
    assert "Exit codes" in help_text and "5 at least one alert" in help_text
    assert "--anomaly" in run("simulate", "--help").output
