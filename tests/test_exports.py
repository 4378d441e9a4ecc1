"""Exports: every format reads back through meeteval's readers (or csv) with the same content; SRT/VTT are valid."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import meeteval.io
import pytest

from engine.exports import FORMATS, render
from engine.types import Turn, Word

SESSION = "team meeting"  # a space on purpose: whitespace-separated formats must still parse
TURNS = [
    Turn("S1", 0.5, 2.0, [Word("hello", 0.5, 0.9), Word("there", 1.0, 1.8)]),
    Turn("Ana María", 1.5, 3.25, [Word("hi", 1.6, 2.0), Word("everyone", 2.1, 3.2)]),
    Turn("S1", 3661.2, 3662.75, [Word("later", 3661.3, 3661.8), Word("on", 3661.9, 3662.2)]),
    Turn("S3", 4.0, 4.5, []),  # a turn with no recognised words
]
BY_TIME = sorted(TURNS, key=lambda t: t.start)


def written(tmp_path, fmt, duration_s=3700.0):
    files = render(TURNS, fmt, SESSION, duration_s=duration_s)
    paths = []
    for name, text in files:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def test_every_format_renders_nonempty_text_named_after_the_session():
    for fmt in FORMATS:
        files = render(TURNS, fmt, SESSION, duration_s=3700.0)
        assert files and all(name.startswith("team_meeting") for name, _ in files)
        # only the CTM of a speaker without recognised words may be empty
        assert all(text.strip() or name == "team_meeting-S3.ctm" for name, text in files), fmt
    with pytest.raises(ValueError):
        render(TURNS, "docx", SESSION)


def test_seglst_round_trip(tmp_path):
    (path,) = written(tmp_path, "seglst")
    segments = list(meeteval.io.SegLST.load(path))
    assert [
        (s["session_id"], s["speaker"], float(s["start_time"]), float(s["end_time"]), s["words"]) for s in segments
    ] == [(SESSION, t.speaker, t.start, t.end, t.text) for t in BY_TIME]


def test_stm_round_trip(tmp_path):
    (path,) = written(tmp_path, "stm")
    lines = meeteval.io.STM.load(path).lines
    assert [(line.filename, line.speaker_id, line.begin_time, line.end_time, line.transcript) for line in lines] == [
        ("team_meeting", t.speaker.replace(" ", "_"), Decimal(f"{t.start:.3f}"), Decimal(f"{t.end:.3f}"), t.text)
        for t in BY_TIME
    ]


def test_rttm_and_uem_round_trip(tmp_path):
    rttm_path, uem_path = written(tmp_path, "rttm")
    lines = meeteval.io.RTTM.load(rttm_path).lines
    assert [(line.filename, line.speaker_id, float(line.begin_time), float(line.duration)) for line in lines] == [
        ("team_meeting", t.speaker.replace(" ", "_"), t.start, pytest.approx(t.end - t.start, abs=1e-3))
        for t in BY_TIME
    ]
    (region,) = meeteval.io.UEM.load(uem_path).lines
    assert (region.filename, float(region.begin_time), float(region.end_time)) == ("team_meeting", 0.0, 3700.0)
    assert len(render(TURNS, "rttm", SESSION, duration_s=None)) == 1  # no UEM without a known duration


def test_one_ctm_per_speaker_round_trip(tmp_path):
    paths = written(tmp_path, "ctm")
    assert [p.name for p in paths] == ["team_meeting-S1.ctm", "team_meeting-Ana_María.ctm", "team_meeting-S3.ctm"]
    for path, speaker in zip(paths, ["S1", "Ana María"]):
        lines = meeteval.io.CTM.load(path).lines
        expected = [w for t in BY_TIME if t.speaker == speaker for w in t.words]
        assert [(line.word, float(line.begin_time), float(line.duration)) for line in lines] == [
            (w.text, w.start, pytest.approx(w.end - w.start, abs=1e-3)) for w in expected
        ]


def test_ctm_spreads_untimed_words_over_their_turn():
    ((name, text),) = render([Turn("S1", 10.0, 12.0, [Word("no"), Word("times")])], "ctm", "s")
    assert text.split("\n")[:2] == ["s 1 10.000 1.000 no", "s 1 11.000 1.000 times"]


SRT_TIME = r"\d{2}:\d{2}:\d{2},\d{3}"
VTT_TIME = r"\d{2}:\d{2}:\d{2}\.\d{3}"


def test_srt_syntax():
    ((_, text),) = render(TURNS, "srt", SESSION)
    blocks = text.strip("\n").split("\n\n")
    assert len(blocks) == len(TURNS)
    for number, (block, turn) in enumerate(zip(blocks, BY_TIME), start=1):
        index, timing, caption = block.split("\n")
        assert index == str(number)
        assert re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", timing)
        assert caption == f"{turn.speaker}: {turn.text}"
    assert "01:01:01,200 --> 01:01:02,750" in text  # hours roll over correctly


def test_vtt_syntax():
    ((_, text),) = render(TURNS + [Turn("S<2>", 5.0, 6.0, [Word("a&b")])], "vtt", SESSION)
    header, *cues = text.strip("\n").split("\n\n")
    assert header == "WEBVTT"
    assert len(cues) == len(TURNS) + 1
    for cue in cues:
        timing, payload = cue.split("\n")
        assert re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", timing)
        assert re.fullmatch(r"<v [^<>]+>[^<>]*", payload), payload  # markup characters are escaped
    assert "<v S&lt;2&gt;>a&amp;b" in text


def test_csv_round_trip():
    ((_, text),) = render(TURNS, "csv", SESSION)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        (r["session_id"], r["speaker"], float(r["start_time"]), float(r["end_time"]), r["words"]) for r in rows
    ] == [(SESSION, t.speaker, t.start, t.end, t.text) for t in BY_TIME]
