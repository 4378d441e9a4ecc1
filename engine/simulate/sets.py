"""Write a set of simulated meetings to a directory, in parallel and resumably, and read it back.

    DIR/recipe.json              the arguments that rebuild the set bit-identically
    DIR/audio/<session>.wav      16 kHz 16-bit mono mixture
    DIR/meetings/<session>.json  the meeting's spec, measured overlap, SNR, talkers and reference turns
    DIR/reference.seglst.json    every reference turn (SegLST), for meeteval and the evaluation harness

Nothing inside depends on when, where or with how many workers it was built. A killed run resumes: a
meeting counts as done once its JSON exists (written after its audio, both by rename).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from engine.errors import UserError
from engine.simulate.meetings import MeetingSpec, build_meeting, random_spec, spec_seed

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SetRecipe:
    """What a set is made of: a fixed condition, "mixed" (drawn per meeting) or "balanced" (cycled)."""

    meetings: int
    condition: str
    seed: int
    speakers: tuple[int, int] = (2, 4)
    voices: str = "train"
    max_concurrent: int = 2
    reverb: float = 0.0  # share of meetings with reverberation
    duration_s: tuple[float, float] = (30.0, 60.0)

    def to_json(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "meetings": self.meetings,
            "condition": self.condition,
            "seed": self.seed,
            "speakers": list(self.speakers),
            "voices": self.voices,
            "max_concurrent": self.max_concurrent,
            "reverb": self.reverb,
            "duration_s": list(self.duration_s),
        }

    @classmethod
    def from_json(cls, data: dict) -> SetRecipe:
        return cls(
            data["meetings"],
            data["condition"],
            data["seed"],
            tuple(data["speakers"]),
            data["voices"],
            data["max_concurrent"],
            data["reverb"],
            tuple(data["duration_s"]),
        )


def meeting_specs(recipe: SetRecipe) -> list[MeetingSpec]:
    from engine.simulate.turn_placement import CONDITIONS

    specs = []
    for i in range(recipe.meetings):
        seed = spec_seed(recipe.seed, i)
        condition = CONDITIONS[i % len(CONDITIONS)] if recipe.condition == "balanced" else recipe.condition
        reverb = bool(np.random.default_rng([seed, 3]).random() < recipe.reverb)
        spec = random_spec(
            seed,
            condition,
            recipe.speakers,
            recipe.voices,
            max_concurrent=recipe.max_concurrent,
            reverb=reverb,
            duration_s=recipe.duration_s,
        )
        specs.append(replace(spec, session_id=f"{spec.condition}_{i:04d}"))
    return specs


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _build_and_write(spec: MeetingSpec, out: Path) -> str:
    meeting = build_meeting(spec)
    wav, tmp = out / "audio" / f"{spec.session_id}.wav", out / "audio" / f"{spec.session_id}.tmp.wav"
    sf.write(tmp, meeting.audio, meeting.sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, wav)
    _write_json(out / "meetings" / f"{spec.session_id}.json", {**meeting.info(), "reference": meeting.reference()})
    return spec.session_id


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core; torch's own threads would fight over them


def write_set(out: Path, recipe: SetRecipe, workers: int = 2, extra: dict | None = None) -> Path:
    """Build (or finish building) the set `recipe` describes in `out`."""
    out = Path(out)
    recipe_json = {**recipe.to_json(), **(extra or {})}
    recipe_path = out / "recipe.json"
    if recipe_path.exists() and json.loads(recipe_path.read_text()) != recipe_json:
        raise UserError(f"{out} holds a different set; choose another --out or delete it first.")
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "meetings").mkdir(exist_ok=True)
    _write_json(recipe_path, recipe_json)
    todo = [s for s in meeting_specs(recipe) if not (out / "meetings" / f"{s.session_id}.json").exists()]
    with tqdm(total=recipe.meetings, initial=recipe.meetings - len(todo), desc="meetings", unit="meeting") as bar:
        if workers <= 1:
            for spec in todo:
                _build_and_write(spec, out)
                bar.update()
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
                for _ in pool.map(_build_and_write, todo, [out] * len(todo)):
                    bar.update()
    _write_json(out / "reference.seglst.json", [seg for m in load_meetings(out) for seg in m["reference"]])
    return out


def load_meetings(directory: Path) -> list[dict]:
    """Every meeting's JSON (spec, measurements, reference), in session order."""
    directory = Path(directory)
    if not (directory / "recipe.json").exists():
        raise UserError(
            f"{directory} is not a simulated set (no recipe.json); build one with `python -m engine simulate`."
        )
    return [json.loads(p.read_text()) for p in sorted((directory / "meetings").glob("*.json"))]
