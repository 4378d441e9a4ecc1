"""What the fairness pages share: the evaluation-set picker, cached speaker totals, a compact pydeck Deck."""
from __future__ import annotations

import json

import pandas as pd
import pydeck as pdk
import streamlit as st
from pydeck.bindings.json_tools import default_serialize

from engine import persistence
from engine.fairness.demo import DEMO_SET_NAME


@st.cache_data(max_entries=8, show_spinner=False)
def speaker_totals(set_id: int, created_at) -> pd.DataFrame:
    """Per-speaker totals; `created_at` is in the key so a replaced set with a reused id is not served stale."""
    return persistence.speaker_totals(set_id)


def pick_evaluation_set(key: str) -> persistence.EvaluationSetInfo:
    """The sidebar's set picker (the demo set first); stops the page with a hint when there is none."""
    sets = persistence.list_evaluation_sets()
    if not sets:
        st.info("No evaluation set yet: import one with `python -m engine fairness import FILE --name NAME`.")
        st.stop()
    names = [s.name for s in sets]
    name = st.selectbox("Evaluation set", names, index=names.index(DEMO_SET_NAME) if DEMO_SET_NAME in names else 0,
                        key=key)
    return next(s for s in sets if s.name == name)


class CompactDeck(pdk.Deck):
    """A Deck whose JSON is compact: pydeck indents it, which forces Python's slow pure-Python encoder
    (0.2 s and 6x the bytes for the outline layer alone, on every rerun)."""

    def to_json(self) -> str:
        return json.dumps(self, default=default_serialize, separators=(",", ":"))
