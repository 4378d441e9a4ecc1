"""SST training loss: per-channel RNN-T (+ FastEmit) + alpha * activity BCE + aux CTC, with the
end-of-turn latency penalty applied to the <eot> logits before the transducer loss.

Shape legend: N channel-streams, T encoder frames, U target tokens, V vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchaudio


def rnnt_loss_torch(logits: torch.Tensor, targets: torch.Tensor, logit_lengths: torch.Tensor,
                    target_lengths: torch.Tensor, blank: int = 0, fastemit_lambda: float = 0.0) -> torch.Tensor:
    """Pure-torch RNN-T negative log-likelihood per sequence, (N,).

    logits (N, T, U+1, V); targets (N, U). The forward variable is computed one frame at a time; within a
    frame the label recursion alpha[t,u] = logaddexp(from_below, alpha[t,u-1] + emit[t,u-1]) is solved
    in closed form with a cumulative sum and logcumsumexp, so the loop runs over T only.

    FastEmit (Yu et al., 2021) scales the gradient of every label emission by (1 + lambda) and leaves
    blank gradients alone; it is applied here by a straight-through rescaling of the emission
    log-probabilities, so the loss value stays the plain negative log-likelihood.
    """
    n, t_max, u1, _ = logits.shape
    log_probs = logits.float().log_softmax(-1)
    blank_lp = log_probs[..., blank]  # (N, T, U+1)
    emit_lp = log_probs[:, :, :-1, :].gather(-1, targets.long()[:, None, :, None].expand(n, t_max, u1 - 1, 1))
    emit_lp = emit_lp.squeeze(-1)  # (N, T, U)
    if fastemit_lambda:
        emit_lp = emit_lp.detach() + (1.0 + fastemit_lambda) * (emit_lp - emit_lp.detach())
    neg_inf = torch.finfo(log_probs.dtype).min
    from_below = torch.full((n, u1), neg_inf, dtype=log_probs.dtype, device=logits.device)
    from_below[:, 0] = 0.0
    alphas = []
    for t in range(t_max):
        cumulative = F.pad(emit_lp[:, t].cumsum(-1), (1, 0))  # (N, U+1): sum of emits before u
        alpha = cumulative + torch.logcumsumexp(from_below - cumulative, dim=-1)
        alphas.append(alpha)
        from_below = alpha + blank_lp[:, t]
    alphas = torch.stack(alphas, dim=1)  # (N, T, U+1)
    rows = torch.arange(n, device=logits.device)
    last_t, last_u = logit_lengths.long() - 1, target_lengths.long()
    return -(alphas[rows, last_t, last_u] + blank_lp[rows, last_t, last_u])


def rnnt_loss_fast(logits, targets, logit_lengths, target_lengths, blank: int = 0) -> torch.Tensor:
    """torchaudio's RNN-T loss per sequence, (N,)."""
    return torchaudio.functional.rnnt_loss(
        logits.float(), targets.int(), logit_lengths.int(), target_lengths.int(), blank=blank, reduction="none")


def penalise_late(logits: torch.Tensor, targets: torch.Tensor, reference_frames: torch.Tensor,
                  token: int, beta: float, grace_frames: float) -> torch.Tensor:
    """Subtract beta * max(0, t - t_ref(k) - grace) from `token`'s logit at lattice rows whose next target is
    that token of turn k (t and t_ref in encoder frames), so a late emission path costs more: the `<eot>` of
    a turn against its reference end, the `<sot>` against its reference start.

    reference_frames (N, U): the reference frame of the turn each target belongs to (any value elsewhere).
    """
    if not beta:
        return logits
    n, t_max, u1, _ = logits.shape
    frames = torch.arange(t_max, device=logits.device, dtype=logits.dtype)[None, :, None]
    lateness = (frames - reference_frames[:, None, :].to(logits.dtype) - grace_frames).clamp_min(0.0)
    penalty = beta * lateness * (targets == token)[:, None, :].to(logits.dtype)  # (N, T, U)
    penalty = F.pad(penalty, (0, 1))  # the last lattice row has no next target
    return torch.cat([logits[..., :token], logits[..., token:token + 1] - penalty.unsqueeze(-1),
                      logits[..., token + 1:]], -1)


