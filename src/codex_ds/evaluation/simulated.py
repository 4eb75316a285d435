"""The simulated model family: deterministic, realistic candidates derived from the reference.

``simulated:VERSION`` stands in for a real code model when none is configured (the default of
``codex-ds all``). For every (version, task, sample index) it draws, from a generator seeded
by those three values, the *kind* of candidate a model of that version would write, then
builds that candidate from the task's reference solution:

* ``correct`` -- the reference itself (as a model that gets it right would, modulo style);
* ``off_by_one`` -- an integer literal moved by one (a loop bound, an index, a seed value);
* ``wrong_operator`` -- one comparison, arithmetic or boolean operator swapped (``<`` for
  ``<=``, ``+`` for ``-``, ``and`` for ``or``);
* ``hallucinated_api`` -- a dependency that does not exist (``import fastmath``,
  ``require('fastmath')``, ``#include <fastmath>``), an attribute absent from a real module
  (``itertools.chunked``, ``Math.clamp``) or a call of a helper nobody defined;
* ``syntax_slip`` -- a dropped colon, parenthesis or semicolon;
* ``infinite_loop`` -- a loop that never ends;
* ``missing_return`` -- the final ``return`` lost (Python, JavaScript: the function returns
  None / undefined; C++: flowing off the end of a non-void function).

Python candidates are built by AST mutation (parse prompt + reference, change one node,
unparse the body); JavaScript and C++ by textual mutation of the reference. When a kind does
not apply to a task (no integer literal to shift, say) the next applicable kind in a fixed
fallback order is used, and the kind actually applied is recorded with the sample.

The probability of each kind depends on the version (v2 is the better model) and on the
task: the log-odds of a correct answer are the version's base log-odds, plus a shift for the
task's difficulty tag, plus the task's latent difficulty, a normal draw seeded by its id alone
(so it is the same for every version, as real tasks are). These numbers are
the simulator's *planted* truth; a run on ``simulated:*`` measures a model we built, and every
report says so.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from codex_ds.evaluation.tasks import Task

__all__ = [
    "KINDS",
    "VERSIONS",
    "Candidate",
    "CandidateKind",
    "SimulatedVersion",
    "UnknownVersionError",
    "simulate_candidate",
]

CandidateKind = Literal[
    "correct",
    "off_by_one",
    "wrong_operator",
    "hallucinated_api",
    "syntax_slip",
    "infinite_loop",
    "missing_return",
]
KINDS: tuple[CandidateKind, ...] = (
    "correct",
    "off_by_one",
    "wrong_operator",
    "hallucinated_api",
    "syntax_slip",
    "infinite_loop",
    "missing_return",
)
_FALLBACK: tuple[CandidateKind, ...] = (
    "wrong_operator",
    "off_by_one",
    "missing_return",
    "hallucinated_api",
    "syntax_slip",
)


@dataclass(frozen=True)
class SimulatedVersion:
    """The planted behaviour of one simulated model version."""

    name: str
    p_correct: float  # chance of a correct candidate on a task of average difficulty
    error_weights: dict[str, float]  # relative weights of the wrong kinds
    tokens_per_second: float  # for the simulated generation latency


VERSIONS: dict[str, SimulatedVersion] = {
    "v1": SimulatedVersion(
        "v1",
        p_correct=0.55,
        error_weights={
            "off_by_one": 0.22,
            "wrong_operator": 0.22,
            "hallucinated_api": 0.2,
            "syntax_slip": 0.12,
            "infinite_loop": 0.06,
            "missing_return": 0.18,
        },
        tokens_per_second=40.0,
    ),
    "v2": SimulatedVersion(
        "v2",
        p_correct=0.75,
        error_weights={
            "off_by_one": 0.3,
            "wrong_operator": 0.3,
            "hallucinated_api": 0.12,
            "syntax_slip": 0.06,
            "infinite_loop": 0.06,
            "missing_return": 0.16,
        },
        tokens_per_second=55.0,
    ),
}
#: shifts of the log-odds of a correct candidate by the task's difficulty tag
_DIFFICULTY_SHIFT = {"easy": 0.6, "medium": 0.0, "hard": -0.8}
#: standard deviation of a task's latent log-odds shift (same for every version)
TASK_EFFECT_SD = 1.2


class UnknownVersionError(ValueError):
    """A ``simulated:VERSION`` whose version the simulator does not define."""


@dataclass(frozen=True)
class Candidate:
    """A simulated completion and the kind of candidate it is (the planted truth)."""

    completion: str
    kind: CandidateKind
    intended: CandidateKind


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "little")


def task_logit_shift(task_id: str) -> float:
    """The latent difficulty of a task (same for every version), on the log-odds scale."""
    rng = np.random.default_rng(_seed("task-difficulty", task_id))
    return float(rng.normal(0.0, TASK_EFFECT_SD))


def probability_correct(version: SimulatedVersion, task: Task) -> float:
    """Planted chance that ``version`` writes a correct candidate for ``task``:
    logistic(logit(p_correct) + difficulty shift + the task's latent shift), in [0.01, 0.99].
    """
    base = np.log(version.p_correct / (1.0 - version.p_correct))
    logit = base + _DIFFICULTY_SHIFT.get(task.difficulty, 0.0) + task_logit_shift(task.task_id)
    return float(np.clip(1.0 / (1.0 + np.exp(-logit)), 0.01, 0.99))


def simulate_candidate(version_name: str, task: Task, sample_index: int) -> Candidate:
    """The deterministic candidate of ``simulated:version_name`` for one task and sample."""
    version = VERSIONS.get(version_name)
    if version is None:
        raise UnknownVersionError(
            f"unknown simulated version {version_name!r}: choose one of {', '.join(VERSIONS)}"
        )
    rng = np.random.default_rng(_seed(version.name, task.task_id, str(sample_index)))
    if rng.random() < probability_correct(version, task):
        intended: CandidateKind = "correct"
    else:
        kinds = list(version.error_weights)
        weights = np.array([version.error_weights[k] for k in kinds])
        intended = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]  # type: ignore[assignment]
    order = [intended, *[k for k in _FALLBACK if k != intended]]
    for kind in order:
        completion = _mutate(task, kind, rng)
        if completion is not None:
            return Candidate(completion, kind, intended)
    return Candidate(task.canonical_solution, "correct", intended)  # pragma: no cover


def _mutate(task: Task, kind: CandidateKind, rng: np.random.Generator) -> str | None:
    if kind == "correct":
        return task.canonical_solution
    if task.language == "python":
        return _mutate_python(task, kind, rng)
    return _mutate_text(task, kind, rng)


# --- Python: AST mutation --------------------------------------------------------------------

_BINOP_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_CMP_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}

_PY_HALLUCINATIONS = (
    "import fastmath\n",
    "import itertools\n_ = itertools.chunked([], 2)\n",
    "_ = str.reversed('')\n",
    "validate_input_arguments()\n",
)


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _body_statements(fn: ast.FunctionDef) -> list[ast.stmt]:
    body = list(fn.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    return body


def _render_body(statements: list[ast.stmt]) -> str:
    text = "\n".join(ast.unparse(s) for s in statements)
    return "".join("    " + line + "\n" if line else "\n" for line in text.splitlines())


def _mutate_python(task: Task, kind: CandidateKind, rng: np.random.Generator) -> str | None:
    try:
        tree = ast.parse(task.prompt + task.canonical_solution)
    except SyntaxError:
        return None
    fn = _function(tree, task.entry_point)
    if fn is None:
        return None
    body = _body_statements(fn)
    nodes = [n for s in body for n in ast.walk(s)]

    def pick(candidates: list[ast.AST]) -> ast.AST | None:
        return candidates[int(rng.integers(len(candidates)))] if candidates else None

    if kind == "off_by_one":
        ints = [
            n
            for n in nodes
            if isinstance(n, ast.Constant) and type(n.value) is int and abs(n.value) < 10_000
        ]
        node = pick(list(ints))
        if not isinstance(node, ast.Constant) or not isinstance(node.value, int):
            return None
        node.value = node.value + (1 if rng.random() < 0.5 or node.value == 0 else -1)
        return _render_body(body)
    if kind == "wrong_operator":
        ops: list[ast.AST] = [
            n
            for n in nodes
            if (isinstance(n, ast.BinOp) and type(n.op) in _BINOP_SWAP)
            or (isinstance(n, ast.Compare) and type(n.ops[0]) in _CMP_SWAP)
            or isinstance(n, ast.BoolOp)
        ]
        node = pick(ops)
        if isinstance(node, ast.BinOp):
            node.op = _BINOP_SWAP[type(node.op)]()
        elif isinstance(node, ast.Compare):
            node.ops[0] = _CMP_SWAP[type(node.ops[0])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        else:
            return None
        return _render_body(body)
    if kind == "missing_return":
        returns = [i for i, s in enumerate(body) if isinstance(s, ast.Return) and s.value]
        if not returns:
            return None
        last = returns[-1]
        ret = body[last]
        assert isinstance(ret, ast.Return) and ret.value is not None
        body[last] = ast.Expr(ret.value)
        return _render_body(body)
    rendered = _render_body(body)
    if kind == "hallucinated_api":
        line = _PY_HALLUCINATIONS[int(rng.integers(len(_PY_HALLUCINATIONS)))]
        return "".join("    " + ln + "\n" for ln in line.splitlines()) + rendered
    if kind == "infinite_loop":
        return "    while True:\n        pass\n" + rendered
    if kind == "syntax_slip":
        lines = rendered.splitlines(keepends=True)
        colon = [i for i, ln in enumerate(lines) if ln.rstrip().endswith(":")]
        if colon:
            i = colon[int(rng.integers(len(colon)))]
            lines[i] = lines[i].rstrip()[:-1] + "\n"
            return "".join(lines)
        paren = [i for i, ln in enumerate(lines) if ")" in ln]
        if not paren:
            return None
        i = paren[int(rng.integers(len(paren)))]
        cut = lines[i].rfind(")")
        lines[i] = lines[i][:cut] + lines[i][cut + 1 :]
        return "".join(lines)
    return None  # pragma: no cover


# --- JavaScript and C++: textual mutation ----------------------------------------------------

_TEXT_OPERATORS = (
    (" <= ", " < "),
    (" < ", " <= "),
    (" >= ", " > "),
    (" > ", " >= "),
    (" === ", " !== "),
    (" !== ", " === "),
    (" == ", " != "),
    (" != ", " == "),
    (" + ", " - "),
    (" - ", " + "),
    (" * ", " / "),
    (" && ", " || "),
    (" || ", " && "),
)
_JS_HALLUCINATIONS = (
    "  const fastmath = require('fastmath');\n",
    "  Math.clamp(0, 0, 1);\n",
    "  validateInputArguments();\n",
    "  const reversedText = 'abc'.reversed();\n",
)
_CPP_HALLUCINATIONS = (
    "#include <fastmath>\n",
    "    validate_input_arguments();\n",
    "    std::string_utils::trim(std::string());\n",
)
_STRING_LITERAL = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`")
_INT_LITERAL = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def _code_spans(line: str) -> list[tuple[int, int]]:
    """Spans of ``line`` outside string literals and after no line comment."""
    end = line.find("//")
    limit = len(line) if end < 0 else end
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _STRING_LITERAL.finditer(line[:limit]):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, limit))
    return spans


class _Shifted:
    """A regex match moved to its position in the whole text."""

    def __init__(self, m: re.Match[str], offset: int) -> None:
        self.text = m.group(0)
        self.group1 = m.group(1) if m.re.groups else None
        self.begin = m.start() + offset
        self.stop = m.end() + offset


def _occurrences(text: str, pattern: re.Pattern[str]) -> list[_Shifted]:
    """Matches of ``pattern`` in code (not in string literals, comments or # lines)."""
    found: list[_Shifted] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):
            for lo, hi in _code_spans(line):
                found.extend(_Shifted(m, offset) for m in pattern.finditer(line, lo, hi))
        offset += len(line)
    return found


def _replace_one(text: str, pattern: str, make: str, rng: np.random.Generator) -> str | None:
    hits = _occurrences(text, re.compile(pattern))
    if not hits:
        return None
    h = hits[int(rng.integers(len(hits)))]
    return text[: h.begin] + make + text[h.stop :]


def _mutate_text(task: Task, kind: CandidateKind, rng: np.random.Generator) -> str | None:
    code = task.canonical_solution
    js = task.language == "javascript"
    if kind == "off_by_one":
        hits = [h for h in _occurrences(code, _INT_LITERAL) if h.group1 is not None]
        hits = [h for h in hits if h.group1 is not None and int(h.group1) < 10_000]
        if not hits:
            return None
        h = hits[int(rng.integers(len(hits)))]
        value = int(h.text)
        new = value + 1 if value == 0 or rng.random() < 0.5 else value - 1
        return code[: h.begin] + str(new) + code[h.stop :]
    if kind == "wrong_operator":
        present = [(a, b) for a, b in _TEXT_OPERATORS if a in code]
        for i in rng.permutation(len(present)):
            a, b = present[int(i)]
            out = _replace_one(code, re.escape(a), b, rng)
            if out is not None:
                return out
        return None
    if kind == "missing_return":
        returns = [m for m in re.finditer(r"return ([^;]+);", code)]
        if not returns:
            return None
        m = returns[-1]
        return code[: m.start()] + m.group(1) + ";" + code[m.end() :]
    if kind == "hallucinated_api":
        pool = _JS_HALLUCINATIONS if js else _CPP_HALLUCINATIONS
        return pool[int(rng.integers(len(pool)))] + code
    if kind == "infinite_loop":
        spin = (
            "  while (true) {}\n"
            if js
            else "    volatile bool spinning = true;\n    while (spinning) {}\n"
        )
        return spin + code
    if kind == "syntax_slip":
        return _replace_one(code, r"\)" if js else ";", "", rng)
    return None  # pragma: no cover
