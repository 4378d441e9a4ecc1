"""Transcribe: upload or record audio, follow its background job, then read, play, rename and export."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path

import streamlit as st

from engine import config, persistence
from engine.backends import BACKENDS, backend_title
from engine.errors import UserError
from engine.exports import FORMATS, render
from engine.jobs import get_runner
from engine.timeline_figure import clock, speaker_colours, timeline_figure
from engine.transcribe_job import transcription_for
from engine.types import Turn
from pages._literal import literal_markdown

AUDIO_TYPES = ["wav", "flac", "ogg", "opus", "mp3", "webm", "m4a"]
FORMAT_TITLES = {
    "seglst": "SegLST",
    "stm": "STM",
    "rttm": "RTTM + UEM",
    "ctm": "CTM per speaker",
    "srt": "SRT subtitles",
    "vtt": "WebVTT",
    "csv": "CSV of turns",
}
runner = get_runner()


def submit(audio, filename: str, num_speakers: int) -> None:
    try:
        rec = persistence.add_uploaded_recording(audio, filename)
        run = transcription_for(rec.id, st.session_state.get("backend", BACKENDS[0]), num_speakers or None, runner)
    except UserError as exc:
        st.error(str(exc))
        return
    st.session_state.run_id, st.session_state.job_id = run.id, run.job_id
    st.query_params["run"] = str(run.id)  # a reload of the browser comes back to this run


def selected_run() -> persistence.RunInfo | None:
    """The run this visitor is looking at (app.py keeps it in the URL); on a first visit, the demo's transcript."""
    if "run_id" not in st.session_state:
        demo = next((r for r in persistence.list_recordings() if r.is_demo), None)
        finished = demo and persistence.latest_finished_run(demo.id)
        st.session_state.run_id = finished.id if finished else None
        if finished:
            st.query_params["run"] = str(finished.id)
    if st.session_state.run_id is None:
        return None
    try:
        return persistence.get_run(st.session_state.run_id)
    except UserError:  # deleted meanwhile (Library, another tab)
        st.session_state.run_id = None
        st.query_params.pop("run", None)
        return None


PARTIAL_LINES = 6  # newest partial turns shown as text while a job runs


def turn_lines(turns: list[Turn], colours: dict[str, tuple[str, str]] | None = None) -> str:
    """Transcript lines as HTML: speaker names and words are escaped, so they show exactly as written."""
    lines = []
    for t in turns:
        colour = f" style='color:{colours[t.speaker][1]}'" if colours else ""
        note = " <i>(open)</i>" if t.unterminated else ""
        lines.append(
            f"<div class='turn'><code>{clock(t.start)}–{clock(t.end)}</code> "
            f"<b{colour}>{html.escape(t.speaker)}</b>: {html.escape(t.text or '…')}{note}</div>"
        )
    return "\n".join(lines)


@st.fragment(run_every=1.0)
def follow_job(job_id: int, run_id: int, duration_s: float) -> None:
    job = runner.status(job_id)
    if job is None or not job.active:
        st.rerun()  # the whole page: the transcript (or the failure) is ready
    label = {"queued": "Waiting for the worker", "cancelling": "Cancelling"}.get(job.status, "Transcribing")
    # Not `with st.status(...)`: leaving that block marks the box complete (✓) while the job still runs.
    box = st.status(f"{label}… {job.progress:.0%}", expanded=True, state="running")
    box.progress(job.progress, text=job.message or "…")
    box.button(
        "Cancel", key=f"cancel-{job_id}", on_click=runner.cancel, args=(job_id,), disabled=job.status == "cancelling"
    )
    partial = persistence.get_turns(run_id)
    if partial:
        st.caption(
            "Partial turns as the audio is decoded; speakers are attributed when decoding ends "
            "(until then a label is an output channel, or … for not yet known)."
        )
        st.altair_chart(timeline_figure(partial, duration_s), key=f"partial-{run_id}", width="stretch")
        st.html(turn_lines(partial[-PARTIAL_LINES:]))


def session_id(filename: str) -> str:
    return re.sub(r"[^\w.-]+", "_", Path(filename).stem) or "recording"


def rename_form(run_id: int) -> None:
    names = persistence.speaker_names(run_id)
    with st.form(f"rename-{run_id}", border=False):
        columns = st.columns(min(4, max(1, len(names))))
        new_names = {
            label: columns[i % len(columns)].text_input(f"Speaker {label}", value=name)
            for i, (label, name) in enumerate(names.items())
        }
        if st.form_submit_button("Save names"):
            try:
                with persistence.session_scope() as s:  # one unit of work: every changed name, or none
                    for label, name in new_names.items():
                        if name != names[label]:
                            persistence.rename_speaker(s, run_id, label, name)
            except UserError as exc:
                st.error(str(exc))
            else:
                st.rerun()


