"""Small real Whisper-based SST models for tests: the real frozen Whisper tiny.en with a tiny separator and
heads, untrained or set by hand to pass the mixture through channel 0."""

from __future__ import annotations

import torch

from engine.sst.network import SST, build
from engine.sst.settings import SSTSettings

TINY = SSTSettings(
    bottleneck=32, hidden=64, dilations=(1, 2), transducer_dim=32, predictor_embed=16, predictor_hidden=32
)


def tiny_model(seed: int = 0) -> SST:
    torch.manual_seed(seed)
    return build(TINY).eval()


def passthrough_model() -> SST:
    """Both channels pass the mixture through unchanged (masks of exactly 1.0) and the activity head calls
    every frame active: each channel then is Whisper alone, word for word."""
    model = tiny_model()
    with torch.no_grad():
        model.transcriber.separator.masks.weight.zero_()
        model.transcriber.separator.masks.bias.fill_(30.0)  # sigmoid(30) rounds to 1.0 in float32
        model.activity.weight.zero_()
        model.activity.bias.fill_(20.0)
    return model
