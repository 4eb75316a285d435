"""The acceptance model: which suggestions do developers accept?

A logistic regression of acceptance (accepted in full or in part, among shown suggestions)
on latency, length, language, the user's segment, the session's task type, the trigger,
the model version and the time of day (METHODOLOGY.md §6.1):

    logit P(accepted) = β0 + segment + language + task_type + trigger + β_lat · latency_s
                        + β_len · ln(suggested_chars) + β_v · [model_version ≠ reference]
                        + β_eve · [evening]

with treatment (dummy) coding against reference levels; the reference of a factor is the
simulator's (``beginner``, ``python``, ``feature``, ``automatic``, ``v1``) when present in the
data and its most frequent level otherwise, so the estimates are directly comparable with
``ground_truth.json["acceptance_model"]["coefficients"]``.

**Scale path.** The data arrive as covariate patterns from the SQL query
``acceptance_model_patterns`` (optionally split by user): the categorical levels, a 25 ms
latency bucket and a quarter-unit ln-length bucket, with the count of shown and accepted
suggestions and the within-pattern means of latency and ln(length). The binomial likelihood
of the patterns is the likelihood of the suggestions with each suggestion's latency and
length replaced by its pattern's mean (a within-bucket standard deviation of about 7 ms and
0.07 in ln-length, i.e. about 0.005 and 0.015 on the logit scale; the bias this introduces is
a small fraction of a standard error, which the tests check against the row-level fit).

The fit is Newton-Raphson (IRLS) written for this design: every dummy column is a function of
the pattern's *cell* (its combination of categorical levels), so ``X'WX`` and ``X'(y - nμ)``
are assembled from per-cell sums (``numpy.bincount``) and the two continuous columns, never
from a dense design matrix. Standard errors are clustered by user (the sandwich
``c · H⁻¹ (Σ_u U_u U_u') H⁻¹`` with per-user score sums ``U_u`` and statsmodels' small-sample
factor ``c = G/(G-1) · (N-1)/(N-K)``, N suggestions, K parameters, G users), or model based
when the patterns carry no user. At scale, :func:`fit_in_warehouse` fits β on the patterns
*without* the user split (per-user patterns barely shrink the data) and computes the per-user
score sums ``U_u`` in a second SQL pass (``warehouse/queries/modeling/
acceptance_user_scores.sql``: each suggestion joined to its pattern's fitted probability,
residuals summed per user and factor level). ``engine="statsmodels"`` fits the same likelihood with
``statsmodels.GLM`` (the reference the tests compare with to 1e-6).

Prediction quality uses scikit-learn: AUC and Brier score (``sklearn.metrics``, each
pattern weighted by its accepted and rejected counts), a calibration table (predicted vs
observed rate by decile of the prediction) and K-fold cross-validation grouped by user
(``sklearn.model_selection.GroupKFold``).

Degenerate input (no shown suggestion, a single class, a constant covariate, missing
values, separation) gives notes or an :class:`AcceptanceModelResult` with an ``error`` code,
never an exception or a NaN. Library code: nothing here prints.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> n = 4000
>>> lat = rng.uniform(0.1, 1.2, n)
>>> trig = rng.choice(["automatic", "manual"], n)
>>> p = 1 / (1 + np.exp(-(0.2 - 0.8 * lat + 0.5 * (trig == "manual"))))
>>> frame = pd.DataFrame({"user_id": [f"u{i % 50}" for i in range(n)], "trigger": trig,
...     "latency_s": lat, "shown": 1, "accepted": (rng.random(n) < p).astype(int)})
>>> fit = fit_acceptance_model(frame, cv_folds=0)
>>> fit.error is None, [c.name for c in fit.coefficients]
(True, ['intercept', 'trigger[manual]', 'latency_s'])
>>> round(fit.coefficient("latency_s").estimate, 2)
-0.88
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse, stats

__all__ = [
    "CONTINUOUS",
    "FACTORS",
    "REFERENCE_LEVELS",
    "AcceptanceModelResult",
    "CalibrationBin",
    "Coefficient",
    "PredictionQuality",
    "TruthCheck",
    "compare_with_truth",
    "fit_acceptance_model",
    "fit_in_warehouse",
    "load_patterns",
    "patterns_from_rows",
]

Progress = Callable[[str, float], None]
Engine = Literal["irls", "statsmodels"]
ErrorCode = Literal[
    "missing_columns", "no_data", "single_class", "not_converged", "separation", "singular"
]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Categorical covariates, in the order of the design (as in ground_truth.json).
FACTORS: tuple[str, ...] = ("segment", "language", "task_type", "trigger", "model_version")
#: The simulator's reference levels (coefficient 0), used when present in the data.
REFERENCE_LEVELS: dict[str, str] = {
    "segment": "beginner",
    "language": "python",
    "task_type": "feature",
    "trigger": "automatic",
    "model_version": "v1",
}
#: Continuous covariates: design name → (pattern sum column, row-level column).
CONTINUOUS: dict[str, tuple[str, str]] = {
    "latency_s": ("latency_s_sum", "latency_s"),
    "log_suggested_chars": ("log_chars_sum", "log_suggested_chars"),
}
#: Coefficient order of the simulator's truth: factors, then the continuous terms, with
#: model_version and evening last.
_ORDER = (
    "segment",
    "language",
    "task_type",
    "trigger",
    "latency_s",
    "log_suggested_chars",
    "model_version",
    "evening",
)
#: The columns that identify a covariate pattern of ``acceptance_model_patterns``.
PATTERN_KEYS: tuple[str, ...] = (*FACTORS, "evening", "latency_bucket", "length_bucket")
#: Per-user score sums for clustered standard errors: given the fitted patterns (their
#: :data:`PATTERN_KEYS`, ``probability``, ``latency_s``, ``log_suggested_chars``), return
#: the rows of the query ``acceptance_user_scores`` (see :func:`fit_in_warehouse`).
UserScores = Callable[[pd.DataFrame], pd.DataFrame]
#: |β| beyond this on the logit scale (odds ratio e^15) means (quasi-)separation.
SEPARATION_LOGIT = 15.0


# =========================================================================== results


@dataclass(frozen=True)
class Coefficient:
    """One term of the model, on the logit scale and as an odds ratio."""

    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    #: The model-based (inverse information) standard error, for comparison with ``se``
    #: when ``se`` is clustered: few users carrying a level make the clustered one noisy.
    model_se: float | None = None

    @property
    def odds_ratio(self) -> float:
        return math.exp(self.estimate)

    @property
    def odds_ratio_ci(self) -> tuple[float, float]:
        return math.exp(self.ci_low), math.exp(self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.odds_ratio_ci
        return asdict(self) | {"odds_ratio": self.odds_ratio, "odds_ratio_ci": [lo, hi]}


@dataclass(frozen=True)
class CalibrationBin:
    """Suggestions whose predicted acceptance falls in one decile of the predictions."""

    predicted: float
    observed: float
    suggestions: int


@dataclass(frozen=True)
class PredictionQuality:
    """In-sample and cross-validated discrimination and calibration."""

    auc: float
    brier: float
    calibration: tuple[CalibrationBin, ...]
    cv_folds: int
    cv_grouped_by: Literal["user", "pattern"]
    cv_auc: tuple[float, ...]
    cv_brier: tuple[float, ...]

    @property
    def cv_auc_mean(self) -> float | None:
        return float(np.mean(self.cv_auc)) if self.cv_auc else None

    @property
    def cv_brier_mean(self) -> float | None:
        return float(np.mean(self.cv_brier)) if self.cv_brier else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "brier": self.brier,
            "calibration": [asdict(b) for b in self.calibration],
            "cv_folds": self.cv_folds,
            "cv_grouped_by": self.cv_grouped_by,
            "cv_auc": list(self.cv_auc),
            "cv_brier": list(self.cv_brier),
            "cv_auc_mean": self.cv_auc_mean,
            "cv_brier_mean": self.cv_brier_mean,
        }


@dataclass(frozen=True)
class AcceptanceModelResult:
    """The fitted acceptance model, or an ``error`` code and ``message`` saying why not."""

    coefficients: tuple[Coefficient, ...] = ()
    reference_levels: dict[str, str] = field(default_factory=dict)
    covariance: Literal["cluster_user", "model"] = "model"
    engine: Engine = "irls"
    suggestions: int = 0
    accepted: int = 0
    patterns: int = 0
    users: int = 0
    dropped_missing: int = 0
    iterations: int = 0
    log_likelihood: float | None = None
    prediction: PredictionQuality | None = None
    notes: tuple[str, ...] = ()
    error: ErrorCode | None = None
    message: str = ""
    confidence: float = 0.95
    #: Covariance of the estimates, in the order of ``coefficients`` (for Wald tests).
    covariance_matrix: tuple[tuple[float, ...], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    def wald_chi2(self, values: Mapping[str, float]) -> tuple[float, int]:
        """Joint Wald statistic of H0: every coefficient named in ``values`` equals its
        value; returns (chi², degrees of freedom)."""
        idx = [i for i, c in enumerate(self.coefficients) if c.name in values]
        diff = np.array(
            [self.coefficients[i].estimate - values[self.coefficients[i].name] for i in idx]
        )
        cov = np.asarray(self.covariance_matrix)[np.ix_(idx, idx)]
        return float(diff @ np.linalg.solve(cov, diff)), len(idx)

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.suggestions if self.suggestions else None

    def coefficient(self, name: str) -> Coefficient:
        for c in self.coefficients:
            if c.name == name:
                return c
        raise KeyError(f"no coefficient {name!r}; terms: {[c.name for c in self.coefficients]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error,
            "message": self.message,
            "engine": self.engine,
            "covariance": self.covariance,
            "confidence": self.confidence,
            "suggestions": self.suggestions,
            "accepted": self.accepted,
            "acceptance_rate": self.acceptance_rate,
            "patterns": self.patterns,
            "users": self.users,
            "dropped_missing": self.dropped_missing,
            "iterations": self.iterations,
            "log_likelihood": self.log_likelihood,
            "reference_levels": self.reference_levels,
            "coefficients": [c.to_dict() for c in self.coefficients],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "notes": list(self.notes),
        }


def _failed(code: ErrorCode, message: str, **kw: Any) -> AcceptanceModelResult:
    return AcceptanceModelResult(error=code, message=message, **kw)


# =========================================================================== input


def load_patterns(
    con: Any, params: Mapping[str, Any] | None = None, *, by_user: bool = True
) -> pd.DataFrame:
    """Run ``acceptance_model_patterns`` on a warehouse connection (DuckDB or Spark)."""
    from codex_ds.warehouse import catalog

    q = catalog.default_catalog().get("acceptance_model_patterns")
    bound = dict(params or {}) | {"by_user": by_user}
    # categorical columns: millions of patterns share a few dozen level strings
    return catalog.run(con, q, bound).table.to_pandas(strings_to_categorical=True)


def patterns_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Row-level suggestions (one row each, 0/1 ``accepted``) as one-suggestion patterns.

    ``rows`` holds the factor columns, ``latency_s``, ``log_suggested_chars``, ``evening``,
    ``accepted`` and optionally ``user_id``: the exact, unbucketed design.
    """
    out = rows.copy()
    out["shown"] = 1
    for sum_col, row_col in CONTINUOUS.values():
        if row_col in out.columns:
            out[sum_col] = out[row_col]
    return out


