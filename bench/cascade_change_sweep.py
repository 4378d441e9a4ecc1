"""Sweep the cascade's voice-change threshold (cutting a VAD segment where the voice changes) on a set:

    nice -n 10 .venv/bin/python bench/cascade_change_sweep.py --set data/sets/dev \
        [--recogniser whisper] [--thresholds off 0.35]

Scores the whole backend (VAD, recognition, cuts, attribution) through the evaluation harness once per
threshold, "off" keeping each VAD segment whole. The cuts move turns, not words, so ORC-WER (one stream for
the cascade) is the same in every row; what they change is who is talking (cpWER, tcpWER) and how many
turns there are. Prints one markdown table; choose the threshold on dev, report it on test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from engine.backends import backend_for, get_backend
from engine.cascade.recognisers import RECOGNISERS
from engine.evaluate import evaluate
from engine.speakers import DEFAULT_THRESHOLD

THRESHOLDS = ("off", "0.3", "0.35", "0.45")


def _threshold(text: str) -> str:
    """argparse type: "off" or a number, kept as typed for the table."""
    if text != "off":
        try:
            float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor off") from None
    return text


def _row(threshold: str, results: dict) -> str:
    o = results["overall"]
    turns, start, end = o["turns"], o["turns"]["start_latency"], o["turns"]["end_latency"]
    return (
        f"| {threshold} | {100 * o['orc_wer']['wer']:.1f} "
        f"| {100 * o['cp_wer']['wer']:.1f} | {100 * o['tcp_wer']['wer']:.1f} "
        f"| {turns['hyp_turns']} / {turns['ref_turns']} | {100 * turns['turn_count_accuracy']:.1f} "
        f"| {start['p50']:+.2f} / {start['p90']:+.2f} | {end['p50']:+.2f} / {end['p90']:+.2f} | {o['rtf']:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path("data/sets/dev"))
    parser.add_argument("--recogniser", choices=RECOGNISERS, default=RECOGNISERS[0])
    parser.add_argument("--clustering-threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--thresholds", nargs="+", type=_threshold, default=THRESHOLDS, help="thresholds to score, or off"
    )
    args = parser.parse_args()
    name = backend_for("cascade", args.recogniser)
    rows = []
    for threshold in tqdm(args.thresholds, desc="thresholds"):
        backend = type(get_backend(name))(
            threshold=args.clustering_threshold, change_threshold=None if threshold == "off" else float(threshold)
        )
        rows.append(_row(threshold, evaluate(name, args.set, args.limit, backend=backend)))
        print(rows[-1], file=sys.stderr)
    print(f"\n{args.set.name}, backend {name}, clustering threshold {args.clustering_threshold:g}\n")
    print(
        "| voice-change threshold | ORC-WER % | cpWER % | tcpWER % | hyp / ref turns | turn count acc % "
        "| `<sot>` p50 / p90 s | `<eot>` p50 / p90 s | RTF |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
