"""Does the SST model's second output channel say anything, and is it worth hearing?
    .venv/bin/python bench/sst_second_channel.py [--model models/sst.pt] [--set data/sets/dev] [--limit 12] \
        [--sot-bias 0 3 4 5]

Decodes the first `--limit` meetings of a simulated set (conditions interleaved) once through the encoder, then
searches greedily with a bias added to channel 1's `<sot>` logit while that channel is outside a turn
(`engine.sst.decode.greedy_search(sot_bias=...)`). Bias 0 is the shipped decoding. If channel 1 only lacked
the nerve to start, a bias would turn its silence into words that lower ORC-WER under overlap; if it has not
learnt to separate, the words it then emits are insertions. Prints one markdown table: ORC-WER overall and
per condition, words per channel, turns.

A second table looks inside, on training-style two-talker mixtures in which every turn change overlaps (dev
voices and sentences): each channel's teacher-forced transducer loss per target token (can the channel
transcribe its turns once they have started?) and channel 1's `<sot>` probability before any token, at its
median frame and at its highest frame within 2 s after the start of a turn HEAT gives channel 1 (does it
notice the second talker?).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.evaluate import hypothesis_segments, select_meetings  # noqa: E402
from engine.metrics.multitalker import orc_wer  # noqa: E402
from engine.simulate.timeline import CONDITIONS  # noqa: E402
from engine.sst.checkpoint import load_model  # noqa: E402
from engine.sst.data import MixingSpec, collate, make_example, tts_pool  # noqa: E402
from engine.sst.decode import SearchState, greedy_search, tokens_to_turns  # noqa: E402
from engine.sst.features import Fbank  # noqa: E402
from engine.sst.heat import heat_assign  # noqa: E402
from engine.sst.loss import rnnt_loss_fast  # noqa: E402

OVERLAPPED = MixingSpec(kind="meeting", overlap_prob=1.0, max_overlap=0.4, max_turns=3)
SOT_WINDOW_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/sst.pt")
    parser.add_argument("--set", default="data/sets/dev", help="a set built by scripts/build_sets.py")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--sot-bias", type=float, nargs="+", default=[0.0, 3.0, 4.0, 5.0])
    parser.add_argument("--mixtures", type=int, default=8, help="overlapped mixtures for the second table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, table, _ = load_model(Path(args.model))
    forced_start_table(model, table, Path(args.set), args.limit, args.sot_bias)
    inside_table(model, table, args.mixtures)


def forced_start_table(model, table, set_dir: Path, limit: int, biases: list[float]) -> None:
    ids = [m["session_id"] for m in select_meetings(set_dir, limit)]
    reference = [r for r in json.loads((set_dir / "reference.seglst.json").read_text()) if r["session_id"] in ids]
    encoded = {}
    with torch.no_grad():
        for session in ids:
            audio, rate = sf.read(set_dir / "audio" / f"{session}.wav", dtype="float32")
            feats = Fbank(model.config)(torch.from_numpy(audio).reshape(1, -1))
            encoded[session] = (model.encode(feats)[0], len(audio) / rate)
    conditions = [c for c in CONDITIONS if any(s.startswith(c + "_") for s in ids)]
    print(f"| <sot> bias on channel 1 | ORC-WER % (errors/words) | {' | '.join(conditions)} | words ch0 / ch1 | turns |")
    print("|---|---|" + "---|" * len(conditions) + "---|---|")
    for bias in biases:
        hypothesis, words, turns_total = [], [0, 0], 0
        for session, (frames, duration) in encoded.items():
            search = greedy_search(model, frames, SearchState.start(model), torch.tensor([0.0, bias]))
            turns = [t for t in tokens_to_turns(search.emissions, table, model.config.frame_seconds, duration) if t.words]
            turns_total += len(turns)
            for turn in turns:
                words[turn.channel] += len(turn.words)
            hypothesis += hypothesis_segments(session, turns, "channel")
        counts = orc_wer(reference, hypothesis)
        per_condition = defaultdict(lambda: [0, 0])
        for session, c in counts.items():
            per_condition[session.split("_")[0]][0] += c.errors
            per_condition[session.split("_")[0]][1] += c.ref_words
        errors, total = sum(c.errors for c in counts.values()), sum(c.ref_words for c in counts.values())
        cells = " | ".join(f"{100 * per_condition[c][0] / per_condition[c][1]:.1f}" for c in conditions)
        print(f"| {bias:g} | {100 * errors / total:.1f} ({errors}/{total}) | {cells} | {words[0]} / {words[1]} | "
              f"{turns_total} |", flush=True)


@torch.no_grad()
def inside_table(model, table, count: int) -> None:
    pool = tts_pool("dev", 80, 20, 2)  # the recipes' dev pool (seed 1 + 1)
    rng = random.Random(7)
    examples = [make_example(pool, OVERLAPPED, rng, model.config.sample_rate) for _ in range(count)]
    batch = collate(examples, table, model.config, Fbank(model.config))
    encoded, predicted, _, _ = model(batch["feats"], batch["targets"].long())
    losses = rnnt_loss_fast(model.join(encoded, predicted), batch["targets"], batch["frame_lengths"],
                            batch["target_lengths"])
    tokens = batch["target_lengths"].float()
    print(f"\n{count} training-style mixtures, every turn change overlapped (dev voices and sentences):\n")
    print("| channel | target tokens | teacher-forced loss, nats per token |")
    print("|---|---|---|")
    for c in range(model.config.num_channels):
        rows = slice(c * count, (c + 1) * count)
        print(f"| {c} | {int(tokens[rows].sum())} | {float(losses[rows].sum() / tokens[rows].sum()):.2f} |")
    peaks, medians = [], []
    for i, example in enumerate(examples):
        length = int(batch["frame_lengths"][i])
        sot = model.join(encoded[count + i, :length], predicted[count + i, :1].expand(length, -1))
        sot = sot.log_softmax(-1)[:, table.sot].exp()
        medians.append(float(sot.median()))
        spans = [(t.start, t.end) for t in example.turns]
        for turn, channel in zip(example.turns, heat_assign(spans).channels):
            if channel == 1:
                first = int(turn.start / model.config.frame_seconds)
                peaks.append(float(sot[first:first + int(SOT_WINDOW_S / model.config.frame_seconds)].max()))
    print(f"\nchannel 1 <sot> probability before any token: median frame {sum(medians) / len(medians):.4f}, "
          f"highest within {SOT_WINDOW_S:g} s of a channel-1 turn start {sum(peaks) / len(peaks):.3f} "
          f"(mean of {len(peaks)} turns)")


if __name__ == "__main__":
    main()
