"""Library: past recordings and their transcription runs; reopen, re-run with another backend, delete."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from engine import persistence
from engine.backends import BACKENDS
from engine.jobs import get_runner
from engine.timeline_figure import clock
from engine.transcribe_job import start_transcription
from pages._literal import literal_markdown

TRANSCRIBE_PAGE = "pages/transcribe.py"


def open_run(run_id: int) -> None:
    st.session_state.run_id = run_id
    st.switch_page(TRANSCRIBE_PAGE, query_params={"run": str(run_id)})


st.title("Library")
recordings = persistence.list_recordings()
if not recordings:
    st.info("No recordings yet: upload one on the Transcribe page.")
    st.stop()

runs_by_recording = {rec.id: persistence.list_runs(rec.id) for rec in recordings}
st.dataframe(
    pd.DataFrame(
        [
            {
                "Recording": rec.filename + (" (demo)" if rec.is_demo else ""),
                "Duration": clock(rec.duration_s),
                "Added": f"{rec.created_at:%Y-%m-%d %H:%M}",
                "Runs": len(runs_by_recording[rec.id]),
                "Latest": (
                    f"{runs_by_recording[rec.id][0].backend}: {runs_by_recording[rec.id][0].status}"
                    if runs_by_recording[rec.id]
                    else "—"
                ),
            }
            for rec in recordings
        ]
    ),
    hide_index=True,
    width="stretch",
)

by_id = {rec.id: rec for rec in recordings}
chosen_id = st.selectbox("Recording", list(by_id), format_func=lambda i: by_id[i].filename, key="library-recording")
rec = by_id[chosen_id]
runs = runs_by_recording[rec.id]

with st.container(border=True):
    st.html(f"<h4>{html.escape(rec.filename)}</h4>")  # a file name is shown as written, never as Markdown
    st.caption(
        f"{clock(rec.duration_s)} · {rec.sample_rate} Hz · {rec.channels} channel(s) · "
        f"{rec.size_bytes / 1e6:.1f} MB · sha256 {rec.sha256[:12]}…"
    )
    if runs:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Run": run.id,
                        "Backend": run.backend,
                        "Status": run.status,
                        "Turns": run.n_turns,
                        "Speakers requested": run.params.get("num_speakers") or "auto",
                        "RTF": round(run.rtf, 3) if run.rtf is not None else None,
                        "Started": f"{run.created_at:%Y-%m-%d %H:%M}",
                    }
                    for run in runs
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        pick_col, open_col = st.columns([3, 1], vertical_alignment="bottom")
        run_id = pick_col.selectbox(
            "Run",
            [r.id for r in runs],
            key=f"library-run-{rec.id}",
            format_func=lambda i: next(f"run {r.id} · {r.backend} · {r.status}" for r in runs if r.id == i),
        )
        if open_col.button("Open in Transcribe", type="primary", width="stretch"):
            open_run(run_id)
    else:
        st.caption("No transcription runs yet.")

    backend_col, speakers_col, rerun_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    backend = backend_col.selectbox("Re-run with backend", BACKENDS, key="library-backend")
    speakers = speakers_col.number_input(
        "Number of speakers (0: let the system decide)", 0, 20, 0, key="library-speakers"
    )
    if rerun_col.button("Re-run", width="stretch"):
        open_run(start_transcription(rec.id, backend, speakers or None, get_runner()).id)

    if st.session_state.get("confirm_delete") == rec.id:
        st.warning(f"Delete this recording, its audio and all {len(runs)} transcription run(s)? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", type="primary", width="stretch"):
            persistence.delete_recording(rec.id)
            del st.session_state.confirm_delete
            if st.session_state.get("run_id") in {r.id for r in runs}:
                st.session_state.run_id = None
            st.toast(f"Deleted {literal_markdown(rec.filename)}.")
            st.rerun()
        if no.button("Keep it", width="stretch"):
            del st.session_state.confirm_delete
            st.rerun()
    elif st.button("Delete…", key="delete"):
        st.session_state.confirm_delete = rec.id
        st.rerun()
