"""Failure-message classifier: TF-IDF over error messages and tracebacks + a linear model,
predicting the failure taxonomy of the code evaluation (syntax, runtime, logical,
hallucination, resource).

Messages come from two places: the verdicts of real evaluation runs (``Verdict.detail`` and
``exception_type``, labelled by the sandbox's own ``failure_class``) and the simulator's
telemetry (``runs.error_message``, labelled through :data:`ERROR_TYPE_TO_CLASS`). Held-out
evaluation splits by *group* (the task), never by sample: samples of one task share its
tests and names, and a sample-level split would leak them.

Numbers, paths and quoted names are masked before vectorising (``<num>``, ``<path>``,
``<str>``), so the model learns the shape of a message, not the identifiers of one task.

>>> normalise_message('File "/tmp/x.py", line 12, in f\\nKeyError: \\'abc\\'')
'File <path>, line <num>, in f\\nKeyError: <str>'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

FailureClass = Literal["syntax", "runtime", "logical", "hallucination", "resource"]
FAILURE_CLASSES: tuple[str, ...] = get_args(FailureClass)

#: The simulator's ``runs.error_type`` vocabulary mapped to the evaluation's failure taxonomy
#: (names, attributes and modules that do not exist are the classic hallucinations of code
#: models; a test that fails on a value is a logical error; a time-out exhausts a resource).
ERROR_TYPE_TO_CLASS: dict[str, FailureClass] = {
    "syntax_error": "syntax",
    "name_error": "hallucination",
    "attribute_error": "hallucination",
    "import_error": "hallucination",
    "type_error": "runtime",
    "runtime_error": "runtime",
    "assertion_failure": "logical",
    "timeout": "resource",
}

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class LabelledMessage:
    text: str
    label: str
    #: Unit of the held-out split (the task id for evaluation messages).
    group: str
    source: Literal["evaluation", "telemetry"]


_PATH = re.compile(
    r"\"[^\"\n]*[/\\][^\"\n]*\"|(?:/[\w.\-<>]+)+"
    r"|\b[\w\-]+\.(?:py|js|ts|java|go|rs|cpp|c|h|cs|rb|php|swift|sh)\b"
)
_QUOTED = re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|`[^`\n]{0,200}`")
_NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:e-?\d+)?")
MAX_MESSAGE_CHARS = 4_000


def normalise_message(text: str) -> str:
    """Mask paths, quoted literals and numbers; keep the last 4,000 characters (the end of a
    traceback carries the exception)."""
    t = text[-MAX_MESSAGE_CHARS:]
    t = _PATH.sub("<path>", t)
    t = _QUOTED.sub("<str>", t)
    return _NUMBER.sub("<num>", t)


def message_text(detail: str, exception_type: str | None) -> str:
    """The text the classifier reads for a verdict: the exception type, then the detail."""
    return f"{exception_type}: {detail}" if exception_type else detail


@dataclass
class FailureClassifier:
    """A fitted TF-IDF (word 1–2-grams over masked messages) + logistic-regression model."""

    pipeline: Any
    classes: tuple[str, ...]

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [str(x) for x in self.pipeline.predict([normalise_message(t) for t in texts])]


def train_classifier(messages: Sequence[LabelledMessage], *, seed: int = 0) -> FailureClassifier:
    """Fit the classifier (class weights balanced: the classes are very unequal in size)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    labels = sorted({m.label for m in messages})
    if len(labels) < 2:
        raise ValueError(f"need messages of at least two classes to train, got {labels}")
    features = TfidfVectorizer(
        token_pattern=r"<\w+>|[A-Za-z_][A-Za-z0-9_]*|[^\sA-Za-z0-9_]",
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=2,
        lowercase=False,
    )
    model = LogisticRegression(max_iter=2000, C=10.0, class_weight="balanced", random_state=seed)
    pipe = make_pipeline(features, model)
    pipe.fit([normalise_message(m.text) for m in messages], [m.label for m in messages])
    return FailureClassifier(pipe, tuple(labels))


_RULES: tuple[tuple[re.Pattern[str], FailureClass], ...] = (
    (
        re.compile(
            r"SyntaxError|IndentationError|TabError|syntax error|Parse error|expected '?;'?|"
            r"error TS1\d\d\d|CS1002|CS1513|unexpected token",
            re.I,
        ),
        "syntax",
    ),
    (
        re.compile(
            r"Timeout|timed out|TimeoutExpired|exceeded|Maximum execution time|"
            r"MemoryError|running for over|CPU-time limit|wall-clock|memory limit|output limit",
            re.I,
        ),
        "resource",
    ),
    (
        re.compile(
            r"NameError|ModuleNotFoundError|ImportError|AttributeError|not defined|"
            r"Cannot find|cannot find|undefined|No module named|does not exist|"
            r"unresolved import|no member|has no attribute|not found|LoadError|"
            r"NoMethodError|CS0103|CS0246|CS1061|TS2304|TS2307|TS2339"
        ),
        "hallucination",
    ),
    (
        re.compile(r"AssertionError|assert|Expected|expected|FAIL|Failure|XCTAssert|not ok"),
        "logical",
    ),
)


def rule_baseline(texts: Sequence[str]) -> list[str]:
    """The named baseline: first matching keyword rule (syntax, resource, hallucination,
    logical), else runtime."""
    out: list[str] = []
    for t in texts:
        for pat, label in _RULES:
            if pat.search(t):
                out.append(label)
                break
        else:
            out.append("runtime")
    return out


