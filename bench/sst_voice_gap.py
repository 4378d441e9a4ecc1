"""How much worse an SST checkpoint does on voices it never heard, per voice split:
    .venv/bin/python bench/sst_voice_gap.py --model "shipped=models/sst.pt" [--model "NAME=PATH" ...]

Mixes the same kinds of examples from train-, dev- and test-split voices and sentences (`engine.sst.data`
TTS pools: single talker, two-talker meetings, long 8-12-turn meetings with 30 % overlap) and scores them
with `engine.sst.validate.score`. A large train-to-test gap says the model knows its training voices rather
than speech; a gap that grows with meeting length says it loses track over time. Prints one markdown table.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.sst.checkpoint import load_model  # noqa: E402
from engine.sst.data import MixingSpec, make_example, tts_pool  # noqa: E402
from engine.sst.validate import score  # noqa: E402

# (split, pool seed, voices, utterances): train/dev seeds as in the recipes; test-split voices and sentences
# (not the test set's meetings).
SPLITS = (("train", 1, 500, 200), ("dev", 2, 20, 80), ("test", 3, 40, 120))
KINDS = {"single": (MixingSpec(kind="single"), 24), "meeting": (MixingSpec(kind="meeting"), 24),
         "long meeting": (MixingSpec(kind="meeting", min_turns=8, max_turns=12, max_seconds=60.0,
                                     overlap_prob=0.3, max_overlap=0.4), 8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=PATH of a shipped-format checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pools = {split: tts_pool(split, size, voices, seed) for split, seed, voices, size in SPLITS}
    print("| model | voices | examples | mixtures | ORC-WER % (errors/words) |")
    print("|---|---|---|---|---|")
    for name, path in (entry.split("=", 1) for entry in args.model):
        model, table, _ = load_model(Path(path))
        for split, pool in pools.items():
            for kind, (spec, count) in KINDS.items():
                rng = random.Random(7)  # the same draws for every model
                r = score(model, table, [make_example(pool, spec, rng, 16000) for _ in range(count)])
                print(f"| {name} | {split} | {kind} | {count} | {100 * r['orc_wer']:.1f} ({r['errors']}/{r['ref_words']}) |",
                      flush=True)


if __name__ == "__main__":
    main()
