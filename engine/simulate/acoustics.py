"""Room and channel effects for simulated meetings: loudness, synthetic reverberation, coloured noise."""

from __future__ import annotations

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.signal import fftconvolve

TARGET_RMS_DB = -26.0  # every utterance is levelled here before the speaker's own gain
SPEAKER_GAIN_DB = (-6.0, 6.0)
TURN_GAIN_DB = (-2.0, 2.0)
SNR_DB = (10.0, 30.0)
RT60_S = (0.2, 0.6)
NOISE_COLOUR = (0.0, 2.0)  # spectral slope exponent: 0 white, 1 pink, 2 brown


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def level(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale to TARGET_RMS_DB + gain_db (RMS over the non-silent samples)."""
    active = audio[np.abs(audio) > 1e-4]
    rms = float(np.sqrt(np.mean(active**2))) if active.size else 0.0
    if rms == 0.0:
        return audio
    return (audio * (db_to_gain(TARGET_RMS_DB + gain_db) / rms)).astype(np.float32)


def synthetic_rir(rt60: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A direct path plus exponentially decaying noise (60 dB down after rt60), early part sparse."""
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # ln(1000) ≈ 6.9: -60 dB at rt60
    delay = int(rng.uniform(0.002, 0.008) * sample_rate)  # first reflections after a few ms
    tail[:delay] = 0.0
    rir = 0.3 * tail / np.sqrt(np.sum(tail**2) + 1e-12)
    rir[0] = 1.0
    return rir.astype(np.float32)


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve, keeping the tail (it rings on after the dry turn end, as in a room)."""
    return fftconvolve(audio, rir).astype(np.float32)


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    size = next_fast_len(n)  # a length with small prime factors: the FFT of odd lengths is slow
    spectrum = rfft(rng.standard_normal(size))
    freqs = np.arange(len(spectrum), dtype=float)
    freqs[0] = 1.0
    noise = irfft(spectrum / freqs ** (exponent / 2), size)[:n]
    return (noise / (np.std(noise) + 1e-12)).astype(np.float32)


def noise_at_snr(
    speech: np.ndarray, active: np.ndarray, snr_db: float, exponent: float, rng: np.random.Generator
) -> np.ndarray:
    """Noise whose power is the speech power (over samples where someone talks) minus snr_db."""
    speech_power = float(np.mean(speech[active] ** 2)) if active.any() else 1e-6
    return coloured_noise(len(speech), exponent, rng) * np.float32(np.sqrt(speech_power / 10 ** (snr_db / 10)))
