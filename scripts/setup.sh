#!/usr/bin/env bash
# Idempotent setup: Debian packages, a local .venv with the pinned requirements.
#   bash scripts/setup.sh [--with-postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_system.sh "$@"

PY=${PYTHON:-python3.11}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
# Reinstall only when requirements changed since the last successful install.
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  # resemblyzer declares webrtcvad (a source build); webrtcvad-wheels provides the same module.
  .venv/bin/pip install -q --no-deps -r requirements-nodeps.txt
  # The project itself, editable: `engine` and `db` import from anywhere, `crosstalk` is the CLI.
  .venv/bin/pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
