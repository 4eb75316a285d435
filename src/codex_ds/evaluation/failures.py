"""The failure taxonomy: what the sandbox observed → one outcome → one of six classes.

Outcomes (fine-grained) and the class each belongs to (the seed's four classes plus
``resource``, and ``passed``):

============================  ==============  ==================================================
outcome                       class           when
============================  ==============  ==================================================
passed                        passed          every test ran and the harness confirmed it
syntax_error                  syntax          the program does not compile / parse
missing_entry_point           syntax          it compiles but never defines the entry point
hallucinated_import           hallucination   import of a module that does not exist here
hallucinated_name             hallucination   use of a name that is defined nowhere
hallucinated_attribute        hallucination   an attribute a real module does not have
runtime_error                 runtime         any other exception (its type is kept)
early_exit                    runtime         the program exited before the tests finished
tampering                     runtime         a verdict not written by the harness (forged)
worker_killed                 runtime         the sample killed its sandbox worker
wrong_answer                  logical         a test assertion failed (index, expected, actual)
timeout                       resource        CPU-time or wall-clock limit
memory_limit                  resource        address-space limit (MemoryError, bad_alloc)
output_limit                  resource        stdout/stderr or file-size cap
signal                        runtime         killed by a signal it raised (SIGSEGV, SIGABRT…)
toolchain_missing             resource        the language's compiler/runtime is not installed
============================  ==============  ==================================================

The static check (:func:`static_check`) reads the sample's AST before it runs and flags
imports that cannot be resolved in the sandbox interpreter and attributes that a standard
library module does not have; the runtime classification uses those findings to name a
failure a hallucination.
"""

from __future__ import annotations

import ast
import re
import signal as _signal
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal[
    "passed",
    "syntax_error",
    "missing_entry_point",
    "hallucinated_import",
    "hallucinated_name",
    "hallucinated_attribute",
    "runtime_error",
    "early_exit",
    "tampering",
    "worker_killed",
    "wrong_answer",
    "timeout",
    "memory_limit",
    "output_limit",
    "signal",
    "toolchain_missing",
]
FailureClass = Literal["passed", "syntax", "runtime", "logical", "hallucination", "resource"]

OUTCOME_CLASS: Mapping[str, FailureClass] = {
    "passed": "passed",
    "syntax_error": "syntax",
    "missing_entry_point": "syntax",
    "hallucinated_import": "hallucination",
    "hallucinated_name": "hallucination",
    "hallucinated_attribute": "hallucination",
    "runtime_error": "runtime",
    "early_exit": "runtime",
    "tampering": "runtime",
    "worker_killed": "runtime",
    "signal": "runtime",
    "wrong_answer": "logical",
    "timeout": "resource",
    "memory_limit": "resource",
    "output_limit": "resource",
    "toolchain_missing": "resource",
}
FAILURE_CLASSES: tuple[FailureClass, ...] = (
    "passed",
    "syntax",
    "runtime",
    "logical",
    "hallucination",
    "resource",
)


@dataclass(frozen=True)
class StaticFinding:
    """One problem the AST check found before running."""

    kind: Literal["unresolvable_import", "missing_stdlib_attribute"]
    name: str  # "numpyy", "math.foo"
    line: int


@dataclass(frozen=True)
class Classification:
    """The taxonomy's answer for one sample."""

    outcome: Outcome
    failure_class: FailureClass
    exception_type: str | None = None
    detail: str = ""
    failing_test_index: int | None = None
    expected: str | None = None
    actual: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def classification(outcome: Outcome, **fields: Any) -> Classification:
    """A :class:`Classification` with its class looked up from the outcome."""
    return Classification(outcome=outcome, failure_class=OUTCOME_CLASS[outcome], **fields)


# --- static check ---------------------------------------------------------------------------


