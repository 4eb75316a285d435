"""The failure taxonomy: the vocabulary, the static check, and classification of real runs."""

from __future__ import annotations

import signal
import sys
from typing import Any, get_args

import pytest

from codex_ds.evaluation.failures import (
    FAILURE_CLASSES,
    OUTCOME_CLASS,
    FailureClass,
    Outcome,
    StaticFinding,
    classify_python,
    static_check,
)
from codex_ds.evaluation.languages import toolchain
from codex_ds.evaluation.runner import Sample, Verdict, _StaticChecker, evaluate_samples
from codex_ds.evaluation.tasks import Task


def test_every_outcome_has_exactly_one_class() -> None:
    assert set(OUTCOME_CLASS) == set(get_args(Outcome))
    assert set(OUTCOME_CLASS.values()) == set(get_args(FailureClass)) == set(FAILURE_CLASSES)
    # the seed's four classes plus resource (and passed)
    assert set(FAILURE_CLASSES) == {
        "passed", "syntax", "runtime", "logical", "hallucination", "resource",
    }  # fmt: skip
    assert OUTCOME_CLASS["wrong_answer"] == "logical"
    assert {OUTCOME_CLASS[o] for o in ("timeout", "memory_limit", "output_limit")} == {"resource"}
    assert {
        OUTCOME_CLASS[o]
        for o in ("hallucinated_import", "hallucinated_name", "hallucinated_attribute")
    } == {"hallucination"}


# --- static check ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checker() -> _StaticChecker:
    import pkgutil

    modules = frozenset(sys.builtin_module_names) | {m.name for m in pkgutil.iter_modules()}
    return _StaticChecker(frozenset(modules))


def test_static_check_flags_unresolvable_imports(checker: _StaticChecker) -> None:
    source = "import os\nimport numpyy as np\nfrom fancy_tools.sub import thing\nimport math\n"
    assert checker(source) == (
        StaticFinding("unresolvable_import", "numpyy", 2),
        StaticFinding("unresolvable_import", "fancy_tools.sub", 3),
    )


def test_static_check_flags_missing_stdlib_attributes(checker: _StaticChecker) -> None:
    source = (
        "import math as m, string\n"
        "from collections import OrderedDict, FrozenCounter\n"
        "from os import path\n"
        "def f(x):\n"
        "    return m.sqrt(x) + m.cube_root(x) + len(string.ascii_lowercase)\n"
        "    return string.lowercase\n"
    )
    assert checker(source) == (
        StaticFinding("missing_stdlib_attribute", "collections.FrozenCounter", 2),
        StaticFinding("missing_stdlib_attribute", "math.cube_root", 5),
        StaticFinding("missing_stdlib_attribute", "string.lowercase", 6),
    )


def test_static_check_leaves_valid_and_unparsable_code_alone(checker: _StaticChecker) -> None:
    assert checker("import os.path\nfrom itertools import chain\nos.path.join('a')\n") == ()
    assert checker("def f(:\n") == ()
    # third-party modules are resolved but their attributes are not judged
    assert (
        static_check("import numpy\nnumpy.nonsense()", {"numpy"}.__contains__, lambda m: None) == ()
    )


# --- classification of worker answers ---------------------------------------------------------


def answer(report: dict[str, Any] | None = None, **step: Any) -> dict[str, Any]:
    base = {"report": report, "exit_code": 0, "signal": None, "killed": None,
            "cpu_seconds": 0.01, "wall_seconds": 0.02, "output_bytes": 0, "output": ""}  # fmt: skip
    return {"steps": [{**base, **step}]}


