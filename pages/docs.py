"""Docs: the README, the notes under docs/ and the model card under models/, rendered inside the dashboard.

The document shown is in the URL (?doc=docs/app.md). Links between documents open them here (in a new tab,
as Streamlit opens every link); images are read from the repository and shown with st.image.
"""

from __future__ import annotations

import streamlit as st

from engine.config import REPO_ROOT
from engine.documents import Image, blocks, document_paths, title

DEFAULT = "README.md"

documents = document_paths(REPO_ROOT)
st.title("Docs")
wanted = st.query_params.get("doc", DEFAULT)
choice = st.selectbox(
    "Document",
    list(documents),
    index=list(documents).index(wanted if wanted in documents else DEFAULT),
    format_func=lambda key: title(documents[key]),
    key="doc",
)
st.query_params["doc"] = choice
st.caption(f"`{choice}`")
for block in blocks(documents[choice], REPO_ROOT, documents, run_id=st.session_state.get("run_id")):
    if isinstance(block, Image):
        st.image(str(block.path), caption=block.alt or None)
    else:
        st.markdown(block)
