"""Every page under Streamlit's AppTest, on a missing, an empty and a simulated warehouse:
it renders without an exception, and a filter changes the numbers shown exactly as the same
query (or package analysis) run directly says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from codex_ds.dashboard import summary
from codex_ds.dashboard.app import PAGES
from codex_ds.warehouse import catalog, db

URLS = [url for _, _, url, _ in PAGES]
TIMEOUT = 120


def _script(start: str) -> None:
    from codex_ds.dashboard import app

    app.main(start)


def open_page(url: str) -> AppTest:
    at = AppTest.from_function(_script, args=(url,), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def home(simulated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CODEX_DS_HOME", str(simulated_home))
    yield simulated_home


def run_direct(home: Path, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with db.open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        return catalog.run(con, catalog.default_catalog().get(name), params).records()


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_no_warehouse_page_names_the_command(
    state: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_DS_HOME", str(tmp_path))
    if state == "empty":
        db.connect(tmp_path / "warehouse.duckdb").close()
    for url in URLS:
        at = open_page(url)
        text = " ".join(m.value for m in at.markdown)
        assert "codex-ds simulate" in text and "codex-ds ingest" in text
        warning = at.warning[0].value
        assert ("no warehouse" in warning) if state == "missing" else ("holds no" in warning)


@pytest.mark.slow
@pytest.mark.parametrize("url", URLS)
def test_every_page_renders_on_a_simulated_warehouse(home: Path, url: str) -> None:
    at = open_page(url)
    title = next(t for _, t, u, _ in PAGES if u == url)
    assert at.title[0].value == title
    if url == "copilot":  # the simulator writes no Copilot metrics: the page says so
        assert "No Copilot metrics" in at.info[0].value
    elif url == "data-quality":  # nor quarantined rows (test_browser ingests some)
        assert "Nothing quarantined" in at.success[0].value
    else:
        assert at.get("plotly_chart"), f"{url}: no chart"
    if url == "telemetry":  # every section, one at a time
        from codex_ds.dashboard.views.telemetry import SECTIONS

        for section in SECTIONS[1:]:
            at.button_group(key="t_section").set_value(section).run()
            assert not at.exception, (section, [e.value for e in at.exception])
            if section == "Alerts":  # `codex-ds monitor` has not run on this workspace
                assert "No rows for `alerts`" in at.info[0].value
            else:
                assert at.dataframe and at.get("plotly_chart"), section


def _acceptance_card(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Acceptance rate")


def test_overview_cards_follow_the_filter(home: Path) -> None:
    at = open_page("overview")
    before = _acceptance_card(at)
    at.selectbox(key="f_editor").set_value("vscode").run()
    assert not at.exception
    after = _acceptance_card(at)
    for editor, shown in ((None, before), ("vscode", after)):
        params = {"editor": editor} if editor else {}  # the whole range: no date filter
        pooled = summary.pooled(run_direct(home, "daily_metrics", params), [])
        assert shown == f"{100 * pooled['acceptance_rate']:.1f} %"
    assert before != after


def test_telemetry_acceptance_table_follows_the_filters(home: Path) -> None:
    at = open_page("telemetry")
    frame = at.dataframe[0].value
    assert set(frame["language"]) == set(
        r["language"] for r in run_direct(home, "acceptance_by_language", {})
    )
    at.selectbox(key="f_language").set_value("python").run()
    at.selectbox(key="f_segment").set_value("beginner").run()
    assert not at.exception
    frame = at.dataframe[0].value
    direct = run_direct(home, "acceptance_by_language", {"language": "python",
                                                         "segment": "beginner"})
    assert list(frame["language"]) == ["python"]
    assert list(frame["shown"]) == [r["shown"] for r in direct]
    assert list(frame["acceptance_rate"]) == pytest.approx([r["acceptance_rate"] for r in direct])


def test_date_range_changes_engagement(home: Path) -> None:
    at = open_page("telemetry")
    start, end = at.date_input(key="f_dates").value
    short_end = start + dt.timedelta(days=6)
    at.date_input(key="f_dates").set_value((start, short_end)).run()
    at.button_group(key="t_section").set_value("Engagement").run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "stickiness" in d.value.columns)
    direct = run_direct(home, "active_users", {"start_date": start, "end_date": short_end})
    assert len(shown) == len(direct) == 7
    assert list(shown["dau"]) == [r["dau"] for r in direct]
    assert end > short_end


def test_failures_follow_the_language_filter(home: Path) -> None:
    at = open_page("failures")
    at.selectbox(key="f_language").set_value("typescript").run()
    assert not at.exception
    frame = at.dataframe[0].value
    direct = run_direct(home, "error_types", {"language": "typescript"})
    assert set(frame["language"]) == {"typescript"}
    assert list(frame["runs"]) == [r["runs"] for r in direct]


def test_experiments_show_the_package_decision(home: Path) -> None:
    from codex_ds.experiments import analysis

    at = open_page("experiments")
    with db.open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        result = analysis.analyze(con, analysis.ExperimentDefinition("exp_model_v2"))
    assert at.selectbox(key="x_experiment").value == "exp_model_v2"
    assert at.subheader[0].value.endswith(f"Decision: {result.decision}")
    frame = at.dataframe[0].value
    assert list(frame["relative_effect"]) == pytest.approx(
        [m.relative_effect for m in result.metrics], nan_ok=True
    )


def test_evaluation_follows_the_language_filter(home: Path) -> None:
    from codex_ds.evaluation import store
    from codex_ds.evaluation.report import summarise_run

    at = open_page("evaluation")
    run_id = at.selectbox(key="e_run").value
    at.selectbox(key="f_language").set_value("python").run()
    assert not at.exception
    by_language = next(d.value for d in at.dataframe if "name" in d.value.columns)
    with db.open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        s = summarise_run(store.get_run(con, run_id), store.run_results(con, run_id))
    group = next(g for g in s.by_language if g.name == "python")
    assert list(by_language["name"]) == ["python"]
    assert by_language["pass@1"].iloc[0] == pytest.approx(group.pass_at_k[0].value)


def test_causal_follows_the_segment_filter(home: Path) -> None:
    from codex_ds.causal import dataset
    from codex_ds.causal.design import causal_design
    from codex_ds.causal.effects import CausalError
    from codex_ds.dashboard.data import causal_covariates

    def expected(segment: str | None, start: dt.date | None, end: dt.date | None) -> str:
        with db.open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
            frame = dataset.user_outcomes(con, start_date=start, end_date=end, segment=segment)
        design = causal_design(
            frame, dataset.DEFAULT_TREATMENT, dataset.DEFAULT_OUTCOME, causal_covariates(segment)
        )
        return design.code if isinstance(design, CausalError) else f"{design.n:,} users"

    at = open_page("causal")
    start = end = None  # the whole range selected: no date filter
    shown = [" ".join(m.value for m in at.markdown)]
    at.selectbox(key="f_segment").set_value("intermediate").run()
    assert not at.exception
    shown.append(" ".join([m.value for m in at.markdown] + [i.value for i in at.info]))
    everyone, segment = expected(None, start, end), expected("intermediate", start, end)
    assert everyone.endswith(" users") and everyone in shown[0]
    assert segment in shown[1] and segment != everyone


def test_overview_compares_with_the_previous_period(home: Path) -> None:
    at = open_page("overview")
    first, last = at.date_input(key="f_dates").value
    start = last - dt.timedelta(days=6)
    at.date_input(key="f_dates").set_value((start, last)).run()
    assert not at.exception
    card = next(m for m in at.metric if m.label == "Acceptance rate")
    current = summary.pooled(
        run_direct(home, "daily_metrics", {"start_date": start, "end_date": last}), []
    )
    previous = summary.pooled(
        run_direct(
            home,
            "daily_metrics",
            {"start_date": start - dt.timedelta(days=7), "end_date": start - dt.timedelta(days=1)},
        ),
        [],
    )
    assert previous["shown"] > 0 and first < start
    assert card.value == f"{100 * current['acceptance_rate']:.1f} %"
    change = current["acceptance_rate"] - previous["acceptance_rate"]
    assert card.delta == f"{100 * change:+.1f} pts"


# -- Experiments: the filters make a subgroup analysis; the power and monitoring tables ---


def _direct_analysis(home: Path, population: dict[str, Any]) -> tuple[Any, tuple[Any, ...]]:
    from codex_ds.experiments import analysis

    definition = analysis.ExperimentDefinition("exp_model_v2")
    with db.open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        aggregates = analysis.load_aggregates(con, "exp_model_v2", None, population)
    return analysis.analyze_aggregates(aggregates, definition), aggregates.stats


def _table(at: AppTest, column: str) -> Any:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _units_card(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Units")


def test_experiments_follow_the_segment_filter(home: Path) -> None:
    at = open_page("experiments")
    whole, _ = _direct_analysis(home, {})
    assert not at.warning  # the pre-registered analysis: no subgroup warning
    assert "pre-registered" in " ".join(c.value for c in at.caption)
    before = list(_table(at, "relative_effect")["relative_effect"])
    assert _units_card(at) == f"{sum(whole.units.values()):,}"
    at.selectbox(key="f_segment").set_value("expert").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Subgroup analysis (segment=expert)" in at.warning[0].value
    sub, _ = _direct_analysis(home, {"segment": "expert"})
    after = list(_table(at, "relative_effect")["relative_effect"])
    assert after == pytest.approx([m.relative_effect for m in sub.metrics], nan_ok=True)
    assert at.subheader[0].value.endswith(f"Decision: {sub.decision}")
    assert _units_card(at) == f"{sum(sub.units.values()):,}"
    assert sum(sub.units.values()) < sum(whole.units.values()) and after != before


def test_experiments_date_range_and_the_monitoring_and_power_tables(home: Path) -> None:
    from codex_ds.dashboard import monitoring

    at = open_page("experiments")
    assert len(at.get("plotly_chart")) >= 3  # forest plot, power, sequential monitoring
    first, _last = at.date_input(key="f_dates").value
    whole, _ = _direct_analysis(home, {})
    monitored = _table(at, "efficacy_boundary")
    start = min(monitored["day"]) + dt.timedelta(days=1)
    end = start + dt.timedelta(days=6)
    at.date_input(key="f_dates").set_value((start, end)).run()
    assert not at.exception, [e.value for e in at.exception]
    population = {"start_date": start, "end_date": end}
    sub, stats = _direct_analysis(home, population)
    shown = _table(at, "relative_effect")
    assert list(shown["relative_effect"]) == pytest.approx(
        [m.relative_effect for m in sub.metrics], nan_ok=True
    )
    assert [m.relative_effect for m in sub.metrics] != [m.relative_effect for m in whole.metrics]
    # the monitoring table: the package's group-sequential looks of the same query, run directly
    daily = run_direct(home, "experiment_daily_stats",
                       {"experiment_id": "exp_model_v2", **population})
    expected = monitoring.sequential_monitoring(daily, "acceptance_rate")
    table = _table(at, "efficacy_boundary")
    assert [d for d in table["day"]] == [r["day"] for r in expected.rows]
    assert min(table["day"]) >= start and max(table["day"]) <= end
    assert list(table["z"]) == pytest.approx([r["z"] for r in expected.rows])
    assert list(table["efficacy_boundary"]) == pytest.approx(
        [r["efficacy_boundary"] for r in expected.rows]
    )
    # the last look's sums are the analysis's post-start sums (every unit assigned by then)
    last = [r for r in daily if r["day"] == max(r["day"] for r in daily)]
    for row in last:
        arm = next(s for s in stats if s["variant"] == row["variant"])
        assert row["shown_sum"] == arm["shown_sum"] and row["accepted_sum"] == arm["accepted_sum"]
    # the power table: power_curve of the filtered units
    by_variant = {s["variant"]: s for s in stats}
    curve = monitoring.power_curve(
        by_variant[sub.control], by_variant[sub.treatments[0]], "acceptance_rate",
        __import__("codex_ds.experiments.analysis", fromlist=["x"]).ExperimentDefinition(
            "exp_model_v2"
        ),
    )
    power = _table(at, "relative_mde")
    assert list(power["power"]) == pytest.approx([r["power"] for r in curve.rows])
    assert first < start


def test_experiments_ignore_the_model_version_filter_and_say_so(home: Path) -> None:
    at = open_page("experiments")
    before = list(_table(at, "relative_effect")["relative_effect"])
    model = at.selectbox(key="f_model_version").options[-1]
    at.selectbox(key="f_model_version").set_value(model).run()
    assert not at.exception
    assert any("does not apply here" in c.value for c in at.caption)
    assert list(_table(at, "relative_effect")["relative_effect"]) == pytest.approx(
        before, nan_ok=True
    )


# -- Data Quality: the date range selects quarantined rows by their ingest day ------------


@pytest.fixture
def quarantine_home(
    simulated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The simulated workspace plus a malformed file ingested twice, on the first day of
    activity and five days later (``ingest_paths(now=...)`` stamps the quarantine)."""
    import shutil

    from codex_ds.telemetry.ingest import ingest_paths

    home = tmp_path / "ws"
    home.mkdir()
    shutil.copy(simulated_home / "warehouse.duckdb", home / "warehouse.duckdb")
    data = Path(__file__).resolve().parents[1] / "data"
    with db.open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        first = run_direct_con(con, "daily_metrics")[0]["day"]
    con = db.connect(home / "warehouse.duckdb")
    try:
        text = (data / "continue" / "autocomplete_malformed.jsonl").read_text()
        for offset in (0, 5):  # two files (an ingest skips a file it has already loaded)
            bad = tmp_path / f"malformed_day{offset}.jsonl"
            bad.write_text(text + "not json at all\n" * (offset + 1))
            day = dt.datetime.combine(first, dt.time(12)) + dt.timedelta(days=offset)
            ingest_paths(con, [bad], now=day.replace(tzinfo=dt.UTC))
    finally:
        con.close()
    monkeypatch.setenv("CODEX_DS_HOME", str(home))
    yield home


