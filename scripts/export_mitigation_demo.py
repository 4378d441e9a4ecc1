"""Ship stored mitigation experiments with the dashboard (engine/assets/mitigation_demo.json):

    .venv/bin/python scripts/export_mitigation_demo.py ID [ID ...]     # ids from `python -m engine mitigate list`

The app seeds them into its database on start (engine/mitigation/demo.py); the list replaces the shipped one,
so name every experiment to ship (EWC and ARW alike).
"""

from __future__ import annotations

import argparse

from engine.mitigation.demo import DEMO_JSON, export_experiments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", type=int, nargs="+")
    args = parser.parse_args()
    export_experiments(args.ids)
    print(f"wrote {DEMO_JSON} ({DEMO_JSON.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
