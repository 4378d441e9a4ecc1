"""The named standard sets (built under data/sets/<name> by scripts/build_sets.py).

Changing a recipe changes the set: bump the seed or the name rather than editing one in place, so that
numbers reported on a set stay comparable.
"""

from __future__ import annotations

from pathlib import Path

from engine import config
from engine.simulate.sets import SetRecipe, write_set

STANDARD_SETS = {
    # Mixed conditions, training voices and sentences, some reverberation (trainers also mix on the fly).
    "train": SetRecipe(meetings=120, condition="mixed", seed=1001, voices="train", reverb=0.3),
    # Held-out dev accents/voices and sentences, 5 meetings per condition.
    "dev": SetRecipe(meetings=30, condition="balanced", seed=2002, voices="dev"),
    # Held-out test accents/voices and sentences, 10 meetings per condition (0S, 0L, OV10..OV40 in turn).
    "test": SetRecipe(meetings=60, condition="balanced", seed=3003, voices="test"),
    # Real human voices (Speech Accent Archive paragraph), 2 meetings per condition, 2-3 talkers.
    "test-human": SetRecipe(meetings=12, condition="balanced", seed=4004, speakers=(2, 3), voices="human"),
}


def sets_dir() -> Path:
    return config.data_dir() / "sets"


def build_standard_set(name: str, workers: int = 2) -> Path:
    return write_set(sets_dir() / name, STANDARD_SETS[name], workers, extra={"name": name})
