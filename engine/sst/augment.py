"""Training-time augmentation against the gap between training voices and unseen ones.

A checkpoint trained without it (overlap30, 5,600 updates) recognised its training voices far better than
held-out ones (single-talker WER 48 % on train-split voices, 64 % on dev voices, 80 % on test voices), so a
stage can perturb what makes a voice:
* speed perturbation (`speed_perturb`): resampling by a factor near 1 changes tempo, pitch and formant
  positions together, like Kaldi's 0.9/1.0/1.1 sox speed; applied per speaker before mixing;
* frequency masking (`SpecAugment`): bands of mel channels hidden from the encoder. Time masks are left
  out: they would hide turn boundaries that the `<eot>` penalty and the activity targets are timed by.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch


def speed_perturb(audio: np.ndarray, factor: float) -> np.ndarray:
    """(S,) samples played `factor` times faster: (round(S / factor),) samples, linear interpolation."""
    if factor == 1.0 or len(audio) < 2:
        return audio
    positions = np.arange(int(round(len(audio) / factor))) * factor
    return np.interp(positions, np.arange(len(audio)), audio.astype(np.float32)).astype(np.float32)


@dataclass
class SpecAugment:
    freq_masks: int = 0  # bands per example
    max_freq_width: int = 10  # mel channels per band, drawn from 0..max

    def apply(self, feats: torch.Tensor, fill: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """feats (B, F, n_mels) raw log-mel; masked channels take `fill` (n_mels,), the model's feature
        mean, so they are zero after the model's normalisation."""
        if not self.freq_masks:
            return feats
        feats = feats.clone()
        n_mels = feats.shape[-1]
        for b in range(feats.shape[0]):
            for _ in range(self.freq_masks):
                width = rng.randint(0, self.max_freq_width)
                low = rng.randint(0, n_mels - width)
                feats[b, :, low:low + width] = fill[low:low + width]
        return feats
