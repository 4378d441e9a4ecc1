"""Cohorts: for whom does the recogniser do worse? Geodemographic partitions vs automatic (k-means) cohorts,
each bottom cohort stated beside its numbers; a second system can be measured on the same cohorts."""

from __future__ import annotations

import textwrap
from dataclasses import asdict

import altair as alt
import pandas as pd
import streamlit as st

from engine import config, persistence
from engine.charts import svg
from engine.errors import UserError
from engine.fairness import analyses, compare
from engine.fairness.cohorts import CohortParams
from engine.fairness.stats import gap_pct
from engine.persistence.fairness import cohort_members
from pages._fairness_shared import (
    comparison_totals,
    literal,
    paired_comparison,
    pick_systems,
    show_grid,
    show_table,
    speaker_totals,
    system_legend,
)

METHODS = {"geodemographic": "Geodemographic partition", "automatic": "Automatic (k-means on speaker embeddings)"}
COLOURS = {"A": "#4575b4", "B": "#f4a582"}


def stored_or_computed(set_name: str, set_id: int, method: str, params: CohortParams):
    analysis = persistence.latest_analysis(set_id, "cohorts", method, asdict(params))
    if analysis is not None:
        return analysis
    with st.status(f"Computing {method} cohorts (bootstrap over speakers, permutation test)…") as status:
        try:
            analysis = analyses.run_cohorts(set_name, method, params)
        except UserError as exc:
            status.update(label=f"The {method} cohorts could not be computed.", state="error")
            return str(exc)
        status.update(label=f"{method.capitalize()} cohorts computed and stored.", state="complete")
    return analysis


def members_of(analysis_id: int) -> dict[int, list[int]]:
    """Stored speaker ids of every cohort of an analysis (analyses never change once stored; their ids repeat
    across databases, so the database is in the cache key)."""
    return _members_of(config.database_url(), analysis_id)


@st.cache_data(max_entries=32, show_spinner=False)
def _members_of(url: str, analysis_id: int) -> dict[int, list[int]]:
    return cohort_members(analysis_id, url=url)


LABEL_CHARS = 28  # cohort names wrap at this width: the label column stays narrow in a half-width column


def bar_chart(rows: list[dict], side: pd.DataFrame | None) -> alt.LayerChart:
    """WER and its 95 % CI per cohort, horizontal so long cohort names read whole down the y axis; system B
    beside A when compared. Vega draws labels as text, so user names need no escaping."""
    given = pd.DataFrame(rows)
    frame = pd.DataFrame(
        {
            "cohort": given["is_bottom"].map({True: "▼ ", False: ""}) + given["label"],
            "speakers": given["n_speakers"],
            "words": given["ref_words"],
        }
    )
    systems = [frame.assign(system="A", wer=given["wer"], low=given["ci_low"], high=given["ci_high"])]
    if side is not None:
        b = side.iloc[: len(rows)].reset_index(drop=True)
        systems.append(frame.assign(system="B", wer=b["wer_b"], low=b["ci_low_b"], high=b["ci_high_b"]))
    data = pd.concat(systems, ignore_index=True)
    data[["wer", "low", "high"]] *= 100
    # the y field is the name in lines ("\n"), which the axis draws one under the other; Vega's default
    # labelLimit (180 px) would cut a line short, 0 lifts it
    wrapped = {c: "\n".join(textwrap.wrap(c, LABEL_CHARS)) or " " for c in frame["cohort"]}
    data["lines"] = data["cohort"].map(wrapped)
    n_lines = max(w.count("\n") + 1 for w in wrapped.values())
    y = alt.Y("lines:N", sort=None, title=None, axis=alt.Axis(labelExpr="split(datum.label, '\\n')", labelLimit=0))
    colour = alt.Color(
        "system:N",
        scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
        legend=alt.Legend(title="system", orient="bottom") if side is not None else None,
    )
    tooltip = [
        alt.Tooltip("cohort:N", title="Cohort"),
        alt.Tooltip("system:N", title="System"),
        alt.Tooltip("wer:Q", title="WER %", format=".1f"),
        alt.Tooltip("low:Q", title="95 % CI from", format=".1f"),
        alt.Tooltip("high:Q", title="95 % CI to", format=".1f"),
        alt.Tooltip("speakers:Q", title="Speakers"),
        alt.Tooltip("words:Q", title="Words", format=","),
    ]
    base = alt.Chart(data).encode(y=y, yOffset=alt.YOffset("system:N"), tooltip=tooltip)
    title = "WER % (95 % CI)"  # on both layers, or Vega-Lite joins the two titles
    bars = base.mark_bar().properties(name="cohort_bars").encode(x=alt.X("wer:Q", title=title), color=colour)
    errors = base.mark_errorbar(ticks=True, color="#333").encode(x=alt.X("low:Q", title=title), x2="high:Q")
    # a step per bar (the offset's), so a cohort's band holds every line of its name; a fixed height would
    # also have to hold the axis and legend, which Streamlit's fit-to-width sizing squeezes into it
    step = max(20, (14 * n_lines + 10) / len(systems))
    return svg(alt.layer(bars, errors).properties(height=alt.Step(step)))


