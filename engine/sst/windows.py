"""Training windows: short mixtures with exact per-turn references, from two sources.

- "sim": a simulated meeting (engine/simulate; training voices and sentences, or dev ones for validation),
  in a LibriCSS-like condition.
- "libri": 2-3 LibriSpeech training speakers' excerpts placed by the same timeline rules, with noise; the
  text is Whisper's transcript of each clean excerpt (`pseudo_label` True).

A window is cut at `window_s`: turns that do not end inside it are dropped and the audio from the first
such turn's start is silenced, so every sound in the window has its reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine import audio
from engine.simulate import acoustics, turn_placement
from engine.simulate.meetings import build_meeting, random_spec
from engine.sst.heat import heat_assign
from engine.sst.sources import Utterance

SAMPLE_RATE = 16000
EDGE_S = 0.1  # kept around a LibriSpeech excerpt's first and last word
SOURCES = ("sim", "libri")


@dataclass
class WindowTurn:
    start: float
    end: float
    text: str
    speaker: str
    channel: int = 0


@dataclass
class Window:
    audio: np.ndarray
    turns: list[WindowTurn]
    source: str
    condition: str
    pseudo_label: bool = False
    meta: dict = field(default_factory=dict)

    def assign_channels(self, channels: int = 2) -> None:
        """HEAT: the first free channel at a turn's start (else the one that ends first)."""
        assignment = heat_assign([(t.start, t.end) for t in self.turns], channels)
        for turn, channel in zip(self.turns, assignment.channels):
            turn.channel = channel


def crop(samples: np.ndarray, turns: list[WindowTurn], window_s: float) -> tuple[np.ndarray, list[WindowTurn]]:
    """The first `window_s` seconds, silenced from the start of the first turn that does not end in time
    (and of any turn that would then be cut): every kept turn is whole, every sound has its reference."""
    limit = window_s
    while True:
        cut_starts = [t.start for t in turns if t.end > limit]
        new_limit = min([limit] + cut_starts)
        if new_limit == limit:
            break
        limit = new_limit
    cut = samples[: int(window_s * SAMPLE_RATE)].copy()
    cut[int(limit * SAMPLE_RATE) :] = 0.0
    return cut, sorted((t for t in turns if t.end <= limit), key=lambda t: t.start)


def sim_window(seed: int, window_s: float, voices: str = "train") -> Window:
    spec = random_spec(
        seed,
        "mixed",
        speakers=(2, 3),
        voices=voices,
        duration_s=(0.6 * window_s, window_s),
        reverb=bool(np.random.default_rng([seed, 9]).random() < 0.3),
    )
    meeting = build_meeting(spec)
    turns = [WindowTurn(r["start_time"], r["end_time"], r["words"], r["speaker"]) for r in meeting.reference()]
    samples, turns = crop(meeting.audio, turns, window_s)
    return Window(samples, turns, "sim", spec.condition)


def libri_window(seed: int, window_s: float, pool: list[Utterance]) -> Window:
    rng = np.random.default_rng([seed, 5])
    condition = turn_placement.CONDITIONS[rng.integers(len(turn_placement.CONDITIONS))]
    speakers = sorted({u.speaker for u in pool})
    chosen = [speakers[i] for i in rng.choice(len(speakers), int(rng.integers(2, 4)), replace=False)]
    by_speaker = {s: [u for u in pool if u.speaker == s] for s in chosen}
    pieces, who, total = [], [], 0.0
    order = list(range(len(chosen)))
    while total < window_s * 1.1 and len(pieces) < 8:
        k = order[len(pieces) % len(order)]
        utterance = by_speaker[chosen[k]][rng.integers(len(by_speaker[chosen[k]]))]
        samples = audio.load(utterance.path)
        first, last = utterance.words[0][1], utterance.words[-1][2]
        a, b = max(0, int((first - EDGE_S) * SAMPLE_RATE)), int((last + EDGE_S) * SAMPLE_RATE)
        clip = acoustics.level(samples[a:b], rng.uniform(*acoustics.SPEAKER_GAIN_DB))
        if len(clip) < SAMPLE_RATE // 2:
            continue
        pieces.append((clip, utterance.text))
        who.append(k)
        total += len(clip) / SAMPLE_RATE
    lead_in = int(rng.uniform(0.2, 1.0) * SAMPLE_RATE)
    starts = turn_placement.place_turns([len(p) for p, _ in pieces], condition, SAMPLE_RATE, lead_in, rng, who)
    length = max(s + len(p) for s, (p, _) in zip(starts, pieces)) + SAMPLE_RATE // 4
    clean, active = np.zeros(length, np.float32), np.zeros(length, bool)
    turns = []
    for start, (clip, text), k in zip(starts, pieces, who):
        clean[start : start + len(clip)] += clip
        active[start : start + len(clip)] = True
        turns.append(WindowTurn(start / SAMPLE_RATE, (start + len(clip)) / SAMPLE_RATE, text, f"libri:{chosen[k]}"))
    noise = acoustics.noise_at_snr(
        clean, active, float(rng.uniform(*acoustics.SNR_DB)), rng.uniform(*acoustics.NOISE_COLOUR), rng
    )
    mixture = clean + noise
    mixture *= min(1.0, 0.99 / max(1e-6, float(np.abs(mixture).max())))
    samples, turns = crop(mixture.astype(np.float32), turns, window_s)
    return Window(samples, turns, "libri", condition, pseudo_label=True)
