"""One simulated meeting, built in memory from a seed: audio, the same audio before noise, and a SegLST
reference with exact turn times.

    spec = random_spec(seed=7, condition="mixed", voices="train")   # what the SST trainer mixes on the fly
    meeting = build_meeting(spec)
    meeting.audio, meeting.reference()

A turn is one or more sentences by one speaker. Turn times are sample-exact: each utterance is trimmed to
its first and last non-silent sample, and a turn runs from its first sample to its last.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from engine.simulate import acoustics, human, text_source, turn_placement
from engine.simulate.synth import SAMPLE_RATE, synthesize
from engine.simulate.voices import Voice, voices

VOICE_SETS = ("train", "dev", "test", "human")
ALL_CONDITIONS = turn_placement.CONDITIONS + ("mixed",)
SENTENCES_PER_TURN = ((1, 0.55), (2, 0.3), (3, 0.15))
PAUSE_IN_TURN_S = (0.15, 0.45)
LEAD_IN_S = (0.3, 1.0)
TAIL_S = 0.5
SILENCE = 1e-4  # espeak's silence is digital zero; anything above this is speech
MAX_DRAWS = 50  # attempts at a turn sequence that can reach the overlap target
MBROLA_SHARE = 0.3  # mbrola voices are few next to espeak's accent x variant grid: sample them this often


@dataclass(frozen=True)
class MeetingSpec:
    session_id: str
    seed: int
    condition: str  # one of turn_placement.CONDITIONS (a "mixed" request is resolved before this)
    num_speakers: int
    voices: str = "train"  # train | dev | test (synthetic voices and sentences) | human (accent archive)
    max_concurrent: int = 2
    reverb: bool = False
    duration_s: tuple[float, float] = (30.0, 60.0)


@dataclass(frozen=True)
class ReferenceTurn:
    speaker: str
    start: int  # samples
    end: int
    words: str


@dataclass
class Meeting:
    spec: MeetingSpec
    audio: np.ndarray  # float32, 16 kHz: the mixture as recorded (noise, reverb)
    clean: np.ndarray  # the same mixture before noise (reverb included)
    turns: list[ReferenceTurn]
    speakers: list[dict]  # attributes of each talker, keyed by "speaker"
    snr_db: float
    rt60_s: float | None
    sample_rate: int = SAMPLE_RATE

    def reference(self) -> list[dict]:
        """SegLST segments, in start order."""
        return [
            {
                "session_id": self.spec.session_id,
                "speaker": t.speaker,
                "start_time": t.start / self.sample_rate,
                "end_time": t.end / self.sample_rate,
                "words": t.words,
            }
            for t in self.turns
        ]

    def info(self) -> dict:
        ratio, most = turn_placement.activity_ratios(
            [(t.start / self.sample_rate, t.end / self.sample_rate) for t in self.turns]
        )
        return {
            "session_id": self.spec.session_id,
            "spec": asdict(self.spec),
            "duration_s": len(self.audio) / self.sample_rate,
            "overlap_ratio": round(ratio, 6),
            "max_simultaneous_talkers": most,
            "snr_db": round(self.snr_db, 3),
            "rt60_s": None if self.rt60_s is None else round(self.rt60_s, 3),
            "speakers": self.speakers,
            "num_turns": len(self.turns),
        }


def spec_seed(seed: int, index: int) -> int:
    """A per-meeting seed from the set seed and the meeting's index (independent of worker order)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def random_spec(
    seed: int,
    condition: str = "mixed",
    speakers: tuple[int, int] = (2, 4),
    voices: str = "train",
    session_id: str | None = None,
    **options,
) -> MeetingSpec:
    """Resolve "mixed" and the speaker count from the seed alone."""
    rng = np.random.default_rng([seed, 1])
    resolved = (
        turn_placement.CONDITIONS[rng.integers(len(turn_placement.CONDITIONS))] if condition == "mixed" else condition
    )
    if resolved not in turn_placement.CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}")
    num = int(rng.integers(speakers[0], speakers[1] + 1))
    return MeetingSpec(session_id or f"{resolved}_{seed}", seed, resolved, num, voices, **options)


def pick_voices(split: str, count: int, rng: np.random.Generator) -> list[Voice]:
    """Distinct-sounding talkers: no two share an espeak variant or an mbrola base voice. Each talker's
    sex label is drawn first at even odds (most espeak variants are male, so uniform voices would not be)."""
    pool = voices(split)
    groups = {
        (e, s): [v for v in pool if v.engine == e and v.sex == s]
        for e in ("espeak", "mbrola")
        for s in ("female", "male")
    }
    chosen: list[Voice] = []
    while len(chosen) < count:
        sex = "female" if rng.random() < 0.5 else "male"
        group = groups["mbrola" if rng.random() < MBROLA_SHARE else "espeak", sex]
        voice = group[rng.integers(len(group))]
        timbre = voice.espeak_name.split("+")[-1]
        if all(timbre != c.espeak_name.split("+")[-1] for c in chosen):
            chosen.append(voice)
    return chosen


