"""Requirement extraction from prompts and docstrings: return specification, constraints, edge
cases and examples (input → output), and its evaluation against a hand-labelled set.

Rule-based and transparent: the text to read is chosen (the docstring of the function to
write, a Javadoc block, comment lines, or the whole chat message); examples are cut out first
(doctests, ``f(x) -> y``, ``f(x) == y``, ``f(x) should return y``, ``Input:`` / ``Output:``);
the rest is split into sentences, bullets and ``;`` clauses, and each is classified by cue
phrases in a fixed priority: edge case, then return, then constraint (anything else is
background and is not a requirement).

>>> r = extract_requirements('''def f(xs):
...     \"\"\"Return the largest element. If xs is empty, return None.
...     >>> f([1, 3])
...     3
...     \"\"\"''')
>>> [(q.kind, q.text) for q in r.requirements]
[('return', 'Return the largest element.'), ('edge_case', 'If xs is empty, return None.')]
>>> [(e.input, e.output) for e in r.examples]
[('f([1, 3])', '3')]
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

RequirementKind = Literal["return", "constraint", "edge_case"]
REQUIREMENT_KINDS: tuple[str, ...] = (*get_args(RequirementKind), "example")


@dataclass(frozen=True)
class Requirement:
    kind: RequirementKind
    text: str


@dataclass(frozen=True)
class Example:
    input: str
    output: str


@dataclass(frozen=True)
class Requirements:
    requirements: tuple[Requirement, ...]
    examples: tuple[Example, ...]
    #: Which part of the prompt was read: docstring, javadoc, comments or text.
    source: str

    def count(self, kind: str) -> int:
        if kind == "example":
            return len(self.examples)
        return sum(1 for r in self.requirements if r.kind == kind)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "requirements": [{"kind": r.kind, "text": r.text} for r in self.requirements],
            "examples": [{"input": e.input, "output": e.output} for e in self.examples],
        }


# ------------------------------------------------------------------ choosing the text to read

_DOCSTRING = re.compile(r'("""|\'\'\')(.*?)\1', re.DOTALL)
_JAVADOC = re.compile(r"/\*\*(.*?)\*/", re.DOTALL)
_COMMENT_LINE = re.compile(r"^\s*(?://+|#+)\s?")


def _dedent_lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines())


def select_text(prompt: str) -> tuple[str, str]:
    """The part of a prompt that states the requirements, and what it was.

    In a Python prompt, the last docstring (the function to write; earlier functions are
    implemented helpers); in a Java/JS prompt, the last ``/** ... */`` block; a prompt made of
    ``#`` or ``//`` comment lines loses the markers; anything else is read whole.
    """
    docs = _DOCSTRING.findall(prompt)
    if docs and re.search(r"^\s*(?:async\s+)?def\s", prompt, re.MULTILINE):
        return _dedent_lines(docs[-1][1]), "docstring"
    javadocs = _JAVADOC.findall(prompt)
    if javadocs:
        body = "\n".join(re.sub(r"^\s*\*\s?", "", ln) for ln in javadocs[-1].splitlines())
        return _dedent_lines(body), "javadoc"
    lines = [ln for ln in prompt.splitlines() if ln.strip()]
    if lines and all(_COMMENT_LINE.match(ln) for ln in lines):
        return _dedent_lines("\n".join(_COMMENT_LINE.sub("", ln) for ln in lines)), "comments"
    return _dedent_lines(prompt), "text"


# ------------------------------------------------------------------ examples

_CALL_START = re.compile(r"(?<![\w.])[A-Za-z_][\w.]*\(")
_ARROW = re.compile(r"\s*(?:->|==>|=>|==|→|should\s+(?:return|give|be)|returns|gives)\s+")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the bracket that closes the one opened at ``text[start]``."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif ch == "\n" and depth > 3:
            return None
        i += 1
    return None


