"""Mitigation: can a disparity be narrowed without hurting everyone else? EWC fine-tuning of Whisper tiny.en for the
worst regions or the bottom cohort (before/after maps, the λ trade-off, the seeds' spread) and adversarial
reweighting of speaker verification."""

from __future__ import annotations

import streamlit as st

from engine import persistence
from pages._fairness_shared import literal
from pages._mitigation_shared import (
    MAP_VIEWS,
    arm_label,
    arms_summary,
    arw_figure,
    arw_gaps,
    arw_seeds_table,
    changes_table,
    evaluation_set_label,
    ewc_command,
    experiment,
    experiments_table,
    region_comparison,
    region_deck,
    seeds_figure,
    shared_scale,
    tradeoff_figure,
)

EWC_COMMAND = (
    "nice -n 10 .venv/bin/python scripts/mitigation_whisper_set.py --limit 287  # the evaluation set\n"
    "python -m engine mitigate ewc --regions flagged --lambda 0 1000 10000 --seeds 0 1 2"
)
ARW_COMMAND = "python -m engine mitigate arw --arms baseline arw arw_cluster"


def pick(experiments: list[persistence.ExperimentInfo], key: str) -> persistence.ExperimentInfo:
    index = 0
    if len(experiments) > 1:
        index = st.selectbox(
            "Experiment",
            range(len(experiments)),
            key=key,
            format_func=lambda i: f"#{experiments[i].id} · {experiments[i].name}",
        )
    return experiment(experiments[index])


def show_ewc(chosen: persistence.ExperimentInfo) -> None:
    results = chosen.results
    arms = results["arms"]
    before = next(a for a in arms if a["arm"] == "none")
    tuned = [a for a in arms if a["arm"] != "none" and a["targeted_wer"] is not None]
    best = min(range(len(tuned)), key=lambda i: tuned[i]["targeted_wer"]) if tuned else 0  # the most mitigating arm
    choice = (
        st.selectbox("After", range(len(tuned)), index=best, format_func=lambda i: arm_label(tuned[i]), key="ewc-after")
        if tuned
        else None
    )
    after = before if choice is None else tuned[choice]
    low, high = shared_scale([before, after])
    cohort = literal((results.get("cohort") or {}).get("label", ""))
    target = (
        "regions " + ", ".join(map(str, results["targeted_ranks"])) + " targeted (outlined)"
        if results.get("target", "regions") == "regions"
        else f"fine-tuned on the bottom automatic cohort ({cohort})"
    )
    view = st.radio("Map", MAP_VIEWS, horizontal=True, key="ewc-map-view")
    shown = {"Before": arm_label(before), "After": arm_label(after), "Change": f"after − before, {arm_label(after)}"}
    scale = (
        "blue: lower WER after fine-tuning, red: higher"
        if view == "Change"
        else f"before and after share one colour scale, green {100 * low:.1f} % → red {100 * high:.1f} % WER"
    )
    st.caption(
        f"{view}: {shown[view]}. Held-out speakers of every region of '{literal(evaluation_set_label(chosen))}'; "
        f"{target}; {scale}."
    )
    st.pydeck_chart(region_deck(before, after, view, low, high), key="ewc-map", height=460)
    st.markdown("#### Per region (held-out speakers; 95 % CIs by bootstrap over speakers)")
    st.dataframe(region_comparison(before, after), hide_index=True, width="stretch")
    st.markdown("#### Trade-off across λ")
    st.altair_chart(tradeoff_figure(arms), width="stretch", key="ewc-tradeoff")
    st.dataframe(arms_summary(arms), hide_index=True, width="stretch")
    if any(a.get("changes") for a in arms):
        st.markdown("#### The seeds' spread: paired changes against no fine-tuning")
        st.altair_chart(seeds_figure(arms), width="stretch", key="ewc-seeds")
        st.dataframe(changes_table(arms), hide_index=True, width="stretch")
    st.info(results["notes"])
    with st.expander("Split, Fisher and training"):
        st.json(
            {
                "split": results["split"],
                "fisher": results["fisher"],
                "model": results.get("model"),
                "seconds": results["seconds"],
                "loss_curves": {arm_label(a): a["training"]["loss_curve"] for a in tuned if a.get("training")},
            }
        )
    st.markdown("Rerun it from its stored parameters, or with the same command:")
    st.code(f"python -m engine mitigate rerun {chosen.id}\n{ewc_command(chosen.params)}", language="bash")


def show_arw(chosen: persistence.ExperimentInfo, of_kind: list[persistence.ExperimentInfo]) -> None:
    results = chosen.results
    st.altair_chart(arw_figure(results), width="stretch", key="arw-bars")
    gaps = arw_gaps(results)
    if not gaps.empty:
        st.dataframe(gaps, hide_index=True, width="stretch")
    if results.get("notes"):
        st.info(results["notes"])
    if len(of_kind) > 1:
        st.markdown("#### Every stored ARW experiment (the seeds' spread)")
        st.dataframe(arw_seeds_table(of_kind), hide_index=True, width="stretch")
    st.markdown("Rerun it from its stored parameters:")
    st.code(f"python -m engine mitigate rerun {chosen.id}", language="bash")


st.title("Mitigation")
experiments = persistence.list_experiments(with_results=False)
if not experiments:
    st.info("No mitigation experiment yet: run one from the command line, then reload this page.")
    st.code(f"{EWC_COMMAND}\n{ARW_COMMAND}", language="bash")
    st.stop()

st.subheader("Experiments")
st.dataframe(experiments_table(experiments), hide_index=True, width="stretch")

st.subheader("EWC: fine-tuning Whisper for the flagged regions or the bottom cohort")
of_kind = [e for e in experiments if e.kind == "ewc"]
if of_kind:
    show_ewc(pick(of_kind, "ewc-experiment"))
else:
    st.info("No EWC experiment yet; run one with:")
    st.code(EWC_COMMAND, language="bash")

st.subheader("ARW: adversarial reweighting for speaker verification")
of_kind = [e for e in experiments if e.kind == "arw"]
if of_kind:
    show_arw(pick(of_kind, "arw-experiment"), of_kind)
else:
    st.info("No ARW experiment yet; run one with:")
    st.code(ARW_COMMAND, language="bash")
