"""Causal 80-dim log-mel fbank (25 ms window, 10 ms hop) that gives the same frames whole or streamed.

Each frame depends only on its own 400 samples (DC removal, pre-emphasis and window are inside the
frame), so a stream only carries the samples that have not yet filled a frame. No dither: dither would
make streaming and whole-utterance features differ; the log floor handles espeak's digital silence.
"""
from __future__ import annotations

import torch
import torchaudio

from engine.sst.config import SSTConfig


class Fbank(torch.nn.Module):
    """waveform (B, S) float32 at config.sample_rate  ->  log-mel (B, F, n_mels), F = 1 + (S - 400) // 160."""

    def __init__(self, config: SSTConfig):
        super().__init__()
        self.config = config
        n = config.window_samples
        # Povey window (Kaldi's default): a Hann window raised to 0.85.
        self.register_buffer("window", torch.hann_window(n, periodic=False).pow(0.85), persistent=False)
        mel = torchaudio.functional.melscale_fbanks(
            config.n_fft // 2 + 1, 20.0, config.sample_rate / 2, config.n_mels, config.sample_rate,
            norm=None, mel_scale="htk")
        self.register_buffer("mel", mel, persistent=False)

    def num_frames(self, num_samples: int) -> int:
        n, hop = self.config.window_samples, self.config.hop_samples
        return 0 if num_samples < n else 1 + (num_samples - n) // hop

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        n, hop = self.config.window_samples, self.config.hop_samples
        if waveform.shape[-1] < n:
            return waveform.new_zeros(waveform.shape[0], 0, self.config.n_mels)
        frames = waveform.unfold(-1, n, hop)  # (B, F, n)
        frames = frames - frames.mean(-1, keepdim=True)
        frames = torch.cat([frames[..., :1] * 0.03, frames[..., 1:] - 0.97 * frames[..., :-1]], dim=-1)
        spectrum = torch.fft.rfft(frames * self.window, n=self.config.n_fft).abs().pow(2)
        return (spectrum @ self.mel).clamp_min(self.config.log_floor).log()

    def stream(self, samples: torch.Tensor, pending: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of the frames completed by `samples` (B, S); returns (features, new pending samples).

        `pending=None` starts a stream. The pending tail is the audio after the last complete hop.
        """
        buffer = samples if pending is None else torch.cat([pending, samples], dim=-1)
        count = self.num_frames(buffer.shape[-1])
        feats = self(buffer)
        return feats, buffer[..., count * self.config.hop_samples:]
