"""Cascade speed and memory against recording length: real-time factor (wall clock and CPU) and peak RSS.

    nice -n 10 .venv/bin/python bench/cascade_speed.py [--recognisers whisper pocketsphinx] [--minutes 1 10]

The recording is the AMI excerpts (real meeting speech, 14 × 30 s) played one after another and looped to
each length, written once under data/bench/. Each (recogniser, length) runs in a fresh process that loads
the models on one second of audio first, then transcribes the recording: RTF is compute over audio
seconds, CPU counting every thread of the process; peak RSS is the process's high-water mark, so flat
memory means the same peak for 1 and 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import audio, config
from engine.cascade.recognisers import RECOGNISERS

MEASURE = """
import json, resource, sys, time
import numpy as np, soundfile as sf, tempfile
from engine.errors import UserError
from engine.transcription import transcribe_file
backend, path = sys.argv[1], sys.argv[2]
with tempfile.NamedTemporaryFile(suffix=".wav") as warm:
    sf.write(warm.name, sf.read(path, frames=16000 * 3, dtype="float32")[0], 16000)
    try:
        transcribe_file(warm.name, backend=backend)  # loads every model
    except UserError:  # three seconds without speech: the models are loaded all the same
        pass
cpu, wall = time.process_time(), time.perf_counter()
result = transcribe_file(path, backend=backend)
print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                  "audio_s": result.duration_s, "turns": len(result.turns),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def looped_recording(minutes: float) -> Path:
    path = config.data_dir() / "bench" / f"ami_looped_{minutes:g}min.flac"
    if path.exists():
        return path
    ami = config.shared_data_dir() / "ami_excerpts" / "audio"
    speech = np.concatenate([audio.load(f) for f in sorted(ami.glob("*.flac"))])
    need = int(minutes * 60 * audio.SAMPLE_RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.resize(speech, need), audio.SAMPLE_RATE)
    return path


def measure_in_fresh_process(code: str, *args: str) -> dict:
    """Run a MEASURE snippet in its own interpreter (so its peak RSS is its own); its last line is the JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=config.REPO_ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed_cells(r: dict) -> str:
    """minutes | turns | RTF wall | RTF CPU | peak RSS, the columns both speed tables share."""
    return (
        f"{r['audio_s'] / 60:.0f} | {r['turns']} | {r['wall_s'] / r['audio_s']:.3f} "
        f"| {r['cpu_s'] / r['audio_s']:.3f} | {r['peak_rss_mb']:.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recognisers", nargs="+", choices=RECOGNISERS, default=list(RECOGNISERS))
    parser.add_argument("--minutes", nargs="+", type=float, default=[1.0, 10.0])
    args = parser.parse_args()
    rows = []
    for recogniser in args.recognisers:
        backend = "cascade" if recogniser == "whisper" else f"cascade-{recogniser}"
        for minutes in args.minutes:
            r = measure_in_fresh_process(MEASURE, backend, str(looped_recording(minutes)))
            rows.append(f"| {backend} | {speed_cells(r)} |")
            print(rows[-1], file=sys.stderr)
    print(f"AMI excerpts looped; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end\n")
    print("| backend | minutes | turns | RTF (wall) | RTF (CPU) | peak RSS MB |\n|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
