"""Experiments: each A/B test's results with significance, a forest plot of the relative
effects, the decision and its reason, power against the minimum detectable effect, the
sequential monitoring chart, and the staged-rollout gates. The sidebar's date range,
language, editor and segment restrict the analysed population (a post-hoc subgroup
analysis, said so on the page); without them it is the pre-registered analysis."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from codex_ds.dashboard import data, monitoring, ui

DECISION_BOX = {"ship": st.success, "hold": st.warning, "rollback": st.error, "invalid": st.error}


def render(filters: data.Filters) -> None:
    st.title("Experiments")
    population = data.experiment_population(filters)
    ids = data.experiment_ids()
    if not ids:
        st.info("No experiment with assignments in the warehouse (`codex-ds simulate` plants one).")
        return
    chosen = st.selectbox("Experiment", ids, key="x_experiment")
    population_caption(filters, population)
    result = data.experiment_analysis(chosen, filters)
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
    power_section(chosen, filters)
    monitoring_section(chosen, filters)
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
             caption="Default ramp 1 → 5 → 25 → 50 → 100 % (`codex-ds rollout evaluate`), "
             "replayed on the whole randomised population: the sidebar filters do not apply "
             "to the rollout gates.")


def population_caption(filters: data.Filters, population: dict[str, object]) -> None:
    """Say which population is analysed: the pre-registered one, or a post-hoc subgroup."""
    if population:
        parts = ", ".join(f"{k}={v}" for k, v in population.items())
        st.warning(
            f"Subgroup analysis ({parts}): post-hoc, not the pre-registered analysis. Users "
            "are selected by their primary language, main editor and segment; the date range "
            "keeps the units assigned by its end and the events of its days. Treat a "
            "difference from the whole population as a hypothesis, not a result."
        )
    else:
        st.caption(
            "The whole randomised population: the pre-registered analysis, as `codex-ds "
            "experiment analyze`. A date range, language, editor or segment in the sidebar "
            "makes it a post-hoc subgroup analysis."
        )
    if filters.model_version:
        st.caption(
            f"The model version filter ({filters.model_version}) does not apply here: the "
            "model version is what a model experiment randomises, so filtering by it would "
            "compare different populations."
        )


def power_section(chosen: str, filters: data.Filters) -> None:
    st.subheader("Power")
    curve = data.experiment_power(chosen, filters)
    if curve.error:
        st.info(f"Power could not be computed: {curve.message}")
        return
    frame = pd.DataFrame(list(curve.rows))
    fig = go.Figure(go.Scatter(x=frame["relative_mde"], y=frame["power"], mode="lines",
                               name="power"))
    fig.add_hline(y=curve.planned_power, line_dash="dot", line_color="grey",
                  annotation_text=f"planned power {curve.planned_power:.0%}")
    fig.add_vline(x=curve.mde_at_planned_power, line_dash="dash", line_color="#2ca02c",
                  annotation_text=f"MDE now {curve.mde_at_planned_power:.2%}")
    fig.add_trace(go.Scatter(
        x=[curve.planned_mde], y=[curve.power_at_planned_mde], mode="markers",
        marker={"size": 12, "color": "#d62728"}, name="planned MDE",
    ))
    fig.update_layout(
        title=f"Power of the primary goal ({curve.metric}) at the current units: "
        f"{curve.n_control:,} control, allocation {curve.allocation_ratio:.2f}",
        xaxis_title="relative minimum detectable effect", yaxis_title="power",
        xaxis_tickformat=".1%", yaxis_range=[0, 1.02], height=380,
    )
    st.plotly_chart(fig, width="stretch", key="x_power_chart")
    st.caption(
        f"Planned MDE {curve.planned_mde:.1%}: power {curve.power_at_planned_mde:.1%}. "
        f"At {curve.planned_power:.0%} power the smallest detectable effect is "
        f"{curve.mde_at_planned_power:.2%} (two-sided z-test at the analysis's alpha; σ of the "
        f"control arm, CUPED correlation {curve.covariate_correlation:.2f})."
    )
    ui.table(frame, f"power_{chosen}")


def monitoring_section(chosen: str, filters: data.Filters) -> None:
    st.subheader("Sequential monitoring")
    metric = st.radio("Monitored metric", monitoring.MONITORED_METRICS, horizontal=True,
                      key="x_monitor_metric")
    seq = data.sequential_monitoring(chosen, str(metric), filters)
    if seq.error:
        st.info(f"No sequential monitoring: {seq.message}")
        return
    frame = pd.DataFrame(list(seq.rows))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=frame["day"], y=frame["z"], mode="lines+markers",
                             name=f"cumulative z ({seq.variant} vs control)"))
    for sign, name in ((1, "efficacy boundary"), (-1, "efficacy boundary (harm)")):
        fig.add_trace(go.Scatter(
            x=frame["day"], y=sign * frame["efficacy_boundary"], mode="lines",
            line={"dash": "dash", "color": "#d62728"}, name=name,
        ))
    fig.update_layout(
        title="Cumulative z-statistic by day with the O'Brien–Fleming (Lan–DeMets) boundary",
        xaxis_title="day (events up to its end)", yaxis_title="z", height=380,
    )
    st.plotly_chart(fig, width="stretch", key="x_monitoring_chart")
    if seq.reject and seq.stopped_at_look:
        day = frame["day"].iloc[seq.stopped_at_look - 1]
        verdict = f"crossed the boundary at look {seq.stopped_at_look} ({day})"
    else:
        verdict = "has not crossed the boundary"
    st.caption(
        f"{metric}: the group-sequential test {verdict}. Looks are the days with a shown "
        "suggestion; information = shown suggestions so far ÷ at the last look (the last "
        "look is the final analysis). cs_low/cs_high: the always-valid confidence sequence "
        "(mSPRT) of the relative effect."
    )
    ui.table(frame, f"monitoring_{chosen}")
