"""Training windows and their targets: crops keep only whole turns, HEAT puts overlapping turns on two
channels, and each channel's decoder, transducer and activity targets say the same turns."""

from __future__ import annotations

import numpy as np
import torch

from engine.sst import vocab
from engine.sst.batch import IGNORE, make_batch
from engine.sst.pool import PooledWindow
from engine.sst.windows import Window, WindowTurn, crop
from engine.whisper.tokenizer import tokenizer


def test_a_crop_keeps_whole_turns_and_silences_what_it_cannot_label():
    samples = np.ones(20 * 16000, np.float32)
    turns = [WindowTurn(0.5, 2.5, "a", "x"), WindowTurn(3.0, 9.0, "b", "y"), WindowTurn(8.0, 12.0, "c", "x")]
    cut, kept = crop(samples, turns, 10.0)
    # "c" runs past 10 s, so audio stops at its start (8 s); "b" overlaps it and would be cut, so audio stops
    # where "b" starts (3 s): the whole chain of overlapping turns goes.
    assert [t.text for t in kept] == ["a"] and len(cut) == 10 * 16000
    assert cut[: 3 * 16000].all() and not cut[3 * 16000 :].any()


def _overlapped_window() -> Window:
    """Three turns, the second overlapping both others, put on channels by HEAT."""
    window = Window(
        np.zeros(16000),
        [WindowTurn(0.2, 3.0, "hello there", "x"), WindowTurn(2.0, 4.0, "yes", "y"), WindowTurn(3.5, 5.0, "fine", "x")],
        "sim",
        "OV20",
    )
    window.assign_channels()
    return window


def test_overlapping_turns_go_to_two_channels_with_matching_targets():
    window = _overlapped_window()
    assert [t.channel for t in window.turns] == [0, 1, 0]
    pooled = PooledWindow(torch.zeros(300, 384, dtype=torch.float16), window.turns, "sim", "OV20", False)
    batch = make_batch([pooled], channels=2, subsample=4)
    tok = tokenizer()
    first = [t for t in batch.decoder_inputs[0].tolist()]
    assert first[0] == tok.sot and tok.decode(first) == " Hello there. Fine."
    stamps = [tok.seconds(t) for t in first if tok.is_timestamp(t)]
    assert stamps == [0.2, 3.0, 3.5, 5.0]
    assert batch.decoder_labels[0, 0] == first[1] and (batch.decoder_labels[0] != IGNORE).sum() == len(first)
    assert vocab.decode_ids(batch.targets[1, : batch.target_lengths[1]].tolist()) == "yes"
    assert batch.targets[1, 0] == vocab.SOT and batch.targets[1, batch.target_lengths[1] - 1] == vocab.EOT
    assert batch.eot_frames[1, 0] == int(4.0 / 0.08)
    assert batch.activity[0, 1, 100:200].all() and not batch.activity[0, 1, :99].any()  # 2.0-4.0 s on channel 1
    assert batch.frame_lengths.tolist() == [75, 75]


def test_one_channel_reads_every_turn_in_order_of_start():
    """Without a separator the single channel is the mixture: its decoder target is every turn, as Whisper
    would write the recording, whatever channels HEAT chose."""
    window = _overlapped_window()
    pooled = PooledWindow(torch.zeros(300, 384, dtype=torch.float16), window.turns, "sim", "OV20", False)
    batch = make_batch([pooled], channels=1, subsample=4)
    tokens = batch.decoder_inputs[0].tolist()
    tok = tokenizer()
    assert tok.decode(tokens) == " Hello there. Yes. Fine."
    assert [tok.seconds(t) for t in tokens if tok.is_timestamp(t)] == [0.2, 3.0, 2.0, 4.0, 3.5, 5.0]
    assert batch.activity[0, 0, 10:250].all()
