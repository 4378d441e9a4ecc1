"""A two-speaker dialogue synthesised with espeak-ng: en-us (male, espeak's own voice) and mbrola us1
(female), alternating with pauses, with exact reference turns. Shared by the cascade and CLI tests."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import audio

VOICES = {"A": "en-us", "B": "mb-us1"}
LINES = [
    ("A", "Good morning everyone, shall we start with the budget for next year?"),
    ("B", "Yes, I think the budget looks fine, but the travel costs are far too high."),
    ("A", "Then we should cut the number of trips and hold more meetings online."),
    ("B", "I agree, and we could use the money for new computers in the office."),
    ("A", "Good, let us write that down and talk about the schedule next week."),
    ("B", "Thank you, I will send everyone a short summary this afternoon."),
]
PAUSE_S = 0.8


@dataclass
class Reference:
    speaker: str
    start: float
    end: float


def synthesise_dialogue(folder: Path, n_lines: int = len(LINES)) -> tuple[Path, list[Reference]]:
    """The first `n_lines` lines (alternating A, B, ...) as one FLAC file, and their reference turns."""
    rng = np.random.default_rng(1)
    pieces, reference, clock = [], [], 0.0
    for i, (speaker, text) in enumerate(LINES[:n_lines]):
        wav = folder / f"line{i}.wav"
        subprocess.run(["espeak-ng", "-v", VOICES[speaker], "-w", str(wav), text], check=True)
        speech = audio.load(wav)
        pause = np.zeros(int(PAUSE_S * audio.SAMPLE_RATE), dtype=np.float32)
        pieces += [pause, speech]
        start = clock + PAUSE_S
        clock = start + len(speech) / audio.SAMPLE_RATE
        reference.append(Reference(speaker, start, clock))
    mixture = np.concatenate(pieces + [pause])
    # espeak writes digital silence; a little noise makes it a recording rather than a test pattern
    mixture += rng.normal(0, 1e-3, len(mixture)).astype(np.float32)
    path = folder / "dialogue.flac"
    sf.write(path, mixture, audio.SAMPLE_RATE)
    return path, reference
