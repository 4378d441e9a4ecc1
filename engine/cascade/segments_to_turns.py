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
    """Turns sorted by start, each joined to the one before it when both have the same speaker and channel
    and the pause between them is at most `max_pause_s` (the SST's windows and Whisper's sentence segments
    cut one person's turn into pieces; the cascade's VAD segments do too)."""
    merged: list[Turn] = []
    for turn in sorted(turns, key=lambda t: (t.start, t.end)):
        last = merged[-1] if merged else None
        same_voice = last is not None and (last.speaker, last.channel) == (turn.speaker, turn.channel)
        if same_voice and turn.start - last.end <= max_pause_s:
            merged[-1] = replace(
                last, end=max(last.end, turn.end), words=last.words + turn.words, unterminated=turn.unterminated
            )
        else:
            merged.append(replace(turn, words=list(turn.words)))
    return merged
