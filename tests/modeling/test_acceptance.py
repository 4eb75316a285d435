"""The acceptance model against statsmodels, the row-level fit and the simulator's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.metrics import roc_auc_score

from codex_ds.modeling import acceptance as A

ROWS_SQL = """
SELECT s.user_id, u.segment, s.language, se.task_type, s.trigger, s.model_version,
    (hour(s.shown_at) >= 18 OR hour(s.shown_at) < 8) AS evening,
    s.latency_ms / 1000.0 AS latency_s,
    ln(greatest(s.suggested_chars, 1)) AS log_suggested_chars,
    CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted
FROM suggestions AS s
JOIN sessions AS se ON se.session_id = s.session_id
JOIN users AS u ON u.user_id = s.user_id
WHERE s.outcome <> 'not_shown'
ORDER BY s.suggestion_id
"""


@pytest.fixture(scope="module")
def patterns(simulated) -> pd.DataFrame:
    return A.load_patterns(simulated.con)


@pytest.fixture(scope="module")
def fit(patterns: pd.DataFrame) -> A.AcceptanceModelResult:
    return A.fit_acceptance_model(patterns, cv_folds=3)


@pytest.fixture(scope="module")
def rows(simulated) -> pd.DataFrame:
    return simulated.con.execute(ROWS_SQL).df()


def test_design_matches_the_planted_model(fit: A.AcceptanceModelResult, simulated) -> None:
    truth = simulated.truth["acceptance_model"]
    planted = {k for k, v in truth["coefficients"].items() if v is not None}
    estimated = {c.name for c in fit.coefficients}
    # every non-reference planted term is estimated, and nothing else
    references = {f"{f}[{lvl}]" for f, lvl in truth["reference_levels"].items()}
    assert estimated == planted - references
    assert fit.reference_levels == truth["reference_levels"]
    assert fit.covariance == "cluster_user"
    assert fit.suggestions == truth["shown_suggestions"]


def test_intervals_cover_the_planted_coefficients(patterns: pd.DataFrame, simulated) -> None:
    truth = simulated.truth["acceptance_model"]
    k = len(A.fit_acceptance_model(patterns, cv_folds=0).coefficients)
    # family-wise: Bonferroni intervals cover every planted coefficient
    joint = A.fit_acceptance_model(patterns, cv_folds=0, confidence=1 - 0.05 / k)
    checks = A.compare_with_truth(joint, truth)
    assert len(checks) == k
    assert all(c.covered for c in checks), [c for c in checks if not c.covered]
    # and the 95 % intervals cover most of them (35 terms: 33.25 expected)
    single = A.compare_with_truth(A.fit_acceptance_model(patterns, cv_folds=0), truth)
    assert sum(c.covered for c in single) >= 0.85 * k


def test_irls_equals_statsmodels_with_user_clusters(patterns: pd.DataFrame) -> None:
    small = patterns[patterns.user_id.isin(sorted(patterns.user_id.unique())[:120])]
    ours = A.fit_acceptance_model(small, cv_folds=0)
    ref = A.fit_acceptance_model(small, cv_folds=0, engine="statsmodels")
    assert ours.ok and ref.ok and ref.covariance == "cluster_user"
    for a, b in zip(ours.coefficients, ref.coefficients, strict=True):
        assert a.name == b.name
        assert a.estimate == pytest.approx(b.estimate, rel=1e-6, abs=1e-8)
        assert a.se == pytest.approx(b.se, rel=1e-6)
    assert ours.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-9)


def test_model_based_errors_equal_a_binomial_glm(patterns: pd.DataFrame) -> None:
    no_user = patterns.drop(columns=["user_id"]).iloc[:6000]
    ours = A.fit_acceptance_model(no_user, cv_folds=0)
    assert ours.covariance == "model"
    assert any("no user ids" in n for n in ours.notes)
    # statsmodels on a dense dummy design built independently with pandas
    frame = no_user.copy()
    frame["latency_s"] = frame.latency_s_sum / frame.shown
    frame["log_suggested_chars"] = frame.log_chars_sum / frame.shown
    x = pd.get_dummies(frame[list(A.FACTORS)].astype(str), prefix_sep="[", dtype=float)
    x.columns = [f"{c}]" for c in x.columns]
    x = x.drop(columns=[f"{f}[{ref}]" for f, ref in ours.reference_levels.items()])
    x["latency_s"] = frame.latency_s
    x["log_suggested_chars"] = frame.log_suggested_chars
    x["evening"] = frame.evening.astype(float)
    x.insert(0, "intercept", 1.0)
    res = sm.GLM(
        np.column_stack([frame.accepted, frame.shown - frame.accepted]),
        x.to_numpy(),
        family=sm.families.Binomial(),
    ).fit()
    ref = dict(zip(x.columns, zip(res.params, res.bse, strict=True), strict=True))
    for c in ours.coefficients:
        est, se = ref[c.name]
        assert c.estimate == pytest.approx(est, rel=1e-6, abs=1e-8), c.name
        assert c.se == pytest.approx(se, rel=1e-6), c.name


def test_patterns_give_the_row_level_estimates(
    fit: A.AcceptanceModelResult, rows: pd.DataFrame
) -> None:
    """Bucketing latency (50 ms) and ln-length (0.5) moves no estimate by 0.1 SE."""
    exact = A.fit_acceptance_model(A.patterns_from_rows(rows), cv_folds=0)
    for a, b in zip(exact.coefficients, fit.coefficients, strict=True):
        assert a.name == b.name
        assert abs(a.estimate - b.estimate) < 0.1 * a.se, (a.name, a.estimate, b.estimate)
        assert b.se == pytest.approx(a.se, rel=0.02), a.name


def test_prediction_metrics_equal_sklearn_on_rows(rows: pd.DataFrame) -> None:
    part = rows.iloc[:30000]
    res = A.fit_acceptance_model(A.patterns_from_rows(part), cv_folds=4, seed=3)
    q = res.prediction
    assert q is not None
    # the fitted probabilities, rebuilt from the coefficients
    x = pd.DataFrame({"intercept": 1.0}, index=part.index)
    for c in res.coefficients[1:]:
        if "[" in c.name:
            f, lvl = c.name[:-1].split("[")
            x[c.name] = (part[f] == lvl).astype(float)
        else:
            x[c.name] = part[c.name].astype(float)
    beta = np.array([c.estimate for c in res.coefficients])
    p = 1 / (1 + np.exp(-(x.to_numpy() @ beta)))
    y = part.accepted.to_numpy()
    assert q.auc == pytest.approx(roc_auc_score(y, p), rel=1e-9)
    assert q.brier == pytest.approx(float(np.mean((p - y) ** 2)), rel=1e-9)
    assert sum(b.suggestions for b in q.calibration) == len(part)
    assert len(q.calibration) == 10
    # calibrated in sample: the logistic score equations make Σp = Σy
    assert sum(b.predicted * b.suggestions for b in q.calibration) == pytest.approx(y.sum())
    assert q.cv_folds == 4 and q.cv_grouped_by == "user"
    assert all(0.5 < a < 0.7 for a in q.cv_auc)


def test_standard_errors_are_clustered_by_user(rows: pd.DataFrame) -> None:
    """Counting every suggestion twice leaves the estimates unchanged. Model-based SEs
    shrink by √2 (the copies pretend to be independent); clustered ones do not (the user
    is the unit, and each user still has the same information)."""
    part = rows.iloc[:40000]
    once = A.fit_acceptance_model(A.patterns_from_rows(part), cv_folds=0)
    once_naive = A.fit_acceptance_model(
        A.patterns_from_rows(part.drop(columns="user_id")), cv_folds=0
    )
    doubled = A.patterns_from_rows(pd.concat([part, part]))
    twice = A.fit_acceptance_model(doubled, cv_folds=0)
    naive = A.fit_acceptance_model(doubled.drop(columns=["user_id"]), cv_folds=0)
    for a, b, m, c in zip(
        once.coefficients,
        twice.coefficients,
        once_naive.coefficients,
        naive.coefficients,
        strict=True,
    ):
        assert b.estimate == pytest.approx(a.estimate, rel=1e-7, abs=1e-9)
        assert b.se == pytest.approx(a.se, rel=0.01)
        assert c.se == pytest.approx(m.se / np.sqrt(2), rel=1e-6)
        assert a.model_se == pytest.approx(m.se, rel=1e-9)  # the inverse information


# ------------------------------------------------- in the warehouse: scores per user in SQL

ROWS_WITH_KEYS_SQL = """
SELECT s.user_id, u.segment, s.language, se.task_type, s.trigger, s.model_version,
    (hour(s.shown_at) >= 18 OR hour(s.shown_at) < 8) AS evening,
    CAST(floor(s.latency_ms / 25.0) AS BIGINT) AS latency_bucket,
    CAST(floor(4.0 * ln(greatest(s.suggested_chars, 1))) AS BIGINT) AS length_bucket,
    CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted
