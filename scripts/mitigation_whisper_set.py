"""nice -n 10 .venv/bin/python scripts/mitigation_whisper_set.py --limit 400 [--import-only]

Whisper tiny.en (CTranslate2, greedy) over a fixed pseudo-random sample of Speech Accent Archive speakers,
stored as the evaluation set the EWC experiments target: "Speech Accent Archive sample (Whisper tiny.en)".
Each recording's words are cached as soon as they exist (engine/mitigation/whisper_readings.py), so a killed
run loses at most one file and a rerun resumes. Metadata, coordinates and speaker embeddings come from the
shipped demo set (engine/assets/saa_demo.parquet; only its hypotheses are replaced). The sample is the
first --limit speakers in the order of sha256(speakerid), so a larger sample contains a smaller one. The
regions analysis is computed with the default region parameters and stored beside the set. Prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import pandas as pd
from tqdm import tqdm

from engine import persistence
from engine.fairness import analyses
from engine.fairness.demo import ATTRIBUTION, DEMO_PARQUET, NOT_ATTRIBUTES
from engine.fairness.importing import import_frame
from engine.metrics.wer import edit_counts, total
from engine.mitigation import saa, whisper_readings

SET_NAME = "Speech Accent Archive sample (Whisper tiny.en)"
SOURCE = (
    "Speech Accent Archive, a sha256-ordered sample of speakers reading the 'Please call Stella' paragraph; "
    "hypotheses from Whisper tiny.en (CTranslate2 int8, greedy; scripts/mitigation_whisper_set.py)"
)


def sample(limit: int) -> pd.DataFrame:
    frame = pd.read_parquet(DEMO_PARQUET).drop(columns=list(NOT_ATTRIBUTES), errors="ignore")
    order = frame["speaker_id"].map(lambda key: hashlib.sha256(key.encode()).hexdigest())
    return frame.assign(_order=order).sort_values("_order").drop(columns="_order").head(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=400, help="speakers in the sample")
    parser.add_argument("--import-only", action="store_true", help="store the set from what is cached now")
    args = parser.parse_args()
    persistence.ensure_schema()
    frame = sample(args.limit)
    paths = saa.audio_paths(frame["speaker_id"].tolist())
    hypotheses, started, done = [], time.time(), 0
    for key in tqdm(frame["speaker_id"], desc="Whisper tiny.en", unit="file"):
        found = (
            whisper_readings.cached_words(paths[key])
            if args.import_only
            else whisper_readings.recognised_words(paths[key])
        )
        hypotheses.append(None if found is None else " ".join(w.text for w in found))
        done += found is not None
    frame = frame.assign(hypothesis=hypotheses).dropna(subset=["hypothesis"])
    seconds = time.time() - started
    result = import_frame(
        frame,
        SET_NAME,
        source=SOURCE,
        attribution=ATTRIBUTION,
        replace=any(i.name == SET_NAME for i in persistence.list_evaluation_sets()),
    )
    analysis = analyses.run_regions(SET_NAME)
    counts = total(edit_counts(r, h) for r, h in zip(frame["reference"], frame["hypothesis"]))
    print(
        f"| speakers | words | WER % | regions (flagged) | wall s |\n|---:|---:|---:|---:|---:|\n"
        f"| {len(frame)} | {counts.ref_words} | {100 * counts.errors / counts.ref_words:.1f} | "
        f"{len(analysis.rows)} ({sum(r['flagged'] for r in analysis.rows)}) | {seconds:.0f} |"
    )
    print(f"stored set {result.info.name!r} and regions analysis {analysis.id}")


if __name__ == "__main__":
    main()
