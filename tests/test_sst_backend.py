"""The sst backend end to end on a short real mixture (two LibriSpeech talkers): windows, per-channel
Whisper decoding, progress, partial results, per-turn speaker attribution. With a separator that passes the
mixture through, every channel must read exactly what Whisper alone reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import audio, config
from engine.backends.sst import SSTBackend
from engine.cascade.segments_to_turns import MAX_PAUSE_S
from engine.errors import UserError
from engine.sst.package import save_package
from engine.whisper.decoding import decode_with_fallback, word_times
from engine.whisper.features import window_mel
from engine.whisper.tokenizer import tokenizer
from tests.sst_models import passthrough_model

LIBRI = config.shared_data_dir() / "librispeech_excerpts" / "audio"
TALKERS = ("1688/1688-142285-0007.ogg", "1998/1998-15444-0001.ogg")


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    a, b = (audio.load(LIBRI / t) for t in TALKERS)
    mixed = np.zeros(max(len(a), len(b) + 16000 * 3), np.float32)
    mixed[: len(a)] += a
    mixed[16000 * 3 : 16000 * 3 + len(b)] += 0.7 * b
    path = tmp_path_factory.mktemp("audio") / "mixture.wav"
    sf.write(path, mixed, 16000)
    return path


def test_passthrough_channels_read_what_whisper_alone_reads(mixture, tmp_path):
    model = passthrough_model()
    package = save_package(tmp_path / "sst.pt", model, {"step": 0})
    backend = SSTBackend(package)
    fractions, partials = [], []
    turns = backend.transcribe(
        mixture, num_speakers=2, progress=lambda f, m: fractions.append(f), on_partial=lambda t: partials.append(len(t))
    )
    samples = audio.load(mixture)
    features = model.whisper.encoder(window_mel(samples)[None])  # Whisper alone on the one 30 s window
    decoded = decode_with_fallback(model.whisper, features)
    n_frames = int(np.ceil(len(samples) / 320))
    expected = [w.text for w in word_times(model.whisper, features, decoded.text_tokens(tokenizer()), n_frames)]
    assert len(expected) > 10
    for channel in (0, 1):
        assert [w.text for t in turns if t.channel == channel for w in t.words] == expected
    duration = len(samples) / 16000
    assert all(t.words and 0 <= t.start <= t.end <= duration + 0.05 for t in turns)
    assert {t.speaker for t in turns} <= {"S1", "S2"}
    for channel in (0, 1):  # a speaker's pieces (windows, Whisper's sentences) are joined into one turn
        own = [t for t in turns if t.channel == channel]
        assert all(a.speaker != b.speaker or b.start - a.end > MAX_PAUSE_S for a, b in zip(own, own[1:])), [
            (t.speaker, t.start, t.end) for t in own
        ]
    assert partials and fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert backend.describe()["checkpoint"]["step"] == 0


def test_a_missing_or_old_model_file_is_one_clear_sentence(tmp_path):
    with pytest.raises(UserError, match="no SST model"):
        SSTBackend(tmp_path / "nothing.pt")
