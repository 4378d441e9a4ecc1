"""Does the SST model's second output channel say anything, and is it worth hearing?
    .venv/bin/python bench/sst_second_channel.py [--model models/sst.pt] [--set data/sets/dev] [--limit 12] \
        [--sot-bias 0 3 4 5]

Decodes the first `--limit` meetings of a simulated set (conditions interleaved) once through the encoder, then
searches greedily with a bias added to channel 1's `<sot>` logit while that channel is outside a turn
(`engine.sst.decode.greedy_search(sot_bias=...)`). Bias 0 is the shipped decoding. If channel 1 only lacked
the nerve to start, a bias would turn its silence into words that lower ORC-WER under overlap; if it has not
learnt to separate, the words it then emits are insertions. Prints one markdown table: ORC-WER overall and
per condition, words per channel, turns.
"""
from __future__ import annotations

import argparse
import json
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
from engine.sst.decode import SearchState, greedy_search, tokens_to_turns  # noqa: E402
from engine.sst.features import Fbank  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/sst.pt")
    parser.add_argument("--set", default="data/sets/dev", help="a set built by scripts/build_sets.py")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--sot-bias", type=float, nargs="+", default=[0.0, 3.0, 4.0, 5.0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, table, _ = load_model(Path(args.model))
    set_dir = Path(args.set)
    ids = [m["session_id"] for m in select_meetings(set_dir, args.limit)]
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
    for bias in args.sot_bias:
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


if __name__ == "__main__":
    main()
