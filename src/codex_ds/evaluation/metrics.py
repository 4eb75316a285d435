"""Code-evaluation metrics: pass@k, edit distance to the reference, code quality, paired tests.

Everything here is pure: arrays and dataclasses in, results out; no files, no printing.

* :func:`pass_at_k` -- the unbiased estimator of Chen et al. (2021, "Evaluating Large
  Language Models Trained on Code", eq. 1) in its numerically stable product form,
  vectorised over tasks; :func:`pass_at_k_summary` reports it for the k every task
  supports (n ≥ k), with a percentile bootstrap interval over tasks.
* :func:`normalised_levenshtein`, :func:`token_edit_distance` -- distance of a completion
  to the reference, in characters and in code tokens (rapidfuzz), both in [0, 1].
* :func:`cyclomatic_complexity` -- McCabe complexity of the entry point (lizard, for all
  three languages); :func:`style_findings` -- light lint checks for JavaScript and C++
  (Python is linted with ruff at the edge, :mod:`codex_ds.evaluation.quality`).
* :func:`mcnemar_exact`, :func:`paired_bootstrap_pass1`, :func:`compare_runs` -- two runs on
  the same tasks: McNemar's exact test on paired per-sample verdicts and a paired bootstrap
  of the pass@1 difference over tasks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "McNemarResult",
    "PairedBootstrap",
    "PassAtKEstimate",
    "RunComparison",
    "code_tokens",
    "compare_runs",
    "cyclomatic_complexity",
    "mcnemar_exact",
    "normalised_levenshtein",
    "paired_bootstrap_pass1",
    "pass_at_k",
    "pass_at_k_summary",
    "style_findings",
    "token_edit_distance",
]

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


# --- pass@k over a task set -----------------------------------------------------------------

EstimateStatus = Literal["ok", "n_below_k", "no_tasks"]


@dataclass(frozen=True)
class PassAtKEstimate:
    """pass@k over tasks: the mean of per-task estimates, with a bootstrap interval.

    ``status`` is ``"ok"`` or says why there is no value (``value`` is then None).
    """

    k: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    tasks: int
    min_n: int
    status: EstimateStatus = "ok"
    message: str = ""


def pass_at_k_summary(
    n: npt.ArrayLike,
    c: npt.ArrayLike,
    ks: Sequence[int],
    *,
    bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[PassAtKEstimate]:
    """pass@k for each k in ``ks`` over tasks with ``n`` samples and ``c`` passes each.

    A k above the smallest n gets status ``n_below_k`` (no value): averaging tasks where
    the estimator exists with tasks where it does not would bias the score. The interval
    is the percentile bootstrap over tasks (resampling tasks with replacement,
    ``bootstrap`` replicates), i.e. the uncertainty from the choice of tasks.

    >>> [e.value for e in pass_at_k_summary([2, 2], [1, 2], [1, 2, 3], bootstrap=0)]
    [0.75, 1.0, None]
    """
    n_arr = np.asarray(n, dtype=np.int64)
    c_arr = np.asarray(c, dtype=np.int64)
    out: list[PassAtKEstimate] = []
    if n_arr.size == 0:
        return [
            PassAtKEstimate(k, None, None, None, 0, 0, "no_tasks", "no tasks were evaluated")
            for k in ks
        ]
    min_n = int(n_arr.min())
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n_arr.size, size=(bootstrap, n_arr.size)) if bootstrap else None
    alpha = (1.0 - confidence) / 2.0
    for k in ks:
        if k > min_n:
            out.append(
                PassAtKEstimate(
                    k,
                    None,
                    None,
                    None,
                    int(n_arr.size),
                    min_n,
                    "n_below_k",
                    f"pass@{k} needs n >= {k} samples for every task (smallest n is {min_n})",
                )
            )
            continue
        per_task = np.asarray(pass_at_k(n_arr, c_arr, k), dtype=float).reshape(-1)
        value = float(per_task.mean())
        lo = hi = None
        if index is not None:
            means = per_task[index].mean(axis=1)
            lo, hi = (float(v) for v in np.quantile(means, [alpha, 1.0 - alpha]))
        out.append(PassAtKEstimate(k, value, lo, hi, int(n_arr.size), min_n))
    return out


# --- edit distance to the reference ---------------------------------------------------------

_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\S")


def code_tokens(text: str) -> list[str]:
    """Identifiers, numbers and single punctuation characters of code (whitespace dropped).

    >>> code_tokens("x += f(10)")
    ['x', '+', '=', 'f', '(', '10', ')']
    """
    return _CODE_TOKEN.findall(text)


def normalised_levenshtein(candidate: str, reference: str) -> float:
    """Levenshtein distance in characters divided by the longer length (0 = identical).

    >>> normalised_levenshtein("kitten", "sitting")  # 3 edits / 7
    0.42857142857142855
    """
    from rapidfuzz.distance import Levenshtein

    return float(Levenshtein.normalized_distance(candidate, reference))


def token_edit_distance(candidate: str, reference: str) -> float:
    """Levenshtein distance over code tokens divided by the longer token count.

    Insensitive to whitespace and formatting: only the token sequence counts.

    >>> token_edit_distance("return a+b", "return  a + b")
    0.0
    """
    from rapidfuzz.distance import Levenshtein

    return float(Levenshtein.normalized_distance(code_tokens(candidate), code_tokens(reference)))


# --- code quality ---------------------------------------------------------------------------

_LIZARD_EXT = {"python": "program.py", "javascript": "program.js", "cpp": "program.cpp"}


def cyclomatic_complexity(language: str, program: str, entry_point: str) -> int | None:
    """McCabe cyclomatic complexity of ``entry_point`` in ``program`` (lizard), or None when
    lizard finds no such function (for example a program that does not parse).

    >>> cyclomatic_complexity("javascript", "function f(x) { if (x) { return 1; } return 0; }", "f")
    2
    """
    import lizard

    result = lizard.analyze_file.analyze_source_code(_LIZARD_EXT[language], program)
    found = [f for f in result.function_list if f.name.split("::")[-1] == entry_point]
    return int(found[-1].cyclomatic_complexity) if found else None


_STYLE_RULES: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "javascript": (
        ("no-var", re.compile(r"\bvar\s")),
        ("eqeqeq", re.compile(r"[^=!]==[^=]|!=[^=]")),
        ("no-console", re.compile(r"\bconsole\.log\(")),
        ("max-len", re.compile(r"^.{101,}$")),
    ),
    "cpp": (
        ("c-style-cast", re.compile(r"\((?:int|long|double|float|char)\)\s*\w")),
        ("goto", re.compile(r"\bgoto\b")),
        ("max-len", re.compile(r"^.{101,}$")),
        ("printf-debugging", re.compile(r"\b(?:printf|cout\s*<<)")),
    ),
}


def style_findings(language: str, completion: str) -> dict[str, int]:
    """Light lint findings for JavaScript and C++ completions (rule -> count).

    Rules: JavaScript no-var, eqeqeq, no-console, max-len (100); C++ c-style-cast, goto,
    max-len, printf-debugging. Comments and string literals are not stripped: the rules are
    a cheap signal, not a linter.

    >>> style_findings("javascript", "var x = a == b;")
    {'no-var': 1, 'eqeqeq': 1}
    """
    found: dict[str, int] = {}
    for rule, pattern in _STYLE_RULES.get(language, ()):
        hits = sum(len(pattern.findall(line)) for line in completion.splitlines())
        if hits:
            found[rule] = hits
    return found


# --- comparing two runs ---------------------------------------------------------------------


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on paired binary outcomes."""

    pairs: int
    only_a: int  # A passed, B failed
    only_b: int  # B passed, A failed
    p_value: float
    status: Literal["ok", "no_pairs", "no_discordant_pairs"] = "ok"
    message: str = ""


