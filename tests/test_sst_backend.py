"""The sst backend end to end on a real recording: streaming decode from the file, partial results,
progress, per-turn speaker attribution. The checkpoint is a real (untrained, tiny) model."""
from __future__ import annotations

import pytest
import torch

from engine import audio, config
from engine.backends.sst import SSTBackend
from engine.errors import UserError
from engine.sst.checkpoint import save_model
from tests.sst_models import TABLE, lively_model

RECORDING = config.shared_data_dir() / "saa" / "audio" / "english_002.ogg"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained model whose output varies with the audio (see tests/sst_models.py)."""
    path = tmp_path_factory.mktemp("models") / "sst.pt"
    save_model(path, lively_model(torch.from_numpy(audio.load(RECORDING))), TABLE, {})
    return path


def test_sst_backend_streams_a_file_into_attributed_turns(checkpoint):
    backend = SSTBackend(checkpoint)
    fractions, partials = [], []
    turns = backend.transcribe(RECORDING, num_speakers=2, progress=lambda f, m: fractions.append(f),
                               on_partial=lambda t: partials.append(len(t)))
    duration = audio.probe(RECORDING).duration_s
    assert turns and [t.start for t in turns] == sorted(t.start for t in turns)
    assert all(t.words and 0 <= t.start <= t.end <= duration + 0.05 for t in turns)
    assert {t.speaker for t in turns} <= {"S1", "S2"} and {t.channel for t in turns} <= {0, 1}
    assert len(partials) >= 2 and partials == sorted(partials)  # partial results grow as the stream goes
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_missing_checkpoint_is_one_clear_sentence(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        SSTBackend(tmp_path / "nothing.pt")