def run_direct_con(con: Any, name: str, params: dict[str, Any] | None = None) -> list[Any]:
    return catalog.run(con, catalog.default_catalog().get(name), params or {}).records()


def test_data_quality_follows_the_date_range(quarantine_home: Path) -> None:
    at = open_page("data-quality")
    first, _last = at.date_input(key="f_dates").value
    everything = run_direct(quarantine_home, "quarantine_summary", {})
    shown = _table(at, "quarantine_rows")
    assert list(shown["quarantine_rows"]) == [r["quarantine_rows"] for r in everything]
    rows_before = len(_table(at, "detail"))
    at.date_input(key="f_dates").set_value((first, first + dt.timedelta(days=2))).run()
    assert not at.exception, [e.value for e in at.exception]
    direct = run_direct(quarantine_home, "quarantine_summary",
                        {"start_date": first, "end_date": first + dt.timedelta(days=2)})
    shown = _table(at, "quarantine_rows")
    assert list(shown["quarantine_rows"]) == [r["quarantine_rows"] for r in direct]
    assert {Path(f).name for f in shown["file"]} == {"malformed_day0.jsonl"}
    assert {Path(r["file"]).name for r in everything} == {
        "malformed_day0.jsonl", "malformed_day5.jsonl"
    }
    examples = _table(at, "detail")
    assert {t.date() for t in examples["quarantined_at"]} == {first}
    assert len(examples) < rows_before or rows_before == 50
    assert any("do not apply here" in c.value for c in at.caption)


