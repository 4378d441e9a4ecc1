"""The shipped demo evaluation set: Speech Accent Archive speakers recognised by the cascade."""
from __future__ import annotations

from pathlib import Path

DEMO_PARQUET = Path(__file__).resolve().parent.parent / "assets" / "saa_demo.parquet"
DEMO_SET_NAME = "Speech Accent Archive (cascade)"
ATTRIBUTION = (
    "Speech Accent Archive: Weinberger, Steven H., George Mason University, http://accent.gmu.edu, "
    "licensed CC BY-NC-SA 2.0 (non-commercial use only). Audio re-encoded to 8 kHz Ogg Opus; this demo "
    "ships only the recogniser's hypotheses, embeddings and the archive's speaker metadata, not the audio."
)
