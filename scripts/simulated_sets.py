"""Describe a simulated set: per condition meetings, minutes, measured overlap, turns, words, talkers.

    .venv/bin/python scripts/simulated_sets.py data/sets/test

Reads only DIR/meetings/*.json (what `python -m engine simulate` wrote); prints a Markdown table.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from engine.simulate.sets import load_meetings


def main(set_dir: Path) -> None:
    meetings = load_meetings(set_dir)
    by_condition = defaultdict(list)
    for m in meetings:
        by_condition[m["spec"]["condition"]].append(m)
    print(
        "| condition | meetings | minutes | measured overlap % (min–max) | max talkers at once | turns | words "
        "| meetings with 2/3/4 talkers |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for condition, group in sorted(by_condition.items()):
        overlap = [100 * m["overlap_ratio"] for m in group]
        talkers = Counter(len(m["speakers"]) for m in group)
        print(
            f"| {condition} | {len(group)} | {sum(m['duration_s'] for m in group) / 60:.1f} | "
            f"{sum(overlap) / len(overlap):.2f} ({min(overlap):.2f}–{max(overlap):.2f}) | "
            f"{max(m['max_simultaneous_talkers'] for m in group)} | {sum(m['num_turns'] for m in group)} | "
            f"{sum(len(r['words'].split()) for m in group for r in m['reference'])} | "
            f"{talkers[2]}/{talkers[3]}/{talkers[4]} |"
        )
    speakers = [s for m in meetings for s in m["speakers"]]
    print(
        f"\n{len(meetings)} meetings, {sum(m['duration_s'] for m in meetings) / 60:.1f} minutes, "
        f"{len(speakers)} talkers; sex labels {dict(sorted(Counter(s['sex'] for s in speakers).items()))}; "
        f"kinds {dict(sorted(Counter(s.get('engine', s['kind']) for s in speakers).items()))}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_dir", type=Path, help="a simulated set (what `python -m engine simulate` wrote)")
    main(parser.parse_args().set_dir)