def static_check(
    source: str,
    module_available: Callable[[str], bool],
    stdlib_attributes: Callable[[str], frozenset[str] | None],
) -> tuple[StaticFinding, ...]:
    """Unresolvable imports and missing stdlib attributes in ``source`` (empty if unparsable).

    ``module_available(top_level_name)`` says whether the sandbox interpreter can import a
    module; ``stdlib_attributes(module)`` gives a standard-library module's attribute names
    (``None`` for modules outside the standard library, which are not checked).

    >>> attrs = {"math": frozenset({"sqrt", "pi"})}
    >>> static_check("import math, numpyy\\nmath.sqroot(2)", lambda m: m != "numpyy",
    ...              attrs.get)  # doctest: +NORMALIZE_WHITESPACE
    (StaticFinding(kind='unresolvable_import', name='numpyy', line=1),
     StaticFinding(kind='missing_stdlib_attribute', name='math.sqroot', line=2))
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. in the sample's strings
            tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return ()
    findings: list[StaticFinding] = []
    aliases: dict[str, str] = {}  # local name -> stdlib module it is bound to

    def attributes(module: str) -> frozenset[str] | None:
        return stdlib_attributes(module)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if not module_available(top):
                    findings.append(StaticFinding("unresolvable_import", alias.name, node.lineno))
                elif alias.asname is not None and attributes(alias.name) is not None:
                    aliases[alias.asname] = alias.name
                elif alias.asname is None and attributes(top) is not None:
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if not module_available(top):
                findings.append(StaticFinding("unresolvable_import", node.module, node.lineno))
                continue
            names = attributes(node.module)
            if names is None:
                continue
            for alias in node.names:
                if alias.name == "*" or alias.name in names:
                    continue
                sub = f"{node.module}.{alias.name}"
                if attributes(sub) is None:
                    findings.append(StaticFinding("missing_stdlib_attribute", sub, node.lineno))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            module = aliases[node.value.id]
            names = attributes(module)
            if names is not None and node.attr not in names:
                sub = f"{module}.{node.attr}"
                if attributes(sub) is None:
                    findings.append(StaticFinding("missing_stdlib_attribute", sub, node.lineno))
    return tuple(sorted(set(findings), key=lambda f: (f.line, f.name)))


# --- runtime classification ------------------------------------------------------------------

_MODULE_ATTR = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_NAME_ERROR = re.compile(r"name '(\w+)' is not defined")
_JS_NOT_FUNCTION = re.compile(r"^(\w+)\.(\w+) is not a function")
_JS_GLOBALS = frozenset(
    [
        "Math",
        "JSON",
        "Object",
        "Array",
        "String",
        "Number",
        "Boolean",
        "Date",
        "RegExp",
        "Map",
        "Set",
        "Promise",
        "Reflect",
        "Symbol",
        "BigInt",
        "Intl",
        "console",
        "process",
        "Buffer",
    ]
)


def _signal_name(number: int) -> str:
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _resource_kill(step: Mapping[str, Any]) -> Classification | None:
    """Limits the worker enforced or the kernel signalled."""
    killed = step.get("killed")
    sig = step.get("signal")
    cpu, wall = step.get("cpu_seconds", 0.0), step.get("wall_seconds", 0.0)
    # with two limits (Python): "load" = in the module-level code, "check" = in the tests
    where = {"load": ", loading the program", "check": ", in the tests"}.get(
        str(step.get("phase")), ""
    )
    if killed == "cpu" or sig == _signal.SIGXCPU:
        return classification("timeout", detail=f"CPU-time limit ({cpu:.2f} s CPU{where})")
    if killed == "wall":
        return classification(
            "timeout", detail=f"wall-clock limit ({wall:.2f} s, {cpu:.2f} s CPU{where})"
        )
    if killed == "output":
        return classification(
            "output_limit", detail=f"output cap ({step.get('output_bytes', 0)} bytes written)"
        )
    if sig == _signal.SIGXFSZ:
        return classification("output_limit", detail="file-size limit (SIGXFSZ)")
    return None


def _python_exception(
    record: Mapping[str, Any], findings: tuple[StaticFinding, ...]
) -> Classification:
    exc = record.get("exc") or "Exception"
    msg = record.get("msg") or ""
    index = record.get("index")
    where = f" (test {index})" if index is not None else ""
    detail = f"{exc}: {msg}{where}" if msg else f"{exc}{where}"
    common: dict[str, Any] = {"exception_type": exc, "detail": detail, "failing_test_index": index}
    if exc == "SystemExit":
        return classification("early_exit", **common)
    if exc == "MemoryError":
        return classification("memory_limit", **common)
    if exc == "OSError" and ("No space left on device" in msg or "File too large" in msg):
        return classification("output_limit", **common)
    if exc == "ModuleNotFoundError":
        return classification("hallucinated_import", **common)
    if exc == "ImportError":
        if _CANNOT_IMPORT.search(msg):
            return classification("hallucinated_attribute", **common)
        return classification("hallucinated_import", **common)
    if exc == "NameError" and _NAME_ERROR.search(msg):
        return classification("hallucinated_name", **common)
    if exc == "AttributeError" and _MODULE_ATTR.search(msg):
        return classification("hallucinated_attribute", **common)
    if exc == "AssertionError" and record.get("raised_in_check"):
        return classification(
            "wrong_answer",
            exception_type=exc,
            detail=f"test {index} failed" + (f": {msg}" if msg else ""),
            failing_test_index=index,
            expected=record.get("expected"),
            actual=record.get("actual"),
        )
    if findings and exc in ("ImportError", "AttributeError"):
        return classification("hallucinated_attribute", **common)
    return classification("runtime_error", **common)


def classify_python(
    answer: Mapping[str, Any], findings: tuple[StaticFinding, ...] = ()
) -> Classification:
    """Classify the worker's answer for a Python sample."""
    if answer.get("worker_died"):
        return classification("worker_killed", detail=str(answer.get("error", "")))
    step = answer["steps"][-1]
    record = step.get("report")
    if record is not None and record.get("forged"):
        return classification("tampering", detail="a verdict without the harness's nonce")
    if record is not None and record.get("phase") == "done":
        return classification("passed")
    limit = _resource_kill(step)
    if limit is not None:
        return limit
    if record is None:
        sig = step.get("signal")
        if sig is not None:
            return classification("signal", exception_type=_signal_name(sig),
                                  detail=f"killed by {_signal_name(sig)}")  # fmt: skip
        return classification(
            "early_exit",
            detail=f"exited with status {step.get('exit_code')} before the tests finished",
        )
    phase = record.get("phase")
    if phase == "compile":
        exc = record.get("exc") or "SyntaxError"
        if exc == "MemoryError":
            return classification("memory_limit", exception_type=exc, detail="while compiling")
        line = record.get("line")
        where = f" (line {line})" if line else ""
        return classification(
            "syntax_error", exception_type=exc, detail=f"{exc}: {record.get('msg', '')}{where}"
        )
    if phase == "entry":
        return classification(
            "missing_entry_point", exception_type="NameError", detail=record.get("msg", "")
        )
    if phase == "harness":
        return classification("runtime_error", detail=record.get("msg", ""))
    return _python_exception(record, findings)


