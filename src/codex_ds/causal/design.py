"""From a per-unit table to the arrays the estimators take: outcome, treatment, covariates.

A covariate term is a column name (numeric and boolean columns enter as they are; text and
categorical columns as indicators of every level but the first in sorted order), ``a:b`` (the
product of the expanded columns of ``a`` and ``b``) or ``x^2`` (a numeric column squared).
Bad input gives a :class:`~codex_ds.causal.effects.CausalError` naming the column: a missing
column, missing values, a treatment that is not binary, a constant or collinear covariate, too
few treated or control units.

>>> import pandas as pd
>>> f = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "t": [0, 1, 0, 1, 0, 1],
...                   "seg": ["a", "b", "a", "c", "b", "c"], "x": [1.0, 3, 2, 5, 4, 7]})
>>> d = causal_design(f, "t", "y", ["seg", "x", "x^2"], min_per_arm=1)
>>> d.names
('seg[b]', 'seg[c]', 'x', 'x^2')
>>> d.X[:, 3].tolist()
[1.0, 9.0, 4.0, 25.0, 16.0, 49.0]
>>> causal_design(f.assign(t=[0, 1, 2, 1, 0, 1]), "t", "y", ["x"]).code
'non_binary_treatment'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from codex_ds.causal.effects import CausalError

FloatArray = npt.NDArray[np.float64]

#: Fewer treated (or control) units than this is refused.
MIN_UNITS_PER_ARM = 10

__all__ = ["MIN_UNITS_PER_ARM", "CausalData", "causal_design", "check_arrays"]


@dataclass(frozen=True, eq=False)
class CausalData:
    """Outcome ``y``, binary treatment ``t`` (0.0/1.0) and covariates ``X`` (n × p, no
    intercept column), with the covariates' names."""

    y: FloatArray
    t: FloatArray
    X: FloatArray
    names: tuple[str, ...]
    treatment: str = "treatment"
    outcome: str = "outcome"

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_treated(self) -> int:
        return int(self.t.sum())

    @property
    def n_control(self) -> int:
        return self.n - self.n_treated

    def with_covariates(self, X: FloatArray, names: Sequence[str]) -> CausalData:
        return CausalData(self.y, self.t, X, tuple(names), self.treatment, self.outcome)

    def with_treatment(self, t: FloatArray) -> CausalData:
        return CausalData(self.y, t, self.X, self.names, self.treatment, self.outcome)

    def subset(self, mask: npt.NDArray[np.bool_]) -> CausalData:
        return CausalData(
            self.y[mask], self.t[mask], self.X[mask], self.names, self.treatment, self.outcome
        )


def _binary(values: pd.Series, name: str) -> FloatArray | CausalError:
    if values.dtype == bool:
        return values.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(values):
        arr = values.to_numpy(dtype=np.float64)
        levels = set(np.unique(arr).tolist())
        if levels <= {0.0, 1.0}:
            return arr
        shown = ", ".join(f"{v:g}" for v in sorted(levels)[:5])
        more = " ..." if len(levels) > 5 else ""
        return CausalError(
            "non_binary_treatment",
            f"treatment column {name!r} must be binary (0/1 or true/false); "
            f"it has {len(levels)} distinct values: {shown}{more}",
        )
    texts = sorted(map(str, values.unique()))
    return CausalError(
        "non_binary_treatment",
        f"treatment column {name!r} must be binary (0/1 or true/false); it holds text "
        f"values such as {', '.join(repr(v) for v in texts[:3])}",
    )


def _expand(frame: pd.DataFrame, column: str) -> tuple[list[str], list[FloatArray]]:
    s = frame[column]
    if s.dtype == bool or pd.api.types.is_numeric_dtype(s):
        return [column], [s.to_numpy(dtype=np.float64)]
    levels = sorted(map(str, s.astype(str).unique()))
    text = s.astype(str).to_numpy()
    return (
        [f"{column}[{lvl}]" for lvl in levels[1:]],
        [(text == lvl).astype(np.float64) for lvl in levels[1:]],
    )


def _term_columns(term: str) -> list[str]:
    if term.endswith("^2"):
        return [term[:-2]]
    return term.split(":")


