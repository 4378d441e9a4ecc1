"""python -m engine train [--recipe engine/sst/recipes/sidecar.json] [--stop-after N]  — train (or resume)
the SST, stage by stage; see docs/sst.md.

python -m engine train --export models/sst.pt --source data/sst/runs/whisper_sidecar/separator/best.pt
    [--turn-source activity|transducer|segments] [--note TEXT]  ships one (only the trained parts; the card
    records where it came from and how the backend decodes it).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UserError

DEFAULT_RECIPE = Path(__file__).resolve().parent.parent / "sst" / "recipes" / "sidecar.json"


def run(args) -> int:
    if args.export:
        from engine.sst.package import load_package, save_package

        if not args.source:
            raise UserError("--export needs --source: the run's checkpoint to ship (e.g. …/separator/best.pt).")
        model, card = load_package(Path(args.source))
        card = {
            **card,
            "shipped_from": str(args.source),
            "quality_note": args.note or card.get("quality_note", ""),
            "decoding": {"turn_source": args.turn_source},
        }
        save_package(Path(args.export), model, card)
        print(f"wrote {args.export} from {args.source} (stage {card.get('stage')}, update {card.get('step')})")
        return 0
    from engine.sst.trainer import Recipe, train

    path = Path(args.recipe)
    if not path.is_file():
        raise UserError(f"The training recipe {path} does not exist.")
    try:
        Recipe.load(path)
    except (ValueError, TypeError, KeyError) as exc:  # bad JSON, unknown or missing fields, refused values
        raise UserError(f"The training recipe {path} is not usable: {exc}") from None
    result = train(path, Path(args.out_dir) if args.out_dir else None, stop_after=args.stop_after)
    print(f"training state in {result}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the separator-transducer-segmenter (resumes where it stopped)")
    parser.add_argument("--recipe", default=str(DEFAULT_RECIPE), help="the stage-by-stage recipe (JSON)")
    parser.add_argument("--out-dir", help="run folder (default data/sst/runs/<recipe name>)")
    parser.add_argument("--stop-after", type=int, help="stop after this many updates in this call (a rerun resumes)")
    parser.add_argument("--export", help="instead of training, write the shipping file here (e.g. models/sst.pt)")
    parser.add_argument("--source", help="with --export: the run's checkpoint (best.pt or final.pt of a stage)")
    parser.add_argument("--note", help="with --export: the quality note shown on the Model page")
    parser.add_argument(
        "--turn-source",
        default="activity",
        choices=("activity", "transducer", "segments"),
        help="with --export: where the backend takes turn boundaries from for this file",
    )
    parser.set_defaults(func=run)
