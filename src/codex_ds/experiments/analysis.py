"""From the warehouse to a decision: one experiment's aggregates → tests → ship / hold / rollback.

Two layers (METHODOLOGY.md §5.11):

* I/O: :func:`load_aggregates` runs the named queries ``experiment_assignment_counts`` and
  ``experiment_unit_stats`` on a connection passed in and returns an :class:`Aggregates`
  (plain rows, no statistics);
* pure: :func:`analyze_aggregates` turns the rows into sufficient statistics
  (:mod:`codex_ds.experiments.statistics`), compares each treatment with the control on every
  goal and guardrail metric, checks the sample ratio, applies Holm's correction to the goal
  family and decides, in this order:

  1. SRM p < 0.001 → ``invalid``;
  2. a guardrail whose estimate lies beyond its non-inferiority margin → ``rollback``;
  3. a goal significantly negative → ``rollback``; a goal significantly positive, with every
     guardrail non-inferior → ``ship``;
  4. otherwise ``hold``, with the users per arm still needed (power for the observed effect
     of the primary goal, or the minimum detectable effect if that is smaller).

Degenerate input (unknown experiment, a missing variant, no units, zero denominators) gives
an :class:`AnalysisResult` with an ``error`` code and message, never NaN or an exception.
Library code: nothing here prints; :func:`render_text` returns the terminal text.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from codex_ds.experiments.corrections import holm
from codex_ds.experiments.frequentist import EffectResult, TestConfig, compare
from codex_ds.experiments.power import PowerConfig, sample_size_means, sample_size_ratio
from codex_ds.experiments.sequential import AlwaysValidConfig, always_valid_test
from codex_ds.experiments.srm import srm_test
from codex_ds.experiments.statistics import (
    RatioStatistic,
    RegressionAdjusted,
    RegressionAdjustedRatio,
    SampleMean,
    UnitStatistic,
)

__all__ = [
    "METRICS",
    "SRM_ALPHA",
    "Aggregates",
    "AnalysisResult",
    "ExperimentDefinition",
    "Guardrail",
    "MetricResult",
    "MetricSpec",
    "analyze",
    "analyze_aggregates",
    "list_experiments",
    "load_aggregates",
    "render_text",
]

Decision = Literal["ship", "hold", "rollback", "invalid"]
Method = Literal["fixed", "sequential"]
Row = Mapping[str, Any]

#: SRM p-values below this make the experiment invalid.
SRM_ALPHA = 0.001


@dataclass(frozen=True)
class MetricSpec:
    """A metric computable from the ``experiment_unit_stats`` row of an arm."""

    name: str
    label: str
    kind: Literal["ratio", "mean"]
    higher_is_better: bool
    unit: str = ""


#: The metrics ``experiment_unit_stats`` supports. Latency is a ratio metric, Σ latency ÷
#: Σ shown per arm (the mean latency of a shown suggestion) with delta-method variance over
#: users: a percentile (p95) is not a function of per-user sums, and the mean of per-user
#: means is undefined for users without suggestions and weights users, not suggestions.
METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("acceptance_rate", "Acceptance Rate", "ratio", True),
        MetricSpec("accepted_per_user", "Accepted Suggestions per User", "mean", True),
        MetricSpec("latency_ms", "Mean Latency", "ratio", False, "ms"),
        MetricSpec("test_pass_rate", "Test Pass Rate", "ratio", True),
    )
}


@dataclass(frozen=True)
class Guardrail:
    """A metric that must not get worse by more than ``margin`` (relative, e.g. 0.05)."""

    metric: str
    margin: float


@dataclass(frozen=True)
class ExperimentDefinition:
    """What to test and how.

    ``control`` None: the experiment's ``control_variant`` in the warehouse. ``weights``
    None: an equal split over the variants observed. ``goals`` form the family corrected
    by Holm; the first goal is the primary one (its power statement explains a ``hold``).
    ``mde`` is the relative minimum detectable effect of the primary goal. With
    ``method="sequential"`` intervals and p-values are always valid (mSPRT mixture) for
    ``planned_units`` units in total (None: the units observed).
    """

    id: str
    control: str | None = None
    goals: tuple[str, ...] = ("acceptance_rate", "accepted_per_user")
    guardrails: tuple[Guardrail, ...] = (
        Guardrail("latency_ms", 0.05),
        Guardrail("test_pass_rate", 0.02),
    )
    alpha: float = 0.05
    method: Method = "fixed"
    weights: Mapping[str, float] | None = None
    mde: float = 0.02
    power: float = 0.8
    winsorize_quantile: float | None = None
    planned_units: int | None = None

    def problem(self) -> tuple[str, str] | None:
        if not 0 < self.alpha < 1:
            return "invalid_config", f"alpha must be in (0, 1), got {self.alpha}"
        if not 0 < self.power < 1:
            return "invalid_config", f"power must be in (0, 1), got {self.power}"
        if not (math.isfinite(self.mde) and self.mde > 0):
            return "invalid_config", f"mde must be > 0, got {self.mde}"
        if self.method not in ("fixed", "sequential"):
            return "invalid_config", f"method must be 'fixed' or 'sequential', not {self.method!r}"
        if not self.goals:
            return "invalid_config", "at least one goal metric is needed"
        names = list(self.goals) + [g.metric for g in self.guardrails]
        unknown = [n for n in names if n not in METRICS]
        if unknown:
            return "invalid_config", f"unknown metric(s) {unknown}; known: {sorted(METRICS)}"
        bad = [g.metric for g in self.guardrails if not (math.isfinite(g.margin) and g.margin > 0)]
        if bad:
            return "invalid_config", f"guardrail margin(s) must be > 0: {bad}"
        q = self.winsorize_quantile
        if q is not None and not 0 < q <= 1:
            return "invalid_config", f"winsorize_quantile must be in (0, 1], got {q}"
        return None


@dataclass(frozen=True)
class Aggregates:
    """What the warehouse returns for one experiment (rows as plain dicts)."""

    experiment_id: str
    name: str | None
    control: str | None
    counts: tuple[Row, ...]  # experiment_assignment_counts rows
    stats: tuple[Row, ...]  # experiment_unit_stats rows
    known: tuple[str, ...] = ()  # every experiment id in the warehouse
    exists: bool = True


@dataclass(frozen=True)
class MetricResult:
    """One metric, one treatment against the control. Numbers are None when ``error``."""

    metric: str
    label: str
    role: Literal["goal", "guardrail"]
    variant: str
    method: str
    control: float | None = None
    treatment: float | None = None
    absolute_effect: float | None = None
    relative_effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    significant: bool | None = None
    margin: float | None = None
    status: str | None = None  # guardrails: pass / fail / inconclusive
    cuped: bool = False
    error: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "label": self.label,
            "role": self.role,
            "variant": self.variant,
            "method": self.method,
            "control": self.control,
            "treatment": self.treatment,
            "absolute_effect": self.absolute_effect,
            "relative_effect": self.relative_effect,
            "ci": [self.ci_low, self.ci_high],
            "p_value": self.p_value,
            "adjusted_p_value": self.adjusted_p_value,
            "significant": self.significant,
            "margin": self.margin,
            "status": self.status,
            "cuped": self.cuped,
            "error": self.error,
            "message": self.message,
        }


@dataclass(frozen=True)
class AnalysisResult:
    """The analysis of one experiment: SRM, metrics and the decision with its reason."""

    experiment: str
    name: str | None = None
    control: str | None = None
    treatments: tuple[str, ...] = ()
    units: Mapping[str, int] = field(default_factory=dict)
    srm_p_value: float | None = None
    decision: Decision = "invalid"
    reason: str = ""
    metrics: tuple[MetricResult, ...] = ()
    alpha: float = 0.05
    method: Method = "fixed"
    more_units_per_arm: int | None = None
    error: str | None = None
    message: str | None = None

    def metric(self, name: str, variant: str | None = None) -> MetricResult:
        for m in self.metrics:
            if m.metric == name and (variant is None or m.variant == variant):
                return m
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "name": self.name,
            "control": self.control,
            "treatments": list(self.treatments),
            "units": dict(self.units),
            "srm_p_value": self.srm_p_value,
            "decision": self.decision,
            "reason": self.reason,
            "alpha": self.alpha,
            "method": self.method,
            "more_units_per_arm": self.more_units_per_arm,
            "error": self.error,
            "message": self.message,
            "metrics": [m.to_dict() for m in self.metrics],
        }


# ============================================================================ I/O


def _records(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any]) -> list[Row]:
    from codex_ds.warehouse import catalog

    result = catalog.run(con, catalog.default_catalog().get(query), params)
    return list(result.records())


def list_experiments(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Every experiment with at least one assignment: id, name, variant units."""
    return _records(con, "experiment_assignment_counts", {})


