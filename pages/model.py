"""Model: the shipped SST checkpoint's card, its training curves, and SST beside the cascade per condition."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from engine import config, persistence
from engine.sst.card import curves_frame, shipped_card, validation_frame
from engine.sst.comparison import comparison_figure, comparison_frame, evaluation_table

st.title("Model: separator-transducer-segmenter")
card = shipped_card()
if card is None:
    st.warning("No SST model is shipped in models/sst.pt: train one with `python -m engine train` (docs/sst.md).")
else:
    quality = card.get("quality_note")
    if quality:
        st.warning(quality)
    cols = st.columns(4)
    cols[0].metric("Parameters", f"{card['parameters'] / 1e6:.2f} M")
    cols[1].metric("Checkpoint", f"{card['size_mb']:.1f} MB")
    cols[2].metric("Training updates", card.get("total_updates", card.get("step", "—")))
    cols[3].metric("Vocabulary", card["tokens"])
    threshold = card["voice_change_threshold"]
    st.caption("Turns are kept as the model ends them." if threshold is None else
               f"Turns are cut where the voice changes: cosine distance above {threshold} between resemblyzer "
               "embeddings of the 1.6 s either side (the threshold chosen for this checkpoint on the dev set).")
    st.subheader("Training curves")
    curves = curves_frame(card)
    if not curves.empty:
        loss_columns = [c for c in ("total", "rnnt", "ctc") if c in curves]
        st.plotly_chart(px.line(curves, x="step", y=loss_columns, labels={"value": "loss per mixture"}))
    validation = validation_frame(card)
    if not validation.empty:
        st.plotly_chart(px.line(validation, x="step", y="orc_wer", color="condition", markers=True,
                                labels={"orc_wer": "dev ORC-WER"}))
    with st.expander("Configuration"):
        st.json(card["config"])

st.subheader("Evaluation (SST beside the cascade)")
runs = persistence.list_evaluation_runs()
shipped_id = card["checkpoint_id"] if card else None
table = evaluation_table(runs, shipped_id)
if table.empty:
    st.info("No evaluation runs stored yet: `python -m engine evaluate --backend sst --set data/sets/test`.")
else:
    bars = comparison_frame(runs, shipped_id)
    if not bars.empty:
        st.plotly_chart(comparison_figure(bars))
    st.caption("Bars: ORC-WER of the newest run per backend and set (hover for errors / words and meetings). "
               "SST runs of an older checkpoint than the shipped one stay in the table, marked, but not in the bars.")
    st.dataframe(table, hide_index=True, width="stretch")

card_file = config.models_dir() / "MODEL_CARD.md"
if card_file.exists():
    with st.expander("Model card", expanded=card is not None):
        st.markdown(card_file.read_text())
