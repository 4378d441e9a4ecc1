"""Audio in: probe and validate an upload, then decode it to mono float32 at 16 kHz.

`iter_chunks` streams a file of any length in fixed blocks (bounded memory); `load` decodes a whole
short file in one go. Both give the same samples (tests compare them). wav/flac/ogg/opus/mp3 are decoded
by soundfile (libsndfile); webm/m4a need ffmpeg, which is used only when it is installed.
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from engine import config
from engine.errors import UserError

SAMPLE_RATE = 16000
SUPPORTED = "wav, flac, ogg/opus or mp3"
MIN_RATE, MAX_RATE = 4000, 384000  # outside this no real recording exists: the header is broken
TAIL_FRAMES = 4096  # decoded at the end of the file to catch truncation without reading it all


@dataclass
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    frames: int
    format: str


def check_size(n_bytes: int) -> None:
    limit = config.max_upload_bytes()
    if n_bytes > limit:
        raise UserError(f"The file is {n_bytes / 2**20:.0f} MB, over the upload limit of {limit / 2**20:.0f} MB.")


def probe(path: Path | str) -> AudioInfo:
    """Read the header and decode the first and last blocks; raise UserError for anything unusable."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"The audio file {path.name} does not exist.")
    n_bytes = path.stat().st_size
    if n_bytes == 0:
        raise UserError("The file is empty.")
    check_size(n_bytes)
    container = _ffmpeg_container(path)
    if container:
        return _ffmpeg_probe(path, container)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        raise UserError(f"This file is not audio in a supported format ({SUPPORTED}).") from None
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise UserError(f"The file claims a sample rate of {info.samplerate} Hz, which no real recording has.")
    if info.frames <= 0 or info.channels <= 0:
        raise UserError("The recording has no audio samples.")
    if _is_truncated(path, info):
        raise UserError("The audio file is truncated or corrupt: it ends before its header says it should.")
    return AudioInfo(
        duration_s=info.frames / info.samplerate,
        sample_rate=info.samplerate,
        channels=info.channels,
        frames=info.frames,
        format=info.format,
    )


def _is_truncated(path: Path, info) -> bool:
    if info.format == "WAV" and _wav_data_missing(path):
        return True  # libsndfile silently shortens a cut WAV; its header still says how long it was
    if info.format == "OGG" and not _ogg_has_end_of_stream(path):
        return True  # an Ogg stream is only complete when its last page carries the end-of-stream flag
    try:
        with sf.SoundFile(str(path)) as f:
            head = f.read(min(f.frames, TAIL_FRAMES), dtype="float32")
            f.seek(max(0, f.frames - TAIL_FRAMES))
            tail = f.read(TAIL_FRAMES, dtype="float32")
    except (sf.LibsndfileError, RuntimeError):
        return True
    return len(head) == 0 or len(tail) < min(info.frames, TAIL_FRAMES)


def _wav_data_missing(path: Path) -> bool:
    """True when the RIFF 'data' chunk declares more bytes than the file holds."""
    with path.open("rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return False
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return False
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"data":
                if size == 0xFFFFFFFF:  # streamed WAV of unknown length: nothing to compare against
                    return False
                return f.tell() + size > path.stat().st_size
            f.seek(size + (size & 1), 1)


def _ogg_has_end_of_stream(path: Path) -> bool:
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 65536))
        tail = f.read()
    last_page = tail.rfind(b"OggS")
    return last_page >= 0 and len(tail) > last_page + 5 and bool(tail[last_page + 5] & 0x04)


# --- decoding -------------------------------------------------------------------------------------


def load(path: Path | str) -> np.ndarray:
    """The whole file as mono float32 at 16 kHz, decoded and resampled in one piece (short audio only)."""
    info = probe(path)
    if _ffmpeg_container(Path(path)):
        return np.concatenate(list(_ffmpeg_chunks(Path(path), info.frames)))
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return _resample(data.mean(axis=1), rate)


def iter_chunks(path: Path | str, chunk_s: float = 30.0) -> Iterator[np.ndarray]:
    """Mono float32 16 kHz blocks of about `chunk_s` seconds; memory does not grow with the duration."""
    path = Path(path)
    info = probe(path)
    if _ffmpeg_container(path):
        yield from _ffmpeg_chunks(path, int(chunk_s * SAMPLE_RATE))
        return
    resampler = StreamResampler(info.sample_rate, SAMPLE_RATE)
    block = resampler.block_multiple * max(1, round(chunk_s * info.sample_rate / resampler.block_multiple))
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                data = f.read(block, dtype="float32", always_2d=True)
                if len(data) == 0:
                    break
                out = resampler.push(data.mean(axis=1))
                if len(out):
                    yield out
    except (sf.LibsndfileError, RuntimeError):
        raise UserError("The audio file is corrupt: it could not be decoded to the end.") from None
    out = resampler.flush()
    if len(out):
        yield out


