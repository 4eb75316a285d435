"""Mergeable sufficient statistics: what the warehouse sends per arm, and all the tests need.

Every statistic is a small frozen value object built from per-unit sums (the unit is the
user), with derived properties (``mean``, ``variance``, ...) and ``__add__``, so strata,
days and shards merge by addition. The SQL behind them is one ``GROUP BY variant`` with
``COUNT(*)``, ``SUM(y)``, ``SUM(y * y)`` and, for ratio and regression-adjusted metrics, the
cross products.

* :class:`Proportion` -- units and units with the event (``n``, ``successes``).
* :class:`SampleMean` -- ``n``, ``Σy``, ``Σy²`` of a per-unit value.
* :class:`RatioStatistic` -- a ratio of per-unit sums, Σnumerator ÷ Σdenominator, such as
  the acceptance rate (accepted ÷ shown over each user's suggestions): its variance comes
  from the delta method on the per-user sums (Deng, Knoblich & Lu 2018), so it respects the
  clustering of suggestions within users.
* :class:`RegressionAdjusted` and :class:`RegressionAdjustedRatio` -- a mean or ratio metric
  together with the same metric in the pre-period, for CUPED (Deng et al. 2013).

``variance`` is always the *per-unit* variance of the metric's estimator: the estimator's
sampling variance is ``variance / n``.

>>> a = SampleMean.from_values([1.0, 2.0, 3.0])
>>> b = SampleMean.from_values([4.0, 5.0])
>>> (a + b).mean, (a + b).variance
(3.0, 2.5)
>>> Proportion(n=10, successes=3) + Proportion(n=10, successes=5)
Proportion(n=20, successes=8)
>>> r = RatioStatistic.from_values(numerator=[1, 0, 3], denominator=[2, 1, 4])
>>> round(r.mean, 6)  # (1 + 0 + 3) / (2 + 1 + 4)
0.571429
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "CovariateStatistic",
    "Proportion",
    "RatioStatistic",
    "RegressionAdjusted",
    "RegressionAdjustedRatio",
    "SampleMean",
    "StatisticProblem",
    "UnitStatistic",
    "covariance_arrays",
    "ratio_arrays",
    "variance_arrays",
]

#: A machine-readable error code and a human-readable message.
StatisticProblem = tuple[str, str]


FloatArray = npt.NDArray[np.float64]


def covariance_arrays(
    n: npt.ArrayLike, sum_xy: npt.ArrayLike, sum_x: npt.ArrayLike, sum_y: npt.ArrayLike
) -> FloatArray:
    """Sample covariance (n − 1 denominator) from sums, vectorised; 0 where n < 2.

    >>> float(covariance_arrays(3, 14.0, 6.0, 6.0))  # x = y = (1, 2, 3)
    1.0
    """
    n_, sxy, sx, sy = (np.asarray(v, dtype=float) for v in (n, sum_xy, sum_x, sum_y))
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = (sxy - sx * sy / n_) / (n_ - 1.0)
    return np.asarray(np.where(n_ >= 2, cov, 0.0), dtype=float)


def variance_arrays(
    n: npt.ArrayLike, total: npt.ArrayLike, total_squares: npt.ArrayLike
) -> FloatArray:
    """Sample variance from n, Σy, Σy² (vectorised; clipped at 0 against rounding)."""
    return np.maximum(covariance_arrays(n, total_squares, total, total), 0.0)


def ratio_arrays(
    n: npt.ArrayLike,
    numerator_sum: npt.ArrayLike,
    numerator_sum_squares: npt.ArrayLike,
    denominator_sum: npt.ArrayLike,
    denominator_sum_squares: npt.ArrayLike,
    cross_sum: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """The ratio R = ΣM/ΣD and its per-unit delta-method variance, vectorised.

    Var = (s²_M − 2 R s_MD + R² s²_D) / D̄² (Deng, Knoblich & Lu 2018); 0 where D̄ = 0.
    """
    n_ = np.asarray(n, dtype=float)
    sm, sd = np.asarray(numerator_sum, dtype=float), np.asarray(denominator_sum, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sd != 0, sm / sd, 0.0)
        d_mean = sd / n_
        var = (
            variance_arrays(n_, sm, numerator_sum_squares)
            - 2.0 * ratio * covariance_arrays(n_, cross_sum, sm, sd)
            + ratio**2 * variance_arrays(n_, sd, denominator_sum_squares)
        ) / d_mean**2
    return np.asarray(ratio, dtype=float), np.asarray(
        np.where(d_mean != 0, np.maximum(var, 0.0), 0.0), dtype=float
    )


def _covariance(n: int, sum_xy: float, sum_x: float, sum_y: float) -> float:
    """Sample covariance (n − 1 denominator) from sums; 0 when n < 2."""
    return float(covariance_arrays(n, sum_xy, sum_x, sum_y))


def _negative(**values: float) -> StatisticProblem | None:
    bad = [name for name, v in values.items() if v < 0]
    if bad:
        return "negative_counts", f"negative value(s) for {', '.join(bad)}"
    return None


def _finite(**values: float) -> StatisticProblem | None:
    bad = [name for name, v in values.items() if not math.isfinite(v)]
    if bad:
        return "non_finite", f"non-finite value(s) for {', '.join(bad)}"
    return None


@runtime_checkable
class UnitStatistic(Protocol):
    """What every test needs of one arm: units, the metric's value and per-unit variance."""

    @property
    def n(self) -> int: ...

    @property
    def mean(self) -> float: ...

    @property
    def variance(self) -> float: ...

    def check(self) -> StatisticProblem | None: ...


