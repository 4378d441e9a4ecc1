"""The sidecar separator (after Meng et al., 2023/2024): a Conv-TasNet-style stack of dilated depthwise
convolutions over the mixture's encoder states, giving one multiplicative mask per output channel.

Shapes: B batch, T encoder frames (20 ms), D Whisper width (384), C channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from engine.sst.settings import SSTSettings

MASK_INIT_BIAS = 3.0  # sigmoid(3) = 0.95: at the start both channels pass the mixture almost unchanged


class ConvBlock(nn.Module):
    """1x1 conv up, dilated depthwise conv, 1x1 conv down, residual (Conv-TasNet's TCN block)."""

    def __init__(self, bottleneck: int, hidden: int, kernel: int, dilation: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(bottleneck, hidden, 1),
            nn.PReLU(),
            nn.GroupNorm(1, hidden),
            nn.Conv1d(hidden, hidden, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation, groups=hidden),
            nn.PReLU(),
            nn.GroupNorm(1, hidden),
            nn.Conv1d(hidden, bottleneck, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class Separator(nn.Module):
    def __init__(self, settings: SSTSettings, width: int = 384):
        super().__init__()
        self.channels = settings.channels
        self.norm = nn.LayerNorm(width)
        self.down = nn.Conv1d(width, settings.bottleneck, 1)
        self.blocks = nn.Sequential(
            *(ConvBlock(settings.bottleneck, settings.hidden, settings.kernel, d) for d in settings.dilations)
        )
        self.masks = nn.Conv1d(settings.bottleneck, settings.channels * width, 1)
        nn.init.zeros_(self.masks.weight)
        nn.init.constant_(self.masks.bias, MASK_INIT_BIAS)

    def forward(self, mixture: Tensor) -> Tensor:
        """mixture (B, T, D) → channels (B, C, T, D): the mixture states under each channel's mask."""
        h = self.blocks(self.down(self.norm(mixture).transpose(1, 2)))
        masks = torch.sigmoid(self.masks(h)).unflatten(1, (self.channels, -1)).transpose(2, 3)  # (B, C, T, D)
        return mixture[:, None] * masks