@pytest.mark.parametrize(
    ("given", "outcome"),
    [
        (answer({"phase": "done"}), "passed"),
        (answer(None, killed="cpu", exit_code=None, signal=9), "timeout"),
        (answer(None, killed="wall", exit_code=None, signal=9), "timeout"),
        (answer(None, exit_code=None, signal=signal.SIGXCPU), "timeout"),
        (answer(None, killed="output", exit_code=None, signal=9), "output_limit"),
        (answer(None, exit_code=None, signal=signal.SIGXFSZ), "output_limit"),
        (answer(None, exit_code=None, signal=signal.SIGSEGV), "signal"),
        (answer(None, exit_code=0), "early_exit"),
        (answer({"forged": True}), "tampering"),
        ({"worker_died": True, "error": "sandbox worker exited", "steps": []}, "worker_killed"),
        (answer({"phase": "compile", "exc": "IndentationError", "msg": "bad", "line": 3}),
         "syntax_error"),
        (answer({"phase": "entry", "exc": "NameError", "msg": "name 'f' is not defined"}),
         "missing_entry_point"),
        (answer({"phase": "exec", "exc": "ModuleNotFoundError", "msg": "No module named 'x'"}),
         "hallucinated_import"),
        (answer({"phase": "exec", "exc": "ImportError",
                 "msg": "cannot import name 'foo' from 'math' (unknown location)"}),
         "hallucinated_attribute"),
        (answer({"phase": "check", "exc": "AttributeError",
                 "msg": "module 'math' has no attribute 'foo'"}), "hallucinated_attribute"),
        (answer({"phase": "check", "exc": "AttributeError",
                 "msg": "'int' object has no attribute 'foo'"}), "runtime_error"),
        (answer({"phase": "check", "exc": "NameError", "msg": "name 'helper' is not defined"}),
         "hallucinated_name"),
        (answer({"phase": "check", "exc": "AssertionError", "msg": "", "raised_in_check": True,
                 "index": 2, "expected": "3", "actual": "4"}), "wrong_answer"),
        (answer({"phase": "check", "exc": "AssertionError", "msg": "", "raised_in_check": False}),
         "runtime_error"),
        (answer({"phase": "check", "exc": "SystemExit", "msg": "SystemExit(0)"}), "early_exit"),
        (answer({"phase": "check", "exc": "MemoryError", "msg": ""}), "memory_limit"),
        (answer({"phase": "check", "exc": "OSError",
                 "msg": "[Errno 28] No space left on device"}), "output_limit"),
        (answer({"phase": "check", "exc": "ZeroDivisionError", "msg": "division by zero"}),
         "runtime_error"),
    ],
)  # fmt: skip
def test_classify_python_answers(given: dict[str, Any], outcome: str) -> None:
    result = classify_python(given)
    assert result.outcome == outcome
    assert result.failure_class == OUTCOME_CLASS[outcome]
    assert result.passed == (outcome == "passed")


def test_wrong_answer_keeps_index_expected_and_actual() -> None:
    report = {"phase": "check", "exc": "AssertionError", "msg": "", "raised_in_check": True,
              "index": 2, "expected": "[1, 2]", "actual": "[2, 1]"}  # fmt: skip
    result = classify_python(answer(report))
    assert (result.failing_test_index, result.expected, result.actual) == (2, "[1, 2]", "[2, 1]")
    assert result.exception_type == "AssertionError" and "test 2" in result.detail


# --- real runs, one per outcome -----------------------------------------------------------------

PY = Task(
    task_id="tax/python/total",
    language="python",
    prompt='import math\n\ndef total(xs):\n    """Sum of xs."""\n',
    entry_point="total",
    canonical_solution="    return sum(xs)\n",
    test=(
        "def check(candidate):\n"
        "    assert candidate([]) == 0\n"
        "    assert 6 == candidate([1, 2, 3])\n"
        "    assert abs(candidate([0.5, 0.25]) - 0.75) < 1e-9\n"
        "    assert candidate([10]) == 10, 'single element'\n"
    ),
    category="math",
    difficulty="easy",
    source="builtin",
)

