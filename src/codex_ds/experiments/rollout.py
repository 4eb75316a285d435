"""Staged rollouts: a ramp plan with per-step gates, replayed over a randomised experiment.

A ramp exposes a growing share of users to the treatment (default 1 → 5 → 25 → 50 → 100 %,
each step a number of days). Before each step advances, its gates are evaluated on the data
of that step only (METHODOLOGY.md §5.12):

1. **sample ratio**: the units per arm against the step's expected split (χ² goodness of
   fit); p < ``srm_alpha`` → ``invalid`` (the numbers cannot be trusted);
2. **minimum sample**: fewer than ``min_units_per_arm`` units in an arm → ``hold``;
3. **guardrails**, each a ratio metric with a relative margin m, tested one-sided against
   the margin: with harm h = Δ for a lower-is-better metric (latency, run error rate) and
   h = −Δ for a higher-is-better one (acceptance rate), Δ = treatment ÷ control − 1 with its
   delta-method standard error, z = (ĥ − m) / SE; z > z_{1−α_k} (H0: h ≤ m rejected: the
   regression is beyond the margin) → ``rollback``. α_k is the step's share of the ramp's
   alpha: a Lan–DeMets spending function (Pocock-type by default, so early steps can stop)
   evaluated at the cumulative information fraction t_k = Σ_{j≤k} I_j / Σ_j I_j with
   I_j = 1 / (1/n_t + 1/n_c), split equally over the guardrails. The steps share users, so
   their tests are dependent; Σ_k α_k = α bounds the chance of a false rollback whatever
   the dependence (Bonferroni);
4. otherwise ``advance`` (with ``require_non_inferiority``, the last step before full
   exposure also needs non-inferiority shown: (m − ĥ) / SE > z_{1−α/G}).

The replay stops at the first step that does not advance. Its per-step power to detect a
regression of relative size θ beyond the margin is Φ((θ − m)/SE_k − z_{1−α_k}) with
SE_k = (1 + θ) (σ_c / R_c) √(1/n_t + 1/n_c) from the control arm's delta-method per-unit
standard deviation σ_c and ratio R_c (a multiplicative regression scales both), computed by
:func:`codex_ds.experiments.power.power_means`.

Mapping exposure onto a 50/50 experiment: a stable hash bucket of (experiment, user) in
[0, 1) exposes the treatment users whose bucket is below exposure ÷ (treatment share);
every control user stays in. Exposures above the treatment share cannot be replayed.

I/O: :func:`load_steps` runs the named query ``rollout_step_stats`` once per step;
everything else is pure. Library code: nothing here prints.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
from scipy import stats

from codex_ds.experiments.analysis import Guardrail
from codex_ds.experiments.frequentist import TestConfig, compare
from codex_ds.experiments.power import PowerConfig, power_means
from codex_ds.experiments.sequential import alpha_spent
from codex_ds.experiments.srm import srm_test
from codex_ds.experiments.statistics import RatioStatistic

__all__ = [
    "DEFAULT_EXPOSURES",
    "ROLLOUT_METRICS",
    "GateConfig",
    "GuardrailGate",
    "RampPlan",
    "RolloutGuardrail",
    "RolloutResult",
    "StepData",
    "StepPlan",
    "StepResult",
    "evaluate",
    "evaluate_steps",
    "guardrail_gate",
    "load_steps",
    "plan_steps",
    "render_text",
]

StepDecision = Literal["advance", "hold", "rollback", "invalid", "complete", "not_reached"]
RolloutDecision = Literal["complete", "hold", "rollback", "invalid"]
Spending = Literal["pocock", "obrien_fleming"]
Row = Mapping[str, Any]
Progress = Callable[[str, float], None]

DEFAULT_EXPOSURES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class RolloutMetric:
    """A ratio metric of the ``rollout_step_stats`` row of an arm."""

    name: str
    label: str
    numerator: str
    denominator: str
    cross: str
    higher_is_better: bool


#: The guardrail metrics the rollout query supports (ratios over users, delta method).
ROLLOUT_METRICS: dict[str, RolloutMetric] = {
    m.name: m
    for m in (
        RolloutMetric("latency_ms", "Mean Latency", "latency", "shown", "latency_shown", False),
        RolloutMetric(
            "error_rate", "Run Error Rate", "failed_runs", "runs", "failed_runs_runs", False
        ),
        RolloutMetric(
            "acceptance_rate", "Acceptance Rate", "accepted", "shown", "accepted_shown", True
        ),
    )
}


def ratio_statistic(row: Row, metric: str) -> RatioStatistic:
    """The delta-method sufficient statistic of ``metric`` for one arm's row."""
    spec = ROLLOUT_METRICS[metric]

    def f(key: str) -> float:
        value = row.get(key)
        return 0.0 if value is None else float(value)

    return RatioStatistic(
        int(row.get("units") or 0),
        f(f"{spec.numerator}_sum"),
        f(f"{spec.numerator}_sum_squares"),
        f(f"{spec.denominator}_sum"),
        f(f"{spec.denominator}_sum_squares"),
        f(f"{spec.cross}_sum"),
    )


