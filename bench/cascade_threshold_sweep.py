"""Diarization-only sweep of the cascade's clustering threshold on the AMI excerpts (no ASR, so it is quick).

    nice -n 10 .venv/bin/python bench/cascade_threshold_sweep.py [--thresholds 0.2 0.3 ...] [--files dev00 tst00 ...]

Runs the cascade's VAD and speaker embeddings once per file, then re-clusters them for each threshold
(and with the oracle number of speakers) and prints DER (pyannote.metrics, ±0.25 s collar, overlap scored,
inside the UEM; Σ errors / Σ scored time) and the total number of hypothesis speakers. The turns are those
the backend would produce without its voice-change cuts (whole VAD segments, same merge rule); no words.
"""

from __future__ import annotations

import argparse
import sys

from cascade_ami import COLLAR_TOTAL_S, read_rttm, read_uem
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

from engine import audio, config
from engine.cascade import vad
from engine.cascade.segments_to_turns import merge_segments
from engine.speakers import DEFAULT_THRESHOLD, cluster_speakers, embed_segments, speaker_label

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=THRESHOLDS, help="clustering distances")
    parser.add_argument("--files", nargs="+", help="a subset of the excerpts (e.g. dev00 tst00); default all")
    args = parser.parse_args()
    ami = config.shared_data_dir() / "ami_excerpts"
    references = read_rttm(sorted((ami / "reference").glob("*.rttm")))
    uems = read_uem(sorted((ami / "reference").glob("*.uem")))
    if args.files:
        unknown = sorted(set(args.files) - set(references))
        if unknown:
            parser.error(f"no AMI excerpt named {', '.join(unknown)}; choose from {', '.join(sorted(references))}")
        references = {uri: references[uri] for uri in args.files}
    segmented = {}
    for uri in sorted(references):
        path = ami / "audio" / f"{uri}.flac"
        probs, total = vad.speech_probabilities(audio.iter_chunks(path))
        segments = vad.segments_from_probabilities(probs, total)
        segmented[uri] = (segments, embed_segments(audio.load(path), segments))

    print(
        f"reference speakers in total: {sum(len(r.labels()) for r in references.values())}; "
        f"default threshold {DEFAULT_THRESHOLD:g}\n"
    )
    print("| threshold | hyp speakers | miss % | FA % | conf % | DER % |\n|---|---:|---:|---:|---:|---:|")
    for threshold in (*args.thresholds, "oracle count"):
        metric = DiarizationErrorRate(collar=COLLAR_TOTAL_S, skip_overlap=False)
        n_speakers = 0
        for uri, (segments, embeddings) in segmented.items():
            n_ref = len(references[uri].labels())
            labels = (
                cluster_speakers(embeddings, num_speakers=n_ref)
                if threshold == "oracle count"
                else cluster_speakers(embeddings, threshold=threshold)
            )
            turns = merge_segments([(speaker_label(label), s, e, []) for label, (s, e) in zip(labels, segments)])
            hypothesis = Annotation(uri=uri)
            for i, turn in enumerate(turns):
                hypothesis[Segment(turn.start, turn.end), i] = turn.speaker
            metric(references[uri], hypothesis, uem=uems[uri])
            n_speakers += len(set(labels))
        parts = {k: metric[k] for k in ("missed detection", "false alarm", "confusion", "total")}  # accumulated
        scored = parts["total"]
        print(
            f"| {threshold} | {n_speakers} | {100 * parts['missed detection'] / scored:.1f} "
            f"| {100 * parts['false alarm'] / scored:.1f} | {100 * parts['confusion'] / scored:.1f} "
            f"| {100 * abs(metric):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
