"""Training examples mixed on the fly from a pool of cached single-speaker utterances.

An utterance pool comes either from TTS (`engine.simulate`: voices x sentences of one split, synthesised
once and cached by engine/simulate/synth.py) or from a JSONL manifest of real recordings
({"audio": path, "text": ..., "speaker": ...} per line, e.g. converted from lhotse or LibriSpeech), so the
same recipe trains on real corpora. Each example is drawn from an explicit `random.Random`, so a
resumed run sees the same batches it would have seen without the interruption.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.sst.augment import speed_perturb
from engine.sst.config import SSTConfig
from engine.sst.features import Fbank
from engine.sst.heat import heat_assign
from engine.sst.model import CausalConvSubsampling
from engine.sst.tokens import TokenTable

SPEECH_THRESHOLD = 1e-3  # |sample| above this counts as speech when trimming TTS silence
BUCKET_OVERDRAW = 2.0  # make_batch mixes this many times the batch's audio and keeps similar lengths


@dataclass
class Utterance:
    audio: np.ndarray  # int16 mono at the model rate: half the memory of float32 for a large pool
    text: str
    speaker: str


@dataclass
class RefTurn:
    speaker: str
    start: float
    end: float
    text: str


@dataclass
class Example:
    audio: np.ndarray  # float32
    turns: list[RefTurn]


def _trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > SPEECH_THRESHOLD)
    return audio[loud[0]:loud[-1] + 1] if loud.size else audio[:0]


def _to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


class Pool:
    """Utterances grouped by speaker (a meeting alternates speakers; a speaker keeps one voice)."""

    def __init__(self, utterances: list[Utterance]):
        self.utterances = utterances
        self.by_speaker: dict[str, list[Utterance]] = {}
        for u in utterances:
            self.by_speaker.setdefault(u.speaker, []).append(u)
        self.speakers = sorted(self.by_speaker)

    def __len__(self) -> int:
        return len(self.utterances)


def tts_pool(split: str, size: int, num_voices: int, seed: int, progress=None) -> Pool:
    """`size` utterances spread round-robin over `num_voices` random voices of `split`, every sentence
    of `split` used before any repeats. Utterance i depends only on (seed, num_voices, i), so a larger
    pool keeps a smaller one's utterances (and their synthesis cache)."""
    from engine.simulate.synth import synthesize
    from engine.simulate.text_source import sentences
    from engine.simulate.voices import voices

    rng = random.Random(seed)
    texts, speakers = sentences(split), voices(split)
    rng.shuffle(texts)
    chosen = rng.sample(speakers, min(len(speakers), num_voices))
    utterances = []
    for i in range(size):
        voice, text = chosen[i % len(chosen)], texts[i % len(texts)]
        audio = _trim(np.asarray(synthesize(text, voice), dtype=np.float32))
        if audio.size:
            utterances.append(Utterance(_to_int16(audio), text, voice.voice_id))
        if progress:
            progress(i + 1, size)
    return Pool(utterances)


def manifest_pool(path: Path, sample_rate: int) -> Pool:
    """Utterances listed in a JSONL manifest (audio paths relative to the manifest's folder)."""
    from engine.audio import load

    path = Path(path)
    utterances = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            audio = load(path.parent / row["audio"])
            utterances.append(Utterance(_to_int16(_trim(audio)), row["text"], row["speaker"]))
    return Pool(utterances)


@dataclass
class MixingSpec:
    """How one curriculum stage mixes examples."""

    kind: str = "single"  # single | meeting
    min_turns: int = 2
    max_turns: int = 4
    overlap_prob: float = 0.0  # chance that a turn starts before the previous one ends
    max_overlap: float = 0.5  # overlap as a share of the shorter turn
    gap_s: tuple[float, float] = (0.1, 1.0)
    level_db: float = 5.0  # per-speaker gain spread
    snr_db: tuple[float, float] = (10.0, 30.0)
    max_seconds: float = 20.0
    speed: tuple[float, float] = (1.0, 1.0)  # per-speaker speed perturbation factor range (augment.py)
    # Talkers per meeting (consecutive turns always change talker) and sentences per turn, joined by short
    # pauses: the simulated evaluation meetings have 2-4 talkers and turns of 1-3 sentences, so a pause
    # inside a turn must not end it. The defaults (two talkers, one sentence) draw nothing extra from rng.
    speakers: tuple[int, int] = (2, 2)
    sentences_per_turn: tuple[int, int] = (1, 1)
    pause_in_turn_s: tuple[float, float] = (0.15, 0.45)


