"""Who spoke: one resemblyzer embedding per speech segment, then agglomerative clustering over the recording.

Shared by the cascade and the SST backend (which clusters its per-turn embeddings the same way).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from engine.audio import SAMPLE_RATE
from engine.threads import one_torch_thread

# Cosine distance (average linkage) under which segments are one speaker. From
# bench/cascade_threshold_sweep.py on the AMI excerpts: 0.3 gives the closest total speaker count (37 vs 43);
# 0.45-0.5 lower DER a little only by putting most meetings into a single speaker. Clean synthetic voices
# sit ~0.1 apart within a voice and ~0.35 across voices, so 0.3 also separates them.
DEFAULT_THRESHOLD = 0.3
EMBEDDING_DIM = 256
NORMALISE_DBFS = -30  # the level resemblyzer's encoder was trained at


@cache
def voice_encoder():
    """The pretrained encoder whose weights ship inside the resemblyzer wheel (loaded once per process)."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


def embed_segments(audio: np.ndarray, segments: list[tuple[float, float]]) -> np.ndarray:
    """A unit-length 256-d embedding for each (start_s, end_s) segment of 16 kHz mono `audio`."""
    from resemblyzer.audio import normalize_volume

    encoder = voice_encoder()
    out = np.zeros((len(segments), EMBEDDING_DIM), dtype=np.float32)
    with one_torch_thread():
        for i, (start, end) in enumerate(segments):
            piece = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
            if len(piece) == 0:
                raise ValueError(f"segment {start:.2f}-{end:.2f} s lies outside the audio")
            if not piece.any():
                continue  # digital silence has no voice (and its level cannot be normalised): a zero embedding
            out[i] = encoder.embed_utterance(normalize_volume(piece, NORMALISE_DBFS, increase_only=True))
    return out


def cluster_speakers(
    embeddings: np.ndarray, num_speakers: int | None = None, threshold: float = DEFAULT_THRESHOLD
) -> list[int]:
    """Cluster ids 0, 1, ... numbered in order of first appearance (so label i+1 reads "S{i+1}").

    With `num_speakers` the number of clusters is fixed (capped at the number of segments); without it,
    clusters merge while their average cosine distance is below `threshold`.
    """
    from sklearn.cluster import AgglomerativeClustering

    n = len(embeddings)
    if n == 0:
        return []
    if n == 1:
        return [0]
    if num_speakers is not None:
        if num_speakers < 1:
            raise ValueError("num_speakers must be at least 1")
        model = AgglomerativeClustering(n_clusters=min(num_speakers, n), metric="cosine", linkage="average")
    else:
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
        )
    raw = model.fit_predict(np.asarray(embeddings, dtype=np.float64))
    first_seen: dict[int, int] = {}
    return [first_seen.setdefault(int(c), len(first_seen)) for c in raw]


def speaker_label(cluster_id: int) -> str:
    return f"S{cluster_id + 1}"