@runtime_checkable
class CovariateStatistic(UnitStatistic, Protocol):
    """A metric with its pre-period covariate (CUPED): the moments of (y, x) per unit."""

    @property
    def covariate_mean(self) -> float: ...

    @property
    def covariate_variance(self) -> float: ...

    @property
    def covariance(self) -> float: ...


@dataclass(frozen=True)
class Proportion:
    """Units (``n``) and units with the event (``successes``); variance p(1 − p).

    >>> p = Proportion(n=200, successes=50)
    >>> p.mean, p.variance
    (0.25, 0.1875)
    """

    n: int
    successes: int

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(n=self.n + other.n, successes=self.successes + other.successes)

    @property
    def mean(self) -> float:
        return self.successes / self.n if self.n > 0 else 0.0

    @property
    def variance(self) -> float:
        """Bernoulli variance p(1 − p) (the maximum-likelihood form, as the z-test uses)."""
        p = self.mean
        return p * (1.0 - p)

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance / self.n) if self.n > 0 else 0.0

    def check(self) -> StatisticProblem | None:
        """An error code for input no test can use, else None."""
        problem = _negative(n=self.n, successes=self.successes)
        if problem:
            return problem
        if self.successes > self.n:
            return "successes_exceed_n", f"successes ({self.successes}) exceed n ({self.n})"
        if self.n < 2:
            return "too_few_units", f"n = {self.n}: at least 2 units are needed"
        return None


@dataclass(frozen=True)
class SampleMean:
    """``n``, Σy and Σy² of a per-unit value (e.g. accepted characters per user).

    >>> s = SampleMean(n=4, sum=10.0, sum_squares=30.0)
    >>> s.mean, round(s.variance, 6)
    (2.5, 1.666667)
    """

    n: int
    sum: float
    sum_squares: float

    @classmethod
    def from_values(cls, values: Sequence[float] | npt.ArrayLike) -> SampleMean:
        y = np.asarray(values, dtype=float)
        return cls(n=int(y.size), sum=float(y.sum()), sum_squares=float((y * y).sum()))

    def __add__(self, other: SampleMean) -> SampleMean:
        return SampleMean(
            n=self.n + other.n,
            sum=self.sum + other.sum,
            sum_squares=self.sum_squares + other.sum_squares,
        )

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n > 0 else 0.0

    @property
    def variance(self) -> float:
        """Sample variance (n − 1 denominator); 0 when n < 2."""
        return float(variance_arrays(self.n, self.sum, self.sum_squares))

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance / self.n) if self.n > 0 else 0.0

    def check(self) -> StatisticProblem | None:
        problem = _finite(sum=self.sum, sum_squares=self.sum_squares) or _negative(
            n=self.n, sum_squares=self.sum_squares
        )
        if problem:
            return problem
        if self.n < 2:
            return "too_few_units", f"n = {self.n}: at least 2 units are needed"
        return None