def load_aggregates(
    con: duckdb.DuckDBPyConnection,
    experiment_id: str,
    winsorize_quantile: float | None = None,
    population: Mapping[str, Any] | None = None,
) -> Aggregates:
    """Run the experiment queries for one experiment (the only I/O of the analysis).

    ``population`` passes ``experiment_unit_stats``' filters (start_date, end_date,
    language, editor, segment): a post-hoc subgroup analysis; None is the whole randomised
    population, the pre-registered analysis."""
    known = tuple(
        str(r[0])
        for r in con.execute("SELECT experiment_id FROM experiments ORDER BY 1").fetchall()
    )
    row = con.execute(
        "SELECT name, control_variant FROM experiments WHERE experiment_id = ?", [experiment_id]
    ).fetchone()
    if row is None:
        return Aggregates(experiment_id, None, None, (), (), known, exists=False)
    counts = _records(con, "experiment_assignment_counts", {"experiment_id": experiment_id})
    stats = _records(
        con,
        "experiment_unit_stats",
        {
            **(population or {}),
            "experiment_id": experiment_id,
            "winsorize_quantile": winsorize_quantile,
        },
    )
    return Aggregates(experiment_id, row[0], row[1], tuple(counts), tuple(stats), known)


def analyze(con: duckdb.DuckDBPyConnection, definition: ExperimentDefinition) -> AnalysisResult:
    """Load the aggregates of ``definition.id`` and analyse them."""
    problem = definition.problem()
    if problem:
        return _invalid(definition, *problem)
    return analyze_aggregates(
        load_aggregates(con, definition.id, definition.winsorize_quantile), definition
    )


