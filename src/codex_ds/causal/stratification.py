"""Subclassification on the propensity score (Rosenbaum & Rubin 1984).

Units are cut into ``strata`` groups at quantiles of the score (five remove about 90 % of the
bias from a covariate, Cochran 1968). Within stratum s the effect is the difference in means
τ_s = Ȳ_{1s} − Ȳ_{0s}, and

    ATE = Σ_s (n_s/n) τ_s,   ATT = Σ_s (n_{1s}/n_1) τ_s,
    se² = Σ_s w_s² (s²_{1s}/n_{1s} + s²_{0s}/n_{0s}).

A stratum without a treated or a control unit (or with one only: no variance) cannot be
compared; it is dropped with a warning and the weights renormalised over the rest.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from codex_ds.causal.design import CausalData
from codex_ds.causal.effects import CausalError, EffectEstimate, Estimand, normal_interval

FloatArray = npt.NDArray[np.float64]

__all__ = ["stratify"]


def stratify(
    data: CausalData,
    scores: FloatArray,
    estimand: Estimand = "ATE",
    *,
    strata: int = 5,
    confidence: float = 0.95,
) -> EffectEstimate | CausalError:
    if strata < 1:
        return CausalError("bad_option", f"strata must be at least 1, got {strata}")
    edges = np.quantile(scores, np.linspace(0, 1, strata + 1))
    label = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, strata - 1)
    t, y = data.t > 0.5, data.y
    taus, wts, vars_, rows = [], [], [], []
    dropped = 0
    for s in range(strata):
        in_s = label == s
        y1, y0 = y[in_s & t], y[in_s & ~t]
        if len(y1) < 2 or len(y0) < 2:
            dropped += int(in_s.sum())
            continue
        tau_s = float(y1.mean() - y0.mean())
        v = float(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
        taus.append(tau_s)
        vars_.append(v)
        wts.append(float(in_s.sum()) if estimand == "ATE" else float(len(y1)))
        rows.append({"stratum": s, "n_treated": len(y1), "n_control": len(y0), "effect": tau_s})
    if not taus:
        return CausalError(
            "no_overlap", "no stratum of the score holds at least two treated and two controls"
        )
    w = np.asarray(wts) / np.sum(wts)
    tau = float(np.dot(w, taus))
    se = float(np.sqrt(np.dot(w**2, vars_)))
    lo, hi = normal_interval(tau, se, confidence)
    warns = (
        (f"{dropped} units in strata without two units of each group were dropped",)
        if dropped
        else ()
    )
    return EffectEstimate(
        "stratification", estimand, tau, se, lo, hi, data.n - dropped,
        int(sum(r["n_treated"] for r in rows)), int(sum(r["n_control"] for r in rows)),
        "within-stratum difference-in-means variances", confidence=confidence,
        details={"strata": strata, "by_stratum": rows}, warnings=warns,
    )  # fmt: skip
