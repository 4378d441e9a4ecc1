"""Audio in: every kind of bad input gets one sentence; decoding is mono, 16 kHz, and the same streamed or whole."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import audio, config
from engine.errors import UserError

SHARED = config.shared_data_dir()
SAA_OGG = SHARED / "saa" / "audio" / "arabic_001.ogg"  # 8 kHz Opus
AMI_FLAC = SHARED / "ami_excerpts" / "audio" / "dev00.flac"  # 16 kHz FLAC


def tone(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    rng = np.random.default_rng(0)
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def assert_one_sentence(exc: UserError) -> str:
    message = str(exc)
    assert message and "\n" not in message and "Traceback" not in message
    assert message[0].isupper() and message.endswith("."), message
    return message


def write_truncated(tmp_path: Path, fmt: str, subtype: str, ext: str) -> Path:
    whole = tmp_path / f"whole.{ext}"
    sf.write(whole, tone(16000, 5.0), 16000, format=fmt, subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def test_text_file_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a shopping list, not a recording\n" * 20)
    with pytest.raises(UserError) as err:
        audio.probe(path)
    assert "not audio" in assert_one_sentence(err.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    with pytest.raises(UserError) as err:
        audio.probe(path)
    assert "empty" in assert_one_sentence(err.value)


def test_zero_samples(tmp_path):
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(UserError) as err:
        audio.probe(path)
    assert "no audio samples" in assert_one_sentence(err.value)


@pytest.mark.parametrize(
    "fmt,subtype,ext",
    [
        ("WAV", "PCM_16", "wav"),
        ("FLAC", "PCM_16", "flac"),
        ("OGG", "VORBIS", "ogg"),
        ("OGG", "OPUS", "opus"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
    ],
)
def test_truncated_file(tmp_path, fmt, subtype, ext):
    with pytest.raises(UserError) as err:
        audio.probe(write_truncated(tmp_path, fmt, subtype, ext))
    assert "truncated" in assert_one_sentence(err.value)


def test_absurd_sample_rate(tmp_path):
    path = tmp_path / "odd.wav"
    sf.write(path, tone(16000, 1.0), 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    assert data[24:28] == struct.pack("<I", 16000)  # the fmt chunk's sample-rate field
    data[24:28] = struct.pack("<I", 50_000_000)
    data[28:32] = struct.pack("<I", 100_000_000)
    path.write_bytes(bytes(data))
    with pytest.raises(UserError) as err:
        audio.probe(path)
    assert "sample rate" in assert_one_sentence(err.value)


def test_over_the_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.wav"
    sf.write(path, tone(16000, 3.0), 16000)
    monkeypatch.setenv("CROSSTALK_MAX_UPLOAD_MB", "0.05")
    with pytest.raises(UserError) as err:
        audio.probe(path)
    assert "upload limit" in assert_one_sentence(err.value)
    with pytest.raises(UserError):
        audio.check_size(10**6)


def test_webm_without_ffmpeg_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)  # as on a machine without ffmpeg
    path = tmp_path / "recording.webm"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(200))
    with pytest.raises(UserError) as err:
        audio.probe(path)
    assert "ffmpeg" in assert_one_sentence(err.value)


@pytest.mark.parametrize(
    "fmt,subtype,ext",
    [
        ("WAV", "PCM_16", "wav"),
        ("FLAC", "PCM_24", "flac"),
        ("OGG", "VORBIS", "ogg"),
        ("OGG", "OPUS", "opus"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
    ],
)
def test_supported_formats_decode(tmp_path, fmt, subtype, ext):
    path = tmp_path / f"ok.{ext}"
    sf.write(path, tone(48000, 2.0), 48000, format=fmt, subtype=subtype)
    info = audio.probe(path)
    assert info.sample_rate == 48000 and info.channels == 1
    samples = audio.load(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 2.0 * audio.SAMPLE_RATE) < 0.1 * audio.SAMPLE_RATE  # mp3 pads a little


def test_stereo_is_mixed_down_to_the_mean(tmp_path):
    left = tone(16000, 1.0)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, 0.5 * left], axis=1), 16000, subtype="FLOAT")
    assert audio.probe(path).channels == 2
    np.testing.assert_allclose(audio.load(path), 0.75 * left, atol=1e-6)


def test_8khz_ogg_is_resampled_to_16khz():
    info = audio.probe(SAA_OGG)
    assert info.sample_rate == 8000
    original, _ = sf.read(SAA_OGG, dtype="float32")
    samples = audio.load(SAA_OGG)
    assert len(samples) == 2 * len(original)
    # band-limited upsampling by 2 keeps the original samples at even positions
    correlation = np.corrcoef(samples[::2], original)[0, 1]
    assert correlation > 0.99
    # and adds nothing above the old Nyquist frequency (4 kHz)
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / audio.SAMPLE_RATE)
    assert spectrum[freqs > 4100].sum() < 1e-3 * spectrum.sum()


@pytest.mark.parametrize("path", [SAA_OGG, AMI_FLAC], ids=["8k-ogg", "16k-flac"])
def test_chunked_iteration_equals_whole_file(path):
    whole = audio.load(path)
    chunks = list(audio.iter_chunks(path, chunk_s=1.7))
    assert len(chunks) > 5
    np.testing.assert_allclose(np.concatenate(chunks), whole, atol=1e-5)


def test_chunked_resampling_of_an_odd_rate_has_no_seams(tmp_path):
    path = tmp_path / "odd-rate.wav"
    sf.write(path, np.stack([tone(44100, 4.3), tone(44100, 4.3, 300)], axis=1), 44100, subtype="FLOAT")
    streamed = np.concatenate(list(audio.iter_chunks(path, chunk_s=0.37)))
    whole = audio.load(path)
    assert len(streamed) == len(whole) == math.ceil(len(tone(44100, 4.3)) * 16000 / 44100)
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_memory_stays_bounded_for_a_long_file(tmp_path):
    """A 30-minute 8 kHz file decodes to 115 MB of 16 kHz float32; streaming it must not hold that
    (measured: streaming grows the peak by ~11 MB, a whole-file load by ~480 MB)."""
    path = tmp_path / "long.wav"
    minute = tone(8000, 60.0)
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_16") as f:
        for _ in range(30):
            f.write(minute)
    script = textwrap.dedent(f"""
        import resource, sys
        from engine import audio
        chunks = audio.iter_chunks({str(path)!r}, chunk_s=30.0)
        total, longest = len(next(chunks)), 0
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for chunk in chunks:
            total += len(chunk)
            longest = max(longest, len(chunk))
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(total, longest, grew)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    total, longest, grew_kib = map(int, out.stdout.split())
    assert total == 30 * 60 * audio.SAMPLE_RATE
    assert longest <= 31 * audio.SAMPLE_RATE  # one chunk plus the resampler's look-ahead at most
    decoded_kib = total * 4 // 1024
    assert grew_kib < decoded_kib / 4, f"peak RSS grew {grew_kib} KiB while streaming {decoded_kib} KiB"
