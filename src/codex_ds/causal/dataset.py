"""The per-user table of the causal analysis, read from the warehouse (the I/O edge of
:mod:`codex_ds.causal`; the estimators themselves take arrays).

The SQL is the catalog query ``causal_user_outcomes`` (one row per user with at least one
``dev_outcomes`` week: adoption of a feature, weekly merged PRs, pre-treatment covariates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from codex_ds.warehouse import catalog

QUERY = "causal_user_outcomes"
#: The treatment, outcome and covariates of the simulator's planted confounded effect.
DEFAULT_TREATMENT = "adopted"
DEFAULT_OUTCOME = "prs_merged_per_week"
DEFAULT_COVARIATES: tuple[str, ...] = ("segment", "tenure_days", "segment:tenure_days")

__all__ = [
    "DEFAULT_COVARIATES",
    "DEFAULT_OUTCOME",
    "DEFAULT_TREATMENT",
    "QUERY",
    "register_tables",
    "user_outcomes",
]


def user_outcomes(
    con: duckdb.DuckDBPyConnection,
    *,
    feature: str = "chat",
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    segment: str | None = None,
) -> pd.DataFrame:
    """Run ``causal_user_outcomes`` and return it as a DataFrame (one row per user)."""
    params: dict[str, Any] = {"feature": feature}
    for key, value in (("start_date", start_date), ("end_date", end_date), ("segment", segment)):
        if value is not None:
            params[key] = value
    q = catalog.default_catalog().get(QUERY)
    return catalog.run(con, q, params).table.to_pandas()


def register_tables(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]
) -> duckdb.DuckDBPyConnection:
    """Expose in-memory Arrow tables (e.g. a simulation's ``users``, ``feature_adoption`` and
    ``dev_outcomes``) to ``con`` under their names, without loading the whole warehouse."""
    for name in ("users", "feature_adoption", "dev_outcomes"):
        con.register(name, tables[name])
    return con
