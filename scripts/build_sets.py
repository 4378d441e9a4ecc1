"""Build the named standard simulated sets under data/sets/<name> (not committed; rebuilt bit-identically).

    .venv/bin/python scripts/build_sets.py                 # train, dev, test, test-human
    .venv/bin/python scripts/build_sets.py test dev        # only these

Recipes and seeds live in engine/simulate/standard.py and are copied into each set's recipe.json;
docs/simulation.md lists them. Resumable: an interrupted build continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys

from engine.simulate.standard import STANDARD_SETS, build_standard_set


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in STANDARD_SETS]
    if unknown:
        print(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(STANDARD_SETS)}", file=sys.stderr)
        return 2
    for name in names or list(STANDARD_SETS):
        print(build_standard_set(name))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="SET", help=f"sets to build (default: all of {', '.join(STANDARD_SETS)})"
    )
    sys.exit(main(parser.parse_args().names))
