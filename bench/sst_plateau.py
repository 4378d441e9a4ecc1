"""How soon does the SST encoder start to read speech? Plain stacked LSTMs vs pre-norm residual blocks:
    .venv/bin/python bench/sst_plateau.py [--updates 400] [--seconds 20] [--threads 1]

Both models (the sizes of engine/sst/configs/residual.json, one with `residual_blocks` off) are trained on
one fixed batch of single-talker training utterances with the CTC loss alone (`rnnt_weight` 0), the same
batch and the same seed. A recogniser that has not read the audio yet sits on the unigram plateau (about
2.9 nats per character); the table gives the update at which each falls below 1.5 and 0.5 nats per
character, and its loss every 50 updates. Overfitting one batch isolates optimisation from generalisation:
it is the first thing any recogniser must manage.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.sst.config import SSTConfig  # noqa: E402
from engine.sst.data import MixingSpec, collate, make_batch, tts_pool  # noqa: E402
from engine.sst.features import Fbank  # noqa: E402
from engine.sst.loss import LossWeights, sst_loss  # noqa: E402
from engine.sst.model import SSTModel  # noqa: E402
from engine.sst.tokens import TokenTable  # noqa: E402
from engine.sst.train import feature_statistics  # noqa: E402

RECIPE = Path(__file__).resolve().parent.parent / "engine/sst/configs/residual.json"
CTC_ONLY = LossWeights(rnnt_weight=0.0, ctc_weight=1.0, activity_weight=0.0)


def overfit(name: str, config: SSTConfig, batch: dict, statistics: tuple[torch.Tensor, torch.Tensor], updates: int,
            lr: float) -> list[float]:
    """CTC loss per target token after each update on the one batch."""
    torch.manual_seed(0)
    model = SSTModel(config)
    mean, std = statistics
    model.feat_mean.copy_(mean)
    model.feat_std.copy_(std)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    tokens = float(batch["target_lengths"].sum())
    losses = []
    for step in tqdm(range(updates), desc=name, unit="update"):
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50)
        encoded, predicted, activity, ctc = model(batch["feats"], batch["targets"].long())
        parts = sst_loss(model.join, encoded, predicted, activity, ctc, batch, CTC_ONLY, config.frame_seconds, eot=2)
        optimizer.zero_grad()
        parts["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        losses.append(float(parts["ctc"].detach()) * batch["num_mixtures"] / tokens)
    return losses


def first_below(losses: list[float], level: float) -> str:
    return next((str(i + 1) for i, value in enumerate(losses) if value < level), f"> {len(losses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=20.0, help="audio in the fixed batch")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = TokenTable()
    residual = SSTConfig.from_dict({**json.loads(RECIPE.read_text())["model"], "vocab_size": len(table)})
    pool = tts_pool("train", 400, 200, 1)
    fbank = Fbank(residual)
    examples = make_batch(pool, MixingSpec(kind="single"), random.Random(0), args.seconds, residual.sample_rate)
    batch = collate(examples, table, residual, fbank)
    statistics = feature_statistics(pool, fbank)  # one normalisation for both models
    print(f"one batch: {len(examples)} utterances, {batch['audio_seconds']:.1f} s, "
          f"{int(batch['target_lengths'].sum())} target tokens; CTC only, lr {args.lr}")
    rows = []
    for name, config in (("plain stacked LSTMs", replace(residual, residual_blocks=False)),
                         ("pre-norm residual blocks", residual)):
        rows.append((name, overfit(name, config, batch, statistics, args.updates, args.lr)))
    print(f"{'encoder':26} | {'< 1.5 nats':>10} | {'< 0.5 nats':>10} | loss every 50 updates (nats per token)")
    for name, losses in rows:
        trace = " ".join(f"{losses[i]:.2f}" for i in range(49, len(losses), 50))
        print(f"{name:26} | {first_below(losses, 1.5):>10} | {first_below(losses, 0.5):>10} | {trace}")


if __name__ == "__main__":
    main()
