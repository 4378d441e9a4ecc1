"""Sentences for simulated turns, from Debian `fortunes` (offline, ~11 k distinct sentences).

Each sentence is returned already normalised with the project's one normaliser (`engine.text.normalize`),
so what espeak reads is exactly the reference text. Splits are decided by a hash of the normalised
sentence: deterministic, disjoint, and stable if the fortune files change. Sentences that share a word
trigram with the Speech Accent Archive paragraph are dropped: that paragraph is evaluation material.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from engine import config
from engine.errors import UserError
from engine.text import normalize

FORTUNES_DIR = Path("/usr/share/games/fortunes")
# Files that are drawings, code or not English (the offensive `off/` folder is never read).
SKIPPED_FILES = {"ascii-art", "translate-me", "perl"}
MIN_WORDS, MAX_WORDS = 3, 25
SPLIT_SHARES = (("train", 80), ("dev", 10), ("test", 10))  # percent of the hash space
EXCLUDED_NGRAM = 3

_ATTRIBUTION = re.compile(r"^\s*(--|- |\(|\[|~)")
# Characters that mark code, drawings, tables or markup rather than speakable prose.
_NOT_PROSE = re.compile(r"[<>|_=/\\@#*{}\[\]^~`$+]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')]*\s+")


def _fortunes(path: Path) -> list[str]:
    text = path.read_text(encoding="latin-1")
    return [block for block in re.split(r"^%\s*$", text, flags=re.M) if block.strip()]


def _prose_lines(fortune: str) -> str:
    """The fortune's body without attribution lines and dialogue labels, as one line."""
    kept = []
    for line in fortune.splitlines():
        if _ATTRIBUTION.match(line):
            break  # attribution ("-- Mark Twain") ends the quotation
        kept.append(re.sub(r"^\s*[A-Z][A-Za-z]*:\s+", "", line))
    return " ".join(" ".join(kept).split())


def _candidate_sentences(fortune: str):
    body = _prose_lines(fortune)
    if not body.isascii() or _NOT_PROSE.search(body):
        return
    for sentence in _SENTENCE_END.split(body):
        if any(c.isdigit() for c in sentence):
            continue  # espeak reads "1984" as words the reference would not contain
        norm = normalize(sentence)
        if MIN_WORDS <= len(norm.split()) <= MAX_WORDS:
            yield norm


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def evaluation_paragraph_ngrams() -> set[tuple[str, ...]]:
    path = config.shared_data_dir() / "saa" / "transcript.txt"
    if not path.exists():  # without it the sentence sets would silently differ from everyone else's
        raise UserError(
            f"The accent archive paragraph {path} is needed to keep it out of the training text; "
            "set CROSSTALK_SHARED_DATA."
        )
    return _ngrams(normalize(path.read_text()).split(), EXCLUDED_NGRAM)


def split_of(sentence: str) -> str:
    bucket = int.from_bytes(hashlib.sha256(sentence.encode()).digest()[:8], "big") % 100
    for name, share in SPLIT_SHARES:
        if bucket < share:
            return name
        bucket -= share
    raise AssertionError("split shares must sum to 100")


@lru_cache(maxsize=1)
def _all_sentences() -> dict[str, tuple[str, ...]]:
    if not FORTUNES_DIR.is_dir():
        raise UserError("The fortunes text source is missing; run `bash scripts/install_system.sh`.")
    excluded = evaluation_paragraph_ngrams()
    distinct: set[str] = set()
    for path in sorted(FORTUNES_DIR.iterdir()):
        if not path.is_file() or path.suffix or path.name in SKIPPED_FILES:
            continue
        for fortune in _fortunes(path):
            for sentence in _candidate_sentences(fortune):
                if not _ngrams(sentence.split(), EXCLUDED_NGRAM) & excluded:
                    distinct.add(sentence)
    by_split: dict[str, list[str]] = {name: [] for name, _ in SPLIT_SHARES}
    for sentence in sorted(distinct):
        by_split[split_of(sentence)].append(sentence)
    return {name: tuple(items) for name, items in by_split.items()}


def sentences(split: str) -> list[str]:
    """Normalised sentences of one split ("train", "dev", "test"), sorted."""
    table = _all_sentences()
    if split not in table:
        raise ValueError(f"unknown sentence split {split!r}; use one of {', '.join(table)}")
    return list(table[split])
