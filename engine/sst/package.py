"""The shipped SST file: only the trained parts (separator, heads), the settings that rebuild the model,
the sha256 of the Whisper weights they were trained on, and a card (training history, dev numbers).

    save_package(path, model, card);  model, card = load_package(path)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from engine.errors import UserError
from engine.sst.network import SST, build
from engine.sst.settings import SSTSettings
from engine.whisper.weights import MODEL_SHA256

FORMAT = "crosstalk-sst-whisper/1"
MAX_MB = 25.0


def save_package(path: Path, model: SST, card: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "settings": model.settings.to_json(),
        "base_sha256": MODEL_SHA256,
        "trained": {k: v.detach().cpu().clone() for k, v in model.trained_state().items()},
        "card": card,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    size_mb = tmp.stat().st_size / 1e6
    if size_mb > MAX_MB:
        tmp.unlink()
        raise ValueError(f"an SST file holds only the trained parts, at most {MAX_MB} MB; this one is {size_mb:.1f} MB")
    os.replace(tmp, path)
    return path


def read_package(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"There is no SST model at {path}: train one with `python -m engine train` (docs/sst.md).")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable file gets the same sentence
        raise UserError(f"{path} is not an SST model file (it could not be read).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a Whisper-based SST file (format {FORMAT}); it may be an older model.")
    if payload["base_sha256"] != MODEL_SHA256:
        raise UserError(
            f"{path} was trained on other Whisper weights (sha256 {payload['base_sha256'][:12]}…, "
            f"installed {MODEL_SHA256[:12]}…)."
        )
    return payload


def load_package(path: Path, device: str = "cpu") -> tuple[SST, dict]:
    payload = read_package(path)
    model = build(SSTSettings.from_json(payload["settings"]))
    model.load_trained_state(payload["trained"])
    return model.to(device).eval(), payload["card"]


def package_id(path: Path) -> str:
    """The file's sha256 prefix: evaluation runs record which file scored them."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