def headline(s: dict, params: CohortParams, method: str) -> None:
    a, b = st.columns(2)
    c, d = st.columns(2)
    a.metric("Bottom-cohort WER", f"{100 * s['bottom_wer']:.1f} %")
    b.metric("Compared-with WER", f"{100 * s['rest_wer']:.1f} %")
    c.metric(
        "WER gap",
        f"{s['wer_gap_pct']:+.1f} %",
        help=f"95 % CI {s['gap_ci'][0]:+.1f} … {s['gap_ci'][1]:+.1f} %; permutation p = {s['p_value']:.3f}",
    )
    d.metric("Bottom-cohort share", f"{s['bottom_share_pct']:.1f} %")
    # the definition beside the number: who is in the bottom cohort, whom it is compared with, the rules
    st.markdown(
        f"**Bottom cohort:** {literal(s['bottom_definition'])} ({s['bottom_speakers']} speakers)  \n"
        f"**Compared with:** {literal(s['rest_definition'])} ({s['rest_speakers']} speakers)"
    )
    sizes = f"at least {params.min_speakers} speakers and {params.min_words} words"
    if method == "geodemographic":
        rule = (
            f"Each side of the partition holds {sizes} and at least {params.min_share_pct:g} % of the speakers "
            "partitioned; a category side names at most 3 values."
        )
    else:
        rule = f"The worst k-means cluster with {sizes}; compared with all other speakers."
    outside = "".join(
        f" {o['n_speakers']} speakers with {literal(o['label'])} are a group of their own, outside the comparison."
        for o in s.get("outside", [])
    )
    st.caption(
        f"{rule}{outside} Gap = 100 · (bottom − compared) / compared; 95 % CI "
        f"{s['gap_ci'][0]:+.1f} … {s['gap_ci'][1]:+.1f} % (bootstrap over speakers), permutation p = "
        f"{s['p_value']:.3f}; {s['n_speakers']} speakers, {s['n_words']:,} words."
    )


def comparison(analysis, totals: pd.DataFrame, info_b, totals_b: pd.DataFrame | None) -> pd.DataFrame | None:
    """System B on this analysis's cohorts (one row each) and, last, on what the bottom cohort is compared with."""
    if totals_b is None:
        return None
    members = members_of(analysis.id)
    rows, labels = analysis.rows, analysis.summary["reference_labels"]
    reference = [m for r in rows if r["label"] in labels for m in members.get(r["id"], [])]
    groups = compare.positions(totals["speaker_id"], [members.get(r["id"], []) for r in rows] + [reference])
    return paired_comparison(analysis.id, info_b, totals, totals_b, groups)


def overview(method: str, analysis, params: CohortParams, side: pd.DataFrame | None) -> bool:
    """Headline, the bottom cohort's definition, B on the same cohorts, the chart; False when there is none."""
    st.markdown(f"#### {METHODS[method]}")
    if isinstance(analysis, str):
        st.warning(literal(analysis))
        return False
    s = analysis.summary
    if s.get("bottom_wer") is None:
        st.warning(literal(s.get("note", "No cohort meets the minimum sizes.")))
        return False
    headline(s, params, method)
    rows = analysis.rows
    if side is not None:
        i = next(i for i, r in enumerate(rows) if r["is_bottom"])
        st.markdown(
            f"**System B on the same cohorts:** bottom-cohort WER {100 * side['wer_b'][i]:.1f} %, "
            f"compared-with WER {100 * side['wer_b'].iloc[-1]:.1f} %, gap "
            f"{float(gap_pct(side['wer_b'][i], side['wer_b'].iloc[-1])):+.1f} %."
        )
    st.altair_chart(bar_chart(rows, side), width="stretch", key=f"cohort-bars-{method}")
    return True


def ci(low: float, high: float, signed: bool = False) -> str:
    return f"{100 * low:+.1f} … {100 * high:+.1f}" if signed else f"{100 * low:.1f}–{100 * high:.1f}"


