"""Telemetry: acceptance, latency, persistence, funnel, retention, engagement, segments."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from codex_ds.dashboard import data, ui

SECTIONS = ("Acceptance", "Latency", "Persistence", "Funnel", "Retention", "Engagement", "Alerts")
SEGMENTATIONS = {
    "language": "acceptance_by_language",
    "editor": "acceptance_by_editor",
    "segment": "acceptance_by_segment",
    "task_type": "acceptance_by_task_type",
    "model_version": "acceptance_by_model_version",
    "trigger": "acceptance_by_trigger",
}


def render(filters: data.Filters) -> None:
    st.title("Telemetry")
    ui.filters_caption(filters)
    # One section at a time: only the chosen one queries and draws (tabs would run them all).
    section = st.segmented_control(
        "Section", SECTIONS, default=SECTIONS[0], key="t_section", label_visibility="collapsed"
    ) or SECTIONS[0]
    if section == "Acceptance":
        by = st.selectbox("Split acceptance by", list(SEGMENTATIONS), key="t_split")
        name = SEGMENTATIONS[str(by)]
        frame = data.query(name, filters)
        if not frame.empty:
            st.plotly_chart(
                px.bar(frame, x=frame.columns[0], y="acceptance_rate", hover_data=["shown"]),
                width="stretch",
            )
        ui.table(frame, name)
    elif section == "Latency":
        frame = data.query("latency_percentiles", filters)
        if not frame.empty:
            st.plotly_chart(
                px.bar(frame, x="language", y="p50_ms", color="model_version", barmode="group",
                       error_y=frame["p90_ms"] - frame["p50_ms"],
                       labels={"p50_ms": "median latency (ms); bar to p90"}),
                width="stretch",
            )
        ui.table(frame, "latency_percentiles")
        buckets = data.query("acceptance_by_latency_bucket", filters)
        ui.table(buckets, "acceptance_by_latency_bucket")
    elif section == "Persistence":
        frame = data.query("persistence_by_checkpoint", filters)
        if not frame.empty:
            st.plotly_chart(
                px.line(frame, x="check_after_s",
                        y=["unchanged_share", "mostly_unchanged_share", "removed_share"],
                        markers=True, log_x=True),
                width="stretch",
            )
        ui.table(frame, "persistence_by_checkpoint")
    elif section == "Funnel":
        frame = data.query("suggestion_funnel", filters)
        if not frame.empty:
            st.plotly_chart(px.funnel(frame, x="suggestions", y="step"), width="stretch")
        ui.table(frame, "suggestion_funnel")
    elif section == "Retention":
        frame = data.query("cohort_retention_weekly", filters)
        if not frame.empty:
            grid = frame.pivot_table(index="cohort_week", columns="week_n", values="retention")
            grid.index = grid.index.astype(str)
            st.plotly_chart(
                px.imshow(grid, text_auto=".0%", aspect="auto", color_continuous_scale="Blues",
                          labels={"x": "weeks since signup", "y": "cohort week"}),
                width="stretch",
            )
        ui.table(frame, "cohort_retention_weekly")
    elif section == "Engagement":
        frame = data.query("active_users", filters)
        if not frame.empty:
            st.plotly_chart(px.line(frame, x="day", y=["dau", "wau", "mau"]),
                            width="stretch")
            st.plotly_chart(px.line(frame, x="day", y=["stickiness", "dau_wau"]),
                            width="stretch")
        ui.table(frame, "active_users")
    elif section == "Alerts":
        ui.table(data.stored_alerts(filters), "alerts",
                 caption="Alerts stored by `codex-ds monitor` (date range only).")
