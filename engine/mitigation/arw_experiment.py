"""ARW: a small speaker-embedding model, baseline vs adversarial reweighting; EER by sex and country group.

    nice -n 10 .venv/bin/python -m engine mitigate arw [--arms baseline arw arw_cluster --steps N --seed S ...]

Trains one model per arm with the same seed, data and update budget (plain angular-prototypical metric learning,
and the same with Lahoti et al.'s adversarial reweighting, engine/mitigation/arw.py: "arw" with the adversary on
the embedding and the speaker's k-means cluster, "arw_cluster" with weights from the k-means cluster of each
crop's own embedding) on LibriSpeech excerpts plus the training speakers of the Speech Accent Archive, then
scores the same held-out SAA speakers' trials (engine/mitigation/eer.py):
EER overall, within each sex and within each birth-country group, the gender gap |EER_f − EER_m| and the spread
across country groups (max − min), each with a bootstrap CI over speakers. One save_experiment call at the end.
"""

from __future__ import annotations

import argparse

import numpy as np

from engine.errors import UserError
from engine.mitigation.eer import bootstrap_eers, build_trials, eer_summary, replicate_ci

# arm -> (adversarial, adversary input); the baseline is ARW with the adversary switched off
ARMS = {"baseline": (False, "embedding"), "arw": (True, "embedding"), "arw_cluster": (True, "crop_cluster")}
DEFAULTS = {
    "name": "arw",
    "arms": ["baseline", "arw"],
    "steps": 600,
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
    parser.add_argument(
        "--arms",
        nargs="+",
        choices=list(ARMS),
        default=d["arms"],
        help="models to train on the same data and batches (baseline, arw, arw_cluster)",
    )
    parser.add_argument("--steps", type=int, default=d["steps"], help="updates per model (baseline and ARW alike)")
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--embedding-dim", type=int, default=d["embedding_dim"])
    parser.add_argument("--channels", type=int, default=d["channels"], help="TDNN width")
    parser.add_argument(
        "--heldout-share",
        type=float,
        default=d["heldout_share"],
        help="share of SAA speakers held out for evaluation (stratified by sex and country group)",
    )
    parser.add_argument(
        "--speakers-per-batch", type=int, default=d["speakers_per_batch"], help="speakers per batch, two crops each"
    )
    parser.add_argument("--crop-min-s", type=float, default=d["crop_min_s"])
    parser.add_argument("--crop-max-s", type=float, default=d["crop_max_s"])
    parser.add_argument("--lr", type=float, default=d["lr"], help="embedding model learning rate (Adam)")
    parser.add_argument("--adversary-lr", type=float, default=d["adversary_lr"])
    parser.add_argument(
        "--adversary-warmup",
        type=float,
        default=d["adversary_warmup"],
        help="share of the ARW steps trained unweighted before the adversary starts",
    )
    parser.add_argument(
        "--kmeans-clusters",
        type=int,
        default=d["kmeans_clusters"],
        help="k-means cluster ids given to the adversary beside the embedding (0: none)",
    )
    parser.add_argument("--eval-crop-s", type=float, default=d["eval_crop_s"])
    parser.add_argument(
        "--eval-crops",
        type=int,
        default=d["eval_crops"],
        help="crops per half recording of each held-out speaker (target trials: crops² each)",
    )
    parser.add_argument(
        "--min-group-speakers",
        type=int,
        default=d["min_group_speakers"],
        help="country groups with fewer held-out speakers are reported but left out of the spread",
    )
    parser.add_argument(
        "--max-saa-speakers",
        type=int,
        default=d["max_saa_speakers"],
        help="use a stratified subset of SAA speakers (0: all 1,166)",
    )
    parser.add_argument(
        "--max-librispeech-speakers", type=int, default=d["max_librispeech_speakers"], help="0: all 261"
    )
    parser.add_argument("--n-boot", type=int, default=d["n_boot"], help="bootstrap replicates over speakers")


def params_from_args(args: argparse.Namespace) -> dict:
    return {key: getattr(args, key) for key in DEFAULTS}


def run(params: dict, url: str | None = None) -> int:
    """Train baseline and ARW, evaluate both on the held-out speakers, store; returns the experiment id."""
    import torch
    from tqdm import tqdm

    from engine import persistence
    from engine.mitigation import arw, speaker_data

    p = {**DEFAULTS, **params}
    _check(p)
    torch.set_num_threads(1)
    saa = speaker_data.stratified_subset(speaker_data.saa_speakers(), p["max_saa_speakers"], p["seed"])
    libri = speaker_data.stratified_subset(
        speaker_data.librispeech_speakers(), p["max_librispeech_speakers"], p["seed"]
    )
    saa_train, heldout = speaker_data.split_heldout(saa, p["heldout_share"], p["seed"])
    if len(heldout) < 2:
        raise UserError("Fewer than two held-out speakers: raise --max-saa-speakers or --heldout-share.")
    min_frames = int(2 * p["crop_max_s"] * speaker_data.FRAMES_PER_S)
    train_features, kept = [], {"saa": 0, "libri": 0}
    for speaker in tqdm(saa_train + libri, desc="features (cached after the first run)", unit="speaker"):
        features = speaker_data.speaker_features(speaker)
        if len(features) >= min_frames:  # two non-overlapping training crops must fit
            train_features.append(features)
            kept[speaker.id.split(":")[0]] += 1
    if len(train_features) < 2:
        raise UserError("Fewer than two training speakers have enough speech for two crops.")
    enrol, test = eval_crops(
        [speaker_data.speaker_features(s) for s in heldout],
        int(p["eval_crop_s"] * speaker_data.FRAMES_PER_S),
        p["eval_crops"],
    )
    models = []
    for name in p["arms"]:
        adversarial, adversary_input = ARMS[name]
        config = arw.TrainConfig(
            steps=p["steps"],
            seed=p["seed"],
            embedding_dim=p["embedding_dim"],
            channels=p["channels"],
            speakers_per_batch=min(p["speakers_per_batch"], len(train_features)),
            crop_min_s=p["crop_min_s"],
            crop_max_s=p["crop_max_s"],
            lr=p["lr"],
            adversarial=adversarial,
            adversary_lr=p["adversary_lr"],
            adversary_warmup=p["adversary_warmup"],
            kmeans_clusters=p["kmeans_clusters"],
            adversary_input=adversary_input,
        )
        with tqdm(total=p["steps"], desc=f"training {name}", unit="step") as bar:
            trained = arw.train(
                train_features, config, on_step=lambda step, loss: (bar.update(), bar.set_postfix(loss=f"{loss:.3f}"))
            )
        models.append(
            {"model": name, **evaluate(trained.model, enrol, test, heldout, p), "training": trained.summary()}
        )
    results = {
        "models": models,
        "data": {
            "train_speakers": len(train_features),
            "train_saa_speakers": kept["saa"],
            "train_librispeech_speakers": kept["libri"],
            "heldout_speakers": len(heldout),
        },
        "notes": NOTES,
    }
    with persistence.session_scope(url) as s:
        return persistence.save_experiment(s, "arw", p["name"], p, _json_safe(results))


NOTES = (
    "Speaker verification on held-out Speech Accent Archive speakers, all audio at 8 kHz (SAA is telephone band; "
    "LibriSpeech is downsampled to match). Training: LibriSpeech excerpts + SAA training speakers, random 2–3 s "
    "crops, angular prototypical loss; every arm shares seed, batches and update budget. ARW: a linear "
    "adversary on the detached embedding + the speaker's k-means cluster id gives each crop λ = 1 + n·f/Σf, pairs "
    "weigh λ_i + λ_j; arw_cluster: the adversary sees only the k-means cluster of the crop's own embedding (one "
    "weight per cluster, centroids refitted 10 times); the adversary never sees sex or country. Trials: per "
    "held-out speaker, crops from the first half of the recording (enrolment) against crops from the second half "
    "(test), so target and non-target trials both "
    "compare different words; non-targets within the group for by-group EER. Country groups are birth-country "
    "regions (engine/mitigation/speaker_data.py COUNTRY_GROUPS); the spread is max − min over groups with at "
    "least min_group_speakers held-out speakers; the gender gap is |EER_female − EER_male|, its CI the signed "
    "difference's CI folded onto |·| (the signed one is stored beside it). CIs: 95 % percentile bootstrap over "
    "speakers (trials rebuilt from each draw). Training seconds are CPU seconds of one thread."
)


def eval_crops(features: list[np.ndarray], crop_frames: int, per_half: int) -> tuple[np.ndarray, np.ndarray]:
    """Enrolment crops from each recording's first half, test crops from its second half: two arrays of shape
    (n speakers, per_half, crop_frames, F), crops evenly spaced inside their half (shorter halves: padded by
    repetition, which the statistics pooling tolerates)."""
    enrol, test = [], []
    for frames in features:
        half = len(frames) // 2
        enrol.append(_evenly_spaced(frames[:half], crop_frames, per_half))
        test.append(_evenly_spaced(frames[half:], crop_frames, per_half))
    return np.stack(enrol), np.stack(test)


def _evenly_spaced(frames: np.ndarray, crop_frames: int, count: int) -> np.ndarray:
    if len(frames) < crop_frames:
        frames = np.resize(frames, (crop_frames, frames.shape[1]))
    starts = np.linspace(0, len(frames) - crop_frames, count).astype(int)
    return np.stack([frames[s : s + crop_frames] for s in starts])


def evaluate(model, enrol: np.ndarray, test: np.ndarray, heldout: list, p: dict) -> dict:
    """EER overall, by sex and by country group with bootstrap CIs; the gender gap and the country spread."""
    from engine.mitigation.speaker_model import embed

    n, k = enrol.shape[:2]
    embeddings = embed(
        model, np.concatenate([enrol.reshape(n * k, *enrol.shape[2:]), test.reshape(n * k, *test.shape[2:])])
    )
    trials = build_trials(embeddings[: n * k].reshape(n, k, -1), embeddings[n * k :].reshape(n, k, -1))
    groups = []
    summaries = {}
    for kind, labels in (
        ("overall", ["all"] * n),
        ("sex", [s.sex for s in heldout]),
        ("country_group", [s.country_group for s in heldout]),
    ):
        names = sorted(set(labels))
        strata = [np.flatnonzero(np.array(labels) == name) for name in names]
        replicates = bootstrap_eers(trials, strata, p["n_boot"], p["seed"])
        rows = [
            {"group_kind": kind, "group": name, **eer_summary(trials, strata[g], replicates[:, g])}
            for g, name in enumerate(names)
        ]
        groups += rows
        observed = np.array([row["eer"] for row in rows])
        summaries[kind] = (names, [len(members) for members in strata], observed, replicates)
    return {
        "groups": groups,
        "gender_gap": _gender_gap(*summaries["sex"]),
        "country_spread": _spread(*summaries["country_group"], p["min_group_speakers"]),
    }


def _gender_gap(names, sizes, observed, replicates) -> dict:
    if set(names) != {"female", "male"}:
        return {"value": None, "ci_low": None, "ci_high": None}
    f, m = names.index("female"), names.index("male")
    signed = _statistic_with_ci(lambda eers: eers[..., f] - eers[..., m], observed, replicates)
    return {**_folded(signed), "signed": signed}


def _folded(signed: dict) -> dict:
    """|d| and its CI from the CI [l, h] of the signed difference d: every |d| with d in [l, h], i.e.
    [0, max(|l|, |h|)] when the interval holds 0. (Percentiles of |d| replicates would lean upwards near zero
    and can even exclude the observed |d|.)"""
    low, high = signed["ci_low"], signed["ci_high"]
    if np.isnan(low) or np.isnan(high):
        return {"value": abs(signed["value"]), "ci_low": low, "ci_high": high}
    ends = sorted((abs(low), abs(high)))
    return {"value": abs(signed["value"]), "ci_low": 0.0 if low <= 0 <= high else ends[0], "ci_high": ends[1]}


def _spread(names, sizes, observed, replicates, min_speakers: int) -> dict:
    kept = [g for g, size in enumerate(sizes) if size >= min_speakers]
    if len(kept) < 2:
        return {"value": None, "ci_low": None, "ci_high": None, "groups": [names[g] for g in kept]}
    spread = _statistic_with_ci(
        lambda eers: eers[..., kept].max(axis=-1) - eers[..., kept].min(axis=-1), observed, replicates
    )
    return {**spread, "groups": [names[g] for g in kept]}


def _statistic_with_ci(statistic, observed: np.ndarray, replicates: np.ndarray) -> dict:
    """statistic maps EERs (..., groups) → (...): its value on the observed EERs (groups,) and its percentile CI
    over the joint replicates (n_boot, groups), where every group was resampled in the same replicate."""
    low, high = replicate_ci(statistic(replicates))
    return {"value": float(statistic(observed)), "ci_low": low, "ci_high": high}


def _check(p: dict) -> None:
    if not p["arms"] or any(arm not in ARMS for arm in p["arms"]) or len(set(p["arms"])) < len(p["arms"]):
        raise UserError(f"--arms names each of {', '.join(ARMS)} at most once.")
    if "arw_cluster" in p["arms"] and p["kmeans_clusters"] < 2:
        raise UserError("arw_cluster weighs k-means clusters: --kmeans-clusters must be at least 2.")
    if p["steps"] < 1:
        raise UserError("--steps must be at least 1.")
    if not 0 < p["heldout_share"] < 1:
        raise UserError("--heldout-share must be between 0 and 1 (e.g. 0.3).")
    if p["speakers_per_batch"] < 2:
        raise UserError("--speakers-per-batch must be at least 2 (the other speakers are the negatives).")
    if not 0 < p["crop_min_s"] <= p["crop_max_s"]:
        raise UserError("--crop-min-s must be positive and not above --crop-max-s.")
    if p["eval_crops"] < 1 or p["eval_crop_s"] <= 0 or p["n_boot"] < 1:
        raise UserError("--eval-crops, --eval-crop-s and --n-boot must be positive.")


def _json_safe(value):
    """NaN and numpy scalars → JSON (NaN becomes null: PostgreSQL's JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
