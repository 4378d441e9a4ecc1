"""Speech segments from silero-vad (the model bundled in its wheel), run over streamed audio chunks.

The model is recurrent over 512-sample windows; its state is carried from chunk to chunk, so the
probabilities are the same as over the whole file while only one chunk is in memory. The per-window
probabilities themselves are tiny (one float per 32 ms) and are kept to find segment boundaries.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Callable, Iterable

import numpy as np
import torch

from engine.audio import SAMPLE_RATE
from engine.threads import one_torch_thread

WINDOW = 512  # samples per silero-vad step at 16 kHz
MAX_SEGMENT_S = 15.0  # long monologues are split (at the longest pause) so one segment rarely spans two talkers


@cache
def vad_model():
    threads = torch.get_num_threads()
    from silero_vad import load_silero_vad  # importing silero_vad sets torch to one thread process-wide

    torch.set_num_threads(threads)
    with warnings.catch_warnings():  # the wheel ships a TorchScript file; torch's deprecation notice is not ours to fix
        warnings.simplefilter("ignore", FutureWarning)
        return load_silero_vad()


def speech_probabilities(
    chunks: Iterable[np.ndarray], on_samples: Callable[[int], None] | None = None
) -> tuple[np.ndarray, int]:
    """(one speech probability per 512-sample window, total samples seen)."""
    model = vad_model()
    model.reset_states()
    probs: list[float] = []
    carry = np.zeros(0, dtype=np.float32)
    total = 0
    with torch.no_grad(), one_torch_thread():
        for chunk in chunks:
            total += len(chunk)
            samples = np.concatenate([carry, chunk]) if len(carry) else chunk
            usable = len(samples) // WINDOW * WINDOW
            windows = torch.from_numpy(np.ascontiguousarray(samples[:usable])).view(-1, WINDOW)
            probs.extend(model(window, SAMPLE_RATE).item() for window in windows)
            carry = samples[usable:]
            if on_samples:
                on_samples(total)
        if len(carry):
            last = torch.from_numpy(np.pad(carry, (0, WINDOW - len(carry))))
            probs.append(model(last, SAMPLE_RATE).item())
    return np.asarray(probs, dtype=np.float32), total


def segments_from_probabilities(
    probs: np.ndarray, total_samples: int, max_segment_s: float = MAX_SEGMENT_S
) -> list[tuple[float, float]]:
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    stamps = get_speech_timestamps_from_probs(
        list(map(float, probs)),
        sampling_rate=SAMPLE_RATE,
        max_speech_duration_s=max_segment_s,
        audio_length_samples=total_samples,
    )
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]
