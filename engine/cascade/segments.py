"""Cut speech segments out of a stream of audio chunks, keeping only what the next segments still need."""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from engine.audio import SAMPLE_RATE


def iter_segment_audio(chunks: Iterable[np.ndarray], segments: list[tuple[float, float]]
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
            yield segments[next_seg], buffer[start - buffer_start: end - buffer_start].copy()
            next_seg += 1
        keep_from = bounds[next_seg][0] if next_seg < len(bounds) else buffer_end
        keep_from = min(max(keep_from, buffer_start), buffer_end)
        buffer = buffer[keep_from - buffer_start:]
        buffer_start = keep_from
    # segments running to the very end of the audio (rounding may put their end a sample past it)
    for k in range(next_seg, len(bounds)):
        start, _ = bounds[k]
        piece = buffer[max(0, start - buffer_start):]
        if len(piece):
            yield segments[k], piece.copy()
