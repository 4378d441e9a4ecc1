"""Greedy streaming decoding per channel, and turns from <sot>/<eot> tokens.

`StreamingDecoder` is the per-stream object (the model holds no stream state): feed it audio of any
length with `accept`, call `finish` at the end. It computes features as frames complete, runs the
encoder on chunks of `config.chunk_frames` encoder frames (320 ms; the model is causal, so no lookahead),
and searches greedily on each channel with at most `max_symbols_per_frame` symbols per frame.
`decode_whole` encodes the utterance in one pass; both give the same tokens (tests/test_sst_model.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.sst.features import Fbank
from engine.sst.model import EncoderState, SSTModel
from engine.sst.tokens import TokenTable
from engine.types import Turn, Word


@dataclass
class Emission:
    token: int
    frame: int  # encoder frame at which it was emitted


@dataclass
class SearchState:
    """Greedy search state for C channels: predictor output (C, P), its LSTM state, emitted tokens."""

    predicted: torch.Tensor
    lstm: tuple[torch.Tensor, torch.Tensor]
    emissions: list[list[Emission]] = field(default_factory=list)
    frames: int = 0

    @classmethod
    def start(cls, model: SSTModel) -> "SearchState":
        channels = model.config.num_channels
        predicted, lstm = model.predict(torch.zeros(channels, 1, dtype=torch.long))  # blank starts
        return cls(predicted[:, 0], lstm, [[] for _ in range(channels)])


@torch.no_grad()
def greedy_search(model: SSTModel, encoded: torch.Tensor, state: SearchState,
                  sot_bias: torch.Tensor | None = None) -> SearchState:
    """encoded (C, T, H) for one mixture; extends `state` frame by frame (batched over channels).

    `sot_bias` (C,) is added to the `<sot>` logit of channels outside a turn (nothing emitted yet, or
    `<eot>` last): a diagnostic of whether a channel that never starts has something to say
    (bench/sst_second_channel.py); decoding proper leaves it at None.
    """
    blank, sot, eot = 0, 1, 2  # fixed by TokenTable
    for t in range(encoded.shape[1]):
        frame = encoded[:, t]
        active = torch.ones(encoded.shape[0], dtype=torch.bool)
        for _ in range(model.config.max_symbols_per_frame):
            logits = model.join(frame, state.predicted)
            if sot_bias is not None:
                idle = torch.tensor([not emitted or emitted[-1].token == eot for emitted in state.emissions])
                logits[:, sot] += sot_bias * idle
            best = logits.argmax(-1)
            emit = active & (best != blank)
            if not emit.any():
                break
            predicted, lstm = model.predict(best[:, None], state.lstm)
            mask = emit[:, None]
            state.predicted = torch.where(mask, predicted[:, 0], state.predicted)
            state.lstm = tuple(torch.where(mask[None], new, old) for new, old in zip(lstm, state.lstm))
            for c in emit.nonzero().flatten().tolist():
                state.emissions[c].append(Emission(int(best[c]), state.frames + t))
            active = emit
        # Channels that emitted max symbols stop for this frame: the cap bounds compute per frame.
    state.frames += encoded.shape[1]
    return state


class StreamingDecoder:
    def __init__(self, model: SSTModel):
        self.model = model.eval()
        self.fbank = Fbank(model.config)
        self.pending_samples: torch.Tensor | None = None
        self.pending_feats = torch.zeros(1, 0, model.config.n_mels)
        self.encoder_state: EncoderState | None = None
        self.search = SearchState.start(model)
        self.samples_seen = 0

    @property
    def chunk_feature_frames(self) -> int:
        return self.model.config.chunk_frames * self.model.config.subsampling

    @torch.no_grad()
    def accept(self, samples: torch.Tensor) -> None:
        """Feed mono float32 samples (S,) at the model's sample rate."""
        self.samples_seen += samples.shape[-1]
        feats, self.pending_samples = self.fbank.stream(samples.reshape(1, -1), self.pending_samples)
        self.pending_feats = torch.cat([self.pending_feats, feats], dim=1)
        while self.pending_feats.shape[1] >= self.chunk_feature_frames:
            chunk = self.pending_feats[:, :self.chunk_feature_frames]
            self.pending_feats = self.pending_feats[:, self.chunk_feature_frames:]
            self._run(chunk)

    @torch.no_grad()
    def finish(self) -> "StreamingDecoder":
        if self.pending_feats.shape[1]:
            self._run(self.pending_feats)
            self.pending_feats = self.pending_feats[:, :0]
        return self

    def _run(self, feats: torch.Tensor) -> None:
        encoded, _, _, self.encoder_state = self.model.encode(feats, self.encoder_state)
        greedy_search(self.model, encoded, self.search)

    def tokens(self) -> list[list[Emission]]:
        return self.search.emissions

    def turns(self, table: TokenTable) -> list[Turn]:
        """Turns so far; a still-open turn ends at the audio seen so far and is flagged unterminated."""
        end = self.samples_seen / self.model.config.sample_rate
        return tokens_to_turns(self.search.emissions, table, self.model.config.frame_seconds, end)


@torch.no_grad()
def decode_whole(model: SSTModel, waveform: torch.Tensor) -> list[list[Emission]]:
    """Whole-utterance decoding of mono samples (S,): one encoder pass, then the same greedy search."""
    return decode_whole_with_activity(model, waveform)[0]


