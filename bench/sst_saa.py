"""WER on real human speech (Speech Accent Archive), SST beside the cascade:
    .venv/bin/python bench/sst_saa.py [--per-language 2] [--backends sst cascade]

Every speaker reads the same paragraph; the first `--per-language` speakers of each native language
(metadata order) are transcribed with one speaker given, turns joined in time order, and scored with the
project's normaliser. Prints errors and reference words (WER = sum of errors / sum of words) per backend
and native-English vs other L1.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from engine import config  # noqa: E402
from engine.backends import get_backend  # noqa: E402
from engine.metrics.wer import edit_counts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-language", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=["sst", "cascade"])
    args = parser.parse_args()
    saa = config.shared_data_dir() / "saa"
    paragraph = (saa / "transcript.txt").read_text()
    speakers = pd.read_csv(saa / "metadata.csv").groupby("native_language").head(args.per_language)
    rows = []
    for name in args.backends:
        backend = get_backend(name)
        for _, speaker in speakers.iterrows():
            started = time.perf_counter()
            turns = backend.transcribe(saa / speaker["file"], num_speakers=1)
            hypothesis = " ".join(t.text for t in sorted(turns, key=lambda t: t.start))
            counts = edit_counts(paragraph, hypothesis)
            rows.append({"backend": name, "group": "english L1" if speaker["native_language"] == "english" else "other L1",
                         "errors": counts.errors, "words": counts.ref_words,
                         "audio_s": speaker["duration_s"], "compute_s": time.perf_counter() - started})
    frame = pd.DataFrame(rows)
    table = []
    for (name, group), part in list(frame.groupby(["backend", "group"])) + [((n, "all"), p) for n, p in frame.groupby("backend")]:
        table.append({"backend": name, "speakers": group, "n": len(part), "errors": int(part["errors"].sum()),
                      "words": int(part["words"].sum()), "WER %": round(100 * part["errors"].sum() / part["words"].sum(), 1),
                      "RTF": round(part["compute_s"].sum() / part["audio_s"].sum(), 3)})
    print(pd.DataFrame(table).to_string(index=False))


if __name__ == "__main__":
    main()
