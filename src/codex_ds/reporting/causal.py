"""reports/causal.md and .json, with the love plot and the overlap plot (PNG, matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codex_ds.causal.balance import SMD_TARGET
from codex_ds.causal.estimate import CausalAnalysis, analysis_to_dict
from codex_ds.reporting.markdown import md_table

__all__ = ["plot_love", "plot_overlap", "render_causal_report"]


def _fmt(v: float | None, digits: int = 4) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def plot_love(analysis: CausalAnalysis, path: Path) -> Path | None:
    """Love plot: |SMD| per covariate before and after each adjustment. None without
    matplotlib (install the ``causal`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not analysis.balance:
        return None
    names = [r.covariate for r in analysis.balance[0].rows]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.8))
    ys = range(len(names))
    ax.scatter(
        [abs(r.smd_before) for r in analysis.balance[0].rows], ys, marker="o", label="before"
    )
    for marker, table in zip("s^Dv", analysis.balance, strict=False):
        ax.scatter(
            [abs(r.smd_after) for r in table.rows], ys, marker=marker, label=table.adjustment
        )
    ax.axvline(SMD_TARGET, linestyle="--", color="grey")
    ax.set_yticks(list(ys), names)
    ax.set_xlabel("|standardised mean difference|")
    ax.set_title(f"Covariate balance: {analysis.data.treatment} → {analysis.data.outcome}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_overlap(analysis: CausalAnalysis, path: Path) -> Path | None:
    """Histograms of the propensity score of treated and control units."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    s, t = analysis.propensity.scores, analysis.data.t
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.hist(s[t == 1], bins=40, range=(0, 1), alpha=0.55, density=True, label="treated")
    ax.hist(s[t == 0], bins=40, range=(0, 1), alpha=0.55, density=True, label="control")
    ax.set_xlabel("propensity score")
    ax.set_ylabel("density")
    ax.set_title("Overlap of the propensity score")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render_causal_report(
    analysis: CausalAnalysis,
    truth: dict[str, Any] | None = None,
    images: dict[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Markdown text and the JSON payload; ``truth`` (the simulator's ``causal`` entry)
    adds a comparison with the planted effect."""
    payload = analysis_to_dict(analysis)
    a = analysis
    lines = [
        "# Causal effect (observational)",
        "",
        f"Treatment `{a.data.treatment}`, outcome `{a.data.outcome}`, covariates "
        f"{', '.join(f'`{n}`' for n in a.data.names)}; {a.data.n:,} units "
        f"({a.data.n_treated:,} treated, {a.data.n_control:,} control). Propensity model: "
        f"{a.propensity.link}. Methods: docs/METHODOLOGY.md (causal methods).",
        "",
        "## Estimates",
        "",
    ]
    rows = [
        ("naive difference", "ATE", _fmt(a.naive.estimate), _fmt(a.naive.se),
         f"[{_fmt(a.naive.ci_low)}, {_fmt(a.naive.ci_high)}]", "Welch", "")
    ]  # fmt: skip
    truth_cmp: dict[str, Any] = {}
    for e in a.estimates:
        true = None
        if truth:
            true = truth.get("true_ate") if e.estimand == "ATE" else truth.get("true_att")
        cover = ""
        if true is not None and e.ci_low is not None and e.ci_high is not None:
            covered = e.ci_low <= true <= e.ci_high
            cover = "yes" if covered else "no"
            truth_cmp[f"{e.method}/{e.estimand}"] = {
                "truth": true,
                "estimate": e.estimate,
                "relative_error": e.estimate / true - 1 if true else None,
                "covers_truth": covered,
            }
        rows.append(
            (e.method, e.estimand, _fmt(e.estimate), _fmt(e.se),
             f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]", e.ci_method, cover)
        )  # fmt: skip
    lines.append(
        md_table(["method", "estimand", "estimate", "se", "95 % CI", "interval", "covers truth"],
                 rows)
    )  # fmt: skip
    if truth:
        lines += [
            "",
            f"Planted truth (ground_truth.json): ATE {_fmt(truth.get('true_ate'))}, ATT "
            f"{_fmt(truth.get('true_att'))}; the naive difference is biased by "
            f"{_fmt(a.naive.estimate - (truth.get('true_ate') or 0.0))}.",
        ]
        payload["ground_truth"] = truth_cmp
    for k, err in a.errors.items():
        lines.append(f"\n- {k}: {err.code}: {err.message}")
    lines += ["", "## Balance (|SMD| target < 0.1)", ""]
    for b in a.balance:
        lines.append(
            f"**{b.adjustment}**: max |SMD| {b.max_abs_smd_before:.3f} before, "
            f"{b.max_abs_smd_after:.3f} after ({'balanced' if b.balanced else 'NOT balanced'})"
        )
        lines.append("")
        lines.append(
            md_table(
                ["covariate", "mean treated", "mean control", "SMD before", "SMD after",
                 "var ratio after"],
                [(r.covariate, _fmt(r.mean_treated), _fmt(r.mean_control),
                  f"{r.smd_before:.3f}", f"{r.smd_after:.3f}", _fmt(r.variance_ratio_after, 3))
                 for r in b.rows],
            )
        )  # fmt: skip
        lines.append("")
    cal = a.propensity.calibration
    ov = a.overlap
    lines += [
        "## Propensity model and overlap",
        "",
        f"Pseudo-R² {a.propensity.pseudo_r2:.3f}; calibration: Hosmer–Lemeshow "
        f"{cal.hosmer_lemeshow:.2f} on {cal.hosmer_lemeshow_df} df (p = "
        f"{cal.hosmer_lemeshow_p:.3g}), Brier {cal.brier:.4f}. Scores: treated "
        f"[{ov.treated_range[0]:.3f}, {ov.treated_range[1]:.3f}], control "
        f"[{ov.control_range[0]:.3f}, {ov.control_range[1]:.3f}]; "
        f"{ov.outside_common_support} units outside the common support.",
        "",
    ]
    for name, rel in (images or {}).items():
        lines.append(f"![{name}]({rel})")
    lines += ["", "## Sensitivity", ""]
    ev_rows = [(k, f"{v.e_value:.3f}", f"{v.e_value_ci:.3f}") for k, v in a.e_values.items()]
    lines.append(md_table(["estimate", "E-value", "E-value (CI limit)"], ev_rows))
    if a.rosenbaum is not None:
        rb = a.rosenbaum
        crit = "beyond the largest Γ tried" if rb.critical_gamma is None else rb.critical_gamma
        lines += [
            "",
            f"Rosenbaum bounds ({rb.pairs:,} matched pairs, Wilcoxon signed rank): the effect "
            f"stays significant at α = {rb.alpha:.2f} up to Γ < {crit}.",
            "",
            md_table(["Γ", "upper p-value"],
                     [(g, f"{p:.3g}") for g, p in zip(rb.gammas, rb.p_upper, strict=True)]),
        ]  # fmt: skip
    for r in a.refutations:
        lines.append(f"\n- refutation {r.name}: {'pass' if r.passed else 'FAIL'}: {r.explanation}")
    if a.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in a.warnings]
    return "\n".join(lines) + "\n", payload
