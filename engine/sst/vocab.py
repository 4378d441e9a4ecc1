"""The transducer head's token table: characters, with turn markers. Whisper's BPE (51,864 entries) would
make the joiner's output layer the largest part of the model; the final words come from Whisper's decoder."""

from __future__ import annotations

from engine.text import normalize

BLANK, SOT, EOT = 0, 1, 2
SYMBOLS = ("<blank>", "<sot>", "<eot>", " ", "'") + tuple("abcdefghijklmnopqrstuvwxyz0123456789")
INDEX = {s: i for i, s in enumerate(SYMBOLS)}
SIZE = len(SYMBOLS)


def encode_text(text: str) -> list[int]:
    """Normalised text → character ids (anything outside the table is dropped)."""
    return [INDEX[c] for c in normalize(text) if c in INDEX and INDEX[c] > EOT]


def decode_ids(ids: list[int]) -> str:
    return "".join(SYMBOLS[i] for i in ids if i > EOT)
