"""Speech Accent Archive audio behind an evaluation set's speakers (../shared/data/saa, read in place).

A set built from the archive (engine/fairness/demo.py) names its speakers "saa<speakerid>"; metadata.csv
maps the archive's `speakerid` to its `file`, and every speaker reads the paragraph in transcript.txt
(which `Readings` cuts in two by Whisper's word times, so fine-tuning and evaluation read different sentences).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from engine import audio
from engine.errors import UserError
from engine.mitigation import whisper_readings
from engine.simulate.human import saa_dir

SPEAKER_KEY = re.compile(r"^saa(\d+)$")


@lru_cache(maxsize=4)
def _files_by_speakerid(folder: Path) -> dict[int, Path]:
    meta = pd.read_csv(folder / "metadata.csv", usecols=["speakerid", "file"])
    return {int(sid): folder / file for sid, file in zip(meta["speakerid"], meta["file"])}


def paragraph() -> str:
    """The one reference text every archive speaker reads, punctuation kept (the forced aligner cuts it
    between sentences; engine.simulate.human.paragraph is the normalised form)."""
    return " ".join((saa_dir() / "transcript.txt").read_text().split())


def audio_paths(speaker_keys: list[str]) -> dict[str, Path]:
    """speaker key ("saa11") -> its recording; one sentence (UserError) for a key that is not an archive speaker."""
    folder = saa_dir()
    if not (folder / "metadata.csv").is_file():
        raise UserError(f"The Speech Accent Archive is not at {folder} (set CROSSTALK_SHARED_DATA).")
    files = _files_by_speakerid(folder)
    paths = {}
    for key in speaker_keys:
        match = SPEAKER_KEY.match(str(key))
        if match is None or int(match.group(1)) not in files:
            raise UserError(
                f"Speaker '{key}' is not a Speech Accent Archive speaker (expected 'saa<speakerid>' "
                f"with a row in {folder / 'metadata.csv'})."
            )
        paths[key] = files[int(match.group(1))]
    return paths


# The paragraph's sentences 1–3 end after word 34 ("… a snack for her brother Bob."), sentences 4–5 are the
# other 35 words ("We also need … at the train station.").
SPLIT_AFTER_WORD = 34
TEXT_SPLITS = ("halves", "none")


class Readings:
    """Each archive speaker's reading, cut for an experiment (loaded and cut once, on first use).

    text_split "halves": fine-tuning uses sentences 1–3 and evaluation sentences 4–5, cut at the middle of the
    gap between the words Whisper tiny.en recognised for "Bob." and "We" (engine/mitigation/whisper_readings.py),
    so no evaluated sentence is ever trained on. "none": both use the whole paragraph. A reading is not
    usable when the cut cannot be placed or a part is longer than one 30 s Whisper window.
    Parts are (samples, first sample, end sample) so they can be named for the states cache.
    """

    def __init__(self, paths: dict[str, Path], text_split: str, max_samples: int):
        if text_split not in TEXT_SPLITS:
            raise UserError(f"The text split is one of {', '.join(TEXT_SPLITS)}, not '{text_split}'.")
        self.paths, self.text_split, self.max_samples = paths, text_split, max_samples
        text = paragraph()
        cut = len(" ".join(text.split()[:SPLIT_AFTER_WORD]))
        self.texts = (text[:cut].strip(), text[cut:].strip()) if text_split == "halves" else (text, text)
        self._cuts: dict[str, tuple[np.ndarray, int] | None] = {}

    def _cut(self, key: str) -> tuple[np.ndarray, int] | None:
        if key not in self._cuts:
            samples = audio.load(self.paths[key])
            at = None
            if self.text_split == "none":
                at = len(samples)
            else:
                words = whisper_readings.recognised_words(self.paths[key], samples)
                cut = whisper_readings.cut_after(words, paragraph(), SPLIT_AFTER_WORD)
                at = None if cut is None else min(int(cut * audio.SAMPLE_RATE), len(samples))
            ok = at is not None and max(at, len(samples) - at if self.text_split == "halves" else 0) <= self.max_samples
            self._cuts[key] = (samples, at) if ok else None
        return self._cuts[key]

    def usable(self, key: str) -> bool:
        return self._cut(key) is not None

    def fine_tuning(self, key: str) -> tuple[np.ndarray, int, int, str]:
        samples, at = self._cut(key)
        return samples[:at], 0, at, self.texts[0]

    def evaluation(self, key: str) -> tuple[np.ndarray, int, int, str]:
        samples, at = self._cut(key)
        if self.text_split == "none":
            return samples, 0, len(samples), self.texts[1]
        return samples[at:], at, len(samples), self.texts[1]
