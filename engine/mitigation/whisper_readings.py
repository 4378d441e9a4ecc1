"""Whisper tiny.en's own reading of Speech Accent Archive recordings: the recognised words with times
(CTranslate2 runtime, greedy), cached per recording under <data dir>/mitigation_whisper/, and the cut
between two sentences of the paragraph found from those word times.

The words serve twice: joined, they are the hypothesis of the evaluation set the region tree is built on
(scripts/mitigation_whisper_set.py); aligned to the paragraph, their times say where sentence 4 begins, so
fine-tuning and evaluation can read different sentences (engine/mitigation/saa.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import kaldialign
import numpy as np

from engine import config
from engine.text import words as normalised_words
from engine.types import Word

CACHE_VERSION = "ct2-greedy-v1"  # part of the cache path: change it when recognition changes
MAX_REACH = 2  # how many reference words either side of the cut may be missing from the recognition


def _cache_path(path: Path) -> Path:
    shared, resolved = config.shared_data_dir().resolve(), path.resolve()
    relative = resolved.relative_to(shared) if resolved.is_relative_to(shared) else Path(resolved.name)
    return (config.data_dir() / "mitigation_whisper" / CACHE_VERSION / relative).with_suffix(".json")


def cached_words(path: Path) -> list[Word] | None:
    cache = _cache_path(path)
    if not cache.exists():
        return None
    return [Word(w, s, e) for w, s, e in json.loads(cache.read_text())["words"]]


def recognised_words(path: Path, samples: np.ndarray | None = None) -> list[Word]:
    """Whisper's words with times for one recording (recognised once, then read from the cache)."""
    found = cached_words(path)
    if found is not None:
        return found
    from engine import audio
    from engine.whisper.runtime import recognize

    found = recognize(audio.load(path) if samples is None else samples)
    cache = _cache_path(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".partial")  # renamed into place: a killed run leaves no torn file
    partial.write_text(json.dumps({"words": [[w.text, w.start, w.end] for w in found]}))
    partial.replace(cache)
    return found


def cut_after(found: list[Word], reference: str, n_words: int) -> float | None:
    """The time (s) between reference word n_words and n_words + 1 (the middle of the gap between the
    recognised words aligned to them), or None when the recognition has no word near either side.

    Recognised words are aligned to the normalised reference by edit distance; a reference word that was
    deleted is replaced by its nearest aligned neighbour within MAX_REACH words on its side of the cut.
    """
    ref = normalised_words(reference)
    hyp, owner = [], []  # normalised recognised words, and the Word each came from
    for word in found:
        for piece in normalised_words(word.text):
            hyp.append(piece)
            owner.append(word)
    if not hyp:
        return None
    aligned_to: dict[int, int] = {}  # reference index -> hypothesis index
    r = h = 0
    for ref_word, hyp_word in kaldialign.align(ref, hyp, "*"):
        if ref_word != "*" and hyp_word != "*":
            aligned_to[r] = h
        r += ref_word != "*"
        h += hyp_word != "*"
    before = next((aligned_to[i] for i in range(n_words - 1, n_words - 1 - MAX_REACH - 1, -1) if i in aligned_to), None)
    after = next((aligned_to[i] for i in range(n_words, n_words + MAX_REACH + 1) if i in aligned_to), None)
    if before is None or after is None or after <= before:
        return None
    end, start = owner[before].end, owner[after].start
    return (end + max(start, end)) / 2
