"""The project's pure-torch RNN-T loss against torchaudio's (values, gradients) and against brute-force
enumeration of every alignment; FastEmit, the late-<eot>/<sot> penalties and the pruned lattice."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from engine.sst.config import SSTConfig
from engine.sst.loss import (LossWeights, late_penalty, lattice_loss, prune_ranges, rnnt_loss_fast, rnnt_loss_torch,
                            sst_loss, transducer_loss)
from engine.sst.model import SSTModel


def _random_lattice(seed: int, n=3, t=6, u=4, v=7):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, t, u + 1, v, generator=g, requires_grad=True)
    targets = torch.randint(1, v, (n, u), generator=g, dtype=torch.int32)
    logit_lengths = torch.tensor([t, t - 2, 3][:n], dtype=torch.int32)
    target_lengths = torch.tensor([u, 2, 0][:n], dtype=torch.int32)
    return logits, targets, logit_lengths, target_lengths


def test_pure_torch_loss_matches_torchaudio_values_and_gradients():
    for seed in range(3):
        logits, targets, logit_lengths, target_lengths = _random_lattice(seed)
        ours = rnnt_loss_torch(logits, targets, logit_lengths, target_lengths)
        theirs = rnnt_loss_fast(logits, targets, logit_lengths, target_lengths)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-4)
        weights = torch.rand(ours.shape)  # distinct weights per sequence: gradients must not mix rows
        (g_ours,) = torch.autograd.grad((ours * weights).sum(), logits)
        (g_theirs,) = torch.autograd.grad((theirs * weights).sum(), logits)
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-4, atol=1e-5)


def _brute_force_nll(logits: torch.Tensor, targets: list[int], blank: int = 0) -> float:
    """-log of the sum over every alignment: T blanks and U labels, a label never after the final blank."""
    log_probs = logits.log_softmax(-1)
    t_max, u = logits.shape[0], len(targets)
    total = []
    # Choose which of the T+U steps emit labels; the last step must be a blank (leaving frame T-1).
    for label_steps in itertools.combinations(range(t_max + u - 1), u):
        t = k = 0
        score = 0.0
        for step in range(t_max + u):
            if step in label_steps:
                score += float(log_probs[t, k, targets[k]])
                k += 1
            else:
                score += float(log_probs[t, k, blank])
                t += 1
        total.append(score)
    return -math.log(sum(math.exp(s) for s in total))


def test_pure_torch_loss_equals_brute_force_enumeration():
    g = torch.Generator().manual_seed(7)
    for t_max, targets in [(3, [2, 1]), (4, [1, 3, 3]), (2, []), (1, [2])]:
        logits = torch.randn(1, t_max, len(targets) + 1, 4, generator=g)
        padded = torch.tensor([targets or [0]], dtype=torch.int32)
        ours = rnnt_loss_torch(logits, padded, torch.tensor([t_max]), torch.tensor([len(targets)]))
        assert math.isclose(float(ours[0]), _brute_force_nll(logits[0], targets), rel_tol=1e-5, abs_tol=1e-5)


def test_fastemit_zero_is_the_plain_loss_and_positive_lambda_scales_label_gradients():
    logits, targets, logit_lengths, target_lengths = _random_lattice(1)
    plain = rnnt_loss_torch(logits, targets, logit_lengths, target_lengths)
    zero = rnnt_loss_torch(logits, targets, logit_lengths, target_lengths, fastemit_lambda=0.0)
    torch.testing.assert_close(plain, zero)
    (g_plain,) = torch.autograd.grad(plain.sum(), logits)
    (g_zero,) = torch.autograd.grad(zero.sum(), logits)
    torch.testing.assert_close(g_plain, g_zero)
    regularised = rnnt_loss_torch(logits, targets, logit_lengths, target_lengths, fastemit_lambda=0.5)
    torch.testing.assert_close(regularised, plain)  # FastEmit changes gradients, not the value
    (g_fe,) = torch.autograd.grad(regularised.sum(), logits)
    assert not torch.allclose(g_fe, g_plain)


def test_late_eot_penalty_falls_only_on_late_eot_rows():
    eot, beta = 2, 0.5
    targets = torch.tensor([[3, eot]])  # row u=1 waits for <eot>
    ends = torch.tensor([[0.0, 2.0]])  # the turn ends at frame 2
    penalty = late_penalty(targets, ends, 6, beta, grace_frames=1.0, token=eot)
    assert penalty.shape == (1, 6, 3)
    torch.testing.assert_close(penalty[0, :, 1], torch.tensor([0, 0, 0, 0, 0.5, 1.0]))  # frames beyond 2 + 1 grace
    assert penalty[0, :, 0].abs().sum() == 0 and penalty[0, :, 2].abs().sum() == 0  # other rows untouched


def test_late_sot_penalty_counts_from_the_turn_start_and_only_on_sot_rows():
    sot, eot, beta = 1, 2, 1.0
    targets = torch.tensor([[sot, 3, eot, sot]])  # rows 0 and 3 wait for the <sot> of turns starting at 1 and 4
    starts = torch.tensor([[1.0, 1.0, 1.0, 4.0]])
    penalty = late_penalty(targets, starts, 8, beta, grace_frames=0.0, token=sot)
    torch.testing.assert_close(penalty[0, :, 0], torch.tensor([0, 0, 1.0, 2, 3, 4, 5, 6]))
    torch.testing.assert_close(penalty[0, :, 3], torch.tensor([0, 0, 0, 0, 0, 1.0, 2, 3]))
    assert penalty[0, :, [1, 2, 4]].abs().sum() == 0


def test_sot_penalty_raises_the_loss_of_a_model_that_opens_turns_late():
    model, feats, batch = _tiny_batch(2)
    encoded, predicted, _, _ = model(feats, batch["targets"].long())
    plain = transducer_loss(model.join, encoded, predicted, batch, LossWeights(), 0.04, eot=2)
    penalised = transducer_loss(model.join, encoded, predicted, batch, LossWeights(sot_beta=5.0, sot_grace_s=0.0),
                                0.04, eot=2)
    assert penalised > plain  # stream 1's <sot> (targets [5, 2, 1, 6]) is due at frame 0: every path is late
    no_sot = {**batch, "targets": batch["targets"].clone()}
    no_sot["targets"][1, 2] = 7
    encoded, predicted, _, _ = model(feats, no_sot["targets"].long())
    unchanged = [transducer_loss(model.join, encoded, predicted, no_sot, w, 0.04, eot=2)
                 for w in (LossWeights(), LossWeights(sot_beta=5.0, sot_grace_s=0.0))]
    torch.testing.assert_close(unchanged[0], unchanged[1])  # without a <sot> target nothing is penalised


def _tiny_batch(seed: int = 0):
    torch.manual_seed(seed)
    model = SSTModel(SSTConfig(encoder_dim=16, subsampling_channels=8, mixture_layers=1, prediction_dim=16,
                               prediction_embed_dim=8, joint_dim=16, vocab_size=9))
    targets = torch.tensor([[3, 4, 2, 0], [5, 2, 1, 6], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.int32)
    batch = {"targets": targets, "target_lengths": torch.tensor([3, 4, 0, 0], dtype=torch.int32),
             "frame_lengths": torch.tensor([6, 5, 6, 5], dtype=torch.int32), "activity": torch.ones(4, 6),
             "eot_end_frames": torch.full((4, 4), 2.0), "sot_start_frames": torch.zeros(4, 4), "num_mixtures": 2}
    feats = torch.randn(2, 24, 80)
    return model, feats, batch


def test_skipping_label_rows_of_empty_channels_gives_the_full_lattice_loss():
    model, feats, batch = _tiny_batch()
    encoded, predicted, _, _ = model(feats, batch["targets"].long())
    weights = LossWeights(eot_beta=0.0)
    grouped = transducer_loss(model.join, encoded, predicted, batch, weights, 0.04, eot=2)
    full = rnnt_loss_fast(model.join(encoded, predicted), batch["targets"], batch["frame_lengths"],
                          batch["target_lengths"]).sum()
    torch.testing.assert_close(grouped, full)
    (g_grouped,) = torch.autograd.grad(grouped, encoded, retain_graph=True)
    (g_full,) = torch.autograd.grad(full, encoded)
    torch.testing.assert_close(g_grouped, g_full, rtol=1e-4, atol=1e-6)


def test_sst_loss_parts_are_finite_and_backpropagate():
    model, feats, batch = _tiny_batch(1)
    encoded, predicted, activity, ctc = model(feats, batch["targets"].long())
    parts = sst_loss(model.join, encoded, predicted, activity, ctc, batch,
                     LossWeights(fastemit_lambda=0.01, eot_beta=1.0), 0.04, eot=2)
    assert set(parts) == {"rnnt", "activity", "ctc", "total"}
    parts["total"].backward()
    assert all(torch.isfinite(p) for p in parts.values())
    assert model.activity.weight.grad.abs().sum() > 0 and model.ctc.weight.grad.abs().sum() > 0
    assert model.separators[1].weight_hh_l0.grad.abs().sum() > 0  # the empty channel still learns (blanks)


def test_a_ctc_only_stage_skips_the_transducer_and_leaves_the_joint_untouched():
    model, feats, batch = _tiny_batch(1)
    encoded, predicted, activity, ctc = model(feats, batch["targets"].long())
    full = sst_loss(model.join, encoded, predicted, activity, ctc, batch, LossWeights(), 0.04, eot=2)
    ctc_only = sst_loss(model.join, encoded, predicted, activity, ctc, batch, LossWeights(rnnt_weight=0.0), 0.04, eot=2)
    assert full["rnnt"] > 0 and ctc_only["rnnt"] == 0
    torch.testing.assert_close(ctc_only["total"], full["total"] - full["rnnt"])
    ctc_only["total"].backward()
    assert model.joint_out.weight.grad is None and model.ctc.weight.grad.abs().sum() > 0


def _arcs(logits, targets):
    """(blank (N, T, U+1), emission (N, T, U)) log-probabilities of a full lattice."""
    log_probs = logits.log_softmax(-1)
    n, t_max, rows, _ = logits.shape
    emit = log_probs[:, :, :-1].gather(-1, targets.long()[:, None, :, None].expand(n, t_max, rows - 1, 1))
    return log_probs[..., 0], emit.squeeze(-1)


def test_lattice_loss_on_arcs_matches_the_loss_on_logits():
    logits, targets, logit_lengths, target_lengths = _random_lattice(4)
    theirs = rnnt_loss_fast(logits, targets, logit_lengths, target_lengths)
    ours = lattice_loss(*_arcs(logits, targets), logit_lengths, target_lengths)
    torch.testing.assert_close(ours, theirs)
    (g_ours,) = torch.autograd.grad(ours.sum(), logits)
    (g_theirs,) = torch.autograd.grad(theirs.sum(), logits)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-4, atol=1e-6)


def test_prune_windows_start_at_row_0_end_on_row_u_and_connect():
    for seed, width in itertools.product(range(3), (2, 3, 4)):
        logits, targets, logit_lengths, target_lengths = _random_lattice(seed, n=3, t=9, u=6)
        starts = prune_ranges(*_arcs(logits.detach(), targets), logit_lengths, target_lengths, width)
        for n in range(3):
            s = starts[n, :int(logit_lengths[n])]
            assert s[0] == 0 and s[-1] == max(0, int(target_lengths[n]) + 1 - width)
            steps = s[1:] - s[:-1]
            assert steps.min() >= 0 and steps.max() <= width - 1


def test_prune_windows_follow_a_dominant_alignment():
    """A lattice that strongly prefers one path (emit target u at frame 2u) gets windows around that path."""
    t_max, u = 10, 4
    blank = torch.full((1, t_max, u + 1), -0.1)
    emit = torch.full((1, t_max, u), -8.0)
    for k in range(u):
        emit[0, 2 * k, k] = -0.01
    starts = prune_ranges(blank, emit, torch.tensor([t_max]), torch.tensor([u]), width=2)
    for t in range(t_max):  # rows the path visits: even frames 2k enter at row k and emit to k + 1
        visited = {min(t // 2, u), min(t // 2 + 1, u)} if t % 2 == 0 else {min(t // 2 + 1, u)}
        assert all(starts[0, t] <= row <= starts[0, t] + 1 for row in visited), (t, visited, starts[0].tolist())


def test_pruned_loss_with_windows_covering_every_row_is_the_full_loss():
    """Penalties and FastEmit included: the pruned code path computes the same loss and gradients."""
    model, feats, batch = _tiny_batch(3)
    for weights in (LossWeights(eot_beta=1.0, sot_beta=1.0, sot_grace_s=0.0), LossWeights(fastemit_lambda=0.5)):
        encoded, predicted, _, ctc = model(feats, batch["targets"].long())
        full = transducer_loss(model.join, encoded, predicted, batch, weights, 0.04, eot=2)
        wide = LossWeights(**{**weights.__dict__, "prune_width": 5})  # U + 1 = 5 rows
        pruned = transducer_loss(model.join, encoded, predicted, batch, wide, 0.04, eot=2, ctc_logits=ctc)
        torch.testing.assert_close(pruned, full)
        g_full = torch.autograd.grad(full, [encoded, predicted], retain_graph=True)
        g_pruned = torch.autograd.grad(pruned, [encoded, predicted])
        for a, b in zip(g_pruned, g_full):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_narrow_windows_keep_fewer_paths_so_the_loss_rises_but_stays_finite():
    model, feats, batch = _tiny_batch(4)
    encoded, predicted, _, ctc = model(feats, batch["targets"].long())
    full = transducer_loss(model.join, encoded, predicted, batch, LossWeights(), 0.04, eot=2)
    pruned = transducer_loss(model.join, encoded, predicted, batch, LossWeights(prune_width=2), 0.04, eot=2,
                             ctc_logits=ctc)
    assert torch.isfinite(pruned) and pruned > full
    pruned.backward()
    assert model.joint_out.weight.grad.abs().sum() > 0 and model.ctc.weight.grad is None  # windows come from a
    # detached CTC head: pruning does not train it


def test_a_pruned_stage_needs_two_rows_and_a_ctc_head():
    for bad in ({"prune_width": 1}, {"prune_width": -2}, {"prune_width": 8, "ctc_weight": 0.0}):
        with pytest.raises(ValueError):
            LossWeights(**bad)
