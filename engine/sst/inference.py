"""Decoding with the Whisper-based SST: a recording in overlapping 30 s windows, two channels per window.

Per window: log-mel → transcriber → per channel an activity track (20 ms) and Whisper's decoding of that
channel (greedy with timestamp tokens, and openai-whisper's temperature fallback on loops and improbable
text; word times from the alignment heads). A channel whose activity never passes the threshold is not
decoded, nor is a window without a sound above -80 dBFS. Words are kept where their channel is active; each
window keeps the words whose middle lies in the part it owns (the overlap is split at its middle), so windows
stitch without duplicates and memory stays flat in the recording's length.

Turn boundaries: "activity" (spans of the activity track) or "transducer" (the head's <sot>/<eot>).
`TransducerSearch` is the head's streaming greedy search: its state goes in and comes out, so frames fed in
pieces give what the whole window gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.sst import vocab
from engine.sst.network import SST
from engine.types import Turn, Word
from engine.whisper.decoding import decode_with_fallback, word_times
from engine.whisper.features import SAMPLE_RATE, SECONDS_PER_ENCODER_FRAME, WINDOW_S, window_mel
from engine.whisper.tokenizer import tokenizer

HOP_S = 25.0  # windows start every 25 s: 5 s of overlap
ACTIVE = 0.5  # activity probability above which a channel speaks
MIN_GAP_S = 0.3  # shorter silences inside a channel do not end its turn
MIN_TURN_S = 0.2
MAX_SYMBOLS_PER_FRAME = 5
# A window with no sample above this (-80 dBFS) holds nothing to hear; Whisper would still write "you" there.
SILENT_PEAK = 1e-4


@dataclass
class SearchState:
    """One channel's transducer search: the predictor's state and output after the last emitted token."""

    predictor: tuple[torch.Tensor, torch.Tensor] | None = None
    predicted: torch.Tensor | None = None  # (1, 1, J)
    frame: int = 0  # transducer frames consumed so far
    emitted: list[tuple[int, int]] = field(default_factory=list)  # (frame, token id)


class TransducerSearch:
    def __init__(self, model: SST):
        self.model = model

    @torch.no_grad()
    def step(self, frames: torch.Tensor, state: SearchState | None = None) -> SearchState:
        """frames (S, J) of one channel → the state after them (`None` starts a stream)."""
        model = self.model
        if state is None:
            predicted, predictor = model.predictor(torch.zeros(1, 1, dtype=torch.long, device=frames.device))
            state = SearchState(predictor, predicted)
        for s in range(frames.shape[0]):
            for _ in range(MAX_SYMBOLS_PER_FRAME):
                token = int(model.joiner(frames[None, s : s + 1], state.predicted)[0, 0, 0].argmax())
                if token == vocab.BLANK:
                    break
                state.emitted.append((state.frame, token))
                state.predicted, state.predictor = model.predictor(
                    torch.tensor([[token]], device=frames.device), state.predictor
                )
            state.frame += 1
        return state


def transducer_turns(emitted: list[tuple[int, int]], frame_s: float, offset_s: float, channel: int) -> list[Turn]:
    """<sot> … <eot> spans of a channel's emissions → turns whose words are the transducer's own."""
    turns, start, chars = [], None, []
    for frame, token in emitted:
        t = offset_s + frame * frame_s
        if token == vocab.SOT:
            start, chars = t, []
        elif token == vocab.EOT and start is not None:
            text = vocab.decode_ids(chars).split()
            turns.append(Turn(f"channel{channel}", start, t, [Word(w, start, t) for w in text], channel))
            start = None
        elif start is not None:
            chars.append(token)
    return turns


def activity_spans(probs: np.ndarray, offset_s: float) -> list[tuple[float, float]]:
    """Frames above ACTIVE → (start, end) spans, gaps under MIN_GAP_S closed, spans under MIN_TURN_S dropped."""
    active = probs > ACTIVE
    spans, start = [], None
    for i, on in enumerate(np.append(active, False)):
        if on and start is None:
            start = i
        elif not on and start is not None:
            spans.append([start * SECONDS_PER_ENCODER_FRAME, i * SECONDS_PER_ENCODER_FRAME])
            start = None
    merged = []
    for span in spans:
        if merged and span[0] - merged[-1][1] < MIN_GAP_S:
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    return [(offset_s + a, offset_s + b) for a, b in merged if b - a >= MIN_TURN_S]


def words_into_turns(words: list[Word], spans: list[tuple[float, float]], channel: int) -> list[Turn]:
    """Each word into the span holding its middle; words outside every span are dropped (the channel
    is silent there: whatever the decoder heard leaked from the other talker); empty spans are dropped."""
    turns = [Turn(f"channel{channel}", a, b, [], channel) for a, b in spans]
    for word in words:
        middle = (word.start + word.end) / 2
        for turn in turns:
            if turn.start - 0.1 <= middle <= turn.end + 0.1:
                turn.words.append(word)
                break
    return [t for t in turns if t.words]


@dataclass
class WindowResult:
    offset_s: float
    channels: list[list[Turn]]  # per channel, turns of this window (times absolute)


TURN_SOURCES = ("activity", "transducer", "segments")


class WindowDecoder:
    """Decodes one window at a time. `turn_source`: where turn boundaries come from — the activity head,
    the transducer's <sot>/<eot>, or Whisper's own timestamp segments (the separator-off ablation has no
    trained activity head). `decoder_pass` False takes the transducer's words instead of Whisper's."""

    def __init__(self, model: SST, turn_source: str = "activity", decoder_pass: bool = True, beam_size: int = 1):
        if turn_source not in TURN_SOURCES:
            raise ValueError(f"turn_source is one of {', '.join(TURN_SOURCES)}, not {turn_source!r}")
        if turn_source == "segments" and not decoder_pass:
            raise ValueError("Whisper's segments need the decoder pass")
        self.model, self.turn_source, self.decoder_pass, self.beam_size = model, turn_source, decoder_pass, beam_size
        self.search = TransducerSearch(model)

    @torch.no_grad()
    def window(self, samples: np.ndarray, offset_s: float) -> WindowResult:
        model = self.model
        if not (np.abs(samples) > SILENT_PEAK).any():
            return WindowResult(offset_s, [[] for _ in range(model.settings.channels)])
        channels = model.transcriber(window_mel(samples)[None])  # (1, C, T, D)
        activity, frames = model.heads(channels)
        probs = torch.sigmoid(activity[0]).numpy()
        n_frames = min(channels.shape[2], int(np.ceil(len(samples) / SAMPLE_RATE / SECONDS_PER_ENCODER_FRAME)))
        frame_s = SECONDS_PER_ENCODER_FRAME * model.settings.subsample
        out = []
        for c in range(channels.shape[1]):
            spans = activity_spans(probs[c, :n_frames], offset_s)
            if self.turn_source == "transducer" or not self.decoder_pass:
                emitted = self.search.step(frames[0, c, : int(np.ceil(n_frames / model.settings.subsample))]).emitted
                head_turns = transducer_turns(emitted, frame_s, offset_s, c)
                if self.turn_source == "transducer":
                    spans = [(t.start, t.end) for t in head_turns]
                if not self.decoder_pass:
                    out.append(words_into_turns([w for t in head_turns for w in t.words], spans, c))
                    continue
            if not spans and self.turn_source != "segments":
                out.append([])  # a silent channel is not decoded
                continue
            audio = channels[:, c]
            decoded = decode_with_fallback(model.whisper, audio, beam_size=self.beam_size)
            words = word_times(model.whisper, audio, decoded.text_tokens(tokenizer()), n_frames, offset_s)
            if self.turn_source == "segments":
                spans = [(offset_s + seg.start, offset_s + max(seg.end, seg.start)) for seg in decoded.segments]
            out.append(words_into_turns(words, spans, c))
        return WindowResult(offset_s, out)


def iter_windows(chunks: Iterable[np.ndarray]) -> Iterator[tuple[float, np.ndarray, bool]]:
    """(offset_s, ≤30 s of samples, is_last) every HOP_S, from a stream of chunks; memory: one window."""
    window, hop = int(WINDOW_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
    buffer, start = np.zeros(0, np.float32), 0
    pending = None
    for chunk in chunks:
        buffer = np.concatenate([buffer, chunk])
        while len(buffer) >= window:
            if pending is not None:
                yield (*pending, False)
            pending = (start / SAMPLE_RATE, buffer[:window].copy())
            buffer, start = buffer[hop:], start + hop
    if pending is not None and len(buffer) <= window - hop:  # the rest lies inside the last full window
        yield (*pending, True)
        return
    if pending is not None:
        yield (*pending, False)
    if len(buffer) or pending is None:
        yield start / SAMPLE_RATE, buffer.copy(), True


def owned(offset_s: float, first: bool, last: bool) -> tuple[float, float]:
    """The part of a window whose words it keeps: the overlap with each neighbour is split at its middle."""
    overlap = WINDOW_S - HOP_S
    return (-np.inf if first else offset_s + overlap / 2, np.inf if last else offset_s + WINDOW_S - overlap / 2)


def stitch(results: list[tuple[WindowResult, tuple[float, float]]]) -> list[Turn]:
    """Turns of every window, their words cut to the window's owned part; a turn cut in two by a window
    boundary is joined again (on whichever channel the next window put it: channel order may swap)."""
    turns: list[Turn] = []
    for result, (lo, hi) in results:
        for channel_turns in result.channels:
            for turn in channel_turns:
                words = [w for w in turn.words if lo <= (w.start + w.end) / 2 < hi]
                if words:
                    turns.append(Turn(turn.speaker, max(turn.start, lo), min(turn.end, hi), words, turn.channel))
    turns.sort(key=lambda t: t.start)
    return _join_cut_turns(turns, [lo for _, (lo, _) in results[1:]])


def _join_cut_turns(turns: list[Turn], cuts: list[float]) -> list[Turn]:
    """A turn ending exactly at a cut and one starting exactly there are one turn (the cut made them two)."""
    out: list[Turn] = []
    for turn in turns:
        at_cut = any(abs(turn.start - cut) < 1e-6 for cut in cuts)
        partner = next((t for t in reversed(out) if at_cut and abs(t.end - turn.start) < 1e-6), None)
        if partner is None:
            out.append(turn)
        else:
            partner.end, partner.words = turn.end, partner.words + turn.words
    return out


def transcribe_chunks(
    model: SST, chunks: Iterable[np.ndarray], decoder: WindowDecoder | None = None, on_window=None
) -> list[Turn]:
    """Channel turns (speaker "channel<c>", times absolute) of a recording given as a stream of chunks."""
    decoder = decoder or WindowDecoder(model)
    results = []
    for i, (offset, samples, last) in enumerate(iter_windows(chunks)):
        result = decoder.window(samples, offset)
        results.append((result, owned(offset, i == 0, last)))
        if on_window:
            on_window(offset + len(samples) / SAMPLE_RATE, stitch(results))
    return stitch(results)
