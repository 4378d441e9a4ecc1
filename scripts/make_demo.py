"""Build the demo meeting that a first-time visitor sees, and its transcript by the real cascade backend
(silero-vad → Whisper tiny.en → voice-change cuts → resemblyzer clustering).

    .venv/bin/python scripts/make_demo.py

Three synthetic voices (two mbrola, one espeak-ng) read our own lines as a short meeting with two
overlaps; a little noise keeps the silence from being digital zero. Deterministic: the same voices and
text give the same file. Writes, under engine/assets/:
  demo_meeting.flac                    16 kHz mono FLAC (~35 s)
  demo_meeting.reference.seglst.json   the exact reference turns (who said what, when)
  demo_meeting.seglst.json             what `cascade` (Whisper) transcribed (seeded into the database on first start)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from engine.demo import DEMO_AUDIO, DEMO_REFERENCE, DEMO_SPEAKERS, DEMO_TRANSCRIPT
from engine.exports import render
from engine.transcription import transcribe_file
from engine.types import Turn, Word

RATE = 16000
VOICES = {"Maya": "mb-us1", "Tom": "mb-en1", "Ewan": "en-gb-scotland"}
# (speaker, seconds after the previous turn ended (negative: overlap), line)
SCRIPT = [
    ("Maya", 0.4, "Good morning everyone. Let us start with the garden project."),
    ("Tom", 0.9, "The new benches arrived on Monday, and two of them are already painted."),
    ("Ewan", 0.9, "I can paint the rest this weekend if somebody brings the brushes."),
    ("Maya", -0.9, "Brushes are in the shed."),
    ("Tom", 0.9, "What about the water pump? It stopped working again last night."),
    ("Ewan", 0.9, "I called the repair shop and they will come on Thursday."),
    ("Maya", 0.9, "Great. Then the only open question is the budget for spring."),
    ("Tom", -0.7, "We still have about four hundred left."),
    ("Ewan", 0.9, "That should cover seeds, soil and a new hose."),
    ("Maya", 0.9, "Perfect, thank you all. Same time next week."),
]
NOISE_DBFS = -60


def synthesise(voice: str, text: str, folder: Path) -> np.ndarray:
    wav = folder / "line.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "155", "-w", str(wav), text], check=True)
    samples, rate = sf.read(wav, dtype="float32")
    if rate != RATE:
        samples = AF.resample(torch.from_numpy(samples), rate, RATE).numpy()
    return trim_silence(samples)


def trim_silence(samples: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > floor)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def build_meeting() -> tuple[np.ndarray, list[Turn]]:
    pieces, turns, cursor = [], [], 0.5
    with tempfile.TemporaryDirectory() as tmp:
        for speaker, gap, line in SCRIPT:
            samples = synthesise(VOICES[speaker], line, Path(tmp))
            start = max(0.0, cursor + gap)
            pieces.append((int(start * RATE), samples))
            end = start + len(samples) / RATE
            turns.append(
                Turn(speaker=speaker, start=round(start, 3), end=round(end, 3), words=[Word(w) for w in line.split()])
            )
            cursor = end
    mix = np.zeros(int((cursor + 0.7) * RATE), dtype=np.float32)
    for offset, samples in pieces:
        mix[offset : offset + len(samples)] += samples
    mix *= 0.8 / np.abs(mix).max()
    mix += np.random.default_rng(0).normal(0, 10 ** (NOISE_DBFS / 20), len(mix)).astype(np.float32)
    return mix, turns


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    mix, reference = build_meeting()
    DEMO_AUDIO.parent.mkdir(parents=True, exist_ok=True)
    sf.write(DEMO_AUDIO, mix, RATE, format="FLAC", subtype="PCM_16")
    ((_, text),) = render(reference, "seglst", session_id="demo_meeting")
    DEMO_REFERENCE.write_text(text)
    result = transcribe_file(DEMO_AUDIO, backend="cascade", num_speakers=DEMO_SPEAKERS)
    ((_, text),) = render(result.turns, "seglst", session_id="demo_meeting")
    DEMO_TRANSCRIPT.write_text(text)
    print(
        f"{DEMO_AUDIO} ({DEMO_AUDIO.stat().st_size / 1e6:.2f} MB, {len(mix) / RATE:.1f} s); "
        f"reference {len(reference)} turns; cascade {len(result.turns)} turns, "
        f"{len({t.speaker for t in result.turns})} speakers, RTF {result.rtf:.2f}"
    )
    print(json.dumps([[t.speaker, t.start, t.end, t.text] for t in result.turns], indent=1))


if __name__ == "__main__":
    main()
