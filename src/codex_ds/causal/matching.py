"""Nearest-neighbour matching on the logit of the propensity score.

Each treated unit (ATT; for the ATE every unit, matched to the opposite group) gets its ``k``
nearest units of the other group on ℓ = logit e(x), with or without replacement, within a
caliper of ``caliper`` standard deviations of ℓ (Austin 2011 recommends 0.2). A unit with no
match inside the caliper is dropped (the estimate is then the effect on the matched units,
reported in ``details``). Ŷ_i(0) for a treated unit is the mean outcome of its matches; the
ATT is the mean of Y_i − Ŷ_i(0) over matched treated units, the ATE the mean of
Ŷ_i(1) − Ŷ_i(0) over all matched units.

With replacement the search is vectorised: the other group's scores are sorted once and each
unit's k nearest are chosen among the 2k candidates around its ``searchsorted`` position.
Tied scores (discrete covariates make many) are broken at random by :func:`break_ties`;
otherwise every treated unit in a tie would be matched to the same control.
Without replacement (ATT only) matching is greedy, hardest first (treated units in descending
score order), in ``k`` rounds, with a union–find over the sorted controls that skips used ones.

Standard errors (Abadie & Imbens 2006, as Stata's ``nnmatch``/``teffects nnmatch``), with
K_i = Σ_j 1/m_j (the weight of unit i as a match; m_j = number of matches of unit j) and
V_i = Σ_j 1/m_j²:

    ATT: V̂ = (1/N₁²) Σ_i [T_i (Y_i − Ŷ_i(0) − τ̂)² + (1−T_i)(K_i² − V_i) σ̂²(X_i)]
    ATE: V̂ = (1/N²) Σ_i [(Ŷ_i(1) − Ŷ_i(0) − τ̂)² + (K_i² + 2K_i − V_i) σ̂²(X_i)]

(with m_j = M these are the K(K−1)/M² and (K/M)² + (2M−1)K/M² terms of the paper), where the
conditional variance σ̂²(X_i) = ½(Y_i − Y_{j(i)})² uses the nearest unit of the same group.
The score is treated as known; Abadie & Imbens (2016) show this is conservative for the ATE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from codex_ds.causal.design import CausalData
from codex_ds.causal.effects import CausalError, EffectEstimate, Estimand, normal_interval

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = ["MatchingResult", "match", "nearest_neighbours"]


@dataclass(frozen=True, eq=False)
class MatchingResult:
    """The estimate, each unit's weight in the matched sample (for balance), and each
    matched treated unit's difference Y_i − Ŷ_i(0) (for Rosenbaum bounds)."""

    estimate: EffectEstimate
    weights: FloatArray
    pair_differences: FloatArray


def nearest_neighbours(
    reference: FloatArray, query: FloatArray, k: int
) -> tuple[IntArray, FloatArray]:
    """Indices (into ``reference``) and distances of the k nearest reference values of each
    query value (1-D), ties broken towards the lower sorted position.

    >>> idx, dist = nearest_neighbours(np.array([0.0, 1.0, 5.0]), np.array([0.9, 4.0]), 2)
    >>> idx.tolist(), dist.round(2).tolist()
    ([[1, 0], [2, 1]], [[0.1, 0.9], [1.0, 3.0]])
    """
    order = np.argsort(reference, kind="stable")
    ref = reference[order]
    m = len(ref)
    k = min(k, m)
    pos = np.searchsorted(ref, query)
    offsets = np.arange(-k, k)
    cand = pos[:, None] + offsets[None, :]
    valid = (cand >= 0) & (cand < m)
    cand_c = np.clip(cand, 0, m - 1)
    dist = np.where(valid, np.abs(ref[cand_c] - query[:, None]), np.inf)
    if k == 1:
        best = np.argmin(dist, axis=1)[:, None]
    else:
        best = np.argsort(dist, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(query))[:, None]
    return order[cand_c[rows, best]], dist[rows, best]


def break_ties(values: FloatArray, seed: int = 0) -> FloatArray:
    """Add uniform noise smaller than a quarter of the smallest gap between distinct values,
    so that tied scores (discrete covariates) are matched in random order instead of all to
    the same unit; the order of distinct values is kept.

    >>> v = break_ties(np.array([0.0, 0.0, 1.0, 2.0]))
    >>> bool(v[0] != v[1]), bool(v[1] < v[2] < v[3])
    (True, True)
    """
    distinct = np.unique(values)
    gaps = np.diff(distinct)
    if len(distinct) == len(values):
        return values
    gap = float(gaps.min()) if len(gaps) else 1.0
    rng = np.random.default_rng(seed)
    return values + rng.uniform(0.0, gap / 4, len(values))


