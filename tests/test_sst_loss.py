"""The RNN-T loss: the project's pure-torch oracle against torchaudio's (values, gradients) and brute-force
enumeration of every alignment; the training loss (torchaudio on the lattice, FastEmit) against the oracle;
the late-<eot> penalty; the whole objective on a real window."""

from __future__ import annotations

import itertools
import math

import torch

from engine.sst.loss import late_penalty, rnnt_loss_fast, rnnt_loss_torch
from engine.sst.objective import rnnt_per_stream


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


def test_training_loss_equals_the_oracle_with_and_without_fastemit():
    for fastemit in (0.0, 0.3):
        logits, targets, logit_lengths, target_lengths = _random_lattice(4)
        ours = rnnt_per_stream(logits, targets.long(), logit_lengths, target_lengths, fastemit)
        oracle = rnnt_loss_torch(logits, targets, logit_lengths, target_lengths, fastemit_lambda=fastemit)
        torch.testing.assert_close(ours, oracle, rtol=1e-5, atol=1e-4)
        (g_ours,) = torch.autograd.grad(ours.sum(), logits)
        (g_oracle,) = torch.autograd.grad(oracle.sum(), logits)
        torch.testing.assert_close(g_ours, g_oracle, rtol=1e-4, atol=1e-5)


def _window(text: str):
    """A real 8 s window: one synthetic talker saying `text`, its lower-encoder states, one turn on channel 0."""
    import numpy as np

    from engine.simulate.meetings import _trim
    from engine.simulate.synth import synthesize
    from engine.simulate.voices import voices
    from engine.sst.pool import PooledWindow, window_mel
    from engine.sst.windows import WindowTurn
    from tests.sst_models import passthrough_model

    model = passthrough_model()
    speech = _trim(synthesize("the quick brown fox jumps over the lazy dog", voices("train")[0]))
    samples = np.zeros(8 * 16000, np.float32)
    samples[8000 : 8000 + len(speech)] = speech[: len(samples) - 8000]
    samples += np.random.default_rng(0).normal(0, 1e-3, len(samples)).astype(np.float32)
    with torch.no_grad():
        states = model.transcriber.lower(window_mel(samples, 8.0)[None])[0].half()
    turn = WindowTurn(0.5, 0.5 + len(speech) / 16000, text, "a", channel=0)
    return model, PooledWindow(states, [turn], "sim", "0L", False)


def test_objective_prefers_the_spoken_text_and_the_transducer_never_moves_the_separator():
    from engine.sst.batch import make_batch
    from engine.sst.objective import LossWeights, objective

    model, right = _window("the quick brown fox jumps over the lazy dog")
    _, wrong = _window("seven green apples fell into a deep river")
    batch = {name: make_batch([w], 2, model.settings.subsample) for name, w in (("right", right), ("wrong", wrong))}
    with torch.no_grad():
        losses = {name: objective(model, b, LossWeights())["decoder"] for name, b in batch.items()}
    assert losses["right"] + 1.0 < losses["wrong"]  # nats per token

    from tests.sst_models import tiny_model

    model = tiny_model()  # masks at their starting 0.95, where gradients pass (at exactly 1.0 they cannot)
    grads = []
    for rnnt in (0.0, 1.0):
        model.zero_grad()
        parts = objective(model, batch["right"], LossWeights(rnnt=rnnt))
        assert all(torch.isfinite(v) for v in parts.values())
        parts["total"].backward()
        grads.append(model.transcriber.separator.masks.weight.grad.clone())  # the masks start at weight 0
    assert model.joiner.out.weight.grad is not None and grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1])  # the head reads the channels detached
