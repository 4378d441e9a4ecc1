"""Cascade backend on the AMI excerpts: real-time factor, peak memory (RSS) and diarization error rate.

    nice -n 10 .venv/bin/python bench/cascade_ami.py [--recogniser whisper|pocketsphinx]

Options: --recogniser (default whisper; each recogniser has its own table in docs/cascade.md), --threshold T
(clustering distance; default engine.speakers.DEFAULT_THRESHOLD), --oracle-speakers
(give the reference number of speakers), --files dev00 tst00 ... (a subset), --fresh (ignore the checkpoint),
--no-docs (do not rewrite the table in docs/cascade.md).

DER is pyannote.metrics' DiarizationErrorRate inside each file's UEM, overlap scored, with a forgiveness
collar of ±0.25 s around reference boundaries (pyannote's collar=0.5 is the total width). Totals are
Σ error seconds / Σ reference seconds, not a mean of rates. Per-file results are checkpointed after each
file, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import time
from pathlib import Path

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from engine import config
from engine.audio import probe
from engine.backends import backend_for, get_backend
from engine.cascade.recognisers import RECOGNISERS, recogniser
from engine.errors import UserError
from engine.speakers import DEFAULT_THRESHOLD
from engine.transcription import transcribe_file

COLLAR_TOTAL_S = 0.5  # ±0.25 s
DOCS = config.REPO_ROOT / "docs" / "cascade.md"


def markers(recogniser: str) -> tuple[str, str]:
    """Where this recogniser's table sits in docs/cascade.md."""
    return f"<!-- bench/cascade_ami.py {recogniser}: begin -->", f"<!-- bench/cascade_ami.py {recogniser}: end -->"


def read_rttm(paths: list[Path]) -> dict[str, Annotation]:
    annotations: dict[str, Annotation] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            fields = line.split()
            if fields and fields[0] == "SPEAKER":
                uri, onset, duration, speaker = fields[1], float(fields[3]), float(fields[4]), fields[7]
                annotation = annotations.setdefault(uri, Annotation(uri=uri))
                annotation[Segment(onset, onset + duration), len(annotation)] = speaker
    return annotations


def read_uem(paths: list[Path]) -> dict[str, Timeline]:
    regions: dict[str, Timeline] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 4:
                regions.setdefault(fields[0], Timeline(uri=fields[0])).add(Segment(float(fields[2]), float(fields[3])))
    return regions


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def warm_up(recogniser_name: str) -> float:
    """Load every model once before timing, so the per-file RTF is the steady-state cost."""
    import numpy as np

    from engine.cascade import vad
    from engine.speakers import embed_segments

    started = time.perf_counter()
    vad.vad_model()
    recogniser(recogniser_name).recognise(np.zeros(16000, dtype=np.float32), 0.0)
    embed_segments(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), [(0.0, 1.0)])
    return time.perf_counter() - started


def run_file(
    uri: str, audio_path: Path, reference: Annotation, uem: Timeline, backend, num_speakers: int | None
) -> dict:
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    try:
        turns = transcribe_file(audio_path, backend=backend, num_speakers=num_speakers).turns
    except UserError:  # "contains no speech": silero-vad found nothing, which scores as all missed
        turns = []
    cpu_s, wall_s = time.process_time() - cpu_started, time.perf_counter() - wall_started
    hypothesis = Annotation(uri=uri)
    for i, turn in enumerate(turns):
        hypothesis[Segment(turn.start, turn.end), i] = turn.speaker
    metric = DiarizationErrorRate(collar=COLLAR_TOTAL_S, skip_overlap=False)
    parts = metric(reference, hypothesis, uem=uem, detailed=True)
    return {
        "uri": uri,
        "audio_s": probe(audio_path).duration_s,
        "processing_s": wall_s,
        "cpu_s": cpu_s,
        "ref_speakers": len(reference.labels()),
        "hyp_speakers": len({t.speaker for t in turns}),
        "scored_s": parts["total"],
        "missed_s": parts["missed detection"],
        "false_alarm_s": parts["false alarm"],
        "confusion_s": parts["confusion"],
        "peak_rss_mb": peak_rss_mb(),
    }


