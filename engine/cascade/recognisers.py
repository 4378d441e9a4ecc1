"""The cascade's recognisers: a name → how to turn speech audio into words with times.

Whisper tiny.en (engine/whisper, CTranslate2 int8) is the default; pocketsphinx (engine/cascade/asr.py,
the classic hybrid HMM recogniser) is kept for the comparison the project draws between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.errors import UserError
from engine.types import Word

RECOGNISERS = ("whisper", "pocketsphinx")
DEFAULT_RECOGNISER = RECOGNISERS[0]


@dataclass(frozen=True)
class Recogniser:
    name: str
    # Neighbouring VAD segments are recognised together up to this span: Whisper encodes a 30 s window
    # whatever it holds (a few seconds cost as much as 30) and reads better with context; pocketsphinx
    # decodes silence as words, so it gets one segment at a time (0).
    window_s: float
    recognise: Callable[[np.ndarray, float], list[Word]]  # (16 kHz samples, offset_s) → words, absolute times


def recogniser(name: str) -> Recogniser:
    """Imported on first use: choosing one recogniser never loads the other."""
    if name == "whisper":
        from engine.whisper.runtime import recognize

        return Recogniser(name, 30.0, lambda samples, offset_s: recognize(samples, offset_s=offset_s))
    if name == "pocketsphinx":
        from engine.cascade.asr import recognize

        return Recogniser(name, 0.0, lambda samples, offset_s: recognize(samples, offset_s=offset_s))
    raise UserError(f"Unknown recogniser {name!r}; choose one of: {', '.join(RECOGNISERS)}.")
