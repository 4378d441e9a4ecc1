"""All sizes and feature settings of the SST model in one dataclass, saved inside every checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class SSTConfig:
    # Front end: causal 80-dim log-mel fbank, 25 ms window, 10 ms hop.
    sample_rate: int = 16000
    n_mels: int = 80
    window_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    # espeak writes exact digital silence; clamping the mel energy keeps log(0) from dominating the
    # feature statistics (a floor of 1e-6 on power is ~-60 dB below typical speech frames).
    log_floor: float = 1e-6
    # Causal convolutional subsampling x4 (two stride-2 convolutions): 40 ms encoder frames.
    subsampling_channels: int = 256
    # Mixture encoder, separator branches (two untied), tied recognition encoder.
    encoder_dim: int = 256
    mixture_layers: int = 2
    separator_layers: int = 1
    recognition_layers: int = 1
    # Residual LSTM layers (zero-initialised, so they start as the identity) after each separator branch
    # and after the recognition encoder: the way a trained checkpoint grows deeper (model.ResidualLSTMStack).
    residual_separator_layers: int = 0
    residual_recognition_layers: int = 0
    # Build every encoder stage from pre-norm residual blocks, x + W·LSTM(LayerNorm(x)), instead of plain
    # stacked LSTMs. Learning starts far sooner: overfitting one fixed batch with CTC, the plain encoder is
    # still near the unigram plateau after 400 updates, the residual one falls below 1.5 nats per character
    # at update 84 (bench/sst_plateau.py, docs/sst.md Session 7). Off for the checkpoints trained before it.
    residual_blocks: bool = False
    # Prediction network (embedding + LSTM) and joint network.
    prediction_embed_dim: int = 128
    prediction_dim: int = 256
    joint_dim: int = 256
    num_channels: int = 2
    vocab_size: int = 41  # set from the token table when a model is built
    # Streaming: 320 ms chunks (8 encoder frames); the model is fully causal so it needs no lookahead.
    chunk_frames: int = 8
    max_symbols_per_frame: int = 5

    @property
    def hop_samples(self) -> int:
        return int(self.sample_rate * self.hop_ms / 1000)

    @property
    def window_samples(self) -> int:
        return int(self.sample_rate * self.window_ms / 1000)

    @property
    def subsampling(self) -> int:
        return 4

    @property
    def frame_seconds(self) -> float:
        """Duration of one encoder frame (after subsampling)."""
        return self.subsampling * self.hop_ms / 1000

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SSTConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