def _codes(column: pd.Series) -> tuple[I64, npt.NDArray[Any]]:
    """Integer codes of a factor and its levels (as text, sorted), fast for categoricals."""
    cat = column.astype("category").cat.remove_unused_categories()
    levels = np.asarray([str(v) for v in cat.cat.categories], dtype=object)
    order = np.argsort(levels, kind="stable")
    rank = np.empty(len(levels), dtype=np.int64)
    rank[order] = np.arange(len(levels))
    codes = rank[np.asarray(cat.cat.codes, dtype=np.int64)]
    return codes, levels[order]


@dataclass
class _Design:
    """The model's data, pattern by pattern: cells, continuous covariates, counts."""

    names: list[str]
    n_dummy: int  # leading columns that are functions of the cell (intercept included)
    cell: I64  # cell index of each pattern
    cell_dummies: F64  # (cells, n_dummy)
    z: F64  # (patterns, n_continuous)
    shown: F64
    accepted: F64
    user: I64 | None
    n_users: int
    reference: dict[str, str]
    notes: list[str]
    dropped: int
    #: Pattern keys and mean continuous covariates of each kept pattern (None when the
    #: data are not patterns of ``acceptance_model_patterns``).
    keys: pd.DataFrame | None = None


def _prepare(frame: pd.DataFrame) -> _Design | AcceptanceModelResult:
    if "shown" not in frame.columns or "accepted" not in frame.columns:
        return _failed(
            "missing_columns",
            "the acceptance data need the columns 'shown' and 'accepted' (counts per pattern, "
            f"or 1 and 0/1 per suggestion); got {', '.join(map(str, frame.columns))}",
        )
    notes: list[str] = []
    factors = [f for f in FACTORS if f in frame.columns]
    continuous = []
    for name, (sum_col, row_col) in CONTINUOUS.items():
        if sum_col in frame.columns:
            continuous.append((name, sum_col, True))
        elif row_col in frame.columns:
            continuous.append((name, row_col, False))
    has_evening = "evening" in frame.columns
    if not factors and not continuous and not has_evening:
        return _failed(
            "missing_columns",
            "no covariate column: expected some of "
            + ", ".join([*FACTORS, *CONTINUOUS, "evening"]),
        )
    shown = pd.to_numeric(frame["shown"], errors="coerce").to_numpy(dtype=float)
    accepted = pd.to_numeric(frame["accepted"], errors="coerce").to_numpy(dtype=float)
    used = factors + [c for _, c, _ in continuous] + (["evening"] if has_evening else [])
    missing = frame[used].isna().any(axis=1).to_numpy() | np.isnan(shown) | np.isnan(accepted)
    dropped = int(np.nansum(np.where(missing, shown, 0.0)))
    if missing.any():
        cols = [c for c in used if frame[c].isna().any()]
        notes.append(
            f"{dropped:,} suggestions ({int(missing.sum()):,} patterns) with a missing value "
            f"in {', '.join(cols) or 'shown/accepted'} left out"
        )
    keep = ~missing & (shown > 0)
    if not keep.all():
        frame = frame.loc[keep]
    shown, accepted = shown[keep], accepted[keep]
    if np.any(accepted < 0) or np.any(accepted > shown):
        return _failed("no_data", "accepted must lie between 0 and shown in every pattern")
    total, acc = float(shown.sum()), float(accepted.sum())
    if total == 0:
        return _failed(
            "no_data",
            "no shown suggestion with complete covariates to model",
            dropped_missing=dropped,
        )
    if acc == 0 or acc == total:
        kind = "accepted" if acc == total else "rejected"
        return _failed(
            "single_class",
            f"every one of the {int(total):,} shown suggestions was {kind}: a logistic model "
            "needs both accepted and rejected suggestions",
            suggestions=int(total),
            accepted=int(acc),
            dropped_missing=dropped,
        )

    names = ["intercept"]
    codes: list[I64] = []
    level_cols: list[tuple[int, int]] = []  # (factor position, level code) per dummy column
    reference: dict[str, str] = {}
    kept_factors: list[str] = []
    for f in [f for f in _ORDER if f in factors]:
        code, levels = _codes(frame[f])
        if len(levels) < 2:
            notes.append(f"{f} is constant ({levels[0]!r}) in the data: left out of the model")
            continue
        weight = np.bincount(code, weights=shown, minlength=len(levels))
        ref = REFERENCE_LEVELS.get(f)
        ref_code = (
            int(np.flatnonzero(levels == ref)[0]) if ref in levels else int(np.argmax(weight))
        )
        reference[f] = str(levels[ref_code])
        pos = len(kept_factors)
        kept_factors.append(f)
        codes.append(code.astype(np.int64))
        for k, level in enumerate(levels):
            if k != ref_code:
                names.append(f"{f}[{level}]")
                level_cols.append((pos, k))
    evening_code: I64 | None = None
    if has_evening:
        ev = frame["evening"].astype(bool).to_numpy()
        if ev.all() or not ev.any():
            notes.append("evening is constant in the data: left out of the model")
        else:
            evening_code = ev.astype(np.int64)
    # cell = combination of the factor levels (and evening)
    all_codes = [*codes, *([evening_code] if evening_code is not None else [])]
    if all_codes:
        dims = tuple(int(c.max()) + 1 for c in all_codes)
        flat = np.ravel_multi_index(tuple(all_codes), dims)
        cell_codes, flat_cells = pd.factorize(flat, sort=True)
        cell = np.asarray(cell_codes, dtype=np.int64)
        uniq = np.column_stack(np.unravel_index(np.asarray(flat_cells), dims))
    else:
        uniq = np.zeros((1, 0), dtype=np.int64)
        cell = np.zeros(len(frame), dtype=np.int64)
    n_cells = len(uniq)
    dummy_cols = [np.ones(n_cells)]
    dummy_cols += [(uniq[:, pos] == k).astype(float) for pos, k in level_cols]
    z_cols: list[F64] = []
    z_names: list[str] = []
    for name, col, is_sum in continuous:
        v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        x = v / shown if is_sum else v
        if not np.all(np.isfinite(x)):
            return _failed("no_data", f"{name} has values that are not finite numbers")
        if float(np.ptp(x)) == 0.0:
            notes.append(f"{name} is constant ({x[0]:g}) in the data: left out of the model")
            continue
        z_cols.append(x)
        z_names.append(name)
    if evening_code is not None:
        dummy_cols.append(uniq[:, -1].astype(float))
        names.append("evening")
    dummies = np.column_stack(dummy_cols)
    user: I64 | None = None
    n_users = 0
    if "user_id" in frame.columns and frame["user_id"].notna().all():
        user = np.asarray(frame["user_id"].astype("category").cat.codes, dtype=np.int64)
        n_users = int(user.max()) + 1
    keys: pd.DataFrame | None = None
    if all(c in frame.columns for c in PATTERN_KEYS) and all(
        sum_col in frame.columns for sum_col, _ in CONTINUOUS.values()
    ):
        keys = frame[list(PATTERN_KEYS)].reset_index(drop=True)
        for name, (sum_col, _) in CONTINUOUS.items():
            keys[name] = pd.to_numeric(frame[sum_col]).to_numpy(dtype=float) / shown
    design = _Design(
        names=names + z_names,
        n_dummy=dummies.shape[1],
        cell=cell,
        cell_dummies=dummies,
        z=np.column_stack(z_cols) if z_cols else np.zeros((len(frame), 0)),
        shown=shown,
        accepted=accepted,
        user=user,
        n_users=n_users,
        reference=reference,
        notes=notes,
        dropped=dropped,
        keys=keys,
    )
    return design


