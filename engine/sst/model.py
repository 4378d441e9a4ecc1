"""The SST network: causal conv subsampling, mixture LSTM encoder, two untied separator branches and a
tied transducer (recognition encoder, prediction network, joint) run over both channels at once.

Shape legend: B batch of mixtures, C channels (2), N = C*B channel-streams stacked channel-major
(row c*B + b is channel c of mixture b), F fbank frames (10 ms), T encoder frames (40 ms), U target
tokens, D subsampling output width, H encoder width, P prediction width, V vocabulary.

Every layer is causal, so `encode` on a whole utterance and `encode` over consecutive chunks with the
state carried give the same frames; the chunk length in fbank frames must be a multiple of 4 except
for the last one. `state=None` starts a stream. Per-stream objects (decoders) live outside the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.sst.config import SSTConfig

LSTMState = tuple[torch.Tensor, torch.Tensor]


class CausalConvSubsampling(nn.Module):
    """(B, F, n_mels) -> (B, ceil(ceil(F/2)/2), D) with two stride-2, kernel-3 convolutions over time.

    Instead of padding, each convolution is fed the last 2 input frames of the previous call (zeros at
    the start), which makes it both causal and streamable.
    """

    context = 2  # kernel 3 - 1

    def __init__(self, n_mels: int, channels: int, out_dim: int):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, channels, kernel_size=3, stride=2)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, stride=2)
        self.out = nn.Linear(channels, out_dim)

    @staticmethod
    def _causal(conv: nn.Conv1d, x: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (B, channels_in, F); context: (B, channels_in, 2)
        if context is None:
            context = x.new_zeros(x.shape[0], x.shape[1], CausalConvSubsampling.context)
        padded = torch.cat([context, x], dim=-1)
        return torch.relu(conv(padded)), padded[..., -CausalConvSubsampling.context:]

    def forward(self, feats: torch.Tensor, state: list[torch.Tensor] | None = None):
        x = feats.transpose(1, 2)
        x, c1 = self._causal(self.conv1, x, None if state is None else state[0])
        x, c2 = self._causal(self.conv2, x, None if state is None else state[1])
        return self.out(x.transpose(1, 2)), [c1, c2]

    @staticmethod
    def output_lengths(feat_lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(torch.div(feat_lengths + 1, 2, rounding_mode="floor") + 1, 2, rounding_mode="floor")


class ResidualLSTMStack(nn.Module):
    """(B, T, H) -> (B, T, H): layers of x + W·LSTM(x), W zero-initialised; with `pre_norm`,
    x + W·LSTM(LayerNorm(x)).

    A stack added to a trained model starts as the identity, so a shipped checkpoint can grow deeper
    (`TrainConfig.init_from` with more residual layers) without losing what it has learnt. With no
    layers it is the identity and holds no parameters, which keeps older checkpoints loadable.
    Pre-norm stacks are what a model built with `SSTConfig.residual_blocks` is made of.
    """

    def __init__(self, dim: int, layers: int, pre_norm: bool = False):
        super().__init__()
        self.lstms = nn.ModuleList(nn.LSTM(dim, dim, batch_first=True) for _ in range(layers))
        self.outs = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) if pre_norm else nn.Identity() for _ in range(layers))
        for out in self.outs:
            nn.init.zeros_(out.weight)
            nn.init.zeros_(out.bias)

    def forward(self, x: torch.Tensor, state: list[LSTMState] | None = None):
        new_state = []
        for i, (lstm, out, norm) in enumerate(zip(self.lstms, self.outs, self.norms)):
            y, s = lstm(norm(x), None if state is None else state[i])
            x = x + out(y)
            new_state.append(s)
        return x, new_state


@dataclass
class EncoderState:
    """Everything `SSTModel.encode` carries between chunks of one batch of streams."""

    conv: list[torch.Tensor]
    mixture: LSTMState
    separators: list[LSTMState]
    separator_residuals: list[list[LSTMState]]
    recognition: LSTMState
    recognition_residual: list[LSTMState]


class SSTModel(nn.Module):
    def __init__(self, config: SSTConfig):
        super().__init__()
        self.config = config
        h = config.encoder_dim
        # Global feature statistics from training data (set by training, saved in the checkpoint).
        self.register_buffer("feat_mean", torch.zeros(config.n_mels))
        self.register_buffer("feat_std", torch.ones(config.n_mels))
        self.subsampling = CausalConvSubsampling(config.n_mels, config.subsampling_channels, h)
        self.mixture = self._stack(config.mixture_layers)
        self.separators = nn.ModuleList(self._stack(config.separator_layers) for _ in range(config.num_channels))
        self.separator_residuals = nn.ModuleList(
            ResidualLSTMStack(h, config.residual_separator_layers, config.residual_blocks)
            for _ in range(config.num_channels))
        self.activity = nn.Linear(h, 1)
        self.recognition = self._stack(config.recognition_layers)
        self.recognition_residual = ResidualLSTMStack(h, config.residual_recognition_layers, config.residual_blocks)
        self.ctc = nn.Linear(h, config.vocab_size)
        self.embedding = nn.Embedding(config.vocab_size, config.prediction_embed_dim)
        self.prediction = nn.LSTM(config.prediction_embed_dim, config.prediction_dim, batch_first=True)
        self.joint_encoder = nn.Linear(h, config.joint_dim)
        self.joint_prediction = nn.Linear(config.prediction_dim, config.joint_dim)
        self.joint_out = nn.Linear(config.joint_dim, config.vocab_size)

    def _stack(self, layers: int) -> nn.Module:
        """One encoder stage: plain stacked LSTMs, or pre-norm residual LSTM blocks (SSTConfig.residual_blocks)."""
        h = self.config.encoder_dim
        if self.config.residual_blocks:
            return ResidualLSTMStack(h, layers, pre_norm=True)
        return nn.LSTM(h, h, num_layers=layers, batch_first=True)

    def encode(self, feats: torch.Tensor, state: EncoderState | None = None):
        """Raw log-mel (B, F, n_mels) -> (encoder frames (N, T, H), activity logits (N, T),
        separated frames (N, T, H), new state).

        Separated frames feed the activity head and the recognition encoder; the recognition encoder
        (tied across channels) sees both channels stacked on the batch axis.
        """
        x = (feats - self.feat_mean) / self.feat_std
        x, conv_state = self.subsampling(x, None if state is None else state.conv)
        x, mixture_state = self.mixture(x, None if state is None else state.mixture)
        separated, separator_states, residual_states = [], [], []
        for c, (branch, residual) in enumerate(zip(self.separators, self.separator_residuals)):
            y, s = branch(x, None if state is None else state.separators[c])
            y, r = residual(y, None if state is None else state.separator_residuals[c])
            separated.append(y)
            separator_states.append(s)
            residual_states.append(r)
        separated = torch.cat(separated, dim=0)  # (N, T, H), channel-major
        encoded, recognition_state = self.recognition(separated, None if state is None else state.recognition)
        encoded, recognition_residual_state = self.recognition_residual(
            encoded, None if state is None else state.recognition_residual)
        activity = self.activity(separated).squeeze(-1)
        return encoded, activity, separated, EncoderState(conv_state, mixture_state, separator_states, residual_states,
                                                          recognition_state, recognition_residual_state)

    def predict(self, tokens: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        """Previous tokens (N, U) -> prediction frames (N, U, P). Training prepends blank as start symbol."""
        return self.prediction(self.embedding(tokens), state)

    def join(self, encoded: torch.Tensor, predicted: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """encoded (N, T, H), predicted (N, U+1, P) -> logits (N, T, U+1, V); with lattice rows (N, T, W) per frame
        (pruned training) -> (N, T, W, V); also works on single frames (N, H) with (N, P) -> (N, V)."""
        if rows is not None:
            projected = self.joint_prediction(predicted)  # (N, U+1, J): project once, then pick each frame's rows
            n, t_max, width = rows.shape
            picked = projected.gather(1, rows.flatten(1)[..., None].expand(-1, -1, projected.shape[-1]))
            return self.joint_out(torch.tanh(self.joint_encoder(encoded).unsqueeze(2)
                                             + picked.view(n, t_max, width, -1)))
        if encoded.dim() == 3:
            return self.joint_out(torch.tanh(
                self.joint_encoder(encoded).unsqueeze(2) + self.joint_prediction(predicted).unsqueeze(1)))
        return self.joint_out(torch.tanh(self.joint_encoder(encoded) + self.joint_prediction(predicted)))

    def forward(self, feats: torch.Tensor, targets: torch.Tensor):
        """Training pass up to the joint. feats (B, F, n_mels); targets (N, U) padded with blank.

        Returns encoded (N, T, H), predicted (N, U+1, P), activity logits (N, T), CTC logits (N, T, V).
        The joint is left to the loss, which skips the label rows of channels with no target (a single
        talker's second channel): the (N, T, U+1, V) joint is the dominant cost of an update.
        """
        encoded, activity, _, _ = self.encode(feats)
        start = targets.new_zeros(targets.shape[0], 1)  # blank = start-of-sequence for the predictor
        predicted, _ = self.predict(torch.cat([start, targets], dim=1))
        return encoded, predicted, activity, self.ctc(encoded)

    def copy_branch(self, source: int = 0) -> None:
        """Copy one separator branch into the others (curriculum: single talker -> two channels)."""
        for c, (branch, residual) in enumerate(zip(self.separators, self.separator_residuals)):
            if c != source:
                branch.load_state_dict(self.separators[source].state_dict())
                residual.load_state_dict(self.separator_residuals[source].state_dict())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