def details(method: str, analysis, side: pd.DataFrame | None, totals: pd.DataFrame) -> None:
    """The cohorts table (A and B side by side), partitions, intersections and membership, full width."""
    st.markdown(f"#### {METHODS[method]}: every cohort")
    s, rows = analysis.summary, analysis.rows
    outside = {o["label"] for o in s.get("outside", [])}
    table = {
        "Cohort": [("▼ " if r["is_bottom"] else "") + r["label"] for r in rows],
        "A: WER % (95 % CI)": [f"{100 * r['wer']:.1f} ({ci(r['ci_low'], r['ci_high'])})" for r in rows],
    }
    if side is not None:
        n = len(rows)
        table |= {
            "B: WER % (95 % CI)": [
                f"{100 * w:.1f} ({ci(lo, hi)})"
                for w, lo, hi in zip(side["wer_b"][:n], side["ci_low_b"][:n], side["ci_high_b"][:n])
            ],
            "B − A, points (95 % CI)": [
                f"{100 * d:+.1f} ({ci(lo, hi, signed=True)})"
                for d, lo, hi in zip(side["diff"][:n], side["diff_ci_low"][:n], side["diff_ci_high"][:n])
            ],
        }
    table |= {
        "Speakers": [r["n_speakers"] for r in rows],
        "Words": [r["ref_words"] for r in rows],
        "Share %": [f"{r['share_pct']:.1f}" for r in rows],
        "A: gap %": ["" if r["wer_gap_pct"] is None else f"{r['wer_gap_pct']:+.1f}" for r in rows],
        "Note": [
            "outside the comparison" if r["label"] in outside else ("⚠ small" if r["small"] else "") for r in rows
        ],
    }
    show_table(pd.DataFrame(table))
    small = [r["label"] for r in rows if r["small"]]
    if small:
        st.warning(f"Small cohorts (below the minimum size; shown, not dropped): {literal(', '.join(small))}.")
    if s.get("partitions"):
        with st.expander("Best partition of every attribute"):
            show_table(pd.DataFrame(s["partitions"]).round(3))
    if s.get("intersections"):
        with st.expander(f"Intersections: {literal(' × '.join(s['intersection_attributes']))}"):
            cross = pd.DataFrame(s["intersections"])
            cross["wer"] = (100 * cross["wer"]).round(1)
            cross["small"] = cross["small"].map({True: "⚠ small", False: ""})
            show_table(cross.rename(columns={"wer": "WER %"}))
    with st.expander("Membership and definitions"):
        members = members_of(analysis.id)
        choice = st.selectbox(
            "Cohort", range(len(rows)), format_func=lambda i: rows[i]["label"], key=f"members-{method}"
        )
        st.text(rows[choice]["definition"])
        people = totals[totals["speaker_id"].isin(set(members.get(rows[choice]["id"], [])))]
        show_grid(
            pd.DataFrame(
                {
                    "Speaker": people["speaker_key"],
                    "Place": people["place"],
                    "WER %": (100 * people["errors"] / people["words"]).round(1),
                    "Words": people["words"],
                    **(
                        {}
                        if people.empty
                        else {
                            "Attributes": [
                                ", ".join(f"{k}={v}" for k, v in a.items() if not k.startswith("geo_"))
                                for a in people["attributes"]
                            ]
                        }
                    ),
                }
            )
        )
        st.json(analysis.definitions)


st.title("Cohorts")
with st.sidebar:
    st.subheader("Cohort settings")
    info, info_b = pick_systems("cohorts")
    k = st.number_input("k-means clusters (automatic)", 2, 50, 6, key="cohorts-k")
    min_speakers = st.number_input("Min speakers per cohort", 1, 10_000, 10, key="cohorts-min-speakers")
    min_words = st.number_input("Min words per cohort", 0, 10_000_000, 200, step=100, key="cohorts-min-words")
    min_share = st.number_input(
        "Min share of each partition side, %",
        0.0,
        50.0,
        10.0,
        step=5.0,
        key="cohorts-min-share",
        help="Geodemographic partitions: so a handful of speakers is never compared with everyone else.",
    )
    gap_reference = st.radio(
        "Gap against",
        ["rest", "top"],
        horizontal=True,
        key="cohorts-gap",
        help="rest: the other cohorts compared; top: the best cohort",
    )
if info.attribution:
    st.caption(f"Data: {literal(info.attribution)}")
system_legend(info, info_b)
params = CohortParams(
    min_speakers=int(min_speakers),
    min_words=int(min_words),
    k=int(k),
    gap_reference=gap_reference,
    min_share_pct=float(min_share),
)
totals = speaker_totals(info.id, info.created_at)
totals_b = comparison_totals(info, info_b)
found = {method: stored_or_computed(info.name, info.id, method, params) for method in METHODS}
sides = {
    method: comparison(a, totals, info_b, totals_b)
    if not isinstance(a, str) and a.summary.get("bottom_wer") is not None
    else None
    for method, a in found.items()
}
shown = []
for column, method in zip(st.columns(2, gap="large"), METHODS):
    with column:
        if overview(method, found[method], params, sides[method]):
            shown.append(method)
for method in shown:
    details(method, found[method], sides[method], totals)
