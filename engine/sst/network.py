"""The Whisper-based separator-transducer-segmenter, a thin model over separate parts (as torchaudio's
models/rnnt.py): a transcriber (Whisper's frozen blocks around the trained separator), an activity head,
and the transducer head (frame encoder, predictor, joiner). Whisper's decoder gives the final words.

Shapes: B windows, C channels, M mel bins, F mel frames, T encoder frames (20 ms, 1500 per 30 s window),
D width (384), S transducer frames, U tokens, V the character table.

Only the trained parts are in `trained_state()`; Whisper's weights are named by their sha256.
"""

from __future__ import annotations

import copy

from torch import Tensor, nn

from engine.sst.separator import Separator
from engine.sst.settings import SSTSettings
from engine.sst.transducer import FrameEncoder, Joiner, Predictor
from engine.whisper.model import Whisper

WHISPER_PREFIX = "whisper."


class Transcriber(nn.Module):
    """Mixture → per-channel encoder output: Whisper's stem and lower blocks (frozen), the separator,
    the upper blocks and final norm (tied across channels: one batched pass). The upper blocks are Whisper's
    own (frozen, shared) or, with `adapt_upper`, the SST's copy of them, which training may adapt."""

    def __init__(self, settings: SSTSettings, whisper: Whisper):
        super().__init__()
        self.split = settings.split_after
        self.whisper = whisper
        self.separator = Separator(settings, whisper.dims.width) if settings.separator else None
        self.adapted = None
        if settings.adapt_upper:  # a copy: the shared Whisper (the cascade's recogniser) never changes
            upper = {"blocks": whisper.encoder.blocks[self.split :], "norm": whisper.encoder.ln_post}
            self.adapted = nn.ModuleDict({name: copy.deepcopy(part) for name, part in upper.items()})

    def lower(self, mel: Tensor) -> Tensor:
        """mel (B, M, F) → the mixture's states after block `split` (B, T, D): what the training pool caches."""
        encoder = self.whisper.encoder
        return encoder.run_blocks(encoder.embed(mel), 0, self.split)

    def upper(self, mixture_states: Tensor) -> Tensor:
        """(B, T, D) → (B, C, T, D) per-channel encoder output (Whisper's decoder reads this)."""
        channels = self.separator(mixture_states) if self.separator is not None else mixture_states[:, None]
        b, c = channels.shape[:2]
        if self.adapted is not None:
            blocks, norm = self.adapted["blocks"], self.adapted["norm"]
        else:
            blocks, norm = self.whisper.encoder.blocks[self.split :], self.whisper.encoder.ln_post
        x = channels.flatten(0, 1)
        for block in blocks:
            x = block(x)[0]
        return norm(x).unflatten(0, (b, c))

    def forward(self, mel: Tensor) -> Tensor:
        return self.upper(self.lower(mel))


class SST(nn.Module):
    def __init__(self, settings: SSTSettings, whisper: Whisper):
        super().__init__()
        self.settings = settings
        self.transcriber = Transcriber(settings, whisper)
        width = whisper.dims.width
        self.activity = nn.Linear(width, 1)
        self.frames = FrameEncoder(settings, width)
        self.predictor = Predictor(settings)
        self.joiner = Joiner(settings)

    @property
    def whisper(self) -> Whisper:
        return self.transcriber.whisper

    def heads(self, channels: Tensor) -> tuple[Tensor, Tensor]:
        """channels (B, C, T, D) → activity logits (B, C, T) and transducer frames (B, C, S, J)."""
        activity = self.activity(channels).squeeze(-1)
        frames = self.frames(channels.flatten(0, 1)).unflatten(0, channels.shape[:2])
        return activity, frames

    def trained_state(self) -> dict[str, Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith(f"transcriber.{WHISPER_PREFIX}")}

    def load_trained_state(self, state: dict[str, Tensor]) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(f"transcriber.{WHISPER_PREFIX}")]
        if missing or unexpected:
            raise ValueError(f"checkpoint does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")

    def trained_parameters(self) -> int:
        return sum(v.numel() for v in self.trained_state().values())


def build(settings: SSTSettings | None = None, whisper: Whisper | None = None) -> SST:
    """A fresh model on the frozen shared Whisper (its weights never train here)."""
    from engine.whisper.model import shared_model

    return SST(settings or SSTSettings(), whisper or shared_model())
