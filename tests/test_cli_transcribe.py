"""`python -m engine transcribe` as a real subprocess: valid SegLST and other exports, clean failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import meeteval.io
import numpy as np
import pytest
import soundfile as sf
from dialogue import synthesise_dialogue

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CROSSTALK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "engine", "transcribe", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory):
    return synthesise_dialogue(tmp_path_factory.mktemp("dialogue"), n_lines=3)[0]  # short: two runs


def test_writes_valid_seglst(dialogue, tmp_path):
    out = tmp_path / "meeting.json"
    proc = run_cli(dialogue, "--backend", "cascade", "--out", out, data_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    segments = list(meeteval.io.SegLST.load(out))
    assert len(segments) >= 2
    assert {s["session_id"] for s in segments} == {"dialogue"}
    assert len({s["speaker"] for s in segments}) >= 2
    assert all(float(s["start_time"]) < float(s["end_time"]) for s in segments)
    assert sum(len(s["words"].split()) for s in segments) >= 15
    assert "turns" in proc.stdout and str(out) in proc.stdout


def test_rttm_with_a_given_number_of_speakers(dialogue, tmp_path):
    out = tmp_path / "meeting.rttm"
    proc = run_cli(dialogue, "--speakers", "2", "--format", "rttm", "--out", out, data_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = meeteval.io.RTTM.load(out).lines
    assert {line.speaker_id for line in lines} == {"S1", "S2"}
    (region,) = meeteval.io.UEM.load(tmp_path / "meeting.uem").lines
    assert float(region.end_time) == pytest.approx(sf.info(dialogue).duration, abs=1e-3)


def bad_inputs(folder: Path) -> dict[str, Path]:
    text = folder / "notes.wav"
    text.write_text("not a recording\n" * 50)
    empty = folder / "empty.flac"
    empty.write_bytes(b"")
    silence = folder / "silence.wav"
    sf.write(silence, np.zeros(3 * 16000, dtype=np.float32), 16000)
    return {"not audio": text, "empty": empty, "no speech": silence, "missing": folder / "nowhere.wav"}


@pytest.mark.parametrize("kind", ["not audio", "empty", "no speech", "missing"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, kind):
    inputs = tmp_path / "in"
    inputs.mkdir()
    bad = bad_inputs(inputs)[kind]
    outputs = tmp_path / "out"
    outputs.mkdir()
    proc = run_cli(bad, "--out", outputs / "result.json", data_dir=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith("."), proc.stderr
    assert list(outputs.iterdir()) == []


def test_missing_output_folder_is_refused_before_any_work(dialogue, tmp_path):
    proc = run_cli(dialogue, "--out", tmp_path / "no" / "such" / "dir.json", data_dir=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_pocketsphinx_recogniser_of_the_cascade(dialogue, tmp_path):
    out = tmp_path / "meeting.json"
    proc = run_cli(dialogue, "--recogniser", "pocketsphinx", "--out", out, data_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    words = " ".join(s["words"] for s in meeteval.io.SegLST.load(out)).split()
    assert len(words) >= 15 and all(w == w.lower() and w.isalpha() or "'" in w for w in words)  # no punctuation


def test_recogniser_of_another_backend_is_refused_in_one_sentence(dialogue, tmp_path):
    proc = run_cli(
        dialogue, "--backend", "sst", "--recogniser", "whisper", "--out", tmp_path / "x.json", data_dir=tmp_path
    )
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "error: --recogniser chooses the cascade's recogniser; the sst backend has its own."
    )