def _value_end(text: str, start: int) -> int:
    """End of an output value: balanced brackets and quotes, up to a line end, a sentence end
    (``.`` followed by a space or the end), ``,`` / ``;`` at depth 0."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return i
            depth -= 1
        elif depth == 0 and (
            ch == "\n"
            or ch in ",;"
            or (ch == "." and (i + 1 == len(text) or text[i + 1].isspace()))
        ):
            return i
        i += 1
    return i


def _doctest_examples(text: str) -> tuple[list[Example], list[tuple[int, int]]]:
    examples, spans = [], []
    lines = text.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith(">>>"):
            call = re.sub(r"\s+#.*$", "", line[3:].strip())
            out, j = [], i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].strip().startswith(">>>"):
                out.append(lines[j].strip())
                j += 1
            examples.append(Example(call, "\n".join(out)))
            spans.append((offsets[i], offsets[j] - 1 if j <= len(lines) else len(text)))
            i = j
        else:
            i += 1
    return examples, spans


_IO_BLOCK = re.compile(
    r"^\s*Input\s*:\s*(?P<inp>.+?)\s*\n\s*Output\s*:\s*(?P<out>.+?)\s*$", re.MULTILINE
)


def _inline_examples(text: str) -> tuple[list[Example], list[tuple[int, int]]]:
    examples, spans = [], []
    pos = 0
    while True:
        m = _CALL_START.search(text, pos)
        if m is None:
            break
        end = _balanced_end(text, m.end() - 1)
        if end is None:
            pos = m.end()
            continue
        arrow = _ARROW.match(text, end)
        if arrow is None:
            pos = end
            continue
        vend = _value_end(text, arrow.end())
        value = text[arrow.end() : vend].strip()
        if value:
            examples.append(Example(text[m.start() : end], value))
            spans.append((m.start(), vend))
        pos = max(vend, end)
    return examples, spans


def extract_examples(text: str) -> tuple[list[Example], list[tuple[int, int]]]:
    """Examples (input → output) and the character spans they occupy in ``text``."""
    examples, spans = _doctest_examples(text)
    for m in _IO_BLOCK.finditer(text):
        if not any(a <= m.start() < b for a, b in spans):
            examples.append(Example(m.group("inp"), m.group("out")))
            spans.append((m.start(), m.end()))
    masked = _mask(text, spans)
    more, more_spans = _inline_examples(masked)
    return examples + more, spans + more_spans


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for k in range(a, min(b, len(chars))):
            if chars[k] != "\n":
                chars[k] = " "
    return "".join(chars)


# ------------------------------------------------------------------ sentences and classification

_BULLET = re.compile(r"^(?:[-*•]|\d+[.)]|@\w+)\s+")
_HEADER = re.compile(r"^([A-Z][\w ]{0,30}):\s*$")
_SENT_SPLIT = re.compile(
    r"(?<![eE]\.g\.)(?<![iI]\.e\.)(?<!etc\.)(?<!vs\.)(?<=[.!?])\s+(?=[A-Za-z(`'\"@])|;\s+"
)


def _units(text: str) -> list[tuple[str, str]]:
    """(section header, sentence) pairs: paragraphs are joined, bullets and headers kept."""
    units: list[tuple[str, str]] = []
    header = ""
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = " ".join(para)
            for s in _SENT_SPLIT.split(joined):
                if s.strip():
                    units.append((header, s.strip()))
            para.clear()

    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            flush()
            continue
        h = _HEADER.match(line)
        if h:
            flush()
            header = h.group(1).lower()
            continue
        if _BULLET.match(line):
            flush()
            para.append(_BULLET.sub("", line) if not line.startswith("@") else line)
            flush()
            continue
        para.append(line)
    flush()
    return units


def _rx(words: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + words + r")(?![\w-])", re.IGNORECASE)


_EDGE = _rx(
    r"empty|none|null|nil|negative|ties?|tied|tie-break\w*|invalid|malformed|missing|"
    r"duplicates?|edge cases?|corner cases?|even number of|odd number of|same length|"
    r"shorter|larger than the number|more than one|no such|not found|does not exist|"
    r"\w+\s*==?\s*0|0 or negative|only punctuation|touch(?:es)?|zero or negative"
)
_RAISE = _rx(r"raises?|raised|raising|throws?|@throws|\w+Error|\w+Exception")
_RETURN = _rx(
    r"returns?|output|outputs|find|finds|filter|filters|check|checks|compute|computes|"
    r"calculate|calculates|count|counts|concatenate|insert|generate|generates|select|"
    r"merge|merges|split|splits|parse|parses|flip|remove|apply|perform|implement|write|"
    r"create|convert|determine|detect|evaluate|evaluates|sort|produce|produces|build|"
    r"your task is|your goal is|test if"
)
_CONSTRAINT = _rx(
    r"must|should|only|at most|at least|exactly|assume|assuming|guarantee[sd]?|always|"
    r"never|do not|don't|not|without|keep|preserve|ignore|non-negative|positive|sorted|"
    r"unique|distinct|case-insensitive(?:ly)?|thread-safe|in place|unchanged|valid|"
    r"consisting|may contain|input (?:is|are)|input to this function|given (?:a|an) \w+ \w+"
)
_CONSTRAINT_SYM = re.compile(r"\bO\([^)]{1,20}\)|\d\s*<=?\s*\w|\bbetween\s+-?\d")
_PAREN_CONSTRAINT = re.compile(
    r"\((?P<c>(?:of )?(?:length |size )?(?:at least|at most|non-negative|positive|"
    r"sorted|non-empty)[^()]{0,40})\)",
    re.IGNORECASE,
)
_EXAMPLE_LEFTOVER = re.compile(r"^(?:for example|example \d*|examples?|e\.g\.?)\W*$", re.I)


def classify(sentence: str, header: str = "") -> RequirementKind | None:
    """The kind of one sentence, or ``None`` for background."""
    if _RAISE.search(sentence) or _EDGE.search(sentence):
        return "edge_case"
    if header.startswith(("constraint", "requirement", "note", "assum")):
        return "constraint"
    if _RETURN.search(sentence):
        return "return"
    if _CONSTRAINT.search(sentence) or _CONSTRAINT_SYM.search(sentence):
        return "constraint"
    return None


def extract_requirements(prompt: str) -> Requirements:
    """Requirements and examples stated by a prompt (empty for an empty or junk prompt)."""
    text, source = select_text(prompt)
    examples, spans = extract_examples(text)
    rest = _mask(text, spans)
    reqs: list[Requirement] = []
    for header, sentence in _units(rest):
        if header.startswith("example") or _EXAMPLE_LEFTOVER.match(sentence):
            continue
        if not re.search(r"[A-Za-z]{2}", sentence):
            continue
        kind = classify(sentence, header)
        if kind is not None:
            reqs.append(Requirement(kind, sentence))
        for m in _PAREN_CONSTRAINT.finditer(sentence):
            if kind != "constraint":
                reqs.append(Requirement("constraint", m.group("c")))
    return Requirements(tuple(reqs), tuple(examples), source)


# ------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class LabelledPrompt:
    id: str
    source: str
    prompt: str
    requirements: tuple[Requirement, ...]
    examples: tuple[Example, ...]


class LabelledSetError(ValueError):
    """A line of the labelled set is malformed (the message names the file and line)."""


def load_labelled(path: str | Path) -> list[LabelledPrompt]:
    out = []
    p = Path(path)
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            reqs = tuple(Requirement(r["kind"], r["text"]) for r in d["requirements"])
            exs = tuple(Example(e["input"], e["output"]) for e in d["examples"])
            out.append(LabelledPrompt(d["id"], d.get("source", ""), d["prompt"], reqs, exs))
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise LabelledSetError(f"{p}:{i}: not a labelled prompt ({exc})") from None
        for r in reqs:
            if r.kind not in get_args(RequirementKind):
                raise LabelledSetError(f"{p}:{i}: unknown requirement kind {r.kind!r}")
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def text_overlap(a: str, b: str) -> float:
    """Longest common substring of the normalised texts ÷ length of the shorter (0 to 1)."""
    x, y = _norm(a), _norm(b)
    if not x or not y:
        return 0.0
    if x in y or y in x:
        return 1.0
    m = difflib.SequenceMatcher(None, x, y, autojunk=False).find_longest_match(0, len(x), 0, len(y))
    return m.size / min(len(x), len(y))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class KindScore:
    kind: str
    predicted: int
    labelled: int
    matched: int

    @property
    def precision(self) -> float | None:
        return self.matched / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.labelled if self.labelled else None


@dataclass(frozen=True)
class ExtractionScore:
    prompts: int
    by_kind: tuple[KindScore, ...]
    overall: KindScore
    misses: tuple[dict[str, str], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        def row(k: KindScore) -> dict[str, Any]:
            return {
                "kind": k.kind,
                "predicted": k.predicted,
                "labelled": k.labelled,
                "matched": k.matched,
                "precision": k.precision,
                "recall": k.recall,
            }

        return {
            "prompts": self.prompts,
            "overall": row(self.overall),
            "by_kind": [row(k) for k in self.by_kind],
        }


def _match(pred: Sequence[str], gold: Sequence[str], threshold: float) -> tuple[int, list[int]]:
    """Greedy one-to-one matching by overlap; returns matches and the unmatched gold indices."""
    pairs = sorted(
        ((text_overlap(p, g), i, j) for i, p in enumerate(pred) for j, g in enumerate(gold)),
        reverse=True,
    )
    used_p: set[int] = set()
    used_g: set[int] = set()
    for score, i, j in pairs:
        if score < threshold:
            break
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
    return len(used_g), [j for j in range(len(gold)) if j not in used_g]


def evaluate_extraction(
    labelled: Sequence[LabelledPrompt], *, threshold: float = 0.5
) -> ExtractionScore:
    """Precision and recall of :func:`extract_requirements` against hand labels, per kind."""
    counts = {k: [0, 0, 0] for k in REQUIREMENT_KINDS}
    misses: list[dict[str, str]] = []
    for lp in labelled:
        got = extract_requirements(lp.prompt)
        for kind in get_args(RequirementKind):
            pred = [r.text for r in got.requirements if r.kind == kind]
            gold = [r.text for r in lp.requirements if r.kind == kind]
            matched, missed = _match(pred, gold, threshold)
            counts[kind][0] += len(pred)
            counts[kind][1] += len(gold)
            counts[kind][2] += matched
            misses += [{"id": lp.id, "kind": kind, "text": gold[j]} for j in missed]
        pred_ex = {(_squash(e.input), _squash(e.output)) for e in got.examples}
        gold_ex = [(_squash(e.input), _squash(e.output)) for e in lp.examples]
        hit = sum(1 for g in gold_ex if g in pred_ex)
        counts["example"][0] += len(got.examples)
        counts["example"][1] += len(gold_ex)
        counts["example"][2] += hit
        misses += [
            {"id": lp.id, "kind": "example", "text": f"{e.input} -> {e.output}"}
            for e, g in zip(lp.examples, gold_ex, strict=True)
            if g not in pred_ex
        ]
    by_kind = tuple(KindScore(k, *v) for k, v in counts.items())
    overall = KindScore(
        "all",
        sum(k.predicted for k in by_kind),
        sum(k.labelled for k in by_kind),
        sum(k.matched for k in by_kind),
    )
    return ExtractionScore(len(labelled), by_kind, overall, tuple(misses))
