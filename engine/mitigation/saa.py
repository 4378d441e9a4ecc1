"""Speech Accent Archive audio behind an evaluation set's speakers (../shared/data/saa, read in place).

A set built from the archive (engine/fairness/demo.py) names its speakers "saa<speakerid>"; metadata.csv
maps the archive's `speakerid` to its `file`, and every speaker reads the paragraph in transcript.txt.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from engine import config
from engine.errors import UserError

SPEAKER_KEY = re.compile(r"^saa(\d+)$")


def saa_dir() -> Path:
    return config.shared_data_dir() / "saa"


@lru_cache(maxsize=4)
def _files_by_speakerid(folder: Path) -> dict[int, Path]:
    meta = pd.read_csv(folder / "metadata.csv", usecols=["speakerid", "file"])
    return {int(sid): folder / file for sid, file in zip(meta["speakerid"], meta["file"])}


def paragraph() -> str:
    """The one reference text every archive speaker reads."""
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
            raise UserError(f"Speaker '{key}' is not a Speech Accent Archive speaker (expected 'saa<speakerid>' "
                            f"with a row in {folder / 'metadata.csv'}).")
        paths[key] = files[int(match.group(1))]
    return paths