# =========================================================================== the fit


def _sigmoid(eta: F64) -> F64:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * eta)), dtype=float)


def _eta(d: _Design, beta: F64, rows: slice | npt.NDArray[Any] | None = None) -> F64:
    k = d.n_dummy
    cell_eta = d.cell_dummies @ beta[:k]
    if rows is None:
        eta = cell_eta[d.cell]
        if d.z.shape[1]:
            eta = eta + d.z @ beta[k:]
        return np.asarray(eta, dtype=float)
    eta = cell_eta[d.cell[rows]]
    if d.z.shape[1]:
        eta = eta + d.z[rows] @ beta[k:]
    return np.asarray(eta, dtype=float)


def _hessian_gradient(
    d: _Design, mask: npt.NDArray[np.bool_] | None, beta: F64
) -> tuple[F64, F64, float]:
    """X'WX, X'(y - nμ) and the log-likelihood on the patterns in ``mask`` (all if None)."""
    cell, z, n, y = d.cell, d.z, d.shown, d.accepted
    if mask is not None:
        cell, z, n, y = cell[mask], z[mask], n[mask], y[mask]
    k, q = d.n_dummy, z.shape[1]
    cell_eta = d.cell_dummies @ beta[:k]
    eta = cell_eta[cell] + (z @ beta[k:] if q else 0.0)
    mu = _sigmoid(eta)
    w = n * mu * (1.0 - mu)
    r = y - n * mu
    n_cells = len(d.cell_dummies)
    wc = np.bincount(cell, weights=w, minlength=n_cells)
    rc = np.bincount(cell, weights=r, minlength=n_cells)
    dm = d.cell_dummies
    p = k + q
    h = np.empty((p, p))
    g = np.empty(p)
    h[:k, :k] = (dm * wc[:, None]).T @ dm
    g[:k] = dm.T @ rc
    for j in range(q):
        wzc = np.bincount(cell, weights=w * z[:, j], minlength=n_cells)
        h[:k, k + j] = dm.T @ wzc
        h[k + j, :k] = h[:k, k + j]
        g[k + j] = float(np.dot(r, z[:, j]))
        for m in range(j, q):
            h[k + j, k + m] = h[k + m, k + j] = float(np.dot(w * z[:, j], z[:, m]))
    # binomial log-likelihood (without the constant log C(n, y))
    ll = float(np.sum(y * eta - n * np.logaddexp(0.0, eta)))
    return h, g, ll


