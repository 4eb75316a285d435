"""``codex-ds experiment ...``: list, analyse and plan A/B tests; calibrate the tests."""

from __future__ import annotations

from typing import Annotated

import typer

from codex_ds.cli.console import emit_json, err, fail, out, read_warehouse, table
from codex_ds.experiments import analysis

app = typer.Typer(help="Analyse randomised experiments (A/B tests).", no_args_is_help=True)

JSON_HELP = "Machine-readable output."


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Experiments in the warehouse with the users assigned to each variant.

    --json prints [{"experiment_id", "name", "variant", "is_control", "units", "share"}].
    """
    with read_warehouse(ctx) as con:
        rows = analysis.list_experiments(con)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("No experiment with assignments in the warehouse.")
        return
    out.print(
        table(
            "Experiments",
            ["experiment", "name", "variant", "control", "n units", "share"],
            [
                (
                    r["experiment_id"],
                    r["name"],
                    r["variant"],
                    "yes" if r["is_control"] else "",
                    int(r["units"]),
                    f"{100 * r['share']:.1f} %",
                )
                for r in rows
            ],
        )
    )


@app.command()
def analyze(
    ctx: typer.Context,
    experiment_id: Annotated[str, typer.Argument(help="Experiment id, e.g. exp_model_v2.")],
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="Significance level.")] = 0.05,
    sequential: Annotated[
        bool, typer.Option("--sequential", help="Always-valid (mSPRT) intervals.")
    ] = False,
    winsorize: Annotated[
        float | None,
        typer.Option(min=0.5, max=1.0, help="Cap accepted per user at this quantile."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Test an experiment's goals and guardrails and recommend ship / hold / rollback.

    Exits 0 whatever the decision; 1 for an unknown experiment or an unusable one.
    --json prints {"experiment", "srm_p_value", "decision", "reason", "metrics": [...]}.
    """
    definition = analysis.ExperimentDefinition(
        experiment_id,
        alpha=alpha,
        method="sequential" if sequential else "fixed",
        winsorize_quantile=winsorize,
    )
    with read_warehouse(ctx) as con:
        result = analysis.analyze(con, definition)
    if result.error in ("unknown_experiment", "invalid_config"):
        if as_json:
            emit_json(result.to_dict())
        raise fail(result.message or result.error)
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(analysis.render_text(result), highlight=False)


@app.command()
def power(
    baseline: Annotated[float, typer.Option(help="Baseline proportion, e.g. 0.3.")],
    mde: Annotated[float, typer.Option(help="Minimum detectable effect (points, or relative).")],
    relative: Annotated[bool, typer.Option("--relative", help="--mde is relative.")] = False,
    alpha: Annotated[float, typer.Option(help="Significance level (two-sided).")] = 0.05,
    power_: Annotated[float, typer.Option("--power", help="Power.")] = 0.8,
    cuped_rho: Annotated[
        float, typer.Option("--cuped-rho", help="Correlation with the CUPED covariate.")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Users per arm to detect a change of a proportion (two-proportion z-test, CUPED).

    --json prints {"n_control", "n_treatment", "n_total", "effect_size", "mde",
    "mde_relative", "variance_reduction", ...}.
    """
    from dataclasses import asdict

    from codex_ds.experiments.power import PowerConfig, sample_size_proportions

    result = sample_size_proportions(
        baseline,
        mde,
        PowerConfig(alpha=alpha, power=power_, covariate_correlation=cuped_rho),
        relative=relative,
    )
    if result.error:
        raise fail(f"{result.error}: {result.message}")
    if as_json:
        emit_json(asdict(result))
        return
    out.print(
        f"{result.n_control:,} users per arm ({result.n_total:,} in total) to detect "
        f"{baseline:g} → {baseline + (mde * baseline if relative else mde):g} "
        f"with power {power_:g} at alpha {alpha:g}"
        + (
            f" (CUPED ρ = {cuped_rho:g}: variance −{100 * result.variance_reduction:.0f} %)"
            if cuped_rho
            else ""
        ),
        highlight=False,
    )


@app.command()
def calibrate(
    sims: Annotated[int, typer.Option(min=1, help="Simulated experiments per test.")] = 2000,
    n_per_arm: Annotated[int, typer.Option(min=2, help="Users per arm.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20240601,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Monte Carlo calibration of the tests: false positives, coverage, power (with MC SE).

    --json prints {"n_sims", "n_per_arm", "seed", "seconds", "figures": [{"test",
    "quantity", "estimate", "mc_standard_error", "mc_interval", "target", "description"}]}.
    """
    from codex_ds.experiments.calibration import calibrate as run_calibration

    report = run_calibration(
        n_sims=sims,
        n_per_arm=n_per_arm,
        seed=seed,
        progress=None if as_json else (lambda name: err.print(f"simulating {name} ...")),
    )
    if as_json:
        emit_json(
            {
                "n_sims": report.n_sims,
                "n_per_arm": report.n_per_arm,
                "seed": report.seed,
                "seconds": report.seconds,
                "figures": [
                    {
                        "test": f.test,
                        "quantity": f.quantity,
                        "estimate": f.estimate,
                        "mc_standard_error": f.mc_standard_error,
                        "mc_interval": list(f.mc_interval),
                        "target": f.target,
                        "description": f.description,
                    }
                    for f in report.figures
                ],
            }
        )
        return
    out.print(report.to_markdown(), highlight=False)
    out.print(
        f"{report.n_sims} simulations per test, {report.n_per_arm} users per arm, "
        f"seed {report.seed}, {report.seconds:.1f} s.",
        highlight=False,
    )
