"""Real inputs for the mitigation tests: a small evaluation set of Speech Accent Archive speakers (their
recordings in ../shared/data/saa, their speaker embeddings from the shipped demo set) with a two-region
regions analysis."""

from __future__ import annotations

import pandas as pd

from engine.fairness import analyses
from engine.fairness.cohorts import CohortParams
from engine.fairness.demo import DEMO_PARQUET
from engine.fairness.importing import import_frame
from engine.fairness.regions import RegionParams
from engine.mitigation import saa

SET_NAME = "saa-mini"
# (archive speakerid, lon, lat, recogniser got it right): two speakers west, three east, so a two-region tree
# splits west from east and the east, recognised badly, is region 1. Short recordings (13-15 s).
SPEAKERS = [
    (1119, -100.0, 35.0, True),
    (631, -98.0, 36.0, True),
    (66, 40.0, 30.0, False),
    (824, 42.0, 31.0, False),
    (1559, 41.0, 29.0, False),
]


def saa_set(url: str) -> None:
    """The five speakers as an evaluation set (with their real embeddings), a stored regions analysis and an
    automatic cohort analysis (two k-means clusters of the embeddings)."""
    reference = saa.paragraph()
    embeddings = pd.read_parquet(DEMO_PARQUET, columns=["speaker_id", "embedding"]).set_index("speaker_id")["embedding"]
    frame = pd.DataFrame(
        [
            {
                "utterance_id": f"u{sid}",
                "speaker_id": f"saa{sid}",
                "reference": reference,
                "hypothesis": reference if right else "please call",
                "lon": lon,
                "lat": lat,
                "embedding": list(embeddings[f"saa{sid}"]),
            }
            for sid, lon, lat, right in SPEAKERS
        ]
    )
    import_frame(frame, SET_NAME, url=url)
    analyses.run_regions(SET_NAME, RegionParams(min_speakers=1, min_words=1, max_regions=2, n_boot=50), url=url)
    analyses.run_cohorts(
        SET_NAME, "automatic", CohortParams(k=2, min_speakers=1, min_words=1, n_boot=50, n_perm=9), url=url
    )


def tiny_params(**overrides) -> dict:
    """One held-out speaker per region, one fine-tuning speaker, one update per arm, one general utterance."""
    return {
        "eval_set": SET_NAME,
        "target": "regions",
        "regions": [1],
        "text_split": "halves",
        "adapt": "decoder",
        "lambdas": [0.0, 10.0],
        "seeds": [0],
        "split_seed": 0,
        "train_speakers_per_region": 1,
        "heldout_speakers_per_region": 1,
        "updates": 1,
        "batch_utterances": 1,
        "lr": 1e-4,
        "fisher_utterances": 1,
        "general_utterances": 1,
        "n_boot": 50,
        "name": None,
        **overrides,
    }
