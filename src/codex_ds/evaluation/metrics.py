"""Code-evaluation metrics: pass@k, edit distance to the reference, code quality, paired tests.

Everything here is pure: arrays and dataclasses in, results out; no files, no printing.

* :func:`pass_at_k` -- the unbiased estimator of Chen et al. (2021, "Evaluating Large
  Language Models Trained on Code", eq. 1) in its numerically stable product form,
  vectorised over tasks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["pass_at_k"]

FloatArray = npt.NDArray[np.float64]


def _pass_at_k_array(n: npt.NDArray[np.int64], c: npt.NDArray[np.int64], k: int) -> FloatArray:
    out = np.ones(n.shape, dtype=float)
    # For a fixed n, 1 − Π_{i=n−c+1}^{n} (1 − k/i) for every c at once is one cumulative
    # product over i = n, n−1, …, k+1; c beyond n − k has a zero factor (estimate 1).
    for n_value in np.unique(n):
        nv = int(n_value)
        at = n == n_value
        factors = 1.0 - k / np.arange(nv, k, -1, dtype=float)  # i = n … k+1
        products = np.concatenate(([1.0], np.cumprod(factors)))  # index c: product of c factors
        cs = c[at]
        estimate = np.ones(cs.shape, dtype=float)
        inside = cs <= nv - k
        estimate[inside] = 1.0 - products[cs[inside]]
        out[at] = estimate
    return out


def pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: int) -> float | FloatArray:
    """Unbiased pass@k for tasks with ``n`` samples of which ``c`` passed.

    pass@k = 1 − C(n−c, k) / C(n, k) = 1 − Π_{i=n−c+1}^{n} (1 − k/i)  (Chen et al. 2021),
    and 1 when n − c < k. ``n`` and ``c`` broadcast (scalars give a float, arrays an array).
    Every task needs ``n ≥ k`` and ``0 ≤ c ≤ n``: otherwise :class:`ValueError` (a caller
    reports pass@k only for the k every task supports; see :func:`pass_at_k_table`).

    >>> round(pass_at_k(10, 3, 1), 12)
    0.3
    >>> round(pass_at_k(5, 1, 2), 10)  # 1 − C(4,2)/C(5,2) = 1 − 6/10
    0.4
    >>> pass_at_k([4, 4, 4], [0, 2, 4], 2).tolist()
    [0.0, 0.8333333333333333, 1.0]
    """
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n), np.asarray(c))
    scalar = n_arr.ndim == 0
    n_i = np.atleast_1d(n_arr).astype(np.int64)
    c_i = np.atleast_1d(c_arr).astype(np.int64)
    whole = np.array_equal(n_i, np.atleast_1d(n_arr)) and np.array_equal(c_i, np.atleast_1d(c_arr))
    if not whole:
        raise ValueError("n and c must be whole numbers")
    if np.any(c_i < 0) or np.any(c_i > n_i):
        raise ValueError("every task needs 0 <= c <= n")
    if np.any(n_i < k):
        raise ValueError(f"pass@{k} needs n >= {k} samples for every task (min n = {n_i.min()})")
    result = _pass_at_k_array(n_i, c_i, k)
    return float(result[0]) if scalar else result
