"""A small speaker-embedding model (TDNN + statistics pooling) and its metric-learning loss.

Shapes: B crops, T frames (100 per second), F = 40 log-mel bins, D = embedding size, S speakers per batch.
The batch layout is two crops per speaker: rows 0..S-1 are the first crops, rows S..2S-1 the second crops
of the same speakers in the same order, so crop i and crop i+S form the positive pair.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.mitigation.speaker_data import N_MELS


class SpeakerEmbedder(nn.Module):
    """log-mel (B, T, F) → L2-normalised embedding (B, D).

    Four 1-D convolutions (context 5, dilated 3×2, 3×3, 1: ~15 frames of receptive field, as in an x-vector
    TDNN but narrower), mean and standard deviation over time, one linear layer. Features are mean-normalised
    per crop first, which removes the channel (microphone, codec) offset that would otherwise identify a file.
    """

    def __init__(self, channels: int = 128, embedding_dim: int = 128):
        super().__init__()

        def block(c_in: int, c_out: int, kernel: int, dilation: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, dilation=dilation), nn.ReLU(), nn.BatchNorm1d(c_out))

        self.frames = nn.Sequential(
            block(N_MELS, channels, 5, 1),
            block(channels, channels, 3, 2),
            block(channels, channels, 3, 3),
            block(channels, 2 * channels, 1, 1),
        )
        self.project = nn.Linear(4 * channels, embedding_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features - features.mean(dim=1, keepdim=True)
        h = self.frames(x.transpose(1, 2))  # (B, 2C, T')
        stats = torch.cat([h.mean(dim=2), h.std(dim=2)], dim=1)  # (B, 4C)
        return F.normalize(self.project(stats), dim=1)


class AngularPrototypical(nn.Module):
    """Angular prototypical loss (Chung et al., 2020) with two crops per speaker, one row per speaker.

    Scores every first crop against every second crop by scaled cosine w·cos (w > 0, learnt; a bias would
    cancel in the softmax) and takes the cross-entropy of the correct speaker in both directions. Rows are
    returned unreduced, so that ARW can weight row s by its positive pair's weight λ_s + λ_{s+S}.
    """

    def __init__(self, init_scale: float = 10.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(init_scale))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """embeddings (2S, D) → per-speaker loss (S,)."""
        n_speakers = embeddings.shape[0] // 2
        logits = self.scale.clamp(min=1e-3) * embeddings[:n_speakers] @ embeddings[n_speakers:].T  # (S, S)
        target = torch.arange(n_speakers)
        return (
            F.cross_entropy(logits, target, reduction="none") + F.cross_entropy(logits.T, target, reduction="none")
        ) / 2


def sample_batch(
    features: list[np.ndarray], n_speakers: int, crop_frames: int, rng: np.random.Generator
) -> tuple[torch.Tensor, np.ndarray]:
    """Two non-overlapping random crops from each of n_speakers distinct speakers.

    features: per speaker (frames, F), each at least 2 · crop_frames long. Returns crops (2S, crop_frames, F),
    first crops then second crops in the same speaker order, and the chosen speaker indices (S,).
    """
    chosen = rng.choice(len(features), size=n_speakers, replace=False)
    first, second = [], []
    for index in chosen:
        frames = features[index]
        a = rng.integers(0, len(frames) - 2 * crop_frames + 1)
        b = rng.integers(a + crop_frames, len(frames) - crop_frames + 1)
        if rng.random() < 0.5:  # either crop may come first in the recording
            a, b = b, a
        first.append(frames[a : a + crop_frames])
        second.append(frames[b : b + crop_frames])
    return torch.from_numpy(np.stack(first + second)), chosen


@torch.no_grad()
def embed(model: SpeakerEmbedder, crops: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """crops (N, T, F) → embeddings (N, D), in eval mode (BatchNorm running statistics)."""
    model.eval()
    out = [model(torch.from_numpy(crops[i : i + batch_size])).numpy() for i in range(0, len(crops), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, model.project.out_features), dtype=np.float32)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