def _line_to_index(line: int | None, test_lines: tuple[int, ...]) -> int | None:
    """Index of the test assertion on (or last before) ``line`` in the program."""
    if line is None or not test_lines:
        return None
    index = None
    for i, start in enumerate(test_lines):
        if start <= line:
            index = i
    return index


_JS_STACK_LINE = re.compile(r"\[stdin\]:(\d+):\d+|<anonymous>:(\d+):\d+|-:(\d+):\d+")
_JS_ERROR = re.compile(r"^(\w*Error)(?: \[(\w+)\])?: (.*)$", re.MULTILINE)


def classify_javascript(answer: Mapping[str, Any], test_lines: tuple[int, ...]) -> Classification:
    """Classify the worker's answer for a Node sample (``test_lines``: assert lines)."""
    if answer.get("worker_died"):
        return classification("worker_killed", detail=str(answer.get("error", "")))
    step = answer["steps"][-1]
    record = step.get("report")
    if record is not None and record.get("forged"):
        return classification("tampering", detail="a verdict without the harness's nonce")
    if record is not None and record.get("phase") == "done":
        return classification("passed")
    limit = _resource_kill(step)
    if limit is not None:
        return limit
    if record is None:
        output = step.get("output", "")
        if "SyntaxError" in output:
            match = _JS_ERROR.search(output)
            return classification(
                "syntax_error",
                exception_type="SyntaxError",
                detail=match.group(0) if match else "SyntaxError",
            )
        if "heap out of memory" in output or "Allocation failed" in output:
            return classification("memory_limit", detail="V8 heap limit")
        match = _JS_ERROR.search(output)
        if match:
            return _js_exception(match.group(1), match.group(2) or "", match.group(3), None, None,
                                 None, raised_in_check=False)  # fmt: skip
        sig = step.get("signal")
        if sig is not None:
            return classification("signal", exception_type=_signal_name(sig),
                                  detail=f"killed by {_signal_name(sig)}")  # fmt: skip
        return classification(
            "early_exit",
            detail=f"exited with status {step.get('exit_code')} before the tests finished",
        )
    if record.get("phase") == "entry":
        return classification("missing_entry_point", exception_type="ReferenceError",
                              detail=record.get("message", ""))  # fmt: skip
    detail = record.get("detail") or {}
    if detail.get("phase") == "entry":
        return classification("missing_entry_point", exception_type="ReferenceError",
                              detail=str(detail.get("message", "")))  # fmt: skip
    stack = str(detail.get("stack", ""))
    lines = [next(g for g in m.groups() if g) for m in _JS_STACK_LINE.finditer(stack)]
    check_line = None
    for frame_line, text in zip(lines, _stack_frames(stack), strict=False):
        if "__cds_check_" in text:
            check_line = int(frame_line)
            break
    index = _line_to_index(check_line, test_lines)
    top_is_check = bool(_stack_frames(stack)) and "__cds_check_" in _stack_frames(stack)[0]
    return _js_exception(
        str(detail.get("name", "Error")),
        str(detail.get("code", "")),
        str(detail.get("message", "")),
        index,
        detail.get("expected"),
        detail.get("actual"),
        raised_in_check=top_is_check,
    )


def _stack_frames(stack: str) -> list[str]:
    return [line.strip() for line in stack.splitlines() if line.strip().startswith("at ")]


