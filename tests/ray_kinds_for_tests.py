"""A cheap batch kind over real audio for the Ray tests: each recording's duration and RMS level, read
through engine.audio, with an optional hold per item (`hold_s`) so that a test can kill a worker while its
shard is under way. No model is loaded, so the default test run stays in seconds; the slow test runs the
real backend."""

from __future__ import annotations

import os
import time

import numpy as np

from engine import audio
from engine.persistence.batches import ItemResult


class Loudness:
    @staticmethod
    def keys(params):
        return list(params["paths"])

    def __init__(self, params):
        self.hold_s = float(params.get("hold_s", 0.0))

    def run(self, key):
        started = time.perf_counter()
        samples = audio.load(key)
        time.sleep(self.hold_s)
        return ItemResult(
            key,
            len(samples) / audio.SAMPLE_RATE,
            time.perf_counter() - started,
            {"rms": float(np.sqrt(np.mean(samples**2))), "pid": os.getpid()},
        )

    @staticmethod
    def finish(params, items):
        return {"recordings": len(items), "mean_rms": float(np.mean([i.result["rms"] for i in items]))}
