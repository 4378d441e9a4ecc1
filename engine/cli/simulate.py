"""python -m engine simulate --out DIR --meetings N --condition {0S,0L,OV10,OV20,OV30,OV40,mixed,balanced}
   --speakers 2-4 --seed S [--voices train|dev|test|human] [--max-concurrent 2|3] [--reverb SHARE]

Builds simulated meetings (16 kHz audio + SegLST reference); the same arguments give a byte-identical
directory. `python -m engine simulate --standard test` builds a named standard set under data/sets/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import UserError
from engine.simulate.meetings import ALL_CONDITIONS, VOICE_SETS
from engine.simulate.sets import SetRecipe, write_set


def _range(text: str, kind=int) -> tuple:
    try:
        low, _, high = text.partition("-")
        values = (kind(low), kind(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or a range like 2-4, got {text!r}") from None
    if values[0] > values[1] or values[0] <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an increasing range of positive numbers")
    return values


def register(subparsers) -> None:
    from engine.simulate.standard import STANDARD_SETS

    p = subparsers.add_parser(
        "simulate",
        help="build simulated multi-party meetings with exact references",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--standard", choices=sorted(STANDARD_SETS), help="build a named standard set instead")
    p.add_argument("--out", type=Path, help="output directory")
    p.add_argument("--meetings", type=int, default=10)
    p.add_argument(
        "--condition",
        choices=ALL_CONDITIONS + ("balanced",),
        default="mixed",
        help="mixed: drawn per meeting; balanced: the six conditions in turn",
    )
    p.add_argument("--speakers", type=_range, default=(2, 4), help="talkers per meeting, e.g. 2-4 or 3")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--voices",
        choices=VOICE_SETS,
        default="train",
        help="synthetic voice/sentence split, or human (Speech Accent Archive, evaluation only)",
    )
    p.add_argument("--max-concurrent", type=int, choices=(2, 3), default=2)
    p.add_argument("--reverb", type=float, default=0.0, help="share of meetings with reverberation (0-1)")
    p.add_argument(
        "--duration",
        type=lambda t: _range(t, float),
        default=(30.0, 60.0),
        help="target meeting length in seconds, e.g. 30-60",
    )
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.standard:
        from engine.simulate.standard import build_standard_set

        print(build_standard_set(args.standard, args.workers))
        return 0
    if args.out is None:
        raise UserError("Give --out DIR (or --standard NAME).")
    if args.meetings < 1 or not 0.0 <= args.reverb <= 1.0:
        raise UserError("--meetings must be at least 1 and --reverb a share between 0 and 1.")
    if args.max_concurrent == 3 and args.speakers[0] < 3:
        raise UserError("Three simultaneous talkers need at least three speakers: use --speakers 3-4.")
    recipe = SetRecipe(
        args.meetings,
        args.condition,
        args.seed,
        args.speakers,
        args.voices,
        args.max_concurrent,
        args.reverb,
        args.duration,
    )
    print(write_set(args.out, recipe, args.workers))
    return 0
