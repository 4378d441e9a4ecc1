"""Every page renders (streamlit.testing AppTest) on a fresh temp database, and the demo is there."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import core as vega_lite_schema
from streamlit.testing.v1 import AppTest

from engine import persistence
from engine.exports import FORMATS, render
from engine.timeline_figure import speaker_colours, speaker_order
from tests.conftest import AMI_AUDIO, REPO_ROOT

# The pages app.py routes (one `st.Page("pages/….py", …)` line each); files starting with "_" are helpers.
PAGE_FILES = re.findall(r'st\.Page\("([^"]+)"', (REPO_ROOT / "app.py").read_text())


def run_app(page: str | None = None) -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180).run()
    if page is not None:
        app.switch_page(page).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def clicked(app: AppTest, label: str) -> AppTest:
    return next(b for b in app.button if b.label == label).click().run()


def html_blocks(app: AppTest) -> list[str]:
    return [h.proto.body for h in app.get("html")]


def transcript_lines(app: AppTest) -> list[str]:
    return [line for block in html_blocks(app) for line in block.splitlines() if line.startswith("<div class='turn'>")]


def timeline(app: AppTest) -> tuple[dict, list[dict]]:
    """The page's one Vega-Lite chart, the timeline: its spec, and its rows (Streamlit sends them as Arrow)."""
    (chart,) = app.get("vega_lite_chart")
    return json.loads(chart.proto.spec), pa.ipc.open_stream(chart.proto.data.data).read_all().to_pylist()


def test_first_visit_shows_the_demo_transcript(db_url):
    app = run_app()
    assert "<h3>demo_meeting.flac</h3>" in html_blocks(app)
    demo = persistence.list_recordings()[0]
    run = persistence.latest_finished_run(demo.id)
    turns = persistence.get_turns(run.id)
    spec, rows = timeline(app)
    bars, markers = spec["layer"]
    assert [(r["speaker"], r["start"], r["end"]) for r in rows] == [(t.speaker, t.start, t.end) for t in turns]
    assert bars["encoding"]["y"]["sort"] == speaker_order(turns)  # rows in order of first appearance
    assert bars["encoding"]["color"]["scale"]["range"] == [colour for _, colour in speaker_colours(turns).values()]
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, demo.duration_s]
    assert markers["encoding"]["shape"]["scale"]["domain"] == ["start of turn", "end of turn"]
    assert spec["usermeta"]["embedOptions"]["renderer"] == "svg"
    n_files = sum(len(render(turns, fmt, "demo_meeting", demo.duration_s)) for fmt in FORMATS)
    assert len(app.get("download_button")) == n_files
    transcript = transcript_lines(app)
    assert len(transcript) == len(turns) and turns[0].text in transcript[0]
    assert app.query_params["run"] == str(run.id)  # the run shown is in the URL


def test_user_text_is_shown_literally_never_as_markdown(db_url):
    run_app()  # seeds the demo
    name = "**Q3** <b>review [notes](http:\\example.com) :red[late] _x_.flac"  # a file name has no "/"
    rec = persistence.add_recording(AMI_AUDIO / "trn01.flac", name)
    speaker = "*Al* :blue[ice] [me](javascript:alert(1)) :material/home:"
    demo_turns = persistence.get_turns(persistence.list_runs()[-1].id)
    with persistence.session_scope() as s:
        run = persistence.create_run(s, rec.id, "cascade")
        persistence.save_turns(s, run.id, demo_turns)
        persistence.rename_speaker(s, run.id, "S1", speaker)

    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180)
    app.query_params["run"] = str(run.id)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert f"<h3>{html.escape(name)}</h3>" in html_blocks(app)
    assert any(f"<b style='color:#1c83e1'>{html.escape(speaker)}</b>" in line for line in transcript_lines(app))
    assert speaker in timeline(app)[0]["layer"][0]["encoding"]["y"]["sort"]  # Vega draws it as text, unescaped
    markdown_texts = [m.value for kind in ("markdown", "caption", "warning", "subheader") for m in getattr(app, kind)]
    assert not [t for t in markdown_texts if "Q3" in t or "ice]" in t]  # neither name went through Markdown

    app.switch_page("pages/library.py").run()
    assert not app.exception, [e.message for e in app.exception]
    app.selectbox(key="library-recording").select(rec.id).run()
    assert f"<h4>{html.escape(name)}</h4>" in html_blocks(app)
    assert not [m.value for kind in ("markdown", "caption", "warning") for m in getattr(app, kind) if "Q3" in m.value]
    assert app.query_params["run"] == str(run.id)  # still in the URL after switching page


def test_every_page_file_is_routed():
    files = {
        p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "pages").glob("*.py") if not p.name.startswith("_")
    }
    assert files == set(PAGE_FILES)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_renders_and_its_charts_are_valid_vega_lite(db_url, page):
    app = run_app(page)
    # the app skips Altair's schema check at run time (engine/charts.py); every chart a page draws is checked here
    schema = vega_lite_schema.load_schema()
    for chart in app.get("vega_lite_chart"):
        validate_jsonschema(json.loads(chart.proto.spec), schema)


