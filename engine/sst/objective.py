"""The training objective of the Whisper-based SST, per channel (targets by HEAT, engine/sst/batch.py):

- Whisper decoder cross-entropy on the channel's turns with timestamp tokens (the strongest signal: the
  pretrained decoder says at once whether the separated channel reads as one talker);
- activity BCE per 20 ms frame;
- RNN-T on the transducer head (torchaudio's loss on the lattice, FastEmit, late-<eot> penalty: for lattice
  rows whose next target is the <eot> of turn k, β·max(0, t − t_end(k) − grace) is subtracted from the
  <eot> logit). The head reads the channels detached, so it never pulls the separator away from what
  Whisper's decoder wants (`transducer_trains_separator` turns that on).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.sst import vocab
from engine.sst.batch import IGNORE, Batch
from engine.sst.loss import late_penalty, lattice_loss, straight_through_fastemit
from engine.whisper.features import SECONDS_PER_ENCODER_FRAME


@dataclass(frozen=True)
class LossWeights:
    decoder: float = 1.0
    activity: float = 0.5
    rnnt: float = 1.0
    fastemit_lambda: float = 0.01
    eot_beta: float = 1.0  # per second late
    eot_grace_s: float = 0.2
    transducer_trains_separator: bool = False


def rnnt_per_stream(
    logits: torch.Tensor,
    targets: torch.Tensor,
    frame_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    fastemit_lambda: float,
) -> torch.Tensor:
    """logits (N, S, U+1, V) → RNN-T negative log-likelihood per stream (N,), torchaudio's recursion (which
    wants the lattice cut to the longest target)."""
    u = int(target_lengths.max())
    log_probs = logits[:, :, : u + 1].float().log_softmax(-1)
    if u == 0:  # every stream silent: the only path is all blanks
        valid = torch.arange(logits.shape[1], device=logits.device)[None] < frame_lengths[:, None]
        return -(log_probs[:, :, 0, vocab.BLANK] * valid).sum(1)
    targets = targets[:, :u]
    emit = log_probs[:, :, :u].gather(-1, targets[:, None, :, None].expand(-1, logits.shape[1], -1, 1)).squeeze(-1)
    emit = straight_through_fastemit(emit, fastemit_lambda)
    return lattice_loss(log_probs[..., vocab.BLANK], emit, frame_lengths, target_lengths)


def transducer_logits(model, frames: torch.Tensor, batch: Batch, weights: LossWeights) -> torch.Tensor:
    """Joiner logits over the whole lattice with the late-<eot> penalty applied."""
    n = frames.shape[0]
    blank_first = torch.cat([torch.zeros(n, 1, dtype=torch.long, device=frames.device), batch.targets], 1)
    predicted, _ = model.predictor(blank_first)
    logits = model.joiner(frames, predicted)
    if weights.eot_beta:
        frame_s = SECONDS_PER_ENCODER_FRAME * model.settings.subsample
        penalty = late_penalty(
            batch.targets,
            batch.eot_frames,
            frames.shape[1],
            weights.eot_beta * frame_s,
            weights.eot_grace_s / frame_s,
            vocab.EOT,
        )
        logits = logits - penalty[..., None] * F.one_hot(torch.tensor(vocab.EOT), vocab.SIZE).to(logits)
    return logits


def decoder_loss(model, channels: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy per target token of Whisper's decoder over each channel with a target."""
    streams = channels.flatten(0, 1)
    rows = (batch.decoder_labels != IGNORE).any(1).nonzero().flatten()
    if not len(rows):
        return channels.new_zeros(())
    decoder = model.whisper.decoder
    logits = decoder(batch.decoder_inputs[rows], decoder.start(streams[rows]))
    return F.cross_entropy(logits.float().transpose(1, 2), batch.decoder_labels[rows], ignore_index=IGNORE)


def objective(model, batch: Batch, weights: LossWeights) -> dict[str, torch.Tensor]:
    channels = model.transcriber.upper(batch.states)  # (B, C, T, D)
    parts = {}
    activity_logits = model.activity(channels).squeeze(-1)
    parts["activity"] = F.binary_cross_entropy_with_logits(activity_logits, batch.activity)
    parts["decoder"] = decoder_loss(model, channels, batch) if weights.decoder else channels.new_zeros(())
    if weights.rnnt:
        heads_in = channels if weights.transducer_trains_separator else channels.detach()
        frames = model.frames(heads_in.flatten(0, 1))
        logits = transducer_logits(model, frames, batch, weights)
        per_stream = rnnt_per_stream(
            logits, batch.targets, batch.frame_lengths, batch.target_lengths, weights.fastemit_lambda
        )
        parts["rnnt"] = per_stream.sum() / max(1, int(batch.target_lengths.sum()))  # per target token
    else:
        parts["rnnt"] = channels.new_zeros(())
    parts["total"] = (
        weights.decoder * parts["decoder"] + weights.activity * parts["activity"] + weights.rnnt * parts["rnnt"]
    )
    return parts
