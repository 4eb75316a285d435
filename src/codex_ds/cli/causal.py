"""``codex-ds causal estimate``: observational treatment effects from the warehouse's per-user
table (query ``causal_user_outcomes``) or a CSV/Parquet file of your own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from codex_ds.causal import dataset
from codex_ds.causal.design import causal_design
from codex_ds.causal.effects import CausalError
from codex_ds.causal.estimate import ALL_METHODS, CausalOptions, MethodChoice, estimate_effects
from codex_ds.cli.console import (
    emit_json,
    err,
    fail,
    out,
    progress_bar,
    read_warehouse,
    state,
    table,
)

app = typer.Typer(
    help="Observational causal effects: matching, weighting, doubly robust, sensitivity.",
    no_args_is_help=True,
)

METHOD_CHOICES = (*ALL_METHODS, "all")


@app.command()
def estimate(
    ctx: typer.Context,
    treatment: Annotated[
        str, typer.Option(help="Binary treatment column (0/1 or true/false).")
    ] = dataset.DEFAULT_TREATMENT,
    outcome: Annotated[str, typer.Option(help="Numeric outcome column.")] = (
        dataset.DEFAULT_OUTCOME
    ),
    covariates: Annotated[
        list[str] | None,
        typer.Option(
            "--covariates",
            help="Pre-treatment covariate terms (repeat, or comma-separated): a column "
            "(text columns become indicators), a:b (interaction), x^2. Default: "
            + ", ".join(dataset.DEFAULT_COVARIATES),
        ),
    ] = None,
    method: Annotated[
        str, typer.Option(help="psm | ipw | aipw | ra | stratification | all.")
    ] = "all",
    estimand: Annotated[str, typer.Option(help="ATE | ATT | both.")] = "both",
    link: Annotated[str, typer.Option(help="Propensity model: logit | probit.")] = "logit",
    k: Annotated[int, typer.Option(min=1, help="Matches per unit (1:k).")] = 1,
    replace: Annotated[
        bool, typer.Option("--replace/--no-replace", help="Match with replacement.")
    ] = True,
    caliper: Annotated[
        float, typer.Option(min=0.0, help="Caliper in SDs of the logit score; 0: none.")
    ] = 0.2,
    trim: Annotated[
        str | None,
        typer.Option(help="IPW trimming: a threshold α (e.g. 0.05) or 'crump'."),
    ] = None,
    strata: Annotated[int, typer.Option(min=1, help="Strata of the score.")] = 10,
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Bootstrap replicates for percentile intervals; 0: none.")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed (ties, bootstrap, refutations).")] = 0,
    feature: Annotated[
        str, typer.Option(help="Warehouse table: the feature whose adoption is the treatment.")
    ] = "chat",
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="A CSV or Parquet file with one row per unit instead of the warehouse."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Estimate the effect of a treatment on an outcome, adjusting for covariates.

    Default data: one row per user from the warehouse (adoption of --feature, weekly merged
    PRs, segment, tenure, language, editor). Exits 0 with estimates, 1 on bad input (missing
    column, missing values, non-binary treatment, constant covariate, too few treated units,
    no overlap). --json prints {"estimates": [{"method", "estimand", "estimate", "ci": [low,
    high], "se", ...}], "balance": [...], "sensitivity": {...}, ...}.
    """
    import pandas as pd

    if method not in METHOD_CHOICES:
        raise fail(f"--method must be one of {', '.join(METHOD_CHOICES)}; got {method!r}")
    if estimand not in ("ATE", "ATT", "both"):
        raise fail(f"--estimand must be ATE, ATT or both; got {estimand!r}")
    if link not in ("logit", "probit"):
        raise fail(f"--link must be logit or probit; got {link!r}")
    trim_value: Any = None
    if trim is not None:
        if trim == "crump":
            trim_value = "crump"
        else:
            try:
                trim_value = float(trim)
            except ValueError:
                trim_value = -1.0
            if not 0.0 <= trim_value < 0.5:
                raise fail(f"--trim must be a number in [0, 0.5) or 'crump'; got {trim!r}")
    terms = [c.strip() for item in (covariates or []) for c in item.split(",") if c.strip()]
    terms = terms or list(dataset.DEFAULT_COVARIATES)

    if data is not None:
        if not data.exists():
            raise fail(f"{data}: no such file")
        try:
            frame = pd.read_parquet(data) if data.suffix == ".parquet" else pd.read_csv(data)
        except Exception as exc:
            raise fail(f"{data}: cannot read: {exc}") from None
        source = str(data)
    else:
        ws = state(ctx).workspace
        with read_warehouse(ctx) as con:
            frame = dataset.user_outcomes(con, feature=feature)
        source = f"{ws.warehouse} (query {dataset.QUERY}, feature {feature!r})"
        if frame.empty:
            raise fail(f"{source}: no user has a dev_outcomes week; nothing to estimate")

    design = causal_design(frame, treatment, outcome, terms)
    if isinstance(design, CausalError):
        raise fail(f"{source}: {design.code}: {design.message}")
    methods: tuple[MethodChoice, ...] = (
        ALL_METHODS if method == "all" else (method,)  # type: ignore[assignment]
    )
    options = CausalOptions(
        methods=methods,
        estimands=("ATE", "ATT") if estimand == "both" else (estimand,),  # type: ignore[arg-type]
        link=link,  # type: ignore[arg-type]
        k=k,
        replace=replace,
        caliper=caliper or None,
        trim=trim_value,
        strata=strata,
        bootstrap=bootstrap,
        seed=seed,
    )
    with progress_bar(enabled=not as_json and err.is_terminal) as bar:
        task = bar.add_task("estimating", total=100)

        def report(stage: str, frac: float) -> None:
            bar.update(task, completed=100 * frac, description=stage)

        result = estimate_effects(design, options, progress=report)
    if isinstance(result, CausalError):
        raise fail(f"{source}: {result.code}: {result.message}")
    from codex_ds.causal.estimate import analysis_to_dict

    payload = analysis_to_dict(result)
    payload["source"] = source
    if as_json:
        emit_json(payload)
        return
    out.print(
        f"{design.treatment} → {design.outcome}: {design.n:,} units "
        f"({design.n_treated:,} treated), covariates {', '.join(design.names)}",
        markup=False,
    )
    rows = [
        ("naive", "ATE", f"{result.naive.estimate:.4g}", f"{result.naive.se:.3g}",
         f"[{result.naive.ci_low:.4g}, {result.naive.ci_high:.4g}]")
    ]  # fmt: skip
    for e in result.estimates:
        rows.append(
            (e.method, e.estimand, f"{e.estimate:.4g}", f"{e.se:.3g}" if e.se else "–",
             f"[{e.ci_low:.4g}, {e.ci_high:.4g}] ({e.ci_method})")
        )  # fmt: skip
    out.print(table("Estimates", ["method", "estimand", "estimate", "se", "95 % CI"], rows))
    for b in result.balance:
        out.print(
            f"balance {b.adjustment}: max |SMD| {b.max_abs_smd_before:.3f} → "
            f"{b.max_abs_smd_after:.3f} ({'ok' if b.balanced else 'NOT < 0.1'})"
        )
    for key, e_err in result.errors.items():
        err.print(f"[yellow]{key}[/]: {e_err.code}: {e_err.message}", highlight=False)
    for w in result.warnings:
        err.print(f"[yellow]warning[/]: {w}", highlight=False)
