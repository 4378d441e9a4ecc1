"""Synthetic evaluation sets with planted disparities, for benchmarks and for tests that must find them.

Speakers are scattered over the continental USA; each has an embedding near one of `n_clusters` centres.
Hypotheses are references with word substitutions at a per-speaker rate: `base_rate` everywhere,
`box_rate` for speakers inside `box` (lon0, lat0, lon1, lat1), `cluster_rate` for speakers of
`raised_cluster`. Everything is deterministic from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

USA = (-124.0, 26.0, -68.0, 48.5)
VOCABULARY = [f"word{i}" for i in range(3000)]


@dataclass(frozen=True)
class Plan:
    n_utterances: int = 10_000
    utterances_per_speaker: int = 20
    words_per_utterance: int = 12
    base_rate: float = 0.10
    box: tuple[float, float, float, float] | None = None
    box_rate: float = 0.30
    n_clusters: int = 6
    embedding_dim: int = 32
    raised_cluster: int | None = None
    cluster_rate: float = 0.30
    seed: int = 0


@dataclass
class SyntheticSet:
    utterances: pd.DataFrame  # utterance_id, speaker_id, reference, hypothesis, lat, lon, region_group, sex
    speaker_embeddings: np.ndarray  # (n_speakers, dim), row i = speaker f"s{i}"
    speaker_cluster: np.ndarray
    speaker_in_box: np.ndarray


def make_set(plan: Plan = Plan()) -> SyntheticSet:
    rng = np.random.default_rng(plan.seed)
    n_speakers = max(1, plan.n_utterances // plan.utterances_per_speaker)
    lon = rng.uniform(USA[0], USA[2], n_speakers)
    lat = rng.uniform(USA[1], USA[3], n_speakers)
    in_box = np.zeros(n_speakers, bool)
    if plan.box is not None:
        x0, y0, x1, y1 = plan.box
        in_box = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    centres = rng.normal(size=(plan.n_clusters, plan.embedding_dim)) * 3
    cluster = rng.integers(0, plan.n_clusters, n_speakers)
    embeddings = (centres[cluster] + rng.normal(size=(n_speakers, plan.embedding_dim))).astype(np.float32)
    rate = np.full(n_speakers, plan.base_rate)
    rate[in_box] = plan.box_rate
    if plan.raised_cluster is not None:
        rate[cluster == plan.raised_cluster] = plan.cluster_rate

    speaker = np.arange(plan.n_utterances) % n_speakers
    ref_ids = rng.integers(0, len(VOCABULARY), (plan.n_utterances, plan.words_per_utterance))
    substituted = rng.random(ref_ids.shape) < rate[speaker][:, None]
    # a substitute is never the word itself, so every planted error is a real error
    hyp_ids = np.where(
        substituted, (ref_ids + rng.integers(1, len(VOCABULARY), ref_ids.shape)) % len(VOCABULARY), ref_ids
    )
    vocab = np.array(VOCABULARY)
    references = [" ".join(row) for row in vocab[ref_ids].tolist()]
    hypotheses = [" ".join(row) for row in vocab[hyp_ids].tolist()]
    frame = pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(plan.n_utterances)],
            "speaker_id": [f"s{i}" for i in speaker],
            "reference": references,
            "hypothesis": hypotheses,
            "lat": lat[speaker].round(5),
            "lon": lon[speaker].round(5),
            "sex": np.where(speaker % 2 == 0, "female", "male"),
        }
    )
    return SyntheticSet(frame, embeddings, cluster, in_box)


def with_embeddings(synthetic: SyntheticSet) -> pd.DataFrame:
    """The utterance table with each utterance carrying its speaker's embedding (the import averages them)."""
    index = synthetic.utterances["speaker_id"].str[1:].astype(int).to_numpy()
    return synthetic.utterances.assign(embedding=list(synthetic.speaker_embeddings[index]))
