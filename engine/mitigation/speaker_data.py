"""Speakers for the ARW experiment: SAA and LibriSpeech listings, country groups, the held-out split, features.

Everything is worked at **8 kHz**: the Speech Accent Archive is stored as 8 kHz telephone-band Opus, so LibriSpeech
(16 kHz) is brought down to the same band. Trained on a mix of bandwidths, the model could tell the corpora apart
by the 4–8 kHz band alone, and evaluation is on SAA anyway; 8 kHz also halves the feature cost.
Audio is decoded by engine.audio.load (16 kHz, the project's one decoder) and resampled to 8 kHz; the log-mel
features of each file are cached under <data dir>/arw_features (git-ignored), so reruns skip decoding.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import audio, config
from engine.errors import UserError

SAMPLE_RATE = 8000
N_MELS = 40
HOP = 80  # 10 ms frames
WIN = 200  # 25 ms window
N_FFT = 256
FRAMES_PER_S = SAMPLE_RATE // HOP
FEATURE_VERSION = "logmel40-8k-v1"  # part of the cache path: change it when the features change

# Birth-country regions, chosen so that each holds enough speakers to estimate an EER on a 30 % held-out share
# (SAA counts: usa 382, latin_america 191, europe 151, east_se_asia 123, mena 104, british_isles 79,
# canada_oceania 92); countries not listed fall into "other" (about 40 speakers: South Asia, sub-Saharan Africa,
# the anglophone Caribbean, the Pacific).
COUNTRY_GROUPS = {
    "usa": ["usa", "virginia", "us virgin islands"],
    "british_isles": ["uk", "ireland", "isle of man"],
    "canada_oceania": ["canada", "australia", "new zealand", "south africa"],
    "latin_america": [
        "brazil",
        "colombia",
        "el salvador",
        "mexico",
        "bolivia",
        "peru",
        "venezuela",
        "argentina",
        "dominican republic",
        "puerto rico",
        "nicaragua",
        "chile",
        "cuba",
        "panama",
        "uruguay",
        "honduras",
        "costa rica",
        "ecuador",
        "guatemala",
    ],
    "europe": [
        "belgium",
        "france",
        "russia",
        "netherlands",
        "spain",
        "portugal",
        "ukraine",
        "switzerland",
        "belarus",
        "moldova",
        "germany",
        "italy",
        "latvia",
        "estonia",
        "andorra",
        "kazakhstan",
        "kyrgyzstan",
        "uzbekistan",
    ],
    "mena": [
        "saudi arabia",
        "iraq",
        "morocco",
        "lebanon",
        "united arab emirates",
        "egypt",
        "kuwait",
        "qatar",
        "israel",
        "israel (occupied territory)",
        "tunisia",
        "jordan",
        "algeria",
        "syria",
        "libya",
        "yemen",
        "bahrain",
        "oman",
        "sudan",
    ],
    "east_se_asia": ["china", "south korea", "taiwan", "singapore", "malaysia", "philippines"],
}
OTHER_GROUP = "other"
_GROUP_OF_COUNTRY = {country: group for group, countries in COUNTRY_GROUPS.items() for country in countries}


def country_group(country: str) -> str:
    return _GROUP_OF_COUNTRY.get(country.strip().lower(), OTHER_GROUP)


@dataclass(frozen=True)
class Speaker:
    id: str  # "saa:arabic1" | "libri:1688"
    files: tuple[Path, ...]
    sex: str  # "female" | "male"
    country_group: str  # SAA: birth-country region; LibriSpeech: "" (not known)


def saa_speakers() -> list[Speaker]:
    folder = config.shared_data_dir() / "saa"
    with (folder / "metadata.csv").open(newline="") as f:
        return [
            Speaker(f"saa:{r['filename']}", (folder / r["file"],), r["sex"], country_group(r["country"]))
            for r in csv.DictReader(f)
        ]


def librispeech_speakers() -> list[Speaker]:
    folder = config.shared_data_dir() / "librispeech_excerpts"
    files: dict[str, list[Path]] = {}
    sex: dict[str, str] = {}
    with (folder / "manifest.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            files.setdefault(r["speaker"], []).append(folder / r["file"])
            sex[r["speaker"]] = {"F": "female", "M": "male"}[r["sex"]]
    return [Speaker(f"libri:{s}", tuple(files[s]), sex[s], "") for s in sorted(files, key=int)]


def _stable_rank(speaker_id: str, seed: int) -> str:
    """A seed-dependent but platform-independent order (Python's hash() is salted per process)."""
    return hashlib.sha256(f"{seed}:{speaker_id}".encode()).hexdigest()


def stratified_subset(speakers: list[Speaker], limit: int, seed: int) -> list[Speaker]:
    """At most `limit` speakers (0: all), keeping each sex × country-group stratum's share (at least one each)."""
    if limit <= 0 or limit >= len(speakers):
        return list(speakers)
    strata = _strata(speakers, seed)
    quota = {key: max(1, round(limit * len(members) / len(speakers))) for key, members in strata.items()}
    return [s for key, members in strata.items() for s in members[: quota[key]]]


def split_heldout(speakers: list[Speaker], heldout_share: float, seed: int) -> tuple[list[Speaker], list[Speaker]]:
    """(train, held-out), stratified by sex × country group: each stratum gives round(share · size) speakers."""
    if not 0 < heldout_share < 1:
        raise UserError("The held-out share must be between 0 and 1 (e.g. 0.3).")
    train, heldout = [], []
    for members in _strata(speakers, seed).values():
        k = round(heldout_share * len(members))
        heldout += members[:k]
        train += members[k:]
    return train, heldout


def _strata(speakers: list[Speaker], seed: int) -> dict[tuple[str, str], list[Speaker]]:
    strata: dict[tuple[str, str], list[Speaker]] = {}
    for s in sorted(speakers, key=lambda s: _stable_rank(s.id, seed)):
        strata.setdefault((s.sex, s.country_group), []).append(s)
    return dict(sorted(strata.items()))


def load_8k(path: Path) -> np.ndarray:
    """Mono float32 at 8 kHz: engine.audio.load (16 kHz) then an anti-aliased 2:1 resample."""
    import torch
    import torchaudio.functional

    return torchaudio.functional.resample(torch.from_numpy(audio.load(path)), audio.SAMPLE_RATE, SAMPLE_RATE).numpy()


def log_mel(samples: np.ndarray) -> np.ndarray:
    """Log-mel features of 8 kHz audio, shape (frames, N_MELS) float32, 100 frames/s."""
    import torch
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(
        SAMPLE_RATE, n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=N_MELS, f_min=20.0, f_max=3800.0
    )
    with torch.no_grad():
        return torch.log(mel(torch.from_numpy(samples)) + 1e-6).T.contiguous().numpy()


def speaker_features(speaker: Speaker) -> np.ndarray:
    """The speaker's files' features end to end, shape (frames, N_MELS) float32; cached per file as float16."""
    return np.concatenate([_file_features(path) for path in speaker.files]).astype(np.float32)


def _file_features(path: Path) -> np.ndarray:
    relative = path.resolve().relative_to(config.shared_data_dir().resolve())
    cache = (config.data_dir() / "arw_features" / FEATURE_VERSION / relative).with_suffix(".npy")
    if cache.exists():
        return np.load(cache)
    features = log_mel(load_8k(path)).astype(np.float16)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".partial.npy")  # renamed into place, so a killed run leaves no torn cache file
    np.save(partial, features)
    partial.replace(cache)
    return features
