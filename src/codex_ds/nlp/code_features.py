"""Code features from the Python AST: loops, recursion, comprehensions, imports, calls,
branches, nesting and length. Code that does not parse gives a row that says why.

>>> f = code_features('''
... import math
... def fact(n):
...     if n <= 1:
...         return 1
...     return n * fact(n - 1)
... ''')
>>> (f.status, f.recursion, f.branches, f.imports, f.calls, f.functions)
('ok', True, 1, ('math',), 1, 1)
>>> code_features("def f(:").status
'syntax_error'
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from typing import Literal

CodeStatus = Literal["ok", "empty", "syntax_error", "too_deep"]


@dataclass(frozen=True)
class CodeFeatures:
    status: CodeStatus
    #: Error message when ``status`` is not ``ok``.
    detail: str
    lines: int
    #: Non-blank lines that are not only a comment.
    loc: int
    chars: int
    functions: int
    loops: int  # for, async for, while
    comprehensions: int  # list/set/dict comprehensions and generator expressions
    branches: int  # if, conditional expressions, match cases, except handlers
    calls: int
    distinct_calls: int
    returns: int
    #: A function calls itself by name (direct recursion).
    recursion: bool
    #: Deepest nesting of compound statements (def, if, for, while, with, try, match).
    max_depth: int
    imports: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["imports"] = list(self.imports)
        return d


_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.Match,
)


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _depth(node: ast.AST, level: int = 0) -> int:
    best = level
    for child in ast.iter_child_nodes(node):
        nxt = level + 1 if isinstance(child, _COMPOUND) else level
        best = max(best, _depth(child, nxt))
    return best


def _empty(status: CodeStatus, detail: str, code: str) -> CodeFeatures:
    lines = code.splitlines()
    loc = sum(1 for ln in lines if ln.strip() and not ln.strip().startswith("#"))
    zeros = (0, 0, 0, 0, 0, 0, 0)
    return CodeFeatures(status, detail, len(lines), loc, len(code), *zeros, False, 0, ())


def code_features(code: str) -> CodeFeatures:
    """AST features of Python source (a whole module, or a prompt plus its completion)."""
    if not code.strip():
        return _empty("empty", "no code", code)
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return _empty("syntax_error", f"{exc.msg} (line {exc.lineno})", code)
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        status: CodeStatus = "too_deep" if isinstance(exc, RecursionError) else "syntax_error"
        return _empty(status, f"{type(exc).__name__}: {exc}", code)
    loops = comps = branches = calls = returns = functions = 0
    called: set[str] = set()
    imports: list[str] = []
    recursion = False
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            loops += 1
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            comps += 1
        elif isinstance(node, ast.If | ast.IfExp | ast.ExceptHandler | ast.match_case):
            branches += 1
        elif isinstance(node, ast.Call):
            calls += 1
            name = _call_name(node)
            if name:
                called.add(name)
        elif isinstance(node, ast.Return):
            returns += 1
        elif isinstance(node, ast.Import):
            imports += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append(("." * node.level) + (node.module or ""))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions += 1
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id == node.name
                ):
                    recursion = True
                    break
    try:
        depth = _depth(tree)
    except RecursionError:
        return _empty("too_deep", "nesting too deep to measure", code)
    lines = code.splitlines()
    loc = sum(1 for ln in lines if ln.strip() and not ln.strip().startswith("#"))
    return CodeFeatures(
        status="ok",
        detail="",
        lines=len(lines),
        loc=loc,
        chars=len(code),
        functions=functions,
        loops=loops,
        comprehensions=comps,
        branches=branches,
        calls=calls,
        distinct_calls=len(called),
        returns=returns,
        recursion=recursion,
        max_depth=depth,
        imports=tuple(dict.fromkeys(imports)),
    )
