"""The staged-rollout report (reports/rollout.md and .json): the ramp, its gates per step and,
when the simulator's ground truth is known, whether the stop matches the planted regression."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from codex_ds.experiments.rollout import RolloutResult, StepPlan, render_text
from codex_ds.reporting.markdown import md_table


def _pct(x: float | None, signed: bool = True) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:+.1f} %" if signed else f"{100 * x:.0f} %"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.1g}" if p < 0.001 else f"{p:.3f}"


def truth_check(
    result: RolloutResult, planned: Sequence[StepPlan], truth: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Compare the replay with the planted latency change: a change beyond the latency
    margin must stop the ramp no later than the first step whose power reaches 80 %; a
    change within it must let the ramp complete."""
    if not truth or truth.get("true_relative_latency_change") is None:
        return None
    change = float(truth["true_relative_latency_change"])
    margin = next(
        (g.margin for s in result.steps for g in s.guardrails if g.metric == "latency_ms"),
        None,
    )
    powered = next(
        (
            s.step
            for s in planned
            if s.power.get("latency_ms") is not None and (s.power["latency_ms"] or 0) >= 0.8
        ),
        None,
    )
    beyond = margin is not None and change > margin
    if beyond:
        as_expected = (
            result.decision == "rollback"
            and result.stopped_at is not None
            and (powered is None or result.stopped_at <= powered)
        )
    else:
        as_expected = result.decision == "complete"
    return {
        "true_relative_latency_change": change,
        "latency_margin": margin,
        "beyond_margin": beyond,
        "first_step_with_power_80": powered,
        "stopped_at": result.stopped_at,
        "decision": result.decision,
        "as_expected": as_expected,
    }


def render_rollout_report(
    result: RolloutResult,
    planned: Sequence[StepPlan],
    truth: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The Markdown text and the JSON payload of one replayed ramp."""
    check = truth_check(result, planned, truth or {})
    lines = [
        "# Staged rollout",
        "",
        f"Replay of a ramp over experiment `{result.experiment}` "
        f"({result.control} → {result.treatment}); gates per step: sample ratio, minimum "
        f"users per arm, each guardrail's one-sided test of a regression beyond its margin "
        f"(alpha {result.alpha:g} over the ramp, {result.spending} spending). "
        "Method: docs/METHODOLOGY.md §5.12.",
        "",
        f"**Decision: {result.decision}**: {result.reason}",
        "",
    ]
    if result.error:
        lines += [f"Error `{result.error}`: {result.message}", ""]
    rows = []
    for s in result.steps:
        units = ", ".join(f"{v} {n:,}" for v, n in s.units.items())
        rows.append(
            (
                s.step,
                f"{100 * s.exposure:g} %",
                s.days,
                units or "-",
                _p(s.srm_p_value),
                "-" if s.alpha is None else f"{s.alpha:.2g}",
                s.decision,
            )
        )
    if rows:
        lines += [
            md_table(["step", "exposure", "days", "users", "SRM p", "alpha", "decision"], rows),
            "",
        ]
    guard_rows = []
    for s in result.steps:
        for g in s.guardrails:
            guard_rows.append(
                (
                    s.step,
                    g.label,
                    _pct(g.relative_effect),
                    "n/a" if g.standard_error is None else f"{100 * g.standard_error:.2f} %",
                    f"{100 * g.margin:g} %",
                    _p(g.p_harm),
                    f"{g.alpha:.2g}",
                    _pct(g.power, signed=False),
                    "regression" if g.regression else (g.error or "ok"),
                )
            )
    if guard_rows:
        detect = f"{100 * result.detect:g} %" if result.detect is not None else "n/a"
        lines += [
            "## Guardrails per step",
            "",
            f"Power: of the step's test to see a relative regression of {detect}.",
            "",
            md_table(
                ["step", "metric", "change", "SE", "margin", "p (harm)", "alpha", "power", "gate"],
                guard_rows,
            ),
            "",
        ]
    if check is not None:
        lines += [
            "## Against the simulator's ground truth",
            "",
            f"True relative change of mean latency: {_pct(check['true_relative_latency_change'])} "
            f"(margin {_pct(check['latency_margin'], signed=False)}); first step with ≥ 80 % "
            f"power: {check['first_step_with_power_80']}; stopped at: {check['stopped_at']}; "
            f"as expected: {check['as_expected']}.",
            "",
        ]
    lines += ["```", render_text(result), "```", ""]
    payload = {
        **result.to_dict(),
        "plan": [
            {
                "step": s.step,
                "exposure": s.exposure,
                "days": s.days,
                "units": dict(s.units),
                "alpha": s.alpha,
                "power": dict(s.power),
            }
            for s in planned
        ],
        "ground_truth": check,
    }
    return "\n".join(lines), payload
