"""THE transcription code path, shared by `python -m engine transcribe` and the page's background job."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine import audio
from engine.backends import Backend, get_backend
from engine.errors import UserError
from engine.types import Turn

NO_SPEECH = "The recording contains no speech."


@dataclass
class TranscriptionResult:
    turns: list[Turn]
    duration_s: float
    processing_s: float

    @property
    def rtf(self) -> float:
        """Real-time factor: seconds of compute per second of audio (below 1 is faster than real time)."""
        return self.processing_s / self.duration_s if self.duration_s > 0 else float("nan")


def transcribe_file(
    path: Path | str,
    backend: str | Backend = "cascade",
    num_speakers: int | None = None,
    progress: Callable[[float, str], None] | None = None,
    on_partial: Callable[[list[Turn]], None] | None = None,
) -> TranscriptionResult:
    """Validate the file (UserError for bad input), then run the backend (a name, or a configured instance).

    A recording in which the backend finds no turn is bad input too (NO_SPEECH)."""
    path = Path(path)
    if num_speakers is not None and num_speakers < 1:
        raise UserError("The number of speakers must be at least 1.")
    engine = get_backend(backend) if isinstance(backend, str) else backend
    info = audio.probe(path)
    started = time.perf_counter()
    turns = sorted(
        engine.transcribe(path, num_speakers=num_speakers, progress=progress, on_partial=on_partial),
        key=lambda t: (t.start, t.end),
    )
    if not turns:  # every backend answers silence the same way (the CLI exits 2, a job records the sentence)
        raise UserError(NO_SPEECH)
    return TranscriptionResult(turns=turns, duration_s=info.duration_s, processing_s=time.perf_counter() - started)
