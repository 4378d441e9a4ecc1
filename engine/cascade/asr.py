"""Words with times for one speech segment from pocketsphinx (its bundled en-us model)."""

from __future__ import annotations

from functools import cache

import numpy as np

from engine.audio import SAMPLE_RATE
from engine.types import Word

FRAMES_PER_SECOND = 100  # pocketsphinx's default frame rate (-frate)
# Search pruning: on the AMI excerpts this halves decoding time with almost the same words
# (wider beams cost 2x CPU; narrower -beam/-topn settings visibly damage the words).
PRUNING = {"maxhmmpf": 3000, "maxwpf": 5}


@cache
def decoder():
    from pocketsphinx import Decoder

    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", **PRUNING)


def recognize(samples: np.ndarray, offset_s: float = 0.0) -> list[Word]:
    """Recognised words of `samples` (16 kHz mono float32), times in seconds shifted by `offset_s`."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    dec = decoder()
    dec.start_utt()
    dec.process_raw(pcm, no_search=False, full_utt=True)
    dec.end_utt()
    words = []
    for seg in dec.seg():
        text = spoken_word(seg.word)
        if text:
            words.append(
                Word(
                    text,
                    round(offset_s + seg.start_frame / FRAMES_PER_SECOND, 3),
                    round(offset_s + (seg.end_frame + 1) / FRAMES_PER_SECOND, 3),
                )
            )
    return words


def spoken_word(token: str) -> str | None:
    """Drop silence/filler/noise tokens (<s>, <sil>, [NOISE], ...) and pronunciation variants' "(2)"."""
    if not token or token[0] in "<[" or token == "(NULL)":
        return None
    return token.split("(", 1)[0] or None
