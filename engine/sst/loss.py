"""SST training loss: per-channel RNN-T (+ FastEmit) + alpha * activity BCE + aux CTC, with the
late-<eot>/<sot> penalties applied to those tokens' logits before the transducer loss. The RNN-T lattice is
either full or pruned to a window of rows per frame placed by the CTC head (LossWeights.prune_width).

Shape legend: N channel-streams, T encoder frames, U target tokens, V vocabulary, W window rows.
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

    FastEmit is applied by `straight_through_fastemit` to the emission log-probabilities.
    """
    n, t_max, u1, _ = logits.shape
    log_probs = logits.float().log_softmax(-1)
    blank_lp = log_probs[..., blank]  # (N, T, U+1)
    emit_lp = log_probs[:, :, :-1, :].gather(-1, targets.long()[:, None, :, None].expand(n, t_max, u1 - 1, 1))
    emit_lp = emit_lp.squeeze(-1)  # (N, T, U)
    emit_lp = straight_through_fastemit(emit_lp, fastemit_lambda)
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


def late_penalty(targets: torch.Tensor, reference_frames: torch.Tensor, t_max: int, beta: float,
                 grace_frames: float, token: int) -> torch.Tensor:
    """(N, T, U+1): beta * max(0, t - t_ref(k) - grace) at lattice rows whose next target is `token` of turn k
    (t and t_ref in encoder frames), zero elsewhere; the last lattice row has no next target.

    reference_frames (N, U): the reference frame of the turn each target belongs to (any value elsewhere).
    """
    frames = torch.arange(t_max, device=targets.device, dtype=torch.float32)[None, :, None]
    lateness = (frames - reference_frames[:, None, :].float() - grace_frames).clamp_min(0.0)
    return F.pad(beta * lateness * (targets == token)[:, None, :].float(), (0, 1))


def _subtract_at(logits: torch.Tensor, token: int, amount: torch.Tensor) -> torch.Tensor:
    """logits (..., V) with `amount` (...) subtracted from `token`'s logit, out of place (autograd-safe)."""
    return torch.cat([logits[..., :token], logits[..., token:token + 1] - amount.unsqueeze(-1).to(logits.dtype),
                      logits[..., token + 1:]], -1)


NEG = -1e4  # log-probability of an arc outside a pruned lattice: exp() is 0, yet sums stay finite


def straight_through_fastemit(emit_lp: torch.Tensor, fastemit_lambda: float) -> torch.Tensor:
    """FastEmit (Yu et al., 2021): the gradient of every label emission scaled by (1 + lambda), blank gradients
    left alone, the value unchanged (so the reported loss stays the plain negative log-likelihood)."""
    if not fastemit_lambda:
        return emit_lp
    return emit_lp.detach() + (1.0 + fastemit_lambda) * (emit_lp - emit_lp.detach())


def lattice_loss(blank_lp: torch.Tensor, emit_lp: torch.Tensor, logit_lengths: torch.Tensor,
                 target_lengths: torch.Tensor) -> torch.Tensor:
    """RNN-T negative log-likelihood per sequence (N,) from the lattice's arc log-probabilities: blank_lp
    (N, T, U+1) leaving node (t, u) by blank, emit_lp (N, T, U) leaving it by target u.

    torchaudio's loss is run on a two-symbol lattice (0 = blank, 1 = "the next target") with its log-softmax
    switched off, so the arcs can come from anywhere: a pruned joint, or the CTC head.
    """
    lattice = torch.stack([blank_lp, F.pad(emit_lp, (0, 1), value=NEG)], -1).float()
    labels = torch.ones(emit_lp.shape[0], emit_lp.shape[2], dtype=torch.int32, device=emit_lp.device)
    return torchaudio.functional.rnnt_loss(lattice, labels, logit_lengths.int(), target_lengths.int(), blank=0,
                                           reduction="none", fused_log_softmax=False)