def _newton(
    d: _Design, mask: npt.NDArray[np.bool_] | None = None, max_iter: int = 50, tol: float = 1e-10
) -> tuple[F64, F64, float, int, bool]:
    """Maximum likelihood by Newton-Raphson with step halving: β, X'WX, ll, iterations."""
    p = d.n_dummy + d.z.shape[1]
    beta = np.zeros(p)
    n = d.shown if mask is None else d.shown[mask]
    y = d.accepted if mask is None else d.accepted[mask]
    rate = float(y.sum() / n.sum())
    beta[0] = math.log(rate / (1 - rate))
    h, g, ll = _hessian_gradient(d, mask, beta)
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        while True:
            cand = beta + t * step
            h2, g2, ll2 = _hessian_gradient(d, mask, cand)
            if ll2 >= ll - 1e-12 * abs(ll) or t < 1e-6:
                break
            t *= 0.5
        converged = (
            abs(ll2 - ll) <= tol * (abs(ll) + 1.0) and float(np.max(np.abs(t * step))) < 1e-6
        )
        beta, h, g, ll = cand, h2, g2, ll2
        if converged:
            return beta, h, ll, it, True
    return beta, h, ll, max_iter, False


def _cluster_meat(d: _Design, beta: F64) -> F64:
    """Σ_u U_u U_u' with U_u the user's summed score x_i (y_i - n_i μ_i)."""
    assert d.user is not None
    mu = _sigmoid(_eta(d, beta))
    r = d.accepted - d.shown * mu
    n_cells = len(d.cell_dummies)
    user_cell = sparse.csr_matrix(
        (r, (d.user, d.cell)), shape=(d.n_users, n_cells)
    )  # summed residual per (user, cell)
    u_dummy = np.asarray(user_cell @ d.cell_dummies)
    parts = [u_dummy]
    for j in range(d.z.shape[1]):
        parts.append(np.bincount(d.user, weights=r * d.z[:, j], minlength=d.n_users)[:, None])
    scores = np.hstack(parts)
    return np.asarray(scores.T @ scores)


