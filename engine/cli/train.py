"""python -m engine train --config CONFIG.json  — train (or resume) the SST model; see docs/sst.md."""
from __future__ import annotations

from pathlib import Path

from engine.errors import UserError


def run(args) -> int:
    from engine.sst.train import TrainConfig, train

    path = Path(args.config)
    if not path.is_file():
        raise UserError(f"The training config {path} does not exist.")
    cfg = TrainConfig.load(path)
    if args.out_dir:
        cfg.out_dir = args.out_dir
    out = train(cfg, stop_after=args.stop_after)
    print(f"training state and curves in {out}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the separator-transducer-segmenter (resumes from its last checkpoint)")
    parser.add_argument("--config", required=True, help="training config JSON (e.g. engine/sst/configs/main.json)")
    parser.add_argument("--out-dir", help="override the config's output folder")
    parser.add_argument("--stop-after", type=int, help="stop after this many updates in this call (resume continues)")
    parser.set_defaults(func=run)