def table(rows: list[dict]) -> str:
    def line(uri, audio_s, processing_s, cpu_s, ref, hyp, scored, missed, fa, conf, rss):
        der = (missed + fa + conf) / scored if scored else float("nan")
        return (
            f"| {uri} | {audio_s:.1f} | {processing_s:.1f} | {processing_s / audio_s:.3f} "
            f"| {cpu_s / audio_s:.3f} | {ref} | {hyp} "
            f"| {100 * missed / scored:.1f} | {100 * fa / scored:.1f} | {100 * conf / scored:.1f} "
            f"| **{100 * der:.1f}** | {rss:.0f} |"
        )

    out = [
        "| file | audio s | wall s | RTF (wall) | RTF (CPU) | ref spk | hyp spk | miss % | FA % | conf % "
        "| DER % | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            line(
                r["uri"],
                r["audio_s"],
                r["processing_s"],
                r["cpu_s"],
                r["ref_speakers"],
                r["hyp_speakers"],
                r["scored_s"],
                r["missed_s"],
                r["false_alarm_s"],
                r["confusion_s"],
                r["peak_rss_mb"],
            )
        )
    total = {
        k: sum(r[k] for r in rows)
        for k in (
            "audio_s",
            "processing_s",
            "cpu_s",
            "ref_speakers",
            "hyp_speakers",
            "scored_s",
            "missed_s",
            "false_alarm_s",
            "confusion_s",
        )
    }
    out.append(
        line(
            "**total**",
            total["audio_s"],
            total["processing_s"],
            total["cpu_s"],
            total["ref_speakers"],
            total["hyp_speakers"],
            total["scored_s"],
            total["missed_s"],
            total["false_alarm_s"],
            total["confusion_s"],
            max(r["peak_rss_mb"] for r in rows),
        )
    )
    return "\n".join(out)


def write_docs(text: str, recogniser_name: str) -> None:
    BEGIN, END = markers(recogniser_name)
    doc = DOCS.read_text() if DOCS.exists() else f"# Cascade backend\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    head, rest = doc.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOCS.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recogniser", choices=RECOGNISERS, default=RECOGNISERS[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--oracle-speakers", action="store_true")
    parser.add_argument("--files", nargs="*")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    ami = config.shared_data_dir() / "ami_excerpts"
    references = read_rttm(sorted((ami / "reference").glob("*.rttm")))
    uems = read_uem(sorted((ami / "reference").glob("*.uem")))
    with (ami / "manifest.csv").open() as f:
        uris = [Path(row["file"]).stem for row in csv.DictReader(f)]
    if args.files:
        uris = [u for u in uris if u in args.files]

    name = backend_for("cascade", args.recogniser)
    backend = type(get_backend(name))(threshold=args.threshold)
    tag = f"{args.recogniser}-t{args.threshold:g}" + ("-oracle" if args.oracle_speakers else "")
    checkpoint = config.data_dir() / "bench" / f"cascade_ami-{tag}.jsonl"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        checkpoint.unlink(missing_ok=True)
    done = {}
    if checkpoint.exists():
        done = {r["uri"]: r for r in map(json.loads, checkpoint.read_text().splitlines())}

    load_s = warm_up(args.recogniser)
    rows = []
    for uri in uris:
        if uri not in done:
            speakers = len(references[uri].labels()) if args.oracle_speakers else None
            done[uri] = run_file(uri, ami / "audio" / f"{uri}.flac", references[uri], uems[uri], backend, speakers)
            with checkpoint.open("a") as f:
                f.write(json.dumps(done[uri]) + "\n")
            print(f"{uri}: RTF {done[uri]['processing_s'] / done[uri]['audio_s']:.3f}", file=sys.stderr)
        rows.append(done[uri])

    command = "nice -n 10 .venv/bin/python bench/cascade_ami.py" + "".join(
        f" {a}" for a in sys.argv[1:] if a != "--no-docs"
    )
    text = (
        f"`{command}` — backend `{name}`, clustering threshold {args.threshold:g}, voice-change threshold "
        f"{backend.change_threshold}"
        f"{', oracle number of speakers' if args.oracle_speakers else ''}; DER with ±0.25 s collar, "
        f"overlap scored, inside the UEM; models loaded once before timing ({load_s:.1f} s); "
        f"torch on one thread; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end "
        f"(wall-clock RTF rises with other load on the machine, CPU-time RTF much less).\n\n{table(rows)}"
    )
    print(text)
    if not args.no_docs and not args.files:
        write_docs(text, args.recogniser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
