"""The sst backend end to end on a real recording: streaming decode from the file, partial results,
progress, per-turn speaker attribution. The checkpoint is a real (untrained, tiny) model."""
from __future__ import annotations

import pytest
import torch

from engine import audio, config
from engine.backends.sst import SSTBackend
from engine.errors import UserError
from engine.sst.checkpoint import save_model
from engine.sst.config import SSTConfig
from engine.sst.features import Fbank
from engine.sst.model import SSTModel
from engine.sst.tokens import TokenTable

RECORDING = config.shared_data_dir() / "saa" / "audio" / "english_002.ogg"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained model whose output varies with the audio (see tests/test_sst_model.py)."""
    table = TokenTable()
    cfg = SSTConfig(encoder_dim=48, subsampling_channels=32, mixture_layers=1, prediction_dim=40,
                    prediction_embed_dim=16, joint_dim=40, vocab_size=len(table))
    torch.manual_seed(0)
    model = SSTModel(cfg)
    feats = Fbank(cfg)(torch.from_numpy(audio.load(RECORDING))[None])[0]
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
        model.feat_mean.copy_(feats.mean(0))
        model.feat_std.copy_(feats.std(0))
        model.joint_out.bias[0] += 3.0
    path = tmp_path_factory.mktemp("models") / "sst.pt"
    save_model(path, model, table, {})
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