# ============================================================================ pure part


def _f(row: Row, key: str) -> float:
    value = row.get(key)
    return 0.0 if value is None else float(value)


def statistic(row: Row, metric: str, cuped: bool = True) -> UnitStatistic:
    """The sufficient statistic of ``metric`` for one arm's ``experiment_unit_stats`` row;
    with ``cuped`` the regression-adjusted form when the row carries a pre-period covariate."""
    n = int(row.get("units") or 0)
    if metric == "acceptance_rate":
        post = RatioStatistic(
            n,
            _f(row, "accepted_sum"),
            _f(row, "accepted_sum_squares"),
            _f(row, "shown_sum"),
            _f(row, "shown_sum_squares"),
            _f(row, "accepted_shown_sum"),
        )
        if not cuped:
            return post
        pre = RatioStatistic(
            n,
            _f(row, "pre_accepted_sum"),
            _f(row, "pre_accepted_sum_squares"),
            _f(row, "pre_shown_sum"),
            _f(row, "pre_shown_sum_squares"),
            _f(row, "pre_accepted_shown_sum"),
        )
        return RegressionAdjustedRatio(
            post,
            pre,
            _f(row, "accepted_pre_accepted_sum"),
            _f(row, "accepted_pre_shown_sum"),
            _f(row, "shown_pre_accepted_sum"),
            _f(row, "shown_pre_shown_sum"),
        )
    if metric == "accepted_per_user":
        if not cuped:
            return SampleMean(
                n, _f(row, "capped_accepted_sum"), _f(row, "capped_accepted_sum_squares")
            )
        return RegressionAdjusted(
            n,
            _f(row, "capped_accepted_sum"),
            _f(row, "capped_accepted_sum_squares"),
            _f(row, "capped_pre_accepted_sum"),
            _f(row, "capped_pre_accepted_sum_squares"),
            _f(row, "capped_cross_sum"),
        )
    if metric == "latency_ms":
        return RatioStatistic(
            n,
            _f(row, "latency_sum"),
            _f(row, "latency_sum_squares"),
            _f(row, "shown_sum"),
            _f(row, "shown_sum_squares"),
            _f(row, "latency_shown_sum"),
        )
    if metric == "test_pass_rate":
        return RatioStatistic(
            n,
            _f(row, "tests_passed_sum"),
            _f(row, "tests_passed_sum_squares"),
            _f(row, "tests_run_sum"),
            _f(row, "tests_run_sum_squares"),
            _f(row, "tests_passed_run_sum"),
        )
    raise KeyError(f"unknown metric {metric!r}")


