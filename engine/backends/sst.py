"""The SST backend: models/sst.pt (the trained separator and heads on Whisper tiny.en) decodes the recording
in overlapping 30 s windows, two channels each (engine/sst/inference.py; memory flat in length), then each
turn is attributed to a speaker by clustering per-turn embeddings across the recording (engine/speakers.py),
so a channel swap between windows costs nothing, and a speaker's consecutive pieces (cut by windows and by
Whisper's sentence segments) are joined into one turn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine import audio, config
from engine.cascade.segments import iter_segment_audio
from engine.cascade.segments_to_turns import merge_turns
from engine.speakers import DEFAULT_THRESHOLD, cluster_speakers, embed_segments, speaker_label
from engine.sst.inference import WindowDecoder, transcribe_chunks
from engine.sst.package import load_package, package_id
from engine.types import Turn

DECODE_SHARE = 0.85  # rough share of the run spent decoding, for the progress bar
MIN_EMBED_S = 0.5  # a speaker embedding of less audio than this is noise: widen short turns to it
MAX_EMBED_S = 30.0  # ...and more says nothing new: a longer turn is embedded from its middle (memory stays flat)


def default_model_path() -> Path:
    return config.models_dir() / "sst.pt"


class SSTBackend:
    name = "sst"

    def __init__(
        self,
        model_path: Path | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        threads: int = 2,
        turn_source: str | None = None,
        decoder_pass: bool = True,
    ):
        """`turn_source` None: the one the file's card names (chosen for it at export)."""
        model_path = model_path or default_model_path()
        self.model, self.card = load_package(model_path)
        turn_source = turn_source or self.card.get("decoding", {}).get("turn_source", "activity")
        self.checkpoint = {"sha256": package_id(model_path), "step": self.card.get("step")}
        self.threshold = threshold
        self.threads = threads
        self.decoder = WindowDecoder(self.model, turn_source=turn_source, decoder_pass=decoder_pass)

    def describe(self) -> dict:
        """What a stored evaluation run records about the model it scored (the file's sha256 prefix, its
        training update, and how turns and words were made)."""
        return {
            "checkpoint": self.checkpoint,
            "turn_source": self.decoder.turn_source,
            "decoder_pass": self.decoder.decoder_pass,
        }

    def transcribe(
        self,
        path: Path,
        num_speakers: int | None = None,
        progress: Callable[[float, str], None] | None = None,
        on_partial: Callable[[list[Turn]], None] | None = None,
    ) -> list[Turn]:
        """Turns sorted by start; `on_partial` receives the turns decoded so far after every window."""
        report = progress or (lambda fraction, message: None)
        info = audio.probe(path)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)

        def window_done(seen_s: float, partial: list[Turn]) -> None:
            latest = f": …{partial[-1].text[-60:]}" if partial and partial[-1].text else ""
            report(DECODE_SHARE * min(1.0, seen_s / max(info.duration_s, 1e-6)), f"Decoded {seen_s:.0f} s{latest}")
            if on_partial:
                on_partial(partial)

        try:
            report(0.0, "Decoding")
            turns = transcribe_chunks(self.model, audio.iter_chunks(path, chunk_s=10.0), self.decoder, window_done)
        finally:
            torch.set_num_threads(previous)
        if turns:
            report(DECODE_SHARE + (1 - DECODE_SHARE) / 2, "Attributing speakers")
            self._attribute(path, turns, num_speakers, info.duration_s)
            turns = merge_turns(turns)
        report(1.0, "Done")
        return turns

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
