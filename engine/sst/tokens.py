"""Character vocabulary with blank, <sot> and <eot>; the table is saved inside the checkpoint."""
from __future__ import annotations

import string

from engine.text import normalize

BLANK, SOT, EOT = "<blank>", "<sot>", "<eot>"
DEFAULT_SYMBOLS = [BLANK, SOT, EOT, " ", "'"] + list(string.ascii_lowercase) + list(string.digits)


class TokenTable:
    """Maps normalised text to token ids and back. Index 0 is blank (the RNN-T and CTC blank)."""

    def __init__(self, symbols: list[str] | None = None):
        self.symbols = list(symbols or DEFAULT_SYMBOLS)
        if self.symbols[:3] != [BLANK, SOT, EOT]:
            raise ValueError("a token table starts with <blank>, <sot>, <eot>")
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.blank, self.sot, self.eot = 0, 1, 2
        self.space = self.index[" "]

    def __len__(self) -> int:
        return len(self.symbols)

    def encode_text(self, text: str) -> list[int]:
        """Normalised text -> character ids (characters outside the table are dropped)."""
        return [self.index[c] for c in normalize(text) if c in self.index]

    def encode_turns(self, texts: list[str]) -> list[int]:
        """One channel's target: <sot> w1 ... wn <eot> for each turn in order."""
        ids: list[int] = []
        for text in texts:
            ids += [self.sot, *self.encode_text(text), self.eot]
        return ids

    def decode_text(self, ids: list[int]) -> str:
        return "".join(self.symbols[i] for i in ids if i > 2)