def _js_exception(
    name: str,
    code: str,
    message: str,
    index: int | None,
    expected: str | None,
    actual: str | None,
    *,
    raised_in_check: bool,
) -> Classification:
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    detail = f"{name}: {first_line}".strip()
    common: dict[str, Any] = {"exception_type": name, "detail": detail, "failing_test_index": index}
    is_assertion = name == "AssertionError" or code == "ERR_ASSERTION"
    if is_assertion and (raised_in_check or index is not None):
        return classification(
            "wrong_answer",
            exception_type="AssertionError",
            detail=f"test {index} failed" if index is not None else detail,
            failing_test_index=index,
            expected=expected,
            actual=actual,
        )
    if code == "MODULE_NOT_FOUND" or message.startswith("Cannot find module"):
        return classification("hallucinated_import", **common)
    if name == "ReferenceError" and message.endswith("is not defined"):
        return classification("hallucinated_name", **common)
    match = _JS_NOT_FUNCTION.match(message)
    if name == "TypeError" and match and match.group(1) in _JS_GLOBALS:
        return classification("hallucinated_attribute", **common)
    if name == "RangeError" and "call stack" in message:
        return classification("runtime_error", **common)
    return classification("runtime_error", **common)


_GXX_MISSING_HEADER = re.compile(r"fatal error: ([\w./+-]+): No such file or directory")
# g++ quotes with ‘…’ under a UTF-8 locale and with '…' under C
_GXX_UNDECLARED = re.compile(r"error: [‘']([\w:]+)[’'] was not declared in this scope")
_GXX_NOT_MEMBER = re.compile(r"error: [‘'](\w+)[’'] is not a member of [‘']([\w:]+)[’']")
_GXX_NO_MEMBER = re.compile(r"error: [‘'][^’']+[’'] has no member named [‘'](\w+)[’']")
_GXX_ERROR = re.compile(r"error: (.*)")
_CPP_ASSERT = re.compile(r"prog\.cpp:(\d+): [^\n]*Assertion `(.*)' failed")
_CPP_TERMINATE = re.compile(r"terminate called after throwing an instance of '([^']+)'")


def classify_cpp(
    answer: Mapping[str, Any], test_lines: tuple[int, ...], entry_point: str
) -> Classification:
    """Classify the worker's answer for a C++ sample (compile step, then run step)."""
    if answer.get("worker_died"):
        return classification("worker_killed", detail=str(answer.get("error", "")))
    step = answer["steps"][-1]
    output = step.get("output", "")
    if step.get("step") == "compile":
        limit = _resource_kill(step)
        if limit is not None:
            return limit
        missing = _GXX_MISSING_HEADER.search(output)
        if missing:
            return classification("hallucinated_import", exception_type="compile error",
                                  detail=missing.group(0))  # fmt: skip
        undeclared = _GXX_UNDECLARED.search(output)
        if undeclared:
            if undeclared.group(1) == entry_point:
                return classification("missing_entry_point", exception_type="compile error",
                                      detail=undeclared.group(0))  # fmt: skip
            return classification("hallucinated_name", exception_type="compile error",
                                  detail=undeclared.group(0))  # fmt: skip
        member = _GXX_NOT_MEMBER.search(output) or _GXX_NO_MEMBER.search(output)
        if member:
            return classification("hallucinated_attribute", exception_type="compile error",
                                  detail=member.group(0))  # fmt: skip
        first = _GXX_ERROR.search(output)
        return classification("syntax_error", exception_type="compile error",
                              detail=first.group(0) if first else output[:300])  # fmt: skip
    record = step.get("report")
    if record is not None and record.get("forged"):
        return classification("tampering", detail="a verdict without the harness's nonce")
    if record is not None and record.get("phase") == "done":
        return classification("passed")
    limit = _resource_kill(step)
    if limit is not None:
        return limit
    failed = _CPP_ASSERT.search(output)
    if failed:
        index = _line_to_index(int(failed.group(1)), test_lines)
        return classification(
            "wrong_answer",
            exception_type="assertion",
            detail=f"test {index} failed: {failed.group(2)}",
            failing_test_index=index,
        )
    thrown = _CPP_TERMINATE.search(output)
    if thrown:
        kind = thrown.group(1)
        outcome: Outcome = "memory_limit" if kind == "std::bad_alloc" else "runtime_error"
        return classification(outcome, exception_type=kind, detail=thrown.group(0))
    sig = step.get("signal")
    if sig is not None:
        return classification("signal", exception_type=_signal_name(sig),
                              detail=f"killed by {_signal_name(sig)}")  # fmt: skip
    return classification(
        "early_exit", detail=f"exited with status {step.get('exit_code')} before the tests finished"
    )
