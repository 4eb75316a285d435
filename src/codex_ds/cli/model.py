"""``codex-ds model ...``: the acceptance model, productivity linkage and user segments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

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
from codex_ds.modeling import acceptance, productivity, segments
from codex_ds.warehouse import catalog

app = typer.Typer(
    help="Models of the telemetry: what drives acceptance, which metric tracks perceived "
    "productivity, which kinds of users there are.",
    no_args_is_help=True,
)

JSON_HELP = "Machine-readable output (one JSON document on stdout)."
FILTER_HELP = "Only data from this day on (YYYY-MM-DD)."
EXIT_BAD_INPUT = 2


def _truth(ctx: typer.Context) -> dict[str, Any]:
    path = state(ctx).workspace.ground_truth
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _filters(start: str | None, end: str | None, segment: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"start_date": start, "end_date": end}
    if segment is not None:
        params["segment"] = segment
    return {k: v for k, v in params.items() if v is not None}


@app.command("acceptance")
def acceptance_cmd(
    ctx: typer.Context,
    start_date: Annotated[str | None, typer.Option(help=FILTER_HELP)] = None,
    end_date: Annotated[str | None, typer.Option(help="Only data up to this day.")] = None,
    engine: Annotated[
        str, typer.Option(help="irls (fast, per-cell sums) or statsmodels (dense GLM).")
    ] = "irls",
    folds: Annotated[
        int,
        typer.Option(
            min=0,
            max=20,
            help="Cross-validation folds grouped by user (0: none, and the fast path: the "
            "user-clustered errors from a second SQL pass instead of per-user patterns).",
        ),
    ] = 5,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.9999, help="Interval level.")] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Logistic regression of acceptance on latency, length, language, segment, task type,
    trigger, model version and evening: odds ratios with intervals clustered by user, AUC,
    Brier score, calibration and grouped cross-validation. When ground_truth.json exists the
    intervals are checked against the planted coefficients.

    Exits 1 when the model cannot be fitted (no data, a single class, separation).
    --json prints {"ok", "coefficients": [{"name", "estimate", "se", "ci_low", "ci_high",
    "odds_ratio", "odds_ratio_ci", "p_value", ...}], "prediction": {...}, "truth": [...]}.
    """
    if engine not in ("irls", "statsmodels"):
        raise fail(f"unknown engine {engine!r}; irls or statsmodels", EXIT_BAD_INPUT)
    with read_warehouse(ctx) as con, progress_bar(not as_json) as bar:
        task = bar.add_task("acceptance model", total=100)

        def report(stage: str, f: float) -> None:
            bar.update(task, completed=100 * f, description=stage)

        try:
            if folds == 0 and engine == "irls":
                result = acceptance.fit_in_warehouse(
                    con,
                    _filters(start_date, end_date),
                    confidence=confidence,
                    predict=True,
                    progress=report,
                )
            else:
                frame = acceptance.load_patterns(con, _filters(start_date, end_date))
                result = acceptance.fit_acceptance_model(
                    frame,
                    engine=engine,  # type: ignore[arg-type]
                    cv_folds=folds,
                    confidence=confidence,
                    progress=report,
                )
        except catalog.CatalogError as exc:
            raise fail(str(exc), EXIT_BAD_INPUT) from None
    truth = _truth(ctx).get("acceptance_model", {})
    checks = acceptance.compare_with_truth(result, truth) if truth and result.ok else ()
    if as_json:
        emit_json(result.to_dict() | {"truth": [c.to_dict() for c in checks]})
        if not result.ok:
            raise typer.Exit(1)
        return
    if not result.ok:
        raise fail(f"{result.error}: {result.message}")
    rows = []
    for c in result.coefficients:
        lo, hi = c.odds_ratio_ci
        rows.append(
            (
                c.name,
                f"{c.estimate:+.4f}",
                f"{c.se:.4f}",
                f"{c.odds_ratio:.3f}",
                f"[{lo:.3f}, {hi:.3f}]",
            )
        )
    out.print(
        table(
            f"Acceptance model: {result.suggestions:,} shown suggestions, {result.users:,} users",
            ["term", "logit", "SE", "odds ratio", f"{100 * confidence:.0f} % CI"],
            rows,
        )
    )
    for note in result.notes:
        err.print(f"note: {note}", highlight=False)
    q = result.prediction
    if q is not None:
        cv = f", cross-validated AUC {q.cv_auc_mean:.4f}" if q.cv_auc_mean is not None else ""
        out.print(f"AUC {q.auc:.4f}, Brier {q.brier:.4f}{cv}")
    if checks:
        covered = sum(c.covered for c in checks)
        out.print(f"Planted coefficients covered: {covered} of {len(checks)}")


