"""Training-time SST ablations, FastEmit off vs on and end-of-turn penalty off vs on:
    .venv/bin/python bench/sst_loss_ablations.py [--config engine/sst/configs/curriculum.json] \
        [--stage turns] [--init models/sst.pt] [--updates 400] [--dev-scale 4] [--variants design fastemit-off ...]

Trains one stage of a recipe (default: `turns`, meetings without overlap, copy branch) three times from the
same checkpoint on the same batches: as designed, with `fastemit_lambda` 0, and with `eot_beta` 0 (or only
the `--variants` named). Runs go to data/sst/ablation-<stage>-<variant>/ and resume after a kill like any
run. Then prints the dev table of bench/sst_ablations.py (both segmentations) for the final checkpoints, on a
4x larger dev set. The table in models/MODEL_CARD.md started from the checkpoint shipped before it
(`git show dc4c09b:models/sst.pt > PREVIOUS.pt`, then `--init PREVIOUS.pt`).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine.sst.train import TrainConfig, train  # noqa: E402
from sst_ablations import DEV_SCALE_HELP, print_table  # noqa: E402

VARIANTS = {"design": {}, "fastemit-off": {"fastemit_lambda": 0.0}, "eot-penalty-off": {"eot_beta": 0.0}}


def variant_config(cfg: TrainConfig, stage_name: str, init: str, updates: int, variant: str) -> TrainConfig:
    stage = next(s for s in cfg.stages if s.name == stage_name)
    stage = dataclasses.replace(stage, updates=updates, loss=dataclasses.replace(stage.loss, **VARIANTS[variant]))
    # One validation at the end: the table below re-scores the final checkpoints anyway.
    return dataclasses.replace(cfg, out_dir=f"data/sst/ablation-{stage_name}-{variant}", init_from=init, reinit=[],
                               stages=[stage], epoch_updates=updates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("engine/sst/configs/curriculum.json"))
    parser.add_argument("--stage", default="turns")
    parser.add_argument("--init", default="models/sst.pt")
    parser.add_argument("--updates", type=int, default=400, help="a rerun with more updates resumes the runs")
    parser.add_argument("--dev-scale", type=int, default=4, help=DEV_SCALE_HELP)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    base = TrainConfig.load(args.config)
    finals = []
    for variant in args.variants:
        cfg = variant_config(base, args.stage, args.init, args.updates, variant)
        out = train(cfg)
        finals.append((variant, str(out / f"model-{args.updates:06d}.pt")))
    print_table(base, finals, args.dev_scale)


if __name__ == "__main__":
    main()
