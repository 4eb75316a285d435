"""Data quality: the ingestion quarantine by file and reason, with the latest rows."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from codex_ds.dashboard import data, ui


def render(filters: data.Filters) -> None:
    st.title("Data Quality")
    ui.filters_caption(filters, "the date range applies")
    st.caption(
        "Rows refused at ingestion (`codex-ds ingest`). The date range selects them by the "
        "day they were quarantined, i.e. their ingest time, not the time of the events they "
        "carry; language, editor, segment and model version do not apply here, since a "
        "quarantined row may lack those fields or hold the invalid value itself."
    )
    frame = data.query("quarantine_summary", filters)
    if frame.empty:
        dated = filters.start_date or filters.end_date
        if dated:
            st.success("Nothing quarantined in this date range (of ingestion).")
        else:
            st.success("Nothing quarantined: every ingested row passed validation.")
    else:
        st.plotly_chart(
            px.bar(frame, x="file", y="quarantine_rows", color="reason",
                   title="Quarantined rows by file and reason"),
            width="stretch",
        )
    ui.table(frame, "quarantine_summary")
    ui.table(data.quarantine_examples(filters), "quarantine_rows",
             caption="The latest quarantined rows (`codex-ds warehouse quarantine`).")
