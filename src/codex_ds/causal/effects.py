"""Values shared by every causal estimator: the effect estimate and the error result.

Estimators return an :class:`EffectEstimate` or, when the input cannot support an estimate
(no overlap, too few treated units, ...), a :class:`CausalError` naming the reason. They never
raise on bad data and never return NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from scipy import stats

Estimand = Literal["ATE", "ATT"]
Method = Literal["naive", "psm", "ipw", "aipw", "ra", "stratification"]
ErrorCode = Literal[
    "missing_column",
    "missing_values",
    "non_numeric",
    "non_binary_treatment",
    "constant_covariate",
    "collinear_covariates",
    "too_few_units",
    "no_overlap",
    "not_converged",
    "no_matches",
    "bad_option",
]

__all__ = [
    "CausalError",
    "EffectEstimate",
    "ErrorCode",
    "Estimand",
    "Method",
    "normal_interval",
]


@dataclass(frozen=True)
class CausalError:
    """Why an estimate could not be made; ``code`` is stable, ``message`` is for people."""

    code: ErrorCode
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


@dataclass(frozen=True)
class EffectEstimate:
    """One estimate of a treatment effect with its uncertainty.

    ``ci_method`` says where the interval comes from (``"normal"``: estimate ± z·se with the
    analytic ``se``; ``"percentile"``: bootstrap percentiles). ``details`` holds
    method-specific numbers (matched units, effective sample sizes, trimming bounds, ...).
    """

    method: Method
    estimand: Estimand
    estimate: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_treated: int
    n_control: int
    se_method: str
    ci_method: str = "normal"
    confidence: float = 0.95
    details: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def p_value(self) -> float | None:
        if self.se is None or not self.se > 0:
            return None
        return float(2 * stats.norm.sf(abs(self.estimate / self.se)))

    def with_interval(self, low: float, high: float, ci_method: str) -> EffectEstimate:
        return EffectEstimate(
            self.method, self.estimand, self.estimate, self.se, low, high, self.n,
            self.n_treated, self.n_control, self.se_method, ci_method, self.confidence,
            self.details, self.warnings,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "estimand": self.estimand,
            "estimate": self.estimate,
            "ci": [self.ci_low, self.ci_high],
            "se": self.se,
            "p_value": self.p_value,
            "se_method": self.se_method,
            "ci_method": self.ci_method,
            "confidence": self.confidence,
            "n": self.n,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "details": self.details,
            "warnings": list(self.warnings),
        }


def normal_interval(estimate: float, se: float, confidence: float = 0.95) -> tuple[float, float]:
    """estimate ± z·se.

    >>> [round(v, 4) for v in normal_interval(1.0, 0.5)]
    [0.02, 1.98]
    """
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return estimate - z * se, estimate + z * se


def finite(value: float) -> bool:
    return isinstance(value, float | int) and math.isfinite(value)
