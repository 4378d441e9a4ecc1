"""SST speed and memory against recording length: real-time factor (wall clock and CPU) and peak RSS.

    nice -n 10 .venv/bin/python bench/sst_speed.py [--model models/sst.pt] [--minutes 1 10] [--threads 2]

The recording is the AMI excerpts looped to each length (bench/cascade_speed.py writes it once under
data/bench/). Each length runs in a fresh process that loads the model on three seconds of audio first, then
transcribes the whole file with the SST backend (30 s windows, both channels, speaker attribution): flat
memory means the same peak RSS for every length. Don't time next to a training run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cascade_speed import looped_recording, measure_in_fresh_process, speed_cells

from engine import config

MEASURE = """
import json, resource, sys, tempfile, time
import soundfile as sf
from pathlib import Path
from engine.backends.sst import SSTBackend
from engine import audio
model, path, threads = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
backend = SSTBackend(model, threads=threads)
with tempfile.NamedTemporaryFile(suffix=".wav") as warm:
    sf.write(warm.name, sf.read(path, frames=16000 * 3, dtype="float32")[0], 16000)
    backend.transcribe(Path(warm.name))
cpu, wall = time.process_time(), time.perf_counter()
turns = backend.transcribe(Path(path))
print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                  "audio_s": audio.probe(path).duration_s, "turns": len(turns),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=config.models_dir() / "sst.pt")
    parser.add_argument("--minutes", nargs="+", type=float, default=[1.0, 10.0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.model.is_file():
        sys.exit(f"{args.model} is not a file; pass --model with an SST file (e.g. models/sst.pt).")
    rows = []
    for minutes in args.minutes:
        r = measure_in_fresh_process(MEASURE, str(args.model), str(looped_recording(minutes)), str(args.threads))
        rows.append(f"| {speed_cells(r)} |")
        print(rows[-1], file=sys.stderr)
    print(f"{args.model}, {args.threads} threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| minutes | turns | RTF (wall) | RTF (CPU) | peak RSS MB |\n|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
