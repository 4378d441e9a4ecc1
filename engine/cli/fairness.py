"""python -m engine fairness import|run|regions|cohorts|list — evaluation sets and fairness analyses.

    python -m engine fairness import FILE --name NAME [--replace]
    python -m engine fairness run --backend cascade --audio-manifest FILE --name NAME
    python -m engine fairness regions NAME [--min-speakers K --min-words W --max-regions R --alpha A] [--json OUT]
    python -m engine fairness cohorts NAME --method geodemographic|automatic [--k K] [--json OUT]
    python -m engine fairness list

The database is the one CROSSTALK_DATABASE_URL names (default: SQLite under the data directory).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import UserError

UNMATCHED_SHOWN = 20


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "fairness", help="evaluation sets, regional WER, cohort discovery", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="fairness_command", required=True)

    p = sub.add_parser("import", help="import a CSV/Parquet/JSONL evaluation set")
    p.add_argument("file", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--replace", action="store_true", help="replace a set of the same name")
    p.add_argument("--attribution", default="", help="credit line shown with the set")
    p.set_defaults(func=run_import)

    p = sub.add_parser("run", help="build an evaluation set by running a backend over audio")
    p.add_argument("--backend", default="cascade")
    p.add_argument(
        "--audio-manifest",
        type=Path,
        required=True,
        help="CSV/JSONL/Parquet: utterance_id, speaker_id, audio, reference (+ location, demographics)",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--speakers", type=int, default=1, help="speakers per file (default 1)")
    p.add_argument("--replace", action="store_true")
    p.set_defaults(func=run_backend)

    p = sub.add_parser("regions", help="clustering tree over (lon, lat): regions ranked by WER")
    p.add_argument("name")
    p.add_argument("--min-speakers", type=int, default=None, help="default: 2 %% of speakers, at least 10")
    p.add_argument("--min-words", type=int, default=200)
    p.add_argument("--max-regions", type=int, default=12)
    p.add_argument("--alpha", type=float, default=None, help="keep only splits with bootstrap p < alpha")
    p.add_argument("--json", type=Path, default=None, help="write the regions as JSON")
    p.set_defaults(func=run_regions)

    p = sub.add_parser("cohorts", help="geodemographic or automatic (k-means) cohorts ranked by WER")
    p.add_argument("name")
    p.add_argument("--method", required=True, choices=("geodemographic", "automatic"))
    p.add_argument("--k", type=int, default=6, help="k-means clusters (automatic)")
    p.add_argument("--min-speakers", type=int, default=10)
    p.add_argument("--min-words", type=int, default=200)
    p.add_argument("--gap-reference", choices=("rest", "top"), default="rest")
    p.add_argument("--json", type=Path, default=None, help="write the cohorts as JSON")
    p.set_defaults(func=run_cohorts)

    p = sub.add_parser("list", help="list evaluation sets")
    p.set_defaults(func=run_list)


def _database() -> None:
    from engine import persistence

    persistence.ensure_schema()


def _check_output(path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise UserError(f"The output folder {path.parent} does not exist.")


def _bars(n_rows: int):
    from tqdm import tqdm

    return (
        tqdm(total=n_rows, desc="scoring", unit="utt", disable=None, leave=False),
        tqdm(total=n_rows, desc="storing", unit="utt", disable=None, leave=False),
    )


def _report_import(result) -> None:
    info = result.info
    print(
        f"Imported '{info.name}': {info.n_speakers} speakers, {info.n_utterances} utterances, "
        f"WER {100 * result.wer:.2f} % ({result.errors} errors / {result.ref_words} words)."
    )
    geo = result.geocoding
    if geo.speakers_with_place:
        levels = ", ".join(f"{k} {v}" for k, v in sorted(geo.levels.items()))
        print(
            f"Geocoding: {geo.matched} of {geo.speakers_with_place} places matched "
            f"({100 * geo.match_rate:.1f} %; {levels})."
        )
        for speaker, place in geo.unmatched[:UNMATCHED_SHOWN]:
            print(f"  unmatched: speaker {speaker}: {place!r}")
        if len(geo.unmatched) > UNMATCHED_SHOWN:
            print(f"  … and {len(geo.unmatched) - UNMATCHED_SHOWN} more")


def run_import(args: argparse.Namespace) -> int:
    _database()
    from engine.fairness import tables
    from engine.fairness.importing import import_frame

    frame = tables.load_raw(args.file)
    scoring, storing = _bars(len(frame))
    with scoring, storing:
        result = import_frame(
            frame,
            args.name,
            source=str(args.file),
            attribution=args.attribution,
            replace=args.replace,
            on_scored=scoring.update,
            on_stored=storing.update,
        )
    _report_import(result)
    return 0


def run_backend(args: argparse.Namespace) -> int:
    _database()
    from tqdm import tqdm

    from engine.fairness.audio_run import read_manifest, recognise_manifest
    from engine.fairness.importing import import_frame

    n = len(read_manifest(args.audio_manifest))
    with tqdm(total=n, desc=f"{args.backend} over audio", unit="file", disable=None) as bar:
        frame = recognise_manifest(args.audio_manifest, args.backend, args.speakers, bar.update)
    result = import_frame(
        frame.drop(columns="audio"),
        args.name,
        source=f"{args.backend} over {args.audio_manifest}",
        replace=args.replace,
    )
    _report_import(result)
    return 0


def run_regions(args: argparse.Namespace) -> int:
    _database()
    from engine.fairness.analyses import run_regions as analyse
    from engine.fairness.regions import RegionParams
    from engine.fairness.reports import regions_document, write_json

    _check_output(args.json)
    if args.max_regions < 1:
        raise UserError("--max-regions must be at least 1.")
    analysis = analyse(
        args.name,
        RegionParams(
            min_speakers=args.min_speakers, min_words=args.min_words, max_regions=args.max_regions, alpha=args.alpha
        ),
    )
    s = analysis.summary
    print(
        f"{s['n_regions']} regions over {s['n_speakers']} located speakers "
        f"(overall WER {100 * s['overall_wer']:.2f} %; analysis {analysis.id})"
    )
    print(f"{'rank':>4} {'WER %':>7} {'95% CI':>15} {'speakers':>8} {'words':>9} flagged")
    for r in analysis.rows:
        print(
            f"{r['rank']:>4} {100 * r['wer']:7.2f} {100 * r['ci_low']:7.2f}–{100 * r['ci_high']:<7.2f}"
            f"{r['n_speakers']:>8} {r['ref_words']:>9} {'yes' if r['flagged'] else ''}"
        )
    if args.json:
        write_json(regions_document(analysis), args.json)
    return 0


def run_cohorts(args: argparse.Namespace) -> int:
    _database()
    from engine.fairness.analyses import run_cohorts as analyse
    from engine.fairness.cohorts import CohortParams
    from engine.fairness.reports import cohorts_document, write_json

    _check_output(args.json)
    if args.k < 2:
        raise UserError("--k must be at least 2.")
    analysis = analyse(
        args.name,
        args.method,
        CohortParams(
            min_speakers=args.min_speakers, min_words=args.min_words, k=args.k, gap_reference=args.gap_reference
        ),
    )
    s = analysis.summary
    if s.get("bottom_wer") is not None:
        print(
            f"{args.method}: bottom WER {100 * s['bottom_wer']:.2f} %, rest {100 * s['rest_wer']:.2f} %, "
            f"gap {s['wer_gap_pct']:+.1f} % (CI {s['gap_ci'][0]:+.1f} … {s['gap_ci'][1]:+.1f}), "
            f"bottom share {s['bottom_share_pct']:.1f} %, permutation p = {s['p_value']:.3f}"
        )
    for c in analysis.rows:
        print(
            f"{'*' if c['is_bottom'] else ' '} {c['label'][:60]:<60} WER {100 * c['wer']:6.2f} % "
            f"[{100 * c['ci_low']:.2f}, {100 * c['ci_high']:.2f}] n={c['n_speakers']}"
            f"{' (small)' if c['small'] else ''}"
        )
    if args.json:
        write_json(cohorts_document(analysis), args.json)
    return 0


def run_list(args: argparse.Namespace) -> int:
    _database()
    from engine import persistence

    for info in persistence.list_evaluation_sets():
        print(f"{info.name}\t{info.n_speakers} speakers\t{info.n_utterances} utterances")
    return 0
