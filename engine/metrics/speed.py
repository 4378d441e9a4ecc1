"""Speed: real-time factor (processing seconds per second of audio) and the process's peak memory."""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class SpeedMeter:
    audio_s: float = 0.0
    compute_s: float = 0.0

    @contextmanager
    def measure(self, audio_seconds: float):
        start = time.perf_counter()
        yield
        self.compute_s += time.perf_counter() - start
        self.audio_s += audio_seconds

    @property
    def rtf(self) -> float | None:
        return self.compute_s / self.audio_s if self.audio_s else None
