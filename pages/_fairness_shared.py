"""What the Regional WER and Cohorts pages share: the evaluation-set picker and cached speaker totals."""
from __future__ import annotations

import pandas as pd
import streamlit as st

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
