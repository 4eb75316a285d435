"""Bad input: each a clear message and an error code, never a traceback or NaN; the CLI exits
non-zero with the message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from codex_ds.causal.design import causal_design
from codex_ds.causal.effects import CausalError
from codex_ds.causal.estimate import CausalOptions, estimate_effects
from codex_ds.cli.main import app


def _frame(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    t = rng.random(n) < 1 / (1 + np.exp(-x))
    return pd.DataFrame(
        {"y": 1.0 + x + 0.5 * t + rng.standard_normal(n), "t": t, "x": x,
         "g": rng.choice(["a", "b"], n)}
    )  # fmt: skip


def _code(frame: pd.DataFrame, covs: list[str] | None = None, t: str = "t") -> str:
    d = causal_design(frame, t, "y", covs or ["x"])
    if isinstance(d, CausalError):
        return d.code
    res = estimate_effects(d, CausalOptions(refute=False))
    assert isinstance(res, CausalError), "expected an error"
    return res.code


def test_perfect_separation_is_no_overlap() -> None:
    f = _frame()
    f["t"] = f.x > 0
    d = causal_design(f, "t", "y", ["x"])
    assert not isinstance(d, CausalError)
    res = estimate_effects(d)
    assert isinstance(res, CausalError) and res.code == "no_overlap"
    assert "overlap" in res.message and "separat" in res.message


def test_non_binary_treatment() -> None:
    f = _frame().assign(t=lambda d: np.arange(len(d)) % 3)
    assert _code(f) == "non_binary_treatment"
    d = causal_design(f.assign(t=["x", "y", "z", "w"] * 100), "t", "y", ["x"])
    assert isinstance(d, CausalError) and "text" in d.message


def test_constant_covariate() -> None:
    f = _frame().assign(c=3.0)
    d = causal_design(f, "t", "y", ["x", "c"])
    assert isinstance(d, CausalError) and d.code == "constant_covariate" and "'c'" in d.message


def test_missing_values_name_the_column_and_count() -> None:
    f = _frame()
    f.loc[[3, 7], "x"] = np.nan
    d = causal_design(f, "t", "y", ["x"])
    assert isinstance(d, CausalError) and d.code == "missing_values"
    assert "'x' (2 of 400 rows)" in d.message


def test_too_few_treated_units() -> None:
    f = _frame()
    f["t"] = False
    f.loc[:4, "t"] = True
    d = causal_design(f, "t", "y", ["x"])
    assert isinstance(d, CausalError) and d.code == "too_few_units"
    assert "5 treated" in d.message


def test_missing_column_and_collinear() -> None:
    d = causal_design(_frame(), "t", "y", ["nope"])
    assert isinstance(d, CausalError) and d.code == "missing_column" and "'nope'" in d.message
    d = causal_design(_frame().assign(x2=lambda f: 2 * f.x), "t", "y", ["x", "x2"])
    assert isinstance(d, CausalError) and d.code == "collinear_covariates"


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("mutate", "args", "expected"),
    [
        (lambda f: f.assign(t=f.x > 0), [], "no_overlap"),
        (lambda f: f.assign(t=np.arange(len(f)) % 3), [], "non_binary_treatment"),
        (lambda f: f.assign(c=1.0), ["--covariates", "x,c"], "constant_covariate"),
        (lambda f: f.assign(x=f.x.where(f.index != 5)), [], "missing_values"),
        (lambda f: f.assign(t=f.index < 3), [], "too_few_units"),
    ],
)
def test_cli_bad_input_exits_nonzero_without_traceback(tmp_path, mutate, args, expected) -> None:
    path = tmp_path / "units.csv"
    mutate(_frame()).to_csv(path, index=False)
    cmd = ["causal", "estimate", "--data", str(path), "--treatment", "t", "--outcome", "y"]
    cmd += args or ["--covariates", "x"]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 1, res.output
    assert expected in res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
