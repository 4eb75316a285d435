"""Copilot metrics (GitHub's API, ingested with `codex-ds ingest`): daily totals and the
split by language, editor, model or feature."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from codex_ds.dashboard import data, ui


def render(filters: data.Filters) -> None:
    st.title("Copilot")
    ui.filters_caption(filters, "date range only")
    totals = data.query("copilot_daily_totals", filters)
    if totals.empty:
        st.info("No Copilot metrics in the warehouse: `codex-ds ingest` a Copilot metrics API "
                "export to fill this page.")
        return
    st.plotly_chart(px.line(totals, x="day", y="acceptance_rate", color="scope_id"),
                    width="stretch")
    ui.table(totals, "copilot_daily_totals")
    dimension = st.selectbox("Split by", ["language", "editor", "model", "feature"], key="c_dim")
    split = data.query("copilot_by_dimension", filters, dimension=dimension)
    ui.table(split, f"copilot_by_{dimension}")
