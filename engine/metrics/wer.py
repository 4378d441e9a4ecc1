"""Per-utterance word edit counts. Store these counts; a WER is always Σ errors / Σ reference words.

Both texts pass through the project's one normaliser (`engine.text.normalize`) before alignment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import kaldialign

from engine.text import words


@dataclass(frozen=True)
class EditCounts:
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def __add__(self, other: EditCounts) -> EditCounts:
        return EditCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.ref_words + other.ref_words,
        )


def edit_counts(reference: str, hypothesis: str) -> EditCounts:
    """Levenshtein alignment of normalised words: substitutions, deletions, insertions, reference words."""
    ref, hyp = words(reference), words(hypothesis)
    d = kaldialign.edit_distance(ref, hyp)
    return EditCounts(d["sub"], d["del"], d["ins"], len(ref))


def total(counts: Iterable[EditCounts]) -> EditCounts:
    return sum(counts, EditCounts(0, 0, 0, 0))


def wer(counts: EditCounts) -> float:
    """Σ errors / Σ reference words (nan when there are no reference words)."""
    return counts.errors / counts.ref_words if counts.ref_words else float("nan")
