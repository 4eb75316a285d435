"""The Streamlit entrypoint: ``streamlit run src/codex_ds/dashboard/app.py`` (or
``codex-ds dashboard``). The sidebar filters are drawn here, once, before the chosen page
runs, so they apply to every page; each page is a module of :mod:`codex_ds.dashboard.views`
with a ``render(filters)`` function.

The page modules live in ``views/``, not ``pages/``: Streamlit treats a ``pages/`` folder
beside the entrypoint as a legacy multipage app and would answer a deep link such as
``/overview`` by running ``pages/overview.py`` as a script, before ``st.navigation`` runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import streamlit as st

from codex_ds.dashboard import data, ui
from codex_ds.dashboard.views import (
    causal,
    copilot,
    data_quality,
    evaluation,
    experiments,
    failures,
    overview,
    telemetry,
)
from codex_ds.warehouse import db

#: (module, title, url path, icon), in the navigation's order.
PAGES: tuple[tuple[ModuleType, str, str, str], ...] = (
    (overview, "Overview", "overview", ":material/dashboard:"),
    (telemetry, "Telemetry", "telemetry", ":material/monitoring:"),
    (experiments, "Experiments", "experiments", ":material/science:"),
    (evaluation, "Code Evaluation", "evaluation", ":material/code:"),
    (failures, "Failure Diagnostics", "failures", ":material/bug_report:"),
    (causal, "Causal", "causal", ":material/call_split:"),
    (data_quality, "Data Quality", "data-quality", ":material/rule:"),
    (copilot, "Copilot", "copilot", ":material/hub:"),
)


def _page(module: ModuleType, filters: data.Filters) -> Callable[[], None]:
    def run() -> None:
        module.render(filters)

    run.__name__ = module.__name__.rsplit(".", 1)[-1]
    return run


def main(start: str | None = None) -> None:
    """Draw the app; ``start`` (a url path) chooses the default page (tests use it)."""
    st.set_page_config(page_title="Codex DS", layout="wide")
    path = data.warehouse_path()
    try:
        _main(path, start)
    except db.WarehouseError as exc:  # the CLI held the write lock longer than we wait
        st.warning(
            f"The warehouse is busy: {exc}. A CLI command (ingest, simulate, eval run) is "
            "writing to it; reload the page when it has finished."
        )


def _main(path: Path, start: str | None) -> None:
    state = data.state(path)
    if state != "ready":
        ui.no_warehouse(state, path)
        return
    filters = ui.sidebar_filters(path)
    pages = [
        st.Page(
            _page(module, filters),
            title=title,
            url_path=url,
            icon=icon,
            default=(url == start) if start else i == 0,
        )
        for i, (module, title, url, icon) in enumerate(PAGES)
    ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
