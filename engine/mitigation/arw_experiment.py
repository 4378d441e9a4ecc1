"""ARW: a small speaker-embedding model, baseline vs adversarial reweighting; EER by sex and country group.

    nice -n 10 .venv/bin/python -m engine mitigate arw [--steps N --seed S --embedding-dim D --heldout-share 0.3 ...]

Trains two models with the same seed, data and update budget (plain angular-prototypical metric learning, and
the same with Lahoti et al.'s adversarial reweighting, engine/mitigation/arw.py) on LibriSpeech excerpts plus the
training speakers of the Speech Accent Archive, then scores held-out SAA speakers (engine/mitigation/eer.py):
EER overall, within each sex and within each birth-country group, the gender gap |EER_f − EER_m| and the spread
across country groups (max − min), each with a bootstrap CI over speakers. One save_experiment call at the end.
"""
from __future__ import annotations

import argparse

DEFAULTS = {
    "name": "arw",
    "steps": 400,
    "seed": 0,
    "embedding_dim": 128,
    "channels": 128,
    "heldout_share": 0.3,
    "speakers_per_batch": 48,
    "crop_min_s": 2.0,
    "crop_max_s": 3.0,
    "lr": 2e-3,
    "adversary_lr": 1e-2,
    "adversary_warmup": 0.1,
    "kmeans_clusters": 8,
    "eval_crop_s": 3.0,
    "eval_crops": 2,
    "min_group_speakers": 15,
    "max_saa_speakers": 0,
    "max_librispeech_speakers": 0,
    "n_boot": 1000,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    parser.add_argument("--name", default=d["name"], help="a label for the stored experiment")
    parser.add_argument("--steps", type=int, default=d["steps"], help="updates per model (baseline and ARW alike)")
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--embedding-dim", type=int, default=d["embedding_dim"])
    parser.add_argument("--channels", type=int, default=d["channels"], help="TDNN width")
    parser.add_argument("--heldout-share", type=float, default=d["heldout_share"],
                        help="share of SAA speakers held out for evaluation (stratified by sex and country group)")
    parser.add_argument("--speakers-per-batch", type=int, default=d["speakers_per_batch"],
                        help="speakers per batch, two crops each")
    parser.add_argument("--crop-min-s", type=float, default=d["crop_min_s"])
    parser.add_argument("--crop-max-s", type=float, default=d["crop_max_s"])
    parser.add_argument("--lr", type=float, default=d["lr"], help="embedding model learning rate (Adam)")
    parser.add_argument("--adversary-lr", type=float, default=d["adversary_lr"])
    parser.add_argument("--adversary-warmup", type=float, default=d["adversary_warmup"],
                        help="share of the ARW steps trained unweighted before the adversary starts")
    parser.add_argument("--kmeans-clusters", type=int, default=d["kmeans_clusters"],
                        help="k-means cluster ids given to the adversary beside the embedding (0: none)")
    parser.add_argument("--eval-crop-s", type=float, default=d["eval_crop_s"])
    parser.add_argument("--eval-crops", type=int, default=d["eval_crops"],
                        help="crops per half recording of each held-out speaker (target trials: crops² each)")
    parser.add_argument("--min-group-speakers", type=int, default=d["min_group_speakers"],
                        help="country groups with fewer held-out speakers are reported but left out of the spread")
    parser.add_argument("--max-saa-speakers", type=int, default=d["max_saa_speakers"],
                        help="use a stratified subset of SAA speakers (0: all 1,166)")
    parser.add_argument("--max-librispeech-speakers", type=int, default=d["max_librispeech_speakers"],
                        help="0: all 261")
    parser.add_argument("--n-boot", type=int, default=d["n_boot"], help="bootstrap replicates over speakers")


def params_from_args(args: argparse.Namespace) -> dict:
    return {key: getattr(args, key) for key in DEFAULTS}


def run(params: dict, url: str | None = None) -> int:
    """Train baseline and ARW, evaluate both on the held-out speakers, store; returns the experiment id."""
    raise NotImplementedError("ARW experiment is being written (issue #6)")
