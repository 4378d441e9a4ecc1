"""Text a person typed or uploaded (file names, speaker names), shown exactly as written.

Pages put such text in elements that parse nothing (st.html of escaped text, st.text, dataframes, select
options); `literal_markdown` is for the few places that only take Markdown (button labels).
"""

from __future__ import annotations

import re

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:=\"'^/])")
WORD_JOINER = "\u2060"  # invisible; stops Streamlit reading ":name/icon:" or "://" (autolinks) in escaped text


def literal_markdown(text: str) -> str:
    """`text` as Markdown that renders to exactly its characters (no emphasis, links, :colour[] or icons)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text).replace(":", ":" + WORD_JOINER)
