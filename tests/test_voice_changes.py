"""Voice-change splitting on real recordings: two Speech Accent Archive readers back to back (a man, then a
woman), and one reader alone. The embeddings come from the real resemblyzer encoder."""

from __future__ import annotations

import numpy as np

from engine import audio, config
from engine.types import Turn, Word
from engine.voice_changes import WINDOW_S, owned_change_times, search_pieces, split_turn, voice_change_times

SAA = config.shared_data_dir() / "saa" / "audio"
SECONDS = 6.0


def _reading(name: str, offset_s: float = 2.0) -> np.ndarray:
    samples = audio.load(SAA / name)
    return samples[int(offset_s * audio.SAMPLE_RATE) : int((offset_s + SECONDS) * audio.SAMPLE_RATE)]


def test_a_change_of_reader_is_found_where_it_happens():
    joined = np.concatenate([_reading("english_001.ogg"), _reading("english_002.ogg")])
    times = voice_change_times(joined)
    assert len(times) == 1 and abs(times[0] - SECONDS) <= 0.5


def test_one_reader_has_no_change():
    assert voice_change_times(_reading("english_001.ogg", 1.0)) == []
    assert voice_change_times(_reading("english_002.ogg", 1.0)) == []


def test_too_short_for_two_windows_has_no_change():
    joined = np.concatenate([_reading("english_001.ogg"), _reading("english_002.ogg")])
    middle = int(SECONDS * audio.SAMPLE_RATE)
    half = int(0.9 * WINDOW_S * audio.SAMPLE_RATE)
    assert voice_change_times(joined[middle - half : middle + half]) == []


def test_a_long_turn_searched_in_pieces_finds_the_changes_of_the_whole():
    joined = np.concatenate([_reading(name) for name in ("english_001.ogg", "english_002.ogg") * 2])
    whole = voice_change_times(joined)
    assert len(whole) == 3
    duration = len(joined) / audio.SAMPLE_RATE
    pieces = search_pieces(0.0, duration, piece_s=13.0)
    assert len(pieces) == 3 and pieces[0][0][0] == 0.0 and pieces[-1][0][1] == duration
    assert all(end - start <= 13.0 + 1e-9 for (start, end), _ in pieces)
    owned = [span for _, span in pieces]
    assert owned[0][0] == 0.0 and owned[-1][1] == duration and all(a[1] == b[0] for a, b in zip(owned, owned[1:]))
    found = []
    for (start, end), owned in pieces:
        samples = joined[int(start * audio.SAMPLE_RATE) : int(end * audio.SAMPLE_RATE)]
        found += owned_change_times((start, end), owned, samples)
    assert np.allclose(sorted(found), whole, atol=0.01)


def test_search_pieces_of_a_short_turn_is_the_turn():
    assert search_pieces(3.0, 40.0) == [((3.0, 40.0), (3.0, 40.0))]


def _turn() -> Turn:
    words = [Word(w, s, s + 0.3) for w, s in [("one", 1.0), ("two", 1.5), ("three", 2.0), ("four", 3.0)]]
    return Turn("ch0", 0.9, 3.6, words, channel=0, unterminated=True)


def test_split_cuts_at_the_nearest_word_gap():
    first, second = split_turn(_turn(), [1.9])
    assert [w.text for w in first.words] == ["one", "two"] and [w.text for w in second.words] == ["three", "four"]
    assert (first.start, first.end) == (0.9, 1.8) and (second.start, second.end) == (2.0, 3.6)
    assert not first.unterminated and second.unterminated
    assert first.channel == second.channel == 0


def test_split_never_leaves_a_piece_without_words():
    assert [t.text for t in split_turn(_turn(), [0.5, 3.5])] == ["one two three four"]
    assert [t.text for t in split_turn(_turn(), [1.4, 1.45, 2.9])] == ["one", "two three", "four"]
