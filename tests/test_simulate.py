"""Simulated meetings: splits, synthesis, exact references, overlap statistics, byte-identical sets."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import UserError
from engine.simulate import human, text_source, turn_placement
from engine.simulate.meetings import build_meeting, pick_voices, random_spec
from engine.simulate.sets import SetRecipe, write_set
from engine.simulate.synth import SAMPLE_RATE, _espeak, synthesize
from engine.simulate.voices import ESPEAK_VARIANTS, voice_population, voices
from engine.text import normalize

REPO_ROOT = Path(__file__).resolve().parent.parent
SHORT = (8.0, 12.0)  # seconds: small meetings keep these tests fast


@pytest.fixture(scope="module", autouse=True)
def shared_tts_cache(tmp_path_factory):
    """One data directory (and so one TTS cache) for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CROSSTALK_DATA_DIR", str(tmp_path_factory.mktemp("sim-data")))
        yield


def test_voice_splits_are_disjoint_by_accent_and_base_voice():
    split = {s: voices(s) for s in ("train", "dev", "test")}
    ids = [set(v.voice_id for v in vs) for vs in split.values()]
    assert sum(map(len, ids)) == len(voice_population()) == len(set().union(*ids))
    espeak_accents = {s: {v.accent for v in vs if v.engine == "espeak"} for s, vs in split.items()}
    mbrola_bases = {s: {v.espeak_name for v in vs if v.engine == "mbrola"} for s, vs in split.items()}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not espeak_accents[a] & espeak_accents[b]
        assert not mbrola_bases[a] & mbrola_bases[b]
    assert len(mbrola_bases["test"]) >= 4 and len(espeak_accents["test"]) >= 2
    assert {v.sex for v in split["test"]} == {"female", "male"}


def test_every_variant_and_mbrola_voice_exists():
    # espeak-ng silently ignores a misspelt variant, so check the files it would load.
    variants = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v")
    assert all((variants / name).exists() for name in ESPEAK_VARIANTS)
    mbrola = {v.espeak_name.split("-")[1] for v in voice_population() if v.engine == "mbrola"}
    assert all(Path("/usr/share/mbrola", name).exists() for name in mbrola)


def test_sentence_splits_disjoint_normalised_and_free_of_the_evaluation_paragraph():
    split = {s: set(text_source.sentences(s)) for s in ("train", "dev", "test")}
    assert len(split["train"]) > 10_000 and len(split["test"]) > 1_000
    assert not split["train"] & split["dev"] and not split["train"] & split["test"] and not split["dev"] & split["test"]
    paragraph_ngrams = text_source.evaluation_paragraph_ngrams()
    assert paragraph_ngrams, "the accent archive paragraph must be readable to be excluded"
    for sentence in set().union(*split.values()):
        assert normalize(sentence) == sentence and sentence.isascii()
        words = sentence.split()
        assert text_source.MIN_WORDS <= len(words) <= text_source.MAX_WORDS
        assert not text_source._ngrams(words, text_source.EXCLUDED_NGRAM) & paragraph_ngrams
    assert "please call stella" not in " | ".join(split["train"])


def test_synthesis_is_deterministic_and_the_cache_returns_the_same_samples():
    voice = next(v for v in voices("train") if v.engine == "mbrola")  # mbrola resamples nothing: 16 kHz
    other = voices("test")[0]  # espeak: 22.05 kHz, resampled
    for v in (voice, other):
        first = synthesize("the quick brown fox", v)
        assert first.dtype == np.float32 and first.ndim == 1 and 0.5 < len(first) / SAMPLE_RATE < 3
        assert np.array_equal(first, synthesize("the quick brown fox", v))  # from the cache
        assert np.array_equal(first, _espeak("the quick brown fox", v))  # fresh
    assert not np.array_equal(
        synthesize("the quick brown fox", voice)[:8000], synthesize("the quick brown fox", other)[:8000]
    )


@pytest.mark.parametrize("condition", turn_placement.CONDITIONS)
def test_reference_matches_audio_and_overlap_matches_condition(condition):
    meeting = build_meeting(random_spec(17, condition, (2, 3), "dev", duration_s=SHORT))
    ref = meeting.reference()
    assert len(meeting.audio) == len(meeting.clean)
    spans = []
    for turn in meeting.turns:
        segment = meeting.clean[turn.start : turn.end]
        # Sample-exact turn edges: speech at the first and last sample, and energy throughout.
        assert abs(segment[0]) > 0 and abs(segment[-1]) > 0
        assert np.sqrt(np.mean(segment**2)) > 0.01
        assert turn.words and normalize(turn.words) == turn.words
        spans.append((turn.start / SAMPLE_RATE, turn.end / SAMPLE_RATE))
    assert [(r["start_time"], r["end_time"]) for r in ref] == spans
    ratio, most = turn_placement.activity_ratios(spans)
    assert abs(ratio - turn_placement.overlap_target(condition)) <= 0.03
    assert most == (1 if condition in ("0S", "0L") else 2)
    assert len({r["speaker"] for r in ref}) == meeting.spec.num_speakers