def _user_score_meat(d: _Design, beta: F64, user_scores: UserScores) -> tuple[F64, int]:
    """Σ_u U_u U_u' from per-user score sums computed outside (in SQL) from the fitted
    patterns: U_u = Σ_j x_j (y_j - μ_j) over the user's suggestions j, each with its
    pattern's covariates x_j and probability μ_j. Returns the meat and the number of users."""
    assert d.keys is not None
    table = d.keys.copy()
    table["probability"] = _sigmoid(_eta(d, beta))
    rows = user_scores(table)
    user_codes, users = pd.factorize(rows["user_id"])
    n_users = len(users)
    p = d.n_dummy + d.z.shape[1]
    column = {name: j for j, name in enumerate(d.names)}
    factor = rows["factor"].astype(str).to_numpy()
    level = rows["level"].astype(object).to_numpy()
    total = factor == "intercept"
    term = np.where(
        total,
        "intercept",
        np.where(factor == "evening", np.where(level == "true", "evening", ""), ""),
    ).astype(object)
    levelled = ~total & (factor != "evening")
    term[levelled] = [f"{f}[{lv}]" for f, lv in zip(factor[levelled], level[levelled], strict=True)]
    col = np.array([column.get(t, -1) for t in term], dtype=np.int64)
    scores = np.zeros((n_users, p))
    used = col >= 0
    np.add.at(scores, (user_codes[used], col[used]), rows["residual_sum"].to_numpy(float)[used])
    sums = {"latency_s": "residual_latency_s_sum", "log_suggested_chars": "residual_log_chars_sum"}
    for name, sum_col in sums.items():
        if name in column:
            np.add.at(
                scores, (user_codes[total], column[name]), rows[sum_col].to_numpy(float)[total]
            )
    return np.asarray(scores.T @ scores), n_users