@dataclass(frozen=True)
class RatioStatistic:
    """A ratio metric Σnumerator ÷ Σdenominator over units, with delta-method variance.

    For the acceptance rate, a user's numerator is their accepted suggestions and the
    denominator their shown suggestions; ``n`` counts users. With per-user means
    M̄, D̄ and R = M̄ / D̄, the per-unit delta-method variance is
    (s²_M − 2 R s_MD + R² s²_D) / D̄² (Deng, Knoblich & Lu 2018), so suggestions of the
    same user are not treated as independent.

    >>> r = RatioStatistic(n=3, numerator_sum=4.0, numerator_sum_squares=10.0,
    ...                    denominator_sum=7.0, denominator_sum_squares=21.0,
    ...                    cross_sum=14.0)
    >>> round(r.mean, 6), round(r.variance, 6)
    (0.571429, 0.078717)
    """

    n: int
    numerator_sum: float
    numerator_sum_squares: float
    denominator_sum: float
    denominator_sum_squares: float
    cross_sum: float  # Σ numerator · denominator

    @classmethod
    def from_values(
        cls,
        numerator: Sequence[float] | npt.ArrayLike,
        denominator: Sequence[float] | npt.ArrayLike,
    ) -> RatioStatistic:
        m = np.asarray(numerator, dtype=float)
        d = np.asarray(denominator, dtype=float)
        return cls(
            n=int(m.size),
            numerator_sum=float(m.sum()),
            numerator_sum_squares=float((m * m).sum()),
            denominator_sum=float(d.sum()),
            denominator_sum_squares=float((d * d).sum()),
            cross_sum=float((m * d).sum()),
        )

    def __add__(self, other: RatioStatistic) -> RatioStatistic:
        return RatioStatistic(
            n=self.n + other.n,
            numerator_sum=self.numerator_sum + other.numerator_sum,
            numerator_sum_squares=self.numerator_sum_squares + other.numerator_sum_squares,
            denominator_sum=self.denominator_sum + other.denominator_sum,
            denominator_sum_squares=self.denominator_sum_squares + other.denominator_sum_squares,
            cross_sum=self.cross_sum + other.cross_sum,
        )

    @property
    def numerator(self) -> SampleMean:
        return SampleMean(self.n, self.numerator_sum, self.numerator_sum_squares)

    @property
    def denominator(self) -> SampleMean:
        return SampleMean(self.n, self.denominator_sum, self.denominator_sum_squares)

    @property
    def mean(self) -> float:
        """The ratio R = Σnumerator ÷ Σdenominator (0 when the denominator is 0)."""
        return self.numerator_sum / self.denominator_sum if self.denominator_sum != 0 else 0.0

    @property
    def covariance(self) -> float:
        """Sample covariance of numerator and denominator per unit."""
        return _covariance(self.n, self.cross_sum, self.numerator_sum, self.denominator_sum)

    @property
    def variance(self) -> float:
        """Per-unit delta-method variance of R (its sampling variance is this ÷ n)."""
        return float(
            ratio_arrays(
                self.n,
                self.numerator_sum,
                self.numerator_sum_squares,
                self.denominator_sum,
                self.denominator_sum_squares,
                self.cross_sum,
            )[1]
        )

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance / self.n) if self.n > 0 else 0.0

    def check(self) -> StatisticProblem | None:
        problem = _finite(
            numerator_sum=self.numerator_sum,
            numerator_sum_squares=self.numerator_sum_squares,
            denominator_sum=self.denominator_sum,
            denominator_sum_squares=self.denominator_sum_squares,
            cross_sum=self.cross_sum,
        ) or _negative(
            n=self.n,
            numerator_sum_squares=self.numerator_sum_squares,
            denominator_sum_squares=self.denominator_sum_squares,
        )
        if problem:
            return problem
        if self.n < 2:
            return "too_few_units", f"n = {self.n}: at least 2 units are needed"
        if self.denominator_sum == 0:
            return "zero_denominator", "the denominator sums to 0: the ratio is undefined"
        return None


