"""Speaker-labelled segments → turns: adjacent segments of the same speaker with a short pause become one."""

from __future__ import annotations

from dataclasses import replace

from engine.types import Turn, Word

MAX_PAUSE_S = 1.0  # a pause longer than this starts a new turn even for the same speaker


def merge_segments(
    labelled: list[tuple[str, float, float, list[Word]]], max_pause_s: float = MAX_PAUSE_S
) -> list[Turn]:
    turns: list[Turn] = []
    for speaker, start, end, words in sorted(labelled, key=lambda x: (x[1], x[2])):
        last = turns[-1] if turns else None
        if last and last.speaker == speaker and start - last.end <= max_pause_s:
            turns[-1] = replace(last, end=max(last.end, end), words=last.words + list(words))
        else:
            turns.append(Turn(speaker=speaker, start=start, end=end, words=list(words)))
    return turns
