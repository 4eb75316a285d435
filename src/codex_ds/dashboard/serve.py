"""The dashboard's server process: ``streamlit run`` after importing what the pages use.

Streamlit imports the app script's modules when the first browser session runs it, so that
session would wait for pandas, Plotly, SciPy and the package's analysis modules to import
(about 1.5 s on a 2-core machine) on top of its queries. The server imports them once at
start instead. The dashboard's own modules (``codex_ds.dashboard.*``) are not preloaded:
their ``st.cache_data`` functions must be created inside the Streamlit runtime.

    python -m codex_ds.dashboard.serve run APP_FILE [streamlit options]
"""

from __future__ import annotations

import contextlib
import importlib
import sys

#: Modules the pages import (directly or when they first compute), heaviest first.
PRELOAD = (
    "pandas",
    "scipy.stats",
    "plotly.graph_objects",
    "plotly.express",
    "streamlit.elements.plotly_chart",
    "codex_ds.evaluation.report",
    "codex_ds.evaluation.metrics",
    "codex_ds.evaluation.runs",
    "codex_ds.evaluation.store",
    "codex_ds.experiments.analysis",
    "codex_ds.experiments.frequentist",
    "codex_ds.experiments.power",
    "codex_ds.experiments.rollout",
    "codex_ds.experiments.sequential",
    "codex_ds.experiments.statistics",
    "codex_ds.causal.balance",
    "codex_ds.causal.dataset",
    "codex_ds.causal.design",
    "codex_ds.causal.estimate",
    "codex_ds.settings",
    "codex_ds.telemetry.schema",
    "codex_ds.warehouse.alerts",
    "codex_ds.warehouse.catalog",
    "codex_ds.warehouse.db",
)


def preload() -> None:
    """Import :data:`PRELOAD`; a module that cannot be imported (an optional dependency
    missing) is left for its page to report, as without the preload."""
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def main(argv: list[str]) -> None:
    preload()
    from streamlit.web import cli

    sys.argv = ["streamlit", *argv]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