def show_transcript(run: persistence.RunInfo, rec: persistence.RecordingInfo) -> None:
    turns = persistence.get_turns(run.id, display_names=True)
    if not turns:
        st.warning("No speech was found in this recording.")
        return
    colours = speaker_colours(turns)
    stats = st.columns(4)
    stats[0].metric("Duration", clock(rec.duration_s))
    stats[1].metric("Speakers", len(colours))
    stats[2].metric("Turns", len(turns))
    stats[3].metric(
        "Real-time factor",
        f"{run.rtf:.2f}" if run.rtf is not None else "n/a",
        help="Seconds of compute per second of audio, measured when this run was made "
        "(n/a: a precomputed transcript, such as the demo's).",
    )

    st.altair_chart(timeline_figure(turns, rec.duration_s), key="timeline", width="stretch")

    left, right = st.columns([3, 2])
    with left:
        st.markdown("#### Transcript")
        with st.container(height=420):
            st.html(turn_lines(turns, colours))
    with right:
        st.markdown("#### Play a turn")
        index = st.selectbox(
            "Turn",
            range(len(turns)),
            key=f"turn-{run.id}",
            label_visibility="collapsed",
            format_func=lambda i: f"{clock(turns[i].start)} {turns[i].speaker}: {turns[i].text[:50]}",
        )
        try:
            path = persistence.recording_audio_path(rec.id)
        except UserError as exc:
            st.error(str(exc))
        else:
            st.audio(str(path), start_time=turns[index].start, end_time=turns[index].end)
        st.markdown("#### Speaker names")
        rename_form(run.id)

    st.markdown("#### Download")
    sid = session_id(rec.filename)
    for column, fmt in zip(st.columns(len(FORMATS)), FORMATS):
        column.caption(FORMAT_TITLES.get(fmt, fmt.upper()))
        for name, text in render(turns, fmt, sid, rec.duration_s):
            column.download_button(
                literal_markdown(name.removeprefix(sid).lstrip(".-")),
                data=text,
                file_name=name,
                key=f"download-{name}",
                on_click="ignore",
                icon=":material/download:",
                mime="application/json" if fmt == "seglst" else "text/plain",
                width="stretch",
            )


st.title("Transcribe")
runner.warm_up()  # a worker starting now has its models loaded by the time a file is picked
with st.container(border=True):
    upload_tab, record_tab = st.tabs(["Upload a file", "Record"])
    with upload_tab:
        uploaded = st.file_uploader(
            "Audio file (wav, flac, ogg/opus, mp3)",
            type=AUDIO_TYPES,
            key="upload",
            max_upload_size=config.max_upload_bytes() // 2**20,
        )
    with record_tab:
        recorded = st.audio_input("Record from your microphone", key="microphone")
    options, action = st.columns([3, 1], vertical_alignment="bottom")
    num_speakers = options.number_input("Number of speakers (0: let the system decide)", 0, 20, 0)
    source = uploaded or recorded
    if action.button("Transcribe", type="primary", disabled=source is None, width="stretch"):
        name = uploaded.name if uploaded else f"recording-{datetime.now():%Y%m%d-%H%M%S}.wav"
        submit(source, name, num_speakers)

run = selected_run()
if run is None:
    # A failed upload's run may be gone (bad input is not kept); its job still says why.
    last_job = runner.status(st.session_state.job_id) if st.session_state.get("job_id") else None
    if last_job is not None and last_job.error:
        st.error(last_job.error)
    else:
        st.info("Upload or record a conversation to see who said what, and when.")
    st.stop()
recording = persistence.get_recording(run.recording_id)
job = runner.status(run.job_id) if run.job_id else None  # the runner is the truth while work is under way
status = job.status if job is not None and run.status != "done" else run.status
st.html(f"<h3>{html.escape(recording.filename)}</h3>")  # a file name is shown as written, never as Markdown
active = job is not None and job.active  # then the status box below says how far it is, updated every second
st.caption(
    f"Backend **{backend_title(run.backend)}** · run {run.id}"
    + ("" if active else f" · {status}")
    + (f" · {run.params['num_speakers']} speakers requested" if run.params.get("num_speakers") else "")
)
if recording.is_demo:
    st.info(
        "A ready demo: a short synthetic meeting of three voices (two overlaps), transcribed by the cascade "
        "backend. Upload or record your own audio above.",
        icon=":material/waving_hand:",
    )

if active:
    follow_job(job.id, run.id, recording.duration_s)
elif status in ("failed", "cancelled"):
    st.error(job.error if job and job.error else "This transcription was cancelled before it finished.")
elif status == "done":
    show_transcript(run, recording)
else:
    st.warning("This transcription has no job to run it; re-run it from the Library.")
