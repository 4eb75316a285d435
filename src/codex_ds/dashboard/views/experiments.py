"""Experiments: each A/B test's results with significance, a forest plot of the relative
effects, the decision and its reason, and the staged-rollout gates."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from codex_ds.dashboard import data, ui

DECISION_BOX = {"ship": st.success, "hold": st.warning, "rollback": st.error, "invalid": st.error}


def render(filters: data.Filters) -> None:
    st.title("Experiments")
    st.caption(
        "An experiment is analysed on its whole randomised population (`codex-ds experiment "
        "analyze`); the sidebar filters do not apply here."
    )
    results = data.experiments()
    if not results:
        st.info("No experiment with assignments in the warehouse (`codex-ds simulate` plants one).")
        return
    ids = [r.experiment for r in results]
    chosen = st.selectbox("Experiment", ids, key="x_experiment")
    result = results[ids.index(chosen)]
    st.subheader(f"Decision: {result.decision}")
    DECISION_BOX.get(result.decision, st.info)(result.reason)
    cols = st.columns(3)
    cols[0].metric("Units", f"{sum(result.units.values()):,}")
    srm = result.srm_p_value
    cols[1].metric("SRM p-value", "–" if srm is None else f"{srm:.3g}")
    cols[2].metric("Method", result.method)
    frame = pd.DataFrame([asdict(m) for m in result.metrics])
    if not frame.empty:
        frame["significance"] = [
            m.status or ("significant" if m.significant else "not significant")
            for m in result.metrics
        ]
        ok = frame.dropna(subset=["relative_effect", "ci_low", "ci_high"])
        fig = go.Figure(
            go.Scatter(
                x=ok["relative_effect"],
                y=ok["label"] + " (" + ok["variant"] + ")",
                mode="markers",
                marker={"size": 10, "color": ["#d62728" if s in ("fail",) else "#1f77b4"
                                              for s in ok["significance"]]},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": ok["ci_high"] - ok["relative_effect"],
                    "arrayminus": ok["relative_effect"] - ok["ci_low"],
                },
            )
        )
        fig.add_vline(x=0, line_dash="dash", line_color="grey")
        fig.update_layout(
            title=f"Relative effect with {100 * (1 - result.alpha):.0f} % interval",
            xaxis_tickformat=".1%",
            height=120 + 40 * len(ok),
        )
        st.plotly_chart(fig, width="stretch")
    ui.table(frame, f"experiment_{chosen}")
    if result.more_units_per_arm:
        st.caption(f"Power: about {result.more_units_per_arm:,} more units per arm would reach "
                   "the planned power for the minimum detectable effect.")
    st.subheader("Staged rollout")
    replay = data.rollout_replay(chosen)
    st.write(f"**{replay.decision}** — {replay.reason}")
    gates = pd.DataFrame(
        [
            {
                "step": s.step,
                "exposure": s.exposure,
                "decision": s.decision,
                "reason": s.reason,
                "srm_p_value": s.srm_p_value,
            }
            | {f"{g.metric}_harm": g.harm for g in s.guardrails}
            | {f"{g.metric}_p_harm": g.p_harm for g in s.guardrails}
            for s in replay.steps
        ]
    )
    ui.table(gates, f"rollout_{chosen}",
             caption="Default ramp 1 → 5 → 25 → 50 → 100 % (`codex-ds rollout evaluate`).")