def _fit_statsmodels(d: _Design) -> tuple[F64, F64, float]:
    """The same likelihood with statsmodels.GLM (a dense pattern design): β, covariance, ll."""
    import statsmodels.api as sm

    x = np.hstack([d.cell_dummies[d.cell], d.z])
    endog = np.column_stack([d.accepted, d.shown - d.accepted])
    model = sm.GLM(endog, x, family=sm.families.Binomial())
    if d.user is not None:
        # statsmodels clusters rows; one row per suggestion keeps its small-sample factor
        # equal to ours (N = suggestions): expand the patterns into 0/1 rows
        reps = d.shown.astype(np.int64)
        rows = np.repeat(np.arange(len(d.shown)), reps)
        first = np.zeros(len(rows), dtype=bool)
        starts = np.concatenate([[0], np.cumsum(reps)[:-1]])
        offset = np.arange(len(rows)) - np.repeat(starts, reps)
        first = offset < np.repeat(d.accepted.astype(np.int64), reps)
        model = sm.GLM(first.astype(float), x[rows], family=sm.families.Binomial())
        res = model.fit(cov_type="cluster", cov_kwds={"groups": d.user[rows]})
    else:
        res = model.fit()
    return np.asarray(res.params), np.asarray(res.cov_params()), float(res.llf)


def _separation_message(terms: Sequence[str]) -> str:
    return (
        "(quasi-)complete separation: acceptance is (almost) perfectly predicted by "
        + ", ".join(terms)
        + " (every suggestion of such a level accepted, or none); merge or drop the level"
    )


def fit_acceptance_model(
    data: pd.DataFrame,
    *,
    engine: Engine = "irls",
    confidence: float = 0.95,
    cv_folds: int = 5,
    seed: int = 0,
    predict: bool = True,
    progress: Progress | None = None,
    user_scores: UserScores | None = None,
) -> AcceptanceModelResult:
    """Fit the acceptance model to covariate patterns (or one row per suggestion).

    ``data`` has ``shown`` and ``accepted`` counts, any of the factor columns
    (:data:`FACTORS`), ``evening``, the continuous sums ``latency_s_sum`` and
    ``log_chars_sum`` (or per-suggestion ``latency_s`` / ``log_suggested_chars``) and, for
    standard errors clustered by user and grouped cross-validation, ``user_id``.
    ``cv_folds=0`` skips cross-validation; ``predict=False`` skips the prediction metrics
    (AUC, Brier, calibration) altogether: inference only.

    ``user_scores``, for patterns without ``user_id`` (``acceptance_model_patterns``
    without by_user), computes the per-user score sums of the fitted model, from which the
    standard errors are clustered by user (see :func:`fit_in_warehouse`, which passes the
    SQL query ``acceptance_user_scores``).
    """
    from threadpoolctl import threadpool_limits

    # the matrices are small (parameters x cells); BLAS threads only add contention
    with threadpool_limits(limits=1):
        return _fit(
            data, engine, confidence, cv_folds if predict else -1, seed, progress, user_scores
        )