def prune_ranges(blank_lp: torch.Tensor, emit_lp: torch.Tensor, logit_lengths: torch.Tensor,
                 target_lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(N, T) first lattice row of each frame's window of `width` rows (Kuang et al., 2022, pruned RNN-T).

    The window of frame t covers the rows where the cheap lattice (blank_lp (N, T, U+1), emit_lp (N, T, U))
    puts most of its node occupancy, then is clamped so that windows start at row 0, end on row U, never move
    back and never skip ahead by more than width - 1 rows per frame: every window shares a row with the
    next, so the pruned lattice still holds complete paths. width >= 2.
    """
    with torch.enable_grad():
        blank = blank_lp.detach().float().requires_grad_()
        emit = emit_lp.detach().float().requires_grad_()
        blank_grad, emit_grad = torch.autograd.grad(
            lattice_loss(blank, emit, logit_lengths, target_lengths).sum(), [blank, emit])
    occupancy = -(blank_grad + F.pad(emit_grad, (0, 1)))  # P(a path visits node (t, u))
    n, t_max, rows = occupancy.shape
    window = torch.cumsum(F.pad(occupancy, (1, 0)), -1)
    window = window[..., width:] - window[..., :-width]  # (N, T, rows - width + 1): mass inside each window
    wanted = window.argmax(-1)
    last = (target_lengths.long() + 1 - width).clamp_min(0)  # the window that reaches row U
    frames_left = (logit_lengths.long()[:, None] - 1 - torch.arange(t_max, device=occupancy.device)[None, :])
    earliest = (last[:, None] - frames_left.clamp_min(0) * (width - 1)).clamp_min(0)
    starts = torch.zeros_like(wanted)
    previous = torch.zeros(n, dtype=wanted.dtype, device=wanted.device)
    for t in range(t_max):
        start = torch.maximum(torch.maximum(wanted[:, t].minimum(last), previous), earliest[:, t])
        start = start.minimum(previous + width - 1) if t else torch.zeros_like(start)
        starts[:, t] = start
        previous = start
    return starts


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
    # Rows of the lattice per frame that the joint is computed on (pruned RNN-T; 0: all of them). The windows
    # follow the CTC head's alignment, so a stage that prunes needs a trained CTC head (ctc_weight > 0).
    prune_width: int = 0

    def __post_init__(self):
        if self.prune_width < 0 or self.prune_width == 1:
            raise ValueError(f"prune_width is 0 (the full lattice) or at least 2 rows, not {self.prune_width}.")
        if self.prune_width and not self.ctc_weight:
            raise ValueError("A pruned stage needs a trained CTC head to place its windows: give it ctc_weight > 0.")


def transducer_loss(join, encoded: torch.Tensor, predicted: torch.Tensor, batch: dict, weights: LossWeights,
                    frame_seconds: float, eot: int, blank: int = 0, sot: int = 1,
                    ctc_logits: torch.Tensor | None = None) -> torch.Tensor:
    """Summed RNN-T loss of all channel-streams. encoded (N, T, H), predicted (N, U+1, P), ctc_logits (N, T, V)
    (needed when weights.prune_width is set).

    Streams with targets get the (T, U+1) lattice with the late-<eot>/<sot> penalties, or its pruned version;
    an empty stream's only path is all blanks, so it needs the joint at u = 0 only.
    """
    targets, target_lengths, frame_lengths = batch["targets"], batch["target_lengths"], batch["frame_lengths"]
    total = encoded.new_zeros(())
    busy = (target_lengths > 0).nonzero().flatten()
    if len(busy):
        u_max = int(target_lengths[busy].max())
        sub_targets = targets[busy, :u_max].long()
        penalties = [(token, late_penalty(sub_targets, batch[key][busy, :u_max], encoded.shape[1],
                                          beta * frame_seconds, grace / frame_seconds, token))
                     for token, key, beta, grace in ((eot, "eot_end_frames", weights.eot_beta, weights.eot_grace_s),
                                                     (sot, "sot_start_frames", weights.sot_beta, weights.sot_grace_s))
                     if beta]
        lengths = (frame_lengths[busy], target_lengths[busy])
        if weights.prune_width:
            per_stream = _pruned_loss(join, encoded[busy], predicted[busy, :u_max + 1], ctc_logits[busy], sub_targets,
                                      lengths, penalties, weights, blank)
        else:
            logits = join(encoded[busy], predicted[busy, :u_max + 1])
            for token, penalty in penalties:
                logits = _subtract_at(logits, token, penalty)
            if weights.fastemit_lambda:
                per_stream = rnnt_loss_torch(logits, sub_targets, *lengths, blank, weights.fastemit_lambda)
            else:
                per_stream = rnnt_loss_fast(logits, sub_targets, *lengths, blank)
        total = total + per_stream.sum()
    idle = (target_lengths == 0).nonzero().flatten()
    if len(idle):
        blank_lp = join(encoded[idle], predicted[idle, :1]).squeeze(2).float().log_softmax(-1)[..., blank]
        valid = torch.arange(encoded.shape[1], device=encoded.device)[None, :] < frame_lengths[idle, None]
        total = total - (blank_lp * valid).sum()
    return total


def _pruned_loss(join, encoded, predicted, ctc_logits, targets, lengths, penalties, weights: LossWeights,
                 blank: int) -> torch.Tensor:
    """Pruned RNN-T loss per stream: the joint only on each frame's window of rows, chosen from the CTC head's
    arcs in the transducer lattice. Arcs outside the windows get log-probability NEG.

    encoded (N, T, H), predicted (N, U+1, P), ctc_logits (N, T, V), targets (N, U); penalties: (token, (N, T, U+1)).
    """
    n, t_max, rows = encoded.shape[0], encoded.shape[1], predicted.shape[1]
    ctc_lp = ctc_logits.detach().float().log_softmax(-1)
    ctc_emit = ctc_lp.gather(-1, targets[:, None, :].expand(n, t_max, -1))
    width = min(weights.prune_width, rows)
    starts = prune_ranges(ctc_lp[..., blank, None].expand(n, t_max, rows), ctc_emit, *lengths, width)
    window_rows = starts[..., None] + torch.arange(width, device=encoded.device)  # (N, T, W)
    logits = join(encoded, predicted, window_rows)  # (N, T, W, V)
    for token, penalty in penalties:
        logits = _subtract_at(logits, token, penalty.gather(2, window_rows))
    log_probs = logits.float().log_softmax(-1)
    next_targets = targets.gather(1, window_rows.clamp_max(rows - 2).flatten(1)).view(n, t_max, width)
    emit = straight_through_fastemit(log_probs.gather(-1, next_targets[..., None]).squeeze(-1), weights.fastemit_lambda)
    blank_lattice = torch.full((n, t_max, rows), NEG, device=encoded.device).scatter(2, window_rows, log_probs[..., blank])
    emit_lattice = torch.full((n, t_max, rows), NEG, device=encoded.device).scatter(2, window_rows, emit)
    return lattice_loss(blank_lattice, emit_lattice[..., :-1], *lengths)


def sst_loss(join, encoded, predicted, activity_logits, ctc_logits, batch, weights: LossWeights,
             frame_seconds: float, eot: int, blank: int = 0, sot: int = 1) -> dict[str, torch.Tensor]:
    """Sum over channels, mean over mixtures. `batch` holds targets (N, U), target_lengths (N,),
    frame_lengths (N,), activity (N, T) in {0,1}, eot_end_frames and sot_start_frames (N, U) and num_mixtures."""
    targets, target_lengths, frame_lengths = batch["targets"], batch["target_lengths"], batch["frame_lengths"]
    mixtures = batch["num_mixtures"]
    transducer = (transducer_loss(join, encoded, predicted, batch, weights, frame_seconds, eot, blank, sot, ctc_logits)
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