def _has_covariate(row: Row, metric: str) -> bool:
    if metric == "acceptance_rate":
        return _f(row, "pre_shown_sum") > 0 and _f(row, "pre_shown_sum_squares") > 0
    if metric == "accepted_per_user":
        return _f(row, "capped_pre_accepted_sum_squares") > 0
    return False


def _invalid(
    definition: ExperimentDefinition, code: str, message: str, **kw: Any
) -> AnalysisResult:
    return AnalysisResult(
        experiment=definition.id,
        decision="invalid",
        reason=f"invalid: {message}",
        alpha=definition.alpha,
        method=definition.method,
        error=code,
        message=message,
        **kw,
    )


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _test(
    c_row: Row,
    t_row: Row,
    metric: str,
    config: TestConfig,
    definition: ExperimentDefinition,
) -> tuple[EffectResult, bool, float | None, float | None]:
    """The relative comparison (CUPED when both arms carry the covariate), and the plain
    control and treatment values of the metric."""
    use_cuped = _has_covariate(c_row, metric) and _has_covariate(t_row, metric)
    c_plain, t_plain = statistic(c_row, metric, False), statistic(t_row, metric, False)
    control_value = _finite(c_plain.mean) if c_plain.check() is None else None
    treatment_value = _finite(t_plain.mean) if t_plain.check() is None else None
    c_stat = statistic(c_row, metric, use_cuped)
    t_stat = statistic(t_row, metric, use_cuped)
    if definition.method == "sequential" and config.alternative == "two-sided":
        planned = definition.planned_units or (c_stat.n + t_stat.n)
        seq = always_valid_test(
            c_stat,
            t_stat,
            AlwaysValidConfig(planned_n=max(planned, 2), alpha=config.alpha, difference="relative"),
        )
        result = EffectResult(
            method=("CUPED " if use_cuped else "") + "always-valid mSPRT",
            difference="relative",
            alternative="two-sided",
            alpha=config.alpha,
            estimate=seq.estimate,
            standard_error=seq.standard_error,
            ci_low=seq.ci_low,
            ci_high=seq.ci_high,
            p_value=seq.p_value,
            error=seq.error,
            message=seq.message if seq.error else None,
        )
    else:
        result = compare(c_stat, t_stat, config)
    if result.error and use_cuped:  # a degenerate covariate: fall back to the plain test
        return compare(c_plain, t_plain, config), False, control_value, treatment_value
    return result, use_cuped, control_value, treatment_value


def _metric_result(
    metric: str,
    role: Literal["goal", "guardrail"],
    variant: str,
    result: EffectResult,
    cuped: bool,
    control_value: float | None,
    treatment_value: float | None,
    margin: float | None = None,
) -> MetricResult:
    spec = METRICS[metric]
    if result.error or result.estimate is None:
        return MetricResult(
            metric,
            spec.label,
            role,
            variant,
            result.method,
            control=control_value,
            treatment=treatment_value,
            margin=margin,
            cuped=cuped,
            error=result.error or "no_estimate",
            message=result.message or "no estimate",
        )
    absolute = (
        treatment_value - control_value
        if control_value is not None and treatment_value is not None
        else None
    )
    return MetricResult(
        metric,
        spec.label,
        role,
        variant,
        result.method,
        control=control_value,
        treatment=treatment_value,
        absolute_effect=absolute,
        relative_effect=_finite(result.estimate),
        ci_low=_finite(result.ci_low),
        ci_high=_finite(result.ci_high),
        p_value=_finite(result.p_value),
        significant=result.significant,
        margin=margin,
        cuped=cuped,
    )