#: A guardrail of a ramp step: the A/B analysis's own (``metric`` must not get worse by more
#: than ``margin``, relative).
RolloutGuardrail = Guardrail


@dataclass(frozen=True)
class RampPlan:
    """Exposure (share of users on the treatment) and duration in days of each step."""

    exposures: tuple[float, ...] = DEFAULT_EXPOSURES
    days: tuple[int, ...] = (3, 3, 3, 3, 3)

    @classmethod
    def build(cls, exposures: Sequence[float], days: Sequence[int] | int) -> RampPlan:
        """A plan from exposures and one duration for all steps or one per step."""
        ex = tuple(float(x) for x in exposures)
        d = (int(days),) * len(ex) if isinstance(days, int) else tuple(int(x) for x in days)
        return cls(ex, d)

    def problem(self) -> tuple[str, str] | None:
        if not self.exposures:
            return "invalid_plan", "the plan has no step"
        if len(self.days) != len(self.exposures):
            return (
                "invalid_plan",
                f"{len(self.exposures)} exposures but {len(self.days)} step durations",
            )
        for x in self.exposures:
            if not (math.isfinite(x) and 0 < x <= 1):
                return "invalid_plan", f"exposure {x:g} is outside (0, 1]"
        for a, b in itertools.pairwise(self.exposures):
            if b <= a:
                return "invalid_plan", f"exposures must increase: {a:g} then {b:g}"
        for d in self.days:
            if d < 1:
                return "invalid_plan", f"a step lasts at least one day, got {d}"
        return None

    @property
    def comparative(self) -> tuple[int, ...]:
        """Indices of the steps with a control group (exposure below 100 %)."""
        return tuple(i for i, x in enumerate(self.exposures) if x < 1.0)


@dataclass(frozen=True)
class GateConfig:
    """The gates of every step (see the module docstring)."""

    guardrails: tuple[RolloutGuardrail, ...] = (
        RolloutGuardrail("latency_ms", 0.05),
        RolloutGuardrail("error_rate", 0.05),
        RolloutGuardrail("acceptance_rate", 0.05),
    )
    alpha: float = 0.05
    spending: Spending = "pocock"
    min_units_per_arm: int = 10
    srm_alpha: float = 0.001
    require_non_inferiority: bool = False

    def problem(self) -> tuple[str, str] | None:
        if not 0 < self.alpha < 1:
            return "invalid_config", f"alpha must be in (0, 1), got {self.alpha}"
        if not 0 < self.srm_alpha < 1:
            return "invalid_config", f"srm_alpha must be in (0, 1), got {self.srm_alpha}"
        if self.min_units_per_arm < 2:
            return "invalid_config", "min_units_per_arm must be >= 2"
        if self.spending not in ("pocock", "obrien_fleming"):
            return "invalid_config", f"unknown spending function {self.spending!r}"
        if not self.guardrails:
            return "invalid_config", "no guardrail to gate on"
        for g in self.guardrails:
            if g.metric not in ROLLOUT_METRICS:
                return (
                    "unknown_metric",
                    f"unknown guardrail metric {g.metric!r} (known: {', '.join(ROLLOUT_METRICS)})",
                )
            if not (math.isfinite(g.margin) and g.margin > 0):
                return "invalid_config", f"margin of {g.metric} must be > 0, got {g.margin}"
        return None


# ============================================================================ data (I/O)


@dataclass(frozen=True)
class StepData:
    """The aggregates of one step: its window and the ``rollout_step_stats`` rows."""

    exposure: float
    exposed_share: float
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    rows: tuple[Row, ...] = ()
    complete: bool = True  # the warehouse covers the whole window


