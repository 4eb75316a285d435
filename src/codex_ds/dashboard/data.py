"""Everything the dashboard reads: cached, parameterised, read-only.

Each function opens the warehouse read-only for the length of one read and closes it
(:func:`reading`), so the CLI can open it read-write between two reads: DuckDB lets one
process write *or* several read a file, and both sides wait (bounded) for the other's lock
(:func:`codex_ds.warehouse.db.connect`). Results are cached with ``st.cache_data`` under a
key that includes the warehouse file's *version* (size and modification time of the file
and its WAL), so a write by the CLI shows on the next rerun and an unchanged warehouse is
never read twice for the same parameters.

Queries come from the catalog (``warehouse/queries/*.sql``), analyses from the package
(experiments, rollout, causal, evaluation); nothing here computes a statistic of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import pandas as pd
import streamlit as st

from codex_ds.settings import Workspace
from codex_ds.telemetry import schema
from codex_ds.warehouse import catalog, db

#: How long a dashboard read waits for the CLI to release its write lock.
READ_LOCK_WAIT_SECONDS = 10.0
#: Cached results expire after this many seconds even if the file looks unchanged.
CACHE_TTL_SECONDS = 600

T = TypeVar("T")
WarehouseState = Literal["missing", "empty", "ready"]


@dataclass(frozen=True)
class Filters:
    """The global filters of the sidebar; ``None`` means "all"."""

    start_date: dt.date | None = None
    end_date: dt.date | None = None
    language: str | None = None
    editor: str | None = None
    segment: str | None = None
    model_version: str | None = None

    def for_query(self, name: str) -> dict[str, Any]:
        """The filters the named query declares (uniform :data:`catalog.FILTERS`), non-NULL."""
        query = catalog.default_catalog().get(name)
        given = asdict(self)
        return {k: given[k] for k in query.filters if given[k] is not None}

    def key(self) -> tuple[Any, ...]:
        return tuple(asdict(self).values())


def warehouse_path() -> Path:
    """The workspace's warehouse (``CODEX_DS_HOME``, as for the CLI)."""
    return Workspace.resolve().warehouse


def version(path: Path) -> tuple[int, int, int, int]:
    """Size and mtime (ns) of the file and its WAL: changes whenever the CLI writes."""
    out: list[int] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            s = p.stat()
            out += [s.st_size, s.st_mtime_ns]
        except FileNotFoundError:
            out += [0, 0]
    return (out[0], out[1], out[2], out[3])


