"""Sweep the SST backend's turn-ending settings on an evaluation set: the voice-change threshold
(engine/voice_changes.py) and the activity head's quiet end (engine/sst/decode.py):

    .venv/bin/python bench/sst_voice_change_sweep.py --set data/sets/dev [--model models/sst.pt] \
        [--thresholds off 0.3 0.4] [--quiet off 0.4 0.8]

Scores the whole backend (decode, split, attribute) through the evaluation harness once per pair,
"off" being the turns as the model ends them. Splitting moves turns, not channel streams, so ORC-WER is the
same in every row of one quiet setting; what it changes is who is talking (cpWER, tcpWER), how many turns
there are, and when they end. A quiet end feeds `<eot>` to the predictor, so it can change the words too.
Prints one markdown table; choose on dev, report on test.
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


def _setting(text: str) -> float | None:
    return None if text == "off" else float(text)


def _row(threshold: str, quiet: str, results: dict) -> str:
    o = results["overall"]
    turns, start, end = o["turns"], o["turns"]["start_latency"], o["turns"]["end_latency"]
    return (f"| {threshold} | {quiet} | {100 * o['orc_wer']['wer']:.1f} "
            f"| {100 * o['cp_wer']['wer']:.1f} | {100 * o['tcp_wer']['wer']:.1f} "
            f"| {turns['hyp_turns']} / {turns['ref_turns']} | {100 * turns['turn_count_accuracy']:.1f} "
            f"| {start['p50']:+.2f} / {start['p90']:+.2f} | {end['p50']:+.2f} / {end['p90']:+.2f} | {o['rtf']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path("data/sets/dev"))
    parser.add_argument("--model", type=Path, default=None, help="SST checkpoint (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--thresholds", nargs="+", default=THRESHOLDS, help="voice-change thresholds, or off")
    parser.add_argument("--quiet", nargs="+", default=("off",), help="seconds of silence that end a turn, or off")
    args = parser.parse_args()
    pairs = [(threshold, quiet) for quiet in args.quiet for threshold in args.thresholds]
    rows = []
    for threshold, quiet in tqdm(pairs, desc="settings"):
        backend = SSTBackend(args.model or default_model_path(), change_threshold=_setting(threshold),
                             quiet_end_s=_setting(quiet))
        rows.append(_row(threshold, quiet, evaluate("sst", args.set, args.limit, backend=backend)))
    print(f"\n{args.set.name}, {args.model or default_model_path()}\n")
    print("| voice-change threshold | quiet end s | ORC-WER % | cpWER % | tcpWER % | hyp / ref turns "
          "| turn count acc % | `<sot>` p50 / p90 s | `<eot>` p50 / p90 s | RTF |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
