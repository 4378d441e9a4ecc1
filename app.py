"""Crosstalk dashboard:  bash scripts/start.sh   (serves it with scripts/serve.py, a wrapper of `streamlit run app.py`)

Routes the pages with st.navigation and draws the shared sidebar (its page links too: the built-in list is
off in .streamlit/config.toml, as it first shows pages/*.py by file name). The database schema is migrated
and the demo recording seeded once per process and database, before any page runs. The run a person is
looking at stays in the URL (?run=N) on every page.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import make_url

from db import init_db
from engine import config, demo, evaluation_demo
from engine.backends import BACKENDS, backend_title
from engine.fairness import demo as fairness_demo
from engine.mitigation import demo as mitigation_demo

st.set_page_config(page_title="Crosstalk", layout="wide")  # no page_icon: icons load from a CDN

# One line per page; the first is the landing page.
PAGES = [
    st.Page("pages/transcribe.py", title="Transcribe", icon=":material/mic:", default=True),
    st.Page("pages/library.py", title="Library", icon=":material/library_music:"),
    st.Page("pages/regional_wer.py", title="Regional WER", icon=":material/map:"),
    st.Page("pages/cohorts.py", title="Cohorts", icon=":material/groups:"),
    st.Page("pages/mitigation.py", title="Mitigation", icon=":material/healing:"),
    st.Page("pages/model.py", title="Model", icon=":material/model_training:"),
    st.Page("pages/docs.py", title="Docs", icon=":material/menu_book:"),
]


@st.cache_resource(show_spinner="Preparing the database…")
def prepared_database(url: str):
    """Migrations applied (idempotent) and the demo seeded, once per process for this database URL."""
    engine = init_db(url)
    demo.seed_demo(url)
    fairness_demo.seed_demo_set(url)
    mitigation_demo.seed_demo_experiments(url)
    evaluation_demo.seed_demo_runs(url)
    return engine


def keep_run_in_url() -> None:
    """A reload or a shared link comes back to the selected run; a page switch drops the query, so put it back."""
    in_url = st.query_params.get("run", "")
    if "run_id" not in st.session_state and in_url.isdigit():
        st.session_state.run_id = int(in_url)
    run_id = st.session_state.get("run_id")
    if run_id is None:
        st.query_params.pop("run", None)
    elif in_url != str(run_id):
        st.query_params["run"] = str(run_id)


prepared_database(config.database_url())
page = st.navigation(PAGES, position="hidden")
keep_run_in_url()

with st.sidebar:
    for listed in PAGES:
        st.page_link(listed)
    if (
        st.selectbox(
            "Backend",
            BACKENDS,
            key="backend",
            format_func=backend_title,
            help="The transcription system new jobs use. The cascade recognises with Whisper tiny.en, "
            "or with pocketsphinx (the classic hybrid recogniser) for comparison.",
        )
        == "sst"
    ):
        st.warning(
            "SST ships with its separator off: it reads one channel with Whisper and does not separate "
            "overlapping talkers. Its numbers beside the cascade's are on the Model page.",
            icon=":material/warning:",
        )
    st.caption("Database")
    # st.text, not st.code: st.code loads a 1.5 MB syntax highlighter, ~0.6 s of every page's first visit.
    st.text(make_url(config.database_url()).render_as_string(hide_password=True))

page.run()