def _greedy_without_replacement(
    ref: FloatArray, query: FloatArray, k: int, caliper: float
) -> list[list[int]]:
    """Greedy 1:k matching without replacement, hardest (highest score) first, in rounds."""
    order = np.argsort(ref, kind="stable")
    vals = ref[order].tolist()
    m = len(vals)
    right = list(range(m + 1))  # next available position ≥ i (m: none)
    left = list(range(m + 1))  # shifted: left[i + 1] for position i; root 0 means none

    def find(parent: list[int], i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    matches: list[list[int]] = [[] for _ in range(len(query))]
    q_order = np.argsort(-query, kind="stable").tolist()
    qv = query.tolist()
    pos_all = np.searchsorted(ref[order], query).tolist()
    for _ in range(k):
        for qi in q_order:
            x = qv[qi]
            p = pos_all[qi]
            r = find(right, min(p, m))
            lft = find(left, p) - 1  # left is shifted by one
            best = -1
            best_d = np.inf
            if r < m:
                best, best_d = r, vals[r] - x
            if lft >= 0 and x - vals[lft] <= best_d:
                best, best_d = lft, x - vals[lft]
            if best < 0 or best_d > caliper:
                continue
            matches[qi].append(int(order[best]))
            right[best] = best + 1
            left[best + 1] = best
    return matches


def _own_group_variance(logit: FloatArray, y: FloatArray) -> FloatArray:
    """σ̂²(X_i) = ½(Y_i − Y_j)² with j the nearest unit (on ℓ) of the same group."""
    order = np.argsort(logit, kind="stable")
    s, ys = logit[order], y[order]
    n = len(s)
    out = np.empty(n)
    if n < 2:
        out[:] = 0.0
        return out
    d_left = np.r_[np.inf, np.diff(s)]
    d_right = np.r_[np.diff(s), np.inf]
    nb = np.where(d_left <= d_right, np.arange(n) - 1, np.arange(n) + 1)
    res = np.empty(n)
    res[order] = 0.5 * (ys - ys[nb]) ** 2
    return res


def _match_side(
    logit: FloatArray,
    y: FloatArray,
    from_mask: npt.NDArray[np.bool_],
    k: int,
    replace: bool,
    caliper: float,
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray, FloatArray]:
    """Match units of ``from_mask`` to the others: Ŷ (mean outcome of the matches) and a
    matched flag for the ``from`` units; K_i and V_i for every unit of the other group."""
    src = np.nonzero(from_mask)[0]
    dst = np.nonzero(~from_mask)[0]
    n = len(y)
    K = np.zeros(n)
    V = np.zeros(n)
    if replace:
        idx, dist = nearest_neighbours(logit[dst], logit[src], k)
        ok = dist <= caliper
        m = ok.sum(axis=1)
        matched = m > 0
        safe_m = np.maximum(m, 1)
        targets = dst[idx]
        yhat = np.where(ok, y[targets], 0.0).sum(axis=1) / safe_m
        inv = np.where(ok, 1.0 / safe_m[:, None], 0.0)
        K = np.asarray(
            np.bincount(targets.ravel(), weights=inv.ravel(), minlength=n), dtype=np.float64
        )
        V = np.asarray(
            np.bincount(targets.ravel(), weights=(inv**2).ravel(), minlength=n), dtype=np.float64
        )
    else:
        sets = _greedy_without_replacement(logit[dst], logit[src], k, caliper)
        m = np.array([len(s) for s in sets])
        matched = m > 0
        yhat = np.array([y[dst[s]].mean() if s else 0.0 for s in sets])
        for s, mi in zip(sets, m, strict=True):
            if mi:
                K[dst[s]] += 1.0 / mi
                V[dst[s]] += 1.0 / mi**2
    return yhat, matched, K, V


def match(
    data: CausalData,
    logit_scores: FloatArray,
    estimand: Estimand = "ATT",
    *,
    k: int = 1,
    replace: bool = True,
    caliper: float | None = 0.2,
    confidence: float = 0.95,
    seed: int = 0,
) -> MatchingResult | CausalError:
    """Propensity-score matching (see the module docstring)."""
    if k < 1:
        return CausalError("bad_option", f"k must be at least 1, got {k}")
    if caliper is not None and caliper <= 0:
        return CausalError("bad_option", f"the caliper must be positive, got {caliper}")
    if estimand == "ATE" and not replace:
        return CausalError(
            "bad_option", "ATE matching needs replacement (each unit is matched both ways)"
        )
    t, y = data.t, data.y
    treated = t > 0.5
    sd = float(np.std(logit_scores, ddof=1))
    logit_scores = break_ties(logit_scores, seed)
    cal = np.inf if caliper is None else caliper * sd
    if not replace and int(treated.sum()) * k > int((~treated).sum()):
        return CausalError(
            "too_few_units",
            f"1:{k} matching without replacement needs {int(treated.sum()) * k} controls; "
            f"there are {int((~treated).sum())}",
        )
    y0_t, ok_t, K_c, V_c = _match_side(logit_scores, y, treated, k, replace, cal)
    sigma2 = np.empty(data.n)
    sigma2[treated] = _own_group_variance(logit_scores[treated], y[treated])
    sigma2[~treated] = _own_group_variance(logit_scores[~treated], y[~treated])
    tr_idx = np.nonzero(treated)[0]
    n_unmatched = int((~ok_t).sum())
    warns = []
    if n_unmatched:
        warns.append(
            f"{n_unmatched} of {len(tr_idx)} treated units have no match within the caliper "
            f"({caliper} SD of the logit score) and are dropped"
        )
    if estimand == "ATT":
        if not ok_t.any():
            return CausalError("no_matches", "no treated unit has a control within the caliper")
        diffs = y[tr_idx][ok_t] - y0_t[ok_t]
        tau = float(diffs.mean())
        n1 = int(ok_t.sum())
        var = (np.sum((diffs - tau) ** 2) + np.sum(((K_c**2 - V_c) * sigma2)[~treated])) / n1**2
        weights = K_c.copy()
        weights[tr_idx[ok_t]] = 1.0
        n_used = n1 + int((K_c > 0).sum())
        n_t, n_c = n1, int((K_c > 0).sum())
    else:
        y1_c, ok_c, K_t, V_t = _match_side(logit_scores, y, ~treated, k, replace, cal)
        ctl_idx = np.nonzero(~treated)[0]
        y1 = y.copy()
        y0 = y.copy()
        y0[tr_idx] = y0_t
        y1[ctl_idx] = y1_c
        ok = np.ones(data.n, dtype=bool)
        ok[tr_idx] = ok_t
        ok[ctl_idx] = ok_c
        if not ok_t.any() or not ok_c.any():
            return CausalError("no_matches", "no unit has a match within the caliper")
        diffs_all = (y1 - y0)[ok]
        tau = float(diffs_all.mean())
        Kall = K_c + K_t
        Vall = V_c + V_t
        n_ok = int(ok.sum())
        var = (
            np.sum((diffs_all - tau) ** 2) + np.sum(((Kall**2 + 2 * Kall - Vall) * sigma2)[ok])
        ) / n_ok**2
        weights = np.where(ok, 1.0 + Kall, 0.0)
        diffs = y[tr_idx][ok_t] - y0_t[ok_t]
        n_used = n_ok
        n_t, n_c = int(ok_t.sum()), int(ok_c.sum())
        if int((~ok_c).sum()):
            warns.append(f"{int((~ok_c).sum())} control units have no treated match; dropped")
    se = float(np.sqrt(max(var, 0.0)))
    lo, hi = normal_interval(tau, se, confidence)
    est = EffectEstimate(
        "psm", estimand, tau, se, lo, hi, n_used, n_t, n_c,
        "Abadie-Imbens (2006), score treated as known", confidence=confidence,
        details={
            "k": k,
            "replace": replace,
            "caliper_sd": caliper,
            "caliper_logit": None if caliper is None else cal,
            "matched_treated": int(ok_t.sum()),
            "unmatched_treated": n_unmatched,
            "distinct_controls_used": int((K_c > 0).sum()),
        },
        warnings=tuple(warns),
    )  # fmt: skip
    return MatchingResult(est, weights, diffs)
