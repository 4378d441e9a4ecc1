"""Shipped checkpoints: weights + config + feature statistics + token table + model-card data (<= 25 MB).

Training checkpoints (optimizer, step, curriculum position) are written by engine/sst/train.py; this
module is the small, self-describing file that inference loads.
"""
from __future__ import annotations

from pathlib import Path

import torch

from engine.errors import UserError
from engine.sst.config import SSTConfig
from engine.sst.model import SSTModel
from engine.sst.tokens import TokenTable
from engine.storage import sha256_of_file

FORMAT = "crosstalk-sst/1"
MAX_BYTES = 25 * 1024 * 1024
ID_HEX_DIGITS = 12  # enough to tell checkpoints apart, short enough to read in a table


def save_model(path: Path, model: SSTModel, table: TokenTable, card: dict | None = None) -> None:
    """Weights (feature mean/std are buffers inside them), config, token table and card data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "tokens": table.symbols,
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "card": card or {},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind a kill
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path} is {path.stat().st_size / 2**20:.1f} MB, over the 25 MB limit")


def load_model(path: Path) -> tuple[SSTModel, TokenTable, dict]:
    """(model in eval mode, token table, card) from a file written by `save_model`."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"The SST model file {path} does not exist; train one or restore models/sst.pt.")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a Crosstalk SST checkpoint.")
    table = TokenTable(payload["tokens"])
    model = SSTModel(SSTConfig.from_dict(payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), table, payload["card"]


def checkpoint_id(path: Path) -> str:
    """The first hex digits of the file's sha256: which checkpoint a stored evaluation run scored."""
    return sha256_of_file(Path(path))[:ID_HEX_DIGITS]
