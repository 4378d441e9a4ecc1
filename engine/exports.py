"""Turns → the usual meeting-transcription files: SegLST (primary), STM, RTTM (+UEM), CTM per speaker,
SRT and WebVTT for people, CSV of turns. All are plain text; tests read them back with meeteval.
"""

from __future__ import annotations

import csv
import io
import json
import re

from engine.types import Turn, Word

FORMATS = ("seglst", "stm", "rttm", "ctm", "srt", "vtt", "csv")


def render(turns: list[Turn], fmt: str, session_id: str, duration_s: float | None = None) -> list[tuple[str, str]]:
    """(file name, text) pairs for one export format; names start with safe_name(session_id)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    turns = sorted(turns, key=lambda t: (t.start, t.end))
    return _RENDERERS[fmt](turns, session_id, duration_s)


def safe_name(text: str) -> str:
    """Session ids and speaker names in whitespace-separated formats (STM/RTTM/CTM/UEM) and file names
    become one token."""
    return re.sub(r"\s+", "_", text.strip()) or "unknown"


def _seglst(turns, session_id, duration_s):
    rows = [
        {
            "session_id": session_id,
            "speaker": t.speaker,
            "start_time": round(t.start, 3),
            "end_time": round(t.end, 3),
            "words": t.text,
        }
        for t in turns
    ]
    return [(f"{safe_name(session_id)}.seglst.json", json.dumps(rows, indent=2, ensure_ascii=False) + "\n")]


def _stm(turns, session_id, duration_s):
    sid = safe_name(session_id)
    lines = [f"{sid} 1 {safe_name(t.speaker)} {t.start:.3f} {t.end:.3f} {t.text}".rstrip() for t in turns]
    return [(f"{safe_name(session_id)}.stm", "".join(line + "\n" for line in lines))]


def _rttm(turns, session_id, duration_s):
    sid = safe_name(session_id)
    lines = [
        f"SPEAKER {sid} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {safe_name(t.speaker)} <NA> <NA>\n"
        for t in turns
    ]
    files = [(f"{safe_name(session_id)}.rttm", "".join(lines))]
    if duration_s is not None:  # the scored region: the whole recording
        files.append((f"{safe_name(session_id)}.uem", f"{sid} 1 0.000 {duration_s:.3f}\n"))
    return files


def _ctm(turns, session_id, duration_s):
    sid = safe_name(session_id)
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    files = []
    for speaker in speakers:
        lines = [
            f"{sid} 1 {w.start:.3f} {w.end - w.start:.3f} {w.text}\n"
            for t in turns
            if t.speaker == speaker
            for w in _timed_words(t)
        ]
        files.append((f"{sid}-{safe_name(speaker)}.ctm", "".join(lines)))
    return files


def _timed_words(turn: Turn) -> list[Word]:
    """Words as given when all carry times; otherwise spread evenly over the turn (CTM needs a time per word)."""
    if all(w.start is not None and w.end is not None for w in turn.words):
        return turn.words
    step = (turn.end - turn.start) / max(1, len(turn.words))
    return [Word(w.text, turn.start + i * step, turn.start + (i + 1) * step) for i, w in enumerate(turn.words)]


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _srt(turns, session_id, duration_s):
    blocks = [
        f"{i}\n{_clock(t.start, ',')} --> {_clock(t.end, ',')}\n{t.speaker}: {t.text}\n"
        for i, t in enumerate(turns, start=1)
    ]
    return [(f"{safe_name(session_id)}.srt", "\n".join(blocks))]


def _vtt(turns, session_id, duration_s):
    blocks = [
        f"{_clock(t.start, '.')} --> {_clock(t.end, '.')}\n<v {_vtt_escape(t.speaker)}>{_vtt_escape(t.text)}\n"
        for t in turns
    ]
    return [(f"{safe_name(session_id)}.vtt", "WEBVTT\n\n" + "\n".join(blocks))]


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _csv(turns, session_id, duration_s):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["session_id", "speaker", "start_time", "end_time", "words"])
    for t in turns:
        writer.writerow([session_id, t.speaker, f"{t.start:.3f}", f"{t.end:.3f}", t.text])
    return [(f"{safe_name(session_id)}.csv", out.getvalue())]


_RENDERERS = {"seglst": _seglst, "stm": _stm, "rttm": _rttm, "ctm": _ctm, "srt": _srt, "vtt": _vtt, "csv": _csv}
