"""Speed: real-time factor (processing seconds per second of audio) and the process's peak memory."""
from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class SpeedMeter:
    audio_s: float = 0.0
    compute_s: float = 0.0
    per_item: list[float] = field(default_factory=list)

    @contextmanager
    def measure(self, audio_seconds: float):
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.audio_s += audio_seconds
        self.compute_s += elapsed
        self.per_item.append(elapsed / audio_seconds if audio_seconds else float("nan"))

    @property
    def rtf(self) -> float | None:
        return self.compute_s / self.audio_s if self.audio_s else None
