"""Adversarially reweighted metric learning (Lahoti et al., 2020, "Fairness without demographics"), and the
training loop it shares with the plain baseline.

An adversary maps each training crop (its detached embedding, plus a one-hot k-means cluster id of its speaker)
to f_i ≥ 0; the crop's weight is λ_i = 1 + n·f_i / Σf over the n crops of the batch (every λ_i ≥ 1, mean 2), and
a positive pair's weight is λ_i + λ_j. Each step, the adversary ascends the weighted loss and the embedding model
descends it (min over the model, max over the adversary). The adversary never sees sex or country: like Lahoti's,
it must find the poorly served regions from the embeddings alone, which is what makes it usable without
demographic labels. With a constant f every λ is 2, and the weighted loss equals the unweighted one, so the
baseline is ARW with the adversary switched off.

Two adversaries (TrainConfig.adversary_input):
- "embedding": the crop's detached embedding plus the one-hot k-means cluster of its *speaker* (fitted once,
  when the adversary starts, on the first 3 s of every training speaker);
- "crop_cluster" (the seed's wording, "sample weights informed by the k-means cluster of each sample's
  embedding"): only the one-hot k-means cluster of the crop's *own* current embedding (nearest centroid,
  centroids refitted on the training speakers every CLUSTER_REFITS-th of the run). A linear layer on a one-hot
  is one weight per cluster: every crop of a cluster gets the same λ, so the adversary can only up-weight
  whole clusters, never single hard crops.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.mitigation.speaker_data import FRAMES_PER_S
from engine.mitigation.speaker_model import AngularPrototypical, SpeakerEmbedder, embed, sample_batch

CURVE_POINTS = 50  # the stored loss curve is averaged down to about this many points
ADVERSARY_INPUTS = ("embedding", "crop_cluster")
CLUSTER_REFITS = 10  # crop_cluster: the centroids are refitted this many times over a run (the embedding moves)


def arw_weights(f: torch.Tensor) -> torch.Tensor:
    """λ_i = 1 + n·f_i / Σ_j f_j for adversary outputs f (n,), f ≥ 0 with Σf > 0: every λ_i ≥ 1, mean exactly 2."""
    return 1 + f.shape[0] * f / f.sum()


def pair_weights(weights: torch.Tensor) -> torch.Tensor:
    """Crop weights (2S,) in the two-crops-per-speaker layout → positive-pair weights λ_s + λ_{s+S}, shape (S,)."""
    n_speakers = weights.shape[0] // 2
    return weights[:n_speakers] + weights[n_speakers:]


class Adversary(nn.Module):
    """(embedding (n, D), cluster one-hot (n, K)) → f (n,) in (0, 1): linear then sigmoid.

    Deliberately low-capacity, as in Lahoti et al.: a linear adversary can only up-weight regions of the
    embedding space (computationally identifiable groups), not memorise single hard crops.
    """

    def __init__(self, embedding_dim: int, n_clusters: int):
        super().__init__()
        self.n_clusters = n_clusters
        self.linear = nn.Linear(embedding_dim + n_clusters, 1)

    def forward(self, embeddings: torch.Tensor, clusters: torch.Tensor) -> torch.Tensor:
        parts = [embeddings]
        if self.n_clusters:
            parts.append(F.one_hot(clusters, self.n_clusters).float())
        return torch.sigmoid(self.linear(torch.cat(parts, dim=1))).squeeze(1)


@dataclass
class TrainConfig:
    steps: int
    seed: int
    embedding_dim: int = 128
    channels: int = 128
    speakers_per_batch: int = 48
    crop_min_s: float = 2.0
    crop_max_s: float = 3.0
    lr: float = 2e-3
    adversarial: bool = False
    adversary_lr: float = 1e-2
    adversary_warmup: float = 0.1  # share of steps before the adversary starts
    kmeans_clusters: int = 8
    adversary_input: str = "embedding"  # or "crop_cluster" (ADVERSARY_INPUTS)


@dataclass
class TrainResult:
    model: SpeakerEmbedder
    seconds: float
    losses: list[float] = field(default_factory=list)  # unweighted mean loss per step (comparable across arms)
    max_pair_weights: list[float] = field(default_factory=list)  # largest λ_i + λ_j of each adversarial step

    def summary(self) -> dict:
        return {
            "steps": len(self.losses),
            "seconds": round(self.seconds, 1),
            "loss_curve": _curve(self.losses),
            "max_pair_weight_curve": _curve(self.max_pair_weights),
        }


def train(
    features: list[np.ndarray], config: TrainConfig, on_step: Callable[[int, float], None] | None = None
) -> TrainResult:
    """Train an embedder on per-speaker features (frames, F), each ≥ 2 · crop_max_s long.

    The same seed gives the baseline and the ARW model the same initialisation and the same batches.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = SpeakerEmbedder(config.channels, config.embedding_dim)
    loss_fn = AngularPrototypical()
    optimiser = torch.optim.Adam([*model.parameters(), *loss_fn.parameters()], lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _warmup_cosine(step, config.steps))
    by_crop = config.adversary_input == "crop_cluster"
    adversary = Adversary(0 if by_crop else config.embedding_dim, config.kmeans_clusters)
    adversary_optimiser = torch.optim.Adam(adversary.parameters(), lr=config.adversary_lr)
    warmup_steps = int(config.adversary_warmup * config.steps)
    clusters = np.zeros(len(features), dtype=np.int64)
    centroids = None
    refit_every = max(1, (config.steps - warmup_steps) // CLUSTER_REFITS)
    result = TrainResult(model, 0.0)
    start = time.process_time()
    for step in range(config.steps):
        crop_frames = int(rng.uniform(config.crop_min_s, config.crop_max_s) * FRAMES_PER_S)
        crops, speakers = sample_batch(features, config.speakers_per_batch, crop_frames, rng)
        adversarial = config.adversarial and step >= warmup_steps
        if adversarial and by_crop and (step - warmup_steps) % refit_every == 0:
            centroids = speaker_centroids(model, features, config.kmeans_clusters, config.seed)
        elif adversarial and step == warmup_steps and config.kmeans_clusters:
            clusters = speaker_clusters(model, features, config.kmeans_clusters, config.seed)
        model.train()
        embeddings = model(crops)
        losses = loss_fn(embeddings)  # (S,)
        if adversarial:
            detached = embeddings.detach()
            if by_crop:  # each crop's own cluster: the nearest centroid by cosine (embeddings are unit length)
                crop_clusters = (detached @ centroids.T).argmax(dim=1)
                detached = detached[:, :0]  # the adversary sees the cluster only
            else:
                crop_clusters = torch.from_numpy(np.concatenate([clusters[speakers]] * 2))
            weights = adversary_step(adversary, adversary_optimiser, detached, crop_clusters, losses.detach())
            result.max_pair_weights.append(float(weights.max()))
        else:
            weights = torch.ones_like(losses)
        loss = (weights * losses).sum() / weights.sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        result.losses.append(float(losses.detach().mean()))
        if on_step:
            on_step(step, result.losses[-1])
    result.seconds = time.process_time() - start
    return result


def adversary_step(
    adversary: Adversary,
    optimiser: torch.optim.Optimizer,
    embeddings: torch.Tensor,
    clusters: torch.Tensor,
    losses: torch.Tensor,
) -> torch.Tensor:
    """One ascent step of the adversary on the weighted loss Σ w·ℓ / Σ w.

    embeddings (2S, D) and clusters (2S,) of the crops, per-pair losses (S,), all detached from the model.
    Returns the pair weights w (S,) the adversary gave *before* its step (detached), for the model's step.
    """
    weights = pair_weights(arw_weights(adversary(embeddings, clusters)))
    optimiser.zero_grad()
    (-(weights * losses).sum() / weights.sum()).backward()
    optimiser.step()
    return weights.detach()


def _speaker_kmeans(model: SpeakerEmbedder, features: list[np.ndarray], k: int, seed: int):
    """k-means over the training speakers' embeddings (the first 3 s of each speaker's speech)."""
    from sklearn.cluster import KMeans

    crop = min(3 * FRAMES_PER_S, min(len(f) for f in features))
    embeddings = embed(model, np.stack([f[:crop] for f in features]))
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit(embeddings)


def speaker_clusters(model: SpeakerEmbedder, features: list[np.ndarray], k: int, seed: int) -> np.ndarray:
    """k-means cluster id per training speaker."""
    return _speaker_kmeans(model, features, k, seed).labels_.astype(np.int64)


def speaker_centroids(model: SpeakerEmbedder, features: list[np.ndarray], k: int, seed: int) -> torch.Tensor:
    """The k centroids (k, D), unit length, to assign a crop's embedding to its nearest one."""
    centres = torch.from_numpy(_speaker_kmeans(model, features, k, seed).cluster_centers_)
    return F.normalize(centres.float(), dim=1)


def _warmup_cosine(step: int, steps: int) -> float:
    """Learning-rate factor: linear warm-up over the first 5 % of steps, then cosine decay to zero."""
    warmup = max(1, steps // 20)
    return min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))


def _curve(values: list[float]) -> list[float]:
    if not values:
        return []
    window = max(1, len(values) // CURVE_POINTS)
    return [round(float(np.mean(values[i : i + window])), 4) for i in range(0, len(values), window)]
