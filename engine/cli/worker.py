"""python -m engine worker [--daemon] [--idle-exit SECONDS]: run queued background jobs (the app starts it)."""

from __future__ import annotations

import argparse

from engine.jobs import WORKER_IDLE_EXIT_S


def register(subparsers) -> None:
    parser = subparsers.add_parser("worker", help="run queued background jobs of this data directory")
    parser.add_argument("--daemon", action="store_true", help="detach from the terminal / starting process")
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=WORKER_IDLE_EXIT_S,
        metavar="SECONDS",
        help="exit after this long without work (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.worker import daemonize, run_worker

    if args.daemon:
        daemonize()
    return run_worker(args.idle_exit)