@dataclass(frozen=True)
class Replay:
    """Everything :func:`evaluate_steps` needs from the warehouse."""

    experiment: str
    control: str | None
    treatment: str | None
    treatment_share: float | None
    data_end: dt.datetime | None
    steps: tuple[StepData, ...] = ()
    error: str | None = None
    message: str | None = None


def load_steps(
    con: duckdb.DuckDBPyConnection,
    plan: RampPlan,
    experiment_id: str = "exp_model_v2",
    treatment: str | None = None,
    progress: Progress | None = None,
) -> Replay:
    """Run ``rollout_step_stats`` for every step with a control group (the only I/O).

    ``progress(stage, fraction)`` is called after each step's query."""
    from codex_ds.warehouse import catalog

    def fail(code: str, message: str, **kw: Any) -> Replay:
        base: dict[str, Any] = {
            "experiment": experiment_id,
            "control": None,
            "treatment": None,
            "treatment_share": None,
            "data_end": None,
        }
        base.update(kw)
        return Replay(**base, error=code, message=message)

    problem = plan.problem()
    if problem:
        return fail(*problem)
    row = con.execute(
        "SELECT control_variant, started_at, ended_at FROM experiments WHERE experiment_id = ?",
        [experiment_id],
    ).fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT experiment_id FROM experiments").fetchall()]
        hint = f" (known: {', '.join(known)})" if known else " (the warehouse has none)"
        return fail("unknown_experiment", f"no experiment {experiment_id!r}{hint}")
    control, started, ended = str(row[0]), row[1], row[2]
    variants = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT variant FROM assignments WHERE experiment_id = ? ORDER BY 1",
            [experiment_id],
        ).fetchall()
    ]
    others = [v for v in variants if v != control]
    if treatment is None:
        if len(others) != 1:
            return fail(
                "missing_variant" if not others else "ambiguous_variant",
                f"experiment {experiment_id!r} has treatment variants {others}; name one",
                control=control,
            )
        treatment = others[0]
    if treatment not in others:
        return fail(
            "missing_variant",
            f"no units in variant {treatment!r} (variants: {variants})",
            control=control,
        )
    share = 1.0 / len(variants)  # the experiment's design: an equal split
    # the data end: the experiment's end, or (still running) the day after the last event
    last = ended
    if last is None:
        newest = con.execute("SELECT MAX(shown_at) FROM suggestions").fetchone()
        if newest and newest[0] is not None:
            day = dt.datetime.combine(newest[0].date(), dt.time())
            last = day + dt.timedelta(days=1)
    base = dict(
        experiment=experiment_id,
        control=control,
        treatment=treatment,
        treatment_share=share,
        data_end=last,
    )
    too_high = [x for x in plan.exposures if share < x < 1.0]
    if too_high:
        return fail(
            "exposure_too_high",
            f"exposure {100 * too_high[0]:g} % cannot be replayed: the treatment arm of "
            f"{experiment_id!r} holds {100 * share:g} % of users",
            **base,
        )
    query = catalog.default_catalog().get("rollout_step_stats")
    steps: list[StepData] = []
    offset = 0
    for x, days in zip(plan.exposures, plan.days, strict=True):
        lo = started + dt.timedelta(days=offset)
        hi = started + dt.timedelta(days=offset + days)
        offset += days
        if x >= 1.0:
            steps.append(StepData(x, 1.0, lo, hi))
            if progress is not None:
                progress(f"step {len(steps)} ({100 * x:g} %)", len(steps) / len(plan.exposures))
            continue
        params = {
            "experiment_id": experiment_id,
            "exposed_share": x / share,
            "window_start": lo,
            "window_end": hi,
        }
        rows = tuple(
            r
            for r in catalog.run(con, query, params).records()
            if str(r["variant"]) in (control, treatment)
        )
        complete = last is not None and hi <= last
        steps.append(StepData(x, x / share, lo, hi, rows, complete))
        if progress is not None:
            progress(f"step {len(steps)} ({100 * x:g} %)", len(steps) / len(plan.exposures))
    return Replay(**base, steps=tuple(steps))


# ============================================================================ pure part