def _resample(samples: np.ndarray, rate: int, new_rate: int = SAMPLE_RATE) -> np.ndarray:
    if rate == new_rate:
        return np.ascontiguousarray(samples, dtype=np.float32)
    # imported here so that validating input (probe) never pays for loading torch
    import torch
    import torchaudio.functional

    return torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(samples)), rate, new_rate).numpy()


class StreamResampler:
    """Resamples a stream block by block and gives the same samples as resampling it whole.

    After dividing both rates by their gcd (orig = g*a, new = g*b), input sample k*a lands exactly on
    output sample k*b. So each step resamples [left context | next `a`-aligned piece | lookahead] and keeps
    only the outputs of the piece: the filter sees real neighbours at every boundary (no clicks), and
    zeros only at the true start and end of the file, exactly as a whole-file resample does.
    """

    def __init__(self, orig_rate: int, new_rate: int):
        g = math.gcd(orig_rate, new_rate)
        self.orig, self.new = orig_rate, new_rate
        self.a, self.b = orig_rate // g, new_rate // g
        self.block_multiple = self.a
        # torchaudio's sinc kernel reaches ~6 zero crossings of the lower rate each side; 0.05 s covers it
        self.context = self.a * math.ceil(max(0.05 * orig_rate, 64) / self.a)
        self.buffer = np.zeros(0, dtype=np.float32)
        self.buffer_start = 0  # absolute input index of buffer[0]
        self.done = 0  # absolute input index up to which output has been produced (multiple of a)
        self.total_in = 0
        self.total_out = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        if self.orig == self.new:
            self.total_in += len(samples)
            return np.asarray(samples, dtype=np.float32)
        self.buffer = np.concatenate([self.buffer, samples.astype(np.float32, copy=False)])
        self.total_in += len(samples)
        ready = (self.total_in - self.context - self.done) // self.a * self.a
        if ready <= 0:
            return np.zeros(0, dtype=np.float32)
        return self._emit(self.done + ready, self.done + ready + self.context)

    def flush(self) -> np.ndarray:
        if self.orig == self.new or self.done >= self.total_in:
            return np.zeros(0, dtype=np.float32)
        return self._emit(self.total_in, self.total_in)

    def _emit(self, until: int, window_end: int) -> np.ndarray:
        window_start = max(0, self.done - self.context)
        window = self.buffer[window_start - self.buffer_start : window_end - self.buffer_start]
        resampled = _resample(window, self.orig, self.new)
        skip = (self.done - window_start) // self.a * self.b
        # whole-file output length is ceil(n*b/a): owe exactly that much up to `until`
        n_out = math.ceil(until * self.b / self.a) - self.total_out
        out = resampled[skip : skip + n_out]
        self.total_out += len(out)
        self.done = until
        keep_from = max(0, self.done - self.context)
        self.buffer = self.buffer[keep_from - self.buffer_start :]
        self.buffer_start = keep_from
        return out


# --- webm/m4a through ffmpeg, only where it is installed -----------------------------------------

_FFMPEG_CONTAINERS = {"webm": "WebM", "m4a": "M4A/MP4"}


def _ffmpeg_container(path: Path) -> str | None:
    """Recognise webm (EBML magic) and m4a/mp4 ('ftyp' box) by their bytes, not by the file name."""
    with path.open("rb") as f:
        head = f.read(12)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "m4a"
    return None


def _require_ffmpeg(container: str) -> str:
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise UserError(
            f"{_FFMPEG_CONTAINERS[container]} audio needs ffmpeg, which is not installed here; "
            f"please upload {SUPPORTED}."
        )
    return ffmpeg


def _ffmpeg_probe(path: Path, container: str) -> AudioInfo:
    _require_ffmpeg(container)
    frames = sum(len(chunk) for chunk in _ffmpeg_chunks(path, 10 * SAMPLE_RATE))
    if frames == 0:
        raise UserError("The recording has no audio samples.")
    return AudioInfo(
        duration_s=frames / SAMPLE_RATE, sample_rate=SAMPLE_RATE, channels=1, frames=frames, format=container.upper()
    )


def _ffmpeg_chunks(path: Path, block_frames: int) -> Iterator[np.ndarray]:
    """Let ffmpeg decode, downmix and resample, and read its raw output block by block."""
    ffmpeg = _require_ffmpeg(_ffmpeg_container(path))
    cmd = [ffmpeg, "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        while block := proc.stdout.read(block_frames * 4):
            yield np.frombuffer(block[: len(block) // 4 * 4], dtype=np.float32).copy()
        if proc.wait() != 0:
            raise UserError("The audio file is truncated or corrupt: ffmpeg could not decode it.")
