"""The demo meeting a first-time visitor sees: seeded into the database on start, once (by sha256).

The audio and its cascade transcript are committed under engine/assets/ and rebuilt by
scripts/make_demo.py, so a fresh install shows a transcript without running any model.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine import persistence
from engine.types import Turn, Word

ASSETS = Path(__file__).resolve().parent / "assets"
DEMO_AUDIO = ASSETS / "demo_meeting.flac"
DEMO_TRANSCRIPT = ASSETS / "demo_meeting.seglst.json"
DEMO_REFERENCE = ASSETS / "demo_meeting.reference.seglst.json"
DEMO_SPEAKERS = 3


def read_seglst(path: Path) -> list[Turn]:
    return [
        Turn(
            speaker=row["speaker"],
            start=float(row["start_time"]),
            end=float(row["end_time"]),
            words=[Word(w) for w in row["words"].split()],
        )
        for row in json.loads(path.read_text())
    ]


def seed_demo(url: str | None = None) -> persistence.RecordingInfo:
    """Add the demo recording and its transcript unless they are there already; return the recording.

    The recording is stored first (a unit of work by itself); its run and turns then commit together."""
    rec = persistence.add_recording(DEMO_AUDIO, DEMO_AUDIO.name, is_demo=True, url=url)
    if persistence.latest_finished_run(rec.id, url) is None:
        with persistence.session_scope(url) as s:
            run = persistence.create_run(s, rec.id, "cascade", {"num_speakers": DEMO_SPEAKERS})
            persistence.save_turns(s, run.id, read_seglst(DEMO_TRANSCRIPT))
    return rec
