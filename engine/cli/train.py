"""python -m engine train --config CONFIG.json  — train (or resume) the SST model; see docs/sst.md.

python -m engine train --config CONFIG.json --export models/sst.pt [--source model-000400.pt]
    [--voice-change-threshold 0.35|off]  ships one.
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
        from engine.voice_changes import CHANGE_THRESHOLD

        threshold = _threshold(args.voice_change_threshold) if args.voice_change_threshold else CHANGE_THRESHOLD
        card = export_model(cfg, Path(args.export), threshold, args.source, args.note or "")
        print(f"wrote {args.export} from {args.source} (update {card['step']}, stage {card['stage']}, "
              f"voice-change threshold {threshold})")
        return 0
    out = train(cfg, stop_after=args.stop_after)
    print(f"training state and curves in {out}")
    return 0


def _threshold(text: str) -> float | None:
    """--voice-change-threshold: a cosine distance, or "off" (the model's turns are kept as it ends them)."""
    if text == "off":
        return None
    try:
        return float(text)
    except ValueError:
        raise UserError(f"--voice-change-threshold must be a number or off, not {text!r}.") from None


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the separator-transducer-segmenter (resumes from its last checkpoint)")
    parser.add_argument("--config", required=True, help="training config JSON (e.g. engine/sst/configs/main.json)")
    parser.add_argument("--out-dir", help="override the config's output folder")
    parser.add_argument("--stop-after", type=int, help="stop after this many updates in this call (resume continues)")
    parser.add_argument("--export", help="instead of training, write the shipping checkpoint here (e.g. models/sst.pt)")
    parser.add_argument("--source", default="best.pt", help="with --export: which checkpoint of the run folder")
    parser.add_argument("--note", help="with --export: a quality note shown on the Model page")
    parser.add_argument("--voice-change-threshold", help="with --export: the threshold chosen for this model on "
                        "the dev set (bench/sst_voice_change_sweep.py), or off; stored in its card "
                        "(default engine/voice_changes.CHANGE_THRESHOLD)")
    parser.set_defaults(func=run)
