"""Why turns end late: the matched turns of a stored evaluation whose end comes more than --late seconds after
the reference end, sorted by what the hypothesis turn ran on into:

    .venv/bin/python bench/sst_late_ends.py --set data/sets/test --hyp-dir data/eval/sst-6042-split-test-hyps

"next talker": a reference turn starts between this one's end and the hypothesis end (the channel carried on
into it); "overlapping talker": no new turn starts there, but other reference speech covers most of the stretch
from the reference end to the turn's last word (a talker who started earlier is still speaking); "silence":
neither. Reads the meetings' hypotheses kept by `python -m engine evaluate --hyp-dir`; runs no model.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.errors import UserError  # noqa: E402
from engine.metrics.turns import match_turns  # noqa: E402
from engine.simulate.sets import load_meetings  # noqa: E402

NEXT_TURN_SLACK_S = 0.5  # a next turn that starts this little before the reference end still counts as next
COVERED = 0.5  # share of the late stretch that other reference speech must cover for "overlapping talker"


def _late_kind(ref: list[tuple[float, float]], r: int, hyp_end: float, last_word_end: float) -> str:
    end = ref[r][1]
    if any(end - NEXT_TURN_SLACK_S < start < hyp_end for i, (start, _) in enumerate(ref) if i != r):
        return "next talker"
    stretch = max(last_word_end - end, 1e-3)
    covered = sum(max(0.0, min(end + stretch, e) - max(end, s)) for i, (s, e) in enumerate(ref) if i != r)
    return "overlapping talker" if covered / stretch > COVERED else "silence"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, required=True)
    parser.add_argument("--hyp-dir", type=Path, required=True)
    parser.add_argument("--late", type=float, default=1.0, help="seconds after the reference end that count as late")
    args = parser.parse_args()
    try:
        meetings = load_meetings(args.set)
    except UserError as e:
        sys.exit(f"error: {e}")
    matched, late = 0, defaultdict(lambda: defaultdict(int))
    for meeting in meetings:
        hyp_file = args.hyp_dir / f"{meeting['session_id']}.json"
        if not hyp_file.exists():
            continue
        ref = sorted((seg["start_time"], seg["end_time"]) for seg in meeting["reference"])
        hyp = json.loads(hyp_file.read_text())["turns"]
        pairs = match_turns(ref, [(t["start"], t["end"]) for t in hyp])
        matched += len(pairs)
        for r, h in pairs:
            turn = hyp[h]
            if turn["end"] - ref[r][1] > args.late:
                last_word_end = turn["words"][-1][2] if turn["words"] else turn["end"]
                condition = meeting["session_id"].split("_")[0]
                late[_late_kind(ref, r, turn["end"], last_word_end)][condition] += 1
    conditions = sorted({c for counts in late.values() for c in counts})
    print(f"\n{args.hyp_dir}: {matched} matched turns, {sum(sum(c.values()) for c in late.values())} end "
          f"more than {args.late} s late\n")
    print("| ran on into | " + " | ".join(conditions) + " | all |")
    print("|---|" + "---:|" * (len(conditions) + 1))
    for kind in ("next talker", "overlapping talker", "silence"):
        counts = late.get(kind, {})
        print(f"| {kind} | " + " | ".join(str(counts.get(c, 0)) for c in conditions) + f" | {sum(counts.values())} |")


if __name__ == "__main__":
    main()