def _guardrail(
    c_row: Row, t_row: Row, variant: str, g: Guardrail, definition: ExperimentDefinition
) -> MetricResult:
    """Non-inferiority on the relative scale: worse by less than the margin, one-sided at
    alpha. ``fail``: the estimate itself is beyond the margin; ``inconclusive``: within the
    margin but non-inferiority is not shown; ``pass``: shown."""
    spec = METRICS[g.metric]
    config = TestConfig(
        alpha=definition.alpha,
        difference="relative",
        alternative="greater" if spec.higher_is_better else "less",
        margin=g.margin,
    )
    result, cuped, cv, tv = _test(c_row, t_row, g.metric, config, definition)
    m = _metric_result(g.metric, "guardrail", variant, result, cuped, cv, tv, g.margin)
    if m.error or m.relative_effect is None:
        return m
    harm = -m.relative_effect if spec.higher_is_better else m.relative_effect
    if harm > g.margin:
        status = "fail"
    elif m.significant:
        status = "pass"
    else:
        status = "inconclusive"
    # the reported interval is the two-sided one, like the goals'
    two, _, _, _ = _test(
        c_row,
        t_row,
        g.metric,
        TestConfig(alpha=definition.alpha, difference="relative"),
        definition,
    )
    return MetricResult(
        **{
            **m.__dict__,
            "status": status,
            "ci_low": _finite(two.ci_low) if not two.error else m.ci_low,
            "ci_high": _finite(two.ci_high) if not two.error else m.ci_high,
        }
    )


def pct(x: float | None, digits: int = 0) -> str:
    """A relative effect as a signed percentage: +13 %."""
    if x is None:
        return "n/a"
    return f"{100 * x:+.{digits}f} %"


