"""Training examples (engine/sst/data.py): meeting mixing, augmentation (engine/sst/augment.py) and the
learning-rate schedule, on real TTS audio."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from engine.sst.augment import SpecAugment, speed_perturb
from engine.sst.data import MixingSpec, Pool, Utterance, make_example
from engine.sst.train import TrainConfig, learning_rate


def test_speed_perturbation_scales_length_and_pitch():
    rate, tone = 16000, 440.0
    audio = np.sin(2 * np.pi * tone * np.arange(rate) / rate).astype(np.float32)
    faster = speed_perturb(audio, 1.1)
    assert len(faster) == round(rate / 1.1)
    spectrum = np.abs(np.fft.rfft(faster[:14000]))
    peak_hz = np.argmax(spectrum) * rate / 14000
    assert abs(peak_hz - tone * 1.1) < 3, "played 10 % faster, a 440 Hz tone should sound at 484 Hz"
    assert speed_perturb(audio, 1.0) is audio


def test_spec_augment_fills_whole_mel_bands_with_the_mean_and_leaves_the_rest():
    feats = torch.randn(3, 50, 80)
    fill = torch.full((80,), 7.0)
    masked = SpecAugment(freq_masks=2, max_freq_width=10).apply(feats, fill, random.Random(0))
    changed = (masked != feats).any(dim=1)  # (B, n_mels): a masked band is masked on every frame
    assert changed.any()
    for b in range(3):
        assert 0 < int(changed[b].sum()) <= 20
        assert torch.all(masked[b][:, changed[b]] == 7.0)
        assert torch.equal(masked[b][:, ~changed[b]], feats[b][:, ~changed[b]])
    assert SpecAugment().apply(feats, fill, random.Random(0)) is feats


def test_meeting_turns_are_timed_by_the_perturbed_audio(speech_utterances):
    pool = Pool(speech_utterances)
    spec = MixingSpec(kind="meeting", speed=(0.9, 1.1), snr_db=(60.0, 60.0))
    example = make_example(pool, spec, random.Random(3), 16000)
    lengths = {u.text: len(u.audio) / 16000 for u in speech_utterances}
    for turn in example.turns:
        ratio = lengths[turn.text] / (turn.end - turn.start)
        assert 0.9 - 1e-3 <= ratio <= 1.1 + 1e-3
    assert any(abs(lengths[t.text] / (t.end - t.start) - 1) > 1e-3 for t in example.turns)


def test_meetings_with_several_talkers_and_turns_of_several_sentences(speech_utterances):
    pool = Pool(speech_utterances)
    spec = MixingSpec(kind="meeting", speakers=(4, 4), min_turns=6, max_turns=6, sentences_per_turn=(2, 2),
                      pause_in_turn_s=(0.3, 0.3), max_seconds=120.0, snr_db=(60.0, 60.0))
    example = make_example(pool, spec, random.Random(1), 16000)
    texts = {u.text: u for u in speech_utterances}
    assert len(example.turns) == 6
    assert len({t.speaker for t in example.turns}) > 2
    for previous, turn in zip(example.turns, example.turns[1:]):
        assert turn.speaker != previous.speaker
    for turn in example.turns:
        first, second = _split_two_sentences(turn.text, texts)
        assert first.speaker == second.speaker == turn.speaker
        expected = (len(first.audio) + int(0.3 * 16000) + len(second.audio)) / 16000
        assert turn.end - turn.start == pytest.approx(expected, abs=1e-3)
        pause_start = turn.start + len(first.audio) / 16000
        pause = example.audio[int(pause_start * 16000) + 200:int((pause_start + 0.3) * 16000) - 200]
        speech = example.audio[int(turn.start * 16000):int(pause_start * 16000)]
        assert np.abs(pause).max() < 0.1 * np.abs(speech).max(), "the sentences of a turn are joined by a pause"


def _split_two_sentences(text: str, texts: dict) -> tuple:
    for first in texts:
        if text.startswith(first + " ") and text[len(first) + 1:] in texts:
            return texts[first], texts[text[len(first) + 1:]]
    raise AssertionError(f"{text!r} is not two pool sentences")


def test_cosine_schedule_warms_up_then_decays_to_the_final_ratio():
    cfg = TrainConfig.from_dict({"out_dir": "unused", "lr": 1e-3, "warmup": 10, "final_lr_ratio": 0.1,
                                 "stages": [{"name": "s", "updates": 101}]})
    rates = [learning_rate(cfg, step) for step in range(101)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3, rel=0.03)
    assert rates[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))
    constant = TrainConfig.from_dict({"out_dir": "unused", "warmup": 1, "stages": [{"name": "s", "updates": 5}]})
    assert {learning_rate(constant, s) for s in range(5)} == {constant.lr}


@pytest.fixture
def speech_utterances(data_dir):
    from engine.simulate.synth import synthesize
    from engine.simulate.voices import voices

    speakers = voices("train")[:4]
    texts = ["the cat sat on the mat", "a bird in the hand", "good morning to you all", "it is raining again",
             "close the door please", "we will meet at noon", "bring your own pencil", "the train is late today"]
    return [Utterance((np.asarray(synthesize(text, speakers[i % 4])) * 32767).astype(np.int16), text,
                      speakers[i % 4].voice_id) for i, text in enumerate(texts)]