PY_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("    return sum(xs)\n", "passed", {}),
    ("    return sum(xs) +\n", "syntax_error", {"exception_type": "SyntaxError"}),
    ("    return sum(xs)\ndel total\n", "missing_entry_point", {}),
    ("    import numpyy\n    return 0\n", "hallucinated_import", {"failing_test_index": 0}),
    ("    return summation(xs)\n", "hallucinated_name", {"exception_type": "NameError"}),
    ("    return math.fsum2(xs)\n", "hallucinated_attribute", {"exception_type": "AttributeError"}),
    ("    return 1 / len(xs)\n", "runtime_error", {"exception_type": "ZeroDivisionError"}),
    ("    return len(xs)\n", "wrong_answer",
     {"failing_test_index": 1, "expected": "6", "actual": "3"}),
    ("    return sum(xs) + (1 if len(xs) == 2 else 0)\n", "wrong_answer",
     {"failing_test_index": 2, "expected": None}),
    ("    return 0 if not xs else 6 if len(xs) == 3 else 0.75 if len(xs) == 2 else 11\n",
     "wrong_answer", {"failing_test_index": 3, "expected": "10", "actual": "11"}),
    ("    return list(xs)\n", "wrong_answer",
     {"failing_test_index": 0, "expected": "0", "actual": "[]"}),
    ("", "wrong_answer", {"failing_test_index": 0, "actual": "None"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def python_verdicts() -> list[Verdict]:
    samples = [Sample(PY.task_id, c, i) for i, (c, _, _) in enumerate(PY_CASES)]
    verdicts = list(evaluate_samples({PY.task_id: PY}, samples, timeout_s=2.0))
    return sorted(verdicts, key=lambda v: v.sample_index)


@pytest.mark.parametrize("case", range(len(PY_CASES)))
def test_python_outcomes_from_real_runs(python_verdicts: list[Verdict], case: int) -> None:
    _, outcome, fields = PY_CASES[case]
    verdict = python_verdicts[case]
    assert verdict.outcome == outcome, verdict
    assert verdict.failure_class == OUTCOME_CLASS[outcome]
    for name, value in fields.items():
        assert getattr(verdict, name) == value, (name, verdict)
    assert verdict.cpu_seconds > 0 and verdict.wall_seconds > 0


def test_static_finding_is_named_in_the_detail(python_verdicts: list[Verdict]) -> None:
    attribute = python_verdicts[5]
    assert "static check: missing_stdlib_attribute math.fsum2" in attribute.detail


JS = Task(
    "tax/javascript/total", "javascript",
    "function total(xs) {\n  // sum of xs\n", "total",
    "  return xs.reduce((a, b) => a + b, 0);\n}\n",
    "const assert = require('node:assert');\nfunction check(candidate) {\n"
    "  assert.deepStrictEqual(candidate([]), 0);\n"
    "  assert.deepStrictEqual(candidate([1, 2, 3]), 6);\n}\n",
    "math", "easy", "builtin",
)  # fmt: skip
JS_CASES = [
    ("  return xs.reduce((a, b) => a + b, 0);\n}\n", "passed", None),
    ("  return xs.reduce((a, b) => a + b, 0)\n", "syntax_error", None),  # missing }
    ("  return xs.length;\n}\n", "wrong_answer", 1),
    ("  return Math.total(xs);\n}\n", "hallucinated_attribute", 0),
    ("  return lodash.sum(xs);\n}\n", "hallucinated_name", 0),
    ("  return require('lodash').sum(xs);\n}\n", "hallucinated_import", None),
    ("  return null.x;\n}\n", "runtime_error", 0),
    ("}\nfunction other() {\n}\n", "wrong_answer", 0),
]
CPP = Task(
    "tax/cpp/total", "cpp",
    "#include <cassert>\n#include <vector>\nusing namespace std;\n"
    "int total(const vector<int>& xs) {\n",
    "total", "    int s = 0;\n    for (int x : xs) s += x;\n    return s;\n}\n",
    "int main() {\n    assert(total({}) == 0);\n    assert(total({1, 2, 3}) == 6);\n"
    "    return 0;\n}\n",
    "math", "easy", "builtin",
)  # fmt: skip
CPP_CASES = [
    ("    int s = 0;\n    for (int x : xs) s += x;\n    return s;\n}\n", "passed", None),
    ("    return xs.size()\n}\n", "syntax_error", None),
    ("    return xs.size();\n}\n", "wrong_answer", 1),
    ("    return std::accumulate_all(xs);\n}\n", "hallucinated_attribute", None),
    ("    return helper(xs);\n}\n", "hallucinated_name", None),
    ("    return 0;\n}\n#include <boost/magic.hpp>\n", "hallucinated_import", None),
    ("    return xs.at(5);\n}\n", "runtime_error", None),
]


@pytest.mark.skipif(not toolchain("javascript").available, reason="node is not installed")
def test_javascript_outcomes_from_real_runs() -> None:
    samples = [Sample(JS.task_id, c, i) for i, (c, _, _) in enumerate(JS_CASES)]
    verdicts = sorted(evaluate_samples({JS.task_id: JS}, samples, timeout_s=2.0),
                      key=lambda v: v.sample_index)  # fmt: skip
    for verdict, (_, outcome, index) in zip(verdicts, JS_CASES, strict=True):
        assert verdict.outcome == outcome, verdict
        if index is not None:
            assert verdict.failing_test_index == index, verdict
    wrong = verdicts[2]
    assert (wrong.expected, wrong.actual) == ("6", "3")


@pytest.mark.skipif(not toolchain("cpp").available, reason="g++ is not installed")
def test_cpp_outcomes_from_real_runs() -> None:
    samples = [Sample(CPP.task_id, c, i) for i, (c, _, _) in enumerate(CPP_CASES)]
    verdicts = sorted(evaluate_samples({CPP.task_id: CPP}, samples, timeout_s=2.0),
                      key=lambda v: v.sample_index)  # fmt: skip
    for verdict, (_, outcome, index) in zip(verdicts, CPP_CASES, strict=True):
        assert verdict.outcome == outcome, verdict
        if index is not None:
            assert verdict.failing_test_index == index, verdict
    assert verdicts[6].exception_type == "std::out_of_range"
