"""How well does an SST checkpoint recognise one talker? CER and WER on single synthetic utterances:
    .venv/bin/python bench/sst_recogniser.py [--model models/sst.pt] [--splits train dev test] [--count 40]

No mixing, no turns: each utterance (a voice and a sentence of the split, the first `--count` of a TTS pool)
is decoded greedily on its own, with 0.5 s of silence after it and white noise at 20 dB SNR (the middle of
the training mixtures' 10-30 dB: every training example carries noise), and both channels' words are joined.
It separates the recogniser's quality from routing and segmentation: ORC-WER on meetings cannot be better
than this. Train-split rows use training voices and sentences; dev and test rows use held-out accents.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jiwer
import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.errors import UserError  # noqa: E402
from engine.sst.checkpoint import load_model  # noqa: E402
from engine.sst.data import tts_pool  # noqa: E402
from engine.sst.decode import decode_whole  # noqa: E402
from engine.text import normalize  # noqa: E402

POOL_SEEDS = {"train": 3, "dev": 4, "test": 5}  # pools of 20 voices; train seed 3 is a cached training pool's seed
TRAILING_SILENCE_S = 0.5  # a transducer emits the last characters a few frames after the audio that carries them
SNR_DB = 20.0


def recognise(model, table, split: str, count: int) -> tuple[float, float, str, str]:
    pool = tts_pool(split, count, 20, POOL_SEEDS[split])
    refs, hyps = [], []
    noise = np.random.default_rng(0)
    for utterance in tqdm(pool.utterances, desc=split, unit="utterance"):
        audio = np.concatenate([utterance.audio.astype(np.float32) / 32767 * 0.5,
                                np.zeros(int(TRAILING_SILENCE_S * model.config.sample_rate), np.float32)])
        level = np.sqrt(np.mean(audio ** 2) / 10 ** (SNR_DB / 10))
        audio = audio + noise.normal(0, level, audio.shape).astype(np.float32)
        channels = decode_whole(model, torch.from_numpy(audio))
        words = " ".join(table.decode_text([e.token for e in channel if e.token > table.eot]) for channel in channels)
        refs.append(normalize(utterance.text))
        hyps.append(normalize(words) or "-")  # jiwer needs a word; "-" counts as one insertion
    return jiwer.cer(refs, hyps), jiwer.wer(refs, hyps), refs[0], hyps[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/sst.pt")
    parser.add_argument("--splits", nargs="+", default=["train", "dev", "test"], choices=sorted(POOL_SEEDS))
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        model, table, _ = load_model(Path(args.model))
    except UserError as error:
        sys.exit(str(error))
    model.eval()
    rows = [(split, *recognise(model, table, split, args.count)) for split in args.splits]
    print(f"{args.model}: {args.count} single-talker utterances per split, {SNR_DB:.0f} dB SNR, greedy search")
    print(f"{'split':6} | {'CER %':>6} | {'WER %':>6} | first utterance: reference / hypothesis")
    for split, cer, wer, ref, hyp in rows:
        print(f"{split:6} | {100 * cer:6.1f} | {100 * wer:6.1f} | {ref} / {hyp}")


if __name__ == "__main__":
    main()
