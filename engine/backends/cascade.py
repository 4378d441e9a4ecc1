"""The cascade backend (silero-vad → resemblyzer → clustering → pocketsphinx): see engine/cascade/."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.cascade.pipeline import run_cascade
from engine.speakers import DEFAULT_THRESHOLD
from engine.types import Turn


class CascadeBackend:
    name = "cascade"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold  # clustering distance when the number of speakers is not given

    def transcribe(self, path: Path, num_speakers: int | None = None,
                   progress: Callable[[float, str], None] | None = None,
                   on_partial: Callable[[list[Turn]], None] | None = None) -> list[Turn]:
        return run_cascade(Path(path), num_speakers=num_speakers, progress=progress, threshold=self.threshold,
                           on_partial=on_partial)
