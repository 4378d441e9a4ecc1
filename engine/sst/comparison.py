"""SST beside the cascade on the Model page: stored evaluation runs as bars and as a per-condition table.

Each SST run's params carry the checkpoint it scored (`describe()` of engine/backends/sst.py). A run of
any other checkpoint than the shipped models/sst.pt stays in the table, marked, but is left out of the
bars, so the picture always compares the model that ships.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from engine.charts import svg
from engine.simulate.turn_placement import CONDITIONS

CONDITION_ORDER = (*sorted(CONDITIONS), "overall")  # 0L, 0S, OV10 … OV40, as the harness stores them
OLDER = "older checkpoint"
UNKNOWN = "checkpoint unknown (stored before runs recorded it)"


def _checkpoint(run) -> dict:
    return run.params.get("checkpoint") or {}


def scored_shipped_model(run, shipped_id: str | None) -> bool:
    """True for a backend without a checkpoint (the cascade) and for SST runs of the shipped checkpoint."""
    return run.backend != "sst" or (shipped_id is not None and _checkpoint(run).get("sha256") == shipped_id)


def checkpoint_note(run, shipped_id: str | None) -> str:
    """What the table says of the model a run scored: "" for the cascade; for SST the shipped checkpoint,
    an older one (with its step and id), or unknown."""
    checkpoint = _checkpoint(run)
    if run.backend != "sst":
        return ""
    if not checkpoint:
        return UNKNOWN
    if scored_shipped_model(run, shipped_id):
        return f"shipped (step {checkpoint.get('step')})"
    return f"{OLDER} (step {checkpoint.get('step')}, {checkpoint['sha256']})"


def _scored_parts(run) -> list[tuple[str, dict]]:
    """(condition, scores) per condition in stored order, then overall; parts without ORC-WER are skipped."""
    parts = list(run.results.get("conditions", {}).items()) + [("overall", run.results.get("overall", {}))]
    return [(condition, r) for condition, r in parts if "orc_wer" in r]


def _pct(value) -> float | None:
    return None if value is None else round(100 * value, 1)


def evaluation_table(runs, shipped_id: str | None = None) -> pd.DataFrame:
    """One row per (run, condition) of `persistence.list_evaluation_runs()` results, counts beside rates,
    each SST run's checkpoint compared with the shipped one (`shipped_id`, None when none ships)."""
    rows = []
    for run in runs:
        note = checkpoint_note(run, shipped_id)
        for condition, r in _scored_parts(run):
            turns = r.get("turns", {})
            rows.append(
                {
                    "backend": run.backend,
                    "set": run.set_name,
                    "run": run.id,
                    "checkpoint": note,
                    "condition": condition,
                    "meetings": r.get("meetings"),
                    "words": r["orc_wer"]["words"],
                    "ORC-WER errors": r["orc_wer"]["errors"],
                    "ORC-WER %": _pct(r["orc_wer"]["wer"]),
                    "cpWER %": _pct(r.get("cp_wer", {}).get("wer")),
                    "turn count acc %": _pct(turns.get("turn_count_accuracy")),
                    "end latency p50 s": turns.get("end_latency", {}).get("p50"),
                    "start latency p50 s": turns.get("start_latency", {}).get("p50"),
                    "RTF": r.get("rtf"),
                }
            )
    return pd.DataFrame(rows)


def newest_shipped_model_runs(runs, shipped_id: str | None) -> list:
    """The newest run per (backend, set) among runs of the shipped models; `runs` come newest first."""
    newest = {}
    for run in runs:
        if scored_shipped_model(run, shipped_id):
            newest.setdefault((run.backend, run.set_name), run)
    return list(newest.values())


def comparison_frame(runs, shipped_id: str | None) -> pd.DataFrame:
    """Long format for the bars: backend, set, run, condition, ORC-WER %, errors / words, meetings."""
    return pd.DataFrame(
        [
            {
                "backend": run.backend,
                "set": run.set_name,
                "run": run.id,
                "condition": condition,
                "ORC-WER %": _pct(r["orc_wer"]["wer"]),
                "errors / words": f"{r['orc_wer']['errors']:,} / {r['orc_wer']['words']:,}",
                "meetings": r.get("meetings"),
            }
            for run in newest_shipped_model_runs(runs, shipped_id)
            for condition, r in _scored_parts(run)
        ]
    )


def comparison_figures(frame: pd.DataFrame) -> list[alt.LayerChart]:
    """Grouped bars of ORC-WER % per condition, one colour per backend, one chart per set, all on one y
    scale; each bar is labelled with its rate and its tooltip gives errors / words, meetings and the run.
    Separate charts rather than a facet or vconcat: Streamlit fits only single and layered views to the page
    width (a stretched vconcat overflows it by its axis and legend). No charts for an empty frame."""
    if frame.empty:
        return []
    backends = sorted(set(frame["backend"]))
    charts = []
    for name, part in frame.groupby("set"):  # sorted by set
        base = alt.Chart(part).encode(
            x=alt.X("condition:N", sort=list(CONDITION_ORDER), title="condition", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("backend:N", sort=backends),
            y=alt.Y("ORC-WER %:Q", title="ORC-WER %", scale=alt.Scale(domain=[0, frame["ORC-WER %"].max()])),
            tooltip=["backend:N", "condition:N", "ORC-WER %:Q", "errors / words:N", "meetings:Q", "run:N"],
        )
        bars = base.mark_bar().encode(color=alt.Color("backend:N", scale=alt.Scale(domain=backends), title="backend"))
        labels = base.mark_text(baseline="bottom", dy=-2).encode(text=alt.Text("ORC-WER %:Q", format=".1f"))
        charts.append(svg(alt.layer(bars, labels, title=f"set: {name}", height=320)))
    return charts