def causal_design(
    frame: pd.DataFrame,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    *,
    min_per_arm: int = MIN_UNITS_PER_ARM,
) -> CausalData | CausalError:
    """Build :class:`CausalData` from a table with one row per unit."""
    if not covariates:
        return CausalError("bad_option", "at least one covariate is needed")
    needed = [treatment, outcome]
    for term in covariates:
        needed += [c for c in _term_columns(term) if c not in needed]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        return CausalError(
            "missing_column",
            f"column(s) {', '.join(map(repr, absent))} not in the data; "
            f"available: {', '.join(map(str, frame.columns))}",
        )
    missing = {c: int(frame[c].isna().sum()) for c in needed if frame[c].isna().any()}
    if missing:
        listed = ", ".join(f"{c!r} ({k} of {len(frame)} rows)" for c, k in missing.items())
        return CausalError(
            "missing_values",
            f"missing values in {listed}; drop or impute those rows first",
        )
    t = _binary(frame[treatment], treatment)
    if isinstance(t, CausalError):
        return t
    if not pd.api.types.is_numeric_dtype(frame[outcome]) and frame[outcome].dtype != bool:
        return CausalError("non_numeric", f"outcome column {outcome!r} must be numeric")
    y = frame[outcome].to_numpy(dtype=np.float64)

    names: list[str] = []
    cols: list[FloatArray] = []
    for term in covariates:
        if term.endswith("^2"):
            base = term[:-2]
            if not pd.api.types.is_numeric_dtype(frame[base]):
                return CausalError(
                    "non_numeric", f"covariate term {term!r}: {base!r} is not numeric"
                )
            names.append(term)
            cols.append(frame[base].to_numpy(dtype=np.float64) ** 2)
            continue
        parts = [_expand(frame, c) for c in term.split(":")]
        t_names, t_cols = parts[0]
        for p_names, p_cols in parts[1:]:
            t_names = [f"{a}:{b}" for a in t_names for b in p_names]
            t_cols = [a * b for a in t_cols for b in p_cols]
        if not t_names:
            return CausalError(
                "constant_covariate", f"covariate {term!r} is constant (one level only)"
            )
        names += t_names
        cols += t_cols
    X = np.column_stack(cols) if cols else np.empty((len(y), 0))
    return check_arrays(
        y, t, X, tuple(names), treatment=treatment, outcome=outcome, min_per_arm=min_per_arm
    )


def check_arrays(
    y: npt.ArrayLike,
    t: npt.ArrayLike,
    X: npt.ArrayLike,
    names: Sequence[str] | None = None,
    *,
    treatment: str = "treatment",
    outcome: str = "outcome",
    min_per_arm: int = MIN_UNITS_PER_ARM,
) -> CausalData | CausalError:
    """Validate arrays (the library entry point for callers without a DataFrame)."""
    y_arr = np.asarray(y, dtype=np.float64)
    t_arr = np.asarray(t, dtype=np.float64)
    X_arr = np.asarray(X, dtype=np.float64)
    if X_arr.ndim == 1:
        X_arr = X_arr[:, None]
    labels = tuple(names) if names is not None else tuple(f"x{i}" for i in range(X_arr.shape[1]))
    if not (len(y_arr) == len(t_arr) == X_arr.shape[0]) or len(labels) != X_arr.shape[1]:
        return CausalError(
            "bad_option",
            f"lengths differ: outcome {len(y_arr)}, treatment {len(t_arr)}, "
            f"covariates {X_arr.shape} with {len(labels)} names",
        )
    for label, arr in ((outcome, y_arr), (treatment, t_arr)):
        bad = int((~np.isfinite(arr)).sum())
        if bad:
            return CausalError("missing_values", f"{bad} missing or infinite values in {label!r}")
    bad_cols = [labels[j] for j in range(X_arr.shape[1]) if not np.isfinite(X_arr[:, j]).all()]
    if bad_cols:
        return CausalError(
            "missing_values", f"missing or infinite values in covariate(s) {', '.join(bad_cols)}"
        )
    levels = set(np.unique(t_arr).tolist())
    if not levels <= {0.0, 1.0}:
        return CausalError(
            "non_binary_treatment",
            f"treatment {treatment!r} must be 0/1; it has {len(levels)} distinct values",
        )
    n1 = int(t_arr.sum())
    n0 = len(t_arr) - n1
    if min(n1, n0) < min_per_arm:
        return CausalError(
            "too_few_units",
            f"{n1} treated and {n0} control units; each group needs at least {min_per_arm}",
        )
    const = [labels[j] for j in range(X_arr.shape[1]) if np.ptp(X_arr[:, j]) == 0]
    if const:
        return CausalError(
            "constant_covariate",
            f"covariate(s) {', '.join(map(repr, const))} take a single value; remove them",
        )
    if X_arr.shape[1] > 1:  # collinear with the intercept: a singular correlation matrix
        eig = np.linalg.eigvalsh(np.atleast_2d(np.corrcoef(X_arr, rowvar=False)))
        if eig[0] < 1e-10 * max(eig[-1], 1.0):
            return CausalError(
                "collinear_covariates",
                f"the covariates {', '.join(labels)} are collinear (with the intercept); "
                "drop redundant terms",
            )
    return CausalData(y_arr, t_arr, X_arr, labels, treatment, outcome)
