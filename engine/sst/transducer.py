"""The transducer head, factored as torchaudio's models/rnnt.py: a frame encoder over one channel's Whisper
states (subsampled), a predictor over the emitted tokens (state in, state out) and a joiner.

Shapes: N channel-streams, T encoder frames (20 ms), S transducer frames (T / subsample), U tokens,
J joiner width, V the character table (engine/sst/vocab.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from engine.sst import vocab
from engine.sst.settings import SSTSettings

PredictorState = tuple[Tensor, Tensor]  # the LSTM's (h, c), each (1, N, H)


class FrameEncoder(nn.Module):
    """(N, T, D) → (N, S, J): a strided convolution to the transducer's frame rate, then a local one."""

    def __init__(self, settings: SSTSettings, width: int = 384):
        super().__init__()
        self.subsample = settings.subsample
        self.net = nn.Sequential(
            nn.Conv1d(width, settings.transducer_dim, settings.subsample, stride=settings.subsample),
            nn.GELU(),
            nn.Conv1d(settings.transducer_dim, settings.transducer_dim, 5, padding=2),
            nn.GELU(),
        )
        self.out = nn.Linear(settings.transducer_dim, settings.transducer_dim)

    def forward(self, states: Tensor) -> Tensor:
        return self.out(self.net(states.transpose(1, 2)).transpose(1, 2))


class Predictor(nn.Module):
    def __init__(self, settings: SSTSettings):
        super().__init__()
        self.embedding = nn.Embedding(vocab.SIZE, settings.predictor_embed)
        self.lstm = nn.LSTM(settings.predictor_embed, settings.predictor_hidden, batch_first=True)
        self.out = nn.Linear(settings.predictor_hidden, settings.transducer_dim)

    def forward(self, tokens: Tensor, state: PredictorState | None = None) -> tuple[Tensor, PredictorState]:
        """tokens (N, U) → (N, U, J) and the state after them. Blank (id 0) starts every stream."""
        y, state = self.lstm(self.embedding(tokens), state)
        return self.out(y), state


class Joiner(nn.Module):
    def __init__(self, settings: SSTSettings):
        super().__init__()
        self.out = nn.Linear(settings.transducer_dim, vocab.SIZE)

    def forward(self, frames: Tensor, predicted: Tensor) -> Tensor:
        """frames (N, S, J), predicted (N, U+1, J) → logits (N, S, U+1, V)."""
        return self.out(torch.tanh(frames[:, :, None] + predicted[:, None]))
