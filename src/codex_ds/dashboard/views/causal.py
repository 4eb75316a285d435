"""Causal: the effect of chat adoption on weekly merged PRs by every method, covariate
balance (love plot) and the overlap of the propensity score."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from codex_ds.causal.balance import SMD_TARGET
from codex_ds.dashboard import data, ui


def render(filters: data.Filters) -> None:
    st.title("Causal")
    ui.filters_caption(filters, "date range and segment apply (one row per user)")
    result = data.causal(filters)
    if "error" in result:
        err = result["error"]
        st.info(f"No estimate: {err.get('error')}: {err.get('message')}")
        return
    st.write(
        f"Effect of **{result['treatment']}** on **{result['outcome']}**, {result['n']:,} users "
        f"adjusting for {', '.join(result['covariates'])} (`codex-ds causal estimate`)."
    )
    est = result["estimates"]
    ok = est.dropna(subset=["ci_low", "ci_high"])
    fig = go.Figure()
    for estimand, group in ok.groupby("estimand"):
        fig.add_trace(
            go.Scatter(
                x=group["estimate"],
                y=group["method"],
                name=str(estimand),
                mode="markers",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": group["ci_high"] - group["estimate"],
                    "arrayminus": group["estimate"] - group["ci_low"],
                },
            )
        )
    fig.add_vline(x=0, line_dash="dash", line_color="grey")
    fig.update_layout(title="Estimates by method (95 % interval)")
    st.plotly_chart(fig, width="stretch")
    ui.table(est, "causal_estimates")
    bal = result["balance"]
    if not bal.empty:
        love = go.Figure()
        first = bal[bal["adjustment"] == bal["adjustment"].iloc[0]]
        love.add_trace(go.Scatter(x=first["smd_before"].abs(), y=first["covariate"],
                                  mode="markers", name="before"))
        for adjustment, group in bal.groupby("adjustment"):
            love.add_trace(go.Scatter(x=group["smd_after"].abs(), y=group["covariate"],
                                      mode="markers", name=str(adjustment)))
        love.add_vline(x=SMD_TARGET, line_dash="dash", line_color="grey")
        love.update_layout(title="Love plot: |standardised mean difference|")
        st.plotly_chart(love, width="stretch")
        ui.table(bal, "causal_balance")
    ov = result["overlap"]
    over = go.Figure()
    centres = (ov["score_low"] + ov["score_high"]) / 2
    over.add_trace(go.Bar(x=centres, y=ov["treated"], name="treated", opacity=0.6))
    over.add_trace(go.Bar(x=centres, y=ov["control"], name="control", opacity=0.6))
    over.update_layout(barmode="overlay", title="Overlap of the propensity score",
                       xaxis_title="propensity score", yaxis_title="users")
    st.plotly_chart(over, width="stretch")
    for w in result["overlap_warnings"] + result["warnings"]:
        st.warning(w)
