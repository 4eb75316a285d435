"""Calibration: simulated A/A false-positive rates, coverage, power and CUPED's narrowing.

Sizes are chosen so that every acceptance band is at least three Monte-Carlo standard
errors away from the nominal value (a correctly calibrated test fails one of these
assertions by chance with probability well under 1 %), and the seeds are fixed so the run
is deterministic. Each assertion message states the estimate with its MC error.
"""

from __future__ import annotations

import math

import pytest

from codex_ds.experiments.calibration import (
    FIXED_HORIZON_TESTS,
    SEQUENTIAL_TESTS,
    CalibrationReport,
    calibrate,
    mc_standard_error,
)

SEED = 20240601
FIXED_SIMS = 5000  # MC SE of a 5 % rate: 0.31 points; of 95 % coverage: 0.31 points
SEQUENTIAL_SIMS = 20_000  # MC SE of a 5 % rate: 0.15 points


@pytest.fixture(scope="module")
def fixed() -> CalibrationReport:
    return calibrate(
        n_sims=FIXED_SIMS,
        n_per_arm=200,
        seed=SEED,
        tests=(*FIXED_HORIZON_TESTS, "srm", "power"),
    )


@pytest.fixture(scope="module")
def sequential() -> CalibrationReport:
    return calibrate(n_sims=SEQUENTIAL_SIMS, n_per_arm=2000, seed=SEED, tests=SEQUENTIAL_TESTS)


@pytest.mark.parametrize("test", [*FIXED_HORIZON_TESTS, "srm"])
def test_fixed_horizon_false_positive_rate(fixed: CalibrationReport, test: str) -> None:
    f = fixed.get(test, "false_positive_rate")
    assert 0.040 <= f.estimate <= 0.060, f.describe()


@pytest.mark.parametrize(
    "test", ["proportion", "welch", "welch_relative", "ratio", "ratio_absolute", "cuped"]
)
def test_interval_coverage_of_a_planted_effect(fixed: CalibrationReport, test: str) -> None:
    f = fixed.get(test, "coverage")
    assert 0.935 <= f.estimate <= 0.965, f.describe()


def test_ignoring_clustering_by_user_inflates_false_positives(fixed: CalibrationReport) -> None:
    """The contrast that motivates the delta method: a binomial test over suggestions."""
    f = fixed.get("ratio_naive", "false_positive_rate")
    assert f.estimate > 0.15, f.describe()


def test_cuped_narrows_intervals_by_sqrt_one_minus_rho_squared(fixed: CalibrationReport) -> None:
    f = fixed.get("cuped", "width_ratio")
    assert f.target == pytest.approx(math.sqrt(1 - 0.7**2))
    assert abs(f.estimate / f.target - 1) <= 0.05, f.describe()


@pytest.mark.parametrize("test", ["power_proportion", "power_mean"])
def test_predicted_power_matches_simulated_power(fixed: CalibrationReport, test: str) -> None:
    f = fixed.get(test, "power")
    assert abs(f.estimate - f.target) <= 0.03, f.describe()


@pytest.mark.parametrize("test", ["group_sequential", "group_sequential_pocock"])
def test_group_sequential_20_looks(sequential: CalibrationReport, test: str) -> None:
    f = sequential.get(test, "false_positive_rate")
    assert 0.040 <= f.estimate <= 0.055, f.describe()


def test_group_sequential_power(sequential: CalibrationReport) -> None:
    f = sequential.get("group_sequential", "power")
    assert abs(f.estimate - f.target) <= 0.03, f.describe()


def test_always_valid_20_looks_is_valid_and_less_conservative_than_growthbook(
    sequential: CalibrationReport,
) -> None:
    """≤ 5 % at 20 looks, and above the 2.3 % that GrowthBook's confidence sequence
    reaches at best; the Ville-calibrated variant (GrowthBook's) is shown for contrast."""
    f = sequential.get("always_valid", "false_positive_rate")
    assert 0.023 < f.estimate <= 0.05, f.describe()
    ville = sequential.get("always_valid_ville", "false_positive_rate")
    assert ville.estimate < f.estimate, ville.describe()
    assert ville.estimate <= 0.023, ville.describe()


def test_naive_peeking_is_clearly_inflated(sequential: CalibrationReport) -> None:
    f = sequential.get("naive_peeking", "false_positive_rate")
    assert f.estimate > 0.15, f.describe()


def test_figures_state_their_monte_carlo_error(fixed: CalibrationReport) -> None:
    for f in fixed.figures:
        if f.quantity != "width_ratio":
            assert f.mc_standard_error == pytest.approx(mc_standard_error(f.estimate, f.n_sims))
            assert f.mc_interval[0] <= f.estimate <= f.mc_interval[1]
    assert "MC SE" in fixed.figures[0].describe()
    assert fixed.to_markdown().startswith("| test |")


def test_deterministic_and_independent_of_the_other_tests() -> None:
    one = calibrate(n_sims=300, n_per_arm=50, seed=3, tests=("proportion",))
    two = calibrate(n_sims=300, n_per_arm=50, seed=3, tests=("welch", "proportion"))
    assert one.get("proportion", "false_positive_rate") == two.get(
        "proportion", "false_positive_rate"
    )


def test_unknown_test_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown test"):
        calibrate(n_sims=10, tests=("bogus",))  # type: ignore[arg-type]
