"""EWC fine-tuning of the SST model for the flagged regions of an evaluation set, with a lambda sweep.

    nice -n 10 .venv/bin/python -m engine mitigate ewc --eval-set "Speech Accent Archive (cascade)" \
        --regions flagged --lambda 0 100 1000 10000 100000 --checkpoint models/sst.pt

Arms: "none" (the checkpoint as it is), "finetune" (λ = 0: plain fine-tuning) and "ewc" (one per λ > 0).
Every fine-tuning arm starts from the checkpoint and trains on the same batches in the same order
(engine/mitigation/ewc.py), so the arms differ only in λ.

Data (the set's speakers are Speech Accent Archive speakers; their audio is read from ../shared/data/saa):
the speakers of every region of the set's regions analysis are put in a fixed pseudo-random order (hash
of seed and speaker key); the first `heldout_speakers_per_region` usable ones of every region are held out
for evaluation, the next `train_speakers_per_region` of each targeted region are the fine-tuning speakers.
The diagonal Fisher is estimated on general data: utterances of the SST training pool (simulated speech).
The "general" score is WER on simulated dev utterances, the forgetting check.

All archive speakers read the same paragraph. With text_split "halves" (default) every recording is cut
between sentences 3 and 4 by forced alignment: fine-tuning reads sentences 1–3, evaluation sentences 4–5,
so no evaluated sentence is trained on (a reading the aligner cannot follow is skipped). With "none" both
use the whole paragraph, and a fine-tuned model can improve by learning the text rather than the accents.
Either way held-out speakers of the untargeted regions are the control: their change is what fine-tuning
does for everyone, and only the targeted regions' change beyond it can be credited to adaptation to the
targeted speakers (the results' "notes" give these numbers).
"""
from __future__ import annotations

import copy
import hashlib
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine import persistence
from engine.errors import UserError
from engine.fairness import analyses, stats
from engine.fairness.demo import DEMO_SET_NAME, seed_demo_set
from engine.fairness.regions import RegionParams
from engine.metrics.wer import EditCounts, total
from engine.mitigation import saa
from engine.mitigation.ewc import EWCPenalty, diagonal_fisher, fine_tune, fisher_summary
from engine.mitigation.sst_adapt import SSTLoss, score, utterance_example
from engine.sst.checkpoint import load_model
from engine.sst.data import MixingSpec, make_example, tts_pool

DEFAULTS = {
    "eval_set": DEMO_SET_NAME,
    "regions": "flagged",  # or a list of region ranks
    "text_split": "halves",  # fine-tune on sentences 1–3, evaluate on 4–5; "none": the whole paragraph for both
    "lambdas": [0.0, 1e2, 1e3, 1e4, 1e5],  # F sums squared gradients of a loss summed over tokens: λ ~ 1e3 bites
    "checkpoint": "models/sst.pt",
    "train_speakers_per_region": 6,
    "heldout_speakers_per_region": 4,
    "updates": 25,
    "batch_utterances": 1,
    "lr": 5e-4,
    "max_train_seconds": 30.0,  # longer archive recordings are left out of fine-tuning (the update cost grows with T·U)
    "fisher_utterances": 24,
    "general_utterances": 12,
    "n_boot": 1000,
    "seed": 0,
}
# The simulated pools of engine/sst/configs/main.json, so the Fisher sees utterances the model trained on
# and the forgetting check the dev utterances it was validated on.
GENERAL_TRAIN_VOICES, GENERAL_TRAIN_SEED = 400, 0
GENERAL_DEV_VOICES, GENERAL_DEV_SEED = 10, 1
THREADS = 1  # the development machine's cores are shared; one thread is also deterministic


