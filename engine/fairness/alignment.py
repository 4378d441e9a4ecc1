"""Word alignment of a reference and a hypothesis, for showing people where the errors are."""

from __future__ import annotations

import kaldialign

from engine.text import words

GAP = "*"


def align_words(reference: str, hypothesis: str) -> list[tuple[str, str, str]]:
    """(reference word, hypothesis word, op) with op in ok | sub | del | ins; a missing side is ""."""
    pairs = kaldialign.align(words(reference), words(hypothesis), GAP)
    out = []
    for ref, hyp in pairs:
        if ref == GAP:
            out.append(("", hyp, "ins"))
        elif hyp == GAP:
            out.append((ref, "", "del"))
        else:
            out.append((ref, hyp, "ok" if ref == hyp else "sub"))
    return out