@dataclass(frozen=True)
class ClassScore:
    label: str
    support: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class ClassifierReport:
    """Macro-F1, per-class scores and the confusion matrix (rows true, columns predicted)."""

    n: int
    labels: tuple[str, ...]
    macro_f1: float | None
    accuracy: float | None
    per_class: tuple[ClassScore, ...]
    confusion: tuple[tuple[int, ...], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "labels": list(self.labels),
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "per_class": [vars(c) for c in self.per_class],
            "confusion": [list(r) for r in self.confusion],
        }


def score(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> ClassifierReport:
    """Per-class precision/recall/F1 and macro-F1 over the classes present in ``truth``
    (a class absent from the truth has no recall; it would only add an undefined term)."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    present = sorted(set(truth))
    labs = list(labels) if labels is not None else sorted(set(truth) | set(predicted))
    index = {lab: i for i, lab in enumerate(labs)}
    cm = np.zeros((len(labs), len(labs)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        cm[index[t], index[p]] += 1
    per = []
    f1s = []
    for lab in labs:
        i = index[lab]
        tp = int(cm[i, i])
        pred_n = int(cm[:, i].sum())
        true_n = int(cm[i, :].sum())
        prec = tp / pred_n if pred_n else None
        rec = tp / true_n if true_n else None
        if prec is not None and rec is not None:
            f1: float | None = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
        else:
            f1 = None if true_n == 0 else 0.0
        per.append(ClassScore(lab, true_n, prec, rec, f1))
        if lab in present:
            f1s.append(f1 or 0.0)
    n = len(truth)
    return ClassifierReport(
        n=n,
        labels=tuple(labs),
        macro_f1=float(np.mean(f1s)) if f1s else None,
        accuracy=float(np.trace(cm) / n) if n else None,
        per_class=tuple(per),
        confusion=tuple(tuple(int(x) for x in row) for row in cm),
    )


def split_by_group(
    messages: Sequence[LabelledMessage], *, test_share: float = 0.3, seed: int = 0
) -> tuple[list[LabelledMessage], list[LabelledMessage]]:
    """Hold out whole groups (tasks): no group has messages on both sides."""
    groups = sorted({m.group for m in messages})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(groups))
    n_test = max(1, round(test_share * len(groups))) if len(groups) > 1 else 0
    test_groups = {groups[i] for i in order[:n_test]}
    train = [m for m in messages if m.group not in test_groups]
    test = [m for m in messages if m.group in test_groups]
    return train, test


@dataclass(frozen=True)
class FailureStudy:
    """Training and held-out evaluation of the classifier, with the baseline on the same set."""

    train_messages: int
    train_by_source: dict[str, int]
    test_messages: int
    test_groups: int
    held_out: ClassifierReport
    baseline: ClassifierReport
    #: What the held-out set is: "real evaluation messages" or "simulated telemetry messages".
    held_out_kind: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "train_messages": self.train_messages,
            "train_by_source": self.train_by_source,
            "test_messages": self.test_messages,
            "test_groups": self.test_groups,
            "held_out_kind": self.held_out_kind,
            "classifier": self.held_out.as_dict(),
            "rule_baseline": self.baseline.as_dict(),
        }


def dedupe(messages: Sequence[LabelledMessage]) -> list[LabelledMessage]:
    """One message per distinct (masked text, label): copies add weight, not information."""
    seen: set[tuple[str, str]] = set()
    out = []
    for m in messages:
        key = (normalise_message(m.text), m.label)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def study(
    real: Sequence[LabelledMessage],
    simulated: Sequence[LabelledMessage],
    *,
    test_share: float = 0.3,
    seed: int = 0,
    progress: Progress | None = None,
    real_kind: str = "real evaluation messages",
) -> FailureStudy:
    """Train on real messages of the training tasks plus all simulated messages; evaluate on
    the real messages of held-out tasks. Without real messages, hold out simulated groups
    instead (and say so in ``held_out_kind``)."""
    if real:
        train_real, test = split_by_group(real, test_share=test_share, seed=seed)
        train = [*train_real, *simulated]
        kind = f"{real_kind}, tasks held out"
    else:
        train, test = split_by_group(simulated, test_share=test_share, seed=seed)
        kind = "simulated telemetry messages only (no real failure messages), groups held out"
    if not test or not train:
        raise ValueError("not enough messages to split into training and held-out sets")
    train = dedupe(train)
    if progress is not None:
        progress("train failure classifier", 0.1)
    clf = train_classifier(train, seed=seed)
    if progress is not None:
        progress("evaluate failure classifier", 0.8)
    truth = [m.label for m in test]
    labels = [c for c in FAILURE_CLASSES if c in {*truth, *clf.classes}]
    held = score(truth, clf.predict([m.text for m in test]), labels)
    base = score(truth, rule_baseline([m.text for m in test]), labels)
    by_source: dict[str, int] = {}
    for m in train:
        by_source[m.source] = by_source.get(m.source, 0) + 1
    return FailureStudy(
        train_messages=len(train),
        train_by_source=by_source,
        test_messages=len(test),
        test_groups=len({m.group for m in test}),
        held_out=held,
        baseline=base,
        held_out_kind=kind,
    )