@dataclass(frozen=True)
class RegressionAdjusted:
    """A mean metric and its pre-period covariate (CUPED): n, Σy, Σy², Σx, Σx², Σxy.

    >>> s = RegressionAdjusted(n=3, sum=6.0, sum_squares=14.0, covariate_sum=3.0,
    ...                        covariate_sum_squares=5.0, cross_sum=8.0)
    >>> s.mean, s.covariate_mean, s.covariance
    (2.0, 1.0, 1.0)
    """

    n: int
    sum: float
    sum_squares: float
    covariate_sum: float
    covariate_sum_squares: float
    cross_sum: float  # Σ y · x

    @classmethod
    def from_values(
        cls, values: Sequence[float] | npt.ArrayLike, covariate: Sequence[float] | npt.ArrayLike
    ) -> RegressionAdjusted:
        y = np.asarray(values, dtype=float)
        x = np.asarray(covariate, dtype=float)
        return cls(
            n=int(y.size),
            sum=float(y.sum()),
            sum_squares=float((y * y).sum()),
            covariate_sum=float(x.sum()),
            covariate_sum_squares=float((x * x).sum()),
            cross_sum=float((x * y).sum()),
        )

    def __add__(self, other: RegressionAdjusted) -> RegressionAdjusted:
        return RegressionAdjusted(
            n=self.n + other.n,
            sum=self.sum + other.sum,
            sum_squares=self.sum_squares + other.sum_squares,
            covariate_sum=self.covariate_sum + other.covariate_sum,
            covariate_sum_squares=self.covariate_sum_squares + other.covariate_sum_squares,
            cross_sum=self.cross_sum + other.cross_sum,
        )

    @property
    def post(self) -> SampleMean:
        return SampleMean(self.n, self.sum, self.sum_squares)

    @property
    def pre(self) -> SampleMean:
        return SampleMean(self.n, self.covariate_sum, self.covariate_sum_squares)

    @property
    def mean(self) -> float:
        return self.post.mean

    @property
    def variance(self) -> float:
        return self.post.variance

    @property
    def covariate_mean(self) -> float:
        return self.pre.mean

    @property
    def covariate_variance(self) -> float:
        return self.pre.variance

    @property
    def covariance(self) -> float:
        return _covariance(self.n, self.cross_sum, self.sum, self.covariate_sum)

    @property
    def correlation(self) -> float:
        """Pearson correlation of y and x (0 when either has no variance)."""
        v = self.variance * self.covariate_variance
        return self.covariance / math.sqrt(v) if v > 0 else 0.0

    def check(self) -> StatisticProblem | None:
        problem = _finite(
            sum=self.sum,
            sum_squares=self.sum_squares,
            covariate_sum=self.covariate_sum,
            covariate_sum_squares=self.covariate_sum_squares,
            cross_sum=self.cross_sum,
        ) or _negative(
            n=self.n,
            sum_squares=self.sum_squares,
            covariate_sum_squares=self.covariate_sum_squares,
        )
        if problem:
            return problem
        if self.n < 2:
            return "too_few_units", f"n = {self.n}: at least 2 units are needed"
        return None


