"""The SST backend: models/sst.pt decodes the recording in 320 ms streaming chunks (memory flat in
length), then each turn is attributed to a speaker by clustering per-turn embeddings (engine/speakers.py).

Three streaming passes over the file: (1) decode, reporting partial turns as they form; (2) cut turns
where the voice changes inside them (engine/voice_changes.py); (3) cut each turn's audio for its speaker
embedding.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine import audio, config
from engine.cascade.segments import iter_segment_audio
from engine.speakers import DEFAULT_THRESHOLD, cluster_speakers, embed_segments, speaker_label
from engine.sst.checkpoint import checkpoint_id, load_model
from engine.sst.decode import StreamingDecoder
from engine.types import Turn
from engine.voice_changes import MIN_SPAN_S, owned_change_times, search_pieces, split_turn, threshold_for

DECODE_SHARE = 0.85  # rough share of the run spent decoding, for the progress bar
MIN_EMBED_S = 0.5  # a speaker embedding of less audio than this is noise: widen short turns to it
MAX_EMBED_S = 30.0  # ...and more says nothing new: a longer turn is embedded from its middle (memory stays flat)
CHUNK_S = 0.32  # what the decoder is fed at a time: one 320 ms chunk, as a live stream would
FROM_CARD = "card"  # change_threshold: the one the checkpoint names (voice_changes.threshold_for)


def default_model_path() -> Path:
    return config.models_dir() / "sst.pt"


class SSTBackend:
    name = "sst"

    def __init__(self, model_path: Path | None = None, threshold: float = DEFAULT_THRESHOLD, threads: int = 1,
                 change_threshold: float | None | str = FROM_CARD):
        """`change_threshold` None keeps the turns as the model ends them (no voice-change split). By default
        it is the one stored in the checkpoint's card at export: a threshold is tuned for one model's turns."""
        model_path = model_path or default_model_path()
        self.model, self.table, self.card = load_model(model_path)
        self.checkpoint = {"sha256": checkpoint_id(model_path), "step": self.card.get("step")}
        self.threshold = threshold
        if change_threshold == FROM_CARD:
            change_threshold = threshold_for(self.card)
        self.change_threshold = change_threshold
        self.threads = threads  # measured in bench/sst_speed.py: one thread already runs far faster than real time

    def describe(self) -> dict:
        """What a stored evaluation run records about the model it scored: the loaded checkpoint's sha256
        prefix and training step (the Model page flags runs of a checkpoint other than the shipped one),
        and the voice-change threshold its turns were split at."""
        return {"checkpoint": self.checkpoint, "voice_change_threshold": self.change_threshold}

    def transcribe(self, path: Path, num_speakers: int | None = None,
                   progress: Callable[[float, str], None] | None = None,
                   on_partial: Callable[[list[Turn]], None] | None = None) -> list[Turn]:
        """Turns sorted by start. `on_partial` receives the turns decoded so far after every block of
        audio (the last one may be open and is then flagged unterminated)."""
        report = progress or (lambda fraction, message: None)
        info = audio.probe(path)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            decoder = StreamingDecoder(self.model)
            step = int(CHUNK_S * audio.SAMPLE_RATE)
            report(0.0, "Decoding")
            for block in audio.iter_chunks(path, chunk_s=10.0):
                samples = torch.from_numpy(block)
                for start in range(0, len(samples), step):
                    decoder.accept(samples[start:start + step])
                seen = decoder.samples_seen / audio.SAMPLE_RATE
                partial = decoder.turns(self.table)
                # The progress message carries the newest words, so any progress display shows partial results.
                latest = f": …{partial[-1].text[-60:]}" if partial and partial[-1].text else ""
                report(DECODE_SHARE * min(1.0, seen / max(info.duration_s, 1e-6)), f"Decoded {seen:.0f} s{latest}")
                if on_partial:
                    on_partial(partial)
            turns = [t for t in decoder.finish().turns(self.table) if t.words]
        finally:
            torch.set_num_threads(previous)
        if turns and self.change_threshold is not None:
            report(DECODE_SHARE, "Splitting turns where the voice changes")
            turns = self._split_at_voice_changes(path, turns)
        if turns:
            report(DECODE_SHARE + (1 - DECODE_SHARE) / 2, "Attributing speakers")
            self._attribute(path, turns, num_speakers, info.duration_s)
        report(1.0, "Done")
        return turns

    def _split_at_voice_changes(self, path: Path, turns: list[Turn]) -> list[Turn]:
        """Each turn long enough to hold two voices, cut where the voice changes (still sorted by start).
        A turn is searched in pieces of at most PIECE_S: a channel that never ends its turn can make one as
        long as the recording."""
        pieces = sorted((piece, owned, i) for i, turn in enumerate(turns) if turn.end - turn.start >= MIN_SPAN_S
                        for piece, owned in search_pieces(turn.start, turn.end))
        changes: list[list[float]] = [[] for _ in turns]
        piece_audio = iter_segment_audio(audio.iter_chunks(path), [piece for piece, _, _ in pieces])
        for (piece, owned, i), (_, samples) in zip(pieces, piece_audio):
            changes[i] += owned_change_times(piece, owned, samples, self.change_threshold)
        split = [piece for turn, times in zip(turns, changes) for piece in split_turn(turn, sorted(times))]
        return sorted(split, key=lambda turn: turn.start)

    def _attribute(self, path: Path, turns: list[Turn], num_speakers: int | None, duration: float) -> None:
        """Replace channel labels with speaker labels: a channel is not a speaker."""
        segments = []
        for turn in turns:
            middle, half = (turn.start + turn.end) / 2, min(max(turn.end - turn.start, MIN_EMBED_S), MAX_EMBED_S) / 2
            segments.append((max(0.0, middle - half), min(duration, middle + half)))
        order = sorted(range(len(turns)), key=lambda i: segments[i])
        embeddings = np.zeros((len(turns), 256), dtype=np.float32)
        pieces = iter_segment_audio(audio.iter_chunks(path), [segments[i] for i in order])
        for i, (_, samples) in zip(order, pieces):
            embeddings[i] = embed_segments(samples, [(0.0, len(samples) / audio.SAMPLE_RATE)])[0]
        for turn, label in zip(turns, cluster_speakers(embeddings, num_speakers, self.threshold)):
            turn.speaker = speaker_label(label)