def _draw(rng: random.Random, bounds: tuple[int, int]) -> int:
    return bounds[0] if bounds[0] == bounds[1] else rng.randint(*bounds)


def _pick_turns(pool: Pool, spec: MixingSpec, rng: random.Random) -> list[list[Utterance]]:
    """The utterances of each turn, one talker per turn."""
    if spec.kind == "single":
        return [[rng.choice(pool.utterances)]]
    count = min(_draw(rng, spec.speakers), len(pool.speakers))
    speakers = rng.sample(pool.speakers, count) if count > 1 else pool.speakers * 2
    order, turns = 0, []
    for k in range(rng.randint(spec.min_turns, spec.max_turns)):
        if k and len(speakers) > 2:
            order = rng.choice([i for i in range(len(speakers)) if i != order])
        else:
            order = k % 2
        choices = pool.by_speaker[speakers[order]]
        turns.append([rng.choice(choices) for _ in range(_draw(rng, spec.sentences_per_turn))])
    return turns


def _turn_audio(utterances: list[Utterance], speed: float, spec: MixingSpec, rng: random.Random,
                sample_rate: int) -> np.ndarray:
    """One talker's sentences at `speed`, joined by pauses: (S,) float32."""
    pieces = []
    for k, utt in enumerate(utterances):
        if k:
            pieces.append(np.zeros(int(rng.uniform(*spec.pause_in_turn_s) * sample_rate), np.float32))
        pieces.append(speed_perturb(utt.audio.astype(np.float32) / 32767, speed))
    return np.concatenate(pieces)


def make_example(pool: Pool, spec: MixingSpec, rng: random.Random, sample_rate: int) -> Example:
    """One mixture: turns change talker, with gaps or (spec.overlap_prob) overlaps, level
    differences between speakers, per-speaker speed perturbation, white noise at a random SNR and a random
    overall level."""
    picks = _pick_turns(pool, spec, rng)
    gains = {turn[0].speaker: 10 ** (rng.uniform(-spec.level_db, spec.level_db) / 20) for turn in picks}
    # No draw when perturbation is off, so earlier recipes (and their dev sets) see the same random stream.
    speeds = {turn[0].speaker: rng.uniform(*spec.speed) for turn in picks} if tuple(spec.speed) != (1.0, 1.0) else {}
    turns, placed = [], []
    for utterances in picks:
        speaker = utterances[0].speaker
        samples = _turn_audio(utterances, speeds.get(speaker, 1.0), spec, rng, sample_rate)
        duration = len(samples) / sample_rate
        if turns:
            previous = turns[-1]
            if rng.random() < spec.overlap_prob:
                shorter = min(duration, previous.end - previous.start)
                start = max(previous.start, previous.end - rng.uniform(0.05, spec.max_overlap) * shorter)
            else:
                start = previous.end + rng.uniform(*spec.gap_s)
            if start + duration > spec.max_seconds:
                break
        else:
            start = rng.uniform(0.1, 0.5)
        turns.append(RefTurn(speaker, start, start + duration, " ".join(u.text for u in utterances)))
        placed.append(samples)
    end = max(t.end for t in turns)
    audio = np.zeros(int((end + rng.uniform(0.3, 0.8)) * sample_rate), dtype=np.float32)
    for turn, samples in zip(turns, placed):
        begin = int(turn.start * sample_rate)
        audio[begin:begin + len(samples)] += samples * gains[turn.speaker]
    power = float(np.mean(audio ** 2)) or 1e-8
    noise_power = power / 10 ** (rng.uniform(*spec.snr_db) / 10)
    audio += np.random.default_rng(rng.getrandbits(32)).normal(0, np.sqrt(noise_power), audio.shape).astype(np.float32)
    peak = float(np.abs(audio).max()) or 1.0
    return Example(audio * (rng.uniform(0.3, 0.9) / peak), turns)