@dataclass(frozen=True)
class GuardrailGate:
    """One guardrail at one step: the relative effect, the harm test and its power."""

    metric: str
    label: str
    margin: float
    alpha: float  # this guardrail's alpha at this step
    control: float | None = None
    treatment: float | None = None
    relative_effect: float | None = None
    harm: float | None = None  # relative change in the bad direction
    standard_error: float | None = None
    z_harm: float | None = None
    p_harm: float | None = None  # one-sided p of H0: harm <= margin
    p_non_inferiority: float | None = None  # one-sided p of H0: harm >= margin
    regression: bool = False  # the harm is shown beyond the margin
    non_inferior: bool = False
    power: float | None = None  # to detect the planned regression at this step
    error: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class StepResult:
    """The gates of one step and its decision."""

    step: int  # 1-based
    exposure: float
    days: int
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    decision: StepDecision = "not_reached"
    reason: str = ""
    units: Mapping[str, int] = field(default_factory=dict)
    expected_share: float | None = None  # treatment share of the step's units
    srm_p_value: float | None = None
    information_fraction: float | None = None
    alpha: float | None = None  # spent at this step (all guardrails)
    guardrails: tuple[GuardrailGate, ...] = ()


@dataclass(frozen=True)
class RolloutResult:
    """The replay: a decision per step; the whole stops at the first step not advancing."""

    experiment: str
    control: str | None
    treatment: str | None
    decision: RolloutDecision
    reason: str
    stopped_at: int | None = None  # 1-based step that stopped the ramp
    steps: tuple[StepResult, ...] = ()
    alpha: float = 0.05
    spending: Spending = "pocock"
    detect: float | None = None
    error: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, dt.datetime):
                return v.isoformat()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, tuple | list):
                return [clean(x) for x in v]
            if isinstance(v, Mapping):
                return {k: clean(x) for k, x in v.items()}
            if hasattr(v, "__dataclass_fields__"):
                return {k: clean(getattr(v, k)) for k in v.__dataclass_fields__}
            return v

        out: dict[str, Any] = clean(self)
        return out


@dataclass(frozen=True)
class StepPlan:
    """The plan of one step: expected units, alpha and power per guardrail."""

    step: int
    exposure: float
    days: int
    units: Mapping[str, int] = field(default_factory=dict)
    information_fraction: float | None = None
    alpha: float | None = None
    power: Mapping[str, float | None] = field(default_factory=dict)


def _p(x: float) -> str:
    return f"{x:.1g}" if x < 0.001 else f"{x:.3f}"


def _arms(step: StepData, control: str, treatment: str) -> tuple[Row | None, Row | None]:
    by = {str(r["variant"]): r for r in step.rows}
    return by.get(control), by.get(treatment)


def _information(n_c: int, n_t: int) -> float:
    return 0.0 if n_c <= 0 or n_t <= 0 else 1.0 / (1.0 / n_c + 1.0 / n_t)


def step_alphas(replay: Replay, gates: GateConfig) -> tuple[list[float], list[float]]:
    """Information fractions and the alpha spent at each comparative step."""
    info: list[float] = []
    for s in replay.steps:
        if s.exposure >= 1.0 or replay.control is None or replay.treatment is None:
            continue
        c, t = _arms(s, replay.control, replay.treatment)
        info.append(
            _information(int((c or {}).get("units") or 0), int((t or {}).get("units") or 0))
        )
    total = sum(info)
    if total <= 0:
        return [0.0] * len(info), [0.0] * len(info)
    cum, fractions = 0.0, []
    for i in info:
        cum += i
        fractions.append(cum / total)
    fractions[-1] = 1.0
    spent = alpha_spent(fractions, gates.alpha, gates.spending, alternative="greater")
    alphas = [float(spent[0])] + [float(b - a) for a, b in itertools.pairwise(spent)]
    return fractions, alphas


def _power(
    c_stat: RatioStatistic, n_t: int, margin: float, detect: float | None, alpha: float
) -> float | None:
    """Power of the one-sided harm test to see a regression ``detect`` beyond ``margin``."""
    if detect is None or detect <= margin or c_stat.check() is not None or n_t < 2:
        return None
    if c_stat.n < 2 or c_stat.mean == 0 or alpha <= 0:
        return None
    sd = (1.0 + detect) * math.sqrt(c_stat.variance) / abs(c_stat.mean)
    if not (math.isfinite(sd) and sd > 0):
        return None
    r = power_means(
        sd,
        detect - margin,
        c_stat.n,
        PowerConfig(alpha=alpha, allocation_ratio=n_t / c_stat.n, alternative="greater"),
    )
    return r.power


