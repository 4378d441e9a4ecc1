"""python -m engine evaluate --backend NAME [--recogniser whisper|pocketsphinx] --set DIR [--out results.json]
   [--limit N] [--hyp-dir DIR] [--oracle-speakers] [--no-db] [--checkpoint PATH]

Runs a backend over a simulated set, prints ORC-WER / cpWER / tcpWER, turn and speed metrics per
condition and overall, stores the run in the database (evaluation_runs) and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from engine.cascade.recognisers import RECOGNISERS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a backend on a simulated set",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--backend", required=True)
    p.add_argument(
        "--recogniser",
        choices=RECOGNISERS,
        help="the cascade's recogniser: --backend cascade --recogniser pocketsphinx is cascade-pocketsphinx",
    )
    p.add_argument("--set", dest="set_dir", type=Path, required=True, help="a set built by `simulate`")
    p.add_argument("--out", type=Path, help="also write the results here as JSON")
    p.add_argument("--limit", type=int, help="only the first N meetings (conditions interleaved)")
    p.add_argument("--oracle-speakers", action="store_true", help="tell the backend how many talkers there are")
    p.add_argument(
        "--hyp-dir", type=Path, help="keep each meeting's hypothesis here; a rerun only transcribes the missing ones"
    )
    p.add_argument("--no-db", action="store_true", help="do not store the run in the database")
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="sst only: score this checkpoint instead of models/sst.pt (e.g. choosing one on the dev set)",
    )
    p.set_defaults(func=run)


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _sec(value) -> str:
    return "-" if value is None else f"{value:+.2f}"


def format_table(results: dict) -> str:
    """A Markdown table: one row per condition and one overall."""
    header = (
        "| condition | meetings | words | ORC-WER % | cpWER % | tcpWER % | turn count acc % "
        "| start lat. mean/p50/p90 s | end lat. mean/p50/p90 s | RTF |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    rows = list(results["conditions"].items()) + [("overall", results["overall"])]
    for name, r in rows:
        start, end = r["turns"]["start_latency"], r["turns"]["end_latency"]
        lines.append(
            f"| {name} | {r['meetings']} | {r['cp_wer']['words']} | {_pct(r['orc_wer']['wer'])} | "
            f"{_pct(r['cp_wer']['wer'])} | {_pct(r['tcp_wer']['wer'])} | {_pct(r['turns']['turn_count_accuracy'])} | "
            f"{_sec(start['mean'])} / {_sec(start['p50'])} / {_sec(start['p90'])} | "
            f"{_sec(end['mean'])} / {_sec(end['p50'])} / {_sec(end['p90'])} | "
            f"{'-' if r['rtf'] is None else format(r['rtf'], '.3f')} |"
        )
    return "\n".join(lines)


def run(args) -> int:
    from engine import persistence
    from engine.backends import backend_for
    from engine.evaluate import evaluate, run_params

    args.backend = backend_for(args.backend, args.recogniser)

    bar = tqdm(desc=f"evaluate {args.backend}", unit="meeting")

    def progress(done: int, total: int, session: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(session)
        bar.refresh()

    results = evaluate(
        args.backend, args.set_dir, args.limit, args.oracle_speakers, progress, args.hyp_dir, args.checkpoint
    )
    bar.close()
    print(format_table(results))
    peak = results["overall"]["peak_memory_mb"]
    print("peak memory unknown (kept hypotheses carry none)" if peak is None else f"peak memory {peak:.0f} MB")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if not args.no_db:
        persistence.ensure_schema()
        run_id = persistence.transact(
            persistence.save_evaluation_run, args.backend, args.set_dir.name, run_params(results), results
        )
        print(f"stored as evaluation run {run_id}")
    return 0
