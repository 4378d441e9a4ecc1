"""The cascade backends on real speech: an AMI meeting excerpt, a Speech Accent Archive reading and a
synthesised two-voice dialogue, through Whisper (the default) and pocketsphinx (`cascade-pocketsphinx`)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import soundfile as sf
from dialogue import synthesise_dialogue

from engine import audio, config
from engine.backends import BACKENDS, backend_for, get_backend
from engine.backends.cascade import CascadeBackend
from engine.cascade.pipeline import UNATTRIBUTED
from engine.cascade.segments import iter_segment_audio, recognition_windows, words_by_segment
from engine.cascade.segments_to_turns import merge_segments, merge_turns
from engine.errors import UserError
from engine.metrics.wer import edit_counts, wer
from engine.speakers import cluster_speakers, embed_segments
from engine.transcription import transcribe_file
from engine.types import Turn, Word

AMI = config.shared_data_dir() / "ami_excerpts"
AMI_URI = "dev01"  # two reference speakers, 15.5 s of speech (a short one keeps the test fast)
SAA = config.shared_data_dir() / "saa"
SAA_SPEAKER = "english_001.ogg"  # a native speaker from Pittsburgh, 18.8 s, 8 kHz as the archive has it


def overlap(a_start, a_end, b_start, b_end) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def ami_reference(uri: str) -> list[tuple[str, float, float]]:
    turns = []
    for rttm in (AMI / "reference").glob("*.rttm"):
        for fields in map(str.split, rttm.read_text().splitlines()):
            if fields and fields[1] == uri:
                turns.append((fields[7], float(fields[3]), float(fields[3]) + float(fields[4])))
    return turns


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory):
    return synthesise_dialogue(tmp_path_factory.mktemp("dialogue"))


@pytest.fixture(scope="module")
def dialogue_result(dialogue):
    progress, partials = [], []
    result = transcribe_file(
        dialogue[0], backend="cascade", progress=lambda f, msg: progress.append((f, msg)), on_partial=partials.append
    )
    return result, progress, partials


def assert_well_formed(turns, duration_s):
    assert [t.start for t in turns] == sorted(t.start for t in turns)
    for turn in turns:
        assert 0 <= turn.start < turn.end <= duration_s + 1e-3
        for word in turn.words:
            assert word.text and turn.start - 0.05 <= word.start <= word.end <= turn.end + 0.05


def test_dialogue_two_voices_become_two_speakers_at_the_right_times(dialogue, dialogue_result):
    path, reference = dialogue
    result, _, _ = dialogue_result
    assert_well_formed(result.turns, result.duration_s)
    assert len({t.speaker for t in result.turns}) >= 2
    # every reference line is covered by hypothesis turns, and mostly by a single hypothesis speaker
    voice_of = {}
    for ref in reference:
        covered = Counter()
        for turn in result.turns:
            covered[turn.speaker] += overlap(ref.start, ref.end, turn.start, turn.end)
        speaker, seconds = covered.most_common(1)[0]
        assert seconds >= 0.7 * (ref.end - ref.start), (ref, covered)
        voice_of.setdefault(ref.speaker, Counter())[speaker] += 1
    a_label = voice_of["A"].most_common(1)[0][0]
    b_label = voice_of["B"].most_common(1)[0][0]
    assert a_label != b_label
    assert voice_of["A"][a_label] == 3 and voice_of["B"][b_label] == 3  # all six lines attributed right


def test_dialogue_words_are_recognised(dialogue_result):
    result, _, _ = dialogue_result
    words = [w.text for t in result.turns for w in t.words]
    assert len(words) >= 30
    # the synthetic speech is clean: many of the script's content words must come back
    assert {"budget", "money", "office", "summary"} & set(words)


def test_progress_is_reported_up_to_completion(dialogue_result):
    _, progress, _ = dialogue_result
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 3
    assert all(isinstance(msg, str) and msg for _, msg in progress)


def test_partial_turns_grow_into_the_final_words(dialogue_result):
    result, _, partials = dialogue_result
    assert partials and all(len(a) <= len(b) and b[: len(a)] == a for a, b in zip(partials, partials[1:]))
    assert all(t.speaker == UNATTRIBUTED for t in partials[-1])  # clustering has not run yet
    # the last partial holds every recognised word; the final turns only add speakers (and merge segments)
    assert [w for t in partials[-1] for w in t.words] == [w for t in result.turns for w in t.words]


def test_a_clean_reading_is_recognised_nearly_word_for_word():
    """Whisper on a real 8 kHz archive recording: WER against the paragraph the speaker read."""
    result = transcribe_file(SAA / "audio" / SAA_SPEAKER)
    counts = edit_counts((SAA / "transcript.txt").read_text(), " ".join(t.text for t in result.turns))
    assert counts.ref_words == 69 and wer(counts) <= 0.05, counts  # measured: 0 errors
    assert len({t.speaker for t in result.turns}) == 1  # one reader


def trimmed(samples: np.ndarray, floor: float = 0.02) -> np.ndarray:
    """Without the quiet before the first and after the last loud sample (espeak's lead-in and tail)."""
    loud = np.flatnonzero(np.abs(samples) > floor)
    return samples[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def back_to_back(dialogue, tmp_path_factory):
    """A's first line and B's first line with no pause between them: one VAD segment, two voices."""
    path, reference = dialogue
    whole = audio.load(path)
    a, b = (trimmed(whole[int(r.start * 16000) : int(r.end * 16000)]) for r in reference[:2])
    lead = np.random.default_rng(2).normal(0, 1e-3, 8000).astype(np.float32)
    out = tmp_path_factory.mktemp("back_to_back") / "back_to_back.flac"
    sf.write(out, np.concatenate([lead, a, b, lead]), 16000)
    return out, 0.5 + len(a) / 16000  # the file, when B starts


def test_a_voice_change_inside_one_speech_segment_splits_it(back_to_back):
    path, change_s = back_to_back
    unsplit = CascadeBackend(change_threshold=None).transcribe(path)
    assert len(unsplit) == 1  # silero-vad hears one stretch of speech: only the voice tells them apart
    turns = get_backend("cascade").transcribe(path)
    assert len(turns) == 2 and turns[0].speaker != turns[1].speaker
    assert abs(turns[1].start - change_s) < 0.5 and abs(turns[0].end - change_s) < 0.5
    assert [w for t in turns for w in t.words] == unsplit[0].words  # cut at a word gap, no word lost


def test_pocketsphinx_is_still_a_recogniser_of_the_cascade(back_to_back):
    assert backend_for("cascade", "pocketsphinx") == "cascade-pocketsphinx"
    path, change_s = back_to_back
    hybrid = transcribe_file(path, backend="cascade-pocketsphinx")
    assert_well_formed(hybrid.turns, hybrid.duration_s)
    assert len({t.speaker for t in hybrid.turns}) == 2  # the same cuts and clustering as with Whisper
    words = [w.text for t in hybrid.turns for w in t.words]
    assert len(words) >= 15 and all(w == w.lower() for w in words)  # pocketsphinx's lower-case dictionary
    assert "budget" in words
    assert get_backend("cascade-pocketsphinx").describe()["recogniser"] == "pocketsphinx"
    assert get_backend("cascade").describe()["recogniser"] == "whisper"


def test_neighbouring_segments_share_a_recognition_window():
    segments = [(0.0, 4.0), (5.0, 12.0), (20.0, 29.0), (31.0, 35.0), (70.0, 110.0)]
    assert recognition_windows(segments, 30.0) == [((0.0, 29.0), [0, 1, 2]), ((31.0, 35.0), [3]), ((70.0, 110.0), [4])]
    assert recognition_windows(segments, 0.0) == [(s, [i]) for i, s in enumerate(segments)]
    words = [Word("a", 0.5, 1.0), Word("b", 4.2, 4.6), Word("c", 4.5, 5.4), Word("d", 13.0, 13.4)]
    assert words_by_segment(words, segments[:2]) == [words[:2], words[2:]]


def test_a_speakers_pieces_join_into_one_turn_per_channel_and_pause():
    w = [Word(x, t, t + 0.4) for x, t in (("a", 0.0), ("b", 1.0), ("c", 2.0), ("d", 6.0), ("e", 6.5), ("f", 7.2))]
    pieces = [
        Turn("S1", 0.0, 1.5, [w[0]], channel=0),
        Turn("S2", 1.0, 1.8, [w[1]], channel=1),  # the other talker, on the other channel
        Turn("S1", 2.0, 2.6, [w[2]], channel=0),  # 0.5 s after channel 0's last: the same turn
        Turn("S1", 6.0, 6.4, [w[3]], channel=0),  # 3.4 s later: a new turn
        Turn("S2", 6.5, 7.0, [w[4]], channel=0),  # another speaker on channel 0...
        Turn("S1", 7.2, 7.6, [w[5]], channel=0, unterminated=True),  # ...keeps S1's next piece apart
    ]
    merged = merge_turns(pieces)
    assert [(t.speaker, t.channel, t.start, t.end, t.text) for t in merged] == [
        ("S1", 0, 0.0, 2.6, "a c"),
        ("S2", 1, 1.0, 1.8, "b"),
        ("S1", 0, 6.0, 6.4, "d"),
        ("S2", 0, 6.5, 7.0, "e"),
        ("S1", 0, 7.2, 7.6, "f"),
    ]
    assert merged[-1].unterminated and pieces[0].words == [w[0]]  # the input is left as it was
    cascade = merge_segments([("S1", 0.0, 1.0, []), ("S2", 1.2, 1.5, []), ("S1", 1.7, 2.0, []), ("S1", 2.5, 3.0, [])])
    assert [(t.speaker, t.start, t.end) for t in cascade] == [("S1", 0.0, 1.0), ("S2", 1.2, 1.5), ("S1", 1.7, 3.0)]


@pytest.fixture(scope="module")
def ami_results():
    path = AMI / "audio" / f"{AMI_URI}.flac"
    return transcribe_file(path), transcribe_file(path, num_speakers=2)


def test_ami_excerpt_speakers_and_times_match_the_reference(ami_results):
    free, _ = ami_results
    assert_well_formed(free.turns, free.duration_s)
    assert len({t.speaker for t in free.turns}) >= 2
    reference = ami_reference(AMI_URI)
    hyp_speech = sum(t.end - t.start for t in free.turns)
    in_reference = sum(overlap(t.start, t.end, s, e) for t in free.turns for _, s, e in reference)
    assert hyp_speech > 10 and in_reference >= 0.8 * hyp_speech
    assert sum(len(t.words) for t in free.turns) >= 20


def test_ami_excerpt_with_two_speakers_given(ami_results):
    free, two = ami_results
    assert len({t.speaker for t in two.turns}) == 2
    assert {t.speaker for t in two.turns} == {"S1", "S2"}
    assert two.turns[0].speaker == "S1"  # labels in order of first appearance
    assert 0 < two.rtf < 5


def test_silence_only_contains_no_speech(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.random.default_rng(0).normal(0, 1e-4, 5 * 16000).astype(np.float32), 16000)
    with pytest.raises(UserError, match="contains no speech"):
        transcribe_file(path)


def test_unknown_backend_and_bad_speaker_count(dialogue):
    assert "cascade" in BACKENDS
    with pytest.raises(UserError, match="Unknown backend"):
        get_backend("whisper")
    with pytest.raises(UserError, match="the sst backend has its own"):
        backend_for("sst", "whisper")
    with pytest.raises(UserError, match="at least 1"):
        transcribe_file(dialogue[0], num_speakers=0)


def test_backend_is_built_once_per_process():
    assert get_backend("cascade") is get_backend("cascade")


def test_segments_cut_from_the_stream_equal_slices_of_the_whole(dialogue):
    path, reference = dialogue
    whole = audio.load(path)
    segments = [(r.start, r.end) for r in reference] + [(27.5, 30.0)]  # the last one runs past the end
    got = list(iter_segment_audio(audio.iter_chunks(path, chunk_s=2.3), segments))
    assert [seg for seg, _ in got] == segments
    for (start, end), samples in got:
        np.testing.assert_array_equal(samples, whole[int(start * 16000) : int(end * 16000)])


def test_embeddings_separate_the_two_voices(dialogue):
    path, reference = dialogue
    embeddings = embed_segments(audio.load(path), [(r.start, r.end) for r in reference])
    assert embeddings.shape == (6, 256)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert cluster_speakers(embeddings) == [0, 1, 0, 1, 0, 1]
    assert cluster_speakers(embeddings, num_speakers=1) == [0] * 6
    assert cluster_speakers(embeddings[:1]) == [0]
    assert cluster_speakers(embeddings, threshold=1e-6) == [0, 1, 2, 3, 4, 5]  # every segment its own speaker


@pytest.mark.slow
def test_long_recording_is_transcribed_in_bounded_memory(dialogue, tmp_path):
    """40 minutes (154 MB as 16 kHz float32) with the dialogue at four places: peak RSS must not grow by
    anything like the decoded size once the models are loaded."""
    import subprocess
    import sys
    import textwrap

    speech = audio.load(dialogue[0])
    path = tmp_path / "long.flac"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=16000, channels=1) as f:
        for minute in range(40):
            block = rng.normal(0, 1e-3, 60 * 16000).astype(np.float32)
            if minute % 10 == 5:
                block[: len(speech)] += speech
            f.write(block)
    script = textwrap.dedent(f"""
        import resource
        from engine.transcription import transcribe_file
        transcribe_file({str(dialogue[0])!r})  # loads every model
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = transcribe_file({str(path)!r})
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(len(result.turns), round(result.duration_s), grew)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=config.REPO_ROOT
    )
    n_turns, duration_s, grew_kib = map(int, out.stdout.split())
    assert duration_s == 2400 and n_turns >= 4 * 4
    assert grew_kib < 154 * 1024 / 4, f"peak RSS grew {grew_kib} KiB"