def test_choosing_sst_warns_what_it_cannot_do(db_url):
    assert not [w for w in run_app().warning if "SST" in w.value]  # the cascade is the default
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180)
    app.session_state["backend"] = "sst"  # as the sidebar's Backend box sets it
    app.run()
    assert app.selectbox(key="backend").value == "sst"
    assert any("does not separate overlapping talkers" in w.value for w in app.warning)


def test_rename_a_speaker_on_the_transcribe_page(db_url):
    app = run_app()
    next(t for t in app.text_input if t.label == "Speaker S1").input("Maya")  # a form: sent on submit
    clicked(app, "Save names")
    assert not app.exception
    run_id = app.session_state["run_id"]
    assert persistence.speaker_names(run_id)["S1"] == "Maya"
    assert any(">Maya</b>:" in line for line in transcript_lines(app))


def test_library_deletes_after_confirmation(db_url):
    run_app()  # seeds the demo
    rec = persistence.add_recording(AMI_AUDIO / "trn01.flac", "trn01.flac")
    demo_turns = persistence.get_turns(persistence.list_runs()[-1].id)
    with persistence.session_scope() as s:
        run = persistence.create_run(s, rec.id, "cascade")
        persistence.save_turns(s, run.id, demo_turns)
    audio = persistence.recording_audio_path(rec.id)

    app = run_app("pages/library.py")
    app.selectbox(key="library-recording").select(rec.id).run()
    app.button(key="delete").click().run()
    assert any("cannot be undone" in w.value for w in app.warning)
    clicked(app, "Keep it")
    assert rec.id in {r.id for r in persistence.list_recordings()}

    app.button(key="delete").click().run()
    clicked(app, "Yes, delete it")
    assert not app.exception
    assert rec.id not in {r.id for r in persistence.list_recordings()}
    assert not Path(audio).exists()
    assert persistence.list_runs(rec.id) == []


def test_a_running_transcription_shows_its_partial_turns(db_url):
    from engine.types import Turn, Word

    run_app()  # migrations and the demo, as on a first visit
    rec = persistence.add_recording(AMI_AUDIO / "trn02.flac", "trn02.flac")
    with persistence.session_scope() as s:
        run = persistence.create_run(s, rec.id, "sst")
        persistence.attach_job(s, run.id, persistence.enqueue_job(s, "transcribe", {"run_id": run.id}))
    claimed = persistence.transact(persistence.claim_next_job, ["transcribe"])
    assert claimed.params == {"run_id": run.id}  # this process is the worker
    persistence.transact(persistence.mark_run_running, run.id)
    persistence.transact(
        persistence.save_partial_turns,
        run.id,
        [
            Turn("ch0", 0.5, 2.0, [Word("good", 0.6, 0.9), Word("morning", 1.0, 1.6)], 0),
            Turn("ch1", 1.8, 3.0, [Word("hello", 2.0, 2.5)], 1, unterminated=True),
        ],
    )

    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180)
    app.query_params["run"] = str(run.id)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    spec, rows = timeline(app)  # the partial timeline, the open turn marked as such
    assert [(r["speaker"], r["words"], r["open"]) for r in rows] == [
        ("ch0", "good morning", False),
        ("ch1", "hello", True),
    ]
    assert "open at end of audio" in spec["layer"][1]["encoding"]["shape"]["scale"]["domain"]
    assert transcript_lines(app) == [
        "<div class='turn'><code>0:00.5–0:02.0</code> <b>ch0</b>: good morning</div>",
        "<div class='turn'><code>0:01.8–0:03.0</code> <b>ch1</b>: hello <i>(open)</i></div>",
    ]
    assert [s.icon for s in app.status] == ["spinner"]  # the status box says running (no ✓ before done)
    assert not [c.value for c in app.caption if "queued" in c.value or "running" in c.value]


def test_docs_open_inside_the_app_with_links_and_images(db_url):
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180)
    app.query_params["doc"] = "README.md"  # as a link from another document opens it
    app.switch_page("pages/docs.py").run()
    assert not app.exception, [e.message for e in app.exception]
    assert [t.value for t in app.title] == ["Docs"]
    assert app.selectbox(key="doc").value == "README.md"
    assert len(app.get("image")) == 1  # docs/transcribe.png, read from the repository
    targets = [t for m in app.markdown for t in re.findall(r"\]\(([^)]+)\)", m.value)]
    assert "?doc=docs/app.md" in targets and "?doc=models/MODEL_CARD.md" in targets
    assert not [t for t in targets if not t.startswith(("http://", "https://", "#", "?doc="))]  # no dead links

    app.selectbox(key="doc").select("models/MODEL_CARD.md").run()  # the model card is a document too
    assert app.query_params["doc"] == "models/MODEL_CARD.md"
    assert any("Model card" in m.value for m in app.markdown)
