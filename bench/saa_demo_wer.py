""".venv/bin/python bench/saa_demo_wer.py [--parquet engine/assets/saa_demo.parquet]

WER of each recogniser in the shipped Speech Accent Archive demo sets (scripts/build_saa_demo.py): overall,
by native language (English or not) and by sex, with speakers, reference words and a 95 % bootstrap CI
over speakers (1000 replicates, seed 0). Only speakers every recogniser has are counted, so the rows
compare the systems on the same people. WER = Σ errors / Σ reference words (engine.text normalisation,
kaldialign edit counts, as the import stores them). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from engine.fairness import demo, stats
from engine.fairness.evalset import score_utterances

GROUPS = {
    "all speakers": lambda t: np.zeros(len(t), np.int64),
    "native language": lambda t: np.where(t["native_language"] == "english", 0, 1),
    "sex": lambda t: np.where(t["sex"] == "female", 0, 1),
}
LABELS = {"all speakers": ["all"], "native language": ["English", "not English"], "sex": ["female", "male"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parquet", type=Path, default=demo.DEMO_PARQUET)
    args = parser.parse_args()
    table = pd.read_parquet(args.parquet)
    recognisers = demo.recognisers_in(table)
    if not recognisers:
        raise SystemExit(f"{args.parquet} holds no hypotheses.")
    table = table.dropna(subset=[demo.RECOGNISERS[r].column for r in recognisers]).reset_index(drop=True)
    counts = {r: score_utterances(table["reference"], table[demo.RECOGNISERS[r].column]) for r in recognisers}
    print(f"{len(table)} speakers with a hypothesis from every recogniser ({', '.join(recognisers)})\n")
    print("| group | speakers | words | " + " | ".join(f"{r} WER % (95 % CI)" for r in recognisers) + " |")
    print("|---|---:|---:|" + "---:|" * len(recognisers))
    for group, assign in GROUPS.items():
        labels = assign(table)
        n_groups = len(LABELS[group])
        cells = {}
        for r in recognisers:
            c = counts[r]
            errors = (c["substitutions"] + c["deletions"] + c["insertions"]).to_numpy(float)
            cells[r] = stats.group_wer_with_ci(errors, c["ref_words"].to_numpy(float), labels, n_groups)
        for g, label in enumerate(LABELS[group]):
            first = cells[recognisers[0]]
            row = [
                f"{group}: {label}" if group != "all speakers" else "all speakers",
                str(int(first["speakers"][g])),
                f"{int(first['words'][g]):,}",
            ]
            row += [
                f"{100 * cells[r]['wer'][g]:.1f} ({100 * cells[r]['ci_low'][g]:.1f}–{100 * cells[r]['ci_high'][g]:.1f})"
                for r in recognisers
            ]
            print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
