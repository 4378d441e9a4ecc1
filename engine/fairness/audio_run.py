"""Build an evaluation set by running a Crosstalk backend over audio.

The manifest (CSV/JSONL/Parquet) has utterance_id, speaker_id, audio (a path, relative to the manifest's
folder or absolute) and reference, plus any location and demographic columns. Every file gets the
backend's hypothesis and a resemblyzer embedding (so automatic cohorts work on the result).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from engine import audio
from engine.backends import get_backend
from engine.errors import UserError
from engine.fairness import tables


def read_manifest(path: Path) -> pd.DataFrame:
    frame = tables.load_raw(path)
    if "audio" not in frame.columns:
        raise UserError("The audio manifest needs an 'audio' column with the path of each recording.")
    frame = frame.assign(hypothesis="")
    frame = tables.check_schema(frame)
    missing = [(i, p) for i, p in enumerate(frame["audio"]) if not resolve_audio(path, p).is_file()]
    if missing:
        row, name = missing[0]
        raise UserError(f"Row {row + 1}, column 'audio': {name} does not exist.")
    return frame


def resolve_audio(manifest: Path, audio_path: str) -> Path:
    candidate = Path(str(audio_path))
    return candidate if candidate.is_absolute() else manifest.parent / candidate


def recognise_manifest(
    manifest: Path, backend_name: str, num_speakers: int | None = 1, progress: Callable[[int], None] | None = None
) -> pd.DataFrame:
    """The manifest with `hypothesis` and `embedding` filled in by the backend and the speaker encoder."""
    frame = read_manifest(manifest)
    backend = get_backend(backend_name)
    hypotheses, embeddings = [], []
    for audio_path in frame["audio"]:
        hypothesis, embedding = recognise_file(backend, resolve_audio(manifest, audio_path), num_speakers)
        hypotheses.append(hypothesis)
        embeddings.append(embedding)
        if progress is not None:
            progress(1)
    return frame.assign(hypothesis=hypotheses, embedding=embeddings)


def recognise_file(backend, path: Path, num_speakers: int | None = 1):
    """One file's hypothesis (the backend's words) and its speaker embedding over the whole file."""
    from engine.speakers import embed_segments

    turns = backend.transcribe(path, num_speakers=num_speakers)
    samples = audio.load(path)
    return " ".join(t.text for t in turns), embed_segments(samples, [(0.0, len(samples) / audio.SAMPLE_RATE)])[0]
