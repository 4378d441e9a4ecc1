"""Cohorts: for whom does the recogniser do worse? Geodemographic partitions vs automatic (k-means) cohorts."""
from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine import persistence
from engine.errors import UserError
from engine.fairness import analyses
from engine.fairness.cohorts import CohortParams
from pages._fairness_shared import pick_evaluation_set, speaker_totals

METHODS = {"geodemographic": "Geodemographic partition", "automatic": "Automatic (k-means on speaker embeddings)"}


def stored_or_computed(set_name: str, set_id: int, method: str, params: CohortParams):
    analysis = persistence.latest_analysis(set_id, "cohorts", method, asdict(params))
    if analysis is not None:
        return analysis
    with st.status(f"Computing {method} cohorts (bootstrap over speakers, permutation test)…") as status:
        try:
            analysis = analyses.run_cohorts(set_name, method, params)
        except UserError as exc:
            status.update(label=str(exc), state="error")
            return str(exc)
        status.update(label=f"{method.capitalize()} cohorts computed and stored.", state="complete")
    return analysis


def bar_chart(rows: list[dict]) -> go.Figure:
    # long partition definitions would squeeze the plot; the full text is in the hover and the table
    labels = [r["label"] if len(r["label"]) <= 28 else r["label"][:26] + "…" for r in rows]
    wer = [100 * r["wer"] for r in rows]
    fig = go.Figure(go.Bar(
        x=labels, y=wer, customdata=[r["label"] for r in rows], marker_color=["#d73027" if r["is_bottom"] else ("#bbbbbb" if r["small"] else "#4575b4")
                                       for r in rows],
        error_y={"type": "data", "symmetric": False, "array": [100 * r["ci_high"] - w for r, w in zip(rows, wer)],
                 "arrayminus": [w - 100 * r["ci_low"] for r, w in zip(rows, wer)]},
        hovertemplate="%{customdata}<br>WER %{y:.1f} %<extra></extra>"))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="WER % (95 % CI)",
                      xaxis={"tickangle": -20})
    return fig


def show(method: str, analysis) -> None:
    st.markdown(f"#### {METHODS[method]}")
    if isinstance(analysis, str):
        st.warning(analysis)
        return
    s = analysis.summary
    if s.get("bottom_wer") is None:
        st.warning(s.get("note", "No cohort meets the minimum sizes."))
        return
    a, b = st.columns(2)
    c, d = st.columns(2)
    a.metric("Bottom-cohort WER", f"{100 * s['bottom_wer']:.1f} %")
    b.metric("Rest WER", f"{100 * s['rest_wer']:.1f} %")
    c.metric("WER gap", f"{s['wer_gap_pct']:+.1f} %",
             help=f"95 % CI {s['gap_ci'][0]:+.1f} … {s['gap_ci'][1]:+.1f} %; permutation p = {s['p_value']:.3f}")
    d.metric("Bottom-cohort share", f"{s['bottom_share_pct']:.1f} %")
    st.caption(f"Gap CI {s['gap_ci'][0]:+.1f} … {s['gap_ci'][1]:+.1f} %, permutation p = {s['p_value']:.3f}, "
               f"{s['n_speakers']} speakers, {s['n_words']:,} words.")
    rows = analysis.rows
    st.plotly_chart(bar_chart(rows), width="stretch", key=f"cohort-bars-{method}")
    st.dataframe(pd.DataFrame({
        "Cohort": [("▼ " if r["is_bottom"] else "") + r["label"] for r in rows],
        "WER %": [round(100 * r["wer"], 2) for r in rows],
        "95 % CI": [f"{100 * r['ci_low']:.1f}–{100 * r['ci_high']:.1f}" for r in rows],
        "Speakers": [r["n_speakers"] for r in rows], "Words": [r["ref_words"] for r in rows],
        "Share %": [round(r["share_pct"], 1) for r in rows],
        "Gap %": [None if r["wer_gap_pct"] is None else round(r["wer_gap_pct"], 1) for r in rows],
        "Small": ["⚠ small" if r["small"] else "" for r in rows],
    }), hide_index=True, width="stretch")
    small = [r["label"] for r in rows if r["small"]]
    if small:
        st.warning(f"Small cohorts (below the minimum size; shown, not dropped): {', '.join(small)}.")
    if s.get("partitions"):
        with st.expander("Best partition of every attribute"):
            st.dataframe(pd.DataFrame(s["partitions"]), hide_index=True, width="stretch")
    if s.get("intersections"):
        with st.expander(f"Intersections: {' × '.join(s['intersection_attributes'])}"):
            cross = pd.DataFrame(s["intersections"])
            cross["wer"] = (100 * cross["wer"]).round(1)
            cross["small"] = cross["small"].map({True: "⚠ small", False: ""})
            st.dataframe(cross.rename(columns={"wer": "WER %"}), hide_index=True, width="stretch")
    with st.expander("Membership"):
        choice = st.selectbox("Cohort", range(len(rows)), format_func=lambda i: rows[i]["label"],
                              key=f"members-{method}")
        members = set(persistence.cohort_member_ids(rows[choice]["id"]))
        people = totals[totals["speaker_id"].isin(members)]
        st.dataframe(pd.DataFrame({
            "Speaker": people["speaker_key"], "Place": people["place"],
            "WER %": (100 * people["errors"] / people["words"]).round(1), "Words": people["words"],
            **({} if people.empty else {"Attributes": [", ".join(f"{k}={v}" for k, v in a.items() if not k.startswith("geo_"))
                                                       for a in people["attributes"]]}),
        }), hide_index=True, width="stretch")
    with st.expander("Definitions"):
        st.json(analysis.definitions)


st.title("Cohorts")
with st.sidebar:
    st.subheader("Cohort settings")
    info = pick_evaluation_set("cohorts-set")
    set_name = info.name
    k = st.number_input("k-means clusters (automatic)", 2, 50, 6, key="cohorts-k")
    min_speakers = st.number_input("Min speakers per cohort", 1, 10_000, 10, key="cohorts-min-speakers")
    min_words = st.number_input("Min words per cohort", 0, 10_000_000, 200, step=100, key="cohorts-min-words")
    gap_reference = st.radio("Gap against", ["rest", "top"], horizontal=True, key="cohorts-gap",
                             help="rest: everyone outside the cohort; top: the best cohort")
if info.attribution:
    st.caption(f"Data: {info.attribution}")
params = CohortParams(min_speakers=int(min_speakers), min_words=int(min_words), k=int(k),
                      gap_reference=gap_reference)
totals = speaker_totals(info.id, info.created_at)
left, right = st.columns(2, gap="large")
for column, method in zip((left, right), METHODS):
    with column:
        show(method, stored_or_computed(set_name, info.id, method, params))
