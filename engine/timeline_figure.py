"""The timeline of a transcript: one row per speaker, a bar per turn, start-of-turn and end-of-turn markers."""

from __future__ import annotations

import textwrap

import altair as alt

from engine.charts import svg
from engine.types import Turn

# Streamlit's named markdown colours with their hex values, so a speaker has the same colour in the
# timeline and in the transcript.
SPEAKER_COLOURS = [
    ("blue", "#1c83e1"),
    ("orange", "#ffa421"),
    ("green", "#21c354"),
    ("violet", "#803df5"),
    ("red", "#ff2b2b"),
    ("gray", "#808495"),
]
MARKERS = {"start of turn": "triangle-right", "end of turn": "triangle-left", "open at end of audio": "cross"}
TOOLTIP_CHARS = 240  # longer turns are cut (with …) so the tooltip stays readable and the spec small


def clock(seconds: float) -> str:
    """0:07.3 style, for people reading a transcript."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{secs:04.1f}"


def speaker_order(turns: list[Turn]) -> list[str]:
    """Speakers in order of first appearance (the timeline rows and the transcript use the same order)."""
    return list(dict.fromkeys(t.speaker for t in sorted(turns, key=lambda t: (t.start, t.end))))


def speaker_colours(turns: list[Turn]) -> dict[str, tuple[str, str]]:
    """speaker -> (Streamlit colour name, hex), in order of first appearance."""
    return {sp: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i, sp in enumerate(speaker_order(turns))}


def timeline_figure(turns: list[Turn], duration_s: float | None = None) -> alt.LayerChart:
    """Vega draws names and words as text (never HTML), so they show exactly as written, unescaped."""
    speakers = speaker_order(turns)
    colours = speaker_colours(turns)
    rows = [
        {
            "speaker": t.speaker,
            "start": t.start,
            "end": t.end,
            "time": f"{clock(t.start)}–{clock(t.end)}",
            "words": textwrap.shorten(t.text, TOOLTIP_CHARS, placeholder=" …") or "…",
            "open": t.unterminated,
        }
        for t in sorted(turns, key=lambda t: t.start)
    ]
    end = duration_s or max((t.end for t in turns), default=1.0)
    x_scale = alt.Scale(domain=[0, end], nice=False)
    base = alt.Chart().encode(
        y=alt.Y("speaker:N", sort=speakers, title=None, axis=alt.Axis(labelLimit=400, labelFontSize=13)),
        tooltip=["speaker:N", "time:N", "words:N"],
    )
    bars = base.mark_bar(opacity=0.8, clip=True).encode(
        x=alt.X("start:Q", scale=x_scale, title="time (s)"),
        x2="end:Q",
        color=alt.Color(
            "speaker:N",
            scale=alt.Scale(domain=speakers, range=[colours[s][1] for s in speakers]),
            legend=None,  # the y axis names the rows
        ),
    )
    kinds = [k for k in MARKERS if k != "open at end of audio" or any(t.unterminated for t in turns)]
    markers = (
        base.transform_fold(["start", "end"], as_=["edge", "t"])
        .transform_calculate(
            kind="datum.edge == 'start' ? 'start of turn' : datum.open ? 'open at end of audio' : 'end of turn'"
        )
        .mark_point(filled=True, size=110, color="#1d2433", opacity=1)
        .encode(
            x=alt.X("t:Q", scale=x_scale),
            shape=alt.Shape(
                "kind:N",
                scale=alt.Scale(domain=kinds, range=[MARKERS[k] for k in kinds]),
                legend=alt.Legend(title=None, orient="top"),
            ),
        )
    )
    chart = alt.layer(bars, markers, data=alt.Data(values=rows)).properties(
        height=45 * max(1, len(speakers)),
        # Streamlit's default ("fit") squeezes axes and legend into `height` too, leaving the rows a sliver
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
    )
    return svg(chart)
