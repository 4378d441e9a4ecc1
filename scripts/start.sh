#!/usr/bin/env bash
# Set up (idempotent) and start the dashboard on its embedded defaults: SQLite file under ./data,
# bundled model, demo data. Extra arguments go to `streamlit run` (e.g. --server.port 8600); scripts/serve.py
# says why it wraps `streamlit run app.py`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/serve.py "$@"
