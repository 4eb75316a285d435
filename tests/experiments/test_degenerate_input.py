"""Degenerate input gives a result with an error code and a message: never NaN, never a
traceback."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pytest

from codex_ds.experiments.bayesian import BayesianConfig, GaussianPrior, bayesian_compare
from codex_ds.experiments.corrections import adjust_p_values, correct_family
from codex_ds.experiments.cuped import cuped_compare
from codex_ds.experiments.frequentist import (
    TestConfig,
    chi_square_test,
    cohens_d,
    cohens_h,
    compare,
    compare_variants,
    segment_effects,
)
from codex_ds.experiments.power import (
    PowerConfig,
    power_means,
    sample_size_means,
    sample_size_proportions,
    sample_size_ratio,
)
from codex_ds.experiments.sequential import (
    AlwaysValidConfig,
    always_valid_test,
    group_sequential_design,
    group_sequential_test,
)
from codex_ds.experiments.srm import srm_test
from codex_ds.experiments.statistics import (
    Proportion,
    RatioStatistic,
    RegressionAdjusted,
    SampleMean,
)

CONSTANT = SampleMean(n=10, sum=50.0, sum_squares=250.0)  # ten 5s: zero variance
GOOD = SampleMean(n=50, sum=100.0, sum_squares=260.0)
HALF = {"control": 0.5, "treatment": 0.5}


def _numbers(obj: Any) -> list[float]:
    """Every float reachable from a result (dataclass fields, mappings, tuples)."""
    if isinstance(obj, float):
        return [obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [x for f in dataclasses.fields(obj) for x in _numbers(getattr(obj, f.name))]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, tuple | list):
        return [x for v in obj for x in _numbers(v)]
    return []


CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("zero variance", lambda: compare(CONSTANT, CONSTANT), "zero_variance"),
    ("n < 2", lambda: compare(SampleMean(1, 3.0, 9.0), GOOD), "too_few_units"),
    ("n = 0", lambda: compare(SampleMean(0, 0.0, 0.0), GOOD), "too_few_units"),
    ("all successes", lambda: compare(Proportion(10, 10), Proportion(12, 12)), "all_successes"),
    ("no successes", lambda: compare(Proportion(10, 0), Proportion(12, 0)), "no_successes"),
    ("negative counts", lambda: compare(Proportion(-5, 2), Proportion(10, 3)), "negative_counts"),
    (
        "successes above n",
        lambda: compare(Proportion(5, 7), Proportion(10, 3)),
        "successes_exceed_n",
    ),
    ("NaN sums", lambda: compare(SampleMean(5, math.nan, 3.0), GOOD), "non_finite"),
    ("negative sum of squares", lambda: compare(SampleMean(5, 1.0, -3.0), GOOD), "negative_counts"),
    (
        "zero control mean, relative",
        lambda: compare(SampleMean(3, 0.0, 2.0), GOOD, TestConfig(difference="relative")),
        "zero_control_mean",
    ),
    (
        "zero denominator",
        lambda: compare(RatioStatistic(5, 0, 0, 0, 0, 0), RatioStatistic(5, 1, 1, 2, 4, 2)),
        "zero_denominator",
    ),
    (
        "mixed statistic types",
        lambda: compare(GOOD, Proportion(10, 3)),
        "mismatched_statistics",
    ),
    ("alpha out of range", lambda: compare(GOOD, GOOD, TestConfig(alpha=1.5)), "invalid_config"),
    (
        "CUPED zero variance",
        lambda: cuped_compare(
            RegressionAdjusted(10, 50.0, 250.0, 10.0, 20.0, 50.0),
            RegressionAdjusted(10, 50.0, 250.0, 10.0, 20.0, 50.0),
        ),
        "zero_variance",
    ),
    (
        "missing control variant",
        lambda: compare_variants({"v2": GOOD, "v3": GOOD}, control="v1"),
        "missing_variant",
    ),
    ("only the control", lambda: compare_variants({"v1": GOOD}, control="v1"), "missing_variant"),
    (
        "SRM missing variant",
        lambda: srm_test({"control": 100}, HALF),
        "missing_variant",
    ),
    (
        "SRM weights not normalised",
        lambda: srm_test({"control": 100, "treatment": 90}, {"control": 0.5, "treatment": 0.6}),
        "weights_not_normalised",
    ),
    (
        "SRM negative counts",
        lambda: srm_test({"control": -1, "treatment": 90}, HALF),
        "negative_counts",
    ),
    ("SRM no units", lambda: srm_test({"control": 0, "treatment": 0}, HALF), "too_few_units"),
    (
        "unknown metric in the family",
        lambda: correct_family({("typo_rate", "v2"): 0.01}, ["acceptance_rate"], ["v2"]),
        "unknown_metric",
    ),
    (
        "family without a declared variant",
        lambda: correct_family(
            {("acceptance_rate", "v2"): 0.01}, ["acceptance_rate"], ["v2", "v3"]
        ),
        "missing_variant",
    ),
    ("p-value above 1", lambda: adjust_p_values([0.2, 1.3]), "invalid_p_value"),
    ("empty family", lambda: adjust_p_values([]), "empty_family"),
    ("chi-square negative cell", lambda: chi_square_test([[1, -2], [3, 4]]), "negative_counts"),
    ("chi-square empty row", lambda: chi_square_test([[0, 0], [3, 4]]), "zero_variance"),
    ("chi-square 1-D", lambda: chi_square_test([1, 2, 3]), "bad_shape"),
    ("Cohen's d zero variance", lambda: cohens_d(CONSTANT, CONSTANT), "zero_variance"),
    ("Cohen's h outside [0, 1]", lambda: cohens_h(1.2, 0.5), "out_of_range"),
    ("segments: none", lambda: segment_effects({}), "no_segments"),
    (
        "segments: one valid",
        lambda: segment_effects({"a": (GOOD, GOOD), "b": (CONSTANT, CONSTANT)}),
        "too_few_segments",
    ),
    (
        "Bayesian zero variance",
        lambda: bayesian_compare(CONSTANT, CONSTANT),
        "zero_variance",
    ),
    (
        "Bayesian improper prior variance",
        lambda: bayesian_compare(
            GOOD, GOOD, BayesianConfig(prior=GaussianPrior(variance=0.0, proper=True))
        ),
        "invalid_config",
    ),
    (
        "always-valid n < 2",
        lambda: always_valid_test(SampleMean(1, 1.0, 1.0), GOOD, AlwaysValidConfig(1000)),
        "too_few_units",
    ),
    (
        "always-valid planned_n",
        lambda: always_valid_test(GOOD, GOOD, AlwaysValidConfig(planned_n=0)),
        "invalid_config",
    ),
    ("design: decreasing looks", lambda: group_sequential_design([0.5, 0.4]), "invalid_design"),
    ("design: zero looks", lambda: group_sequential_design(0), "invalid_design"),
    ("design: look beyond 1", lambda: group_sequential_test([1.0], [1.5]), "invalid_design"),
    ("power: zero SD", lambda: sample_size_means(0.0, 1.0), "zero_variance"),
    ("power: zero effect", lambda: sample_size_means(1.0, 0.0), "zero_effect"),
    (
        "power: baseline outside (0, 1)",
        lambda: sample_size_proportions(1.2, 0.01),
        "out_of_range",
    ),
    (
        "power: effect against the alternative",
        lambda: sample_size_means(1.0, -0.1, PowerConfig(alternative="greater")),
        "wrong_direction",
    ),
    ("power: n < 2", lambda: power_means(1.0, 0.1, 1), "too_few_units"),
    (
        "power: power = 1",
        lambda: sample_size_means(1.0, 0.1, PowerConfig(power=1.0)),
        "invalid_config",
    ),
    (
        "power: ratio pilot without units",
        lambda: sample_size_ratio(RatioStatistic(1, 1, 1, 1, 1, 1), 0.1),
        "too_few_units",
    ),
]


@pytest.mark.parametrize(("case", "run", "code"), CASES, ids=[c[0] for c in CASES])
def test_degenerate_input_is_an_error_value(case: str, run: Callable[[], Any], code: str) -> None:
    result = run()
    assert result.error == code, f"{case}: {result}"
    assert isinstance(result.message, str) and result.message, case
    assert not any(math.isnan(x) for x in _numbers(result)), f"{case}: NaN in {result}"


def test_error_results_carry_no_numbers() -> None:
    r = compare(CONSTANT, CONSTANT)
    assert (r.estimate, r.p_value, r.ci_low, r.ci_high, r.standard_error) == (None,) * 5
    assert r.significant is None
    b = bayesian_compare(CONSTANT, CONSTANT)
    assert b.chance_to_beat_control is None and b.posterior_mean is None
