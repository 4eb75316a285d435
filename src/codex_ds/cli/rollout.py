"""``codex-ds rollout ...``: plan a staged rollout and replay its gates over the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer

from codex_ds.cli.console import emit_json, fail, out, read_warehouse, table
from codex_ds.experiments import rollout

app = typer.Typer(
    help="Staged rollouts: a ramp (1 → 5 → 25 → 50 → 100 %) with per-step gates.",
    no_args_is_help=True,
)

JSON_HELP = "Machine-readable output."

#: Exit codes of ``rollout evaluate``.
EXIT_CODES = {"complete": 0, "hold": 2, "rollback": 3, "invalid": 4}

Experiment = Annotated[
    str, typer.Option("--experiment", help="The randomised experiment the ramp replays.")
]
Steps = Annotated[
    str,
    typer.Option(
        "--steps", help="Exposure of each step in percent of users, comma-separated, increasing."
    ),
]
Days = Annotated[
    str,
    typer.Option("--days-per-step", help="Days of each step: one number for all, or one per step."),
]
Margin = Annotated[
    float,
    typer.Option(
        "--margin",
        min=0.0001,
        max=1.0,
        help="Relative non-inferiority margin of every guardrail (0.05: not worse than 5 %).",
    ),
]
Guards = Annotated[
    str,
    typer.Option(
        "--guardrails",
        help="Guardrail metrics, comma-separated: latency_ms, error_rate, acceptance_rate.",
    ),
]
Alpha = Annotated[
    float,
    typer.Option(
        min=0.0001,
        max=0.5,
        help="Chance of a false rollback over the whole ramp and every guardrail.",
    ),
]
Spend = Annotated[
    str,
    typer.Option("--spending", help="Lan–DeMets spending function: pocock or obrien_fleming."),
]
Detect = Annotated[
    float | None,
    typer.Option(
        "--detect",
        help="Relative regression whose power is reported per step (default: twice the margin).",
    ),
]
MinUnits = Annotated[
    int, typer.Option("--min-units", min=2, help="Minimum users per arm in a step.")
]


def _parse(
    steps: str, days: str, margin: float, guardrails: str, alpha: float, spending: str
) -> tuple[rollout.RampPlan, rollout.GateConfig]:
    try:
        exposures = [float(x) / 100.0 for x in steps.split(",") if x.strip()]
    except ValueError:
        raise fail(f"--steps: {steps!r} is not a comma-separated list of percentages") from None
    try:
        day_list = [int(x) for x in days.split(",") if x.strip()]
    except ValueError:
        raise fail(f"--days-per-step: {days!r} is not a list of whole days") from None
    if len(day_list) == 1:
        day_list = day_list * len(exposures)
    plan = rollout.RampPlan.build(exposures, day_list)
    problem = plan.problem()
    if problem:
        raise fail(f"--steps/--days-per-step: {problem[1]}")
    names = [g.strip() for g in guardrails.split(",") if g.strip()]
    if spending not in ("pocock", "obrien_fleming"):
        raise fail(f"--spending: {spending!r} is not pocock or obrien_fleming")
    gates = rollout.GateConfig(
        guardrails=tuple(rollout.RolloutGuardrail(n, margin) for n in names),
        alpha=alpha,
        spending=spending,  # type: ignore[arg-type]
    )
    problem = gates.problem()
    if problem:
        raise fail(f"--guardrails/--margin: {problem[1]}")
    return plan, gates


def _replay(ctx: typer.Context, plan: rollout.RampPlan, experiment: str) -> rollout.Replay:
    with read_warehouse(ctx) as con:
        replay = rollout.load_steps(con, plan, experiment)
    if replay.error:
        raise fail(replay.message or replay.error)
    return replay


@app.command()
def plan(
    ctx: typer.Context,
    experiment: Experiment = "exp_model_v2",
    steps: Steps = "1,5,25,50,100",
    days_per_step: Days = "3",
    margin: Margin = 0.05,
    guardrails: Guards = "latency_ms,error_rate,acceptance_rate",
    alpha: Alpha = 0.05,
    spending: Spend = "pocock",
    detect: Detect = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """The ramp with each step's users per arm, alpha and power per guardrail.

    Power is that of the step's one-sided harm test to see a relative regression of
    --detect beyond the margin, with the control arm of the step as the pilot (its
    delta-method per-user variance). Needs a warehouse (`codex-ds simulate` makes one).
    --json prints {"experiment", "detect", "steps": [{"step", "exposure", "days", "units",
    "information_fraction", "alpha", "power": {metric: p}}]}. Exit 1 on bad input.
    """
    ramp, gates = _parse(steps, days_per_step, margin, guardrails, alpha, spending)
    theta = detect if detect is not None else 2 * margin
    if theta <= margin:
        raise fail(f"--detect {theta:g} must exceed the margin {margin:g}")
    replay = _replay(ctx, ramp, experiment)
    planned, problem = rollout.plan_steps(replay, ramp, gates, theta)
    if problem:
        raise fail(problem)
    if as_json:
        emit_json(
            {
                "experiment": experiment,
                "control": replay.control,
                "treatment": replay.treatment,
                "detect": theta,
                "alpha": alpha,
                "spending": spending,
                "steps": [
                    {
                        "step": s.step,
                        "exposure": s.exposure,
                        "days": s.days,
                        "units": dict(s.units),
                        "information_fraction": s.information_fraction,
                        "alpha": s.alpha,
                        "power": dict(s.power),
                    }
                    for s in planned
                ],
            }
        )
        return
    metrics = [g.metric for g in gates.guardrails]
    rows = []
    for s in planned:
        units = ", ".join(f"{v} {n:,}" for v, n in s.units.items()) or "everyone"
        powers = [
            "-" if s.power.get(m) is None else f"{100 * (s.power[m] or 0):.0f} %" for m in metrics
        ]
        rows.append(
            (
                s.step,
                f"{100 * s.exposure:g} %",
                s.days,
                units,
                "-" if s.alpha is None else f"{s.alpha:.2g}",
                *powers,
            )
        )
    out.print(
        table(
            f"Ramp over {experiment}: power to see a +{100 * theta:g} % regression "
            f"beyond the {100 * margin:g} % margin ({spending} spending, alpha {alpha:g})",
            ["#", "exposure", "n days", "users per arm", "alpha", *[f"power {m}" for m in metrics]],
            rows,
        )
    )


@app.command()
def evaluate(
    ctx: typer.Context,
    experiment: Experiment = "exp_model_v2",
    steps: Steps = "1,5,25,50,100",
    days_per_step: Days = "3",
    margin: Margin = 0.05,
    guardrails: Guards = "latency_ms,error_rate,acceptance_rate",
    alpha: Alpha = 0.05,
    spending: Spend = "pocock",
    min_units: MinUnits = 10,
    require_non_inferiority: Annotated[
        bool,
        typer.Option(
            "--require-non-inferiority",
            help="Advance to 100 % only when every guardrail is shown non-inferior.",
        ),
    ] = False,
    detect: Detect = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Replay the ramp over the warehouse's days: advance / hold / rollback per step.

    Each step's gates use only that step's days and users: sample ratio (p < 0.001 →
    invalid), minimum users per arm (→ hold), each guardrail's one-sided test of a
    regression beyond the margin at the step's share of alpha (→ rollback). The replay
    stops at the first step that does not advance.

    Exit codes: 0 complete (full exposure reached), 2 hold, 3 rollback, 4 invalid
    (sample-ratio mismatch), 1 bad input or no warehouse. --json prints {"experiment",
    "decision", "reason", "stopped_at", "steps": [{"step", "exposure", "decision",
    "reason", "units", "srm_p_value", "alpha", "guardrails": [...]}]}.
    """
    ramp, gates = _parse(steps, days_per_step, margin, guardrails, alpha, spending)
    gates = rollout.GateConfig(
        guardrails=gates.guardrails,
        alpha=gates.alpha,
        spending=gates.spending,
        min_units_per_arm=min_units,
        require_non_inferiority=require_non_inferiority,
    )
    theta = detect if detect is not None else 2 * margin
    replay = _replay(ctx, ramp, experiment)
    result = rollout.evaluate_steps(replay, ramp, gates, theta)
    if as_json:
        emit_json(result.to_dict())
    else:
        out.print(rollout.render_text(result), highlight=False, markup=False)
    code = EXIT_CODES[result.decision]
    if code:
        raise typer.Exit(code)