def test_talkers_are_balanced_by_sex_label_and_sound_distinct():
    rng = np.random.default_rng(0)
    for split in ("train", "dev", "test"):
        meetings = [pick_voices(split, 4, rng) for _ in range(50)]
        sexes = [v.sex for talkers in meetings for v in talkers]
        assert 0.4 < sexes.count("female") / len(sexes) < 0.6
        assert all(len({v.espeak_name.split("+")[-1] for v in talkers}) == 4 for talkers in meetings)
        assert all(v.split == split for talkers in meetings for v in talkers)


def test_gaps_are_digital_silence_before_noise_and_noise_is_10_to_30_db_below_speech():
    meeting = build_meeting(random_spec(5, "0L", (2, 2), "train", duration_s=SHORT))
    active = np.zeros(len(meeting.clean), bool)
    for t in meeting.turns:
        active[t.start : t.end] = True
    for a, b in zip(meeting.turns, meeting.turns[1:]):
        gap = b.start - a.end
        assert 2.9 * SAMPLE_RATE - 1 <= gap <= 3.0 * SAMPLE_RATE + 1
        assert not np.any(meeting.clean[a.end : b.start])
    noise = meeting.audio - meeting.clean
    snr = 10 * np.log10(np.mean(meeting.clean[active] ** 2) / np.mean(noise**2))
    assert 10 - 0.5 <= snr <= 30 + 0.5 and abs(snr - meeting.snr_db) < 0.5
    assert np.sqrt(np.mean(meeting.audio[~active] ** 2)) < 0.3 * np.sqrt(np.mean(meeting.audio[active] ** 2))


def test_three_talkers_only_when_allowed():
    most = [
        turn_placement.activity_ratios(
            [
                (r["start_time"], r["end_time"])
                for r in build_meeting(
                    random_spec(seed, "OV30", (4, 4), "train", max_concurrent=3, duration_s=SHORT)
                ).reference()
            ]
        )[1]
        for seed in range(4)
    ]
    assert max(most) == 3


def test_human_voices_meeting_uses_the_paragraph():
    meeting = build_meeting(random_spec(3, "OV20", (2, 2), "human"))
    assert all(t.words == human.paragraph() for t in meeting.turns)
    assert all(s["speaker"].startswith("saa:") for s in meeting.speakers)
    ratio, most = turn_placement.activity_ratios([(t.start, t.end) for t in meeting.turns])
    assert most == 2 and abs(ratio - 0.2) <= 0.03


ARGS = {
    "meetings": 3,
    "condition": "mixed",
    "speakers": "2-3",
    "seed": 42,
    "voices": "dev",
    "duration": "5-8",
    "reverb": 0.5,
}


def _same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(filecmp.cmp(a / f, b / f, shallow=False) for f in files_a)


def test_same_arguments_give_a_byte_identical_directory_and_runs_resume(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    cli = [f"--{k}={v}" for k, v in ARGS.items()]
    subprocess.run(
        [sys.executable, "-m", "engine", "simulate", "--out", str(a), *cli],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )  # two worker processes
    recipe = SetRecipe(3, "mixed", 42, (2, 3), "dev", reverb=0.5, duration_s=(5.0, 8.0))
    write_set(b, recipe, workers=1)  # one process: the output must not depend on it
    assert _same_tree(a, b)
    meetings = json.loads((a / "reference.seglst.json").read_text())
    assert {m["session_id"] for m in meetings} == {p.stem for p in (a / "audio").glob("*.wav")}
    assert str(tmp_path) not in (a / "recipe.json").read_text() + (a / "reference.seglst.json").read_text()
    # A killed run: one meeting lost its files. Rebuilding finishes it with the same bytes.
    victim = sorted((b / "meetings").glob("*.json"))[1]
    victim.unlink()
    (b / "audio" / f"{victim.stem}.wav").unlink()
    write_set(b, recipe, workers=1)
    assert _same_tree(a, b)


def test_an_existing_set_with_another_recipe_is_refused(tmp_path):
    write_set(tmp_path, SetRecipe(1, "0S", 1, (2, 2), "dev", duration_s=(4.0, 5.0)), workers=1)
    with pytest.raises(UserError):
        write_set(tmp_path, SetRecipe(1, "0S", 2, (2, 2), "dev", duration_s=(4.0, 5.0)), workers=1)
