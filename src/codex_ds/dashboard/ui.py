"""Rendering pieces every page shares: the sidebar filters, tables with a CSV download, the
page shown when the warehouse is missing or empty."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st

from codex_ds.dashboard import data

ALL = "All"
FILTER_KEYS = ("f_dates", "f_language", "f_editor", "f_segment", "f_model_version")


def sidebar_filters(path: Path) -> data.Filters:
    """Draw the global filters in the sidebar and return them (kept across pages by key)."""
    choices = data.filter_choices(str(path), data.version(path))
    side = st.sidebar
    side.header("Filters")
    start, end = choices.first_day, choices.last_day
    picked_start, picked_end = start, end
    if start is not None and end is not None:
        picked = side.date_input(
            "Date range", value=(start, end), min_value=start, max_value=end, key="f_dates"
        )
        if isinstance(picked, tuple) and len(picked) == 2:
            picked_start, picked_end = picked
        elif isinstance(picked, tuple) and len(picked) == 1:
            picked_start = picked_end = picked[0]
        elif isinstance(picked, dt.date):
            picked_start = picked_end = picked

    def pick(label: str, options: tuple[str, ...], key: str) -> str | None:
        value = side.selectbox(label, (ALL, *options), key=key)
        return None if value in (None, ALL) else str(value)

    # The whole range means "no date filter" (NULL): the same rows, one shared cache entry.
    return data.Filters(
        start_date=None if picked_start == start else picked_start,
        end_date=None if picked_end == end else picked_end,
        language=pick("Language", choices.languages, "f_language"),
        editor=pick("Editor", choices.editors, "f_editor"),
        segment=pick("Segment", choices.segments, "f_segment"),
        model_version=pick("Model version", choices.model_versions, "f_model_version"),
    )


def filters_caption(filters: data.Filters, applies: str = "") -> None:
    parts = [
        f"{filters.start_date or 'first day'} → {filters.end_date or 'last day'}"
        if filters.start_date or filters.end_date
        else "all dates",
        *(
            f"{k}={v}"
            for k, v in (
                ("language", filters.language),
                ("editor", filters.editor),
                ("segment", filters.segment),
                ("model", filters.model_version),
            )
            if v
        ),
    ]
    st.caption("Filters: " + ", ".join(parts) + (f" — {applies}" if applies else ""))


def table(frame: pd.DataFrame, name: str, *, caption: str | None = None) -> None:
    """A table and a button that downloads it as CSV (``<name>.csv``)."""
    if caption:
        st.caption(caption)
    if frame.empty:
        st.info(f"No rows for `{name}` with these filters.")
        return
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        f"Download {name}.csv",
        frame.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv_{name}",
    )


def percent(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or x != x else f"{100 * x:.{digits}f} %"


def no_warehouse(state: data.WarehouseState, path: Path) -> None:
    """The friendly page for a missing or empty warehouse: what fills it."""
    st.title("Codex DS")
    if state == "missing":
        st.warning(f"There is no warehouse at `{path}` yet.")
    else:
        st.warning(f"The warehouse at `{path}` holds no telemetry and no evaluation runs yet.")
    st.markdown(
        "Fill it with one of these commands (same workspace: `--home` or `CODEX_DS_HOME`), "
        "then reload this page:\n\n"
        "- `codex-ds simulate` — simulated telemetry with planted effects (quickest start)\n"
        "- `codex-ds ingest FILE...` — your own telemetry logs\n"
        "- `codex-ds all` — simulate and run every analysis\n"
        "- `codex-ds eval run` — an offline code evaluation"
    )
