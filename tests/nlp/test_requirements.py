"""Requirement extraction: the hand-labelled set (≥ 50 prompts, labels verbatim), precision and
recall ≥ 0.8, example forms, scoring rules, bad input."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from codex_ds.nlp import requirements as R

LABELLED = Path(__file__).resolve().parents[1] / "data" / "requirements_labelled.jsonl"
HELD_OUT = LABELLED.with_name("requirements_heldout.jsonl")


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def test_labelled_set_is_well_formed() -> None:
    items = R.load_labelled(LABELLED)
    assert len(items) >= 50
    assert len({i.id for i in items}) == len(items)
    assert sum(i.source == "humaneval" for i in items) >= 40
    assert sum(i.source == "own" for i in items) >= 10
    assert (LABELLED.parent / "requirements_labelled.README.md").exists()
    for i in items:
        text = _norm(i.prompt)
        for r in i.requirements:
            assert _norm(r.text) in text, (i.id, r.text)
        for e in i.examples:
            assert _norm(e.input) in text and _norm(e.output) in text, (i.id, e)
    kinds = {r.kind for i in items for r in i.requirements}
    assert kinds == {"return", "constraint", "edge_case"}


def test_humaneval_prompts_in_the_set_are_the_packaged_ones(humaneval_prompts) -> None:
    packaged = set(humaneval_prompts)
    for i in R.load_labelled(LABELLED):
        if i.source == "humaneval":
            assert i.prompt in packaged, i.id


def test_precision_and_recall_on_the_labelled_set() -> None:
    score = R.evaluate_extraction(R.load_labelled(LABELLED))
    assert score.prompts >= 50
    assert score.overall.precision is not None and score.overall.precision >= 0.8
    assert score.overall.recall is not None and score.overall.recall >= 0.8
    by = {k.kind: k for k in score.by_kind}
    assert by["example"].recall == 1.0 and by["example"].precision == 1.0
    assert by["return"].recall is not None and by["return"].recall >= 0.9
    # the misses listed are exactly the unmatched labels
    assert len(score.misses) == score.overall.labelled - score.overall.matched


def test_held_out_prompts_labelled_after_the_extractor_was_frozen() -> None:
    items = R.load_labelled(HELD_OUT)
    assert len(items) == 12
    assert not {i.id for i in items} & {i.id for i in R.load_labelled(LABELLED)}
    score = R.evaluate_extraction(items)
    assert score.overall.precision is not None and score.overall.precision >= 0.8
    assert score.overall.recall is not None and score.overall.recall >= 0.8
    by = {k.kind: k for k in score.by_kind}
    # the weak spot, kept visible: input descriptions without a cue word are missed
    assert by["constraint"].recall is not None and by["constraint"].recall < 0.5


def test_scoring_a_perfect_and_an_empty_prediction() -> None:
    prompt = "Return the sum. If xs is empty, return 0.\n>>> f([1, 2])\n3"
    got = R.extract_requirements(prompt)
    perfect = R.LabelledPrompt("p", "own", prompt, got.requirements, got.examples)
    s = R.evaluate_extraction([perfect])
    assert s.overall.precision == 1.0 and s.overall.recall == 1.0
    nothing = R.LabelledPrompt("q", "own", "", (R.Requirement("return", "x"),), ())
    s2 = R.evaluate_extraction([nothing])
    assert s2.overall.predicted == 0 and s2.overall.precision is None and s2.overall.recall == 0


def test_overlap_rule() -> None:
    assert R.text_overlap("Return  the SUM.", "return the sum.") == 1.0
    assert R.text_overlap("abc", "") == 0.0
    assert R.text_overlap("of length at least two", "(of length at least two) select") == 1.0
    # longest common piece " the list " (10 characters) ÷ the shorter text (20)
    assert R.text_overlap("sort the list in place", "keep the list sorted") == 10 / 20


@pytest.mark.parametrize(
    ("prompt", "examples"),
    [
        (">>> f([1, 2])\n3\n>>> f([])\n\n", [("f([1, 2])", "3"), ("f([])", "")]),
        (">>> round(g(1), 2) # note\n0.5", [("round(g(1), 2)", "0.5")]),
        ("Input: nums = [1,2], k = 3\nOutput: 2", [("nums = [1,2], k = 3", "2")]),
        ("e.g. merge([1, 4], [2]) -> [1, 2, 4].", [("merge([1, 4], [2])", "[1, 2, 4]")]),
        ("slug('A B') should return 'a-b'.", [("slug('A B')", "'a-b'")]),
        ("chunk([1], 3) == [[1]]", [("chunk([1], 3)", "[[1]]")]),
        ("api.get('x') -> True", [("api.get('x')", "True")]),
        ("Call f(x) to compute it.", []),
    ],
)
def test_example_forms(prompt: str, examples: list[tuple[str, str]]) -> None:
    got = R.extract_requirements(prompt)
    assert [(e.input, e.output) for e in got.examples] == examples


def test_reads_the_docstring_of_the_function_to_write() -> None:
    prompt = (
        'def helper(x):\n    """Return x twice."""\n    return 2 * x\n\n\n'
        'def target(xs):\n    """Return the largest element; ties are broken by position."""\n'
    )
    got = R.extract_requirements(prompt)
    assert got.source == "docstring"
    assert [(r.kind, r.text) for r in got.requirements] == [
        ("return", "Return the largest element"),
        ("edge_case", "ties are broken by position."),
    ]


def test_javadoc_and_comment_prompts() -> None:
    j = R.extract_requirements(
        "/**\n * Returns the mean.\n * @throws IllegalStateException if empty\n */"
    )
    assert j.source == "javadoc"
    assert [r.kind for r in j.requirements] == ["return", "edge_case"]
    c = R.extract_requirements("# Write a parser.\n# It must not allocate.")
    assert c.source == "comments"
    assert [r.kind for r in c.requirements] == ["return", "constraint"]


@pytest.mark.parametrize(
    "prompt",
    [
        "",
        "   \n",
        "\x00\x01\xff\x02",
        "写一个函数，返回列表中的最大值。",
        "'''" * 50,
        "(((((" * 200,
    ],
)
def test_bad_input_gives_an_answer(prompt: str) -> None:
    got = R.extract_requirements(prompt)
    assert isinstance(got.requirements, tuple)


def test_one_megabyte_prompt_is_handled() -> None:
    big = "Return the sum. If the list is empty, return 0. f([1]) -> 1\n" * 17_000
    assert len(big) > 1_000_000
    t0 = time.perf_counter()
    got = R.extract_requirements(big)
    assert time.perf_counter() - t0 < 30
    assert got.count("edge_case") == 17_000 and got.count("example") == 17_000


def test_malformed_labelled_file_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    good = {"id": "a", "prompt": "x", "requirements": [], "examples": []}
    p.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(R.LabelledSetError, match=r"bad.jsonl:2"):
        R.load_labelled(p)
    p.write_text(json.dumps({**good, "requirements": [{"kind": "wish", "text": "x"}]}) + "\n")
    with pytest.raises(R.LabelledSetError, match=r"bad.jsonl:1: unknown requirement kind 'wish'"):
        R.load_labelled(p)