def _fit(
    data: pd.DataFrame,
    engine: Engine,
    confidence: float,
    cv_folds: int,
    seed: int,
    progress: Progress | None,
    user_scores: UserScores | None = None,
) -> AcceptanceModelResult:
    report = progress or (lambda _stage, _fraction: None)
    report("design", 0.0)
    prepared = _prepare(data)
    if isinstance(prepared, AcceptanceModelResult):
        return prepared
    d = prepared
    total, acc = int(d.shown.sum()), int(d.accepted.sum())
    base: dict[str, Any] = {
        "suggestions": total,
        "accepted": acc,
        "patterns": len(d.shown),
        "users": d.n_users,
        "dropped_missing": d.dropped,
        "reference_levels": d.reference,
        "engine": engine,
        "confidence": confidence,
    }
    notes = list(d.notes)
    p = d.n_dummy + d.z.shape[1]
    report("fit", 0.1)
    iterations = 0
    model_se: F64 | None = None
    if engine == "statsmodels":
        try:
            beta, cov, ll = _fit_statsmodels(d)
        except Exception as exc:  # statsmodels raises on perfect separation / singularity
            return _failed(
                "separation",
                f"statsmodels could not fit the model: {exc}",
                notes=tuple(notes),
                **base,
            )
        covariance: Literal["cluster_user", "model"] = (
            "cluster_user" if d.user is not None else "model"
        )
    else:
        beta, h, ll, iterations, converged = _newton(d)
        big = [d.names[j] for j in range(p) if abs(beta[j]) > SEPARATION_LOGIT]
        if big:
            return _failed("separation", _separation_message(big), notes=tuple(notes), **base)
        if not converged:
            return _failed(
                "not_converged",
                f"Newton-Raphson did not converge in {iterations} iterations",
                notes=tuple(notes),
                **base,
            )
        if np.linalg.matrix_rank(h) < p:
            return _failed(
                "singular",
                "the design is rank deficient (a covariate is a combination of others, e.g. a "
                "level that occurs only together with another): " + ", ".join(d.names),
                notes=tuple(notes),
                **base,
            )
        h_inv = np.linalg.inv(h)
        model_se = np.sqrt(np.clip(np.diag(h_inv), 0.0, None))
        if d.user is not None and d.n_users >= 2:
            meat = _cluster_meat(d, beta)
            c = d.n_users / (d.n_users - 1) * (total - 1) / (total - p)
            cov = np.asarray(c * h_inv @ meat @ h_inv, dtype=float)
            covariance = "cluster_user"
        elif d.user is None and user_scores is not None and d.keys is not None:
            report("user scores", 0.3)
            meat, n_users = _user_score_meat(d, beta, user_scores)
            base["users"] = n_users
            if n_users >= 2:
                c = n_users / (n_users - 1) * (total - 1) / (total - p)
                cov = np.asarray(c * h_inv @ meat @ h_inv, dtype=float)
                covariance = "cluster_user"
            else:
                cov = np.asarray(h_inv, dtype=float)
                covariance = "model"
                notes.append("standard errors are model based: one user only")
        else:
            cov = np.asarray(h_inv, dtype=float)
            covariance = "model"
            notes.append(
                "standard errors are model based: the data carry no user ids to cluster on"
                if d.user is None
                else "standard errors are model based: one user only"
            )
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    big = [d.names[j] for j in range(p) if abs(beta[j]) > SEPARATION_LOGIT]
    if big:
        return _failed("separation", _separation_message(big), notes=tuple(notes), **base)
    zq = float(stats.norm.ppf(0.5 + confidence / 2))
    coefs = []
    order = [d.names.index(name) for name in expected_terms(d.names)]
    for j in order:
        z = beta[j] / se[j] if se[j] > 0 else 0.0
        coefs.append(
            Coefficient(
                name=d.names[j],
                estimate=float(beta[j]),
                se=float(se[j]),
                ci_low=float(beta[j] - zq * se[j]),
                ci_high=float(beta[j] + zq * se[j]),
                z=float(z),
                p_value=float(2 * stats.norm.sf(abs(z))),
                model_se=None if model_se is None else float(model_se[j]),
            )
        )
    report("prediction", 0.6)
    prediction = _prediction_quality(d, beta, cv_folds, seed) if cv_folds >= 0 else None
    report("done", 1.0)
    return AcceptanceModelResult(
        coefficients=tuple(coefs),
        covariance=covariance,
        iterations=iterations,
        log_likelihood=ll,
        prediction=prediction,
        notes=tuple(notes),
        covariance_matrix=tuple(tuple(float(v) for v in row) for row in cov[np.ix_(order, order)]),
        **base,
    )


# =========================================================================== warehouse


def _user_scores_query() -> Any:
    from codex_ds.warehouse import catalog

    path = catalog.QUERIES_DIR / "modeling" / "acceptance_user_scores.sql"
    return catalog.parse_query(path.read_text(encoding="utf-8"), path=path)


def fit_in_warehouse(
    con: Any,
    params: Mapping[str, Any] | None = None,
    *,
    confidence: float = 0.95,
    predict: bool = False,
    progress: Progress | None = None,
) -> AcceptanceModelResult:
    """Fit the acceptance model on a DuckDB warehouse with standard errors clustered by user,
    without splitting the patterns by user.

    Two SQL passes: ``acceptance_model_patterns`` (no by_user: a few hundred thousand
    patterns however many suggestions) for β and the bread by Newton-Raphson, then
    ``acceptance_user_scores`` (``warehouse/queries/modeling/``), which joins every shown
    suggestion to its pattern's fitted probability (registered as the table
    ``acceptance_pattern_fit``) and sums the scores per user: the meat. The sandwich is the
    clustered covariance of the same model as ``fit_acceptance_model(load_patterns(con))``
    except that each suggestion carries its pattern's mean latency and length over all
    users rather than over its user's suggestions only. ``predict=True`` adds the in-sample
    AUC, Brier score and calibration (no cross-validation: that needs the users'
    patterns, :func:`load_patterns`). A Spark warehouse takes the per-user patterns
    instead (a table registered from Python is engine specific).
    """
    from codex_ds.warehouse import catalog

    if catalog.engine_of(con) == "spark":
        frame = load_patterns(con, params, by_user=True)
        return fit_acceptance_model(
            frame, confidence=confidence, cv_folds=0, predict=predict, progress=progress
        )
    frame = load_patterns(con, params, by_user=False)
    query = _user_scores_query()
    bound = catalog.bind(query, params, con=con)

    def scores(table: pd.DataFrame) -> pd.DataFrame:
        con.register("acceptance_pattern_fit", table)
        try:
            return con.execute(query.sql, bound).to_arrow_table().to_pandas()
        finally:
            con.unregister("acceptance_pattern_fit")

    return fit_acceptance_model(
        frame,
        confidence=confidence,
        cv_folds=0,
        predict=predict,
        progress=progress,
        user_scores=scores,
    )


