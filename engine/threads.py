"""Torch thread count for the small recurrent models (silero-vad, resemblyzer)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """These models run many tiny ops: a second intra-op thread only adds synchronisation
    (measured: 8x more CPU for the same VAD pass on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
