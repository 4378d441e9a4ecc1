"""Metrics: per-utterance edit counts, multi-talker WERs equal to meeteval's command-line tool, turns."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.metrics import multitalker
from engine.metrics.turn_detection import LatencyStats, match_turns, session_turn_scores, summarise
from engine.metrics.wer import EditCounts, edit_counts, total, wer
from engine.text import normalize

REFERENCE = [
    {"session_id": "m1", "speaker": "A", "start_time": 0.0, "end_time": 3.0, "words": "please take the red bags home"},
    {"session_id": "m1", "speaker": "B", "start_time": 2.5, "end_time": 5.0, "words": "we will meet at the station"},
    {"session_id": "m1", "speaker": "A", "start_time": 5.5, "end_time": 7.0, "words": "on wednesday then"},
    {"session_id": "m2", "speaker": "C", "start_time": 0.2, "end_time": 2.0, "words": "a small plastic snake"},
    {
        "session_id": "m2",
        "speaker": "D",
        "start_time": 1.0,
        "end_time": 4.0,
        "words": "and a big toy frog for the kids",
    },
    {"session_id": "m2", "speaker": "E", "start_time": 4.5, "end_time": 6.0, "words": "six spoons of snow peas"},
]
HYPOTHESIS = [  # imperfect words, speakers partly confused, a spurious turn
    {"session_id": "m1", "speaker": "spk0", "start_time": 0.1, "end_time": 3.1, "words": "Please take the bags home!"},
    {
        "session_id": "m1",
        "speaker": "spk1",
        "start_time": 2.6,
        "end_time": 5.2,
        "words": "we will meet at a station today",
    },
    {"session_id": "m1", "speaker": "spk1", "start_time": 5.6, "end_time": 7.1, "words": "on wednesday"},
    {"session_id": "m2", "speaker": "spk0", "start_time": 0.2, "end_time": 2.1, "words": "a small plastic snack"},
    {"session_id": "m2", "speaker": "spk0", "start_time": 1.2, "end_time": 4.0, "words": "and big toy frogs for kids"},
    {"session_id": "m2", "speaker": "spk2", "start_time": 9.0, "end_time": 9.5, "words": "hello"},
]


def test_edit_counts_use_the_one_normaliser():
    assert edit_counts("Hello, World! It's 5.", "hello world its five") == EditCounts(1, 0, 0, 4)
    assert edit_counts("a b c d", "a x c d e") == EditCounts(1, 0, 1, 4)
    assert edit_counts("a b c", "") == EditCounts(0, 3, 0, 3)
    assert edit_counts("", "a") == EditCounts(0, 0, 1, 0)
    counts = total([edit_counts("a b c d", "a x c d e"), edit_counts("a b c", "")])
    assert counts.errors == 5 and counts.ref_words == 7 and wer(counts) == pytest.approx(5 / 7)


def _meeteval_cli(tool: str, tmp_path: Path) -> dict:
    """Per-session counts from `meeteval-wer <tool>` on the same SegLST files."""
    ref, hyp = tmp_path / "ref.seglst.json", tmp_path / f"{tool}.seglst.json"
    ref.write_text(json.dumps(REFERENCE))
    # The harness normalises words before meeteval sees them; the tool gets the same normalised text.
    hyp.write_text(json.dumps([{**h, "words": normalize(h["words"])} for h in HYPOTHESIS]))
    cli = shutil.which("meeteval-wer") or str(Path(sys.executable).parent / "meeteval-wer")
    subprocess.run([cli, tool, "-r", str(ref), "-h", str(hyp)], check=True, capture_output=True, cwd=tmp_path)
    return json.loads((tmp_path / f"{tool}.seglst_{tool}_per_reco.json").read_text())


@pytest.mark.parametrize("tool,ours", [("cpwer", multitalker.cp_wer), ("orcwer", multitalker.orc_wer)])
def test_multitalker_wers_equal_meeteval_command_line(tool, ours, tmp_path):
    expected = _meeteval_cli(tool, tmp_path)
    got = ours(REFERENCE, HYPOTHESIS)
    assert set(got) == set(expected) == {"m1", "m2"}
    for session, e in expected.items():
        g = got[session]
        assert (g.errors, g.ref_words, g.insertions, g.deletions, g.substitutions) == (
            e["errors"],
            e["length"],
            e["insertions"],
            e["deletions"],
            e["substitutions"],
        )
    assert sum(g.errors for g in got.values()) > 0


def test_cpwer_is_never_below_orcwer_and_a_missing_session_counts_as_deleted():
    cp, orc = multitalker.cp_wer(REFERENCE, HYPOTHESIS), multitalker.orc_wer(REFERENCE, HYPOTHESIS)
    assert all(cp[s].errors >= orc[s].errors for s in cp)
    only_m1 = [h for h in HYPOTHESIS if h["session_id"] == "m1"]
    scores = multitalker.cp_wer(REFERENCE, only_m1)
    m2_words = sum(len(r["words"].split()) for r in REFERENCE if r["session_id"] == "m2")
    assert scores["m2"] == EditCounts(0, m2_words, 0, m2_words)
    assert scores["m1"] == cp["m1"]


def test_turns_are_matched_by_largest_overlap_and_latencies_summarised():
    reference = [(0.0, 3.0), (2.5, 5.0), (5.5, 7.0)]
    hypothesis = [(2.4, 5.5), (-0.2, 2.0), (9.0, 10.0)]  # the third overlaps nothing
    assert sorted(match_turns(reference, hypothesis)) == [(0, 1), (1, 0)]
    scores = session_turn_scores(reference, hypothesis)
    assert scores.count_correct  # three and three, even though one is wrong
    assert sorted(scores.start_latencies) == pytest.approx([-0.2, -0.1])
    assert sorted(scores.end_latencies) == pytest.approx([-1.0, 0.5])
    summary = summarise([scores, session_turn_scores(reference, hypothesis[:2])])
    assert summary["turn_count_accuracy"] == 0.5 and summary["ref_turns"] == 6 and summary["hyp_turns"] == 5
    assert summary["start_latency"]["n"] == 4 and summary["start_latency"]["share_early"] == 1.0
    stats = LatencyStats.of([0.1, 0.2, 0.3, -0.4])
    assert stats.mean == pytest.approx(0.05) and stats.p50 == pytest.approx(0.15) and stats.share_early == 0.25
    assert LatencyStats.of([]).n == 0 and match_turns([], [(0, 1)]) == []
