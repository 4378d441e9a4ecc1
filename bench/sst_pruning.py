"""What pruning the transducer lattice buys: seconds per training update and the loss it trains on, per window width:
    .venv/bin/python bench/sst_pruning.py [--model models/sst.pt] [--config engine/sst/configs/residual_pruned.json]
                                          [--widths 0 8 16 32] [--batches 4]

Each batch is a training batch of the config's last stage (same mixing, batch length and loss weights, drawn
from a 2,000-utterance pool of the training voices), run through forward, loss and backward of the checkpoint
with the config's thread count. Width 0 is the full (T, U+1) lattice; a pruned loss sums fewer paths, so it is
never below the full one, and its distance from the full loss says how much of the model's own alignment falls
outside the CTC head's windows.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.errors import UserError  # noqa: E402
from engine.sst.checkpoint import load_model  # noqa: E402
from engine.sst.data import collate, make_batch, tts_pool  # noqa: E402
from engine.sst.features import Fbank  # noqa: E402
from engine.sst.loss import sst_loss  # noqa: E402
from engine.sst.train import TrainConfig  # noqa: E402

POOL_SIZE = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/sst.pt")
    parser.add_argument("--config", default="engine/sst/configs/residual_pruned.json")
    parser.add_argument("--widths", type=int, nargs="+", default=[0, 8, 16, 32])
    parser.add_argument("--batches", type=int, default=4)
    args = parser.parse_args()
    try:
        model, table, _ = load_model(Path(args.model))
    except UserError as error:
        sys.exit(str(error))
    if not Path(args.config).is_file():
        sys.exit(f"{args.config} is not a file; pass a training recipe such as engine/sst/configs/residual_pruned.json.")
    cfg = TrainConfig.load(Path(args.config))
    torch.set_num_threads(cfg.threads)
    stage, config = cfg.stages[-1], model.config
    pool = tts_pool("train", POOL_SIZE, cfg.data["voices"], cfg.seed)
    fbank = Fbank(config)
    batches = [collate(make_batch(pool, stage.mixing, random.Random(i), cfg.batch_seconds, config.sample_rate),
                       table, config, fbank) for i in range(args.batches)]
    model.train()
    rows = {}
    with tqdm(total=len(args.widths) * len(batches), desc="updates", unit="update") as bar:
        for width in args.widths:
            weights = dataclasses.replace(stage.loss, prune_width=width)
            seconds, losses = [], []
            for batch in batches:
                started = time.perf_counter()
                encoded, predicted, activity, ctc = model(batch["feats"], batch["targets"].long())
                parts = sst_loss(model.join, encoded, predicted, activity, ctc, batch, weights, config.frame_seconds,
                                 table.eot, sot=table.sot)
                model.zero_grad()
                parts["total"].backward()
                seconds.append(time.perf_counter() - started)
                losses.append(float(parts["rnnt"].detach()))
                bar.update(1)
            rows[width] = (sum(seconds) / len(seconds), sum(losses) / len(losses))
    full = rows.get(0, (None, None))[1]
    audio = sum(b["audio_seconds"] for b in batches) / len(batches)
    print(f"\n{args.model}, {len(batches)} batches of {audio:.0f} s ({stage.name}), {cfg.threads} thread(s)")
    print("lattice rows per frame | s per update (forward+loss+backward) | RNN-T loss per mixture | above full %")
    for width, (sec, loss) in rows.items():
        above = f"{100 * (loss - full) / full:.1f}" if full else "-"
        print(f"{'all (full)' if width == 0 else width:>22} | {sec:>37.2f} | {loss:>22.1f} | {above:>12}")


if __name__ == "__main__":
    main()
