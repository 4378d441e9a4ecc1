#!/usr/bin/env bash
# Set up (idempotent) and run the default test suite: unit, db (SQLite; PostgreSQL too when
# CROSSTALK_TEST_POSTGRES_URL is set), CLI, AppTest smoke tests and real-browser tests.
# Slow tests (training runs) are opt-in: bash scripts/test.sh -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
