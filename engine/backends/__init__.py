"""Backend registry: a name → an object that turns an audio file into speaker-attributed turns.

Backends are imported lazily (importing the registry loads no model) and built once per process,
so their models are loaded once. A new backend adds one line to `_FACTORIES`.
"""
from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Callable, Protocol

from engine.errors import UserError
from engine.types import Turn

_FACTORIES = {
    "cascade": "engine.backends.cascade:CascadeBackend",
    "sst": "engine.backends.sst:SSTBackend",
}
BACKENDS = tuple(_FACTORIES)


class Backend(Protocol):
    name: str

    def transcribe(self, path: Path, num_speakers: int | None = None,
                   progress: Callable[[float, str], None] | None = None,
                   on_partial: Callable[[list[Turn]], None] | None = None) -> list[Turn]:
        """Turns sorted by start; words carry times where the backend has them. `on_partial` receives the
        turns recognised so far (before speaker attribution) as the work goes on."""


@cache
def get_backend(name: str) -> Backend:
    if name not in _FACTORIES:
        raise UserError(f"Unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}.")
    module_name, class_name = _FACTORIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
