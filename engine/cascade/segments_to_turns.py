"""Speaker-labelled segments → turns: adjacent segments of the same speaker with a short pause become one."""

from __future__ import annotations

from dataclasses import replace

from engine.types import Turn, Word

MAX_PAUSE_S = 1.0  # a pause longer than this starts a new turn even for the same speaker


def merge_segments(
    labelled: list[tuple[str, float, float, list[Word]]], max_pause_s: float = MAX_PAUSE_S
) -> list[Turn]:
    return merge_turns([Turn(speaker, start, end, list(words)) for speaker, start, end, words in labelled], max_pause_s)


def merge_turns(turns: list[Turn], max_pause_s: float = MAX_PAUSE_S) -> list[Turn]:
    """Turns sorted by start, each joined to the one before it on its channel when both have the same speaker
    and the pause between them is at most `max_pause_s` (the SST's windows and Whisper's sentence segments
    cut one person's turn into pieces; the cascade's VAD segments do too). The cascade has one channel
    (None), so there a turn of another speaker in between keeps the two apart."""
    merged: list[Turn] = []
    latest: dict[int | None, int] = {}  # channel → index in `merged` of its latest turn
    for turn in sorted(turns, key=lambda t: (t.start, t.end)):
        i = latest.get(turn.channel)
        if i is not None and merged[i].speaker == turn.speaker and turn.start - merged[i].end <= max_pause_s:
            last = merged[i]
            merged[i] = replace(
                last, end=max(last.end, turn.end), words=last.words + turn.words, unterminated=turn.unterminated
            )
        else:
            latest[turn.channel] = len(merged)
            merged.append(replace(turn, words=list(turn.words)))
    return merged
