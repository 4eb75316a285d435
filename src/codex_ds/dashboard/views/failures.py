"""Failure diagnostics: the failure taxonomy of an evaluation run with an example of each
class (code and error), and the errors of builds and tests in telemetry."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from codex_ds.dashboard import data, ui


def render(filters: data.Filters) -> None:
    st.title("Failure Diagnostics")
    ui.filters_caption(filters, "the telemetry tables; the taxonomy is of one evaluation run")
    st.subheader("Telemetry: build and test errors")
    types = data.query("error_types", filters)
    if not types.empty:
        st.plotly_chart(
            px.bar(types, x="error_type", y="runs", color="language", title="Errors by type"),
            width="stretch",
        )
    ui.table(types, "error_types")
    ui.table(data.query("top_error_messages", filters), "top_error_messages")
    st.subheader("Evaluation: failure taxonomy")
    runs = data.eval_runs()
    if runs.empty:
        st.info("No evaluation run yet: `codex-ds eval run` stores one.")
        return
    run_id = st.selectbox("Run", list(runs["run_id"]), key="d_run")
    s = data.eval_summary(str(run_id))
    counts: list[tuple[str, int]] = sorted(s.failures.items(), key=lambda kv: (-kv[1], kv[0]))
    taxonomy = pd.DataFrame(
        counts,
        columns=["failure_class", "samples"],
    )
    if not taxonomy.empty:
        st.plotly_chart(px.bar(taxonomy, x="failure_class", y="samples"),
                        width="stretch")
    ui.table(taxonomy, f"failure_taxonomy_{run_id}")
    st.subheader("Examples")
    for cls, ex in s.examples.items():
        with st.expander(f"{cls}: task {ex.get('task_id')} sample {ex.get('sample_index')}"):
            st.code(str(ex.get("completion") or ""), language="python")
            st.write({k: v for k, v in ex.items() if k != "completion" and v is not None})
