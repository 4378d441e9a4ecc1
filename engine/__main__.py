"""Command line for every job the pages run:  python -m engine <command> --help

Each command lives in its own module under engine/cli/ exposing `register(subparsers)`; the
registered function returns an exit code. Errors meant for people (bad input) are raised as
`engine.errors.UserError` and printed as one sentence with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.errors import UserError

COMMAND_MODULES = [
    "engine.cli.fairness",
    "engine.cli.transcribe",
    "engine.cli.worker",
    "engine.cli.train",
    "engine.cli.simulate",
    "engine.cli.evaluate",
    "engine.cli.mitigate",
    "engine.cli.batch",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
