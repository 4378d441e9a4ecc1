"""The cascade backend (silero-vad → resemblyzer → clustering → pocketsphinx): see engine/cascade/."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.cascade.pipeline import run_cascade
from engine.types import Turn


class CascadeBackend:
    name = "cascade"

    def transcribe(self, path: Path, num_speakers: int | None = None,
                   progress: Callable[[float, str], None] | None = None) -> list[Turn]:
        return run_cascade(Path(path), num_speakers=num_speakers, progress=progress)
