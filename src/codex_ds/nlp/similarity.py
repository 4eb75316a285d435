"""Prompt–code similarity and alignment.

* :func:`tfidf_cosine` — TF-IDF cosine between texts (prompts) and code, over code-aware
  subword terms (identifiers split at ``_`` and camelCase, lower-cased, stop words dropped);
  the baseline measure of prompt–code similarity.
* :func:`requirement_alignment` — share of each requirement's content terms that the code
  mentions (identifiers, comments, strings), averaged over the prompt's requirements.
* :func:`embedding_backend` — sentence embeddings are optional: they are used only when a
  model is installed locally as a package; nothing is fetched from a model hub at run time.
  When none is installed, the backend says so and the TF-IDF measure stands alone.

>>> subword_terms("Return the maxValue of `user_ids` in parse_config.")
['return', 'max', 'value', 'user', 'ids', 'parse', 'config']
>>> round(float(tfidf_cosine(["sort the list"], ["def sort_list(xs): return sorted(xs)"])[0]), 3)
0.384
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import tokenize as pytokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from codex_ds.nlp.requirements import Requirements

_STOPWORD_TEXT = (
    "a an the of to in on at by for from with and or not no is are be been was were it its "
    "this that these those as if then than else which who what when where how all any each "
    "some such only also into out up down over under there here you your we our they their "
    "he she his her them do does did can could should would will shall may might must has "
    "have had given e g eg i ie etc so but"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def subword_terms(text: str) -> list[str]:
    """Content terms of prose or code: identifiers split into lower-case subwords; numbers,
    one-letter terms and stop words dropped."""
    out = []
    for word in _WORD.findall(text.replace("_", " ")):
        for part in _CAMEL.findall(word):
            low = part.lower()
            if len(low) > 1 and not low.isdigit() and low not in STOPWORDS:
                out.append(low)
    return out


def code_text(code: str) -> str:
    """The words a piece of code says: its names, comments and string literals (Python's
    tokenizer; code that does not tokenise is read as plain text)."""
    parts: list[str] = []
    try:
        for tok in pytokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (pytokenize.NAME, pytokenize.COMMENT, pytokenize.STRING):
                parts.append(tok.string)
    except (pytokenize.TokenError, IndentationError, SyntaxError):
        return code
    return " ".join(parts)


def _vectorizer(fit_on: Sequence[str]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=subword_terms, sublinear_tf=True, norm="l2")
    vec.fit(fit_on)
    return vec


def tfidf_cosine(
    texts: Sequence[str], codes: Sequence[str], *, fit_on: Sequence[str] | None = None
) -> np.ndarray:
    """Cosine of the TF-IDF vectors of ``texts[i]`` and ``code_text(codes[i])``, row by row.

    IDF is fitted on ``fit_on`` (default: the texts and codes themselves). A pair where either
    side has no known term scores 0.
    """
    if len(texts) != len(codes):
        raise ValueError(f"{len(texts)} texts but {len(codes)} codes")
    if not texts:
        return np.zeros(0)
    code_words = [code_text(c) for c in codes]
    corpus = list(fit_on) if fit_on is not None else [*texts, *code_words]
    if not any(subword_terms(t) for t in corpus):
        return np.zeros(len(texts))
    vec = _vectorizer(corpus)
    a = vec.transform(texts)
    b = vec.transform(code_words)
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def top_keywords(texts: Sequence[str], k: int = 5) -> list[list[str]]:
    """The ``k`` terms of each text with the highest TF-IDF weight within ``texts``."""
    if not texts or not any(subword_terms(t) for t in texts):
        return [[] for _ in texts]
    vec = _vectorizer(texts)
    m = vec.transform(texts).tocsr()
    vocab = np.array(vec.get_feature_names_out())
    out = []
    for i in range(m.shape[0]):
        row = m.getrow(i)
        order = np.lexsort((vocab[row.indices], -row.data))[:k]
        out.append([str(vocab[row.indices[j]]) for j in order])
    return out


@dataclass(frozen=True)
class Alignment:
    """How much of a prompt's requirements the code mentions."""

    score: float | None  # mean coverage over requirements; None without requirements
    per_requirement: tuple[float, ...]
    kinds: tuple[str, ...]


def requirement_alignment(requirements: Requirements, code: str) -> Alignment:
    """Coverage of each requirement = share of its content terms that occur in the code's
    names, comments and strings; examples count through their input's terms (the function
    called). The score is the mean coverage."""
    code_terms = set(subword_terms(code_text(code)))
    cov, kinds = [], []
    items: list[tuple[str, str]] = [(r.kind, r.text) for r in requirements.requirements]
    items += [("example", e.input) for e in requirements.examples]
    for kind, text in items:
        terms = set(subword_terms(text))
        if not terms:
            continue
        cov.append(len(terms & code_terms) / len(terms))
        kinds.append(kind)
    score = float(np.mean(cov)) if cov else None
    return Alignment(score, tuple(cov), tuple(kinds))


# ------------------------------------------------------------------ optional embeddings

EMBEDDING_MODEL_ENV = "CODEX_DS_EMBEDDING_MODEL"


@dataclass(frozen=True)
class EmbeddingBackend:
    available: bool
    reason: str
    model_path: str | None = None


def embedding_backend() -> EmbeddingBackend:
    """Whether sentence embeddings can be computed here, and why not.

    They need the ``sentence-transformers`` package and a model directory installed on this
    machine, named by ``CODEX_DS_EMBEDDING_MODEL``; nothing is downloaded.
    """
    if importlib.util.find_spec("sentence_transformers") is None:
        return EmbeddingBackend(
            False,
            "no sentence-embedding model is installed (package sentence-transformers is "
            "absent); similarity uses TF-IDF cosine only",
        )
    path = os.environ.get(EMBEDDING_MODEL_ENV)
    if not path or not os.path.isdir(path):
        return EmbeddingBackend(
            False,
            f"sentence-transformers is installed but no local model is named by "
            f"{EMBEDDING_MODEL_ENV} (models are never fetched from a hub); similarity uses "
            "TF-IDF cosine only",
        )
    return EmbeddingBackend(True, f"local model {path}", path)


def embedding_cosine(
    texts: Sequence[str], codes: Sequence[str], backend: EmbeddingBackend
) -> np.ndarray:  # pragma: no cover - needs a locally installed model
    """Cosine of sentence embeddings (only with an available backend)."""
    if not backend.available or backend.model_path is None:
        raise RuntimeError(backend.reason)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(backend.model_path, local_files_only=True)
    a = model.encode(list(texts), normalize_embeddings=True)
    b = model.encode([code_text(c) for c in codes], normalize_embeddings=True)
    return np.asarray((a * b).sum(axis=1))
