"""Power, MDE and sample size against statsmodels.stats.power."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize

from codex_ds.experiments.power import (
    PowerConfig,
    mde_means,
    mde_proportions,
    power_means,
    power_proportions,
    power_t,
    power_z,
    sample_size_means,
    sample_size_proportions,
    sample_size_ratio,
    solve_effect_size,
    solve_sample_size,
)
from codex_ds.experiments.sequential import classical_design, group_sequential_design
from codex_ds.experiments.statistics import RatioStatistic

RTOL = 1e-8
SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
CASES = [
    (0.2, 393.0, 0.05, 1.0, "two-sided"),
    (0.05, 5000.0, 0.01, 2.0, "two-sided"),
    (0.3, 120.0, 0.05, 0.5, "greater"),
    (-0.25, 80.0, 0.1, 1.0, "less"),
    (0.8, 10.0, 0.05, 1.0, "two-sided"),
]


@pytest.mark.parametrize(("d", "n", "alpha", "ratio", "alt"), CASES)
def test_power_equals_statsmodels(d: float, n: float, alpha: float, ratio: float, alt: str) -> None:
    sm_alt = SM_ALT[alt]
    z_ref = NormalIndPower().power(d, n, alpha, ratio=ratio, alternative=sm_alt)
    t_ref = TTestIndPower().power(d, n, alpha, ratio=ratio, alternative=sm_alt)
    assert float(power_z(d, n, alpha, ratio, alt)) == pytest.approx(z_ref, rel=RTOL)  # type: ignore[arg-type]
    assert float(power_t(d, n, alpha, ratio, alt)) == pytest.approx(t_ref, rel=RTOL)  # type: ignore[arg-type]


@pytest.mark.parametrize(("d", "n", "alpha", "ratio", "alt"), CASES)
def test_sample_size_equals_statsmodels(
    d: float, n: float, alpha: float, ratio: float, alt: str
) -> None:
    """statsmodels' root finder stops at |power − target| ≈ 1e-9, about 3e-9 relative in n:
    our root (|power − target| < 1e-14) is within 1e-8 of it."""
    sm_alt = SM_ALT[alt]
    n_z = solve_sample_size(d, alpha, 0.8, ratio, alt)  # type: ignore[arg-type]
    n_t = solve_sample_size(d, alpha, 0.8, ratio, alt, "t")  # type: ignore[arg-type]
    ref_z = zt_ind_solve_power(d, None, alpha, 0.8, ratio, sm_alt)
    ref_z2 = NormalIndPower().solve_power(d, None, alpha, 0.8, ratio, sm_alt)
    ref_t = TTestIndPower().solve_power(d, None, alpha, 0.8, ratio, sm_alt)
    assert n_z == pytest.approx(ref_z, rel=RTOL)
    assert n_z == pytest.approx(ref_z2, rel=RTOL)
    assert n_t == pytest.approx(ref_t, rel=RTOL)
    assert float(power_z(d, n_z, alpha, ratio, alt)) == pytest.approx(0.8, abs=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "alt"), [(393.0, "two-sided"), (60.0, "greater")])
def test_effect_size_solves_statsmodels_power_equation(n: float, alt: str) -> None:
    """statsmodels' own effect-size root is loose (its power misses the target by up to
    6e-6 here), so the oracle is its power function at our root, to 1e-12; the roots agree
    to 1e-4."""
    for test, model in (("z", NormalIndPower()), ("t", TTestIndPower())):
        ours = solve_effect_size(n, 0.05, 0.8, 1.0, alt, test)  # type: ignore[arg-type]
        assert model.power(ours, n, 0.05, alternative=SM_ALT[alt]) == pytest.approx(0.8, abs=1e-12)
        ref = model.solve_power(None, n, 0.05, 0.8, 1.0, SM_ALT[alt])
        assert ours == pytest.approx(ref, rel=1e-4)


def test_proportions_use_cohens_h() -> None:
    r = sample_size_proportions(0.25, 0.02)
    h = proportion_effectsize(0.27, 0.25)
    ref = NormalIndPower().solve_power(h, None, 0.05, 0.8)
    assert r.effect_size == pytest.approx(h, rel=1e-12)
    assert r.n_control_exact == pytest.approx(ref, rel=RTOL)
    assert r.n_control == math.ceil(ref)
    rel = sample_size_proportions(0.25, 0.08, relative=True)
    assert rel.n_control == r.n_control
    p = power_proportions(0.25, 0.02, r.n_control_exact or 0)
    assert p.power == pytest.approx(0.8, abs=1e-10)
    m = mde_proportions(0.25, r.n_control_exact or 0)
    assert m.mde == pytest.approx(0.02, rel=1e-9)


def test_means_mde_and_power_round_trip() -> None:
    cfg = PowerConfig(test="t", allocation_ratio=1.5)
    n = sample_size_means(12.0, 1.5, cfg)
    assert power_means(12.0, 1.5, n.n_control_exact or 0, cfg).power == pytest.approx(0.8)
    assert mde_means(12.0, n.n_control_exact or 0, cfg).mde == pytest.approx(1.5, rel=1e-9)
    assert n.n_treatment == math.ceil(1.5 * (n.n_control_exact or 0) - 1e-9)


def test_cuped_divides_sample_size_by_one_minus_rho_squared() -> None:
    plain = sample_size_means(1.0, 0.1)
    cuped = sample_size_means(1.0, 0.1, PowerConfig(covariate_correlation=0.6))
    assert (cuped.n_control_exact or 0) / (plain.n_control_exact or 1) == pytest.approx(
        1 - 0.36, rel=1e-9
    )
    assert cuped.variance_reduction == pytest.approx(0.36)


def test_ratio_metric_uses_delta_method_variance() -> None:
    pilot = RatioStatistic(
        n=1000,
        numerator_sum=3000.0,
        numerator_sum_squares=21000.0,
        denominator_sum=10000.0,
        denominator_sum_squares=150000.0,
        cross_sum=45000.0,
    )
    r = sample_size_ratio(pilot, 0.05, relative=True)
    d = 0.05 * pilot.mean / math.sqrt(pilot.variance)
    assert r.n_control_exact == pytest.approx(NormalIndPower().solve_power(d, None, 0.05, 0.8))


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_sequential_designs_inflate_the_sample_size(spending: str) -> None:
    design = group_sequential_design(5, spending=spending)  # type: ignore[arg-type]
    fixed = sample_size_means(1.0, 0.1)
    seq = sample_size_means(1.0, 0.1, PowerConfig(sequential=design))
    assert 1.0 < seq.inflation_factor < 1.3
    assert (seq.n_control_exact or 0) == pytest.approx(
        (fixed.n_control_exact or 0) * seq.inflation_factor, rel=1e-12
    )
    # power of the design at its maximum sample size is the planned power
    p = power_means(1.0, 0.1, seq.n_control_exact or 0, PowerConfig(sequential=design))
    assert p.power == pytest.approx(0.8, abs=1e-6)
    assert mde_means(1.0, seq.n_control_exact or 0, PowerConfig(sequential=design)).mde == (
        pytest.approx(0.1, rel=1e-6)
    )


def test_classical_pocock_inflation_is_larger_than_obrien_fleming() -> None:
    fixed = PowerConfig(power=0.9)
    pocock = sample_size_means(1, 0.1, PowerConfig(power=0.9, sequential=classical_design(5)))
    obf = sample_size_means(
        1, 0.1, PowerConfig(power=0.9, sequential=classical_design(5, kind="obrien_fleming"))
    )
    base = sample_size_means(1, 0.1, fixed).n_control_exact or 0
    assert (obf.n_control_exact or 0) < (pocock.n_control_exact or 0)
    assert (pocock.n_control_exact or 0) / base == pytest.approx(1.2065, abs=2e-4)
