"""reports/nlp.md: prompts, telemetry acceptance, evaluation pass rate, failure classifier."""

from __future__ import annotations

from typing import Any

from codex_ds.reporting.markdown import md_table


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _p(x: Any) -> str:
    if x is None:
        return "–"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def _ci(lo: Any, hi: Any) -> str:
    return "–" if lo is None else f"[{_f(lo)}, {_f(hi)}]"


def render_nlp_report(payload: dict[str, Any]) -> str:
    out = ["# NLP: prompts, requirements, alignment and failure messages", ""]
    out += [
        "Methods and formulas: docs/METHODOLOGY.md, section NLP. Every number below was "
        "computed by this run.",
        "",
    ]
    p = payload.get("prompts")
    if p:
        out += ["## Prompt complexity", ""]
        out.append(
            "Rows written to `prompt_features`: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(p["written"].items()))
            + "; by status: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(p["by_status"].items()))
            + "."
        )
        out += [""] + [f"> {n}" for n in p["notes"]] + ([""] if p["notes"] else [])
        out.append(
            md_table(
                [
                    "source",
                    "status",
                    "prompts",
                    "mean complexity",
                    "median",
                    "mean tokens",
                    "constraints",
                    "edge cases",
                    "examples",
                ],
                [
                    (
                        r["source"],
                        r["status"],
                        _f(r["prompts"]),
                        _f(r["mean_complexity"], 2),
                        _f(r["median_complexity"], 2),
                        _f(r["mean_tokens"], 1),
                        _f(r["mean_constraints"], 2),
                        _f(r["mean_edge_cases"], 2),
                        _f(r["mean_examples"], 2),
                    )
                    for r in p["summary"]
                ],
            )
        )
        out.append("")
    r = payload.get("requirements")
    if r:
        out += ["## Requirement extraction", ""]
        out.append(
            f"On {r['benchmark_prompts']} benchmark prompts: "
            + ", ".join(f"{k} {v:,}" for k, v in r["extracted"].items())
            + " extracted."
        )
        if r.get("score"):
            s = r["score"]
            out += [
                "",
                f"Against the hand-labelled set `{r['labelled_set']}` ({s['prompts']} prompts; "
                "guideline in its README):",
                "",
                md_table(
                    ["kind", "predicted", "labelled", "matched", "precision", "recall"],
                    [
                        (
                            k["kind"],
                            k["predicted"],
                            k["labelled"],
                            k["matched"],
                            _f(k["precision"]),
                            _f(k["recall"]),
                        )
                        for k in [*s["by_kind"], s["overall"]]
                    ],
                ),
            ]
        out.append("")
    t = payload.get("telemetry")
    if t:
        out += ["## Acceptance rate against prompt features (telemetry)", ""]
        out.append(
            f"{_f(t['shown'])} shown comment-triggered suggestions, {_f(t['accepted'])} "
            f"accepted, in {t['groups']} feature groups. Slope = change in the log-odds of "
            "acceptance per unit of the feature (binomial logistic regression, Wald 95 % "
            "interval). The simulator plants no effect of the comment's text on acceptance "
            f"(true slope {t['planted_slope']:g}); 'covers truth' checks the interval."
        )
        out.append("")
        if t.get("error"):
            out += [f"Not computed: {t['error']}.", ""]
        else:
            out.append(
                md_table(
                    ["feature", "slope", "95 % CI", "odds ratio", "p", "covers truth", "note"],
                    [
                        (
                            d["feature"],
                            _f(d["slope"], 4),
                            _ci(d["ci_low"], d["ci_high"]),
                            _f(d["odds_ratio"], 3),
                            _p(d["p_value"]),
                            _f(d["covers_planted"]),
                            d["error"] or "",
                        )
                        for d in t["trends"]
                    ],
                )
            )
            out += ["", "Acceptance by quartile of prompt complexity (Wilson 95 % intervals):", ""]
            out.append(
                md_table(
                    ["complexity", "shown", "accepted", "rate", "95 % CI"],
                    [
                        (
                            b["label"],
                            _f(b["n"]),
                            _f(b["successes"]),
                            _f(b["rate"]),
                            _ci(b["ci_low"], b["ci_high"]),
                        )
                        for b in t["quartiles"]
                    ],
                )
            )
        out += ["", f"Alignment on telemetry: {t['alignment']}.", ""]
    e = payload.get("evaluation")
    if "evaluation" in payload:
        out += ["## Pass rate against prompt features (evaluation)", ""]
    if "evaluation" not in payload:
        pass  # a partial report (classify-failures) has no evaluation section
    elif not e:
        out += [payload.get("evaluation_note", "No evaluation run was given."), ""]
    else:
        if payload.get("evaluation_note"):
            out += [f"> {payload['evaluation_note']}", ""]
        out.append(
            f"Run `{e['run']}`: {_f(e['samples'])} samples on {e['tasks']} tasks "
            f"({e['tasks_with_features']} with prompt features), pass rate {_f(e['pass_rate'])}. "
            "Spearman's rho between a task's prompt feature and its pass rate, with a "
            "bootstrap interval over tasks:"
        )
        out += [
            "",
            md_table(
                ["feature", "tasks", "rho", "95 % CI", "p", "note"],
                [
                    (
                        c["feature"],
                        c["tasks"],
                        _f(c["rho"]),
                        _ci(c["ci_low"], c["ci_high"]),
                        _p(c["p_value"]),
                        c["error"] or "",
                    )
                    for c in e["correlations"]
                ],
            ),
            "",
            "Pass rate by quartile of prompt complexity (tasks resampled for the interval):",
            "",
        ]
        out.append(
            md_table(
                ["complexity", "tasks", "samples", "passed", "rate", "95 % CI"],
                [
                    (
                        b["label"],
                        b["groups"],
                        _f(b["n"]),
                        _f(b["successes"]),
                        _f(b["rate"]),
                        _ci(b["ci_low"], b["ci_high"]),
                    )
                    for b in e["quartiles"]
                ],
            )
        )
        out.append("")
        if e.get("alignment"):
            out += [
                "Prompt–completion alignment, failing minus passing samples (tasks resampled):",
                "",
            ]
            out.append(
                md_table(
                    [
                        "measure",
                        "failing",
                        "passing",
                        "mean failing",
                        "mean passing",
                        "difference",
                        "95 % CI",
                    ],
                    [
                        (
                            a["measure"],
                            _f(a["failing"]),
                            _f(a["passing"]),
                            _f(a["mean_failing"]),
                            _f(a["mean_passing"]),
                            _f(a["difference"]),
                            _ci(a["ci_low"], a["ci_high"]),
                        )
                        for a in e["alignment"]
                    ],
                )
            )
            out += [
                "",
                "Requirement kinds that completions miss (share of the requirement's "
                "terms absent from the code; failing minus passing coverage):",
                "",
            ]
            out.append(
                md_table(
                    [
                        "kind",
                        "requirements (failing)",
                        "miss rate failing",
                        "coverage passing",
                        "difference",
                        "95 % CI",
                    ],
                    [
                        (
                            k["kind"],
                            _f(k["failing"]),
                            _f(k["miss_rate_failing"]),
                            _f(k["mean_passing"]),
                            _f(k["difference"]),
                            _ci(k["ci_low"], k["ci_high"]),
                        )
                        for k in sorted(
                            e["requirement_kinds"], key=lambda k: -(k["miss_rate_failing"] or 0)
                        )
                    ],
                )
            )
            out.append("")
            if e.get("code_features"):
                out += [
                    "AST features of prompt + completion, failing minus passing samples (programs "
                    f"that do not parse, {_f(e['code_unparsable'])}, left out; tasks resampled):",
                    "",
                    md_table(
                        ["feature", "mean failing", "mean passing", "difference", "95 % CI"],
                        [
                            (
                                d["measure"],
                                _f(d["mean_failing"], 2),
                                _f(d["mean_passing"], 2),
                                _f(d["difference"], 2),
                                _ci(d["ci_low"], d["ci_high"]),
                            )
                            for d in e["code_features"]
                        ],
                    ),
                    "",
                ]
        elif e.get("alignment_note"):
            out += [f"Alignment: {e['alignment_note']}.", ""]
    f = payload.get("failures")
    out += ["## Failure-message classifier", ""]
    if not f or f.get("error"):
        out += [f"Not trained: {(f or {}).get('error', 'no messages')}.", ""]
    else:
        c = f["classifier"]
        b = f["rule_baseline"]
        by_source = ", ".join(f"{k} {v:,}" for k, v in f["train_by_source"].items())
        out.append(
            f"TF-IDF (word 1–2-grams of masked messages) + logistic regression, trained on "
            f"{_f(f['train_messages'])} distinct messages ({by_source}); "
            f"held out: {_f(f['test_messages'])} {f['held_out_kind']} ({f['test_groups']} groups). "
            f"Macro-F1 **{_f(c['macro_f1'])}** (accuracy {_f(c['accuracy'])}); the keyword-rule "
            f"baseline scores macro-F1 {_f(b['macro_f1'])} on the same messages."
        )
        out += [
            "",
            md_table(
                ["class", "support", "precision", "recall", "F1", "baseline F1"],
                [
                    (
                        pc["label"],
                        pc["support"],
                        _f(pc["precision"]),
                        _f(pc["recall"]),
                        _f(pc["f1"]),
                        _f(pb["f1"]),
                    )
                    for pc, pb in zip(c["per_class"], b["per_class"], strict=True)
                ],
            ),
            "",
            "Confusion matrix (rows: true class, columns: predicted):",
            "",
        ]
        out.append(
            md_table(
                ["true \\ predicted", *c["labels"]],
                [(lab, *row) for lab, row in zip(c["labels"], c["confusion"], strict=True)],
            )
        )
        out.append("")
    emb = payload.get("embeddings")
    if emb:
        out += [
            "## Sentence embeddings",
            "",
            ("Available: " if emb["available"] else "Not used: ") + emb["reason"] + ".",
            "",
        ]
    return "\n".join(out)
