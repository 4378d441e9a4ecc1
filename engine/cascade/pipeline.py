"""The cascade over one file, in two streaming passes so memory stays bounded for any duration:

1. silero-vad over the chunks → speech segments (at most vad.MAX_SEGMENT_S long);
2. the chunks again → windows of neighbouring segments (as long as the recogniser takes) → its words
   with times, each word to its segment; a segment is cut at the word gaps where the voice changes
   (engine/voice_changes.py), and each piece gets a resemblyzer embedding of its own audio;
then clustering of the pieces' embeddings → speaker labels → merged turns.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import numpy as np

from engine import audio
from engine.cascade import vad
from engine.cascade.recognisers import DEFAULT_RECOGNISER, Recogniser, recogniser
from engine.cascade.segments import iter_segment_audio, recognition_windows, words_by_segment
from engine.cascade.segments_to_turns import merge_segments
from engine.errors import UserError
from engine.speakers import DEFAULT_THRESHOLD, cluster_speakers, embed_segments, speaker_label
from engine.threads import one_torch_thread
from engine.types import Turn, Word
from engine.voice_changes import split_turn, voice_change_times

Progress = Callable[[float, str], None]
VAD_SHARE = 0.1  # rough share of the run spent in pass 1, for the progress bar
MIN_EMBED_S = 0.5  # a speaker embedding of less audio than this is noise: short pieces are widened to it
# Cosine distance between the 1.6 s either side of a point that counts as a new voice inside one VAD
# segment (bench/cascade_change_sweep.py on the dev set, docs/cascade.md); None: segments are not split.
CHANGE_THRESHOLD = 0.35
# The models are loaded once per process and keep state (silero-vad's recurrent state, the recognisers'
# decoders), so recordings in one process are processed one at a time.
_MODELS_IN_USE = threading.Lock()


UNATTRIBUTED = "…"  # the speaker of a partial turn: clustering runs once every segment is recognised


def run_cascade(
    path: Path,
    num_speakers: int | None = None,
    progress: Progress | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    chunk_s: float = 30.0,
    on_partial: Callable[[list[Turn]], None] | None = None,
    recogniser_name: str = DEFAULT_RECOGNISER,
    change_threshold: float | None = CHANGE_THRESHOLD,
) -> list[Turn]:
    """Speaker-attributed turns; `on_partial` receives the pieces recognised so far (speaker not yet known)."""
    asr = recogniser(recogniser_name)
    with _MODELS_IN_USE, one_torch_thread():
        return _run(
            path,
            num_speakers,
            progress or (lambda fraction, message: None),
            threshold,
            chunk_s,
            on_partial or (lambda partial: None),
            asr,
            change_threshold,
        )


def _run(
    path: Path,
    num_speakers: int | None,
    report: Progress,
    threshold: float,
    chunk_s: float,
    publish: Callable[[list[Turn]], None],
    asr: Recogniser,
    change_threshold: float | None,
) -> list[Turn]:
    info = audio.probe(path)
    expected = max(1, round(info.duration_s * audio.SAMPLE_RATE))

    report(0.0, "Finding speech")
    probs, total = vad.speech_probabilities(
        audio.iter_chunks(path, chunk_s),
        on_samples=lambda n: report(VAD_SHARE * min(1.0, n / expected), "Finding speech"),
    )
    segments = vad.segments_from_probabilities(probs, total)
    if not segments:
        raise UserError("The recording contains no speech.")

    pieces: list[Turn] = []
    embeddings: list[np.ndarray] = []
    windows = recognition_windows(segments, asr.window_s)
    done = 0
    for (span, members), samples in zip(windows, _window_audio(path, chunk_s, windows)):
        inside = [segments[i] for i in members]
        for segment, words in zip(inside, words_by_segment(asr.recognise(samples, span[0]), inside)):
            first = round((segment[0] - span[0]) * audio.SAMPLE_RATE)
            audio_of_segment = samples[first : first + round((segment[1] - segment[0]) * audio.SAMPLE_RATE)]
            for piece in _pieces(segment, words, audio_of_segment, change_threshold):
                pieces.append(piece)
                embeddings.append(_embedding(piece, segment, audio_of_segment))
        done += len(members)
        report(VAD_SHARE + (1 - VAD_SHARE) * done / len(segments), f"Recognised {done} of {len(segments)} segments")
        publish(list(pieces))

    labels = cluster_speakers(np.stack(embeddings), num_speakers, threshold)
    labelled = [(speaker_label(label), p.start, p.end, p.words) for label, p in zip(labels, pieces)]
    report(1.0, "Done")
    return merge_segments(labelled)


def _window_audio(path: Path, chunk_s: float, windows: list[tuple[tuple[float, float], list[int]]]):
    return (samples for _, samples in iter_segment_audio(audio.iter_chunks(path, chunk_s), [s for s, _ in windows]))


def _pieces(
    segment: tuple[float, float], words: list[Word], samples: np.ndarray, change_threshold: float | None
) -> list[Turn]:
    """The segment's words as one unattributed turn (widened to words that run past its ends), cut at the
    word gaps where the voice changes."""
    start, end = segment
    if words:
        start, end = min(start, words[0].start), max(end, words[-1].end)
    turn = Turn(UNATTRIBUTED, start, end, words)
    if change_threshold is None or len(words) < 2:
        return [turn]
    return split_turn(turn, [segment[0] + t for t in voice_change_times(samples, change_threshold)])


def _embedding(piece: Turn, segment: tuple[float, float], samples: np.ndarray) -> np.ndarray:
    """The embedding of the piece's span of the segment audio, widened (inside the segment) to MIN_EMBED_S."""
    duration = len(samples) / audio.SAMPLE_RATE
    first, last = piece.start - segment[0], piece.end - segment[0]
    missing = max(0.0, MIN_EMBED_S - (last - first)) / 2
    first, last = max(0.0, first - missing), min(duration, last + missing)
    if last - first < 1 / audio.SAMPLE_RATE:  # a piece at the very end (rounding)
        first, last = 0.0, duration
    return embed_segments(samples, [(first, last)])[0]
