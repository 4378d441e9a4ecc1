"""Sweep the SST backend's voice-change threshold (engine/voice_changes.py) on an evaluation set:

    .venv/bin/python bench/sst_voice_change_sweep.py --set data/sets/dev [--model models/sst.pt] [--thresholds off 0.4]

Scores the whole backend (decode, split, attribute) through the evaluation harness once per threshold,
"off" being the turns as the model ends them. Splitting moves turns, not channel streams, so ORC-WER is the
same in every row; what it changes is who is talking (cpWER, tcpWER), how many turns there are, and when
they end. Prints one markdown table; choose the threshold on dev, report it on test.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.backends.sst import SSTBackend, default_model_path  # noqa: E402
from engine.evaluate import evaluate  # noqa: E402

THRESHOLDS = ("off", "0.3", "0.35", "0.4", "0.45", "0.5")


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
    return (f"| {threshold} | {100 * o['orc_wer']['wer']:.1f} "
            f"| {100 * o['cp_wer']['wer']:.1f} | {100 * o['tcp_wer']['wer']:.1f} "
            f"| {turns['hyp_turns']} / {turns['ref_turns']} | {100 * turns['turn_count_accuracy']:.1f} "
            f"| {start['p50']:+.2f} / {start['p90']:+.2f} | {end['p50']:+.2f} / {end['p90']:+.2f} | {o['rtf']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path("data/sets/dev"))
    parser.add_argument("--model", type=Path, default=None, help="SST checkpoint (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--thresholds", nargs="+", type=_threshold, default=THRESHOLDS, help="thresholds to score, or off")
    args = parser.parse_args()
    rows = []
    for threshold in tqdm(args.thresholds, desc="thresholds"):
        backend = SSTBackend(args.model or default_model_path(),
                             change_threshold=None if threshold == "off" else float(threshold))
        rows.append(_row(threshold, evaluate("sst", args.set, args.limit, backend=backend)))
    print(f"\n{args.set.name}, {args.model or default_model_path()}\n")
    print("| voice-change threshold | ORC-WER % | cpWER % | tcpWER % | hyp / ref turns | turn count acc % "
          "| `<sot>` p50 / p90 s | `<eot>` p50 / p90 s | RTF |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
