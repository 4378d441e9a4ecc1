"""The cascade over one file, in two streaming passes so memory stays bounded for any duration:

1. silero-vad over the chunks → speech segments;
2. the chunks again → each segment's audio → resemblyzer embedding + pocketsphinx words;
then clustering of the embeddings → speaker labels → merged turns.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import numpy as np

from engine import audio
from engine.cascade import asr, turns, vad
from engine.cascade.segments import iter_segment_audio
from engine.errors import UserError
from engine.speakers import DEFAULT_THRESHOLD, cluster_speakers, embed_segments, speaker_label
from engine.threads import one_torch_thread
from engine.types import Turn

Progress = Callable[[float, str], None]
VAD_SHARE = 0.15  # rough share of the run spent in pass 1, for the progress bar
# The models are loaded once per process and keep state (silero-vad's recurrent state, the pocketsphinx
# decoder), so recordings in one process are processed one at a time.
_MODELS_IN_USE = threading.Lock()


UNATTRIBUTED = "…"  # the speaker of a partial turn: clustering runs once every segment is recognised


def run_cascade(path: Path, num_speakers: int | None = None, progress: Progress | None = None,
                threshold: float = DEFAULT_THRESHOLD, chunk_s: float = 30.0,
                on_partial: Callable[[list[Turn]], None] | None = None) -> list[Turn]:
    """Speaker-attributed turns; `on_partial` receives the segments recognised so far (speaker not yet known)."""
    with _MODELS_IN_USE, one_torch_thread():
        return _run(path, num_speakers, progress or (lambda fraction, message: None), threshold, chunk_s,
                    on_partial or (lambda partial: None))


def _run(path: Path, num_speakers: int | None, report: Progress, threshold: float, chunk_s: float,
         publish: Callable[[list[Turn]], None]) -> list[Turn]:
    info = audio.probe(path)
    expected = max(1, round(info.duration_s * audio.SAMPLE_RATE))

    report(0.0, "Finding speech")
    probs, total = vad.speech_probabilities(
        audio.iter_chunks(path, chunk_s),
        on_samples=lambda n: report(VAD_SHARE * min(1.0, n / expected), "Finding speech"))
    segments = vad.segments_from_probabilities(probs, total)
    if not segments:
        raise UserError("The recording contains no speech.")

    found, embeddings, words = [], [], []
    for segment, samples in iter_segment_audio(audio.iter_chunks(path, chunk_s), segments):
        found.append(segment)
        embeddings.append(embed_segments(samples, [(0.0, len(samples) / audio.SAMPLE_RATE)])[0])
        words.append(asr.recognize(samples, offset_s=segment[0]))
        report(VAD_SHARE + (1 - VAD_SHARE) * len(found) / len(segments),
               f"Recognising segment {len(found)} of {len(segments)}")
        publish([Turn(UNATTRIBUTED, start, end, list(w)) for (start, end), w in zip(found, words)])

    labels = cluster_speakers(np.stack(embeddings), num_speakers, threshold)
    labelled = [(speaker_label(label), start, end, w) for label, (start, end), w in zip(labels, found, words)]
    report(1.0, "Done")
    return turns.merge_segments(labelled)
