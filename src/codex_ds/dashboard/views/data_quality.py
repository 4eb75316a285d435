"""Data quality: the ingestion quarantine by file and reason, with the latest rows."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from codex_ds.dashboard import data, ui


def render(filters: data.Filters) -> None:
    st.title("Data Quality")
    st.caption(
        "Rows refused at ingestion (`codex-ds ingest`), over every ingest: the sidebar filters "
        "select events by their own time and fields, which quarantined rows may lack."
    )
    frame = data.query("quarantine_summary")
    if frame.empty:
        st.success("Nothing quarantined: every ingested row passed validation.")
    else:
        st.plotly_chart(
            px.bar(frame, x="file", y="quarantine_rows", color="reason",
                   title="Quarantined rows by file and reason"),
            width="stretch",
        )
    ui.table(frame, "quarantine_summary")
    ui.table(data.quarantine_examples(), "quarantine_rows",
             caption="The latest quarantined rows (`codex-ds warehouse quarantine`).")
