"""Model: what the recognisers do, how well they do it on the evaluation sets, where they fail, and their cards."""

from __future__ import annotations

import altair as alt
import streamlit as st

from engine import config, persistence
from engine.charts import svg
from engine.errors import UserError
from engine.sst.card import curves_frame, shipped_card
from engine.sst.comparison import comparison_figures, comparison_frame, evaluation_table


@st.cache_resource(show_spinner=False)
def _card(path: str, modified: float) -> dict | None:
    """The shipped SST file's card, read and hashed once per file version (`modified` keys the cache)."""
    return shipped_card(config.models_dir() / "sst.pt")


st.title("Model")
st.markdown(
    "Two recognisers turn a meeting into speaker turns. **The cascade** (the default) finds speech with a voice "
    "detector, recognises it with Whisper tiny.en and groups it by speaker. **The separator-transducer-segmenter "
    "(SST)** puts a trained separator inside Whisper's encoder so that two overlapping talkers come out on two "
    "channels, each read by Whisper's own decoder, with an activity head and a transducer head marking where "
    "each turn starts and ends; speakers are then attributed by clustering per-turn voice embeddings."
)

sst_path = config.models_dir() / "sst.pt"
card, card_error = None, None
try:
    card = _card(str(sst_path), sst_path.stat().st_mtime) if sst_path.exists() else None
except UserError as exc:
    card_error = str(exc)

st.subheader("How well: SST beside the cascade")
runs = persistence.list_evaluation_runs()
shipped_id = card["checkpoint_id"] if card else None
table = evaluation_table(runs, shipped_id)
if table.empty:
    st.info("No evaluation runs stored yet: `python -m engine evaluate --backend sst --set data/sets/test`.")
else:
    for chart in comparison_figures(comparison_frame(runs, shipped_id)):
        st.altair_chart(chart, width="stretch")
    st.caption(
        "Bars: ORC-WER of the newest run per backend and set (hover for errors / words and meetings). "
        "SST runs of another file than the shipped one stay in the table, marked, but not in the bars."
    )
    st.dataframe(table, hide_index=True, width="stretch")

st.subheader("Where it fails")
if card_error:
    st.warning(card_error)
elif card is None:
    st.warning("No SST model is shipped in models/sst.pt: train one with `python -m engine train` (docs/sst.md).")
else:
    st.warning(card.get("quality_note") or "No quality note was recorded for this file.")
    settings = card["settings"]
    cols = st.columns(4)
    cols[0].metric("Trained parameters", f"{card['parameters'] / 1e6:.2f} M")
    cols[1].metric("File", f"{card['size_mb']:.1f} MB")
    cols[2].metric("Training updates", card.get("step", "—"))
    cols[3].metric("Separator", f"after block {settings['split_after']}" if settings.get("separator", True) else "off")
    turn_source = card.get("decoding", {}).get("turn_source", "activity")
    upper = "fine-tuned here (its own copy)" if settings.get("adapt_upper") else "Whisper's own, frozen"
    st.caption(
        f"Turn boundaries from: {turn_source}. Encoder blocks after block {settings['split_after']}: {upper}. "
        f"Base weights: Whisper tiny.en, sha256 "
        f"{card['base_sha256'][:12]}…; file id {card['checkpoint_id']}."
    )
    curves = curves_frame(config.data_dir() / "sst" / "runs" / card.get("recipe", "") / card.get("stage", ""))
    if not curves.empty:
        losses = [c for c in ("total", "decoder", "activity", "rnnt") if c in curves]
        long = curves.melt(id_vars="step", value_vars=losses, var_name="loss", value_name="training loss")
        line = (
            alt.Chart(long)
            .mark_line()
            .encode(x="step:Q", y="training loss:Q", color=alt.Color("loss:N", sort=losses), tooltip=list(long))
        )
        st.altair_chart(svg(line), width="stretch")
    with st.expander("Settings"):
        st.json(settings)

st.subheader("Model cards")
for title, name in (
    ("Whisper tiny.en (the recogniser in both)", "WHISPER_CARD.md"),
    ("SST (models/sst.pt)", "MODEL_CARD.md"),
):
    path = config.models_dir() / name
    if path.exists():
        with st.expander(title):
            st.markdown(path.read_text())
