"""Regional WER: where does the recogniser do worse? Regions from the clustering tree over (lon, lat)."""
from __future__ import annotations

import html

import pandas as pd
import pydeck as pdk
import streamlit as st

from engine import persistence
from engine.errors import UserError
from engine.fairness import analyses, mapdata
from engine.fairness.alignment import align_words
from engine.fairness.regions import RegionParams
from pages._fairness_shared import CompactDeck, pick_evaluation_set, speaker_totals

OP_STYLE = {"sub": "background:#f8d7a8", "del": "background:#f5b5b5;text-decoration:line-through",
            "ins": "background:#b9e4c0"}


def alignment_html(reference: str, hypothesis: str) -> str:
    cells = []
    for ref, hyp, op in align_words(reference, hypothesis):
        style = OP_STYLE.get(op, "")
        shown = ref if op != "ins" else f"+{hyp}"
        if op == "sub":
            shown = f"{ref}→{hyp}"
        cells.append(f"<span style='{style};padding:0 2px'>{html.escape(shown)}</span>")
    return " ".join(cells)


st.title("Regional WER")
with st.sidebar:
    st.subheader("Filters")
    info = pick_evaluation_set("regions-set")
    set_name = info.name
    min_speakers = st.number_input("Min speakers per region (0 = auto)", 0, 10_000, 0, key="regions-min-speakers")
    min_words = st.number_input("Min words per region", 0, 10_000_000, 200, step=100, key="regions-min-words")
    max_regions = st.number_input("Max regions", 1, 64, 12, key="regions-max")
    totals = speaker_totals(info.id, info.created_at)
    attributes = sorted({k for a in totals["attributes"] for k in a})
    attribute = st.selectbox("Attribute", ["(all speakers)", *attributes], key="regions-attribute")
    where = None
    if attribute != "(all speakers)":
        values = sorted({str(a[attribute]) for a in totals["attributes"] if attribute in a})
        where = {attribute: st.selectbox("Value", values, key="regions-value")}

params = RegionParams(min_speakers=min_speakers or None, min_words=int(min_words), max_regions=int(max_regions))
analysis = persistence.latest_analysis(info.id, "regions", params=analyses.region_params(params, where))
if analysis is None:
    with st.status("Computing regions (clustering tree, bootstrap CIs over speakers)…", expanded=False) as status:
        try:
            analysis = analyses.run_regions(set_name, params, where)
        except UserError as exc:
            status.update(label=str(exc), state="error")
            st.error(str(exc))
            st.stop()
        status.update(label=f"{analysis.summary['n_regions']} regions computed and stored.", state="complete")

if info.attribution:
    st.caption(f"Data: {info.attribution}")
summary = analysis.summary
st.caption(f"{summary['n_speakers']} located speakers, {summary['n_words']:,} words, overall WER "
           f"{100 * summary['overall_wer']:.1f} %; {summary['n_regions']} regions (min {summary['min_speakers_used']} "
           f"speakers and {params.min_words} words each); "
           f"{summary.get('n_unlocated_speakers', 0)} speakers without a location are left out.")

regions = mapdata.region_table(analysis.rows, summary.get("rules", {}))
points = speaker_totals(info.id, info.created_at)
if where:
    points = points[[str(a.get(attribute)) == where[attribute] for a in points["attributes"]]]
points = mapdata.speaker_points(points, float(regions["wer"].min()), float(regions["wer"].max()))
deck = CompactDeck(
    layers=[
        pdk.Layer("GeoJsonLayer", mapdata.boundaries(), id="boundaries", stroked=True, filled=True,
                  get_fill_color=[235, 235, 228, 255], get_line_color=[150, 150, 150, 255],
                  line_width_min_pixels=0.6),
        pdk.Layer("PolygonLayer", regions, id="regions", get_polygon="polygon", get_fill_color="colour",
                  get_line_color=[60, 60, 60, 200], line_width_min_pixels=1, pickable=True, auto_highlight=True),
        pdk.Layer("ScatterplotLayer", points[["lon", "lat", "colour", "tooltip"]], id="speakers", get_position=["lon", "lat"], get_fill_color="colour",
                  radius_min_pixels=2.5, radius_max_pixels=6, get_radius=3000, pickable=True),
    ],
    initial_view_state=pdk.ViewState(**mapdata.view_of([r["bounds"] for r in analysis.rows])),
    map_style=None, tooltip={"html": "{tooltip}"},
)
event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="regions-map", height=520)
clicked = (getattr(event, "selection", None) or {}).get("objects", {}).get("regions") or []

st.subheader("Regions ranked by WER")
st.dataframe(pd.DataFrame({
    "Rank": regions["rank"], "WER %": (100 * regions["wer"]).round(2),
    "95 % CI": [f"{100 * lo:.1f}–{100 * hi:.1f}" for lo, hi in zip(regions["ci_low"], regions["ci_high"])],
    "Speakers": regions["n_speakers"], "Words": regions["n_words"],
    "Flagged": ["⚑ mitigate" if f else "" for f in regions["flagged"]], "Cell": regions["rule"],
}), hide_index=True, width="stretch")
with st.expander("How these numbers are defined"):
    st.json(analysis.definitions)

st.subheader("Worst utterances of a region")
ranks = regions["rank"].tolist()
default_rank = clicked[0]["rank"] if clicked else ranks[0]
rank = st.selectbox("Region (or click one on the map)", ranks, index=ranks.index(default_rank),
                    format_func=lambda r: f"Region {r}", key="regions-rank")
chosen = next(r for r in analysis.rows if r["rank"] == rank)
worst = persistence.worst_utterances(info.id, chosen["speaker_ids"], limit=10)
legend = " ".join(f"<span style='{style};padding:0 4px'>{op}</span>" for op, style in OP_STYLE.items())
st.markdown(f"Alignment: {legend}", unsafe_allow_html=True)
for row in worst.itertuples():
    errors = row.substitutions + row.deletions + row.insertions
    with st.container(border=True):
        st.markdown(f"**{html.escape(row.utterance)}** · speaker {html.escape(row.speaker)} · {errors} errors / "
                    f"{row.ref_words} words (S {row.substitutions}, D {row.deletions}, I {row.insertions})")
        st.markdown(alignment_html(row.reference, row.hypothesis), unsafe_allow_html=True)
