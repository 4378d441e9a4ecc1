"""The two runtimes of Whisper tiny.en side by side on Speech Accent Archive readers (whole recordings):
    nice -n 10 .venv/bin/python bench/whisper_runtimes.py [--speakers 40] [--seed 0] [--threads 2]

CTranslate2 int8 (engine.whisper.runtime, what the cascade uses) and the float32 PyTorch copy
(engine.whisper.decoding.transcribe: the same seek-and-fallback algorithm, what training uses), both greedy.
Prints WER (Σ errors / Σ reference words, native English and not) and real-time factor (wall and CPU).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from engine import audio, config
from engine.metrics.speed import peak_memory_mb
from engine.metrics.wer import edit_counts
from engine.whisper.decoding import transcribe
from engine.whisper.model import shared_model
from engine.whisper.runtime import recognize

RUNTIMES = {"CTranslate2 int8": recognize, "PyTorch float32": lambda samples: transcribe(shared_model(), samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    saa = config.shared_data_dir() / "saa"
    readers = pd.read_csv(saa / "metadata.csv").sample(args.speakers, random_state=args.seed)
    paragraph = (saa / "transcript.txt").read_text()
    rows = []
    for name, run in RUNTIMES.items():
        run(np.zeros(16000, np.float32))  # load the model outside the timing
        totals = {"native": [0, 0], "non-native": [0, 0]}
        audio_s = wall = cpu = 0.0
        for reader in tqdm(readers.itertuples(), total=len(readers), desc=name, unit="reader"):
            samples = audio.load(saa / reader.file)
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            words = run(samples)
            wall += time.perf_counter() - start_wall
            cpu += time.process_time() - start_cpu
            audio_s += len(samples) / 16000
            counts = edit_counts(paragraph, " ".join(w.text for w in words))
            group = totals["native" if reader.native_language == "english" else "non-native"]
            group[0] += counts.errors
            group[1] += counts.ref_words
        errors, words = (sum(g[i] for g in totals.values()) for i in (0, 1))
        rows.append(
            {
                "runtime": name,
                "speakers": len(readers),
                "WER %": 100 * errors / words,
                "native %": 100 * totals["native"][0] / max(1, totals["native"][1]),
                "non-native %": 100 * totals["non-native"][0] / max(1, totals["non-native"][1]),
                "errors/words": f"{errors}/{words}",
                "RTF wall": wall / audio_s,
                "RTF CPU": cpu / audio_s,
                "peak MB": peak_memory_mb(),
            }
        )
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
