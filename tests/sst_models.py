"""Tiny SST models shared by the SST tests (real, untrained models; no mocks)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from engine.sst.config import SSTConfig
from engine.sst.features import Fbank
from engine.sst.model import SSTModel
from engine.sst.tokens import TokenTable

TABLE = TokenTable()
TINY = SSTConfig(encoder_dim=48, subsampling_channels=32, mixture_layers=1, prediction_dim=40,
                 prediction_embed_dim=16, joint_dim=40, vocab_size=len(TABLE),
                 residual_separator_layers=1, residual_recognition_layers=1)
# The same sizes built from pre-norm residual blocks (SSTConfig.residual_blocks).
TINY_RESIDUAL = replace(TINY, residual_blocks=True)
BOTH_KINDS = pytest.mark.parametrize("config", [TINY, TINY_RESIDUAL], ids=["plain", "residual-blocks"])


def tiny_model(seed: int = 0, config: SSTConfig = TINY) -> SSTModel:
    torch.manual_seed(seed)
    return SSTModel(config).eval()


def lively_model(speech: torch.Tensor, config: SSTConfig = TINY) -> SSTModel:
    """An untrained model whose greedy output varies with the audio: at the default initialisation
    every frame gives the same symbols, which would make a streaming test blind. Larger random weights,
    feature statistics of the audio, and a blank bias give a few hundred varied tokens on 7 s."""
    model = tiny_model(config=config)
    feats = Fbank(config)(speech[None])[0]
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
        model.feat_mean.copy_(feats.mean(0))
        model.feat_std.copy_(feats.std(0))
        model.joint_out.bias[0] += 3.0
    return model