FROM suggestions AS s
JOIN sessions AS se ON se.session_id = s.session_id
JOIN users AS u ON u.user_id = s.user_id
WHERE s.outcome <> 'not_shown' AND CAST(s.shown_at AS DATE) BETWEEN ? AND ?
ORDER BY s.suggestion_id
"""


def test_in_warehouse_fit_equals_statsmodels_clustered_on_rows(simulated) -> None:
    """β from the patterns without users, the meat from per-user score sums in SQL: the
    same sandwich as statsmodels' GLM on one row per suggestion (carrying its pattern's
    mean latency and length) clustered by user."""
    first, last = simulated.con.execute(
        "SELECT min(CAST(shown_at AS DATE)), min(CAST(shown_at AS DATE)) + 2 FROM suggestions"
    ).fetchone()
    params = {"start_date": first, "end_date": last}
    ours = A.fit_in_warehouse(simulated.con, params)
    assert ours.ok and ours.covariance == "cluster_user"
    patterns = A.load_patterns(simulated.con, params, by_user=False)
    assert patterns.user_id.isna().all() and ours.patterns == len(patterns)
    rows = simulated.con.execute(ROWS_WITH_KEYS_SQL, [first, last]).df()
    means = patterns.astype({f: str for f in A.FACTORS}).assign(
        latency_s=patterns.latency_s_sum / patterns.shown,
        log_suggested_chars=patterns.log_chars_sum / patterns.shown,
    )[[*A.PATTERN_KEYS, "latency_s", "log_suggested_chars"]]
    rows = rows.dropna(subset=["task_type"]).merge(means, on=list(A.PATTERN_KEYS), how="inner")
    assert len(rows) == ours.suggestions
    assert rows.user_id.nunique() == ours.users
    ref = A.fit_acceptance_model(
        A.patterns_from_rows(rows.drop(columns=["latency_bucket", "length_bucket"])),
        cv_folds=0,
        engine="statsmodels",
    )
    assert ref.ok and ref.covariance == "cluster_user"
    for a, b in zip(ours.coefficients, ref.coefficients, strict=True):
        assert a.name == b.name
        assert a.estimate == pytest.approx(b.estimate, rel=1e-6, abs=1e-8)
        assert a.se == pytest.approx(b.se, rel=1e-6), a.name
    np.testing.assert_allclose(
        np.asarray(ours.covariance_matrix),
        np.asarray(ref.covariance_matrix),
        rtol=1e-5,
        atol=1e-12,
    )


def test_in_warehouse_fit_covers_the_planted_coefficients(
    simulated, fit: A.AcceptanceModelResult
) -> None:
    truth = simulated.truth["acceptance_model"]
    k = len(fit.coefficients)
    joint = A.fit_in_warehouse(simulated.con, confidence=1 - 0.05 / k)
    assert joint.ok and joint.users == fit.users and joint.suggestions == fit.suggestions
    checks = A.compare_with_truth(joint, truth)
    assert len(checks) == k
    assert all(c.covered for c in checks), [c for c in checks if not c.covered]
    # the same model as the per-user patterns but for each suggestion's covariates being
    # its pattern's mean over all users: estimates within 0.05 SE, SEs within 1 %
    single = A.fit_in_warehouse(simulated.con, predict=True)
    assert single.prediction is not None and single.prediction.cv_folds == 0
    for a, b in zip(single.coefficients, fit.coefficients, strict=True):
        assert a.name == b.name
        assert abs(a.estimate - b.estimate) < 0.05 * b.se, a.name
        assert a.se == pytest.approx(b.se, rel=0.01), a.name


# ------------------------------------------------------------------------ bad input


def _toy(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"u{i % 20}" for i in range(n)],
            "language": rng.choice(["python", "go", "rust"], n),
            "model_version": "v1",
            "latency_s": rng.uniform(0.1, 1.0, n),
            "shown": 1,
            "accepted": rng.integers(0, 2, n),
        }
    )


def test_a_single_class_is_an_error_not_a_traceback() -> None:
    toy = _toy().assign(accepted=1)
    res = A.fit_acceptance_model(toy)
    assert res.error == "single_class" and "every one of the 400" in res.message
    assert res.to_dict()["coefficients"] == []


def test_a_constant_covariate_is_left_out_with_a_note() -> None:
    res = A.fit_acceptance_model(_toy(), cv_folds=0)
    assert res.ok
    assert "model_version is constant ('v1') in the data: left out of the model" in res.notes
    assert not any(c.name.startswith("model_version") for c in res.coefficients)
    flat = _toy().assign(latency_s=0.3)
    res = A.fit_acceptance_model(flat, cv_folds=0)
    assert any(n.startswith("latency_s is constant") for n in res.notes)


def test_missing_values_are_left_out_and_counted() -> None:
    toy = _toy()
    toy.loc[:9, "language"] = None
    toy.loc[10:14, "latency_s"] = np.nan
    res = A.fit_acceptance_model(toy, cv_folds=0)
    assert res.ok and res.suggestions == 385 and res.dropped_missing == 15
    assert (
        "15 suggestions (15 patterns) with a missing value in language, latency_s" in (res.notes[0])
    )


def test_separation_is_reported() -> None:
    toy = _toy()
    toy.loc[toy.language == "rust", "accepted"] = 1
    res = A.fit_acceptance_model(toy, cv_folds=0)
    assert res.error in ("separation", "not_converged")
    assert "language[rust]" in res.message or "converge" in res.message


def test_missing_columns_and_no_data() -> None:
    assert A.fit_acceptance_model(pd.DataFrame({"x": [1]})).error == "missing_columns"
    empty = _toy().iloc[:0]
    res = A.fit_acceptance_model(empty)
    assert res.error == "no_data" and res.message
    only_counts = pd.DataFrame({"shown": [3], "accepted": [1]})
    assert A.fit_acceptance_model(only_counts).error == "missing_columns"


def test_wald_statistic_and_inference_only() -> None:
    toy = _toy(2000, seed=3)
    res = A.fit_acceptance_model(toy, predict=False)
    assert res.ok and res.prediction is None
    names = [c.name for c in res.coefficients]
    cov = np.asarray(res.covariance_matrix)
    assert cov.shape == (len(names), len(names))
    assert np.sqrt(np.diag(cov)) == pytest.approx([c.se for c in res.coefficients], rel=1e-12)
    zero = dict.fromkeys(names, 0.0)
    beta = np.array([c.estimate for c in res.coefficients])
    chi2, df = res.wald_chi2(zero)
    assert df == len(names)
    assert chi2 == pytest.approx(float(beta @ np.linalg.solve(cov, beta)), rel=1e-12)
    one, df1 = res.wald_chi2({"latency_s": 0.0})
    assert df1 == 1 and one == pytest.approx(res.coefficient("latency_s").z ** 2, rel=1e-12)