def _p(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _srm_p(p: float) -> str:
    return f"p = {p:.1g}" if p < 0.001 else f"p = {p:.3f}"


def _ci(m: MetricResult) -> str:
    if m.ci_low is None or m.ci_high is None:
        return "CI n/a"
    return f"CI [{100 * m.ci_low:.0f} %, {100 * m.ci_high:.0f} %]"


def analyze_aggregates(aggregates: Aggregates, definition: ExperimentDefinition) -> AnalysisResult:
    """The pure analysis of one experiment's aggregates (see the module docstring)."""
    problem = definition.problem()
    if problem:
        return _invalid(definition, *problem)
    if not aggregates.exists:
        close = difflib.get_close_matches(definition.id, aggregates.known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = f" (known: {', '.join(aggregates.known)})" if aggregates.known and not close else ""
        return _invalid(
            definition, "unknown_experiment", f"no experiment {definition.id!r}{hint}{known}"
        )
    by_variant = {str(r["variant"]): r for r in aggregates.stats}
    units = {v: int(r.get("units") or 0) for v, r in by_variant.items()}
    common: dict[str, Any] = {"name": aggregates.name, "units": units}
    if sum(units.values()) == 0:
        return _invalid(definition, "no_units", "no units are assigned", **common)
    control = definition.control or aggregates.control
    if control is None or control not in by_variant:
        return _invalid(
            definition, "missing_variant", f"no units in the control variant {control!r}", **common
        )
    weights = dict(definition.weights) if definition.weights else None
    if weights is None:
        weights = {v: 1.0 / len(by_variant) for v in by_variant}
    missing = [v for v in weights if v not in by_variant]
    if missing:
        return _invalid(
            definition,
            "missing_variant",
            f"no units in variant(s) {missing}",
            control=control,
            **common,
        )
    treatments = tuple(v for v in weights if v != control)
    if not treatments:
        return _invalid(
            definition, "missing_variant", "no treatment variant", control=control, **common
        )
    common = {**common, "control": control, "treatments": treatments}
    srm = srm_test(units, weights)
    if srm.error or srm.p_value is None:
        return _invalid(definition, srm.error or "srm_error", srm.message or "SRM", **common)
    srm_p = srm.p_value

    c_row = by_variant[control]
    goals: list[MetricResult] = []
    for variant in treatments:
        for metric in definition.goals:
            config = TestConfig(alpha=definition.alpha, difference="relative")
            result, cuped, cv, tv = _test(c_row, by_variant[variant], metric, config, definition)
            goals.append(_metric_result(metric, "goal", variant, result, cuped, cv, tv))
    tested = [i for i, m in enumerate(goals) if m.p_value is not None]
    if tested:
        adjusted = holm([goals[i].p_value or 0.0 for i in tested])
        for i, adj in zip(tested, adjusted, strict=True):
            m = goals[i]
            goals[i] = MetricResult(
                **{
                    **m.__dict__,
                    "adjusted_p_value": float(adj),
                    "significant": bool(adj < definition.alpha),
                }
            )
    guards = [
        _guardrail(c_row, by_variant[v], v, g, definition)
        for v in treatments
        for g in definition.guardrails
    ]
    metrics = tuple(goals + guards)
    base = AnalysisResult(
        experiment=definition.id,
        srm_p_value=srm_p,
        metrics=metrics,
        alpha=definition.alpha,
        method=definition.method,
        **common,
    )
    return _decide(base, definition, c_row, by_variant)


def _decide(
    base: AnalysisResult,
    definition: ExperimentDefinition,
    c_row: Row,
    by_variant: Mapping[str, Row],
) -> AnalysisResult:
    srm_p = base.srm_p_value if base.srm_p_value is not None else 1.0
    goals = [m for m in base.metrics if m.role == "goal"]
    guards = [m for m in base.metrics if m.role == "guardrail"]

    def done(decision: Decision, reason: str, more: int | None = None) -> AnalysisResult:
        return AnalysisResult(
            **{**base.__dict__, "decision": decision, "reason": reason, "more_units_per_arm": more}
        )

    if srm_p < SRM_ALPHA:
        shares = ", ".join(f"{v} {n:,}" for v, n in base.units.items())
        return done("invalid", f"invalid: sample-ratio mismatch, {_srm_p(srm_p)} ({shares})")
    failed = [m for m in guards if m.status == "fail"]
    if failed:
        m = max(failed, key=lambda x: abs(x.relative_effect or 0.0))
        return done(
            "rollback",
            f"rollback: {m.label.lower()} {pct(m.relative_effect)} ({m.variant}), "
            f"beyond the {100 * (m.margin or 0):.0f} % margin",
        )
    negative = [m for m in goals if m.significant and (m.relative_effect or 0) < 0]
    if negative:
        m = negative[0]
        return done(
            "rollback",
            f"rollback: {m.label.lower()} {pct(m.relative_effect)} ({m.variant}; "
            f"{_p(m.adjusted_p_value)}, {_level(definition)} {_ci(m)})",
        )
    positive = [m for m in goals if m.significant and (m.relative_effect or 0) > 0]
    unclear = [m for m in guards if m.status != "pass"]
    if positive and not unclear:
        m = positive[0]
        return done(
            "ship",
            f"ship: {m.label.lower()} {pct(m.relative_effect)} ({m.variant}; "
            f"{_p(m.adjusted_p_value)}, {_level(definition)} {_ci(m)})",
        )
    if positive and unclear:
        names = ", ".join(f"{m.label.lower()} ({m.status or m.error})" for m in unclear)
        return done(
            "hold",
            f"hold: {positive[0].label.lower()} {pct(positive[0].relative_effect)} but "
            f"non-inferiority is not shown for {names}",
        )
    more = _more_units(definition, c_row, goals)
    primary = goals[0] if goals else None
    effect = f"{primary.label.lower()} {pct(primary.relative_effect, 1)}" if primary else "goal"
    if more is None:
        return done("hold", f"hold: {effect}, not significant (power could not be computed)")
    return done(
        "hold",
        f"hold: {effect}, not significant; underpowered, about {more:,} more users per arm needed",
        more,
    )


def _level(definition: ExperimentDefinition) -> str:
    return f"{100 * (1 - definition.alpha):g} %"


def covariate_correlation(row: Row, metric: str) -> float:
    """Correlation of ``metric`` with its CUPED pre-period covariate in one arm's row (what
    the power statements use), kept within ±0.99; 0 without a usable covariate."""
    full = statistic(row, metric, _has_covariate(row, metric))
    if isinstance(full, RegressionAdjusted | RegressionAdjustedRatio) and full.check() is None:
        v, cv, cov = full.variance, full.covariate_variance, full.covariance
        if v > 0 and cv > 0:
            return max(min(cov / math.sqrt(v * cv), 0.99), -0.99)
    return 0.0


def _more_units(
    definition: ExperimentDefinition, c_row: Row, goals: Sequence[MetricResult]
) -> int | None:
    """Users per arm still needed to detect the primary goal's observed effect (or the MDE,
    whichever is larger), with the CUPED correlation when the covariate is available."""
    if not goals:
        return None
    metric = goals[0].metric
    pilot = statistic(c_row, metric, False)
    if pilot.check() is not None:
        return None
    mde = max(abs(goals[0].relative_effect or 0.0), definition.mde)
    rho = covariate_correlation(c_row, metric)
    config = PowerConfig(alpha=definition.alpha, power=definition.power, covariate_correlation=rho)
    if isinstance(pilot, RatioStatistic):
        result = sample_size_ratio(pilot, mde, config, relative=True)
    elif isinstance(pilot, SampleMean) and pilot.mean > 0:
        result = sample_size_means(math.sqrt(pilot.variance), mde * pilot.mean, config)
    else:
        return None
    if result.error or result.n_control is None:
        return None
    return max(result.n_control - int(c_row.get("units") or 0), 0)


# ============================================================================ rendering


def render_text(result: AnalysisResult) -> str:
    """The terminal summary::

    A/B TEST RESULTS: Model v1 vs Model v2
    Acceptance Rate: +13% (p < 0.001, 95% CI: [10%, 16%])
    Recommendation: ✅ Rollout v2
    """
    control = result.control or "control"
    treatments = ", ".join(result.treatments) or "treatment"
    lines = [f"A/B TEST RESULTS: {control} vs {treatments} ({result.experiment})"]
    if result.units:
        lines.append("Units: " + ", ".join(f"{v} {n:,}" for v, n in result.units.items()))
    if result.srm_p_value is not None:
        lines.append(f"Sample ratio check: {_srm_p(result.srm_p_value)}")
    level = f"{100 * (1 - result.alpha):g}%"
    for m in result.metrics:
        tag = "" if len(result.treatments) < 2 else f" [{m.variant}]"
        if m.error:
            lines.append(f"{m.label}{tag}: error {m.error} ({m.message})")
            continue
        p = m.adjusted_p_value if m.adjusted_p_value is not None else m.p_value
        ci = (
            f"[{100 * m.ci_low:.0f}%, {100 * m.ci_high:.0f}%]"
            if m.ci_low is not None and m.ci_high is not None
            else "n/a"
        )
        extra = " CUPED" if m.cuped else ""
        guard = (
            f" guardrail {m.status}, margin {100 * (m.margin or 0):.0f}%"
            if m.role == "guardrail"
            else ""
        )
        lines.append(
            f"{m.label}{tag}: {pct(m.relative_effect).replace(' ', '')} "
            f"({_p(p)}, {level} CI: {ci}{extra}){guard}"
        )
    icon = {
        "ship": "✅ Rollout",
        "hold": "⏸ Hold",
        "rollback": "⛔ Rollback",
        "invalid": "⚠ Invalid",
    }
    target = f" {treatments}" if result.decision in ("ship", "rollback") else ""
    lines.append(f"Recommendation: {icon[result.decision]}{target}")
    lines.append(f"Reason: {result.reason}")
    return "\n".join(lines)