def add_arguments(parser) -> None:
    d = DEFAULTS
    parser.add_argument("--eval-set", default=d["eval_set"], help="evaluation set whose speakers have lat/lon")
    parser.add_argument("--regions", default=d["regions"],
                        help="'flagged' (regions flagged in the set's latest regions analysis) or ranks, e.g. 1,3")
    parser.add_argument("--lambda", dest="lambdas", type=float, nargs="+", default=d["lambdas"],
                        help="EWC strengths; 0 = plain fine-tuning (the no-fine-tuning arm always runs)")
    parser.add_argument("--checkpoint", default=d["checkpoint"], help="SST checkpoint to start from")
    parser.add_argument("--text-split", choices=saa.TEXT_SPLITS, default=d["text_split"],
                        help="halves: fine-tune on sentences 1-3 and evaluate on sentences 4-5 of the paragraph; "
                             "none: the whole paragraph for both")
    parser.add_argument("--train-speakers-per-region", type=int, default=d["train_speakers_per_region"])
    parser.add_argument("--heldout-speakers-per-region", type=int, default=d["heldout_speakers_per_region"])
    parser.add_argument("--updates", type=int, default=d["updates"], help="fine-tuning updates per arm")
    parser.add_argument("--batch-utterances", type=int, default=d["batch_utterances"])
    parser.add_argument("--lr", type=float, default=d["lr"])
    parser.add_argument("--max-train-seconds", type=float, default=d["max_train_seconds"])
    parser.add_argument("--fisher-utterances", type=int, default=d["fisher_utterances"])
    parser.add_argument("--general-utterances", type=int, default=d["general_utterances"])
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--name", default=None, help="a name for the experiment (default: from the parameters)")


def params_from_args(args) -> dict:
    regions = args.regions.strip()
    if regions != "flagged":
        try:
            regions = sorted({int(r) for r in regions.split(",") if r.strip()})
        except ValueError:
            raise UserError(f"--regions is 'flagged' or region ranks separated by commas, not '{args.regions}'.")
    params = {key: getattr(args, key) for key in DEFAULTS if key not in ("regions", "n_boot")}
    return {**DEFAULTS, **params, "regions": regions, "name": args.name}


def _check(params: dict) -> None:
    for key in ("train_speakers_per_region", "heldout_speakers_per_region", "updates", "batch_utterances",
                "fisher_utterances", "general_utterances"):
        if int(params[key]) < 1:
            raise UserError(f"{key.replace('_', '-')} must be at least 1.")
    if not params["lambdas"]:
        raise UserError("Give at least one --lambda (0 = plain fine-tuning).")
    if any(lam < 0 for lam in params["lambdas"]):
        raise UserError("EWC strengths (--lambda) cannot be negative.")


def _evaluation_set(name: str, url: str | None) -> persistence.EvaluationSetInfo:
    persistence.ensure_schema(url)
    if name == DEMO_SET_NAME:
        seed_demo_set(url)  # the shipped demo set may not be in a fresh database yet
    return persistence.get_evaluation_set(name, url)


def regions_analysis(info: persistence.EvaluationSetInfo, url: str | None) -> persistence.AnalysisInfo:
    """The newest regions analysis over all the set's speakers; the default one is computed if there is none."""
    latest = persistence.latest_analysis(info.id, "regions", url=url)
    if latest is not None and not latest.params.get("where"):
        return latest
    default = persistence.latest_analysis(info.id, "regions", params=analyses.region_params(RegionParams()), url=url)
    return default or analyses.run_regions(info.name, url=url)


def targeted_ranks(rows: list[dict], spec) -> list[int]:
    ranks = [r["rank"] for r in rows]
    if spec == "flagged":
        flagged = [r["rank"] for r in rows if r["flagged"]]
        if not flagged:
            raise UserError("No region of this set is flagged (no region's CI lies above the set's WER); "
                            "name regions by rank instead, e.g. --regions 1,2.")
        return flagged
    unknown = [r for r in spec if r not in ranks]
    if unknown or not spec:
        raise UserError(f"There is no region {unknown[0] if unknown else ''} in the regions analysis "
                        f"(ranks 1–{len(ranks)}).")
    return list(spec)


