"""Regional WER: where does the recogniser do worse? Regions from the clustering tree over (lon, lat),
named by the places they hold; a second system can be measured on the same regions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st

from engine import persistence
from engine.errors import UserError
from engine.fairness import analyses, compare, mapdata, places
from engine.fairness.alignment import align_words
from engine.fairness.regions import RegionParams
from pages._fairness_shared import (
    CompactDeck,
    basemap_layer,
    comparison_totals,
    literal,
    outline_layer,
    paired_comparison,
    pick_systems,
    show_table,
    speaker_areas,
    speaker_totals,
    system_legend,
)

REGION_LINE = [60, 60, 60, 200]
OP_STYLE = {
    "sub": "background:#f8d7a8",
    "del": "background:#f5b5b5;text-decoration:line-through",
    "ins": "background:#b9e4c0",
}


def alignment_html(reference: str, hypothesis: str) -> str:
    cells = []
    for ref, hyp, op in align_words(reference, hypothesis):
        style = OP_STYLE.get(op, "")
        shown = ref if op != "ins" else f"+{hyp}"
        if op == "sub":
            shown = f"{ref}→{hyp}"
        cells.append(f"<span style='{style};padding:0 2px'>{literal(shown)}</span>")
    return " ".join(cells)


def ci_text(low: float, high: float) -> str:
    return f"{100 * low:.1f}–{100 * high:.1f}"


st.title("Regional WER")
with st.sidebar:
    st.subheader("Filters")
    info, info_b = pick_systems("regions")
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
            analysis = analyses.run_regions(info.name, params, where)
        except UserError as exc:
            status.update(label="The regions could not be computed.", state="error")
            st.error(literal(exc))
            st.stop()
        status.update(label=f"{analysis.summary['n_regions']} regions computed and stored.", state="complete")

if info.attribution:
    st.caption(f"Data: {literal(info.attribution)}")
system_legend(info, info_b)
summary = analysis.summary
rows = analysis.rows
totals_b = comparison_totals(info, info_b)
groups = compare.positions(totals["speaker_id"], [r["speaker_ids"] for r in rows])
names = places.group_names(
    groups, speaker_areas(info.id, info.created_at), totals["lat"].to_numpy(), totals["lon"].to_numpy()
)
side = None
if totals_b is not None:
    side = paired_comparison(analysis.id, info_b, totals, totals_b, groups)
    located = np.concatenate(groups) if groups else np.array([], int)
    overall_b = totals_b["errors"].to_numpy()[located].sum() / max(totals_b["words"].to_numpy()[located].sum(), 1)
st.caption(
    f"{summary['n_speakers']} located speakers, {summary['n_words']:,} words; overall WER of A "
    f"{100 * summary['overall_wer']:.1f} %"
    + (f", of B {100 * overall_b:.1f} % on the same speakers" if side is not None else "")
    + f". {summary['n_regions']} regions (min {summary['min_speakers_used']} speakers and {params.min_words} "
    f"words each), found on A's errors; {summary.get('n_unlocated_speakers', 0)} speakers without a "
    "location are left out."
)

views = {"A": "WER of A"} if side is None else {"A": "WER of A", "B": "WER of B", "diff": "Difference B − A"}
view = (
    st.radio("Map shows", list(views), format_func=views.get, horizontal=True, key="regions-map-view")
    if side is not None
    else "A"
)
shown = None if view == "A" else (side["wer_b"] if view == "B" else side["diff"]).to_numpy()
regions = mapdata.region_table(rows, names, shown, views[view], diverging=view == "diff")
located_totals = (
    totals if not where else totals[[str(a.get(attribute)) == where[attribute] for a in totals["attributes"]]]
)
speaker_values = None
if view != "A":
    with np.errstate(invalid="ignore", divide="ignore"):
        wer_a = totals["errors"] / totals["words"]
        wer_b = totals_b["errors"].to_numpy() / totals_b["words"].to_numpy()
    speaker_values = pd.Series(wer_b if view == "B" else wer_b - wer_a.to_numpy(), index=totals.index)
    speaker_values = speaker_values.loc[located_totals.index].to_numpy()
low, high = (float(np.nanmin(regions["shown"])), float(np.nanmax(regions["shown"])))
points = mapdata.speaker_points(located_totals, low, high, speaker_values, diverging=view == "diff")
deck = CompactDeck(
    layers=[
        basemap_layer(),
        pdk.Layer(
            "PolygonLayer",
            regions[["rank", "polygon", "colour", "tooltip"]],
            id="regions",
            get_polygon="polygon",
            get_fill_color="colour",
            stroked=False,
            pickable=True,
            auto_highlight=True,
        ),
        outline_layer(mapdata.outline_table(regions["polygon"].tolist()), "region-outlines", 1, REGION_LINE),
        pdk.Layer(
            "ScatterplotLayer",
            points[["lon", "lat", "colour", "tooltip"]],
            id="speakers",
            get_position=["lon", "lat"],
            get_fill_color="colour",
            radius_min_pixels=2.5,
            radius_max_pixels=6,
            get_radius=3000,
            pickable=True,
        ),
    ],
    initial_view_state=pdk.ViewState(**mapdata.view_of([r["bounds"] for r in rows])),
    map_style=None,
    tooltip={"html": "{tooltip}"},
)
event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="regions-map", height=520)
clicked = (getattr(event, "selection", None) or {}).get("objects", {}).get("regions") or []
if view == "diff":
    st.caption("Blue: B has the lower WER there; red: B has the higher WER; grey: no difference.")

st.subheader("Regions ranked by WER")
table = {
    "Rank": regions["rank"],
    "Region": regions["name"],
    "A: WER % (95 % CI)": [f"{100 * r['wer']:.1f} ({ci_text(r['ci_low'], r['ci_high'])})" for r in rows],
}
if side is not None:
    table |= {
        "B: WER % (95 % CI)": [
            f"{100 * w:.1f} ({ci_text(lo, hi)})"
            for w, lo, hi in zip(side["wer_b"], side["ci_low_b"], side["ci_high_b"])
        ],
        "B − A, points (95 % CI)": [
            f"{100 * d:+.1f} ({100 * lo:+.1f} … {100 * hi:+.1f})"
            for d, lo, hi in zip(side["diff"], side["diff_ci_low"], side["diff_ci_high"])
        ],
    }
table |= {
    "Speakers": regions["n_speakers"],
    "Words": regions["n_words"],
    "Flagged": ["⚑ mitigate" if f else "" for f in regions["flagged"]],
}
show_table(pd.DataFrame(table))
st.caption(
    "CIs: 95 % bootstrap over speakers; B − A is paired (both systems measured on the same resampled "
    "speakers). ⚑ flagged: A's CI lies entirely above A's overall WER."
)
with st.expander("Where the regions lie, and how these numbers are defined"):
    rules = summary.get("rules", {})
    show_table(
        pd.DataFrame(
            {
                "Rank": regions["rank"],
                "Region": regions["name"],
                "Bounds (lon, lat)": [places.bounds_text(r["bounds"]) for r in rows],
                "Tree cell": [" and ".join(rules.get(str(r["rank"]), [])) or "everywhere" for r in rows],
            }
        )
    )
    st.json(analysis.definitions)

st.subheader("Worst utterances of a region")
ranks = regions["rank"].tolist()
default_rank = clicked[0]["rank"] if clicked else ranks[0]
name_of = dict(zip(regions["rank"], regions["name"]))
rank = st.selectbox(
    "Region (or click one on the map)",
    ranks,
    index=ranks.index(default_rank),
    format_func=lambda r: f"{r}. {name_of[r]}",
    key="regions-rank",
)
chosen = next(r for r in rows if r["rank"] == rank)
worst = persistence.worst_utterances(info.id, chosen["speaker_ids"], limit=10)
legend = " ".join(f"<span style='{style};padding:0 4px'>{op}</span>" for op, style in OP_STYLE.items())
st.markdown(f"Alignment (system A): {legend}", unsafe_allow_html=True)
for row in worst.itertuples():
    errors = row.substitutions + row.deletions + row.insertions
    with st.container(border=True):
        st.markdown(
            f"**{literal(row.utterance)}** · speaker {literal(row.speaker)} · {errors} errors / "
            f"{row.ref_words} words (S {row.substitutions}, D {row.deletions}, I {row.insertions})"
        )
        st.markdown(alignment_html(row.reference, row.hypothesis), unsafe_allow_html=True)
