"""Small job handlers that exercise the real worker process (claiming, progress, cancel, failures)
without loading models; test_jobs.py registers them in a worker it starts itself."""

from __future__ import annotations

import os
import time

from engine.errors import UserError


def count(params, progress):
    steps = params["steps"]
    for step in range(steps):
        progress(step / steps, f"Step {step + 1} of {steps}")
        time.sleep(params.get("step_s", 0.05))
    return {"steps": steps, "worker_pid": os.getpid()}


def refuse(params, progress):
    raise UserError("The test input was refused on purpose.")


def crash(params, progress):
    return {"ratio": 1 / params["zero"]}


def sleep_quietly(params, progress):
    """Busy for a long time without reporting progress (like one long model call)."""
    time.sleep(params["seconds"])
    return {}
