"""Where in a reading a given word ends: forced alignment of the known text with pocketsphinx (bundled en-us).

Used to cut Speech Accent Archive recordings between two sentences of the paragraph, so fine-tuning and
evaluation can use different text. Alignment can fail on a fast or noisy reading (no path through the
whole text); the caller then leaves that recording out.
"""
from __future__ import annotations

from functools import cache

import numpy as np

from engine.audio import SAMPLE_RATE
from engine.cascade.asr import FRAMES_PER_SECOND, spoken_word
from engine.text import words

# Forced alignment searches one path through a known text: wide beams cost little there and keep
# accented readings from falling off the search (the recogniser's pruning is for open decoding).
ALIGN_BEAMS = {"beam": 1e-80, "wbeam": 1e-60}


@cache
def _aligner():
    from pocketsphinx import Decoder

    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", **ALIGN_BEAMS)


def word_times(samples: np.ndarray, text: str) -> list[tuple[str, float, float]]:
    """(word, start s, end s) for the words of `text` (normalised) that the aligner places in `samples`
    (16 kHz mono float32), in order: a prefix of the text. Empty when it finds no path; short when the
    path ends early (a reading cut off before the last word)."""
    expected = words(text)
    dec = _aligner()
    dec.set_align_text(" ".join(expected))
    dec.start_utt()
    dec.process_raw((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes(), full_utt=True)
    dec.end_utt()
    found = [(spoken_word(s.word), s.start_frame / FRAMES_PER_SECOND, (s.end_frame + 1) / FRAMES_PER_SECOND)
             for s in (dec.seg() or [])]
    found = [(w, start, end) for w, start, end in found if w]
    matching = 0
    while matching < min(len(found), len(expected)) and found[matching][0] == expected[matching]:
        matching += 1
    return found[:matching]


def cut_after(samples: np.ndarray, text: str, n_words: int) -> float | None:
    """The time (s) between word n_words and word n_words + 1 of `text` (the middle of any pause between
    them), or None when the alignment does not reach word n_words + 1."""
    times = word_times(samples, text)
    if not 0 < n_words < len(times):
        return None
    return (times[n_words - 1][2] + times[n_words][1]) / 2
