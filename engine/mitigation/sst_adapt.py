"""The SST model as the mitigation experiments use it: its ASR loss on single-speaker utterances, and
per-utterance word edit counts from greedy decoding.

An utterance is one speaker reading one text (one turn: `<sot> text <eot>` on channel 0, channel 1
silent), which is how the SST training recipe's single-talker stage sees its data.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.metrics.wer import EditCounts, edit_counts
from engine.sst.config import SSTConfig
from engine.sst.data import Example, RefTurn, collate
from engine.sst.decode import decode_whole, tokens_to_turns
from engine.sst.features import Fbank
from engine.sst.loss import LossWeights, sst_loss
from engine.sst.model import SSTModel
from engine.sst.tokens import TokenTable

# The single-talker stage's weights (engine/sst/configs/main.json): no FastEmit or <eot> latency penalty.
ASR_LOSS_WEIGHTS = LossWeights(ctc_weight=0.3, activity_weight=0.1)
FRAME_S = 0.02  # energy frames for finding where speech starts and ends
SPEECH_REL_DB = -30.0  # a frame is speech when its energy is within 30 dB of the loudest frame


def speech_span(samples: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(start, end) seconds of the part of a recording with speech, by frame energy relative to the loudest
    frame; archive recordings carry a second or two of room noise before and after the paragraph."""
    hop = int(FRAME_S * sample_rate)
    n = len(samples) // hop
    if n == 0:
        return 0.0, len(samples) / sample_rate
    energy = (samples[:n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(1) + 1e-12
    loud = np.flatnonzero(10 * np.log10(energy / energy.max()) > SPEECH_REL_DB)
    return float(loud[0] * FRAME_S), float((loud[-1] + 1) * FRAME_S)


def utterance_example(samples: np.ndarray, text: str, sample_rate: int) -> Example:
    start, end = speech_span(samples, sample_rate)
    return Example(np.asarray(samples, dtype=np.float32), [RefTurn("speaker", start, end, text)])


class SSTLoss:
    """`loss(model, examples) -> scalar`: the SST training loss (RNN-T + CTC + activity) of a list of examples."""

    def __init__(self, table: TokenTable, config: SSTConfig, weights: LossWeights = ASR_LOSS_WEIGHTS):
        self.table, self.config, self.weights = table, config, weights
        self.fbank = Fbank(config)

    def __call__(self, model: SSTModel, examples: list[Example]) -> torch.Tensor:
        batch = collate(examples, self.table, self.config, self.fbank)
        encoded, predicted, activity, ctc = model(batch["feats"], batch["targets"].long())
        return sst_loss(model.join, encoded, predicted, activity, ctc, batch, self.weights,
                        self.config.frame_seconds, self.table.eot)["total"]


def transcribe(model: SSTModel, table: TokenTable, samples: np.ndarray) -> str:
    """Greedy whole-utterance decode (equal to streaming); the words of every turn on every channel."""
    emissions = decode_whole(model, torch.from_numpy(np.asarray(samples, dtype=np.float32)))
    turns = tokens_to_turns(emissions, table, model.config.frame_seconds, len(samples) / model.config.sample_rate)
    return " ".join(t.text for t in turns)


def score(model: SSTModel, table: TokenTable, samples: np.ndarray, reference: str) -> EditCounts:
    return edit_counts(reference, transcribe(model, table, samples))
