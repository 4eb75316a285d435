"""Reports of the models (reports/acceptance_model.md, productivity.md, segments.md)."""

from __future__ import annotations

from collections.abc import Sequence

from codex_ds.modeling.acceptance import AcceptanceModelResult, TruthCheck
from codex_ds.modeling.productivity import METRIC_LABELS, LinkageResult
from codex_ds.modeling.segments import SegmentationResult
from codex_ds.reporting.markdown import md_table


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _ci(ci: tuple[float, float] | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if ci is None else f"[{fmt.format(ci[0])}, {fmt.format(ci[1])}]"


def render_acceptance_report(
    result: AcceptanceModelResult, truth: Sequence[TruthCheck] = ()
) -> str:
    """The acceptance model: odds ratios, prediction quality and (when known) the truth."""
    lines = ["# Acceptance model", ""]
    if not result.ok:
        return "\n".join([*lines, f"**Not fitted ({result.error}):** {result.message}", ""])
    cov = (
        "clustered by user" if result.covariance == "cluster_user" else "model based (no clusters)"
    )
    lines += [
        "Logistic regression of acceptance (accepted in full or in part) among shown "
        "suggestions (METHODOLOGY.md §6.1).",
        "",
        f"- suggestions: {result.suggestions:,} ({result.accepted:,} accepted, "
        f"{100 * (result.acceptance_rate or 0):.1f} %), users: {result.users:,}, "
        f"covariate patterns: {result.patterns:,}",
        f"- standard errors: {cov}; {100 * result.confidence:.0f} % Wald intervals",
        "- reference levels: "
        + ", ".join(f"{k} = {v}" for k, v in result.reference_levels.items()),
    ]
    lines += [f"- note: {n}" for n in result.notes]
    lines += ["", "## Coefficients", ""]
    rows = []
    for c in result.coefficients:
        lo, hi = c.odds_ratio_ci
        rows.append(
            (
                c.name,
                f"{c.estimate:+.4f}",
                f"{c.se:.4f}",
                _ci((c.ci_low, c.ci_high), "{:+.4f}"),
                f"{c.odds_ratio:.3f}",
                f"[{lo:.3f}, {hi:.3f}]",
                _p(c.p_value),
            )
        )
    lines.append(md_table(["term", "logit", "SE", "CI", "odds ratio", "OR CI", "p"], rows))
    q = result.prediction
    if q is not None:
        lines += ["", "## Prediction", ""]
        lines.append(f"- in-sample AUC {q.auc:.4f}, Brier score {q.brier:.4f}")
        if q.cv_folds:
            lines.append(
                f"- {q.cv_folds}-fold cross-validation grouped by {q.cv_grouped_by}: AUC "
                f"{q.cv_auc_mean:.4f} (folds {', '.join(f'{a:.4f}' for a in q.cv_auc)}), Brier "
                f"{q.cv_brier_mean:.4f}"
            )
        lines += ["", "Calibration (deciles of the prediction):", ""]
        lines.append(
            md_table(
                ["predicted", "observed", "suggestions"],
                [
                    (f"{b.predicted:.4f}", f"{b.observed:.4f}", f"{b.suggestions:,}")
                    for b in q.calibration
                ],
            )
        )
    if truth:
        covered = sum(t.covered for t in truth)
        lines += ["", "## Against the simulator's planted coefficients", ""]
        lines.append(
            f"{covered} of {len(truth)} intervals cover the planted value "
            f"({100 * covered / len(truth):.0f} %; about {100 * result.confidence:.0f} % "
            "expected by chance)."
        )
        lines.append("")
        lines.append(
            md_table(
                ["term", "truth", "estimate", "CI", "covered"],
                [
                    (
                        t.name,
                        f"{t.truth:+.3f}",
                        f"{t.estimate:+.4f}",
                        _ci((t.ci_low, t.ci_high), "{:+.4f}"),
                        "yes" if t.covered else "**no**",
                    )
                    for t in truth
                ],
            )
        )
    return "\n".join(lines) + "\n"


def render_productivity_report(result: LinkageResult, truth_r: float | None = None) -> str:
    """Telemetry metrics ranked by their correlation with perceived productivity."""
    lines = ["# Productivity linkage", ""]
    if not result.ok:
        return "\n".join([*lines, f"**Not computed ({result.error}):** {result.message}", ""])
    lines += [
        f"Per-user telemetry metrics against the survey's `{result.outcome}` (1-5), "
        f"{result.respondents:,} respondents of {result.users:,} users (METHODOLOGY.md §6.2; "
        "Ziegler et al. 2022 found the acceptance rate the best predictor, r ≈ 0.24).",
        "",
    ]
    rows: list[tuple[object, ...]] = []
    for r in result.rows:
        if r.error:
            rows.append(
                (r.rank or "", METRIC_LABELS.get(r.metric, r.metric), r.n, r.message, "", "", "")
            )
            continue
        rows.append(
            (
                r.rank,
                METRIC_LABELS.get(r.metric, r.metric),
                f"{r.n:,}",
                f"{r.pearson_r:+.3f} {_ci(r.pearson_ci)}",
                _p(r.pearson_p),
                f"{r.spearman_rho:+.3f} {_ci(r.spearman_ci)}",
                _p(r.spearman_p),
            )
        )
    lines.append(
        md_table(["rank", "metric", "n", "Pearson r [CI]", "p", "Spearman ρ [CI]", "p"], rows)
    )
    if result.best is not None:
        lines += [
            "",
            f"Best predictor: **{result.best.metric}** (r = {result.best.pearson_r:+.3f}).",
        ]
    if truth_r is not None:
        lines.append(
            f"Simulator's realised correlation of acceptance rate and perceived productivity: "
            f"{truth_r:+.4f}."
        )
    return "\n".join(lines) + "\n"


def render_segments_report(result: SegmentationResult) -> str:
    """The user segments, each in words and numbers."""
    lines = ["# User segments", ""]
    if not result.ok:
        return "\n".join([*lines, f"**Not computed ({result.error}):** {result.message}", ""])
    sil = ", ".join(f"k={k}: {v:.3f}" for k, v in result.silhouette_by_k.items())
    lines += [
        f"k-means on {len(result.features)} standardised behaviour features of "
        f"{result.users:,} users (METHODOLOGY.md §6.3); k = {result.k} has the highest mean "
        f"silhouette ({sil}).",
        "",
    ]
    lines += [f"- note: {n}" for n in result.notes]
    for c in result.clusters:
        lines += ["", f"## Segment {c.label + 1}: {c.name}", ""]
        lines.append(f"{c.users:,} users ({100 * c.share:.1f} %).")
        if c.segment_mix:
            lines.append(
                "Self-reported experience: "
                + ", ".join(f"{k} {100 * v:.0f} %" for k, v in sorted(c.segment_mix.items()))
                + "."
            )
        lines.append("")
        lines.append(
            md_table(
                ["feature", "median", "mean z"],
                [
                    (f, f"{c.medians[f]:.3g}", f"{c.mean_z[f]:+.2f}" if f in c.mean_z else "")
                    for f in c.medians
                ],
            )
        )
    return "\n".join(lines) + "\n"