def mcnemar_exact(only_a: int, only_b: int, pairs: int | None = None) -> McNemarResult:
    """Two-sided exact McNemar test: under H0 the discordant pairs split Binomial(b + c, ½).

    p = min(1, 2 · P[X ≤ min(b, c)]), X ~ Binomial(b + c, ½) (McNemar 1947; the exact
    form of statsmodels' ``mcnemar(exact=True)``). With no discordant pair the test has no
    information: p = 1 and status ``no_discordant_pairs``.

    >>> mcnemar_exact(0, 6).p_value
    0.03125
    """
    total_pairs = pairs if pairs is not None else only_a + only_b
    if total_pairs == 0:
        return McNemarResult(0, 0, 0, 1.0, "no_pairs", "the runs share no (task, sample)")
    discordant = only_a + only_b
    if discordant == 0:
        return McNemarResult(
            total_pairs, 0, 0, 1.0, "no_discordant_pairs", "both runs agree on every pair"
        )
    p = min(1.0, 2.0 * float(stats.binom.cdf(min(only_a, only_b), discordant, 0.5)))
    return McNemarResult(total_pairs, only_a, only_b, p)


@dataclass(frozen=True)
class PairedBootstrap:
    """Paired bootstrap over tasks of the difference in pass@1 (B − A)."""

    tasks: int
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    replicates: int
    status: Literal["ok", "no_tasks"] = "ok"
    message: str = ""


