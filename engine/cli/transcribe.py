"""python -m engine transcribe AUDIO [--backend cascade|sst] [--recogniser whisper|pocketsphinx]
    [--speakers N] --out OUT.json [--format stm|rttm|ctm|srt|vtt|csv]

Writes the speaker-attributed transcript (SegLST by default). Formats that produce several files
(RTTM + UEM, one CTM per speaker) write them beside OUT, named after it. `--recogniser` picks the
cascade's recogniser (Whisper tiny.en by default; pocketsphinx is the classic hybrid one): it is the
backend `cascade` or `cascade-pocketsphinx`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from engine.audio import probe
from engine.backends import BACKENDS, backend_for
from engine.cascade.recognisers import RECOGNISERS
from engine.cli.progress import progress_bar
from engine.errors import UserError
from engine.exports import FORMATS, render, safe_name
from engine.transcription import transcribe_file


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transcribe", help="speaker-attributed transcript of one recording", description=__doc__.splitlines()[0]
    )
    parser.add_argument("audio", type=Path, help="wav, flac, ogg/opus or mp3")
    parser.add_argument("--backend", default="cascade", choices=BACKENDS)
    parser.add_argument(
        "--recogniser",
        choices=RECOGNISERS,
        help="the cascade's recogniser (default whisper); only with the cascade backend",
    )
    parser.add_argument("--speakers", type=int, default=None, help="number of speakers, if known")
    parser.add_argument("--out", type=Path, required=True, help="output file (SegLST JSON unless --format)")
    parser.add_argument("--format", default="seglst", choices=FORMATS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.out.parent.is_dir():
        raise UserError(f"The output folder {args.out.parent} does not exist.")
    backend = backend_for(args.backend, args.recogniser)
    probe(args.audio)  # bad input fails here, before a progress bar has drawn anything
    with progress_bar() as progress:  # stderr: a bar on a terminal, a line every 15 s in a log or a pipe
        result = transcribe_file(args.audio, backend=backend, num_speakers=args.speakers, progress=progress)
    files = render(result.turns, args.format, session_id=args.audio.stem, duration_s=result.duration_s)
    targets = _targets(files, args.out, args.audio.stem)
    for target, (_, text) in zip(targets, files):
        _write_atomically(target, text)
    speakers = len({t.speaker for t in result.turns})
    print(
        f"{len(result.turns)} turns, {speakers} speakers, {result.duration_s:.1f} s of audio "
        f"in {result.processing_s:.1f} s (RTF {result.rtf:.2f}) → {', '.join(map(str, targets))}"
    )
    return 0


def _targets(files: list[tuple[str, str]], out: Path, session_id: str) -> list[Path]:
    """One file goes to OUT itself; several are named OUT's stem + what follows the session id in their name."""
    if len(files) == 1:
        return [out]
    prefix = len(safe_name(session_id))
    return [out.parent / (out.stem + name[prefix:]) for name, _ in files]


def _write_atomically(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
