"""AST code features counted by hand on small programs; code that does not parse."""

from __future__ import annotations

from codex_ds.nlp.code_features import code_features

PROGRAM = """
import os, sys
from collections import Counter
from . import sibling


def walk(tree, depth=0):
    # visit every node
    if tree is None:
        return 0
    total = sum(walk(c, depth + 1) for c in tree.children)
    for i in range(3):
        while i > 0:
            i -= 1
    try:
        os.stat("x")
    except OSError:
        pass
    return total + (1 if depth else 0)


squares = [x * x for x in range(5)]
lookup = {k: v for k, v in Counter("ab").items()}
"""


def test_counts_by_hand() -> None:
    f = code_features(PROGRAM)
    assert f.status == "ok"
    assert f.functions == 1
    assert f.loops == 2  # for, while
    assert f.comprehensions == 3  # generator in sum, list comp, dict comp
    assert f.branches == 3  # if, except handler, conditional expression
    # calls: sum, walk, range, os.stat, range, Counter, .items
    assert f.calls == 7 and f.distinct_calls == 6
    assert f.returns == 2
    assert f.recursion is True
    assert f.imports == ("os", "sys", "collections", ".")
    assert f.max_depth == 3  # def > for > while
    assert f.lines == len(PROGRAM.splitlines())
    assert f.loc == sum(
        1 for ln in PROGRAM.splitlines() if ln.strip() and not ln.strip().startswith("#")
    )


def test_no_recursion_when_the_name_is_only_mentioned() -> None:
    f = code_features("def f(x):\n    g = f\n    return g\n")
    assert f.recursion is False and f.calls == 0


def test_code_that_does_not_parse() -> None:
    f = code_features("def f(:\n    return")
    assert f.status == "syntax_error" and "line 1" in f.detail
    assert f.loops == 0 and f.lines == 2
    assert code_features("").status == "empty"
    assert code_features("x = 1\x00").status == "syntax_error"  # NUL byte
    deep = code_features("x = " + "(" * 5000 + ")" * 5000)
    assert deep.status in ("syntax_error", "too_deep") and deep.detail
