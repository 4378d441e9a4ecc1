"""The Whisper-based SST's parts: shapes, the lower/upper split around the separator, the transducer
search's streaming state, windows and stitching, and the shipped file (trained parts only, base sha256)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.errors import UserError
from engine.sst import vocab
from engine.sst.inference import (
    HOP_S,
    TransducerSearch,
    WindowResult,
    activity_spans,
    iter_windows,
    owned,
    stitch,
    words_into_turns,
)
from engine.sst.network import build
from engine.sst.package import MAX_MB, load_package, read_package, save_package
from engine.sst.settings import SSTSettings
from engine.types import Turn, Word
from engine.whisper.features import WINDOW_S
from tests.sst_models import TINY, passthrough_model, tiny_model


def test_shapes_of_every_part():
    model = tiny_model()
    states = torch.randn(2, 300, 384)
    channels = model.transcriber.upper(states)
    assert channels.shape == (2, 2, 300, 384)
    activity, frames = model.heads(channels)
    assert activity.shape == (2, 2, 300) and frames.shape == (2, 2, 300 // TINY.subsample, TINY.transducer_dim)
    predicted, state = model.predictor(torch.zeros(3, 5, dtype=torch.long))
    assert predicted.shape == (3, 5, TINY.transducer_dim) and state[0].shape == (1, 3, TINY.predictor_hidden)
    assert model.joiner(frames[0], predicted[:2]).shape == (2, 300 // TINY.subsample, 5, vocab.SIZE)


def test_separator_that_passes_the_mixture_gives_whispers_own_encoder_output():
    model = passthrough_model()
    mel = torch.randn(1, 80, 600)
    with torch.no_grad():
        channels = model.transcriber(mel)
        whole = model.whisper.encoder(mel)
    assert torch.equal(channels[0, 0], whole[0]) and torch.equal(channels[0, 1], whole[0])


def test_an_adapted_copy_starts_as_whisper_and_trains_without_touching_the_shared_one(tmp_path):
    from dataclasses import replace

    from engine.sst.trainer import trainable

    model = build(replace(TINY, separator=False, channels=1, adapt_upper=True))
    mel = torch.randn(1, 80, 600)
    with torch.no_grad():
        before = model.whisper.encoder(mel)
        assert torch.equal(model.transcriber(mel)[0, 0], before[0])
    parameters = trainable(model, ("upper",))
    assert sum(p.numel() for p in parameters) == sum(
        p.numel() for p in [*model.whisper.encoder.blocks[2:].parameters(), *model.whisper.encoder.ln_post.parameters()]
    )
    loss = model.transcriber(mel).square().mean()
    loss.backward()
    torch.optim.SGD(parameters, lr=0.1).step()
    with torch.no_grad():
        assert torch.equal(model.whisper.encoder(mel), before)  # the cascade's Whisper is unchanged
        assert not torch.allclose(model.transcriber(mel)[0, 0], before[0])
    path = save_package(tmp_path / "adapted.pt", model, {})
    assert any(k.startswith("transcriber.adapted.") for k in read_package(path)["trained"])
    loaded, _ = load_package(path)
    with torch.no_grad():
        torch.testing.assert_close(loaded.transcriber(mel), model.transcriber(mel))


def test_a_recipe_that_trains_a_part_its_settings_leave_out_is_refused(tmp_path):
    from engine.sst.trainer import Recipe

    dev = {"source": "sim", "windows": 1, "seed": 1}
    recipe = {"name": "r", "settings": {}, "stages": [{"name": "s", "updates": 1, "pools": [], "dev_pool": dev}]}
    recipe["stages"][0]["train"] = ["upper"]
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    with pytest.raises(ValueError, match="trains upper, which these settings leave out"):
        Recipe.load(tmp_path / "r.json")
    recipe["settings"] = {"adapt_upper": True}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert Recipe.load(tmp_path / "r.json").settings.adapt_upper


def test_only_trained_parts_are_saved_and_whisper_is_named_by_sha256(tmp_path):
    from engine.whisper.weights import MODEL_SHA256

    model = tiny_model()
    path = save_package(tmp_path / "sst.pt", model, {"step": 3})
    payload = read_package(path)
    assert payload["base_sha256"] == MODEL_SHA256
    assert not any("whisper" in key for key in payload["trained"])
    assert path.stat().st_size < MAX_MB * 1e6
    loaded, card = load_package(path)
    assert card == {"step": 3} and loaded.settings == TINY
    for key, value in model.trained_state().items():
        assert torch.equal(loaded.trained_state()[key], value)
    # The default model (separator + heads) fits the limit with room to spare.
    from engine.sst.network import build

    assert build(SSTSettings()).trained_parameters() * 4 < MAX_MB * 1e6 / 2


def test_a_file_for_other_whisper_weights_or_format_is_refused(tmp_path):
    path = save_package(tmp_path / "sst.pt", tiny_model(), {})
    payload = torch.load(path, weights_only=True)
    payload["base_sha256"] = "0" * 64
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(UserError, match="other Whisper weights"):
        load_package(tmp_path / "other.pt")
    torch.save({"format": "something else"}, tmp_path / "old.pt")
    with pytest.raises(UserError, match="older model"):
        load_package(tmp_path / "old.pt")
    with pytest.raises(UserError, match="no SST model"):
        load_package(tmp_path / "absent.pt")


def test_transducer_search_fed_in_pieces_equals_the_whole_window():
    model = tiny_model(seed=3)
    with torch.no_grad():
        model.joiner.out.bias[vocab.BLANK] -= 2.0  # an untrained joiner that emits something
    frames = torch.randn(40, TINY.transducer_dim)
    search = TransducerSearch(model)
    whole = search.step(frames)
    state = None
    for a, b in ((0, 7), (7, 8), (8, 25), (25, 40)):
        state = search.step(frames[a:b], state)
    assert whole.emitted and state.emitted == whole.emitted and state.frame == whole.frame == 40


def test_windows_overlap_and_the_stream_is_cut_without_loss():
    rate = 16000
    samples = np.arange(int(62.3 * rate), dtype=np.float32)
    chunks = [samples[i : i + 7 * rate] for i in range(0, len(samples), 7 * rate)]
    windows = list(iter_windows(chunks))
    assert [w[0] for w in windows] == [0.0, HOP_S, 2 * HOP_S]
    assert [w[2] for w in windows] == [False, False, True]
    for offset, piece, _ in windows:
        start = int(offset * rate)
        assert np.array_equal(piece, samples[start : start + int(WINDOW_S * rate)])
    assert [w[0] for w in iter_windows([samples[: 10 * rate]])] == [0.0]
    assert len(list(iter_windows([samples[: 30 * rate]]))) == 1
    assert [w[0] for w in iter_windows([samples[: 31 * rate]])] == [0.0, HOP_S]  # the 31st second needs a window


def test_stitching_keeps_each_word_once_and_joins_a_turn_cut_by_the_boundary():
    first = WindowResult(0.0, [[Turn("channel0", 20.0, 30.0, [Word("a", 26.0, 26.5), Word("b", 27.6, 28.0)], 0)], []])
    second = WindowResult(
        25.0,
        [[], [Turn("channel1", 25.0, 35.0, [Word("a", 26.0, 26.5), Word("b", 27.6, 28.0), Word("c", 31.0, 31.5)], 1)]],
    )
    turns = stitch([(first, owned(0.0, True, False)), (second, owned(25.0, False, True))])
    assert len(turns) == 1 and [w.text for w in turns[0].words] == ["a", "b", "c"]
    assert (turns[0].start, turns[0].end) == (20.0, 35.0)


def test_activity_spans_and_words_outside_them_are_dropped():
    probs = np.zeros(500)
    probs[50:150] = 0.9
    probs[160:200] = 0.9  # 0.2 s gap: the same turn
    probs[300:305] = 0.9  # 0.1 s: too short
    spans = activity_spans(probs, 10.0)
    assert spans == [(11.0, 14.0)]
    turns = words_into_turns([Word("in", 11.5, 11.8), Word("out", 17.0, 17.4)], spans, 1)
    assert [w.text for w in turns[0].words] == ["in"] and turns[0].channel == 1
