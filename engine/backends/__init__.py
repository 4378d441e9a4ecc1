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
    "cascade-pocketsphinx": "engine.backends.cascade:PocketsphinxCascadeBackend",
    "sst": "engine.backends.sst:SSTBackend",
}
BACKENDS = tuple(_FACTORIES)
# What a person reads in a select box or beside a run (the names above are what is stored).
TITLES = {
    "cascade": "Cascade · Whisper tiny.en",
    "cascade-pocketsphinx": "Cascade · pocketsphinx (hybrid)",
    "sst": "SST (trained here)",
}
CASCADE_BY_RECOGNISER = {"whisper": "cascade", "pocketsphinx": "cascade-pocketsphinx"}


def backend_title(name: str) -> str:
    """A stored backend name as a person reads it (names this registry no longer knows are shown as stored)."""
    return TITLES.get(name, name)


def backend_for(backend: str, recogniser: str | None = None) -> str:
    """The backend name that `--backend` and `--recogniser` mean together: the recogniser picks the cascade
    (`cascade` recognises with Whisper, `cascade-pocketsphinx` with pocketsphinx); other backends have their own."""
    if recogniser is None:
        return backend
    if not backend.startswith("cascade"):
        raise UserError(f"--recogniser chooses the cascade's recogniser; the {backend} backend has its own.")
    if recogniser not in CASCADE_BY_RECOGNISER:
        raise UserError(f"Unknown recogniser {recogniser!r}; choose one of: {', '.join(CASCADE_BY_RECOGNISER)}.")
    return CASCADE_BY_RECOGNISER[recogniser]


class Backend(Protocol):
    name: str

    def transcribe(
        self,
        path: Path,
        num_speakers: int | None = None,
        progress: Callable[[float, str], None] | None = None,
        on_partial: Callable[[list[Turn]], None] | None = None,
    ) -> list[Turn]:
        """Turns sorted by start; words carry times where the backend has them. `on_partial` receives the
        turns recognised so far (before speaker attribution) as the work goes on."""


@cache
def get_backend(name: str) -> Backend:
    if name not in _FACTORIES:
        raise UserError(f"Unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}.")
    module_name, class_name = _FACTORIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
