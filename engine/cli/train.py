"""python -m engine train --config CONFIG.json  — train (or resume) the SST model; see docs/sst.md.

python -m engine train --config CONFIG.json --export models/sst.pt [--source model-000400.pt]  ships one.
"""
from __future__ import annotations

from pathlib import Path

from engine.errors import UserError


def run(args) -> int:
    from engine.sst.train import TrainConfig, train

    path = Path(args.config)
    if not path.is_file():
        raise UserError(f"The training config {path} does not exist.")
    try:
        cfg = TrainConfig.load(path)
    except (ValueError, TypeError, KeyError) as exc:  # bad JSON, unknown or missing fields, refused values
        raise UserError(f"The training config {path} is not a usable recipe: {exc}") from None
    if args.out_dir:
        cfg.out_dir = args.out_dir
    if args.export:
        from engine.sst.train import export_model

        card = export_model(cfg, Path(args.export), args.source, args.note or "")
        print(f"wrote {args.export} from {args.source} (update {card['step']}, stage {card['stage']})")
        return 0
    out = train(cfg, stop_after=args.stop_after)
    print(f"training state and curves in {out}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the separator-transducer-segmenter (resumes from its last checkpoint)")
    parser.add_argument("--config", required=True, help="training config JSON (e.g. engine/sst/configs/main.json)")
    parser.add_argument("--out-dir", help="override the config's output folder")
    parser.add_argument("--stop-after", type=int, help="stop after this many updates in this call (resume continues)")
    parser.add_argument("--export", help="instead of training, write the shipping checkpoint here (e.g. models/sst.pt)")
    parser.add_argument("--source", default="best.pt", help="with --export: which checkpoint of the run folder")
    parser.add_argument("--note", help="with --export: a quality note shown on the Model page")
    parser.set_defaults(func=run)
