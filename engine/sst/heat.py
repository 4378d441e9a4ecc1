"""HEAT turn assignment (heuristic error assignment training, turn level): which channel learns which turn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Assignment:
    channels: list[int]  # channel of each turn, in the order the turns were given
    overflow: int  # turns placed on a busy channel: more than `num_channels` simultaneous talkers


def heat_assign(turns: list[tuple[float, float]], num_channels: int = 2) -> Assignment:
    """Assign (start, end) turns to channels as DESIGN.md says.

    Sorted by start, each turn goes to the first channel that is empty or whose last turn ended at or
    before this start; if none is free, to the channel that ends first, and the turn counts as overflow.
    """
    order = sorted(range(len(turns)), key=lambda i: (turns[i][0], turns[i][1]))
    last_end: list[float | None] = [None] * num_channels
    channels = [0] * len(turns)
    overflow = 0
    for i in order:
        start, end = turns[i]
        free = [c for c in range(num_channels) if last_end[c] is None or last_end[c] <= start]
        if free:
            channel = free[0]
        else:
            channel = min(range(num_channels), key=lambda c: last_end[c])
            overflow += 1
        channels[i] = channel
        last_end[channel] = end if last_end[channel] is None else max(last_end[channel], end)
    return Assignment(channels, overflow)
