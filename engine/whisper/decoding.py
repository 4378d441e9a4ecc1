"""Decoding with the torch copy, as openai-whisper's transcribe() does: greedy or beam search in a 30 s window
with Whisper's timestamp rules; word times from the cross-attention of the alignment heads (dynamic time
warping, as its timing.py); long audio by seeking to the last complete segment, with temperature fallback when
a window's text repeats itself or is improbable. Shapes: T encoder frames (1500 per window), L tokens,
V vocabulary, K beams.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import median_filter

from engine.types import Word
from engine.whisper.features import SAMPLE_RATE, SECONDS_PER_ENCODER_FRAME, WINDOW_SAMPLES, window_mel
from engine.whisper.model import Whisper
from engine.whisper.tokenizer import WhisperTokenizer, tokenizer
from engine.whisper.weights import model_config

MAX_TOKENS = 224  # openai-whisper's sample_len: half the text context
MAX_INITIAL_TIMESTAMP_S = 1.0
MEDIAN_FILTER_WIDTH = 7
# openai-whisper's transcribe() defaults, which faster-whisper shares
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
COMPRESSION_RATIO_LIMIT = 2.4  # text that gzip shrinks more than this is a repetition loop
LOGPROB_LIMIT = -1.0  # mean log-probability per token below this: try a higher temperature
NO_SPEECH_LIMIT = 0.6  # with an improbable text, a window this likely silent is skipped


@dataclass
class Segment:
    start: float
    end: float
    tokens: list[int]  # text tokens only


@dataclass
class Decoded:
    tokens: list[int]  # everything after the prompt, timestamps included, <|endoftext|> excluded
    sum_logprob: float
    segments: list[Segment]
    no_speech_prob: float = 0.0  # P(<|nocaptions|>) at the first step

    def text_tokens(self, tok: WhisperTokenizer) -> list[int]:
        return [t for t in self.tokens if t < tok.eot]

    @property
    def avg_logprob(self) -> float:
        return self.sum_logprob / (len(self.tokens) + 1)

    def compression_ratio(self, tok: WhisperTokenizer) -> float:
        text = tok.decode(self.tokens).encode()
        return len(text) / len(zlib.compress(text)) if text else 0.0


def _suppress(logits: torch.Tensor, prefixes: list[list[int]], tok: WhisperTokenizer, timestamps: bool) -> None:
    """Mask, in place, what Whisper never emits at this step (logits (K, V), one row per beam)."""
    logits[:, list(tok.suppress)] = -np.inf
    logits[:, tok.sot : tok.no_timestamps + 1] = -np.inf  # prompt tokens; <|notimestamps|> is given, not sampled
    if not timestamps:
        logits[:, tok.timestamp_begin :] = -np.inf
    for row, seq in enumerate(prefixes):
        if not seq:
            logits[row, list(tok.suppress_at_begin)] = -np.inf
        if not timestamps:
            continue
        last_ts = len(seq) >= 1 and tok.is_timestamp(seq[-1])
        penultimate_ts = len(seq) < 2 or tok.is_timestamp(seq[-2])
        if last_ts:
            if penultimate_ts:
                logits[row, tok.timestamp_begin :] = -np.inf  # a pair is closed: text must follow
            else:
                logits[row, : tok.eot] = -np.inf  # a segment's end: another timestamp or <|endoftext|>
        stamps = [t for t in seq if tok.is_timestamp(t)]
        if stamps:  # timestamps never decrease
            floor = stamps[-1] if last_ts and not penultimate_ts else stamps[-1] + 1
            logits[row, tok.timestamp_begin : floor] = -np.inf
        else:  # the first token is a timestamp within the first second
            logits[row, : tok.timestamp_begin] = -np.inf
            logits[row, tok.timestamp_token(MAX_INITIAL_TIMESTAMP_S) + 1 :] = -np.inf
    if timestamps:  # when a timestamp is more likely than any single text token, emit a timestamp
        logprobs = logits.float().log_softmax(dim=-1)
        stamp_mass = logprobs[:, tok.timestamp_begin :].logsumexp(dim=-1)
        best_text = logprobs[:, : tok.timestamp_begin].max(dim=-1).values
        logits[stamp_mass > best_text, : tok.timestamp_begin] = -np.inf


@torch.no_grad()
def decode(
    model: Whisper,
    audio_features: torch.Tensor,
    beam_size: int = 1,
    timestamps: bool = True,
    max_tokens: int = MAX_TOKENS,
    temperature: float = 0.0,
    seed: int = 0,
) -> Decoded:
    """audio_features (1, T, D) of one window → the best token sequence (beam search when beam_size > 1,
    ranked by mean log-probability per token as openai-whisper does without a length penalty). A temperature
    above 0 samples one sequence instead (seeded, so a run is reproducible)."""
    tok = tokenizer()
    if temperature > 0:
        return _sample(model, audio_features, timestamps, max_tokens, temperature, seed)
    prompt = list(tok.sot_sequence) + ([] if timestamps else [tok.no_timestamps])
    cache = model.decoder.start(audio_features)  # one row; beams are rows selected from it as they branch
    beams: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[tuple[list[int], float]] = []
    step_input = torch.tensor([prompt])
    no_speech_prob = 0.0
    for step in range(max_tokens):
        logits = model.decoder(step_input, cache)[:, -1].float()
        if step == 0:
            no_speech_prob = logits[0].softmax(dim=-1)[tok.no_speech].item()
        _suppress(logits, [seq for seq, _ in beams], tok, timestamps)
        logprobs = logits.log_softmax(dim=-1)
        candidates = []
        for row, (seq, score) in enumerate(beams):
            top = logprobs[row].topk(beam_size + 1)
            for logprob, token in zip(top.values.tolist(), top.indices.tolist()):
                if np.isfinite(logprob):
                    candidates.append((score + logprob, row, seq + [token]))
        candidates.sort(key=lambda c: -c[0])
        beams, keep_rows = [], []
        # As openai-whisper: an ending counts only when it ranks above the last beam kept, so greedy decoding
        # (one beam) ends exactly when <|endoftext|> is the most likely token.
        for score, row, seq in candidates:
            if seq[-1] == tok.eot:
                if len(finished) < beam_size:
                    finished.append((seq[:-1], score))
                continue
            beams.append((seq, score))
            keep_rows.append(row)
            if len(beams) == beam_size:
                break
        if len(finished) >= beam_size or not beams:
            break
        cache = cache.select(torch.tensor(keep_rows))
        step_input = torch.tensor([[seq[-1]] for seq, _ in beams])
    if not finished:  # ran out of tokens: the open beams count as finished
        finished = beams
    best, score = max(finished, key=lambda f: f[1] / max(1, len(f[0])))
    return Decoded(best, score, _segments(best, tok) if timestamps else [], no_speech_prob)


def _sample(
    model: Whisper, audio_features: torch.Tensor, timestamps: bool, max_tokens: int, temperature: float, seed: int
) -> Decoded:
    tok = tokenizer()
    generator = torch.Generator().manual_seed(seed)
    cache = model.decoder.start(audio_features)
    step_input = torch.tensor([list(tok.sot_sequence) + ([] if timestamps else [tok.no_timestamps])])
    seq, score, no_speech_prob = [], 0.0, 0.0
    for step in range(max_tokens):
        logits = model.decoder(step_input, cache)[:, -1].float()
        if step == 0:
            no_speech_prob = logits[0].softmax(dim=-1)[tok.no_speech].item()
        _suppress(logits, [seq], tok, timestamps)
        token = int(torch.multinomial((logits[0] / temperature).softmax(dim=-1), 1, generator=generator))
        score += logits[0].log_softmax(dim=-1)[token].item()
        if token == tok.eot:
            break
        seq.append(token)
        step_input = torch.tensor([[token]])
    return Decoded(seq, score, _segments(seq, tok) if timestamps else [], no_speech_prob)


def _segments(tokens: list[int], tok: WhisperTokenizer) -> list[Segment]:
    """Timestamp pairs → segments (a trailing unpaired timestamp closes the last one)."""
    segments, start, text = [], None, []
    for t in tokens:
        if tok.is_timestamp(t):
            if start is None:
                start = tok.seconds(t)
            else:
                segments.append(Segment(start, tok.seconds(t), text))
                start, text = None, []
        else:
            text.append(t)
    if text:
        segments.append(Segment(start or 0.0, segments[-1].end if segments else 0.0, text))
    return segments


def _dtw(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotonic alignment of the rows (tokens) of `cost` (N, M) to its columns (frames): the path's
    (row, column) indices. Filled one anti-diagonal at a time so each step is a vector operation."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    move = np.zeros((n + 1, m + 1), dtype=np.int8)
    for diagonal in range(2, n + m + 1):
        i = np.arange(max(1, diagonal - m), min(n, diagonal - 1) + 1)
        j = diagonal - i
        options = np.stack([acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]])
        move[i, j] = options.argmin(axis=0)
        acc[i, j] = cost[i - 1, j - 1] + options.min(axis=0)
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = move[i, j]
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    rows, cols = np.array(path[::-1]).T
    return rows, cols


@torch.no_grad()
def word_times(
    model: Whisper, audio_features: torch.Tensor, text_tokens: list[int], n_frames: int, offset_s: float = 0.0
) -> list[Word]:
    """Words of `text_tokens` with start/end times from the alignment heads' attention over the first
    `n_frames` encoder frames of the window."""
    tok = tokenizer()
    if not text_tokens:
        return []
    tokens = list(tok.sot_sequence) + [tok.no_timestamps] + text_tokens + [tok.eot]
    cache = model.decoder.start(audio_features)
    _, weights = model.decoder(torch.tensor([tokens]), cache, want_weights=True)
    heads = model_config()["alignment_heads"]
    attention = torch.stack([weights[layer][0, head, :, :n_frames] for layer, head in heads]).numpy()
    attention = (attention - attention.mean(axis=-2, keepdims=True)) / attention.std(axis=-2, keepdims=True)
    attention = median_filter(attention, size=(1, 1, MEDIAN_FILTER_WIDTH), mode="mirror")
    matrix = attention.mean(axis=0)[len(tok.sot_sequence) : -1]  # rows: the text tokens, then <|endoftext|>
    rows, cols = _dtw(-matrix)
    jumps = np.pad(np.diff(rows), (1, 0), constant_values=1).astype(bool)
    jump_times = cols[jumps] * SECONDS_PER_ENCODER_FRAME
    words, groups = tok.split_words(text_tokens)
    bounds = np.pad(np.cumsum([len(g) for g in groups]), (1, 0))
    return [
        Word(text.strip(), round(offset_s + float(jump_times[a]), 3), round(offset_s + float(jump_times[b]), 3))
        for text, a, b in zip(words, bounds[:-1], bounds[1:])
        if text.strip()
    ]


def decode_with_fallback(model: Whisper, audio_features: torch.Tensor, beam_size: int = 1) -> Decoded:
    """`decode` at temperature 0, then at higher ones while the text loops or is improbable (openai-whisper)."""
    tok = tokenizer()
    for temperature in TEMPERATURES:
        decoded = decode(model, audio_features, beam_size=beam_size, temperature=temperature)
        looping = decoded.compression_ratio(tok) > COMPRESSION_RATIO_LIMIT
        improbable = decoded.avg_logprob < LOGPROB_LIMIT
        if decoded.no_speech_prob > NO_SPEECH_LIMIT and improbable:
            return Decoded([], 0.0, [], decoded.no_speech_prob)  # a silent window: no words
        if not looping and not improbable:
            break
    return decoded


def _consumed(decoded: Decoded, window_s: float, tok: WhisperTokenizer) -> tuple[float, list[int]]:
    """How far a window's decoding reached (s) and the text tokens of its complete segments: after a
    segment that is cut off, the next window starts at that segment's start."""
    tokens = decoded.tokens
    pairs = [i for i in range(1, len(tokens)) if tok.is_timestamp(tokens[i]) and tok.is_timestamp(tokens[i - 1])]
    single_ending = len(tokens) >= 2 and tok.is_timestamp(tokens[-1]) and not tok.is_timestamp(tokens[-2])
    if not pairs or single_ending:
        return window_s, decoded.text_tokens(tok)
    last = pairs[-1]
    reached = tok.seconds(tokens[last - 1])
    if reached <= 0:
        return window_s, decoded.text_tokens(tok)
    return reached, [t for t in tokens[:last] if t < tok.eot]


@torch.no_grad()
def transcribe(model: Whisper, samples: np.ndarray, offset_s: float = 0.0, beam_size: int = 1) -> list[Word]:
    """Words with times for 16 kHz audio of any length, with the torch copy (the same algorithm as the
    CTranslate2 runtime's faster-whisper, without conditioning on the previous window's text)."""
    tok = tokenizer()
    words, seek = [], 0
    while seek < len(samples) - SAMPLE_RATE // 10:  # a last tenth of a second holds no word
        chunk = samples[seek : seek + WINDOW_SAMPLES]
        audio_features = model.encoder(window_mel(chunk)[None])
        decoded = decode_with_fallback(model, audio_features, beam_size)
        chunk_s = len(chunk) / SAMPLE_RATE
        reached_s, text_tokens = _consumed(decoded, chunk_s, tok)
        n_frames = min(audio_features.shape[1], int(np.ceil(chunk_s / SECONDS_PER_ENCODER_FRAME)))
        words += word_times(model, audio_features, text_tokens, n_frames, offset_s + seek / SAMPLE_RATE)
        seek += max(1, round(min(reached_s, chunk_s) * SAMPLE_RATE))
    return words
