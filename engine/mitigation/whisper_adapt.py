"""Whisper tiny.en as the EWC experiments fine-tune it: which weights move, the frozen encoder states cached
below them, the teacher-forced decoder loss, and greedy transcription with the torch copy.

Adaptation sets (ADAPTS): "decoder" moves the decoder's 4 blocks and final layer norm (the token embedding,
tied to the output layer, and the positions stay frozen: 20 M of the decoder's 29 M weights, and the ones a few
minutes of speech would overfit first); "encoder_top" moves the last encoder block and its layer norm. What lies
below the first moving encoder block never changes, so its output for every utterance is computed once, kept in
float16 (1500 × 384 × 2 bytes = 1.15 MB per 30 s window) and cached on disk: a fine-tuning update then runs only
the moving part.

Loss: cross-entropy of the reference text under teacher forcing, `<|startoftranscript|><|notimestamps|> text
<|endoftext|>`, averaged over the predicted tokens (text and <|endoftext|>), so the Fisher's scale does not grow
with the length of an utterance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from engine import config
from engine.whisper.decoding import MAX_TOKENS, _suppress
from engine.whisper.features import window_mel
from engine.whisper.model import KVCache, Whisper
from engine.whisper.tokenizer import tokenizer

# adaptation set -> the first encoder block that moves (tiny.en has 4; 4 = none of them)
ADAPTS = {"decoder": 4, "encoder_top": 3}
WINDOW_SAMPLES = 30 * 16_000  # one Whisper window: longer parts cannot be scored in one decode
STATES_VERSION = "v1"  # part of the cache path: change it when the states change


def set_trainable(model: Whisper, adapt: str) -> int:
    """Freeze everything but the adaptation set; returns how many weights move."""
    model.requires_grad_(False)
    if adapt == "decoder":
        model.decoder.blocks.requires_grad_(True)
        model.decoder.ln.requires_grad_(True)
        for block in model.decoder.blocks:  # frozen, so each utterance's cross keys/values are computed once
            block.cross_attn.kv.requires_grad_(False)
    elif adapt == "encoder_top":
        model.encoder.blocks[ADAPTS[adapt] :].requires_grad_(True)
        model.encoder.ln_post.requires_grad_(True)
    else:
        raise ValueError(f"unknown adaptation set {adapt!r}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class Utterance:
    key: str  # the speaker (or file) it comes from: the bootstrap resamples these
    memory: list[torch.Tensor]  # float16, what the frozen part computes from the audio (Adapter.memory)
    text: str  # reference or pseudo-label


@torch.no_grad()
def frozen_states(model: Whisper, samples: np.ndarray, first_moving: int, cache_key: str | None = None) -> torch.Tensor:
    """The encoder's states (1500, D) float16 before block `first_moving` for ≤ 30 s of 16 kHz audio (cached on
    disk under <data dir>/mitigation_whisper/states when `cache_key` names the audio: states_cache_key)."""
    path = None
    if cache_key is not None:
        digest = hashlib.sha256(f"{STATES_VERSION}:{first_moving}:{cache_key}".encode()).hexdigest()[:24]
        path = config.data_dir() / "mitigation_whisper" / "states" / f"{digest}.npy"
        if path.exists():
            return torch.from_numpy(np.load(path))
    x = model.encoder.run_blocks(model.encoder.embed(window_mel(samples)[None]), 0, first_moving)[0].half()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npy")  # renamed into place: a killed run leaves no torn file
        np.save(partial, x.numpy())
        partial.replace(path)
    return x


def states_cache_key(path: Path, start: int, end: int) -> str:
    """Names a part of a recording for the states cache (the file's path and size, and the sample range)."""
    return f"{path.resolve()}:{path.stat().st_size}:{start}:{end}"


class Adapter:
    """What stays fixed while an adaptation set moves, and how a batch is run from it.

    "decoder": the memory is every decoder layer's cross-attention keys and values (the encoder and the `kv`
    projections are frozen), so an update or a decode runs only over the text tokens. "encoder_top": the
    memory is the states below the last encoder block, which is run on every use.
    """

    def __init__(self, adapt: str):
        if adapt not in ADAPTS:
            raise ValueError(f"unknown adaptation set {adapt!r}")
        self.adapt, self.first_moving = adapt, ADAPTS[adapt]

    @torch.no_grad()
    def memory(self, model: Whisper, samples: np.ndarray, cache_key: str | None = None) -> list[torch.Tensor]:
        states = frozen_states(model, samples, self.first_moving, cache_key)
        if self.adapt != "decoder":
            return [states]
        audio = model.encoder.ln_post(states.float()[None])
        return [t[0].half() for block in model.decoder.blocks for t in block.cross_attn.project_audio(audio)]

    def start(self, model: Whisper, batch: list[Utterance]) -> KVCache:
        """A decoder cache for a batch of utterances (gradients reach the moving weights)."""
        if self.adapt == "decoder":
            stacked = [torch.stack([u.memory[i] for u in batch]).float() for i in range(len(batch[0].memory))]
            return KVCache(list(zip(stacked[0::2], stacked[1::2])), [None] * len(model.decoder.blocks))
        encoder = model.encoder
        states = torch.stack([u.memory[0] for u in batch]).float()
        return model.decoder.start(encoder.ln_post(encoder.run_blocks(states, self.first_moving, len(encoder.blocks))))


def text_tokens(text: str) -> list[int]:
    return tokenizer().encode(" " + text.strip())


class TeacherForcedLoss:
    """`loss(model, utterances) -> scalar`: mean cross-entropy of the utterances' texts given their audio."""

    def __init__(self, adapter: Adapter):
        self.adapter = adapter

    def __call__(self, model: Whisper, batch: list[Utterance]) -> torch.Tensor:
        tok = tokenizer()
        prompt = [tok.sot, tok.no_timestamps]
        sequences = [prompt + text_tokens(u.text) + [tok.eot] for u in batch]
        length = max(map(len, sequences))
        padded = torch.tensor([s + [tok.eot] * (length - len(s)) for s in sequences])
        inputs, targets = padded[:, :-1], padded[:, 1:]
        positions = torch.arange(length - 1)[None]
        # predicted: from the first text token to <|endoftext|> (the prompt is given, the padding is not scored)
        scored = (positions >= len(prompt) - 1) & (positions < torch.tensor([len(s) - 1 for s in sequences])[:, None])
        logits = model.decoder(inputs, self.adapter.start(model, batch))
        return F.cross_entropy(logits[scored], targets[scored])


@torch.no_grad()
def transcribe(
    model: Whisper,
    utterances: list[Utterance],
    adapter: Adapter,
    timestamps: bool = True,
    batch_size: int = 16,
    max_tokens: int = MAX_TOKENS,
) -> list[str]:
    """Greedy transcripts with the torch copy, Whisper's timestamp rules on by default (as the runtime decodes).

    engine.whisper.decoding.decode(beam_size=1) run on many utterances at once, one batch row each, with the
    same suppression rules (its `_suppress`) and the same stopping rule: a row ends when <|endoftext|> is its
    most likely token (the test checks the two agree).
    """
    tok = tokenizer()
    prompt = list(tok.sot_sequence) + ([] if timestamps else [tok.no_timestamps])
    texts = []
    for first in range(0, len(utterances), batch_size):
        batch = utterances[first : first + batch_size]
        cache = adapter.start(model, batch)
        rows, sequences = list(range(len(batch))), [[] for _ in batch]
        step_input = torch.tensor([prompt] * len(batch))
        for _ in range(max_tokens):
            logits = model.decoder(step_input, cache)[:, -1].float()
            _suppress(logits, [sequences[i] for i in rows], tok, timestamps)
            best = logits.max(dim=-1)
            keep = []
            for row, i in enumerate(rows):
                if np.isfinite(best.values[row].item()) and best.indices[row].item() != tok.eot:
                    sequences[i].append(best.indices[row].item())
                    keep.append(row)
            if not keep:
                break
            rows = [rows[row] for row in keep]
            cache = cache.select(torch.tensor(keep))
            step_input = torch.tensor([[sequences[i][-1]] for i in rows])
        texts += [tok.decode([t for t in seq if t < tok.eot]) for seq in sequences]
    return texts
