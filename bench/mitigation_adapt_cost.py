"""nice -n 10 .venv/bin/python bench/mitigation_adapt_cost.py [--updates 3 --batch 4] [--speakers 4]

What each EWC adaptation set of Whisper tiny.en costs on this machine (one torch thread): moving weights, the
seconds of one fine-tuning update (teacher-forced loss, forward + backward + Adam) and of one greedy decode per
utterance, on real archive readings (sentences 1–3 of four speakers, cut by Whisper's word times). Prints a table.
"""

from __future__ import annotations

import argparse
import time

import torch

from engine import audio
from engine.mitigation import saa
from engine.mitigation.ewc import fine_tune
from engine.mitigation.whisper_adapt import (
    ADAPTS,
    WINDOW_SAMPLES,
    Adapter,
    TeacherForcedLoss,
    Utterance,
    set_trainable,
    states_cache_key,
    transcribe,
)
from engine.whisper.model import Whisper

SPEAKERS = ["saa66", "saa1119", "saa631", "saa824"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--speakers", type=int, default=len(SPEAKERS), help=f"readings used, the first of {', '.join(SPEAKERS)}"
    )
    args = parser.parse_args()
    if not 1 <= args.speakers <= len(SPEAKERS) or args.updates < 1 or args.batch < 1:
        parser.error(f"--speakers takes 1 to {len(SPEAKERS)}; --updates and --batch at least 1.")
    speakers = SPEAKERS[: args.speakers]
    torch.set_num_threads(1)
    readings = saa.Readings(saa.audio_paths(speakers), "halves", WINDOW_SAMPLES)
    print("| adaptation set | moving weights | s per update (batch %d) | s per decoded utterance |" % args.batch)
    print("|---|---:|---:|---:|")
    for adapt in ADAPTS:
        model = Whisper.pretrained()
        moving = set_trainable(model, adapt)
        adapter = Adapter(adapt)
        utts = []
        for key in speakers:
            samples, start, end, text = readings.fine_tuning(key)
            utts.append(
                Utterance(key, adapter.memory(model, samples, states_cache_key(readings.paths[key], start, end)), text)
            )
        started = time.process_time()
        fine_tune(
            model,
            lambda rng: rng.sample(utts, min(args.batch, len(utts))),
            TeacherForcedLoss(adapter),
            args.updates,
            lr=1e-4,
            clip=1.0,
        )
        per_update = (time.process_time() - started) / args.updates
        started = time.process_time()
        transcribe(model, utts, adapter)
        per_decode = (time.process_time() - started) / len(utts)
        print(f"| {adapt} | {moving:,} | {per_update:.2f} | {per_decode:.2f} |")
    print(
        f"(CPU seconds of one thread; {audio.SAMPLE_RATE // 1000} kHz audio, sentences 1–3 of {len(speakers)} readings)"
    )


if __name__ == "__main__":
    main()
