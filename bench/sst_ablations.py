"""SST ablations on the dev mixtures of a training recipe:
    .venv/bin/python bench/sst_ablations.py --config engine/sst/configs/continue.json \
        --model "shipped=models/sst.pt" [--model "fastemit off=PATH" ...]

For every checkpoint given, scores the recipe's dev mixtures (single talker, meetings, overlapped meetings)
twice: turns from <sot>/<eot> (the design) and turns from the speech-activity head with <sot>/<eot>
ignored (the "segment by activity only" ablation, at decoding time: the same weights, so the row isolates
what the tokens add). Training-time ablations (FastEmit off, end-of-turn penalty off) are checkpoints
trained with that loss term at 0, passed as further --model entries. Prints one markdown table.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.sst.checkpoint import load_model  # noqa: E402
from engine.sst.train import TrainConfig, build_pools, dev_examples  # noqa: E402
from engine.sst.validate import SEGMENTATIONS, score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("engine/sst/configs/continue.json"))
    parser.add_argument("--model", action="append", required=True, help="NAME=PATH of a shipped-format checkpoint")
    parser.add_argument("--dev-scale", type=int, default=1, help=DEV_SCALE_HELP)
    args = parser.parse_args()
    print_table(TrainConfig.load(args.config), [entry.split("=", 1) for entry in args.model], args.dev_scale)


DEV_SCALE_HELP = ("score on K times the recipe's dev mixtures, drawn from a K times larger dev pool (the recipe's "
                  "8-meeting dev set moves a turn-count rate by 12.5 points per meeting)")


def print_table(cfg: TrainConfig, models: list[tuple[str, str]], dev_scale: int = 1) -> None:
    """Score each (name, checkpoint path) on the recipe's dev mixtures, both segmentations; one markdown table."""
    torch.set_num_threads(1)
    random.seed(0)
    cfg = dataclasses.replace(cfg, data={**cfg.data, "dev_pool_size": cfg.data["dev_pool_size"] * dev_scale},
                              dev_mixtures={k: n * dev_scale for k, n in cfg.dev_mixtures.items()})
    _, dev_pool = build_pools(cfg, train=False)
    dev = dev_examples(cfg, dev_pool, 16000)
    print("| model | turns from | condition | mixtures | ORC-WER % (errors/words) | turn count acc % | "
          "<sot> lat. p50 s | <eot> lat. p50 / p90 s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, path in tqdm(models, desc="models"):
        model, table, _ = load_model(Path(path))
        for segmentation in SEGMENTATIONS:
            for kind, examples in dev.items():
                r = score(model, table, examples, segmentation)
                sot, eot = r["sot_latency"], r["eot_latency"]
                print(f"| {name} | {'<sot>/<eot>' if segmentation == 'tokens' else 'activity only'} | {kind} | "
                      f"{r['sessions']} | {100 * r['orc_wer']:.1f} ({r['errors']}/{r['ref_words']}) | "
                      f"{100 * r['turn_count_accuracy']:.1f} | {_fmt(sot, 'p50')} | "
                      f"{_fmt(eot, 'p50')} / {_fmt(eot, 'p90')} |", flush=True)


def _fmt(stats: dict, key: str) -> str:
    return f"{stats[key]:.2f}" if stats.get("n") else "-"


if __name__ == "__main__":
    main()
