"""Progress of a long command on stderr (tqdm): a live bar on a terminal; in a log file or a pipe, a line
every LOG_EVERY_S once the work has taken that long (a quick command, or one that fails at once, prints none)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LOG_EVERY_S = 15.0


class _Lines:
    """tqdm redraws its line with carriage returns; a log or a pipe reads whole lines instead."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "")
        if text.strip():
            self.stream.write(text.rstrip("\n") + "\n")

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def progress_bar() -> Iterator[Callable[[float, str], None]]:
    """Yield progress(fraction, message), the callback engine code reports to."""
    from tqdm import tqdm

    terminal = sys.stderr.isatty()
    with tqdm(
        total=100,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        file=sys.stderr if terminal else _Lines(sys.stderr),
        leave=not terminal,
        ascii=not terminal,
        ncols=None if terminal else 100,
        mininterval=0.5 if terminal else LOG_EVERY_S,
        delay=0 if terminal else LOG_EVERY_S,
    ) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message, refresh=False)
            bar.update(max(0, round(100 * fraction) - bar.n))

        yield progress
