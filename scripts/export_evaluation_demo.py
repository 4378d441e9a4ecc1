"""Ship stored evaluation runs with the dashboard (engine/assets/evaluation_demo.json):

    .venv/bin/python scripts/export_evaluation_demo.py RUN_ID [RUN_ID ...]

(the ids are printed by `python -m engine evaluate`)

The app seeds them into its database on start (engine/evaluation_demo.py); the list replaces the shipped one,
so name every run to ship (SST on the shipped checkpoint and the cascade, same set).
"""

from __future__ import annotations

import argparse
import sys

from engine.errors import UserError
from engine.evaluation_demo import DEMO_JSON, export_runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", type=int, nargs="+", metavar="RUN_ID")
    args = parser.parse_args()
    try:
        export_runs(args.ids)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {DEMO_JSON} ({DEMO_JSON.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
