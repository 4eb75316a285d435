"""One call for the whole analysis: propensity model, the chosen estimators for the ATE and the
ATT, balance, overlap, sensitivity and refutations.

:func:`estimate_effects` takes :class:`~codex_ds.causal.design.CausalData` and
:class:`CausalOptions` and returns a :class:`CausalAnalysis` (or a
:class:`~codex_ds.causal.effects.CausalError` when no estimate is possible: no overlap, a
propensity model that does not converge). An estimator that fails on its own (e.g. no match
within the caliper) is reported in ``errors`` while the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from codex_ds.causal.balance import BalanceTable, Overlap, balance_table, overlap
from codex_ds.causal.bootstrap import bootstrap, bootstrap_aipw
from codex_ds.causal.design import CausalData
from codex_ds.causal.doubly_robust import aipw
from codex_ds.causal.effects import (
    CausalError,
    EffectEstimate,
    Estimand,
    Method,
    normal_interval,
)
from codex_ds.causal.matching import MatchingResult, match
from codex_ds.causal.propensity import Link, PropensityModel, fit_propensity
from codex_ds.causal.regression import regression_adjustment
from codex_ds.causal.sensitivity import (
    EValue,
    Refutation,
    RosenbaumBounds,
    e_value,
    placebo_treatment,
    random_common_cause,
    rosenbaum_bounds,
)
from codex_ds.causal.stratification import stratify
from codex_ds.causal.weighting import Trim, WeightKind, ipw, ipw_weights

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, float], None]
MethodChoice = Literal["psm", "ipw", "aipw", "ra", "stratification"]
ALL_METHODS: tuple[MethodChoice, ...] = ("psm", "ipw", "aipw", "ra", "stratification")

__all__ = [
    "ALL_METHODS",
    "CausalAnalysis",
    "CausalOptions",
    "MethodChoice",
    "analysis_to_dict",
    "estimate_effects",
    "estimator_for",
    "naive_difference",
]


@dataclass(frozen=True)
class CausalOptions:
    methods: tuple[MethodChoice, ...] = ALL_METHODS
    estimands: tuple[Estimand, ...] = ("ATE", "ATT")
    link: Link = "logit"
    k: int = 1
    replace: bool = True
    caliper: float | None = 0.2
    weights: WeightKind = "stabilised"
    trim: Trim = None
    strata: int = 10
    bootstrap: int = 0  # replicates; 0: analytic intervals only
    refute: bool = True
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True, eq=False)
class CausalAnalysis:
    data: CausalData
    options: CausalOptions
    propensity: PropensityModel
    overlap: Overlap
    naive: EffectEstimate
    estimates: tuple[EffectEstimate, ...]
    balance: tuple[BalanceTable, ...]
    e_values: dict[str, EValue]
    rosenbaum: RosenbaumBounds | None
    refutations: tuple[Refutation, ...]
    errors: dict[str, CausalError] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def get(self, method: Method, estimand: Estimand) -> EffectEstimate | None:
        for e in self.estimates:
            if e.method == method and e.estimand == estimand:
                return e
        return None


def naive_difference(data: CausalData, confidence: float = 0.95) -> EffectEstimate:
    """Difference in means without adjustment (Welch standard error)."""
    y1, y0 = data.y[data.t > 0.5], data.y[data.t < 0.5]
    tau = float(y1.mean() - y0.mean())
    se = float(np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0)))
    lo, hi = normal_interval(tau, se, confidence)
    return EffectEstimate(
        "naive", "ATE", tau, se, lo, hi, data.n, len(y1), len(y0), "Welch",
        confidence=confidence,
    )  # fmt: skip


def estimator_for(
    method: MethodChoice, estimand: Estimand, options: CausalOptions
) -> Callable[[CausalData], EffectEstimate | CausalError]:
    """``CausalData → estimate`` for one method, refitting the propensity model (used by
    refutations and the bootstrap)."""

    def run(d: CausalData) -> EffectEstimate | CausalError:
        if method == "ra":
            return regression_adjustment(d, estimand, options.confidence)
        model = fit_propensity(d.X, d.t, d.names, options.link)
        if isinstance(model, CausalError):
            return model
        return _run_with_model(method, estimand, d, model, options)

    return run


def _run_with_model(
    method: MethodChoice,
    estimand: Estimand,
    d: CausalData,
    model: PropensityModel,
    o: CausalOptions,
) -> EffectEstimate | CausalError:
    if method == "psm":
        res = match(
            d, model.logit_scores, estimand, k=o.k, replace=o.replace, caliper=o.caliper,
            confidence=o.confidence, seed=o.seed,
        )  # fmt: skip
        return res if isinstance(res, CausalError) else res.estimate
    if method == "ipw":
        return ipw(d, model, estimand, weights=o.weights, trim=o.trim, confidence=o.confidence)
    if method == "aipw":
        return aipw(d, model, estimand, confidence=o.confidence)
    if method == "stratification":
        return stratify(d, model.scores, estimand, strata=o.strata, confidence=o.confidence)
    return regression_adjustment(d, estimand, o.confidence)


def estimate_effects(
    data: CausalData, options: CausalOptions | None = None, progress: Progress | None = None
) -> CausalAnalysis | CausalError:
    o = options or CausalOptions()
    say = progress or (lambda _s, _f: None)
    say("propensity model", 0.0)
    model = fit_propensity(data.X, data.t, data.names, o.link)
    if isinstance(model, CausalError):
        return model
    ov = overlap(model.scores, data.t)
    naive = naive_difference(data, o.confidence)
    estimates: list[EffectEstimate] = []
    errors: dict[str, CausalError] = {}
    balance: list[BalanceTable] = []
    matched: MatchingResult | None = None
    steps = len(o.methods) * len(o.estimands)
    done = 0
    for method in o.methods:
        for estimand in o.estimands:
            say(f"{method} {estimand}", done / max(steps, 1))
            done += 1
            if method == "psm":
                if estimand == "ATE" and not o.replace:
                    errors[f"psm/{estimand}"] = CausalError(
                        "bad_option", "ATE matching needs --replace"
                    )
                    continue
                mres = match(
                    data, model.logit_scores, estimand, k=o.k, replace=o.replace,
                    caliper=o.caliper, confidence=o.confidence, seed=o.seed,
                )  # fmt: skip
                if isinstance(mres, CausalError):
                    errors[f"psm/{estimand}"] = mres
                    continue
                if estimand == "ATT":
                    matched = mres
                    balance.append(
                        balance_table(data.X, data.t, data.names, mres.weights, "matching (ATT)")
                    )
                res: EffectEstimate | CausalError = mres.estimate
            else:
                res = _run_with_model(method, estimand, data, model, o)
                if method == "ipw" and not isinstance(res, CausalError):
                    alpha = float(res.details["trim_alpha"])
                    keep = (model.scores >= alpha) & (model.scores <= 1 - alpha)
                    w = ipw_weights(model.scores, data.t, estimand) * keep
                    balance.append(
                        balance_table(data.X, data.t, data.names, w, f"IPW ({estimand})")
                    )
            if isinstance(res, CausalError):
                errors[f"{method}/{estimand}"] = res
                continue
            if o.bootstrap > 0:
                say(f"bootstrap {method} {estimand}", done / max(steps, 1))
                if method == "aipw" and estimand == "ATE":
                    boot = bootstrap_aipw(
                        data, o.link, o.bootstrap, seed=o.seed, confidence=o.confidence,
                        start=model.coef,
                    )  # fmt: skip
                else:
                    boot = bootstrap(
                        data, estimator_for(method, estimand, o), o.bootstrap, seed=o.seed,
                        confidence=o.confidence,
                    )  # fmt: skip
                if isinstance(boot, CausalError):
                    errors[f"bootstrap/{method}/{estimand}"] = boot
                else:
                    res = replace(
                        res.with_interval(boot.ci_low, boot.ci_high, "percentile bootstrap"),
                        details={
                            **res.details,
                            "bootstrap_replicates": len(boot.estimates),
                            "bootstrap_se": boot.se,
                            "bootstrap_failed": boot.failed,
                        },
                    )
            estimates.append(res)

    sd_y = float(np.std(data.y, ddof=1))
    evalues = {
        f"{e.method}/{e.estimand}": e_value(e.estimate, (e.ci_low or 0.0, e.ci_high or 0.0), sd_y)
        for e in estimates
    }
    rb = None
    if matched is not None:
        rbr = rosenbaum_bounds(matched.pair_differences, alpha=1 - o.confidence)
        rb = None if isinstance(rbr, CausalError) else rbr
    refutations: list[Refutation] = []
    if o.refute and estimates:
        primary = next((e for e in estimates if e.method == "aipw"), estimates[0])
        say("refutations", 0.95)
        fn = estimator_for(primary.method, primary.estimand, o)  # type: ignore[arg-type]
        for check in (placebo_treatment, random_common_cause):
            r = check(data, fn, primary, o.seed)
            if isinstance(r, CausalError):
                errors[f"refutation/{check.__name__}"] = r
            else:
                refutations.append(r)
    warns = list(ov.warnings)
    for e in estimates:
        warns += [f"{e.method}/{e.estimand}: {w}" for w in e.warnings]
    if model.calibration.hosmer_lemeshow_p < 0.01:
        warns.append(
            f"the propensity model is miscalibrated (Hosmer–Lemeshow p = "
            f"{model.calibration.hosmer_lemeshow_p:.3g}); consider interactions or splines"
        )
    say("done", 1.0)
    return CausalAnalysis(
        data, o, model, ov, naive, tuple(estimates), tuple(balance), evalues, rb,
        tuple(refutations), errors, tuple(warns),
    )  # fmt: skip


def analysis_to_dict(a: CausalAnalysis) -> dict[str, Any]:
    """The JSON document of ``codex-ds causal estimate --json``."""
    cal = a.propensity.calibration
    return {
        "treatment": a.data.treatment,
        "outcome": a.data.outcome,
        "covariates": list(a.data.names),
        "n": a.data.n,
        "n_treated": a.data.n_treated,
        "n_control": a.data.n_control,
        "naive": a.naive.to_dict(),
        "estimates": [e.to_dict() for e in a.estimates],
        "errors": {k: v.to_dict() for k, v in a.errors.items()},
        "propensity": {
            "link": a.propensity.link,
            "coefficients": dict(zip(a.propensity.names, a.propensity.coef.tolist(), strict=True)),
            "pseudo_r2": a.propensity.pseudo_r2,
            "calibration": {
                "mean_score": list(cal.mean_score),
                "observed_share": list(cal.observed_share),
                "hosmer_lemeshow": cal.hosmer_lemeshow,
                "hosmer_lemeshow_df": cal.hosmer_lemeshow_df,
                "hosmer_lemeshow_p": cal.hosmer_lemeshow_p,
                "brier": cal.brier,
            },
        },
        "overlap": {
            "treated_range": list(a.overlap.treated_range),
            "control_range": list(a.overlap.control_range),
            "common_support": list(a.overlap.common_support),
            "outside_common_support": a.overlap.outside_common_support,
            "extreme_scores": a.overlap.extreme_low + a.overlap.extreme_high,
        },
        "balance": [b.to_dict() for b in a.balance],
        "sensitivity": {
            "e_values": {k: v.__dict__ for k, v in a.e_values.items()},
            "rosenbaum": None if a.rosenbaum is None else a.rosenbaum.__dict__,
            "refutations": [r.__dict__ for r in a.refutations],
        },
        "warnings": list(a.warnings),
    }
