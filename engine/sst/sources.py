"""Real speech for SST training: LibriSpeech excerpts with Whisper's transcript of each clean file as a
pseudo-label (marked as such in every example made from it), split by speaker so some stay held out.

    labels = librispeech_labels()   # builds data/sst/librispeech_labels.json once (resumable), then reads it

The Speech Accent Archive is evaluation material here (`test-human` and the fairness review): not trained on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from engine import audio, config

HELD_OUT_PERCENT = 10  # of LibriSpeech speakers, by a hash of the speaker id: never mixed into training
MIN_WORDS = 2


@dataclass(frozen=True)
class Utterance:
    path: Path
    speaker: str
    text: str  # Whisper's transcript of the clean file (a pseudo-label)
    words: tuple[tuple[str, float, float], ...]  # (word, start, end) in seconds from the file's start
    duration_s: float


def librispeech_dir() -> Path:
    return config.shared_data_dir() / "librispeech_excerpts"


def labels_path() -> Path:
    return config.data_dir() / "sst" / "librispeech_labels.json"


def split_of(speaker: str) -> str:
    bucket = int(hashlib.sha256(f"librispeech:{speaker}".encode()).hexdigest(), 16) % 100
    return "held_out" if bucket < HELD_OUT_PERCENT else "train"


def build_labels(path: Path | None = None) -> Path:
    """Transcribe every excerpt with Whisper (CTranslate2) once; saved every 25 files, so a kill resumes."""
    from engine.whisper.runtime import recognize

    path = path or labels_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    done = json.loads(path.read_text()) if path.exists() else {}
    with open(librispeech_dir() / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    todo = [r for r in rows if r["file"] not in done]
    for i, row in enumerate(tqdm(todo, desc="pseudo-labels", unit="file")):
        samples = audio.load(librispeech_dir() / row["file"])
        words = recognize(samples)
        done[row["file"]] = {
            "speaker": row["speaker"],
            "duration_s": len(samples) / audio.SAMPLE_RATE,
            "words": [[w.text, w.start, w.end] for w in words],
        }
        if i % 25 == 24 or i == len(todo) - 1:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(done))
            os.replace(tmp, path)
    return path


def librispeech_utterances(split: str = "train") -> list[Utterance]:
    """The pseudo-labelled excerpts of one speaker split ("train" or "held_out")."""
    path = labels_path()
    if not path.exists():
        build_labels(path)
    out = []
    for file, row in sorted(json.loads(path.read_text()).items()):
        if split_of(row["speaker"]) != split or len(row["words"]) < MIN_WORDS:
            continue
        words = tuple((w, float(s), float(e)) for w, s, e in row["words"])
        out.append(
            Utterance(
                librispeech_dir() / file, row["speaker"], " ".join(w for w, _, _ in words), words, row["duration_s"]
            )
        )
    return out


if __name__ == "__main__":
    print(build_labels())
