"""SST streaming speed and memory:  .venv/bin/python bench/sst_speed.py [--model models/sst.pt] [--long-min 30]

Prints one table: real-time factor of streaming decoding (320 ms chunks) with 1 and 2 torch threads,
the p95 compute time per chunk, and the peak resident memory of a fresh process that streams a
1-minute and a `--long-min`-minute file from disk through the decoder (flat memory = same peak), then
through the whole backend (decoding, voice-change splitting and speaker attribution, as the dashboard runs it).
The audio is synthesised speech (engine/simulate) looped to length, written as 16-bit WAV.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from engine.audio import SAMPLE_RATE, iter_chunks  # noqa: E402
from engine.sst.checkpoint import load_model  # noqa: E402
from engine.sst.decode import StreamingDecoder  # noqa: E402

CHUNK = int(0.32 * SAMPLE_RATE)


def speech_minute() -> np.ndarray:
    """One minute of dev-split sentences in dev-split voices, with short pauses."""
    from engine.simulate.synth import synthesize
    from engine.simulate.text_source import sentences
    from engine.simulate.voices import voices

    texts, speakers = sentences("dev"), voices("dev")
    pieces, total, i = [], 0, 0
    while total < 60 * SAMPLE_RATE:
        audio = synthesize(texts[i], speakers[(7 * i) % len(speakers)])
        pieces += [audio, np.zeros(SAMPLE_RATE // 3, dtype=np.float32)]
        total += len(audio) + SAMPLE_RATE // 3
        i += 1
    return np.concatenate(pieces)[:60 * SAMPLE_RATE]


def write_looped(minute: np.ndarray, minutes: float, path: Path) -> None:
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, subtype="PCM_16") as f:
        for _ in range(int(minutes)):
            f.write(minute)
        f.write(minute[:int((minutes % 1) * len(minute))])


def decode_file(model_path: str, wav: str) -> None:
    """Child process: stream a file through the decoder; print peak RSS in MB."""
    model, _, _ = load_model(Path(model_path))
    torch.set_num_threads(1)
    decoder = StreamingDecoder(model)
    for block in iter_chunks(wav, chunk_s=10.0):
        samples = torch.from_numpy(block)
        for start in range(0, len(samples), CHUNK):
            decoder.accept(samples[start:start + CHUNK])
    decoder.finish()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def transcribe_file(model_path: str, wav: str) -> None:
    """Child process: the whole SST backend on a file; print peak RSS in MB."""
    from engine.backends.sst import SSTBackend

    SSTBackend(Path(model_path)).transcribe(Path(wav))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


CHILDREN = {"--decode": decode_file, "--transcribe": transcribe_file}


def streaming_speed(model, audio: np.ndarray, threads: int) -> tuple[float, float]:
    """(real-time factor, p95 seconds of compute per 320 ms chunk)."""
    torch.set_num_threads(threads)
    decoder = StreamingDecoder(model)
    samples = torch.from_numpy(audio)
    per_chunk = []
    started = time.perf_counter()
    for start in range(0, len(samples), CHUNK):
        t = time.perf_counter()
        decoder.accept(samples[start:start + CHUNK])
        per_chunk.append(time.perf_counter() - t)
    decoder.finish()
    wall = time.perf_counter() - started
    return wall / (len(audio) / SAMPLE_RATE), float(np.percentile(per_chunk, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO_ROOT / "models" / "sst.pt"))
    parser.add_argument("--long-min", type=float, default=30.0)
    args = parser.parse_args()
    model, _, _ = load_model(Path(args.model))
    minute = speech_minute()
    rows = []
    for threads in (1, 2):
        rtf, p95 = streaming_speed(model, minute, threads)
        rows.append((f"streaming decode, {threads} thread(s), 1 min", f"RTF {rtf:.3f}", f"chunk p95 {1000 * p95:.1f} ms"))
    with tempfile.TemporaryDirectory() as tmp:
        for child, what in (("--decode", "decoder"), ("--transcribe", "whole backend")):
            for minutes in (1.0, args.long_min):
                wav = Path(tmp) / f"{minutes}.wav"
                if not wav.exists():
                    write_looped(minute, minutes, wav)
                started = time.perf_counter()
                out = subprocess.run([sys.executable, __file__, child, args.model, str(wav)],
                                     capture_output=True, text=True, check=True)
                wall = time.perf_counter() - started
                rows.append((f"{what}, file {minutes:g} min, fresh process, 1 thread",
                             f"peak RSS {float(out.stdout.split()[-1]):.0f} MB", f"wall {wall:.0f} s, RTF {wall / (60 * minutes):.3f}"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}} | value | detail")
    for name, value, detail in rows:
        print(f"{name:<{width}} | {value} | {detail}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](sys.argv[2], sys.argv[3])
    else:
        main()
