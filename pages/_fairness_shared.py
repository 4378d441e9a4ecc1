"""What the fairness pages share: the system pickers, cached per-set data, literal text, a compact pydeck Deck."""

from __future__ import annotations

import json
import re

import pandas as pd
import pydeck as pdk
import streamlit as st
from pydeck.bindings.json_tools import default_serialize

from engine import config, persistence
from engine.errors import UserError
from engine.fairness import basemap, compare, places
from engine.fairness.demo import DEMO_SET_NAME, DEMO_SET_NAMES

NO_COMPARISON = "(no comparison)"
# Every ASCII punctuation mark a Markdown renderer may act on (emphasis, links, lists, headings, tables,
# :colour[...] directives, $math$); '<', '>' and '&' are written as HTML entities instead, which read the same
# inside and outside unsafe_allow_html blocks.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$^=\"'])")


# GFM turns bare URLs and e-mail addresses into links after escapes are read; an invisible word joiner
# (U+2060) inside "://", "www." and "@" keeps them text.
_AUTOLINKS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def literal(text) -> str:
    """User-supplied text for st.markdown/st.caption/st.warning/st.table: shown as typed, never as Markdown,
    HTML or a link."""
    unlinked = _AUTOLINKS.sub("\u2060", str(text))
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", unlinked)
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def speaker_totals(set_id: int, created_at) -> pd.DataFrame:
    """Per-speaker totals of a stored set. The cache key is the database, the set id and its creation time
    (as for every cached reader here): ids repeat across databases, and a replaced set may reuse one."""
    return _speaker_totals(config.database_url(), set_id, created_at)


@st.cache_data(max_entries=8, show_spinner=False)
def _speaker_totals(url: str, set_id: int, created_at) -> pd.DataFrame:
    return persistence.speaker_totals(set_id, url=url)


def speaker_areas(set_id: int, created_at) -> list[tuple[str, str | None]]:
    """(country, US state) per speaker, in speaker_totals' order (for region names)."""
    return _speaker_areas(config.database_url(), set_id, created_at)


@st.cache_data(max_entries=8, show_spinner=False)
def _speaker_areas(url: str, set_id: int, created_at) -> list[tuple[str, str | None]]:
    totals = speaker_totals(set_id, created_at)
    return places.speaker_areas(list(totals["attributes"]), totals["lat"].to_numpy(), totals["lon"].to_numpy())


@st.cache_data(max_entries=16, show_spinner=False)
def _totals_of_b(url: str, set_a: tuple[int, object], set_b: tuple[int, object], name_b: str) -> pd.DataFrame:
    """System B's per-speaker errors and words in system A's speaker order (UserError: other speakers)."""
    return compare.aligned(speaker_totals(*set_a), speaker_totals(*set_b), name_b)


def pick_systems(key: str) -> tuple[persistence.EvaluationSetInfo, persistence.EvaluationSetInfo | None]:
    """The sidebar's system (evaluation set) picker and the optional second system to compare with.

    The Whisper demo set opens first, compared with the pocketsphinx demo set. Stops the page with a hint
    when there is no set."""
    sets = persistence.list_evaluation_sets()
    if not sets:
        st.info("No evaluation set yet: import one with `python -m engine fairness import FILE --name NAME`.")
        st.stop()
    names = [s.name for s in sets]
    name = st.selectbox(
        "System (evaluation set)",
        names,
        key=f"{key}-set",
        index=names.index(DEMO_SET_NAME) if DEMO_SET_NAME in names else 0,
        help="The recogniser's results to analyse: regions and cohorts are found on this one.",
    )
    others = [n for n in names if n != name]
    default = next((n for n in others if name in DEMO_SET_NAMES and n in DEMO_SET_NAMES), NO_COMPARISON)
    other = st.selectbox(
        "Compare with",
        [NO_COMPARISON, *others],
        key=f"{key}-compare",
        index=[NO_COMPARISON, *others].index(default),
        help="A second system on the same speakers, measured on the same regions or cohorts.",
    )
    info = next(s for s in sets if s.name == name)
    return info, next((s for s in sets if s.name == other), None)


