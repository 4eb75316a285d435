"""Overview: the key metrics against the previous period, the daily trend, insights."""

from __future__ import annotations

import dataclasses

import plotly.express as px
import streamlit as st

from codex_ds.dashboard import data, summary, ui


def render(filters: data.Filters) -> None:
    st.title("Overview")
    ui.filters_caption(filters)
    current_daily = data.query("daily_metrics", filters)
    current_dau = data.query("active_users", filters)
    previous = None
    first, last = data.activity_range()
    start, end = filters.start_date or first, filters.end_date or last
    if start and end:
        prev_start, prev_end = summary.previous_period(start, end)
        prev = dataclasses.replace(filters, start_date=prev_start, end_date=prev_end)
        # A previous period that ends before the first day of activity is empty: not queried.
        previous = summary.pooled(
            data.query("daily_metrics", prev).to_dict("records"),
            data.query("active_users", prev).to_dict("records"),
        ) if first is None or prev_end >= first else {"shown": 0}
        if previous["shown"]:
            st.caption(f"Change against the previous period, {prev_start} → {prev_end}.")
        else:
            previous = None
            st.caption(
                f"No suggestions in the previous period ({prev_start} → {prev_end}): narrow "
                "the date range in the sidebar to compare two periods."
            )
    current = summary.pooled(current_daily.to_dict("records"), current_dau.to_dict("records"))
    metrics = summary.key_metrics(current, previous or {})
    for col, m in zip(st.columns(len(metrics)), metrics, strict=True):
        if m.unit == "%":
            value, delta = ui.percent(m.current), (
                None if m.change is None else f"{100 * m.change:+.1f} pts"
            )
        elif m.unit == "ms":
            value = "–" if m.current is None else f"{m.current:.0f} ms"
            delta = None if m.change is None else f"{m.change:+.1f} ms"
        else:
            value = "–" if m.current is None else f"{m.current:,.0f}"
            delta = None if m.change is None else f"{m.change:+,.1f}"
        col.metric(
            m.label, value, delta, delta_color="inverse" if m.unit == "ms" else "normal"
        )
    st.subheader("Insights")
    by_language = data.query("acceptance_by_language", filters)
    decisions = [(r.experiment, r.decision, r.reason) for r in data.experiments()]
    alerts = data.stored_alerts(filters)
    for line in summary.insights(metrics, by_language.to_dict("records"), decisions, len(alerts)):
        st.markdown(f"- {line}")
    st.subheader("Daily acceptance")
    if not current_daily.empty:
        fig = px.line(
            current_daily,
            x="day",
            y=["acceptance_rate", "acceptance_rate_7d"],
            labels={"value": "acceptance rate", "variable": ""},
        )
        st.plotly_chart(fig, width="stretch")
    ui.table(current_daily, "daily_metrics")
