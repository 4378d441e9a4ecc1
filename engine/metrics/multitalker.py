"""Multi-talker WERs through meeteval, on SegLST segments (dicts with session_id, speaker, start_time,
end_time, words), as per-session edit counts.

- ORC-WER: speaker-agnostic; the hypothesis "speaker" is the output stream (an SST channel).
- cpWER: after speaker attribution; the best one-to-one mapping of hypothesis to reference speakers.
- tcpWER: cpWER where words only match within `collar` seconds of each other.
Words pass through the project's one normaliser first. A session with no hypothesis at all still counts
(all its reference words are deletions).
"""

from __future__ import annotations

import meeteval
from meeteval.io import SegLST

from engine.metrics.wer import EditCounts
from engine.text import normalize

TCP_COLLAR_S = 5.0


def _seglst(segments: list[dict], sessions: set[str]) -> SegLST:
    rows = [{**s, "words": normalize(s["words"])} for s in segments]
    present = {s["session_id"] for s in rows}
    for session in sorted(sessions - present):  # an empty stream keeps the session in the scoring
        rows.append({"session_id": session, "speaker": "<none>", "start_time": 0.0, "end_time": 0.0, "words": ""})
    return SegLST(rows)


def _score(metric, reference: list[dict], hypothesis: list[dict], **kwargs) -> dict[str, EditCounts]:
    sessions = {s["session_id"] for s in reference}
    unknown = {s["session_id"] for s in hypothesis} - sessions
    if unknown:
        raise ValueError(f"hypothesis sessions missing from the reference: {sorted(unknown)}")
    rates = metric(_seglst(reference, sessions), _seglst(hypothesis, sessions), **kwargs)
    return {
        session: EditCounts(r.substitutions, r.deletions, r.insertions, r.length)
        for session, r in sorted(rates.items())
    }


def orc_wer(reference: list[dict], hypothesis: list[dict]) -> dict[str, EditCounts]:
    return _score(meeteval.wer.orcwer, reference, hypothesis)


def cp_wer(reference: list[dict], hypothesis: list[dict]) -> dict[str, EditCounts]:
    return _score(meeteval.wer.cpwer, reference, hypothesis)


def tcp_wer(reference: list[dict], hypothesis: list[dict], collar: float = TCP_COLLAR_S) -> dict[str, EditCounts]:
    return _score(meeteval.wer.tcpwer, reference, hypothesis, collar=collar)
