"""Serve the dashboard:  .venv/bin/python scripts/serve.py [streamlit options, e.g. --server.port 8600]

`streamlit run app.py`, with one thing set first. Until a script of the process has called st.navigation,
Streamlit treats an app with a pages/ folder as a version-1 multipage app, so the first visitor of a fresh
server who opens a page's URL (/cohorts) would run pages/cohorts.py alone: no migrations, no seeded demo, no
sidebar. app.py routes every page with st.navigation, so the process is told so before it serves anyone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

APP = Path(__file__).resolve().parent.parent / "app.py"

if __name__ == "__main__":
    PagesManager.uses_pages_directory = False
    sys.exit(cli.main(["run", str(APP), *sys.argv[1:]]))
