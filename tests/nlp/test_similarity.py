"""TF-IDF cosine against a hand computation; subword terms; alignment; embeddings status."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from codex_ds.nlp import similarity as S
from codex_ds.nlp.requirements import extract_requirements


def test_subword_terms() -> None:
    assert S.subword_terms("parseHTTPResponse user_id2 the a") == [
        "parse",
        "http",
        "response",
        "user",
        "id",
    ]
    assert S.subword_terms("") == []


def test_code_text_keeps_names_comments_and_strings() -> None:
    t = S.code_text("def area(r):\n    # circle area\n    return 3.14 * r * r  # 'pi'\n")
    assert "area" in t and "# circle area" in t and "3.14" not in t
    assert S.code_text("def f(:\n  '''unterminated") == "def f(:\n  '''unterminated"


def _tfidf_by_hand(docs: list[list[str]]) -> list[dict[str, float]]:
    n = len(docs)
    df = Counter(t for d in docs for t in set(d))
    out = []
    for d in docs:
        tf = Counter(d)
        w = {t: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1) for t, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in w.values()))
        out.append({t: v / norm for t, v in w.items()})
    return out


def test_tfidf_cosine_matches_a_hand_computation() -> None:
    texts = ["Return the sorted list of user ids", "Parse the config file"]
    codes = ["def sorted_ids(users): return sorted(u.id for u in users)", "x = 1"]
    got = S.tfidf_cosine(texts, codes)
    docs = [S.subword_terms(t) for t in texts] + [S.subword_terms(S.code_text(c)) for c in codes]
    vec = _tfidf_by_hand(docs)
    for i in range(2):
        a, b = vec[i], vec[2 + i]
        assert got[i] == pytest.approx(sum(a[t] * b.get(t, 0.0) for t in a), abs=1e-12)
    assert got[1] == 0.0


def test_tfidf_cosine_edge_cases() -> None:
    assert S.tfidf_cosine([], []).shape == (0,)
    assert list(S.tfidf_cosine(["", "!!"], ["", "?"])) == [0.0, 0.0]
    with pytest.raises(ValueError, match="2 texts but 1 codes"):
        S.tfidf_cosine(["a", "b"], ["c"])
    same = S.tfidf_cosine(["merge sorted lists"], ["merge_sorted_lists"])
    assert same[0] == pytest.approx(1.0)


def test_top_keywords() -> None:
    kw = S.top_keywords(["parse csv parse rows", "sort rows"], k=2)
    assert kw[0][0] == "parse" and kw[1][0] == "sort"
    assert S.top_keywords(["", "!"]) == [[], []]


def test_requirement_alignment() -> None:
    reqs = extract_requirements("Return the largest element. If the list is empty, return None.")
    full = S.requirement_alignment(
        reqs, "def largest_element(the_list):\n    # empty list: None\n    pass"
    )
    none = S.requirement_alignment(reqs, "x = 1")
    assert full.score is not None and none.score == 0.0
    assert full.kinds == ("return", "edge_case")
    assert full.per_requirement[0] == pytest.approx(2 / 3)  # largest, element found; return not
    assert np.all(np.asarray(full.per_requirement) >= 0)
    assert S.requirement_alignment(extract_requirements(""), "x").score is None


def test_embeddings_say_why_they_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(S.EMBEDDING_MODEL_ENV, raising=False)
    b = S.embedding_backend()
    assert b.available is False and "TF-IDF" in b.reason
    with pytest.raises(RuntimeError):
        S.embedding_cosine(["a"], ["b"], b)