def guardrail_gate(
    c_row: Row, t_row: Row, g: RolloutGuardrail, alpha: float, detect: float | None
) -> GuardrailGate:
    """One guardrail at one step: the relative change, the one-sided harm test against the
    margin at ``alpha`` and the power to see a regression ``detect`` (module docstring)."""
    spec = ROLLOUT_METRICS[g.metric]
    c_stat, t_stat = ratio_statistic(c_row, g.metric), ratio_statistic(t_row, g.metric)
    power = _power(c_stat, t_stat.n, g.margin, detect, alpha)
    base: dict[str, Any] = {
        "metric": g.metric,
        "label": spec.label,
        "margin": g.margin,
        "alpha": alpha,
        "power": power,
        "control": c_stat.mean if c_stat.check() is None else None,
        "treatment": t_stat.mean if t_stat.check() is None else None,
    }
    r = compare(c_stat, t_stat, TestConfig(difference="relative"))
    if r.error or r.estimate is None or not r.standard_error:
        return GuardrailGate(
            **base, error=r.error or "no_estimate", message=r.message or "no standard error"
        )
    harm = -r.estimate if spec.higher_is_better else r.estimate
    se = r.standard_error
    z_harm = (harm - g.margin) / se
    p_harm = float(stats.norm.sf(z_harm))
    p_ni = float(stats.norm.sf((g.margin - harm) / se))
    return GuardrailGate(
        **base,
        relative_effect=r.estimate,
        harm=harm,
        standard_error=se,
        z_harm=z_harm,
        p_harm=p_harm,
        p_non_inferiority=p_ni,
        regression=alpha > 0 and p_harm < alpha,
        non_inferior=p_ni < 0,  # set by the caller at the ramp's full level
    )


def _fail(replay: Replay, plan: RampPlan, gates: GateConfig, code: str, msg: str) -> RolloutResult:
    return RolloutResult(
        experiment=replay.experiment,
        control=replay.control,
        treatment=replay.treatment,
        decision="invalid",
        reason=f"invalid: {msg}",
        alpha=gates.alpha,
        spending=gates.spending,
        error=code,
        message=msg,
    )


