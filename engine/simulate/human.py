"""Real human voices for evaluation only: Speech Accent Archive speakers reading the "Please call Stella"
paragraph (../shared/data/saa; non-commercial licence, read in place, never copied or trained on).

One recording becomes one meeting turn: the paragraph, trimmed to where the speaker is audible so that
the reference turn times match the audio.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import config
from engine.errors import UserError
from engine.simulate.synth import SAMPLE_RATE, quantise, to_16k
from engine.text import normalize

FRAME = 480  # 30 ms at 16 kHz
# A frame counts as speech when it is within this many dB of the loud (95th percentile) frames.
SPEECH_FLOOR_DB = 25.0


@dataclass(frozen=True)
class HumanSpeaker:
    speaker_id: str  # "saa:arabic1"
    file: str  # path relative to the SAA folder
    native_language: str
    sex: str
    country: str
    age: str


def saa_dir() -> Path:
    return config.shared_data_dir() / "saa"


@lru_cache(maxsize=1)
def _speakers() -> tuple[HumanSpeaker, ...]:
    metadata = saa_dir() / "metadata.csv"
    if not metadata.exists():
        raise UserError(f"The Speech Accent Archive is not at {saa_dir()}; set CROSSTALK_SHARED_DATA.")
    with metadata.open(newline="") as f:
        return tuple(
            HumanSpeaker(
                f"saa:{row['filename']}", row["file"], row["native_language"], row["sex"], row["country"], row["age"]
            )
            for row in csv.DictReader(f)
        )


def human_speakers() -> list[HumanSpeaker]:
    return list(_speakers())


def paragraph() -> str:
    """The normalised paragraph every archive speaker reads."""
    return normalize((saa_dir() / "transcript.txt").read_text())


def speech_bounds(audio: np.ndarray) -> tuple[int, int]:
    """First and last sample of the audible part (frame energy within SPEECH_FLOOR_DB of loud frames)."""
    n = len(audio) // FRAME
    energy_db = 10 * np.log10(np.mean(audio[: n * FRAME].reshape(n, FRAME) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(energy_db > np.percentile(energy_db, 95) - SPEECH_FLOOR_DB)
    return int(loud[0] * FRAME), int((loud[-1] + 1) * FRAME)


def load_turn(speaker: HumanSpeaker) -> np.ndarray:
    """The speaker's recording at 16 kHz, trimmed to the audible part, 16-bit quantised like synthesis."""
    audio, rate = sf.read(saa_dir() / speaker.file, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = to_16k(audio, rate)
    start, end = speech_bounds(audio)
    return quantise(audio[start:end])
