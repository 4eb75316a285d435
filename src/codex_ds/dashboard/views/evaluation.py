"""Code evaluation: the stored runs, pass@k by language and category, two runs compared."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import streamlit as st

from codex_ds.dashboard import data, ui
from codex_ds.evaluation.report import GroupSummary


def groups_frame(groups: Sequence[GroupSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"name": g.name, "tasks": g.tasks, "samples": g.samples, "passed": g.passed}
            | {f"pass@{e.k}": e.value for e in g.pass_at_k}
            for g in groups
        ]
    )


def render(filters: data.Filters) -> None:
    st.title("Code Evaluation")
    st.caption("Offline runs (`codex-ds eval run`); of the sidebar filters only the language "
               "applies (to the per-language table).")
    runs = data.eval_runs()
    if runs.empty:
        st.info("No evaluation run yet: `codex-ds eval run` (or `codex-ds all`) stores one.")
        return
    ui.table(runs[["run_id", "created_at", "status", "model", "provider", "task_set", "tasks",
                   "n", "k_list", "samples_total", "samples_passed"]], "eval_runs")
    ids = list(runs["run_id"])
    run_id = st.selectbox("Run", ids, key="e_run")
    s = data.eval_summary(str(run_id))
    cols = st.columns(len(s.pass_at_k) + 1)
    cols[0].metric("Samples passed", f"{s.passed:,} / {s.samples:,}")
    for col, e in zip(cols[1:], s.pass_at_k, strict=True):
        col.metric(f"pass@{e.k}", ui.percent(e.value),
                   help=None if e.value is None else f"95 % CI {ui.percent(e.ci_low)} – "
                   f"{ui.percent(e.ci_high)}")
    by_language = groups_frame(s.by_language)
    if filters.language and not by_language.empty:
        by_language = by_language[by_language["name"] == filters.language]
    by_category = groups_frame(s.by_category)
    left, right = st.columns(2)
    with left:
        if not by_language.empty:
            st.plotly_chart(px.bar(by_language, x="name", y="pass@1", title="pass@1 by language"),
                            width="stretch")
        ui.table(by_language, f"pass_at_k_by_language_{run_id}")
    with right:
        if not by_category.empty:
            st.plotly_chart(px.bar(by_category, x="name", y="pass@1", title="pass@1 by category"),
                            width="stretch")
        ui.table(by_category, f"pass_at_k_by_category_{run_id}")
    if len(ids) >= 2:
        st.subheader("Compare two runs")
        other = st.selectbox("Baseline run", [i for i in ids if i != run_id], key="e_other")
        c = data.eval_comparison(str(other), str(run_id))
        b, m = c.bootstrap, c.mcnemar
        left_col, mid_col, right_col = st.columns(3)
        left_col.metric("pass@1 difference", ui.percent(b.difference),
                       help=f"paired bootstrap 95 % CI {ui.percent(b.ci_low)} – "
                       f"{ui.percent(b.ci_high)}")
        mid_col.metric("McNemar p", "–" if m.p_value is None else f"{m.p_value:.3g}")
        right_col.metric("Common tasks", f"{c.common_tasks}")
        ui.table(pd.DataFrame([{"baseline": other, "run": run_id, "pass1_baseline": c.pass1_a,
                                "pass1_run": c.pass1_b, "difference": b.difference,
                                "ci_low": b.ci_low, "ci_high": b.ci_high,
                                "bootstrap_p": b.p_value, "only_baseline": m.only_a,
                                "only_run": m.only_b, "mcnemar_p": m.p_value}]),
                 "eval_comparison")