def evaluate_steps(
    replay: Replay, plan: RampPlan, gates: GateConfig, detect: float | None = None
) -> RolloutResult:
    """Walk the ramp step by step (pure; see the module docstring).

    ``detect``: the relative regression whose per-step power is reported (e.g. the planted
    one); None: no power.
    """
    for problem in (plan.problem(), gates.problem()):
        if problem:
            return _fail(replay, plan, gates, *problem)
    if replay.error or replay.message:
        return _fail(replay, plan, gates, replay.error or "error", replay.message or "")
    control, treatment = replay.control, replay.treatment
    if control is None or treatment is None or replay.treatment_share is None:
        return _fail(replay, plan, gates, "missing_variant", "no control or treatment")
    fractions, alphas = step_alphas(replay, gates)
    n_guards = len(gates.guardrails)
    ni_alpha = gates.alpha / n_guards
    last_comparative = plan.comparative[-1] if plan.comparative else None
    results: list[StepResult] = []
    stopped: int | None = None
    final: RolloutDecision = "complete"
    final_reason = ""
    k = -1
    for i, (s, days) in enumerate(zip(replay.steps, plan.days, strict=True)):
        label = f"step {i + 1} ({100 * s.exposure:g} %)"
        common: dict[str, Any] = {
            "step": i + 1,
            "exposure": s.exposure,
            "days": days,
            "window_start": s.window_start,
            "window_end": s.window_end,
        }
        if stopped is not None:
            results.append(StepResult(**common, decision="not_reached", reason="not reached"))
            continue
        if s.exposure >= 1.0:
            results.append(
                StepResult(
                    **common,
                    decision="complete",
                    reason="complete: full exposure reached, every earlier gate passed",
                )
            )
            continue
        k += 1
        step_alpha = alphas[k]
        per_guard = step_alpha / n_guards
        common.update(information_fraction=fractions[k], alpha=step_alpha)
        c_row, t_row = _arms(s, control, treatment)
        units = {
            control: int((c_row or {}).get("units") or 0),
            treatment: int((t_row or {}).get("units") or 0),
        }
        w_t = s.exposure
        w_c = replay.treatment_share  # the design's equal split: control share = arm share
        expected = w_t / (w_t + w_c) if w_t + w_c > 0 else None
        common.update(units=units, expected_share=expected)

        def stop(
            decision: StepDecision, reason: str, common: dict[str, Any] = common
        ) -> StepResult:
            return StepResult(**common, decision=decision, reason=reason)

        if not s.complete:
            end = replay.data_end.isoformat(sep=" ") if replay.data_end else "no data"
            res = stop(
                "hold",
                f"hold: the data end at {end}, before the end of {label} "
                f"({s.window_end.isoformat(sep=' ') if s.window_end else '?'})",
            )
            results.append(res)
            stopped, final, final_reason = i + 1, "hold", res.reason
            continue
        srm = srm_test(units, {control: w_c / (w_c + w_t), treatment: w_t / (w_c + w_t)})
        srm_p = srm.p_value
        common["srm_p_value"] = srm_p
        if srm.error or srm_p is None:
            res = stop("hold", f"hold: {label} sample ratio not testable ({srm.message})")
            results.append(res)
            stopped, final, final_reason = i + 1, "hold", res.reason
            continue
        if srm_p < gates.srm_alpha:
            share = units[treatment] / max(sum(units.values()), 1)
            res = stop(
                "invalid",
                f"invalid: sample-ratio mismatch at {label}, p = {_p(srm_p)} "
                f"(treatment share {100 * share:.1f} %, expected {100 * (expected or 0):.1f} %)",
            )
            results.append(res)
            stopped, final, final_reason = i + 1, "invalid", res.reason
            continue
        small = {v: n for v, n in units.items() if n < gates.min_units_per_arm}
        if small or c_row is None or t_row is None:
            res = stop(
                "hold",
                f"hold: {label} has too few units "
                + ", ".join(f"{v} {n:,}" for v, n in units.items())
                + f" (minimum {gates.min_units_per_arm:,} per arm)",
            )
            results.append(res)
            stopped, final, final_reason = i + 1, "hold", res.reason
            continue
        guards = []
        for g in gates.guardrails:
            gate = guardrail_gate(c_row, t_row, g, per_guard, detect)
            if gate.p_non_inferiority is not None:
                gate = GuardrailGate(
                    **{**gate.__dict__, "non_inferior": gate.p_non_inferiority < ni_alpha}
                )
            guards.append(gate)
        common["guardrails"] = tuple(guards)
        bad = [gate for gate in guards if gate.regression]
        if bad:
            worst = max(bad, key=lambda x: x.z_harm or 0.0)
            sign = "+" if (worst.relative_effect or 0) >= 0 else ""
            res = stop(
                "rollback",
                f"rollback at {label}: {worst.label.lower()} "
                f"{sign}{100 * (worst.relative_effect or 0):.1f} % (SE "
                f"{100 * (worst.standard_error or 0):.1f} %), beyond the "
                f"{100 * worst.margin:g} % margin, p = {_p(worst.p_harm or 0.0)} < "
                f"alpha {worst.alpha:.2g}",
            )
            results.append(res)
            stopped, final, final_reason = i + 1, "rollback", res.reason
            continue
        broken = [gate for gate in guards if gate.error]
        if broken:
            res = stop(
                "hold",
                f"hold: {label} guardrail {broken[0].metric} not testable ({broken[0].message})",
            )
            results.append(res)
            stopped, final, final_reason = i + 1, "hold", res.reason
            continue
        if gates.require_non_inferiority and i == last_comparative:
            unshown = [gate for gate in guards if not gate.non_inferior]
            if unshown:
                names = ", ".join(
                    f"{gate.label.lower()} p = {_p(gate.p_non_inferiority or 1.0)}"
                    for gate in unshown
                )
                res = stop(
                    "hold",
                    f"hold: {label} non-inferiority not shown before full exposure ({names})",
                )
                results.append(res)
                stopped, final, final_reason = i + 1, "hold", res.reason
                continue
        effects = ", ".join(
            f"{gate.metric} {100 * (gate.relative_effect or 0):+.1f} %" for gate in guards
        )
        results.append(
            stop(
                "advance",
                f"advance: {label} SRM p = {_p(srm_p)}, no guardrail beyond its margin ({effects})",
            )
        )
    if stopped is None:
        last = results[-1] if results else None
        final_reason = (
            f"complete: {100 * last.exposure:g} % reached, every gate passed"
            if last
            else "complete"
        )
    return RolloutResult(
        experiment=replay.experiment,
        control=control,
        treatment=treatment,
        decision=final,
        reason=final_reason,
        stopped_at=stopped,
        steps=tuple(results),
        alpha=gates.alpha,
        spending=gates.spending,
        detect=detect,
    )


