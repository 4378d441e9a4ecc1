"""Mitigation: can a disparity be narrowed without hurting everyone else? EWC fine-tuning of the SST model for
the worst regions (before/after maps, the λ trade-off) and adversarial reweighting of speaker verification."""
from __future__ import annotations

import streamlit as st

from engine import persistence
from pages._mitigation_shared import (arm_label, arms_summary, arw_figure, arw_gaps, ewc_command, experiments_table,
                                      region_comparison, region_deck, shared_scale, tradeoff_figure)

EWC_COMMAND = 'python -m engine mitigate ewc --eval-set "Speech Accent Archive (cascade)" --regions flagged'
ARW_COMMAND = "python -m engine mitigate arw"


def pick(experiments: list[persistence.ExperimentInfo], key: str) -> persistence.ExperimentInfo:
    if len(experiments) == 1:
        return experiments[0]
    index = st.selectbox("Experiment", range(len(experiments)), key=key,
                         format_func=lambda i: f"#{experiments[i].id} · {experiments[i].name}")
    return experiments[index]


def show_ewc(experiment: persistence.ExperimentInfo) -> None:
    results = experiment.results
    arms = results["arms"]
    before = next(a for a in arms if a["arm"] == "none")
    tuned = [a for a in arms if a["arm"] != "none"]
    best = min(range(len(tuned)), key=lambda i: tuned[i]["targeted_wer"]) if tuned else 0  # the most mitigating arm
    choice = st.selectbox("After", range(len(tuned)), index=best, format_func=lambda i: arm_label(tuned[i]),
                          key="ewc-after") if tuned else None
    after = before if choice is None else tuned[choice]
    low, high = shared_scale([before, after])
    st.caption(f"Held-out speakers of every region of '{experiment.set_name}'; regions "
               f"{', '.join(map(str, results['targeted_ranks']))} targeted (outlined). One colour scale for both maps: "
               f"green {100 * low:.1f} % → red {100 * high:.1f} % WER.")
    left, right = st.columns(2)
    for column, arm, key in ((left, before, "ewc-map-before"), (right, after, "ewc-map-after")):
        with column:
            st.markdown(f"**Before: {arm_label(arm)}**" if arm is before else f"**After: {arm_label(arm)}**")
            st.pydeck_chart(region_deck(arm, low, high), key=key, height=380)
    st.markdown("#### Per region (held-out speakers; 95 % CIs by bootstrap over speakers)")
    st.dataframe(region_comparison(before, after), hide_index=True, width="stretch")
    st.markdown("#### Trade-off across λ")
    st.plotly_chart(tradeoff_figure(arms), width="stretch", key="ewc-tradeoff")
    st.dataframe(arms_summary(arms), hide_index=True, width="stretch")
    st.info(results["notes"])
    with st.expander("Split, Fisher and training"):
        st.json({"split": results["split"], "fisher": results["fisher"], "checkpoint_sha256": results["checkpoint_sha256"],
                 "seconds": results["seconds"],
                 "loss_curves": {arm_label(a): a["training"]["loss_curve"] for a in tuned}})
    st.markdown("Rerun it from its stored parameters, or with the same command:")
    st.code(f"python -m engine mitigate rerun {experiment.id}\n{ewc_command(experiment.params)}", language="bash")


def show_arw(experiment: persistence.ExperimentInfo) -> None:
    results = experiment.results
    st.plotly_chart(arw_figure(results), width="stretch", key="arw-bars")
    gaps = arw_gaps(results)
    if not gaps.empty:
        st.dataframe(gaps, hide_index=True, width="stretch")
    if results.get("notes"):
        st.info(results["notes"])
    st.markdown("Rerun it from its stored parameters:")
    st.code(f"python -m engine mitigate rerun {experiment.id}", language="bash")


st.title("Mitigation")
experiments = persistence.list_experiments()
if not experiments:
    st.info("No mitigation experiment yet: run one from the command line, then reload this page.")
    st.code(f"{EWC_COMMAND}\n{ARW_COMMAND}", language="bash")
    st.stop()

st.subheader("Experiments")
st.dataframe(experiments_table(experiments), hide_index=True, width="stretch")

SECTIONS = [("ewc", "EWC: fine-tuning the SST model for the flagged regions", show_ewc, EWC_COMMAND),
            ("arw", "ARW: adversarial reweighting for speaker verification", show_arw, ARW_COMMAND)]
for kind, title, show, command in SECTIONS:
    st.subheader(title)
    of_kind = [e for e in experiments if e.kind == kind]
    if of_kind:
        show(pick(of_kind, f"{kind}-experiment"))
    else:
        st.info(f"No {kind.upper()} experiment yet; run one with:")
        st.code(command, language="bash")
