"""Elastic weight consolidation (Kirkpatrick et al., 2017): fine-tune without forgetting what the model knew.

    loss = ASR loss on the new data + (λ/2) · Σ_i F_i · (θ_i − θ*_i)²

θ* are the weights before fine-tuning and F the diagonal of the empirical Fisher information on general
data: the mean over examples of the squared gradient of the loss, so a weight that the general data
depends on (large F) is held near θ* and an unimportant one is free to move. λ = 0 is plain fine-tuning.

Model-agnostic: `loss_fn(model, batch) -> scalar` is whatever loss the model trains with (Whisper's is
in engine/mitigation/whisper_adapt.py). Parameters with requires_grad False are frozen: they do not
move, so they get Fisher 0 and no penalty.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

LossFn = Callable[[nn.Module, object], torch.Tensor]


def diagonal_fisher(model: nn.Module, examples: Iterable[object], loss_fn: LossFn) -> dict[str, torch.Tensor]:
    """Mean squared gradient per parameter over `examples` (one backward pass each), shaped like the parameter.

    One example per backward pass: squaring a batch's mean gradient would let gradients of different
    examples cancel, and underestimate F. Frozen parameters get zeros.
    """
    fisher = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    was_training = model.training
    model.train()
    count = 0
    for example in examples:
        model.zero_grad(set_to_none=True)
        loss_fn(model, example).backward()
        for name, p in trainable:
            if p.grad is not None:
                fisher[name] += p.grad.detach() ** 2
        count += 1
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    if count == 0:
        raise ValueError("the Fisher needs at least one example")
    return {name: f / count for name, f in fisher.items()}


@dataclass
class EWCPenalty:
    """(λ/2) · Σ F (θ − θ*)² over the parameters named in `fisher`; `anchor` holds θ* (detached copies)."""

    fisher: dict[str, torch.Tensor]
    anchor: dict[str, torch.Tensor]
    lam: float

    @classmethod
    def at(cls, model: nn.Module, fisher: dict[str, torch.Tensor], lam: float) -> "EWCPenalty":
        """Anchored at the model's current weights."""
        return cls(fisher, {name: p.detach().clone() for name, p in model.named_parameters()}, float(lam))

    def __call__(self, model: nn.Module) -> torch.Tensor:
        total = None
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            term = (self.fisher[name] * (p - self.anchor[name]) ** 2).sum()
            total = term if total is None else total + term
        if total is None:
            return torch.zeros(())
        return 0.5 * self.lam * total


def fisher_summary(fisher: dict[str, torch.Tensor]) -> dict:
    """Mean, max and the number of non-zero entries of F, to read λ against (F scales with the loss)."""
    values = torch.cat([f.flatten() for f in fisher.values()])
    return {
        "mean": float(values.mean()),
        "max": float(values.max()),
        "n_params": int(values.numel()),
        "n_nonzero": int((values > 0).sum()),
    }


def fine_tune(
    model: nn.Module,
    batch_at: Callable[[random.Random], object],
    loss_fn: LossFn,
    updates: int,
    lr: float = 1e-4,
    penalty: EWCPenalty | None = None,
    clip: float = 5.0,
    seed: int = 0,
    desc: str = "fine-tuning",
) -> list[dict]:
    """Adam for `updates` steps on `loss_fn` (+ the EWC penalty when given); returns one record per update.

    The batch of update k comes from `batch_at(random.Random(seed * 1_000_003 + k))`, so every arm of an experiment
    trains on the same batches in the same order and differs only in the penalty. Model dropout/noise:
    none in Whisper, so the same seed gives the same weights.
    """
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    curve = []
    for step in tqdm(range(updates), desc=desc, unit="update", leave=False):
        batch = batch_at(random.Random(seed * 1_000_003 + step))
        asr = loss_fn(model, batch)
        ewc = penalty(model) if penalty is not None else torch.zeros(())
        optimizer.zero_grad(set_to_none=True)
        (asr + ewc).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        if torch.isfinite(grad_norm):  # skip a rare non-finite batch instead of poisoning the weights
            optimizer.step()
        curve.append(
            {"step": step + 1, "asr_loss": round(float(asr.detach()), 4), "ewc_penalty": round(float(ewc.detach()), 6)}
        )
    model.eval()
    return curve
