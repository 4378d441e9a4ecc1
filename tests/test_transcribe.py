"""The shared transcription path: every backend answers a recording without speech with the same sentence."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from engine.errors import UserError
from engine.transcription import NO_SPEECH, transcribe_file
from tests.conftest import REPO_ROOT


@pytest.fixture
def silence(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(3 * 16000, dtype=np.float32), 16000)
    return path


def test_sst_finds_no_turn_in_silence_and_says_so_like_the_cascade(silence):
    # The SST decoder ends silence with no turn at all (the cascade's VAD refuses it first): the shared
    # path turns "no turns" into the cascade's sentence.
    with pytest.raises(UserError) as refused:
        transcribe_file(silence, backend="sst")
    assert str(refused.value) == NO_SPEECH


def test_the_cli_exits_2_with_that_sentence_for_sst(silence, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "transcribe",
            str(silence),
            "--backend",
            "sst",
            "--out",
            str(tmp_path / "out.json"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CROSSTALK_DATA_DIR": str(tmp_path)},
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {NO_SPEECH}"
    assert not (tmp_path / "out.json").exists()