@dataclass(frozen=True)
class RegressionAdjustedRatio:
    """A ratio metric and the same ratio in the pre-period (CUPED for ratio metrics).

    ``post`` and ``pre`` are the ratio statistics of the same units (users without
    pre-period activity contribute zeros to the pre sums); the four cross sums pair the
    post numerator m and denominator d with the pre numerator m' and denominator d'.
    Both ratios are linearised by the delta method, y = (m − R d) / D̄ and
    x = (m' − R' d') / D̄', and CUPED regresses y on x.
    """

    post: RatioStatistic
    pre: RatioStatistic
    numerator_pre_numerator_sum: float  # Σ m · m'
    numerator_pre_denominator_sum: float  # Σ m · d'
    denominator_pre_numerator_sum: float  # Σ d · m'
    denominator_pre_denominator_sum: float  # Σ d · d'

    @classmethod
    def from_values(
        cls,
        numerator: Sequence[float] | npt.ArrayLike,
        denominator: Sequence[float] | npt.ArrayLike,
        pre_numerator: Sequence[float] | npt.ArrayLike,
        pre_denominator: Sequence[float] | npt.ArrayLike,
    ) -> RegressionAdjustedRatio:
        m, d = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
        mp, dp = np.asarray(pre_numerator, dtype=float), np.asarray(pre_denominator, dtype=float)
        return cls(
            post=RatioStatistic.from_values(m, d),
            pre=RatioStatistic.from_values(mp, dp),
            numerator_pre_numerator_sum=float((m * mp).sum()),
            numerator_pre_denominator_sum=float((m * dp).sum()),
            denominator_pre_numerator_sum=float((d * mp).sum()),
            denominator_pre_denominator_sum=float((d * dp).sum()),
        )

    def __add__(self, other: RegressionAdjustedRatio) -> RegressionAdjustedRatio:
        return RegressionAdjustedRatio(
            post=self.post + other.post,
            pre=self.pre + other.pre,
            numerator_pre_numerator_sum=self.numerator_pre_numerator_sum
            + other.numerator_pre_numerator_sum,
            numerator_pre_denominator_sum=self.numerator_pre_denominator_sum
            + other.numerator_pre_denominator_sum,
            denominator_pre_numerator_sum=self.denominator_pre_numerator_sum
            + other.denominator_pre_numerator_sum,
            denominator_pre_denominator_sum=self.denominator_pre_denominator_sum
            + other.denominator_pre_denominator_sum,
        )

    @property
    def n(self) -> int:
        return self.post.n

    @property
    def mean(self) -> float:
        return self.post.mean

    @property
    def variance(self) -> float:
        return self.post.variance

    @property
    def covariate_mean(self) -> float:
        return self.pre.mean

    @property
    def covariate_variance(self) -> float:
        return self.pre.variance

    @property
    def covariance(self) -> float:
        """Covariance of the linearised post and pre ratios per unit."""
        n = self.n
        post, pre = self.post, self.pre
        d_mean, dp_mean = post.denominator.mean, pre.denominator.mean
        if n < 2 or d_mean == 0 or dp_mean == 0:
            return 0.0
        r, rp = post.mean, pre.mean
        c_mmp = _covariance(
            n, self.numerator_pre_numerator_sum, post.numerator_sum, pre.numerator_sum
        )
        c_mdp = _covariance(
            n, self.numerator_pre_denominator_sum, post.numerator_sum, pre.denominator_sum
        )
        c_dmp = _covariance(
            n, self.denominator_pre_numerator_sum, post.denominator_sum, pre.numerator_sum
        )
        c_ddp = _covariance(
            n, self.denominator_pre_denominator_sum, post.denominator_sum, pre.denominator_sum
        )
        return (c_mmp - rp * c_mdp - r * c_dmp + r * rp * c_ddp) / (d_mean * dp_mean)

    def check(self) -> StatisticProblem | None:
        if self.post.n != self.pre.n:
            return "inconsistent_units", (
                f"post ({self.post.n}) and pre ({self.pre.n}) periods count different units"
            )
        problem = self.post.check()
        if problem:
            return problem
        pre_problem = self.pre.check()
        if pre_problem and pre_problem[0] != "zero_denominator":
            return pre_problem
        return None
