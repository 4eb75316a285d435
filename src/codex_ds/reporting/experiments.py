"""The experiments report (reports/experiments.md and .json): one section per experiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from codex_ds.experiments.analysis import AnalysisResult, render_text
from codex_ds.reporting.markdown import md_table


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} %"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def truth_check(result: AnalysisResult, truth: Mapping[str, Any]) -> dict[str, Any] | None:
    """Whether the interval of the planted metric's relative lift covers the true lift."""
    if not truth or "true_relative_lift" not in truth:
        return None
    metric = str(truth.get("metric", "acceptance_rate"))
    true_lift = float(truth["true_relative_lift"])
    try:
        m = result.metric(metric)
    except KeyError:
        return {"metric": metric, "true_relative_lift": true_lift, "covers_truth": None}
    covers = (
        None if m.ci_low is None or m.ci_high is None else bool(m.ci_low <= true_lift <= m.ci_high)
    )
    return {
        "metric": metric,
        "true_relative_lift": true_lift,
        "estimate": m.relative_effect,
        "ci": [m.ci_low, m.ci_high],
        "covers_truth": covers,
        "srm_planted": truth.get("srm_planted"),
    }


def render_experiments_report(
    results: Sequence[AnalysisResult], truth: Mapping[str, Mapping[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """The Markdown report and its JSON payload."""
    lines = ["# Experiments", ""]
    if not results:
        lines.append("No experiment with assignments in the warehouse.")
    checks: dict[str, Any] = {}
    for r in results:
        lines += [f"## {r.experiment}: {r.name or ''}".rstrip(), ""]
        lines += [f"**Decision: {r.decision}** — {r.reason}", ""]
        lines.append("```")
        lines.append(render_text(r))
        lines.append("```")
        lines.append("")
        if r.metrics:
            rows = [
                (
                    m.label,
                    m.role,
                    m.variant,
                    m.method,
                    "n/a" if m.control is None else f"{m.control:.4g}",
                    "n/a" if m.treatment is None else f"{m.treatment:.4g}",
                    _pct(m.relative_effect),
                    f"[{_pct(m.ci_low)}, {_pct(m.ci_high)}]",
                    _p(m.adjusted_p_value if m.adjusted_p_value is not None else m.p_value),
                    m.status or ("significant" if m.significant else "") or (m.error or ""),
                )
                for m in r.metrics
            ]
            lines.append(
                md_table(
                    [
                        "metric",
                        "role",
                        "variant",
                        "method",
                        "control",
                        "treatment",
                        "relative effect",
                        "95 % CI",
                        "p (Holm for goals)",
                        "status",
                    ],
                    rows,
                )
            )
            lines.append("")
        check = truth_check(r, truth.get(r.experiment, {}))
        if check is not None:
            checks[r.experiment] = check
            verdict = {True: "covers", False: "does NOT cover", None: "cannot be compared with"}[
                check["covers_truth"]
            ]
            lines.append(
                f"Ground truth: the interval {verdict} the planted relative lift of "
                f"{check['metric']}, {_pct(check['true_relative_lift'])}"
                + (" (a sample-ratio mismatch was planted)." if check["srm_planted"] else ".")
            )
            lines.append("")
    payload = {"experiments": [r.to_dict() for r in results], "ground_truth": checks}
    return "\n".join(lines), payload
