"""Docs: the README and the project notes under docs/, readable offline inside the dashboard."""
from __future__ import annotations

import streamlit as st

from engine.config import REPO_ROOT

documents = {"README": REPO_ROOT / "README.md"} | {p.stem: p for p in sorted((REPO_ROOT / "docs").glob("*.md"))}
choice = st.radio("Document", list(documents), horizontal=True, label_visibility="collapsed")
st.markdown(documents[choice].read_text())