def collate(examples: list[Example], table: TokenTable, config: SSTConfig, fbank: Fbank) -> dict:
    """Features, channel-major targets (HEAT), activity and <eot> reference frames for a batch."""
    b, c = len(examples), config.num_channels
    longest = max(len(e.audio) for e in examples)
    waves = torch.zeros(b, longest)
    for i, e in enumerate(examples):
        waves[i, :len(e.audio)] = torch.from_numpy(e.audio)
    feats = fbank(waves)
    feat_lengths = torch.tensor([fbank.num_frames(len(e.audio)) for e in examples])
    frame_lengths = CausalConvSubsampling.output_lengths(feat_lengths)
    t_max = int(CausalConvSubsampling.output_lengths(torch.tensor([feats.shape[1]]))[0])
    frame_s = config.frame_seconds
    per_stream: list[tuple[list[int], list[float], list[float]]] = [([], [], []) for _ in range(b * c)]
    activity = torch.zeros(b * c, t_max)
    overflow = 0
    for i, e in enumerate(examples):
        assignment = heat_assign([(t.start, t.end) for t in e.turns], c)
        overflow += assignment.overflow
        for turn, channel in sorted(zip(e.turns, assignment.channels), key=lambda p: p[0].start):
            ids, ends, starts = per_stream[channel * b + i]
            tokens = table.encode_turns([turn.text])
            ids += tokens
            ends += [turn.end / frame_s] * len(tokens)
            starts += [turn.start / frame_s] * len(tokens)
            activity[channel * b + i, int(turn.start / frame_s):int(np.ceil(turn.end / frame_s))] = 1.0
    u_max = max(1, max(len(ids) for ids, _, _ in per_stream))
    targets = torch.zeros(b * c, u_max, dtype=torch.int32)
    eot_end, sot_start = torch.zeros(b * c, u_max), torch.zeros(b * c, u_max)
    for n, (ids, ends, starts) in enumerate(per_stream):
        targets[n, :len(ids)] = torch.tensor(ids, dtype=torch.int32)
        eot_end[n, :len(ends)] = torch.tensor(ends)
        sot_start[n, :len(starts)] = torch.tensor(starts)
    return {
        "feats": feats, "targets": targets,
        "target_lengths": torch.tensor([len(ids) for ids, _, _ in per_stream], dtype=torch.int32),
        "frame_lengths": frame_lengths.repeat(c).int(), "activity": activity, "eot_end_frames": eot_end,
        "sot_start_frames": sot_start,
        "num_mixtures": b, "overflow": overflow, "audio_seconds": sum(len(e.audio) for e in examples) / config.sample_rate,
    }


def make_batch(pool: Pool, spec: MixingSpec, rng: random.Random, batch_seconds: float, sample_rate: int) -> list[Example]:
    """Examples of similar length whose audio adds up to `batch_seconds` (batches of similar audio, not of
    similar count).

    The transducer lattice is padded to the longest example and the longest target of a batch, so a batch
    of mixed lengths spends most of its (T, U) joint on padding. Twice the needed audio is mixed (cheap next
    to an update), sorted by length, and a run of neighbours from a random place is kept.
    """
    candidates, total = [], 0.0
    while total < BUCKET_OVERDRAW * batch_seconds:
        example = make_example(pool, spec, rng, sample_rate)
        candidates.append(example)
        total += len(example.audio) / sample_rate
    candidates.sort(key=lambda e: len(e.audio))
    seconds = np.cumsum([len(e.audio) / sample_rate for e in candidates])
    last_start = int(np.searchsorted(seconds, seconds[-1] - batch_seconds, side="right"))  # runs that still fill a batch
    start = rng.randint(0, max(0, last_start))
    before = seconds[start - 1] if start else 0.0
    stop = int(np.searchsorted(seconds, before + batch_seconds, side="left")) + 1
    return candidates[start:stop]