@dataclass
class LossWeights:
    fastemit_lambda: float = 0.0
    activity_weight: float = 0.1
    ctc_weight: float = 0.3
    eot_beta: float = 0.0  # per second of lateness
    eot_grace_s: float = 0.2
    # The same for <sot> against the turn's start: in an overlap the second channel's <sot> probability rises
    # at the right time but spreads over seconds, never beating blank in greedy search (docs/sst.md, Session 5).
    sot_beta: float = 0.0
    sot_grace_s: float = 0.2
    # 0 skips the transducer: a CTC-only stage that teaches the encoder to read the audio ~10x faster per
    # update than one with the (T, U, V) joint, which dominates an update's cost.
    rnnt_weight: float = 1.0


def transducer_loss(join, encoded: torch.Tensor, predicted: torch.Tensor, batch: dict, weights: LossWeights,
                    frame_seconds: float, eot: int, blank: int = 0, sot: int = 1) -> torch.Tensor:
    """Summed RNN-T loss of all channel-streams. encoded (N, T, H), predicted (N, U+1, P).

    Streams with targets get the full (T, U+1) lattice (with the late-<eot> penalty, FastEmit through
    the pure-torch loss); an empty stream's only path is all blanks, so it needs the joint at u = 0 only.
    """
    targets, target_lengths, frame_lengths = batch["targets"], batch["target_lengths"], batch["frame_lengths"]
    total = encoded.new_zeros(())
    busy = (target_lengths > 0).nonzero().flatten()
    if len(busy):
        u_max = int(target_lengths[busy].max())
        logits = join(encoded[busy], predicted[busy, :u_max + 1])
        sub_targets = targets[busy, :u_max]
        logits = penalise_late(logits, sub_targets, batch["eot_end_frames"][busy, :u_max], eot,
                               weights.eot_beta * frame_seconds, weights.eot_grace_s / frame_seconds)
        if weights.sot_beta:
            logits = penalise_late(logits, sub_targets, batch["sot_start_frames"][busy, :u_max], sot,
                                   weights.sot_beta * frame_seconds, weights.sot_grace_s / frame_seconds)
        if weights.fastemit_lambda:
            per_stream = rnnt_loss_torch(logits, sub_targets, frame_lengths[busy], target_lengths[busy], blank,
                                         weights.fastemit_lambda)
        else:
            per_stream = rnnt_loss_fast(logits, sub_targets, frame_lengths[busy], target_lengths[busy], blank)
        total = total + per_stream.sum()
    idle = (target_lengths == 0).nonzero().flatten()
    if len(idle):
        blank_lp = join(encoded[idle], predicted[idle, :1]).squeeze(2).float().log_softmax(-1)[..., blank]
        valid = torch.arange(encoded.shape[1], device=encoded.device)[None, :] < frame_lengths[idle, None]
        total = total - (blank_lp * valid).sum()
    return total


def sst_loss(join, encoded, predicted, activity_logits, ctc_logits, batch, weights: LossWeights,
             frame_seconds: float, eot: int, blank: int = 0, sot: int = 1) -> dict[str, torch.Tensor]:
    """Sum over channels, mean over mixtures. `batch` holds targets (N, U), target_lengths (N,),
    frame_lengths (N,), activity (N, T) in {0,1}, eot_end_frames and sot_start_frames (N, U) and num_mixtures."""
    targets, target_lengths, frame_lengths = batch["targets"], batch["target_lengths"], batch["frame_lengths"]
    mixtures = batch["num_mixtures"]
    transducer = (transducer_loss(join, encoded, predicted, batch, weights, frame_seconds, eot, blank, sot)
                  if weights.rnnt_weight else encoded.new_zeros(()))
    t_max = activity_logits.shape[1]
    valid = (torch.arange(t_max, device=activity_logits.device)[None, :] < frame_lengths[:, None]).float()
    # Summed over frames and channels per mixture, like the transducer loss, so alpha compares like with like.
    activity = (F.binary_cross_entropy_with_logits(activity_logits, batch["activity"], reduction="none")
                * valid).sum() / mixtures
    parts = {"rnnt": transducer / mixtures, "activity": activity}
    total = weights.rnnt_weight * parts["rnnt"] + weights.activity_weight * activity
    if weights.ctc_weight:
        ctc = F.ctc_loss(ctc_logits.float().log_softmax(-1).transpose(0, 1), targets, frame_lengths, target_lengths,
                         blank=blank, reduction="sum", zero_infinity=True) / mixtures
        parts["ctc"] = ctc
        total = total + weights.ctc_weight * ctc
    parts["total"] = total
    return parts
