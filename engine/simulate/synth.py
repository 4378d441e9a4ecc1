"""Text to speech with espeak-ng (and mbrola through it): float32, 16 kHz mono, deterministic, cached.

The output is quantised to 16-bit steps so that a cached utterance (stored as lossless 16-bit FLAC) and a
freshly synthesised one are bit-identical. espeak writes digital silence around and between words; it is
kept as is on purpose: the meeting mixer adds noise, and trainers can add their own.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import config
from engine.simulate.voices import Voice

SAMPLE_RATE = 16_000
CACHE_VERSION = "1"  # bump when synthesis or resampling changes, so stale audio is not reused


def cache_dir() -> Path:
    return config.data_dir() / "tts-cache"


def _cache_path(text: str, voice: Voice) -> Path:
    key = "\n".join([CACHE_VERSION, voice.engine, voice.espeak_name, str(voice.pitch), str(voice.rate), text])
    digest = hashlib.sha256(key.encode()).hexdigest()
    return cache_dir() / digest[:2] / f"{digest}.flac"


def _espeak(text: str, voice: Voice) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="espeak-") as tmp:
        wav = Path(tmp) / "out.wav"
        cmd = [
            "espeak-ng",
            "-v",
            voice.espeak_name,
            "-p",
            str(voice.pitch),
            "-s",
            str(voice.rate),
            "-w",
            str(wav),
            "--",
            text,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        # mbrola prints harmless warnings (unknown diphones) on stderr, so only the result counts.
        audio, rate = (
            sf.read(wav, dtype="float32", always_2d=True)
            if wav.exists() and wav.stat().st_size > 44
            else (np.zeros((0, 1), np.float32), 0)
        )
        if result.returncode != 0 or not np.any(audio):
            raise RuntimeError(f"espeak-ng made no audio with voice {voice.espeak_name}: {result.stderr.strip()}")
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = to_16k(audio, rate)
    return quantise(audio)


@lru_cache(maxsize=4)
def _resampler(rate: int):
    # Imported here so that merely listing CLI commands does not load torch.
    import torchaudio

    return torchaudio.transforms.Resample(rate, SAMPLE_RATE)


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample to 16 kHz; the sinc kernel is built once per input rate (building costs more than applying)."""
    import torch

    return _resampler(rate)(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))).numpy()


def quantise(audio: np.ndarray) -> np.ndarray:
    return (np.clip(np.round(audio * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """`text` spoken by `voice`: float32 samples at 16 kHz (cached on disk by voice and text)."""
    path = _cache_path(text, voice)
    if path.exists():
        audio, _ = sf.read(path, dtype="int16")
        return audio.astype(np.float32) / 32768.0
    audio = _espeak(text, voice)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: parallel workers may synthesise the same utterance at once.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.flac")
    os.close(fd)
    sf.write(tmp, np.round(audio * 32768.0).astype(np.int16), SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    os.replace(tmp, path)
    return audio
