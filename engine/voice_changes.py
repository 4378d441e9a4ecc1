"""Where the voice changes inside a turn, and splitting the turn there.

The SST model's first channel often runs straight through a turn change when the next talker starts
while the current one is still speaking: one hypothesis turn then covers two talkers, ends seconds late
and is given one speaker. Comparing resemblyzer embeddings of the 1.6 s just before and just after each
point of a turn finds those changes; the turn is cut at the word gap nearest to each one, and the pieces
are attributed separately.

The threshold was chosen on the dev set with `bench/cascade_change_sweep.py` (docs/cascade.md, "Voice-change
threshold"); the SST backend uses the same value unless its file's card names another.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.audio import SAMPLE_RATE
from engine.speakers import NORMALISE_DBFS, voice_encoder
from engine.threads import one_torch_thread
from engine.types import Turn

CHANGE_THRESHOLD = 0.35  # cosine distance between the two sides' embeddings that counts as a new voice
HOP_S = 0.2  # spacing of the candidate change points
WINDOW_S = 1.6  # each side's length: resemblyzer's partial-utterance window
MIN_SPAN_S = 2 * WINDOW_S  # shorter audio has no point with a full window on each side
BATCH_WINDOWS = 256  # windows embedded per forward pass
PIECE_S = 60.0  # a longer turn is searched piece by piece, so its audio is never held whole


def threshold_for(card: dict) -> float | None:
    """The threshold a checkpoint was shipped with (its card, written at export; None: no splitting), else
    CHANGE_THRESHOLD: training checkpoints and older cards name none."""
    return card.get("voice_change_threshold", CHANGE_THRESHOLD)


def _window_embeddings(samples: np.ndarray) -> np.ndarray:
    """Unit embeddings (K, 256) of the 1.6 s windows starting every HOP_S seconds that fit in `samples`."""
    from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

    encoder = voice_encoder()
    window, hop = int(WINDOW_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
    count = (len(samples) - window) // hop + 1
    mel_window, mel_hop = round(WINDOW_S * 100), round(HOP_S * 100)  # resemblyzer: 10 ms mel frames
    samples = normalize_volume(samples, NORMALISE_DBFS, increase_only=True)
    out = []
    with one_torch_thread(), torch.no_grad():
        for first in range(0, count, BATCH_WINDOWS):
            last = min(count, first + BATCH_WINDOWS)
            mel = wav_to_mel_spectrogram(samples[first * hop : (last - 1) * hop + window])
            mels = np.stack([mel[i * mel_hop : i * mel_hop + mel_window] for i in range(last - first)])
            out.append(encoder(torch.from_numpy(mels)).numpy())
    return np.concatenate(out)


def voice_change_times(samples: np.ndarray, threshold: float = CHANGE_THRESHOLD) -> list[float]:
    """Seconds into 16 kHz mono `samples` where the voice changes, ascending: the points whose two
    sides (WINDOW_S each) are further apart than `threshold`, strongest first, no two within WINDOW_S."""
    lag = round(WINDOW_S / HOP_S)
    if len(samples) < MIN_SPAN_S * SAMPLE_RATE:
        return []
    windows = _window_embeddings(samples)
    # A silent window embeds as 0/0; it says nothing about a change.
    distance = np.nan_to_num(1.0 - np.einsum("kd,kd->k", windows[:-lag], windows[lag:]), nan=0.0)
    times = (np.arange(len(distance)) + lag) * HOP_S  # where window k ends and window k + lag starts
    chosen: list[float] = []
    for k in np.argsort(-distance, kind="stable"):
        if distance[k] <= threshold:
            break
        if all(abs(times[k] - t) >= WINDOW_S for t in chosen):
            chosen.append(float(times[k]))
    return sorted(chosen)


def search_pieces(
    start: float, end: float, piece_s: float = PIECE_S
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(piece, owned span) pairs covering [start, end] in order: pieces of at most `piece_s` overlapping by
    2 * MIN_SPAN_S, each owning the times up to the middle of its overlaps. A time a piece owns has the windows
    of every point it competes with (within WINDOW_S) inside that piece, so keeping each piece's changes in
    the span it owns finds what searching [start, end] whole would."""
    overlap = 2 * MIN_SPAN_S
    if piece_s <= 2 * overlap:
        raise ValueError(f"pieces of {piece_s} s cannot overlap by {overlap} s on both sides")
    firsts = [start]
    while firsts[-1] + piece_s < end:
        firsts.append(firsts[-1] + piece_s - overlap)
    pieces = [(first, min(first + piece_s, end)) for first in firsts]
    bounds = [start] + [(b[0] + a[1]) / 2 for a, b in zip(pieces, pieces[1:])] + [end]
    return list(zip(pieces, zip(bounds, bounds[1:])))


def owned_change_times(
    piece: tuple[float, float], owned: tuple[float, float], samples: np.ndarray, threshold: float = CHANGE_THRESHOLD
) -> list[float]:
    """The absolute change times that one piece of `search_pieces` contributes: those found in its `samples`
    (the audio of `piece`) that fall in the span it owns."""
    first, last = owned
    return [piece[0] + t for t in voice_change_times(samples, threshold) if first <= piece[0] + t < last]


def split_turn(turn: Turn, times: list[float]) -> list[Turn]:
    """`turn` cut at the word gap nearest each absolute time in `times`: each piece ends with its last
    word and the next starts with its first. A cut that would leave a piece without words is skipped;
    only the last piece keeps `unterminated`."""
    pieces, start, words = [], turn.start, list(turn.words)
    for time in times:
        left = [w for w in words if (w.start + w.end) / 2 < time]
        right = words[len(left) :]
        if not left or not right:
            continue
        pieces.append(Turn(turn.speaker, start, left[-1].end, left, turn.channel))
        start, words = right[0].start, right
    pieces.append(Turn(turn.speaker, start, turn.end, words, turn.channel, turn.unterminated))
    return pieces