@app.command("productivity")
def productivity_cmd(
    ctx: typer.Context,
    telemetry_csv: Annotated[
        Path | None,
        typer.Option(help="Per-user telemetry CSV of your own (user_id + metric columns)."),
    ] = None,
    survey_csv: Annotated[
        Path | None,
        typer.Option(help="Per-user survey CSV (user_id, perceived_productivity)."),
    ] = None,
    outcome: Annotated[
        str, typer.Option(help="perceived_productivity or survey_mean_score.")
    ] = "perceived_productivity",
    start_date: Annotated[str | None, typer.Option(help=FILTER_HELP)] = None,
    end_date: Annotated[str | None, typer.Option(help="Only data up to this day.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Rank telemetry metrics by their correlation with perceived productivity (Pearson and
    Spearman with Fisher-z intervals), per user, as in Ziegler et al. 2022.

    Reads the warehouse (telemetry + survey_responses), or --telemetry-csv and --survey-csv
    (both) exported from your own tools. Telemetry CSV columns: user_id and any of
    acceptance_rate, accepted_per_active_hour, unchanged_30s_rate,
    accepted_chars_per_active_hour, shown_rate. Survey CSV columns: user_id,
    perceived_productivity [, survey_mean_score].

    Exits 2 on a bad CSV (the message names file, line and column), 1 when there are too
    few respondents. --json prints {"ok", "outcome", "best_metric", "rows": [{"metric",
    "n", "pearson_r", "pearson_ci", "spearman_rho", "spearman_ci", "rank", ...}]}.
    """
    if outcome not in productivity.OUTCOMES:
        raise fail(
            f"unknown outcome {outcome!r}; one of {', '.join(productivity.OUTCOMES)}",
            EXIT_BAD_INPUT,
        )
    if (telemetry_csv is None) != (survey_csv is None):
        raise fail("give both --telemetry-csv and --survey-csv, or neither", EXIT_BAD_INPUT)
    if telemetry_csv is not None and survey_csv is not None:
        try:
            frame = productivity.read_team_tables(telemetry_csv, survey_csv)
        except productivity.TeamTableError as exc:
            raise fail(str(exc), EXIT_BAD_INPUT) from None
        source = f"{telemetry_csv} + {survey_csv}"
    else:
        with read_warehouse(ctx) as con:
            try:
                frame = productivity.load_user_behaviour(con, _filters(start_date, end_date))
            except catalog.CatalogError as exc:
                raise fail(str(exc), EXIT_BAD_INPUT) from None
        source = "warehouse"
    if outcome not in frame.columns:
        raise fail(f"the data have no {outcome} column", EXIT_BAD_INPUT)
    result = productivity.link_productivity(frame, outcome=outcome)
    if as_json:
        emit_json(result.to_dict() | {"source": source})
        if not result.ok:
            raise typer.Exit(1)
        return
    if not result.ok:
        raise fail(f"{result.error}: {result.message}")
    rows: list[tuple[object, ...]] = []
    for r in result.rows:
        if r.error:
            rows.append(("", r.metric, r.n, r.message, ""))
            continue
        assert r.pearson_ci is not None and r.spearman_ci is not None
        rows.append(
            (
                r.rank,
                r.metric,
                r.n,
                f"{r.pearson_r:+.3f} [{r.pearson_ci[0]:+.3f}, {r.pearson_ci[1]:+.3f}]",
                f"{r.spearman_rho:+.3f} [{r.spearman_ci[0]:+.3f}, {r.spearman_ci[1]:+.3f}]",
            )
        )
    out.print(
        table(
            f"Telemetry vs {outcome} ({result.respondents:,} respondents, {source})",
            ["#", "metric", "n users", "Pearson r [95 % CI]", "Spearman ρ [95 % CI]"],
            rows,
        )
    )


@app.command("segments")
def segments_cmd(
    ctx: typer.Context,
    k: Annotated[
        int | None, typer.Option(min=2, max=20, help="Number of segments (default: silhouette).")
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated user_behaviour columns (default: "
            + ",".join(segments.FEATURES)
            + ")."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of k-means.")] = 0,
    start_date: Annotated[str | None, typer.Option(help=FILTER_HELP)] = None,
    end_date: Annotated[str | None, typer.Option(help="Only data up to this day.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Also write user_id,segment to this CSV file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Cluster users by behaviour (k-means on standardised features, k by silhouette) and
    describe each segment in words and numbers.

    Exits 1 with too few users. --json prints {"ok", "k", "silhouette", "features",
    "clusters": [{"label", "name", "users", "share", "medians", "mean_z", "segment_mix"}]}.
    """
    feats = (
        tuple(f.strip() for f in features.split(",") if f.strip())
        if features
        else segments.FEATURES
    )
    with read_warehouse(ctx) as con:
        try:
            frame = productivity.load_user_behaviour(con, _filters(start_date, end_date))
        except catalog.CatalogError as exc:
            raise fail(str(exc), EXIT_BAD_INPUT) from None
    unknown = [f for f in feats if f not in frame.columns]
    if unknown:
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        raise fail(
            f"unknown feature(s) {', '.join(unknown)}; one of {', '.join(numeric)}", EXIT_BAD_INPUT
        )
    with progress_bar(not as_json) as bar:
        task = bar.add_task("k-means", total=100)
        result = segments.find_segments(
            frame,
            features=feats,
            k=k,
            seed=seed,
            progress=lambda stage, f: bar.update(task, completed=100 * f, description=stage),
        )
    if result.ok and output is not None:
        pd.DataFrame(
            {"user_id": result.user_ids, "segment": [v + 1 for v in result.labels]}
        ).to_csv(output, index=False)
    if as_json:
        emit_json(result.to_dict())
        if not result.ok:
            raise typer.Exit(1)
        return
    if not result.ok:
        raise fail(f"{result.error}: {result.message}")
    out.print(
        table(
            f"User segments (k = {result.k}, silhouette {result.silhouette:.3f})",
            ["#", "segment", "n users", "share"],
            [(c.label + 1, c.name, c.users, f"{100 * c.share:.1f} %") for c in result.clusters],
        )
    )
    for note in result.notes:
        err.print(f"note: {note}", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="model")