@contextmanager
def reading(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection (waits up to :data:`READ_LOCK_WAIT_SECONDS`)."""
    con = db.connect(path, read_only=True, lock_wait=READ_LOCK_WAIT_SECONDS)
    try:
        yield con
    finally:
        con.close()


def _read(path: Path, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    with reading(path) as con:
        return fn(con)


# -- warehouse state and filter choices ----------------------------------------------------


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def table_counts(path: str, ver: tuple[int, ...]) -> dict[str, int]:
    return _read(Path(path), db.table_counts)


def state(path: Path) -> WarehouseState:
    """``missing`` (no file), ``empty`` (no telemetry, no evaluation run) or ``ready``."""
    if not path.exists():
        return "missing"
    counts = table_counts(str(path), version(path))
    filled = ("suggestions", "sessions", "eval_runs", "copilot_daily", "quarantine")
    return "ready" if any(counts.get(t, 0) for t in filled) else "empty"


@dataclass(frozen=True)
class FilterChoices:
    first_day: dt.date | None
    last_day: dt.date | None
    languages: tuple[str, ...]
    editors: tuple[str, ...]
    segments: tuple[str, ...]
    model_versions: tuple[str, ...]


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def filter_choices(path: str, ver: tuple[int, ...]) -> FilterChoices:
    # The days of activity (daily_metrics: first to last day with a shown suggestion or a test
    # run; the same call as an unfiltered page's, so the two share one cached result); without
    # any, the span of every timed table (signups may lie years back).
    days = _query(path, ver, "daily_metrics", ())
    day_values = [pd.Timestamp(d).date() for d in days["day"]]

    def load(con: duckdb.DuckDBPyConnection) -> FilterChoices:
        first: dt.date | None = min(day_values) if day_values else None
        last: dt.date | None = max(day_values) if day_values else None
        if not day_values:
            info = db.describe(con, path)
            start, end = info.date_range.get("start"), info.date_range.get("end")
            first = dt.date.fromisoformat(start) if start else None
            last = dt.date.fromisoformat(end) if end else None
        models = catalog.known_values(con, catalog.FILTERS["model_version"])
        return FilterChoices(
            first,
            last,
            schema.LANGUAGES,
            schema.EDITORS,
            schema.SEGMENTS,
            tuple(str(m) for m in models),
        )

    return _read(Path(path), load)


def activity_range(path: Path | None = None) -> tuple[dt.date | None, dt.date | None]:
    """First and last day of activity (what an unset date filter stands for)."""
    p = path or warehouse_path()
    choices = filter_choices(str(p), version(p))
    return choices.first_day, choices.last_day


# -- named queries -------------------------------------------------------------------------


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=512)
def _query(path: str, ver: tuple[int, ...], name: str, params: tuple[Any, ...]) -> pd.DataFrame:
    query = catalog.default_catalog().get(name)
    result = _read(Path(path), lambda con: catalog.run(con, query, dict(params)))
    return result.table.to_pandas()


def query(
    name: str, filters: Filters | None = None, path: Path | None = None, **params: Any
) -> pd.DataFrame:
    """Run a named catalog query with the global filters it declares plus ``params``."""
    p = path or warehouse_path()
    bound = (filters or Filters()).for_query(name) | params
    return _query(str(p), version(p), name, tuple(sorted(bound.items())))


# -- analyses from the package -------------------------------------------------------------


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _experiment_ids(path: str, ver: tuple[int, ...]) -> list[str]:
    from codex_ds.experiments import analysis

    return _read(
        Path(path),
        lambda con: sorted({str(r["experiment_id"]) for r in analysis.list_experiments(con)}),
    )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _analysis(
    path: str, ver: tuple[int, ...], experiment_id: str, population: tuple[Any, ...]
) -> tuple[Any, tuple[dict[str, Any], ...]]:
    from codex_ds.experiments import analysis

    definition = analysis.ExperimentDefinition(experiment_id)

    def load(con: duckdb.DuckDBPyConnection) -> tuple[Any, tuple[dict[str, Any], ...]]:
        aggregates = analysis.load_aggregates(
            con, experiment_id, definition.winsorize_quantile, dict(population)
        )
        stats = tuple(dict(r) for r in aggregates.stats)
        return analysis.analyze_aggregates(aggregates, definition), stats

    return _read(Path(path), load)


def experiment_population(filters: Filters | None) -> dict[str, Any]:
    """The filters that restrict an experiment's analysis (``experiment_unit_stats``'
    declared ones: date range, language, editor, segment; not the model version, which is
    what a model experiment randomises). Empty: the pre-registered analysis."""
    return (filters or Filters()).for_query("experiment_unit_stats")


def experiment_analysis(
    experiment_id: str, filters: Filters | None = None, path: Path | None = None
) -> Any:
    """``analysis.analyze`` of one experiment on the filtered population (no filter: the same
    result as ``codex-ds experiment analyze``)."""
    return experiment_details(experiment_id, filters, path)[0]


def experiment_details(
    experiment_id: str, filters: Filters | None = None, path: Path | None = None
) -> tuple[Any, tuple[dict[str, Any], ...]]:
    """The analysis and the ``experiment_unit_stats`` rows it was computed from."""
    p = path or warehouse_path()
    population = tuple(sorted(experiment_population(filters).items()))
    return _analysis(str(p), version(p), experiment_id, population)


def experiment_ids(path: Path | None = None) -> list[str]:
    """The experiments with assignments (``analysis.list_experiments``), sorted."""
    p = path or warehouse_path()
    return _experiment_ids(str(p), version(p))


def experiments(path: Path | None = None) -> list[Any]:
    """``analysis.analyze`` of every experiment with assignments (as ``codex-ds all`` runs it)."""
    p = path or warehouse_path()
    return [experiment_analysis(i, None, p) for i in _experiment_ids(str(p), version(p))]


def sequential_monitoring(
    experiment_id: str, metric: str, filters: Filters | None = None, path: Path | None = None
) -> Any:
    """:func:`codex_ds.dashboard.monitoring.sequential_monitoring` of the experiment's
    ``experiment_daily_stats`` (the same population filters as its analysis)."""
    p = path or warehouse_path()
    population = tuple(sorted(experiment_population(filters).items()))
    return _monitoring(str(p), version(p), experiment_id, metric, population)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _monitoring(
    path: str, ver: tuple[int, ...], experiment_id: str, metric: str,
    population: tuple[Any, ...],
) -> Any:
    from codex_ds.dashboard import monitoring
    from codex_ds.experiments.analysis import ExperimentDefinition

    params = (("experiment_id", experiment_id), *population)
    daily = _query(path, ver, "experiment_daily_stats", tuple(sorted(params)))
    alpha = ExperimentDefinition(experiment_id).alpha
    rows = [{str(k): v for k, v in r.items()} for r in daily.to_dict("records")]
    return monitoring.sequential_monitoring(rows, metric, alpha)


def experiment_power(
    experiment_id: str, filters: Filters | None = None, path: Path | None = None
) -> Any:
    """:func:`codex_ds.dashboard.monitoring.power_curve` of the primary goal at the units of
    the (filtered) analysis, first treatment against the control."""
    from codex_ds.dashboard import monitoring
    from codex_ds.experiments.analysis import ExperimentDefinition

    result, stats = experiment_details(experiment_id, filters, path)
    definition = ExperimentDefinition(experiment_id)
    metric = definition.goals[0]
    by_variant = {str(r["variant"]): r for r in stats}
    control = by_variant.get(str(result.control))
    treatment = next((by_variant[t] for t in result.treatments if t in by_variant), None)
    if control is None or treatment is None:
        return monitoring.PowerCurve(metric, error="missing_variant",
                                     message=result.message or "no control or treatment units")
    return monitoring.power_curve(control, treatment, metric, definition)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _rollout(path: str, ver: tuple[int, ...], experiment_id: str) -> Any:
    from codex_ds.experiments import rollout

    def load(con: duckdb.DuckDBPyConnection) -> Any:
        plan, gates = rollout.RampPlan(), rollout.GateConfig()
        margin = next(g.margin for g in gates.guardrails if g.metric == "latency_ms")
        replay = rollout.load_steps(con, plan, experiment_id)
        return rollout.evaluate_steps(replay, plan, gates, 2 * margin)

    return _read(Path(path), load)


def rollout_replay(experiment_id: str, path: Path | None = None) -> Any:
    """The default ramp's gates over an experiment (``codex-ds rollout evaluate``'s defaults;
    the planned regression to detect is twice the latency margin, as without ground truth)."""
    p = path or warehouse_path()
    return _rollout(str(p), version(p), experiment_id)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _eval_runs(path: str, ver: tuple[int, ...]) -> pd.DataFrame:
    from codex_ds.evaluation import store

    runs = _read(Path(path), lambda con: store.list_runs(con, limit=200))
    return pd.DataFrame([asdict(r) for r in runs])


def eval_runs(path: Path | None = None) -> pd.DataFrame:
    """The stored evaluation runs, newest first (``codex-ds eval list``)."""
    p = path or warehouse_path()
    return _eval_runs(str(p), version(p))


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _eval_summary(path: str, ver: tuple[int, ...], run_id: str) -> Any:
    from codex_ds.evaluation import store
    from codex_ds.evaluation.report import summarise_run

    def load(con: duckdb.DuckDBPyConnection) -> Any:
        return summarise_run(store.get_run(con, run_id), store.run_results(con, run_id))

    return _read(Path(path), load)


def eval_summary(run_id: str, path: Path | None = None) -> Any:
    """``evaluation.report.summarise_run`` of a stored run (pass@k overall, by language and
    category, failure taxonomy, examples)."""
    p = path or warehouse_path()
    return _eval_summary(str(p), version(p), run_id)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _eval_comparison(path: str, ver: tuple[int, ...], run_a: str, run_b: str) -> Any:
    from codex_ds.evaluation import store
    from codex_ds.evaluation.metrics import compare_runs
    from codex_ds.evaluation.runs import stored_pairs

    def load(con: duckdb.DuckDBPyConnection) -> Any:
        return compare_runs(
            stored_pairs(store.run_results(con, run_a)),
            stored_pairs(store.run_results(con, run_b)),
        )

    return _read(Path(path), load)


def eval_comparison(run_a: str, run_b: str, path: Path | None = None) -> Any:
    """``evaluation.metrics.compare_runs``: McNemar on paired samples, paired bootstrap."""
    p = path or warehouse_path()
    return _eval_comparison(str(p), version(p), run_a, run_b)


def causal_covariates(segment: str | None) -> tuple[str, ...]:
    """The default covariates; within one segment, those involving the segment (constant
    there) are left out.

    >>> causal_covariates("expert")
    ('tenure_days',)
    """
    from codex_ds.causal import dataset

    if segment is None:
        return dataset.DEFAULT_COVARIATES
    return tuple(c for c in dataset.DEFAULT_COVARIATES if "segment" not in c.split(":"))


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _causal(
    path: str, ver: tuple[int, ...], start: Any, end: Any, segment: str | None
) -> dict[str, Any]:
    from codex_ds.causal import dataset
    from codex_ds.causal.design import causal_design
    from codex_ds.causal.effects import CausalError
    from codex_ds.causal.estimate import CausalOptions, estimate_effects

    frame = _read(
        Path(path),
        lambda con: dataset.user_outcomes(con, start_date=start, end_date=end, segment=segment),
    )
    data = causal_design(
        frame, dataset.DEFAULT_TREATMENT, dataset.DEFAULT_OUTCOME, causal_covariates(segment)
    )
    if isinstance(data, CausalError):
        return {"error": data.to_dict()}
    result = estimate_effects(data, CausalOptions())
    if isinstance(result, CausalError):
        return {"error": result.to_dict()}
    estimates = pd.DataFrame(
        [asdict(e) for e in (result.naive, *result.estimates)]
    )
    balance = pd.DataFrame(
        [
            asdict(r) | {"adjustment": table.adjustment}
            for table in result.balance
            for r in table.rows
        ]
    )
    ov = result.overlap
    edges = list(ov.histogram_edges)
    overlap = pd.DataFrame(
        {
            "score_low": edges[:-1],
            "score_high": edges[1:],
            "treated": list(ov.histogram_treated),
            "control": list(ov.histogram_control),
        }
    )
    return {
        "treatment": data.treatment,
        "outcome": data.outcome,
        "n": data.n,
        "covariates": list(causal_covariates(segment)),
        "estimates": estimates,
        "balance": balance,
        "overlap": overlap,
        "overlap_warnings": list(ov.warnings),
        "warnings": list(result.warnings),
        "errors": {k: v.to_dict() for k, v in result.errors.items()},
    }


def causal(filters: Filters, path: Path | None = None) -> dict[str, Any]:
    """``causal.estimate.estimate_effects`` (every method, ATE and ATT) of the default design
    (chat adoption → weekly merged PRs) on the users of the filtered period and segment."""
    p = path or warehouse_path()
    return _causal(str(p), version(p), filters.start_date, filters.end_date, filters.segment)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _alerts(path: str, ver: tuple[int, ...], start: Any, end: Any) -> pd.DataFrame:
    from codex_ds.warehouse import alerts

    return pd.DataFrame(_read(Path(path), lambda con: alerts.read_alerts(con, start, end)))


def stored_alerts(filters: Filters, path: Path | None = None) -> pd.DataFrame:
    """Alerts stored by ``codex-ds monitor`` in the filtered date range."""
    p = path or warehouse_path()
    return _alerts(str(p), version(p), filters.start_date, filters.end_date)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _quarantine_examples(
    path: str, ver: tuple[int, ...], limit: int, start: Any, end: Any
) -> pd.DataFrame:
    return pd.DataFrame(
        _read(Path(path), lambda con: db.quarantine_rows(con, limit, start, end))
    )


def quarantine_examples(
    filters: Filters | None = None, limit: int = 50, path: Path | None = None
) -> pd.DataFrame:
    """The most recent quarantined rows (``db.quarantine_rows``) of the filtered days
    (the day they were quarantined, i.e. ingested)."""
    p = path or warehouse_path()
    f = filters or Filters()
    return _quarantine_examples(str(p), version(p), limit, f.start_date, f.end_date)