def plan_steps(
    replay: Replay, plan: RampPlan, gates: GateConfig, detect: float
) -> tuple[tuple[StepPlan, ...], str | None]:
    """Per step: units per arm, information fraction, alpha and the power of each
    guardrail to detect a relative regression ``detect`` (control arm as the pilot).
    Returns (steps, error message)."""
    for problem in (plan.problem(), gates.problem()):
        if problem:
            return (), problem[1]
    if replay.error or replay.message:
        return (), replay.message or replay.error
    control, treatment = replay.control, replay.treatment
    if control is None or treatment is None:
        return (), "no control or treatment"
    fractions, alphas = step_alphas(replay, gates)
    out: list[StepPlan] = []
    k = -1
    for i, (s, days) in enumerate(zip(replay.steps, plan.days, strict=True)):
        if s.exposure >= 1.0:
            out.append(StepPlan(i + 1, s.exposure, days))
            continue
        k += 1
        c_row, t_row = _arms(s, control, treatment)
        n_c, n_t = int((c_row or {}).get("units") or 0), int((t_row or {}).get("units") or 0)
        per_guard = alphas[k] / len(gates.guardrails)
        power: dict[str, float | None] = {}
        for g in gates.guardrails:
            power[g.metric] = (
                _power(ratio_statistic(c_row, g.metric), n_t, g.margin, detect, per_guard)
                if c_row is not None
                else None
            )
        out.append(
            StepPlan(
                i + 1,
                s.exposure,
                days,
                {control: n_c, treatment: n_t},
                fractions[k],
                alphas[k],
                power,
            )
        )
    return tuple(out), None


def evaluate(
    con: duckdb.DuckDBPyConnection,
    plan: RampPlan | None = None,
    gates: GateConfig | None = None,
    experiment_id: str = "exp_model_v2",
    treatment: str | None = None,
    detect: float | None = None,
    progress: Progress | None = None,
) -> RolloutResult:
    """Load the steps of ``experiment_id`` and walk the ramp."""
    plan = plan or RampPlan()
    gates = gates or GateConfig()
    replay = load_steps(con, plan, experiment_id, treatment, progress)
    return evaluate_steps(replay, plan, gates, detect)


def first_powered_step(result: RolloutResult, metric: str, power: float = 0.8) -> int | None:
    """The first step (1-based) whose power for ``metric`` reaches ``power``."""
    for s in result.steps:
        for g in s.guardrails:
            if g.metric == metric and g.power is not None and g.power >= power:
                return s.step
    return None


# ============================================================================ rendering


def render_text(result: RolloutResult) -> str:
    """The terminal summary: one line per step, then the decision."""
    icon = {
        "advance": "→",
        "hold": "⏸",
        "rollback": "⛔",
        "invalid": "⚠",
        "complete": "✅",
        "not_reached": "·",
    }
    lines = [
        f"STAGED ROLLOUT: {result.control or '?'} → {result.treatment or '?'} "
        f"({result.experiment}); alpha {result.alpha:g}, {result.spending} spending"
    ]
    for s in result.steps:
        units = ", ".join(f"{v} {n:,}" for v, n in s.units.items())
        lines.append(
            f"{icon[s.decision]} step {s.step}: {100 * s.exposure:g} % for {s.days} d"
            + (f" [{units}]" if units else "")
            + f": {s.decision}"
        )
        for g in s.guardrails:
            if g.error:
                lines.append(f"    {g.label}: error {g.error} ({g.message})")
                continue
            pw = f", power {100 * g.power:.0f} %" if g.power is not None else ""
            lines.append(
                f"    {g.label}: {100 * (g.relative_effect or 0):+.1f} % "
                f"(margin {100 * g.margin:g} %, p_harm {_p(g.p_harm or 1.0)}, "
                f"alpha {g.alpha:.2g}{pw})"
            )
        if s.decision != "not_reached":
            lines.append(f"    {s.reason}")
    lines.append(f"Decision: {result.decision} — {result.reason}")
    return "\n".join(lines)
