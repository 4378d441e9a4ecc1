"""A pool of training windows with their frozen lower-encoder states cached in float16, so that an update
costs only the separator, Whisper's upper blocks, the decoder and the heads.

    DIR/pool.json         what the pool is (source, window length, split point, size, seed)
    DIR/shard-0000.pt     {"states": (n, T, D) float16, "windows": [turn references ...]}

Built shard by shard (a killed build resumes at the next missing shard); deterministic from the seed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.errors import UserError
from engine.simulate.meetings import spec_seed
from engine.sst.windows import SOURCES, Window, WindowTurn, libri_window, sim_window
from engine.whisper.features import log_mel

SHARD = 32


@dataclass(frozen=True)
class PoolSpec:
    source: str  # "sim" | "libri"
    windows: int
    seed: int
    window_s: float = 15.0
    split_after: int = 2
    voices: str = "train"  # "sim" only: the simulator's voice and sentence split ("dev" for validation)

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"pool source is one of {SOURCES}, not {self.source!r}")


def mel_frames(window_s: float) -> int:
    return int(round(window_s * 100))


def window_mel(samples: np.ndarray, window_s: float) -> torch.Tensor:
    """(80, 100·window_s) log-mel of exactly `window_s` seconds (padded with silence)."""
    n = int(window_s * 16000)
    audio = np.zeros(n, np.float32)
    audio[: min(n, len(samples))] = samples[:n]
    return log_mel(audio)


def make_window(spec: PoolSpec, index: int, libri_pool=None) -> Window:
    seed = spec_seed(spec.seed, index)
    if spec.source == "sim":
        window = sim_window(seed, spec.window_s, spec.voices)
    else:
        window = libri_window(seed, spec.window_s, libri_pool)
    window.assign_channels()
    return window


@torch.no_grad()
def build_pool(directory: Path, spec: PoolSpec, transcriber) -> Path:
    if transcriber.split != spec.split_after:
        raise ValueError(
            f"the pool caches states after block {spec.split_after}, the model splits after {transcriber.split}"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = directory / "pool.json"
    if meta.exists() and json.loads(meta.read_text()) != asdict(spec):
        raise UserError(f"{directory} holds another pool ({meta.read_text().strip()}); choose another folder.")
    meta.write_text(json.dumps(asdict(spec)) + "\n")
    libri = None
    if spec.source == "libri":
        from engine.sst.sources import librispeech_utterances

        libri = librispeech_utterances("train")
    shards = (spec.windows + SHARD - 1) // SHARD
    device = transcriber.whisper.encoder.conv1.weight.device
    for shard in tqdm(range(shards), desc=f"pool {directory.name}", unit="shard"):
        path = directory / f"shard-{shard:04d}.pt"
        if path.exists():
            continue
        indices = range(shard * SHARD, min(spec.windows, (shard + 1) * SHARD))
        windows = [make_window(spec, i, libri) for i in indices]
        states = [
            transcriber.lower(window_mel(w.audio, spec.window_s)[None].to(device))[0].half().cpu() for w in windows
        ]
        record = [
            {
                "source": w.source,
                "condition": w.condition,
                "pseudo_label": w.pseudo_label,
                "turns": [asdict(t) for t in w.turns],
            }
            for w in windows
        ]
        tmp = path.with_suffix(".tmp")
        torch.save({"states": torch.stack(states), "windows": record}, tmp)
        os.replace(tmp, path)
    return directory


@dataclass
class PooledWindow:
    states: torch.Tensor  # (T, D) float16
    turns: list[WindowTurn]
    source: str
    condition: str
    pseudo_label: bool


def load_pool(directory: Path) -> tuple[PoolSpec, list[PooledWindow]]:
    directory = Path(directory)
    meta = directory / "pool.json"
    if not meta.exists():
        raise UserError(f"{directory} is not a training pool (no pool.json).")
    spec = PoolSpec(**json.loads(meta.read_text()))
    items = []
    for path in sorted(directory.glob("shard-*.pt")):
        shard = torch.load(path, weights_only=True)
        for states, w in zip(shard["states"], shard["windows"]):
            items.append(
                PooledWindow(
                    states, [WindowTurn(**t) for t in w["turns"]], w["source"], w["condition"], w["pseudo_label"]
                )
            )
    return spec, items
