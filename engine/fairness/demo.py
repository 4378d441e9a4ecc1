"""The shipped demo evaluation set: Speech Accent Archive speakers recognised by the cascade.

engine/assets/saa_demo.parquet is built by scripts/build_saa_demo.py (hypotheses, metadata and speaker
embeddings; no audio). The dashboard seeds it into the database on start, once.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.exc import IntegrityError

from engine import persistence
from engine.errors import UserError

DEMO_PARQUET = Path(__file__).resolve().parent.parent / "assets" / "saa_demo.parquet"
DEMO_SET_NAME = "Speech Accent Archive (cascade)"
ATTRIBUTION = (
    "Speech Accent Archive: Weinberger, Steven H., George Mason University, http://accent.gmu.edu, "
    "licensed CC BY-NC-SA 2.0 (non-commercial use only). Audio re-encoded to 8 kHz Ogg Opus; this demo "
    "ships only the recogniser's hypotheses, embeddings and the archive's speaker metadata, not the audio."
)
SOURCE = "Speech Accent Archive, every speaker reading the 'Please call Stella' paragraph; hypotheses from " \
         "the cascade's pocketsphinx recogniser (scripts/build_saa_demo.py)"
# Per-file columns of the parquet that are not speaker attributes.
NOT_ATTRIBUTES = ("duration_s",)


def seed_demo_set(url: str | None = None) -> bool:
    """Import the demo set unless it is there already (or no parquet ships); True when this call imported it.

    A database seeded from an older, smaller parquet (the build resumes and grows it) gets the new one.
    """
    if not DEMO_PARQUET.exists():
        return False
    frame = pd.read_parquet(DEMO_PARQUET).drop(columns=list(NOT_ATTRIBUTES), errors="ignore")
    stored = next((info for info in persistence.list_evaluation_sets(url) if info.name == DEMO_SET_NAME), None)
    if stored is not None and stored.n_utterances == len(frame):
        return False
    from engine.fairness.importing import import_frame

    try:
        import_frame(frame, DEMO_SET_NAME, source=SOURCE, attribution=ATTRIBUTION, replace=stored is not None,
                     url=url)
    except (UserError, IntegrityError):  # another process seeded it a moment ago
        return False
    return True
