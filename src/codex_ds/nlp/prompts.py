"""Prompt complexity: a code-aware tokeniser and per-prompt features.

Two implementations of the same definitions:

* :func:`prompt_complexity` — one prompt, Python ``re`` (the reference);
* :func:`prompt_features` — a column of prompts at once, the same regular expressions run by
  Arrow's RE2 kernels (``pyarrow.compute.count_substring_regex``), about two orders of
  magnitude faster (``benchmarks/bench_nlp.py``). A test checks that both give the same
  numbers on real and adversarial text.

Every pattern is ASCII-only and case-insensitivity is spelled out as ``[rR]`` classes, so
Python's ``re`` (with ``re.ASCII``) and RE2 agree exactly.

>>> tokenize("Return `max_len` of xs -> int, e.g. f([1, 2]) == 2.")[:8]
['Return', '`max_len`', 'of', 'xs', '->', 'int', ',', 'e.g']
>>> c = prompt_complexity("Return the sum of xs. If xs is empty, return 0. >>> f([1]) 1")
>>> (c.status, c.n_edge_cases, c.n_examples, c.n_sentences)
('ok', 1, 1, 2)
>>> prompt_complexity("").status
'empty'
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PromptStatus = Literal["ok", "empty", "binary", "non_english", "oversized"]
PROMPT_STATUSES: tuple[str, ...] = get_args(PromptStatus)
#: Prompts longer than this are flagged ``oversized`` (their features are still computed).
OVERSIZED_CHARS = 100_000

Progress = Callable[[str, float], None]


def _ci(word: str) -> str:
    """A case-insensitive ASCII pattern for a literal word, spelled out as character classes."""
    out = []
    for ch in word:
        if ch.isascii() and ch.isalpha():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        elif ch == " ":
            out.append("[ \\t\\n]+")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _words(words: str) -> str:
    alternatives = sorted(words.split("|"), key=len, reverse=True)
    return r"\b(?:" + "|".join(_ci(w) for w in alternatives) + r")\b"


_SPACE = " \\t\\n\\r\\f\\v"
#: A token: a backticked code span, an identifier (dotted names kept whole), a number, a
#: multi-character operator, or any other single non-space character.
TOKEN = (
    r"`[^`\n]+`"
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
    r"|[0-9]+(?:\.[0-9]+)?"
    r"|>>>|->|=>|==|!=|<=|>=|\*\*|//|:="
    rf"|[^{_SPACE}]"
)
#: Code identifiers: snake_case, camelCase, dotted names, calls ``f(``, backticked spans.
IDENTIFIER = (
    r"`[^`\n]+`"
    r"|\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*"
    r"|\b_[A-Za-z0-9_]+"
    r"|\b[a-z]+[A-Z][A-Za-z0-9]*"
    r"|\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+"
    r"|\b[A-Za-z_][A-Za-z0-9_]*\("
)
#: Operators and brackets of code inside the prompt.
CODE_SYMBOL = r">>>|->|=>|==|!=|<=|>=|\*\*|//|:=|[()\[\]{}=<>+*/%]"
#: Programming vocabulary (types, structures, operations) — the prompt's "keywords".
KEYWORD = _words(
    "return|returns|list|lists|array|arrays|string|strings|integer|integers|int|float|"
    "floats|number|numbers|dict|dictionary|tuple|tuples|set|function|class|method|loop|"
    "recursion|recursive|sort|sorted|index|key|keys|value|values|boolean|true|false|none|"
    "null|exception|raise|error|sum|count|max|min|maximum|minimum|length|prime|character|"
    "characters|substring|prefix|suffix|matrix|graph|tree|node|query|sql|api|json|csv|"
    "file|regex|parse|parser|cache|thread|async|test|bit|binary|hash|map|filter|reduce|"
    "stack|queue|heap|interval|intervals|digit|digits|even|odd|element|elements"
)
#: Cues of a constraint on the input, the output or the solution.
CONSTRAINT_CUE = (
    _words(
        "must|must not|should|should not|only|at most|at least|exactly|assume|assuming|"
        "guaranteed|always|never|do not|don't|without|keep|preserve|ignore|non-negative|"
        "positive|sorted|unique|distinct|case-insensitive|case-insensitively|thread-safe|"
        "in place|unchanged|valid|constraints|requirements"
    )
    + r"|\bO\([^)\n]{1,20}\)|[0-9] ?<=? ?[A-Za-z_]|\bbetween -?[0-9]"
)
#: Cues of an edge case: special or boundary inputs, errors.
EDGE_CUE = _words(
    "empty|none|null|nil|negative|tie|ties|tied|invalid|malformed|missing|duplicate|"
    "duplicates|overflow|edge case|corner case|raise|raises|throw|throws|otherwise|"
    "in case|same length|fewer than|more than one|no such|does not exist"
)
#: Example markers: doctest prompts, ``call(...) -> value``, ``Input:``, "for example", "e.g.".
EXAMPLE_CUE = (
    r">>>|\)[ \t]*(?:->|==>|=>|==)|"
    + _words("example|examples|for instance|input:")
    + r"|\b[eE]\.[gG]\."
)
#: Cues of nesting in the described task (nested iteration or structure).
NESTING_CUE = _words(
    "for each|for every|each of|nested|within each|inside|recursively|recursive|sublist|"
    "sublists|subarray|subarrays|substring|substrings|subgroup|subgroups|groups of|pairs of"
)
WORD = r"[A-Za-z]+"
SYLLABLE = r"[AEIOUYaeiouy]+"
SENTENCE_END = rf"[.!?]+(?:[{_SPACE}]|$)"
NON_ASCII = r"[^\x00-\x7f]"
ASCII_LETTER = r"[A-Za-z]"
STOPWORD = _words(
    "the|a|an|of|to|in|and|or|is|are|that|this|for|it|with|as|on|be|by|if|from|at|which|"
    "given|return|should|each|all|not|its|their|then|than"
)
_CONTROL_RE2 = r"[\x00-\x08\x0e-\x1f\x7f]|\x{FFFD}"
_CONTROL_PY = r"[\x00-\x08\x0e-\x1f\x7f\ufffd]"

_COUNTED: dict[str, str] = {
    "n_tokens": TOKEN,
    "n_identifiers": IDENTIFIER,
    "n_code_symbols": CODE_SYMBOL,
    "n_keywords": KEYWORD,
    "n_constraints": CONSTRAINT_CUE,
    "n_edge_cases": EDGE_CUE,
    "n_examples": EXAMPLE_CUE,
    "nesting": NESTING_CUE,
    "n_words": WORD,
    "n_syllables": SYLLABLE,
    "n_sentence_ends": SENTENCE_END,
    "n_non_ascii": NON_ASCII,
    "n_ascii_letters": ASCII_LETTER,
    "n_stopwords": STOPWORD,
}
_COMPILED = {k: re.compile(v, re.ASCII) for k, v in _COUNTED.items()}
_TOKEN_RE = re.compile(TOKEN, re.ASCII)
_CONTROL_PY_RE = re.compile(_CONTROL_PY)


def tokenize(text: str) -> list[str]:
    """Code-aware tokens: identifiers (``snake_case``, ``camelCase``, ``a.b.c``) and backticked
    spans stay whole, numbers and operators (``->``, ``==``, ``>>>``) are one token each."""
    return _TOKEN_RE.findall(text)


@dataclass(frozen=True)
class PromptComplexity:
    """Features of one prompt (definitions in docs/METHODOLOGY.md, section NLP)."""

    status: PromptStatus
    n_chars: int
    n_lines: int
    n_tokens: int
    n_words: int
    n_identifiers: int
    n_code_symbols: int
    n_keywords: int
    n_constraints: int
    n_edge_cases: int
    n_examples: int
    nesting: int
    n_sentences: int
    #: Flesch reading ease (higher = easier); ``None`` when the prompt has no words.
    readability: float | None
    #: log2(1 + tokens) + constraints + edge cases + nesting cues.
    complexity: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


FEATURE_COLUMNS: tuple[str, ...] = tuple(
    f for f in PromptComplexity.__dataclass_fields__ if f != "status"
)


def _status(
    n_chars: int, n_control: int, n_non_ascii: int, n_ascii: int, n_words: int, n_stop: int
) -> PromptStatus:
    if n_chars == 0 or n_chars == n_control:
        return "empty" if n_control == 0 else "binary"
    if n_control > 0.05 * n_chars:
        return "binary"
    if n_non_ascii > 0.3 * (n_non_ascii + n_ascii) or (
        n_non_ascii > 0 and n_words >= 8 and n_stop < 0.05 * n_words
    ):
        return "non_english"
    if n_chars > OVERSIZED_CHARS:
        return "oversized"
    return "ok"


def _readability(words: int, sentences: int, syllables: int) -> float | None:
    if words == 0:
        return None
    return 206.835 - 1.015 * (words / sentences) - 84.6 * (syllables / words)


def _complexity(tokens: int, constraints: int, edges: int, nesting: int) -> float:
    return math.log2(1 + tokens) + constraints + edges + nesting


def prompt_complexity(text: str) -> PromptComplexity:
    """Features of one prompt (the reference implementation of :func:`prompt_features`).

    Empty text, binary junk and non-English text give a row whose ``status`` says so; nothing
    raises.
    """
    n = {k: len(r.findall(text)) for k, r in _COMPILED.items()}
    n_chars = len(text)
    n_control = len(_CONTROL_PY_RE.findall(text))
    status = _status(
        n_chars, n_control, n["n_non_ascii"], n["n_ascii_letters"], n["n_words"], n["n_stopwords"]
    )
    sentences = max(n["n_sentence_ends"], 1) if n["n_words"] else 0
    return PromptComplexity(
        status=status,
        n_chars=n_chars,
        n_lines=text.count("\n") + 1 if text else 0,
        n_tokens=n["n_tokens"],
        n_words=n["n_words"],
        n_identifiers=n["n_identifiers"],
        n_code_symbols=n["n_code_symbols"],
        n_keywords=n["n_keywords"],
        n_constraints=n["n_constraints"],
        n_edge_cases=n["n_edge_cases"],
        n_examples=n["n_examples"],
        nesting=n["nesting"],
        n_sentences=sentences,
        readability=_readability(n["n_words"], sentences, n["n_syllables"]),
        complexity=_complexity(n["n_tokens"], n["n_constraints"], n["n_edge_cases"], n["nesting"]),
    )


def _as_array(texts: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = texts if isinstance(texts, pa.Array | pa.ChunkedArray) else pa.array(texts, pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.fill_null(arr, "")


def _count(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(arr, pattern).to_numpy(zero_copy_only=False).astype(np.int64)


def prompt_features(
    texts: Sequence[str | None] | pa.Array | pa.ChunkedArray,
    *,
    batch_size: int = 200_000,
    progress: Progress | None = None,
) -> pa.Table:
    """Features of many prompts at once (columns: ``status`` and :data:`FEATURE_COLUMNS`).

    Row *i* equals ``prompt_complexity(texts[i])``; a null text counts as empty.
    """
    arr = _as_array(texts)
    parts = []
    total = len(arr)
    for start in range(0, max(total, 1), batch_size):
        parts.append(_features_batch(arr.slice(start, batch_size)))
        if progress is not None:
            progress("prompt features", min(1.0, (start + batch_size) / max(total, 1)))
    return pa.concat_tables(parts) if parts else _features_batch(arr)


#: Features whose pattern is a class of ASCII bytes: counted on the UTF-8 bytes with numpy
#: (exact: no byte of a multi-byte character is ASCII), the rest by RE2 in parallel threads.
_BYTE_COUNTED = ("n_words", "n_syllables", "n_sentence_ends", "n_non_ascii", "n_ascii_letters")
_LETTER = np.zeros(256, dtype=bool)
_LETTER[[*range(65, 91), *range(97, 123)]] = True
_VOWEL = np.zeros(256, dtype=bool)
_VOWEL[[ord(c) for c in "AEIOUYaeiouy"]] = True
_PUNCT_END = np.zeros(256, dtype=bool)
_PUNCT_END[[ord(c) for c in ".!?"]] = True
_SPACE_BYTE = np.zeros(256, dtype=bool)
_SPACE_BYTE[[32, 9, 10, 13, 12, 11]] = True
_CONTROL_BYTE = np.zeros(256, dtype=bool)
_CONTROL_BYTE[[*range(0, 9), *range(14, 32), 127]] = True


def _byte_counts(arr: pa.Array) -> dict[str, np.ndarray]:
    """Byte-class counts per string, from the Arrow buffers without copying the text."""
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    b = raw[offsets[0] : offsets[-1]]
    off = (offsets - offsets[0]).astype(np.int64)
    starts, ends = off[:-1], off[1:]
    nonempty = ends > starts
    first = np.zeros(len(b), dtype=bool)
    first[starts[nonempty]] = True
    last = np.zeros(len(b), dtype=bool)
    last[ends[nonempty] - 1] = True

    def per_string(mask: np.ndarray) -> np.ndarray:
        cs = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        return cs[ends] - cs[starts]

    def run_starts(cls: np.ndarray) -> np.ndarray:
        prev = np.concatenate([[False], cls[:-1]]) & ~first
        return cls & ~prev

    letter, vowel, punct = _LETTER[b], _VOWEL[b], _PUNCT_END[b]
    nxt = np.concatenate([b[1:], [0]]).astype(np.uint8)[: len(b)]
    nxt2 = np.concatenate([b[2:], [0, 0]]).astype(np.uint8)[: len(b)]
    run_end = punct & (last | ~_PUNCT_END[nxt])
    sentence_end = run_end & (last | _SPACE_BYTE[nxt])
    fffd = (b == 0xEF) & (nxt == 0xBF) & (nxt2 == 0xBD)
    return {
        "n_words": per_string(run_starts(letter)),
        "n_syllables": per_string(run_starts(vowel)),
        "n_sentence_ends": per_string(sentence_end),
        "n_non_ascii": per_string(b >= 0xC0),
        "n_ascii_letters": per_string(letter),
        "control": per_string(_CONTROL_BYTE[b] | fffd),
        "newlines": per_string(b == 10),
    }


def _features_batch(arr: pa.Array) -> pa.Table:
    from concurrent.futures import ThreadPoolExecutor

    patterns = {k: v for k, v in _COUNTED.items() if k not in _BYTE_COUNTED and k != "n_stopwords"}
    workers = max(1, min(len(patterns), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # Arrow kernels release the GIL
        futures = {k: pool.submit(_count, arr, v) for k, v in patterns.items()}
        counted = _byte_counts(arr)
        n = {k: f.result() for k, f in futures.items()}
    n.update({k: counted[k] for k in _BYTE_COUNTED})
    # stop words only matter (for the language check) in prompts with non-ASCII characters
    n["n_stopwords"] = np.zeros(len(arr), dtype=np.int64)
    some = np.flatnonzero(n["n_non_ascii"] > 0)
    if len(some):
        n["n_stopwords"][some] = _count(arr.take(pa.array(some)), STOPWORD)
    n_chars = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    n_control = counted["control"]
    n_nl = counted["newlines"]
    words, stop, non_ascii, ascii_l = (
        n["n_words"],
        n["n_stopwords"],
        n["n_non_ascii"],
        n["n_ascii_letters"],
    )
    status = np.full(len(arr), "ok", dtype=object)
    status[n_chars > OVERSIZED_CHARS] = "oversized"
    non_en = (non_ascii > 0.3 * (non_ascii + ascii_l)) | (
        (non_ascii > 0) & (words >= 8) & (stop < 0.05 * words)
    )
    status[non_en] = "non_english"
    status[n_control > 0.05 * n_chars] = "binary"
    status[(n_chars > 0) & (n_chars == n_control)] = "binary"
    status[n_chars == 0] = "empty"
    sentences = np.where(words > 0, np.maximum(n["n_sentence_ends"], 1), 0)
    safe_w = np.maximum(words, 1)
    safe_s = np.maximum(sentences, 1)
    read = 206.835 - 1.015 * (words / safe_s) - 84.6 * (n["n_syllables"] / safe_w)
    complexity = np.log2(1 + n["n_tokens"]) + n["n_constraints"] + n["n_edge_cases"] + n["nesting"]
    cols: dict[str, pa.Array] = {
        "status": pa.array(status, pa.string()),
        "n_chars": pa.array(n_chars),
        "n_lines": pa.array(np.where(n_chars > 0, n_nl + 1, 0)),
        "n_tokens": pa.array(n["n_tokens"]),
        "n_words": pa.array(words),
        "n_identifiers": pa.array(n["n_identifiers"]),
        "n_code_symbols": pa.array(n["n_code_symbols"]),
        "n_keywords": pa.array(n["n_keywords"]),
        "n_constraints": pa.array(n["n_constraints"]),
        "n_edge_cases": pa.array(n["n_edge_cases"]),
        "n_examples": pa.array(n["n_examples"]),
        "nesting": pa.array(n["nesting"]),
        "n_sentences": pa.array(sentences),
        "readability": pa.array(read, mask=words == 0),
        "complexity": pa.array(complexity),
    }
    return pa.table(cols)


def naive_prompt_features(texts: Sequence[str | None]) -> pa.Table:
    """The baseline of the benchmark: :func:`prompt_complexity` called once per prompt."""
    rows = [prompt_complexity(t or "").as_dict() for t in texts]
    if not rows:
        return prompt_features([])
    return pa.Table.from_pylist(rows, schema=prompt_features([]).schema)
