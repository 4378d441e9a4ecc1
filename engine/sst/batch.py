"""The typed training batch: pooled windows' cached states and every channel's targets.

Shapes: B windows, C channels, N = B·C channel-streams, T encoder frames (20 ms), L decoder tokens,
U transducer targets. Per channel (HEAT-assigned turns, engine/sst/heat.py):
- Whisper decoder: <|startoftranscript|> (<|t0|> text <|t1|>)… <|endoftext|>, teacher-forced;
- transducer: <sot> characters <eot> per turn, with the turn's end frame for the late-<eot> penalty;
- activity: 1 on the frames inside the channel's turns.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.sst import vocab
from engine.sst.pool import PooledWindow
from engine.sst.windows import WindowTurn
from engine.whisper.features import SECONDS_PER_ENCODER_FRAME
from engine.whisper.tokenizer import tokenizer

IGNORE = -100
MAX_DECODER_TOKENS = 440  # Whisper's text context is 448


@dataclass
class Batch:
    states: torch.Tensor  # (B, T, D) float32 mixture states after the split block
    activity: torch.Tensor  # (B, C, T) 0/1
    decoder_inputs: torch.Tensor  # (N, L) token ids
    decoder_labels: torch.Tensor  # (N, L) next-token ids, IGNORE on padding and empty channels
    targets: torch.Tensor  # (N, U) transducer character ids (0 padding)
    target_lengths: torch.Tensor  # (N,)
    eot_frames: torch.Tensor  # (N, U) transducer frame each target's turn ends on
    frame_lengths: torch.Tensor  # (N,) transducer frames per stream

    def to(self, device) -> "Batch":
        return Batch(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def whisper_style(text: str) -> str:
    """Simulated references are normalised (lower case, no punctuation); Whisper writes sentences."""
    text = text.strip()
    if text and text[-1] not in ".?!":
        text += "."
    return text[:1].upper() + text[1:]


def decoder_tokens(turns: list[WindowTurn], pseudo_label: bool) -> list[int]:
    tok = tokenizer()
    out = [tok.sot]
    for turn in turns:
        text = turn.text if pseudo_label else whisper_style(turn.text)
        out += [tok.timestamp_token(turn.start)] + tok.encode(" " + text) + [tok.timestamp_token(turn.end)]
    return out[:MAX_DECODER_TOKENS] + [tok.eot]


def transducer_targets(turns: list[WindowTurn], frame_s: float) -> tuple[list[int], list[int]]:
    ids, ends = [], []
    for turn in turns:
        chars = [vocab.SOT] + vocab.encode_text(turn.text) + [vocab.EOT]
        ids += chars
        ends += [int(turn.end / frame_s)] * len(chars)
    return ids, ends


def make_batch(windows: list[PooledWindow], channels: int, subsample: int) -> Batch:
    t = windows[0].states.shape[0]
    frame_s = SECONDS_PER_ENCODER_FRAME * subsample
    activity = torch.zeros(len(windows), channels, t)
    dec, trans = [], []
    for b, w in enumerate(windows):
        for c in range(channels):
            # one channel (no separator) holds every turn, in order of start, as Whisper writes a mixture
            mine = [turn for turn in w.turns if channels == 1 or turn.channel == c]
            for turn in mine:
                first, last = (int(t / SECONDS_PER_ENCODER_FRAME) for t in (turn.start, turn.end))
                activity[b, c, first : last + 1] = 1
            dec.append(decoder_tokens(mine, w.pseudo_label) if mine else None)
            trans.append(transducer_targets(mine, frame_s))
    tok = tokenizer()
    length = max([len(d) - 1 for d in dec if d] + [1])
    inputs = torch.full((len(dec), length), tok.eot, dtype=torch.long)
    labels = torch.full((len(dec), length), IGNORE, dtype=torch.long)
    for i, d in enumerate(dec):
        if d:  # an empty channel has no decoder target: its activity says it is silent
            inputs[i, : len(d) - 1] = torch.tensor(d[:-1])
            labels[i, : len(d) - 1] = torch.tensor(d[1:])
    u = max([len(ids) for ids, _ in trans] + [1])
    targets = torch.zeros(len(trans), u, dtype=torch.long)
    ends = torch.zeros(len(trans), u, dtype=torch.long)
    for i, (ids, end) in enumerate(trans):
        targets[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        ends[i, : len(end)] = torch.tensor(end, dtype=torch.long)
    lengths = torch.tensor([len(ids) for ids, _ in trans])
    frames = torch.full((len(trans),), t // subsample)
    states = torch.stack([w.states for w in windows]).float()
    return Batch(states, activity, inputs, labels, targets, lengths, ends, frames)