def paired_bootstrap_pass1(
    pass1_a: npt.ArrayLike,
    pass1_b: npt.ArrayLike,
    *,
    replicates: int = 5000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedBootstrap:
    """Resample tasks (the same tasks for both runs) and recompute mean pass@1 B − A.

    The interval is the percentile interval; the two-sided p-value is twice the smaller
    share of replicates on either side of zero (Efron & Tibshirani 1993, §16), floored at
    1 / replicates.
    """
    a = np.asarray(pass1_a, dtype=float)
    b = np.asarray(pass1_b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("the two runs need per-task pass@1 on the same tasks")
    if a.size == 0:
        return PairedBootstrap(0, None, None, None, None, replicates, "no_tasks", "no tasks")
    diff = b - a
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(replicates, diff.size))
    reps = diff[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = (float(v) for v in np.quantile(reps, [alpha, 1.0 - alpha]))
    below = float(np.mean(reps <= 0.0))
    above = float(np.mean(reps >= 0.0))
    p = min(1.0, max(2.0 * min(below, above), 1.0 / replicates))
    return PairedBootstrap(int(diff.size), float(diff.mean()), lo, hi, p, replicates)


@dataclass(frozen=True)
class RunComparison:
    """Two runs on the same tasks: per-sample McNemar and per-task paired bootstrap."""

    common_tasks: int
    only_in_a: int
    only_in_b: int
    pass1_a: float | None
    pass1_b: float | None
    mcnemar: McNemarResult
    bootstrap: PairedBootstrap


def compare_runs(
    verdicts_a: Mapping[tuple[str, int], bool],
    verdicts_b: Mapping[tuple[str, int], bool],
    *,
    replicates: int = 5000,
    seed: int = 0,
) -> RunComparison:
    """Compare two runs given their ``(task_id, sample_index) -> passed`` maps.

    Pairs are the (task, sample) keys both runs have; per-task pass@1 (the share of a
    task's samples that pass, the unbiased pass@1) is computed on every sample of the
    tasks both runs have.
    """
    tasks_a = {t for t, _ in verdicts_a}
    tasks_b = {t for t, _ in verdicts_b}
    common = sorted(tasks_a & tasks_b)
    keys = sorted(set(verdicts_a) & set(verdicts_b))
    only_a = sum(1 for key in keys if verdicts_a[key] and not verdicts_b[key])
    only_b = sum(1 for key in keys if verdicts_b[key] and not verdicts_a[key])

    def per_task(verdicts: Mapping[tuple[str, int], bool]) -> npt.NDArray[np.float64]:
        sums: dict[str, list[int]] = {t: [0, 0] for t in common}
        for (t, _), passed in verdicts.items():
            if t in sums:
                sums[t][0] += int(passed)
                sums[t][1] += 1
        return np.array([s[0] / s[1] for s in sums.values()], dtype=float)

    pa, pb = per_task(verdicts_a), per_task(verdicts_b)
    return RunComparison(
        common_tasks=len(common),
        only_in_a=len(tasks_a - tasks_b),
        only_in_b=len(tasks_b - tasks_a),
        pass1_a=float(pa.mean()) if pa.size else None,
        pass1_b=float(pb.mean()) if pb.size else None,
        mcnemar=mcnemar_exact(only_a, only_b, len(keys)),
        bootstrap=paired_bootstrap_pass1(pa, pb, replicates=replicates, seed=seed),
    )