def split_speakers(rows: list[dict], keys: dict[int, str], targeted: list[int], n_train: int, n_heldout: int,
                   seed: int, usable=lambda key: True) -> tuple[dict[int, list[str]], dict[int, list[str]], list[str]]:
    """(fine-tuning speakers of each targeted region, held-out speakers of every region, speakers skipped as
    not `usable`), by rank.

    Each region's speakers are ordered by a hash of (seed, speaker key): deterministic, independent of
    database ids and of the other regions, and a larger split keeps a smaller one's speakers. `usable` is
    asked in that order, only until a region has what it needs (it may load and align a recording).
    """
    train, heldout, skipped = {}, {}, []
    for row in rows:
        ordered = sorted((keys[i] for i in row["speaker_ids"]),
                         key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
        wanted = n_heldout + (n_train if row["rank"] in targeted else 0)
        chosen = []
        for key in ordered:
            if len(chosen) == wanted:
                break
            if usable(key):
                chosen.append(key)
            else:
                skipped.append(key)
        if not chosen:
            raise UserError(f"Region {row['rank']} has no usable recording to evaluate on.")
        heldout[row["rank"]] = chosen[:n_heldout]
        if row["rank"] in targeted:
            train[row["rank"]] = chosen[n_heldout:]
    return train, heldout, skipped


def _wer_block(counts: list[EditCounts], n_boot: int, seed: int) -> dict:
    """Σ errors, Σ words, speakers and the WER with its bootstrap CI over these speakers."""
    errors = np.array([c.errors for c in counts], float)
    words = np.array([c.ref_words for c in counts], float)
    ci = stats.group_wer_with_ci(errors, words, np.zeros(len(counts), np.int64), 1, n_boot, seed)
    return {"errors": int(errors.sum()), "ref_words": int(words.sum()), "n_speakers": len(counts),
            "wer": float(ci["wer"][0]), "ci_low": float(ci["ci_low"][0]), "ci_high": float(ci["ci_high"][0])}


def evaluate_arm(model, table, rows: list[dict], targeted: list[int], heldout: dict[int, list[str]],
                 heldout_audio: dict[str, tuple[np.ndarray, str]], general: list[tuple[np.ndarray, str]],
                 n_boot: int, seed: int, desc: str) -> dict:
    """Per-region, targeted, untargeted and overall WER on held-out speakers (CIs over speakers), the spread
    across regions, and the general (forgetting) check."""
    bar = tqdm(total=len(heldout_audio) + len(general), desc=desc, unit="utt", leave=False)
    per_speaker = {}
    for key, (samples, text) in heldout_audio.items():
        per_speaker[key] = score(model, table, samples, text)
        bar.update(1)
    general_counts = []
    for samples, text in general:
        general_counts.append(score(model, table, samples, text))
        bar.update(1)
    bar.close()
    regions = []
    for row in rows:
        block = _wer_block([per_speaker[k] for k in heldout[row["rank"]]], n_boot, seed)
        regions.append({"rank": row["rank"], "polygon": row["polygon"], "bounds": row["bounds"],
                        "targeted": row["rank"] in targeted, **block})
    region_wer = np.array([r["wer"] for r in regions if r["ref_words"]])
    pooled = {side: [per_speaker[k] for r in rows for k in heldout[r["rank"]] if (r["rank"] in targeted) == side]
              for side in (True, False)}
    general_total = total(general_counts)
    result = {
        "regions": regions,
        "overall": _wer_block(list(per_speaker.values()), n_boot, seed),
        "targeted": _wer_block(pooled[True], n_boot, seed),
        "untargeted": _wer_block(pooled[False], n_boot, seed) if pooled[False] else None,
        "general": {"errors": general_total.errors, "ref_words": general_total.ref_words,
                    "wer": general_total.errors / max(general_total.ref_words, 1)},
        "mean_region_wer": float(region_wer.mean()), "max_region_wer": float(region_wer.max()),
        "var_region_wer": float(region_wer.var()),  # population variance across regions
    }
    result["targeted_wer"] = result["targeted"]["wer"]
    return result


def _general_examples(count: int, split: str, voices: int, seed: int, sample_rate: int):
    """Simulated single-talker examples (with the training recipe's noise and level) from the TTS pool."""
    pool = tts_pool(split, count, voices, seed)
    rng = random.Random(seed + 12345)
    spec = MixingSpec(kind="single")
    return [make_example(pool, spec, rng, sample_rate) for _ in range(count)]


TEXT_NOTES = {
    "halves": "All Speech Accent Archive speakers read the same paragraph; every recording was cut between sentences "
              "3 and 4 by forced alignment, fine-tuning used sentences 1–3 and evaluation sentences 4–5, so no "
              "evaluated sentence was trained on (words such as 'her', 'and', 'the' occur in both halves). Held-out "
              "speakers of untargeted regions are the control: their change is what fine-tuning does for everyone; "
              "only the targeted regions' change beyond it is evidence of adaptation to the targeted speakers.",
    "none": "All Speech Accent Archive speakers read the same paragraph, and this run fine-tuned and evaluated on all "
            "of it: a fine-tuned model can improve by learning the paragraph, not the accents. Held-out speakers of "
            "untargeted regions read it too, so their change is the text effect; only the targeted regions' change "
            "beyond it is evidence of adaptation to the targeted speakers.",
}


def notes(arms: list[dict], text_split: str) -> str:
    """What the numbers can and cannot show, with the untargeted-region control spelled out."""
    base = next(a for a in arms if a["arm"] == "none")
    text = (TEXT_NOTES[text_split] + " Evaluation speakers are held out (never fine-tuned on). 'general' is WER on "
            "simulated dev utterances (forgetting check).")
    spread = [r["wer"] for r in base["regions"]]
    lines = [f"Without fine-tuning the checkpoint's held-out WER ranges {100 * min(spread):.1f}–{100 * max(spread):.1f} % "
             "across regions; the regions were found and flagged on the evaluation set's own hypotheses, which may "
             "come from another recogniser."]
    for arm in arms:
        if arm["arm"] == "none" or base["untargeted"] is None:
            continue
        d_target = arm["targeted_wer"] - base["targeted_wer"]
        d_other = arm["untargeted"]["wer"] - base["untargeted"]["wer"]
        d_general = arm["general"]["wer"] - base["general"]["wer"]
        lines.append(f"λ = {arm['lambda']:g}: targeted {100 * d_target:+.1f} points, untargeted {100 * d_other:+.1f} "
                     f"(difference {100 * (d_target - d_other):+.1f}), general {100 * d_general:+.1f}.")
    return " ".join([text, *lines])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(params: dict, url: str | None = None) -> int:
    """Compute every arm, then store the experiment with one save_experiment call; returns its id."""
    params = {**DEFAULTS, **params}
    _check(params)
    torch.set_num_threads(THREADS)
    started = time.time()
    info = _evaluation_set(params["eval_set"], url)
    analysis = regions_analysis(info, url)
    rows = analysis.rows
    targeted = targeted_ranks(rows, params["regions"])
    totals = persistence.speaker_totals(info.id, url=url)
    keys = dict(zip(totals["speaker_id"].astype(int), totals["speaker_key"]))
    checkpoint = Path(params["checkpoint"])
    base, table, _ = load_model(checkpoint)
    checkpoint_sha256 = _sha256(checkpoint)  # now: the file may be replaced while the arms run
    rate = base.config.sample_rate
    readings = saa.Readings(saa.audio_paths([keys[i] for row in rows for i in row["speaker_ids"]]),
                            params["text_split"])
    bar = tqdm(desc="loading and cutting recordings", unit="file", leave=False)

    def usable(key: str) -> bool:
        bar.update(1)
        return readings.usable(key)

    train, heldout, skipped = split_speakers(rows, keys, targeted, int(params["train_speakers_per_region"]),
                                             int(params["heldout_speakers_per_region"]), int(params["seed"]), usable)
    bar.close()
    heldout_audio = {k: readings.evaluation(k) for rank in heldout for k in heldout[rank]}
    fine_tuning = [readings.fine_tuning(k) for rank in targeted for k in train[rank]]
    train_examples = [utterance_example(samples, text, rate) for samples, text in fine_tuning
                      if len(samples) <= params["max_train_seconds"] * rate]
    if not train_examples:
        raise UserError(f"No fine-tuning recording of the targeted regions is at most {params['max_train_seconds']:g} s "
                        "long; raise --max-train-seconds or --train-speakers-per-region.")
    general = [(e.audio, e.turns[0].text) for e in
               _general_examples(int(params["general_utterances"]), "dev", GENERAL_DEV_VOICES, GENERAL_DEV_SEED, rate)]
    loss = SSTLoss(table, base.config)
    n_boot, seed = int(params["n_boot"]), int(params["seed"])

    arms = [{"arm": "none", "lambda": 0.0, "updates": 0,
             **evaluate_arm(base, table, rows, targeted, heldout, heldout_audio, general, n_boot, seed,
                            "evaluating: no fine-tuning"),
             "training": None}]
    fisher = None
    if any(lam > 0 for lam in params["lambdas"]):
        fisher_data = _general_examples(int(params["fisher_utterances"]), "train", GENERAL_TRAIN_VOICES,
                                        GENERAL_TRAIN_SEED, rate)
        fisher = diagonal_fisher(base, tqdm([[e] for e in fisher_data], desc="Fisher", unit="utt", leave=False), loss)
    batch_size = int(params["batch_utterances"])

    def batch_at(rng):
        return rng.sample(train_examples, min(batch_size, len(train_examples)))

    for lam in params["lambdas"]:
        model = copy.deepcopy(base)
        penalty = EWCPenalty.at(model, fisher, lam) if lam > 0 else None
        arm_started = time.time()
        curve = fine_tune(model, batch_at, loss, int(params["updates"]), float(params["lr"]), penalty, seed=seed,
                          desc=f"fine-tuning λ = {lam:g}")
        seconds = time.time() - arm_started
        arms.append({"arm": "ewc" if lam > 0 else "finetune", "lambda": float(lam), "updates": int(params["updates"]),
                     **evaluate_arm(model, table, rows, targeted, heldout, heldout_audio, general, n_boot,
                                    seed, f"evaluating λ = {lam:g}"),
                     "training": {"seconds": round(seconds, 1), "loss_curve": curve}})

    results = {
        "arms": arms, "notes": notes(arms, params["text_split"]), "targeted_ranks": targeted,
        "analysis_id": analysis.id, "texts": {"fine_tuning": readings.texts[0], "evaluation": readings.texts[1]},
        "split": {"train": {str(r): v for r, v in train.items()}, "heldout": {str(r): v for r, v in heldout.items()},
                  "not_usable": skipped, "n_train_utterances": len(train_examples)},
        "checkpoint_sha256": checkpoint_sha256, "fisher": fisher_summary(fisher) if fisher else None,
        "seconds": round(time.time() - started, 1),
    }
    texts = "sentences 1–3 → 4–5" if params["text_split"] == "halves" else "whole paragraph"
    name = params.get("name") or (f"EWC, regions {','.join(map(str, targeted))}, λ "
                                  f"{'/'.join(f'{lam:g}' for lam in params['lambdas'])}, {params['updates']} updates, "
                                  f"{texts}")
    return persistence.save_experiment("ewc", name, dict(params), results, set_name=info.name, url=url)
