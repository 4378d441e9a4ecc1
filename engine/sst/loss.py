"""RNN-T pieces: the pure-torch loss (the oracle the tests hold torchaudio's against), torchaudio's loss on
logits or on a lattice of arc log-probabilities (so FastEmit can act on the emission arcs), FastEmit and the
late-token penalty. The SST objective that combines them is engine/sst/objective.py.

Shape legend: N channel-streams, T frames, U target tokens, V vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio


def rnnt_loss_torch(
    logits: torch.Tensor,
    targets: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int = 0,
    fastemit_lambda: float = 0.0,
) -> torch.Tensor:
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
        logits.float(), targets.int(), logit_lengths.int(), target_lengths.int(), blank=blank, reduction="none"
    )


def late_penalty(
    targets: torch.Tensor, reference_frames: torch.Tensor, t_max: int, beta: float, grace_frames: float, token: int
) -> torch.Tensor:
    """(N, T, U+1): beta * max(0, t - t_ref(k) - grace) at lattice rows whose next target is `token` of turn k
    (t and t_ref in encoder frames), zero elsewhere; the last lattice row has no next target.

    reference_frames (N, U): the reference frame of the turn each target belongs to (any value elsewhere).
    """
    frames = torch.arange(t_max, device=targets.device, dtype=torch.float32)[None, :, None]
    lateness = (frames - reference_frames[:, None, :].float() - grace_frames).clamp_min(0.0)
    return F.pad(beta * lateness * (targets == token)[:, None, :].float(), (0, 1))


NEG = -1e4  # log-probability of an arc that does not exist (past the last target): exp() is 0, sums stay finite


def straight_through_fastemit(emit_lp: torch.Tensor, fastemit_lambda: float) -> torch.Tensor:
    """FastEmit (Yu et al., 2021): the gradient of every label emission scaled by (1 + lambda), blank gradients
    left alone, the value unchanged (so the reported loss stays the plain negative log-likelihood)."""
    if not fastemit_lambda:
        return emit_lp
    return emit_lp.detach() + (1.0 + fastemit_lambda) * (emit_lp - emit_lp.detach())


def lattice_loss(
    blank_lp: torch.Tensor, emit_lp: torch.Tensor, logit_lengths: torch.Tensor, target_lengths: torch.Tensor
) -> torch.Tensor:
    """RNN-T negative log-likelihood per sequence (N,) from the lattice's arc log-probabilities: blank_lp
    (N, T, U+1) leaving node (t, u) by blank, emit_lp (N, T, U) leaving it by target u.

    torchaudio's loss is run on a two-symbol lattice (0 = blank, 1 = "the next target") with its log-softmax
    switched off, so the arcs can come from anywhere: a pruned joint, or the CTC head.
    """
    lattice = torch.stack([blank_lp, F.pad(emit_lp, (0, 1), value=NEG)], -1).float()
    labels = torch.ones(emit_lp.shape[0], emit_lp.shape[2], dtype=torch.int32, device=emit_lp.device)
    return torchaudio.functional.rnnt_loss(
        lattice, labels, logit_lengths.int(), target_lengths.int(), blank=0, reduction="none", fused_log_softmax=False
    )