# =========================================================================== prediction


def _weighted_metrics(prob: F64, n: F64, y: F64) -> tuple[float, float]:
    """AUC and Brier score of pattern predictions, each pattern as its accepted (label 1)
    and rejected (label 0) suggestions."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    labels = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    scores = np.concatenate([prob, prob])
    weights = np.concatenate([y, n - y])
    keep = weights > 0
    auc = float(roc_auc_score(labels[keep], scores[keep], sample_weight=weights[keep]))
    brier = float(brier_score_loss(labels[keep], scores[keep], sample_weight=weights[keep]))
    return auc, brier


def _calibration(prob: F64, n: F64, y: F64, bins: int = 10) -> tuple[CalibrationBin, ...]:
    order = np.argsort(prob, kind="stable")
    cum = np.cumsum(n[order])
    edges = np.searchsorted(cum, np.linspace(0, cum[-1], bins + 1)[1:-1], side="right")
    out = []
    for part in np.split(order, edges):
        m = float(n[part].sum())
        if m == 0:
            continue
        out.append(
            CalibrationBin(
                predicted=float(np.dot(prob[part], n[part]) / m),
                observed=float(y[part].sum() / m),
                suggestions=int(m),
            )
        )
    return tuple(out)


def _prediction_quality(d: _Design, beta: F64, folds: int, seed: int) -> PredictionQuality:
    from sklearn.model_selection import GroupKFold

    prob = _sigmoid(_eta(d, beta))
    auc, brier = _weighted_metrics(prob, d.shown, d.accepted)
    cal = _calibration(prob, d.shown, d.accepted)
    cv_auc: list[float] = []
    cv_brier: list[float] = []
    grouped: Literal["user", "pattern"] = "user" if d.user is not None else "pattern"
    groups = d.user if d.user is not None else np.arange(len(d.shown))
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    k = min(folds, n_groups)
    if k >= 2:
        # shuffle the group labels (GroupKFold balances sizes deterministically)
        perm = np.random.default_rng(seed).permutation(n_groups)
        splitter = GroupKFold(n_splits=k)
        for train, test in splitter.split(d.shown, groups=perm[groups]):
            mask = np.zeros(len(d.shown), dtype=bool)
            mask[train] = True
            y_train = d.accepted[mask]
            if y_train.sum() in (0, d.shown[mask].sum()):
                continue
            b, *_ = _newton(d, mask)
            pt = _sigmoid(_eta(d, b, test))
            yt, nt = d.accepted[test], d.shown[test]
            if 0 < yt.sum() < nt.sum():
                a, s = _weighted_metrics(pt, nt, yt)
                cv_auc.append(a)
                cv_brier.append(s)
    return PredictionQuality(
        auc=auc,
        brier=brier,
        calibration=cal,
        cv_folds=len(cv_auc),
        cv_grouped_by=grouped,
        cv_auc=tuple(cv_auc),
        cv_brier=tuple(cv_brier),
    )


# =========================================================================== ground truth


@dataclass(frozen=True)
class TruthCheck:
    """One estimated coefficient against the planted one."""

    name: str
    truth: float
    estimate: float
    ci_low: float
    ci_high: float

    @property
    def covered(self) -> bool:
        return self.ci_low <= self.truth <= self.ci_high

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"covered": self.covered}


def compare_with_truth(
    result: AcceptanceModelResult, truth: Mapping[str, Any]
) -> tuple[TruthCheck, ...]:
    """Every estimated coefficient that the simulator planted, with its true value.

    ``truth`` is ``ground_truth.json["acceptance_model"]`` (or its ``coefficients``).
    """
    planted: Mapping[str, Any] = truth.get("coefficients", truth)
    out = []
    for c in result.coefficients:
        if c.name in planted and planted[c.name] is not None:
            out.append(TruthCheck(c.name, float(planted[c.name]), c.estimate, c.ci_low, c.ci_high))
    return tuple(out)


def expected_terms(names: Sequence[str]) -> list[str]:
    """``names`` in the design order (factors, continuous, model version, evening)."""
    rank = {f: i for i, f in enumerate(_ORDER)}
    return sorted(names, key=lambda n: (n != "intercept", rank.get(n.split("[")[0], 99)))
