"""SST ablations on the dev set: ORC-WER per condition and turn counting for each variant of decoding a file.

    nice -n 10 .venv/bin/python bench/sst_ablations.py --model FILE.pt [--model OTHER.pt …] [--limit 30]
        [--variants shipped decoder_off transducer_turns]

Each --model is one row per variant: `shipped` decodes as the file's card says, `decoder_off` takes the
transducer head's words instead of Whisper's decoder, `transducer_turns` takes turn boundaries from the
transducer's <sot>/<eot> instead of the activity head. Separator off (Whisper alone) and the separator's
placement are files of their own (engine/sst/recipes/whisper_alone.json, sidecar.json with split_after 1/2/3),
passed as further --model. Hypotheses are kept under data/sst/ablations/ so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import config
from engine.backends.sst import SSTBackend
from engine.evaluate import evaluate
from engine.sst.package import package_id

VARIANTS = {"shipped": {}, "decoder_off": {"decoder_pass": False}, "transducer_turns": {"turn_source": "transducer"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--set", dest="set_dir", type=Path, default=config.data_dir() / "sets" / "dev")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    for model in args.model:
        if not model.is_file():
            sys.exit(f"{model} is not a file; pass --model with an SST file.")
    rows = []
    for model in args.model:
        for variant in args.variants:
            backend = SSTBackend(model, **VARIANTS[variant])
            hyps = config.data_dir() / "sst" / "ablations" / f"{package_id(model)}-{variant}-{args.set_dir.name}"
            r = evaluate(
                "sst",
                args.set_dir,
                limit=args.limit,
                backend=backend,
                hyp_dir=hyps,
                progress=lambda i, n, s: print(f"{model.name} {variant}: {i}/{n} {s}", file=sys.stderr),
            )
            per_condition = " | ".join(f"{c['orc_wer']['wer'] * 100:.1f}" for c in r["conditions"].values())
            o = r["overall"]
            rows.append(
                f"| {model.name} | {variant} | {per_condition} | {o['orc_wer']['wer'] * 100:.1f} "
                f"({o['orc_wer']['errors']}/{o['orc_wer']['words']}) | "
                f"{o['turns']['turn_count_accuracy'] * 100:.0f} | {o['rtf']:.3f} |"
            )
            conditions = " | ".join(r["conditions"])
    print(f"{args.set_dir.name}, {r['overall']['meetings']} meetings\n")
    print(f"| file | variant | {conditions} | ORC-WER % (errors/words) | turn counting % | RTF |")
    print("|---|---|" + "---:|" * (len(r["conditions"]) + 3))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