def comparison_totals(info_a, info_b) -> pd.DataFrame | None:
    """B's totals aligned to A's speakers, or None (with a warning on the page) when they hold other speakers."""
    if info_b is None:
        return None
    try:
        return _totals_of_b(
            config.database_url(), (info_a.id, info_a.created_at), (info_b.id, info_b.created_at), info_b.name
        )
    except UserError as exc:
        st.warning(literal(exc))
        return None


def paired_comparison(analysis_id: int, info_b, totals_a, totals_b, groups) -> pd.DataFrame:
    """compare.side_by_side of A and B on an analysis's groups of speakers (positions in A's totals). A stored
    analysis fixes its groups and the bootstrap is seeded, so the result is computed once per analysis and
    system B: the paired bootstrap cost every rerun 0.1-0.15 s."""
    return _paired_comparison(
        config.database_url(), analysis_id, (info_b.id, info_b.created_at), totals_a, totals_b, groups
    )


@st.cache_data(max_entries=32, show_spinner=False)
def _paired_comparison(url: str, analysis_id: int, set_b: tuple, _totals_a, _totals_b, _groups) -> pd.DataFrame:
    return compare.side_by_side(
        _totals_a["errors"].to_numpy(),
        _totals_a["words"].to_numpy(),
        _totals_b["errors"].to_numpy(),
        _totals_b["words"].to_numpy(),
        _groups,
    )


def system_legend(info_a, info_b) -> None:
    """Which system is A and which is B, in plain text (set names are user text)."""
    st.text(f"A = {info_a.name}" + (f"    B = {info_b.name}" if info_b is not None else ""))


# Pixels per character of the dataframe's font, and for the header's padding and sort arrow: a column sized
# from its longest text shows every header and value whole ("WER %" never reads "WEF").
_CHAR_PX, _PAD_PX, _MAX_PX = 7.6, 34, 520


def show_table(frame: pd.DataFrame) -> None:
    """A small table that wraps its text to the page width, so no header or value is ever cut off. st.table
    renders Markdown, so every text cell and header is escaped: the table shows exactly what it holds."""
    shown = frame.copy()
    shown.columns = [literal(c) for c in shown.columns]
    for column in shown.columns:
        if not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = [("" if v is None or v != v else literal(v)) for v in shown[column].tolist()]
    st.table(shown, hide_index=True)


def show_grid(frame: pd.DataFrame) -> None:
    """A long table (scrolls, sorts) whose columns are sized to fit each header and value."""

    def width(column) -> int:
        longest = max([len(str(column)), *(len(str(v)) for v in frame[column].tolist())])
        return int(min(_MAX_PX, _PAD_PX + _CHAR_PX * longest))

    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={column: st.column_config.Column(width=width(column)) for column in frame.columns},
    )


class CompactDeck(pdk.Deck):
    """A Deck whose JSON is compact: pydeck indents it, which forces Python's slow pure-Python encoder
    (0.2 s and 6x the bytes for the outline layer alone, on every rerun)."""

    def to_json(self) -> str:
        return json.dumps(self, default=default_serialize, separators=(",", ":"))


def outline_layer(segments: pd.DataFrame, layer_id: str, width: float, colour: str | list[int] = "colour") -> pdk.Layer:
    """Outlines from mapdata.outline_table: straight segments, `width` pixels wide, coloured by the
    table's column `colour` or all in one RGBA colour."""
    return pdk.Layer(
        "LineLayer",
        segments,
        id=layer_id,
        get_source_position="source",
        get_target_position="target",
        get_color=colour,
        get_width=width,
    )


def basemap_layer() -> pdk.Layer:
    """The land and the grey country and state borders every map draws under its regions: one image."""
    return pdk.Layer(
        "BitmapLayer",
        None,
        id="basemap",
        image=pdk.types.String(basemap.data_url()),  # a plain string would be read as an accessor expression
        bounds=basemap.BOUNDS,
    )
