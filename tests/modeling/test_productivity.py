"""Productivity linkage: scipy oracles, the simulator's planted correlation, team CSVs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from codex_ds.modeling import productivity as P


def test_pearson_and_spearman_equal_scipy() -> None:
    rng = np.random.default_rng(4)
    for n in (10, 37, 500):
        x = rng.gamma(2.0, 1.0, n)
        y = np.clip(np.rint(3 + 0.8 * (x - 2) + rng.normal(0, 1, n)), 1, 5)
        row = P.correlate(x, y, "m")
        ref = stats.pearsonr(x, y)
        lo, hi = ref.confidence_interval(0.95)
        assert row.pearson_r == pytest.approx(ref.statistic, rel=1e-12)
        assert row.pearson_p == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)
        assert row.pearson_ci == pytest.approx((lo, hi), rel=1e-10)
        sp = stats.spearmanr(x, y)
        assert row.spearman_rho == pytest.approx(sp.statistic, rel=1e-12)
        assert row.spearman_p == pytest.approx(sp.pvalue, rel=1e-8, abs=1e-300)
        # Bonett-Wright Fisher-z interval, by hand
        z = math.atanh(sp.statistic)
        se = math.sqrt((1 + sp.statistic**2 / 2) / (n - 3))
        q = stats.norm.ppf(0.975)
        assert row.spearman_ci == pytest.approx(
            (math.tanh(z - q * se), math.tanh(z + q * se)), rel=1e-12
        )


def test_ranking_and_pairwise_missing_values() -> None:
    rng = np.random.default_rng(5)
    n = 300
    quality = rng.normal(size=n)
    t = pd.DataFrame(
        {
            "acceptance_rate": quality + rng.normal(0, 0.5, n),
            "shown_rate": rng.normal(size=n),
            "accepted_per_active_hour": quality + rng.normal(0, 2, n),
            "perceived_productivity": quality,
        }
    )
    t.loc[:49, "shown_rate"] = np.nan
    res = P.link_productivity(t)
    assert [r.metric for r in res.rows] == [
        "acceptance_rate",
        "accepted_per_active_hour",
        "shown_rate",
    ]
    assert [r.rank for r in res.rows] == [1, 2, 3]
    assert res.best is not None and res.best.metric == "acceptance_rate"
    assert res.rows[2].n == 250 and res.rows[0].n == 300
    assert res.to_dict()["best_metric"] == "acceptance_rate"


def test_degenerate_input_gives_error_rows() -> None:
    t = pd.DataFrame(
        {
            "acceptance_rate": np.linspace(0, 1, 12),
            "shown_rate": np.ones(12),
            "perceived_productivity": [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2],
        }
    )
    res = P.link_productivity(t)
    by = {r.metric: r for r in res.rows}
    assert by["shown_rate"].error == "constant_metric" and by["shown_rate"].pearson_r is None
    assert by["acceptance_rate"].rank == 1
    few = P.link_productivity(t.iloc[:5])
    assert few.error == "too_few_users" and "5 users answered" in few.message
    flat = P.link_productivity(t.assign(perceived_productivity=3))
    assert {r.error for r in flat.rows} == {"constant_outcome", "constant_metric"}
    missing = P.link_productivity(t.drop(columns="perceived_productivity"))
    assert missing.error == "missing_columns"


def test_warehouse_linkage_recovers_the_planted_correlation(simulated) -> None:
    """The user_behaviour query's acceptance rate and perceived productivity are the
    simulator's: Pearson r equals ground_truth's realised correlation exactly."""
    table = P.load_user_behaviour(simulated.con)
    res = P.link_productivity(table)
    survey = simulated.truth["survey"]
    assert res.respondents == survey["respondents"]
    best = res.best
    assert best is not None and best.metric == "acceptance_rate"
    assert best.pearson_r == pytest.approx(
        survey["realised_correlation_perceived_productivity"], rel=1e-9
    )
    assert best.pearson_ci is not None and best.pearson_ci[0] > 0


# ------------------------------------------------------------------------ team CSVs


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_team_tables_are_read_and_joined(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    n = 40
    rate = rng.uniform(0.1, 0.5, n)
    tel = "user_id,acceptance_rate,shown_rate,team\n" + "".join(
        f"dev{i},{rate[i]:.6f},{0.9 + 0.001 * i:.4f},core\n" for i in range(n)
    )
    survey = (
        "user_id,perceived_productivity\n"
        + "".join(
            f"dev{i},{int(np.clip(round(1 + 8 * rate[i] + rng.normal(0, 0.5)), 1, 5))}\n"
            for i in range(0, n, 2)
        )
        + "\n"
    )
    table = P.read_team_tables(_write(tmp_path / "t.csv", tel), _write(tmp_path / "s.csv", survey))
    assert len(table) == 20 and set(table.team) == {"core"}
    res = P.link_productivity(table)
    assert [r.metric for r in res.rows if r.rank] == ["acceptance_rate", "shown_rate"]
    ref = stats.pearsonr(table.acceptance_rate, table.perceived_productivity)
    assert res.best is not None and res.best.pearson_r == pytest.approx(ref.statistic)


@pytest.mark.parametrize(
    ("telemetry", "survey", "message"),
    [
        ("user_id,acceptance_rate\nu1,0.3\nu2,abc\n", None,
         "t.csv:3: column acceptance_rate: 'abc' is not a number"),
        ("user,acceptance_rate\nu1,0.3\n", None, "t.csv:1: missing column(s) user_id"),
        ("user_id,team\nu1,a\n", None, "t.csv:1: none of the metric columns"),
        ("user_id,acceptance_rate\nu1,0.3\nu1,0.4\n", None,
         "t.csv:3: column user_id: 'u1' repeats line 2"),
        ("user_id,acceptance_rate\nu1,0.3,7\n", None, "t.csv:2: 3 fields, the header has 2"),
        ("", None, "t.csv:1: empty file"),
        ("user_id,acceptance_rate\n", None, "t.csv: no data rows after the header"),
        ("user_id,acceptance_rate\nu1,inf\n", None, "t.csv:2: column acceptance_rate: 'inf'"),
        ("user_id,acceptance_rate\n,0.3\n", None, "t.csv:2: column user_id: empty user id"),
        (None, "user_id,score\nu1,3\n", "s.csv:1: missing column(s) perceived_productivity"),
        (None, "user_id,perceived_productivity\nzz,3\n", "share no user_id"),
    ],
)  # fmt: skip
def test_bad_team_tables_name_file_line_and_column(
    tmp_path: Path, telemetry: str | None, survey: str | None, message: str
) -> None:
    good_t, good_s = "user_id,acceptance_rate\nu1,0.3\n", "user_id,perceived_productivity\nu1,4\n"
    t = _write(tmp_path / "t.csv", good_t if telemetry is None else telemetry)
    s = _write(tmp_path / "s.csv", good_s if survey is None else survey)
    with pytest.raises(P.TeamTableError) as info:
        P.read_team_tables(t, s)
    assert message in str(info.value)


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    s = _write(tmp_path / "s.csv", "user_id,perceived_productivity\nu1,4\n")
    with pytest.raises(P.TeamTableError, match="no such file"):
        P.read_team_tables(tmp_path / "absent.csv", s)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"user_id,acceptance_rate\nu\xff,0.3\n")
    with pytest.raises(P.TeamTableError, match="not UTF-8"):
        P.read_team_tables(bad, s)
