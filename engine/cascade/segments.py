"""Cut speech segments out of a stream of audio chunks, keeping only what the next segments still need."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from engine.audio import SAMPLE_RATE


def iter_segment_audio(
    chunks: Iterable[np.ndarray], segments: list[tuple[float, float]]
) -> Iterator[tuple[tuple[float, float], np.ndarray]]:
    """Yield (segment, its samples) in order; `segments` must be sorted by start.

    Memory holds at most one chunk plus the longest segment, whatever the recording's length.
    """
    bounds = [(int(s * SAMPLE_RATE), int(e * SAMPLE_RATE)) for s, e in segments]
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # absolute sample index of buffer[0]
    next_seg = 0
    for chunk in chunks:
        buffer = np.concatenate([buffer, chunk])
        buffer_end = buffer_start + len(buffer)
        while next_seg < len(bounds) and bounds[next_seg][1] <= buffer_end:
            start, end = bounds[next_seg]
            yield segments[next_seg], buffer[start - buffer_start : end - buffer_start].copy()
            next_seg += 1
        keep_from = bounds[next_seg][0] if next_seg < len(bounds) else buffer_end
        keep_from = min(max(keep_from, buffer_start), buffer_end)
        buffer = buffer[keep_from - buffer_start :]
        buffer_start = keep_from
    # segments running to the very end of the audio (rounding may put their end a sample past it)
    for k in range(next_seg, len(bounds)):
        start, _ = bounds[k]
        piece = buffer[max(0, start - buffer_start) :]
        if len(piece):
            yield segments[k], piece.copy()


def recognition_windows(
    segments: list[tuple[float, float]], max_s: float
) -> list[tuple[tuple[float, float], list[int]]]:
    """Consecutive sorted segments grouped into spans (first start → last end) of at most `max_s` seconds,
    each with the indices of its segments; a segment longer than `max_s` is a span of its own.

    Whisper encodes a 30 s window whatever the audio in it, so recognising a few seconds at a time costs as
    much as 30: one window over neighbouring segments costs one encoder pass and gives the words context."""
    windows: list[tuple[tuple[float, float], list[int]]] = []
    for i, (start, end) in enumerate(segments):
        if windows and end - windows[-1][0][0] <= max_s:
            (first, _), members = windows[-1]
            windows[-1] = ((first, end), members + [i])
        else:
            windows.append(((start, end), [i]))
    return windows


def words_by_segment(words: list, segments: list[tuple[float, float]]) -> list[list]:
    """Each word (with .start/.end) to the segment its middle falls in or lies nearest to (a gap between two
    segments is split at its middle); `segments` sorted, not overlapping."""
    bounds = [(a[1] + b[0]) / 2 for a, b in zip(segments, segments[1:])]
    out: list[list] = [[] for _ in segments]
    for word in words:
        middle = (word.start + word.end) / 2
        out[sum(middle >= b for b in bounds)].append(word)
    return out
