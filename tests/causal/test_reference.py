"""Exact external reference: Cattaneo (2010) birth weights (shipped inside statsmodels) against
Stata's ``teffects`` (ATE) and statsmodels' ``TreatmentEffect`` (ATT).

Treatment model: probit ``mbsmoke ~ mmarried + mage + mage² + fbaby + medu``; outcome model
``bweight ~ prenatal1 + mmarried + mage + fbaby``. Stata (as in statsmodels' own tests):
RA −239.639 (23.824), IPW −230.689 (25.815), AIPW −230.989 (26.211).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels

from codex_ds.causal.design import causal_design
from codex_ds.causal.doubly_robust import aipw
from codex_ds.causal.effects import CausalError
from codex_ds.causal.propensity import PropensityModel, fit_propensity
from codex_ds.causal.regression import fit_outcome_models, regression_adjustment
from codex_ds.causal.weighting import ipw

DATA = Path(statsmodels.__file__).parent / "treatment/tests/results/cataneo2.csv"
PS_TERMS = ["mmarried_", "mage", "mage^2", "fbaby_", "medu"]
OUT_TERMS = ["prenatal1_", "mmarried_", "mage", "fbaby_"]
STATA = {"ra": (-239.639, 23.824), "ipw": (-230.689, 25.815), "aipw": (-230.989, 26.211)}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def fitted(frame: pd.DataFrame) -> tuple:
    ps = causal_design(frame, "mbsmoke_", "bweight", PS_TERMS)
    out = causal_design(frame, "mbsmoke_", "bweight", OUT_TERMS)
    assert not isinstance(ps, CausalError) and not isinstance(out, CausalError)
    model = fit_propensity(ps.X, ps.t, ps.names, "probit")
    assert isinstance(model, PropensityModel)
    return ps, out, model


def _close(value: float, ref: float, rtol: float) -> bool:
    return abs(value - ref) <= rtol * abs(ref) + 0.0005  # Stata prints 3 decimals


def test_probit_matches_statsmodels(frame: pd.DataFrame, fitted: tuple) -> None:
    from statsmodels.discrete.discrete_model import Probit

    _, _, model = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Probit.from_formula("mbsmoke_ ~ mmarried_ + mage + mage2 + fbaby_ + medu", frame).fit(
            disp=0
        )
    np.testing.assert_allclose(model.coef, np.asarray(ref.params), rtol=1e-8)


@pytest.mark.parametrize("method", ["ra", "ipw", "aipw"])
def test_ate_equals_stata_teffects(fitted: tuple, method: str) -> None:
    ps, out, model = fitted
    if method == "ra":
        res = regression_adjustment(out, "ATE")
    elif method == "ipw":
        res = ipw(ps, model, "ATE")
    else:
        res = aipw(ps, model, "ATE", outcome_models=fit_outcome_models(out.X, out.t, out.y))
    assert not isinstance(res, CausalError)
    est, se = STATA[method]
    assert _close(res.estimate, est, 1e-4), (method, res.estimate, est)
    assert res.se is not None
    assert abs(res.se - se) <= 1e-2 * se, (method, res.se, se)
    # Stata's values are rounded to 3 decimals: ours agree to that rounding
    assert round(res.estimate, 3) == pytest.approx(est, abs=1e-3)
    assert round(res.se, 3) == pytest.approx(se, abs=1e-3)


def test_att_equals_statsmodels(frame: pd.DataFrame, fitted: tuple) -> None:
    from statsmodels.discrete.discrete_model import Probit
    from statsmodels.regression.linear_model import OLS
    from statsmodels.treatment.treatment_effects import TreatmentEffect

    ps, out, model = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rp = Probit.from_formula("mbsmoke_ ~ mmarried_ + mage + mage2 + fbaby_ + medu", frame)
        te = TreatmentEffect(
            OLS.from_formula("bweight ~ prenatal1_ + mmarried_ + mage + fbaby_", frame),
            np.asarray(frame.mbsmoke_),
            results_select=rp.fit(disp=0),
        )
        ref_ra = te.ra(return_results=True, effect_group=1)
        ref_ipw = te.ipw(return_results=True, effect_group=1)
    ra = regression_adjustment(out, "ATT")
    w = ipw(ps, model, "ATT")
    assert not isinstance(w, CausalError)
    assert ra.estimate == pytest.approx(ref_ra.effect[0], rel=1e-8)
    assert ra.se == pytest.approx(float(ref_ra.summary_frame().iloc[0, 1]), rel=1e-6)
    # statsmodels re-solves the stacked GMM numerically: agreement to its tolerance
    assert w.estimate == pytest.approx(ref_ipw.effect[0], rel=1e-4)
    assert w.se == pytest.approx(float(ref_ipw.summary_frame().iloc[0, 1]), rel=1e-3)
    assert ra.estimate == pytest.approx(-223.3017, abs=1e-4)  # Stata manual, teffects ra atet
