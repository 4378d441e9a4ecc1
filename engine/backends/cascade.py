"""The cascade backends (silero-vad → recogniser → voice-change cuts → resemblyzer → clustering): see
engine/cascade/. `cascade` recognises with Whisper tiny.en; `cascade-pocketsphinx` with the classic hybrid
recogniser, kept for the comparison. The recogniser is part of the backend's name, so every stored run
(transcripts, evaluation runs) says which one produced it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.cascade.pipeline import CHANGE_THRESHOLD, run_cascade
from engine.speakers import DEFAULT_THRESHOLD
from engine.types import Turn


class CascadeBackend:
    name = "cascade"
    recogniser = "whisper"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, change_threshold: float | None = CHANGE_THRESHOLD):
        self.threshold = threshold  # clustering distance when the number of speakers is not given
        self.change_threshold = change_threshold  # voice-change distance that cuts a VAD segment (None: never)

    def describe(self) -> dict:
        return {
            "recogniser": self.recogniser,
            "clustering_threshold": self.threshold,
            "voice_change_threshold": self.change_threshold,
        }

    def transcribe(
        self,
        path: Path,
        num_speakers: int | None = None,
        progress: Callable[[float, str], None] | None = None,
        on_partial: Callable[[list[Turn]], None] | None = None,
    ) -> list[Turn]:
        return run_cascade(
            Path(path),
            num_speakers=num_speakers,
            progress=progress,
            threshold=self.threshold,
            on_partial=on_partial,
            recogniser_name=self.recogniser,
            change_threshold=self.change_threshold,
        )


class PocketsphinxCascadeBackend(CascadeBackend):
    name = "cascade-pocketsphinx"
    recogniser = "pocketsphinx"