def _trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > SILENCE)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def _turn_order(num_speakers: int, rng: np.random.Generator):
    """Speaker indices: everyone once first (shuffled), then never the same speaker twice in a row."""
    order = list(rng.permutation(num_speakers))
    yield from order
    last = order[-1]
    while True:
        nxt = int(rng.integers(num_speakers - 1))
        last = nxt if nxt < last else nxt + 1
        yield last


def _synthetic_turns(spec: MeetingSpec, rng: np.random.Generator):
    talkers = pick_voices(spec.voices, spec.num_speakers, rng)
    pool = text_source.sentences(spec.voices)
    target = rng.uniform(*spec.duration_s)
    for _ in range(MAX_DRAWS):
        turns = _draw_turns(spec, talkers, pool, target, rng)
        if turn_placement.feasible([len(a) / SAMPLE_RATE for _, a, _ in turns], spec.condition):
            break  # else a long turn between short ones cannot be overlapped enough: draw again
    labels = [{"speaker": v.voice_id, "kind": "synthetic", **asdict(v)} for v in talkers]
    return labels, turns


def _draw_turns(
    spec: MeetingSpec, talkers: list[Voice], pool: list[str], target: float, rng: np.random.Generator
) -> list[tuple[int, np.ndarray, str]]:
    """(speaker index, audio, words) per turn until the meeting is about `target` seconds long."""
    ratio = turn_placement.overlap_target(spec.condition)
    mean_gap = float(np.mean(turn_placement.GAPS_S.get(spec.condition, (0.0, 0.0))))
    counts, probs = zip(*SENTENCES_PER_TURN)
    turns, speech = [], 0.0
    for i, who in enumerate(_turn_order(spec.num_speakers, rng)):
        if i >= spec.num_speakers and speech / (1 + ratio) + mean_gap * (i - 1) >= target:
            break
        pieces = []
        for k in range(rng.choice(counts, p=probs)):
            sentence = pool[rng.integers(len(pool))]
            if k:
                pieces.append((None, np.zeros(int(rng.uniform(*PAUSE_IN_TURN_S) * SAMPLE_RATE), np.float32)))
            pieces.append((sentence, _trim(synthesize(sentence, talkers[who]))))
        audio = np.concatenate([a for _, a in pieces])
        turns.append((who, audio, " ".join(s for s, _ in pieces if s)))
        speech += len(audio) / SAMPLE_RATE
    return turns


def _human_turns(spec: MeetingSpec, rng: np.random.Generator):
    people = human.human_speakers()
    chosen = [people[i] for i in rng.choice(len(people), spec.num_speakers, replace=False)]
    text = human.paragraph()
    order = rng.permutation(spec.num_speakers)
    labels = [{"speaker": p.speaker_id, "kind": "human", **asdict(p)} for p in chosen]
    return labels, [(int(i), human.load_turn(chosen[i]), text) for i in order]


def build_meeting(spec: MeetingSpec) -> Meeting:
    """The meeting `spec` describes; the same spec always gives the same samples."""
    rng = np.random.default_rng([spec.seed, 2])
    labels, raw = (_human_turns if spec.voices == "human" else _synthetic_turns)(spec, rng)
    gains = rng.uniform(*acoustics.SPEAKER_GAIN_DB, len(labels))
    rt60 = float(rng.uniform(*acoustics.RT60_S)) if spec.reverb else None
    rirs = [acoustics.synthetic_rir(rt60, SAMPLE_RATE, rng) for _ in labels] if spec.reverb else None

    speakers = [who for who, _, _ in raw]
    durations = [len(a) for _, a, _ in raw]
    lead_in = int(rng.uniform(*LEAD_IN_S) * SAMPLE_RATE)
    starts = turn_placement.place_turns(
        durations, spec.condition, SAMPLE_RATE, lead_in, rng, speakers, spec.max_concurrent
    )
    tail = int(TAIL_S * SAMPLE_RATE) + (len(rirs[0]) if rirs else 0)
    total = max(s + d for s, d in zip(starts, durations)) + tail
    clean = np.zeros(total, np.float32)
    active = np.zeros(total, bool)
    turns = []
    for (who, audio, words), start in zip(raw, starts):
        audio = acoustics.level(audio, gains[who] + rng.uniform(*acoustics.TURN_GAIN_DB))
        turns.append(ReferenceTurn(labels[who]["speaker"], start, start + len(audio), words))
        active[start : start + len(audio)] = True
        if rirs:
            audio = acoustics.reverberate(audio, rirs[who])
        clean[start : start + len(audio)] += audio
    snr = float(rng.uniform(*acoustics.SNR_DB))
    noise = acoustics.noise_at_snr(clean, active, snr, rng.uniform(*acoustics.NOISE_COLOUR), rng)
    mixture = clean + noise
    peak = float(np.max(np.abs(mixture)))
    if peak > 0.99:  # scale both alike so `clean` stays the noise-free twin of `audio`
        mixture, clean = mixture * (0.99 / peak), clean * (0.99 / peak)
    turns.sort(key=lambda t: (t.start, t.speaker))
    return Meeting(spec, mixture.astype(np.float32), clean.astype(np.float32), turns, labels, snr, rt60)
