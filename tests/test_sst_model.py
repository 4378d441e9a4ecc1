"""SST model shapes, channel batching, streaming == whole-utterance decoding on real speech, HEAT,
turns from tokens, and the checkpoint round trip."""
from __future__ import annotations

import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from engine import config
from engine.sst.checkpoint import load_model, save_model
from engine.sst.decode import (Emission, SearchState, StreamingDecoder, activity_to_turns, ctc_greedy,
                               decode_streaming, decode_whole, greedy_search, tokens_to_turns)
from engine.sst.features import Fbank
from engine.sst.heat import heat_assign
from engine.sst.model import CausalConvSubsampling
from tests.sst_models import BOTH_KINDS, TABLE, TINY, lively_model, tiny_model

@pytest.fixture(scope="module")
def speech() -> torch.Tensor:
    """5 s of real human speech (Speech Accent Archive) at 16 kHz."""
    path = config.shared_data_dir() / "saa" / "audio" / "english_001.ogg"
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = torch.from_numpy(audio.mean(1))
    return AF.resample(audio, rate, 16000)[16000:16000 * 6]


@BOTH_KINDS
def test_forward_shapes_and_channels_stacked_on_the_batch_axis(config):
    model = tiny_model(config=config)
    with torch.no_grad():  # weights as after training: zero-initialised residual outputs start as the identity
        for p in model.parameters():
            p.normal_(0, 0.3)
    feats = torch.randn(3, 101, 80)
    targets = torch.randint(3, len(TABLE), (6, 5))
    encoded, predicted, activity, ctc = model(feats, targets)
    frames = int(CausalConvSubsampling.output_lengths(torch.tensor([101]))[0])
    assert frames == 26  # ceil(ceil(101 / 2) / 2)
    assert model.join(encoded, predicted).shape == (6, frames, 6, len(TABLE))
    assert activity.shape == (6, frames) and ctc.shape == (6, frames, len(TABLE))
    encoded, _, _, _ = model.encode(feats)
    alone, _, _, _ = model.encode(feats[1:2])
    # Row c*B + b is channel c of mixture b: the batched pass equals running mixture 1 alone.
    torch.testing.assert_close(encoded[[1, 4]], alone, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(encoded[1], encoded[4])  # untied separator branches give two channels


@BOTH_KINDS
def test_copy_branch_makes_both_channels_identical(config):
    model = tiny_model(config=config)
    model.copy_branch(0)
    encoded, _, _, _ = model.encode(torch.randn(1, 40, 80))
    torch.testing.assert_close(encoded[0], encoded[1])


def test_features_streamed_in_odd_pieces_equal_whole_features(speech):
    fbank = Fbank(TINY)
    whole = fbank(speech[None])
    pending, parts = None, []
    for start in range(0, len(speech), 777):
        feats, pending = fbank.stream(speech[None, start:start + 777], pending)
        parts.append(feats)
    torch.testing.assert_close(torch.cat(parts, 1), whole)
    assert torch.isfinite(fbank(torch.zeros(1, 1600))).all()  # digital silence hits the floor, not -inf


@BOTH_KINDS
def test_streaming_decode_gives_exactly_the_whole_utterance_tokens(speech, config):
    model = lively_model(speech, config)
    whole = decode_whole(model, speech)
    emitting_frames = {e.frame for channel in whole for e in channel}
    frames = int(CausalConvSubsampling.output_lengths(torch.tensor([Fbank(TINY).num_frames(len(speech))]))[0])
    assert 20 < len(emitting_frames) < frames  # a non-trivial token sequence: some frames emit, some do not
    assert len({e.token for channel in whole for e in channel}) > 10
    for chunk_samples in (5120, 1234):  # 320 ms pieces, and odd pieces that split frames and chunks
        streamed = decode_streaming(model, speech, chunk_samples).tokens()
        assert [[(e.token, e.frame) for e in c] for c in streamed] == [[(e.token, e.frame) for e in c] for c in whole]


def test_streaming_decoder_processes_at_most_one_320ms_chunk_at_a_time(speech):
    decoder = StreamingDecoder(lively_model(speech))
    decoder.accept(speech[:16000])
    # 1 s gives 98 fbank frames: three 32-frame chunks run, the rest waits (no lookahead beyond a chunk).
    assert decoder.search.frames == 24 and decoder.pending_feats.shape[1] == 98 - 96
    decoder.finish()
    assert decoder.search.frames == 25


def test_sot_bias_starts_an_idle_channel_and_only_an_idle_one(speech):
    model = lively_model(speech)
    feats = Fbank(TINY)(speech[None])
    encoded, _, _, _ = model.encode(feats)
    plain = greedy_search(model, encoded, SearchState.start(model)).emissions
    unbiased = greedy_search(model, encoded, SearchState.start(model), torch.zeros(2)).emissions
    assert [[(e.token, e.frame) for e in c] for c in unbiased] == [[(e.token, e.frame) for e in c] for c in plain]
    biased = greedy_search(model, encoded, SearchState.start(model), torch.tensor([0.0, 1e4])).emissions
    assert biased[0] == plain[0]  # the other channel is untouched
    assert biased[1][0].token == TABLE.sot and biased[1][0].frame == 0  # an idle channel opens a turn at once
    tokens = [e.token for e in biased[1]]
    assert all(after == TABLE.sot for before, after in zip(tokens, tokens[1:]) if before == TABLE.eot)  # idle again
    # ...but inside a turn the bias does nothing: applied everywhere, it would make every token a <sot>
    assert tokens.count(TABLE.sot) < len(tokens) / 2


def test_heat_assignment():
    assert heat_assign([(0, 1), (1.5, 2), (3, 4)]).channels == [0, 0, 0]
    overlapping = heat_assign([(0, 2), (1, 3), (2.5, 4)])
    assert overlapping.channels == [0, 1, 0] and overlapping.overflow == 0
    assert heat_assign([(0, 1), (1, 2)]).channels == [0, 0]  # ends exactly at the start: channel is free
    three = heat_assign([(0, 5), (1, 3), (2, 4)])  # three talkers at once
    assert three.channels == [0, 1, 1] and three.overflow == 1  # to the channel that ends first
    unordered = heat_assign([(2, 4), (0, 3)])
    assert unordered.channels == [1, 0]  # result follows the input order, assignment the start order


def test_turns_from_tokens_with_times_and_an_unterminated_turn():
    sot, eot, t = TABLE.sot, TABLE.eot, TABLE.index
    ch0 = [Emission(sot, 1), Emission(t["h"], 2), Emission(t["i"], 3), Emission(t[" "], 4),
           Emission(t["y"], 5), Emission(t["o"], 6), Emission(eot, 8)]
    ch1 = [Emission(sot, 10), Emission(t["o"], 11), Emission(t["k"], 12)]
    turns = tokens_to_turns([ch0, ch1], TABLE, 0.04, end_of_audio=1.0)
    assert [turn.text for turn in turns] == ["hi yo", "ok"]
    first, second = turns
    assert first.channel == 0 and not first.unterminated
    assert first.start == pytest.approx(0.04) and first.end == pytest.approx(0.36)
    assert [(w.text, round(w.start, 2), round(w.end, 2)) for w in first.words] == [("hi", 0.08, 0.16), ("yo", 0.2, 0.28)]
    assert second.channel == 1 and second.unterminated and second.end == 1.0


def test_text_without_sot_opens_a_turn_and_a_stray_eot_is_ignored():
    t = TABLE.index
    turns = tokens_to_turns([[Emission(TABLE.eot, 0), Emission(t["a"], 1), Emission(TABLE.eot, 2)], []],
                            TABLE, 0.04, end_of_audio=1.0)
    assert [(turn.text, turn.unterminated) for turn in turns] == [("a", False)]


def test_activity_segmentation_ignores_sot_eot_bridges_short_pauses_and_drops_bursts():
    t = TABLE.index
    # frames of 0.1 s: channel 0 speaks 1-4 and 6-8 (a 0.2 s pause: one turn), then 15-19; channel 1 a
    # 0.1 s burst only (dropped). Characters land in the turn that contains them, or the nearest one.
    activity = torch.zeros(2, 22)
    activity[0, 1:5] = activity[0, 6:9] = activity[0, 15:20] = 0.9
    activity[1, 3] = 0.9
    ch0 = [Emission(TABLE.sot, 1), Emission(t["h"], 2), Emission(t["i"], 7), Emission(TABLE.eot, 8),
           Emission(t["y"], 12), Emission(t["o"], 16)]
    turns = activity_to_turns([ch0, [Emission(t["x"], 3)]], activity, TABLE, 0.1)
    assert [(turn.channel, round(turn.start, 2), round(turn.end, 2), turn.text) for turn in turns] == [
        (0, 0.1, 0.9, "hi"), (0, 1.5, 2.0, "yo")]


def test_checkpoint_round_trip_carries_config_feature_stats_and_tokens(tmp_path, speech):
    model = lively_model(speech)
    path = tmp_path / "sst.pt"
    save_model(path, model, TABLE, {"training_data": "unit test"})
    loaded, table, card = load_model(path)
    assert loaded.config == model.config and table.symbols == TABLE.symbols
    assert card == {"training_data": "unit test"}
    torch.testing.assert_close(loaded.feat_mean, model.feat_mean)
    torch.testing.assert_close(loaded.feat_std, model.feat_std)
    feats = Fbank(TINY)(speech[None, :16000])
    torch.testing.assert_close(loaded.encode(feats)[0], model.encode(feats)[0], rtol=0, atol=0)


def test_token_table_targets():
    assert TABLE.encode_turns(["Hi, Bob!", "ok"]) == [1, *TABLE.encode_text("hi bob"), 2, 1, *TABLE.encode_text("ok"), 2]
    assert TABLE.decode_text(TABLE.encode_text("it's 5")) == "it's five"


def test_ctc_best_path_merges_repeats_and_a_blank_separates_them():
    model = tiny_model()
    with torch.no_grad():  # the CTC head reads the first V encoder dimensions as logits
        model.ctc.weight.copy_(torch.eye(len(TABLE), TINY.encoder_dim))
        model.ctc.bias.zero_()
    path = [[0, 5, 5, 0, 5, 7, 7, 0], [0, 0, 1, 9, 9, 9, 2, 0]]
    encoded = torch.nn.functional.one_hot(torch.tensor(path), TINY.encoder_dim).float()
    emissions = ctc_greedy(model, encoded)
    assert [[(e.token, e.frame) for e in channel] for channel in emissions] == [[(5, 1), (5, 4), (7, 5)],
                                                                                 [(1, 2), (9, 3), (2, 6)]]
