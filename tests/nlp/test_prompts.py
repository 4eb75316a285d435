"""Prompt complexity: the Arrow/RE2 batch equals the per-prompt reference; tokeniser
properties; Flesch and complexity formulas by hand; bad input gives a status, never a crash."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_ds.nlp import prompts as P

ADVERSARIAL = [
    "",
    " ",
    "\n\n",
    "\x00\x01\x02\x03 binary \xff\xfe",
    "\ufffd\ufffd\ufffdPNG\x1a\x00",
    "Escribe una función que devuelva la lista ordenada sin duplicados, por favor, también vacía",
    "写一个函数，返回列表中的最大值。如果列表为空，返回 None。",
    "Напишите функцию, которая возвращает сумму элементов списка.",
    "K\u212a ſs ǅ İstanbul ß Return None if EMPTY",  # Unicode case-folding traps
    "abc.\n",
    "e.g. f(x)->1; g(y) == 2 >>> h(3)\n4",
    "`snake_case` camelCase a.b.c f( O(n log n) 1 <= n <= 10",
    "x" * 5000,
]


def _same(batch: dict, ref: dict) -> None:
    for k, v in ref.items():
        if isinstance(v, float):
            assert batch[k] == pytest.approx(v, rel=1e-12, abs=1e-12), k
        else:
            assert batch[k] == v, k


def test_batch_equals_reference_on_real_and_adversarial_prompts(humaneval_prompts) -> None:
    texts = [*humaneval_prompts, *ADVERSARIAL, None]
    batch = P.prompt_features(texts, batch_size=37).to_pylist()
    for t, b in zip(texts, batch, strict=True):
        _same(b, P.prompt_complexity(t or "").as_dict())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=8))
def test_batch_equals_reference_on_any_text(texts: list[str]) -> None:
    for t, b in zip(texts, P.prompt_features(texts).to_pylist(), strict=True):
        _same(b, P.prompt_complexity(t).as_dict())


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=120))
def test_tokens_cover_every_non_space_character(text: str) -> None:
    joined = "".join(P.tokenize(text))
    assert joined == re.sub(r"[ \t\n\r\f\v]", "", text)


def test_tokeniser_keeps_code_whole() -> None:
    toks = P.tokenize("Use `max_len` and parse_config.load(x) -> int; x >= 1.5 >>> f()")
    assert "`max_len`" in toks and "parse_config.load" in toks
    assert {"->", ">=", ">>>", "1.5"} <= set(toks)


def test_flesch_and_complexity_by_hand() -> None:
    c = P.prompt_complexity("The cat sat on the mat.")
    # 6 words, 1 sentence, 6 syllables (one vowel group each)
    assert (c.n_words, c.n_sentences) == (6, 1)
    assert c.readability == pytest.approx(206.835 - 1.015 * 6 - 84.6 * 1)
    assert c.n_tokens == 7
    assert c.complexity == pytest.approx(3.0)  # log2(1 + 7), no cues


def test_cues_are_counted() -> None:
    c = P.prompt_complexity(
        "Return the sorted list. It must run in O(n log n). If the list is empty, raise "
        "ValueError. For each sublist, sum it. Example: f([2, 1]) -> [1, 2]"
    )
    assert c.n_constraints >= 3  # sorted, must, O(n log n)
    assert c.n_edge_cases == 2  # empty, raise
    assert c.nesting == 2  # for each, sublist
    assert c.n_examples == 2  # Example, ") ->"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", "empty"),
        ("\x00\x01\x02\x03\x04", "binary"),
        ("ab\x00\x01\x02\x03\x04\x05cd", "binary"),
        ("写一个函数，返回列表中的最大值。", "non_english"),
        (
            "Escribe una función que devuelva la lista ordenada sin duplicados por favor",
            "non_english",
        ),
        ("Write a function that returns the largest element of a list.", "ok"),
        # documented limit: a short Latin-script prompt (< 8 words) is not recognised
        ("Écris une fonction", "ok"),
    ],
)
def test_bad_input_gets_a_status(text: str, status: str) -> None:
    assert P.prompt_complexity(text).status == status
    assert P.prompt_features([text]).column("status")[0].as_py() == status


def test_one_megabyte_prompt_is_flagged_and_fast() -> None:
    big = "Return the sum of the list, handle empty input. " * 21_000  # ~1 MB
    assert len(big) > 1_000_000
    t0 = time.perf_counter()
    c = P.prompt_complexity(big)
    b = P.prompt_features([big]).to_pylist()[0]
    assert time.perf_counter() - t0 < 10
    assert c.status == "oversized" and b["status"] == "oversized"
    assert c.n_edge_cases == 21_000
    _same(b, c.as_dict())