def ctc_greedy(model: SSTModel, encoded: torch.Tensor) -> list[list[Emission]]:
    """Best path of the auxiliary CTC head, encoded (C, T, H): repeats merged, blanks dropped. It reads the
    encoder alone, so it scores a model whose training so far skipped the transducer (LossWeights.rnnt_weight 0)."""
    emissions = []
    for best in model.ctc(encoded).argmax(-1).tolist():
        emissions.append([Emission(token, t) for t, token in enumerate(best)
                          if token != 0 and (t == 0 or best[t - 1] != token)])
    return emissions


@torch.no_grad()
def decode_whole_with_activity(model: SSTModel, waveform: torch.Tensor,
                               search: str = "transducer") -> tuple[list[list[Emission]], torch.Tensor]:
    """`decode_whole` plus the speech-activity probability of each channel, (C, T)."""
    model.eval()
    feats = Fbank(model.config)(waveform.reshape(1, -1))
    encoded, activity, _, _ = model.encode(feats)
    emissions = (greedy_search(model, encoded, SearchState.start(model)).emissions if search == "transducer"
                 else ctc_greedy(model, encoded))
    return emissions, torch.sigmoid(activity)


def decode_streaming(model: SSTModel, waveform: torch.Tensor, chunk_samples: int = 5120) -> StreamingDecoder:
    decoder = StreamingDecoder(model)
    for start in range(0, waveform.shape[-1], chunk_samples):
        decoder.accept(waveform[start:start + chunk_samples])
    return decoder.finish()


def _words(chars: list[tuple[str, float]], frame_seconds: float) -> list[Word]:
    words, current = [], []
    for char, time in chars + [(" ", 0.0)]:
        if char == " ":
            if current:
                words.append(Word("".join(c for c, _ in current), current[0][1], current[-1][1] + frame_seconds))
            current = []
        else:
            current.append((char, time))
    return words


def tokens_to_turns(emissions: list[list[Emission]], table: TokenTable, frame_seconds: float,
                    end_of_audio: float) -> list[Turn]:
    """<sot> at frame t opens a turn on that channel, <eot> closes it; words between them carry times.

    Text emitted outside a turn opens one implicitly (the model missed the <sot>). A turn still open
    at the end is closed at `end_of_audio` and flagged `unterminated` (during streaming, partial results
    show the turn being spoken that way).
    Speaker labels are channel names until speaker attribution replaces them.
    """
    turns: list[Turn] = []
    for channel, channel_emissions in enumerate(emissions):
        start, chars = None, []
        for e in channel_emissions:
            time = e.frame * frame_seconds
            if e.token == table.sot or (e.token != table.eot and start is None):
                if start is not None and chars:  # a second <sot> without <eot>: close the previous turn
                    turns.append(Turn(f"ch{channel}", start, time, _words(chars, frame_seconds), channel, True))
                start, chars = time, []
                if e.token == table.sot:
                    continue
            if e.token == table.eot:
                if start is not None:
                    turns.append(Turn(f"ch{channel}", start, time + frame_seconds, _words(chars, frame_seconds), channel))
                start, chars = None, []
            else:
                chars.append((table.symbols[e.token], time))
        if start is not None:
            turns.append(Turn(f"ch{channel}", start, end_of_audio, _words(chars, frame_seconds), channel,
                              unterminated=True))
    return sorted(turns, key=lambda turn: turn.start)


ACTIVITY_MIN_GAP_S = 0.3  # activity segmentation: shorter pauses do not end a turn
ACTIVITY_MIN_TURN_S = 0.2  # ...and shorter bursts are not turns


def activity_to_turns(emissions: list[list[Emission]], activity: torch.Tensor, table: TokenTable,
                      frame_seconds: float, threshold: float = 0.5) -> list[Turn]:
    """The ablation without <sot>/<eot>: turns are the runs of each channel's speech-activity head above
    `threshold` (pauses under ACTIVITY_MIN_GAP_S bridged, bursts under ACTIVITY_MIN_TURN_S dropped), and
    each emitted character goes to the turn of its channel that contains (or is nearest to) its frame.
    activity (C, T) probabilities. <sot>/<eot> tokens are ignored."""
    turns: list[Turn] = []
    for channel, (probs, channel_emissions) in enumerate(zip(activity, emissions)):
        spans: list[list[int]] = []
        for t in (probs > threshold).nonzero().flatten().tolist():
            if spans and (t - spans[-1][1]) * frame_seconds <= ACTIVITY_MIN_GAP_S:
                spans[-1][1] = t + 1
            else:
                spans.append([t, t + 1])
        spans = [s for s in spans if (s[1] - s[0]) * frame_seconds >= ACTIVITY_MIN_TURN_S]
        if not spans:
            continue
        chars: list[list[tuple[str, float]]] = [[] for _ in spans]
        for e in channel_emissions:
            if e.token in (table.sot, table.eot):
                continue
            nearest = min(range(len(spans)), key=lambda i: max(spans[i][0] - e.frame, e.frame - spans[i][1] + 1, 0))
            chars[nearest].append((table.symbols[e.token], e.frame * frame_seconds))
        turns += [Turn(f"ch{channel}", s * frame_seconds, e * frame_seconds, _words(c, frame_seconds), channel)
                  for (s, e), c in zip(spans, chars)]
    return sorted(turns, key=lambda turn: turn.start)
