"""nice -n 10 .venv/bin/python bench/mitigation_page_speed.py [--runs 5]

How long the Mitigation page takes to render for a visitor, on a fresh database seeded with the shipped
experiments (engine/assets/mitigation_demo.json): the first run in a fresh server process (imports, database,
caches empty) and the following runs, each a new session (Streamlit's AppTest). Prints a table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "mitigation.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1.")
    os.environ["CROSSTALK_DATA_DIR"] = tempfile.mkdtemp()
    os.environ.pop("CROSSTALK_DATABASE_URL", None)
    from streamlit.testing.v1 import AppTest

    from engine import persistence
    from engine.mitigation.demo import seed_demo_experiments

    persistence.ensure_schema()
    seeded = seed_demo_experiments()
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        at = AppTest.from_file(PAGE, default_timeout=120)
        at.run()
        times.append(time.perf_counter() - started)
        if at.exception:
            raise SystemExit(f"the page failed: {at.exception[0].message}")
    later = sorted(times[1:])
    print(
        f"| experiments | first render s | later renders s (median) |\n|---:|---:|---:|\n"
        f"| {seeded} | {times[0]:.2f} | {f'{later[len(later) // 2]:.2f}' if later else '–'} |"
    )


if __name__ == "__main__":
    main()
