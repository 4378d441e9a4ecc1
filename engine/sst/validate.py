"""Scores of an SST model on a fixed list of mixtures: ORC-WER, turn counting, <sot>/<eot> latencies.

Counts are kept (errors, reference words, sessions) so that rates are always sum/sum.
"""
from __future__ import annotations

import numpy as np
import torch
from meeteval.wer import orc_word_error_rate

from engine.sst.data import Example
from engine.sst.decode import activity_to_turns, decode_whole_with_activity, tokens_to_turns
from engine.sst.model import SSTModel
from engine.sst.tokens import TokenTable
from engine.text import normalize
from engine.types import Turn


def match_turns(reference: list, hypothesis: list[Turn]) -> list[tuple[object, Turn]]:
    """Pairs each reference turn with the unused hypothesis turn that overlaps it most in time."""
    pairs, used = [], set()
    for ref in sorted(reference, key=lambda t: t.start):
        best, best_overlap = None, 0.0
        for i, hyp in enumerate(hypothesis):
            overlap = min(ref.end, hyp.end) - max(ref.start, hyp.start)
            if i not in used and overlap > best_overlap:
                best, best_overlap = i, overlap
        if best is not None:
            used.add(best)
            pairs.append((ref, hypothesis[best]))
    return pairs


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    arr = np.asarray(values)
    return {"n": len(values), "mean": float(arr.mean()), "p50": float(np.percentile(arr, 50)),
            "p90": float(np.percentile(arr, 90)), "share_early": float((arr < 0).mean())}


SEGMENTATIONS = ("tokens", "activity")


@torch.no_grad()
def score(model: SSTModel, table: TokenTable, examples: list[Example], segmentation: str = "tokens",
          search: str = "transducer") -> dict:
    """Decode every mixture (greedy, whole utterance: equal to streaming) and score it.

    segmentation "tokens": turns from <sot>/<eot> (the model's design); "activity": the ablation that
    ignores them and segments by the speech-activity head (engine/sst/decode.activity_to_turns).
    search "ctc" reads the auxiliary CTC head instead of the transducer (engine/sst/decode.ctc_greedy)."""
    errors = ref_words = turn_count_ok = 0
    sot_latency, eot_latency = [], []
    frame_s = model.config.frame_seconds
    for example in examples:
        emissions, activity = decode_whole_with_activity(model, torch.from_numpy(example.audio), search)
        end = len(example.audio) / model.config.sample_rate
        hyp = tokens_to_turns(emissions, table, frame_s, end) if segmentation == "tokens" \
            else activity_to_turns(emissions, activity, table, frame_s)
        channels = [" ".join(t.text for t in hyp if t.channel == c) for c in range(model.config.num_channels)]
        # Turns are given in start order and channels as whole strings, so no time-based sorting is needed.
        result = orc_word_error_rate([normalize(t.text) for t in sorted(example.turns, key=lambda t: t.start)],
                                     [normalize(c) for c in channels], reference_sort=False, hypothesis_sort=False)
        errors += result.errors
        ref_words += result.length
        turn_count_ok += int(len(hyp) == len(example.turns))
        for ref, turn in match_turns(example.turns, hyp):
            sot_latency.append(turn.start - ref.start)
            if not turn.unterminated:
                eot_latency.append(turn.end - ref.end)
    return {"sessions": len(examples), "errors": int(errors), "ref_words": int(ref_words),
            "orc_wer": errors / max(ref_words, 1), "turn_count_correct": turn_count_ok,
            "turn_count_accuracy": turn_count_ok / max(len(examples), 1),
            "sot_latency": _percentiles(sot_latency), "eot_latency": _percentiles(eot_latency)}
