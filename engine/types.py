"""The data that flows between backends, metrics, exports and the database.

Times are seconds from the start of the recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    text: str
    start: float | None = None
    end: float | None = None


@dataclass
class Turn:
    """One speaker turn: the span between a start-of-turn and an end-of-turn marker.

    `channel` is the output channel that produced it (SST: 0/1; cascade: None). `speaker` is the
    attributed speaker label. `unterminated` marks a turn that was still open at the end of audio.
    """

    speaker: str
    start: float
    end: float
    words: list[Word] = field(default_factory=list)
    channel: int | None = None
    unterminated: bool = False

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)
