"""Whisper's log-mel front end: 25 ms Hann windows every 10 ms, 80 slaney mel bins, log10, a floor 8 below
the maximum, scaled to about [-1, 1]. Shapes: S samples (16 kHz), M mel bins, F frames (100 per second)."""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
import torchaudio

SAMPLE_RATE = 16000
N_FFT, HOP = 400, 160
N_MELS = 80
WINDOW_S = 30
WINDOW_SAMPLES = WINDOW_S * SAMPLE_RATE  # 480,000
WINDOW_FRAMES = WINDOW_SAMPLES // HOP  # 3,000 mel frames → 1,500 encoder frames
SECONDS_PER_ENCODER_FRAME = 2 * HOP / SAMPLE_RATE  # 0.02


@cache
def _mel_filters(device: str) -> torch.Tensor:
    fb = torchaudio.functional.melscale_fbanks(
        N_FFT // 2 + 1, 0.0, SAMPLE_RATE / 2, N_MELS, SAMPLE_RATE, norm="slaney", mel_scale="slaney"
    )
    return fb.T.contiguous().to(device)  # (M, N_FFT/2+1)


def log_mel(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(…, S) float audio → (…, M, S/160) log-mel, computed as openai-whisper does (the last STFT frame dropped)."""
    audio = torch.as_tensor(samples, dtype=torch.float32)
    window = torch.hann_window(N_FFT, device=audio.device)
    stft = torch.stft(audio, N_FFT, HOP, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = _mel_filters(str(audio.device)) @ power
    log_spec = mel.clamp(min=1e-10).log10()
    floor = log_spec.amax(dim=(-2, -1), keepdim=True) - 8.0
    return (torch.maximum(log_spec, floor) + 4.0) / 4.0


def window_mel(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    """At most 30 s of audio → one (…, M, 3000) window: padded with silence as Whisper is trained."""
    audio = torch.as_tensor(samples, dtype=torch.float32)[..., :WINDOW_SAMPLES]
    audio = torch.nn.functional.pad(audio, (0, WINDOW_SAMPLES - audio.shape[-1]))
    return log_mel(audio)