# -- Copilot: a workspace holding only GitHub's metrics; the date range applies -----------


def test_copilot_page_follows_the_date_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codex_ds.telemetry.ingest import ingest_paths

    data = Path(__file__).resolve().parents[1] / "data" / "copilot"
    with db.open_warehouse(tmp_path / "warehouse.duckdb") as con:
        report = ingest_paths(
            con, [data / "enterprise_metrics.json", data / "organization_usage_legacy.json"]
        )
    assert report.exit_code == 0, report.to_dict()
    monkeypatch.setenv("CODEX_DS_HOME", str(tmp_path))
    at = open_page("copilot")
    assert at.get("plotly_chart")
    whole = run_direct(tmp_path, "copilot_daily_totals", {})
    frame = at.dataframe[0].value
    assert [_day(d) for d in frame["day"]] == [r["day"] for r in whole]
    assert list(frame["acceptances"]) == [r["acceptances"] for r in whole]
    days = sorted({r["day"] for r in whole})
    assert len(days) >= 3
    start, end = days[1], days[-1]
    at.date_input(key="f_dates").set_value((start, end)).run()
    assert not at.exception, [e.value for e in at.exception]
    part = run_direct(tmp_path, "copilot_daily_totals", {"start_date": start, "end_date": end})
    frame = at.dataframe[0].value
    assert [_day(d) for d in frame["day"]] == [r["day"] for r in part]
    assert list(frame["acceptance_rate"]) == pytest.approx([r["acceptance_rate"] for r in part])
    assert 0 < len(part) < len(whole)


def _day(value: Any) -> dt.date:
    import pandas as pd

    return pd.Timestamp(value).date()
