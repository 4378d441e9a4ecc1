"""The timeline of a transcript: one row per speaker, a bar per turn, start-of-turn and end-of-turn markers."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from engine.types import Turn

# Streamlit's named markdown colours with their hex values, so a speaker has the same colour in the
# timeline (plotly) and in the transcript.
SPEAKER_COLOURS = [
    ("blue", "#1c83e1"),
    ("orange", "#ffa421"),
    ("green", "#21c354"),
    ("violet", "#803df5"),
    ("red", "#ff2b2b"),
    ("gray", "#808495"),
]


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


def timeline_figure(turns: list[Turn], duration_s: float | None = None) -> go.Figure:
    """Speaker names and words are escaped: plotly reads <b>, <a href> and the like in its labels, and a
    name a person typed is shown as written."""
    speakers = speaker_order(turns)
    colours = speaker_colours(turns)
    shown = {speaker: html.escape(speaker) for speaker in speakers}
    fig = go.Figure()
    for speaker in speakers:
        own = [t for t in turns if t.speaker == speaker]
        fig.add_bar(
            y=[shown[speaker]] * len(own),
            base=[t.start for t in own],
            x=[t.end - t.start for t in own],
            orientation="h",
            name=shown[speaker],
            marker_color=colours[speaker][1],
            opacity=0.8,
            hovertext=[f"{clock(t.start)}–{clock(t.end)} · {shown[speaker]}<br>{_wrap(t.text)}" for t in own],
            hoverinfo="text",
        )
    ordered = sorted(turns, key=lambda t: t.start)
    fig.add_scatter(
        x=[t.start for t in ordered],
        y=[shown[t.speaker] for t in ordered],
        mode="markers",
        name="start of turn",
        hoverinfo="skip",
        marker=dict(symbol="triangle-right", size=11, color="#1d2433"),
    )
    fig.add_scatter(
        x=[t.end for t in ordered],
        y=[shown[t.speaker] for t in ordered],
        mode="markers",
        name="end of turn",
        hoverinfo="skip",
        marker=dict(
            symbol=["x-thin-open" if t.unterminated else "triangle-left" for t in ordered],
            size=11,
            color="#1d2433",
            line=dict(width=2, color="#1d2433"),
        ),
    )
    end = duration_s or max((t.end for t in turns), default=1.0)
    fig.update_layout(
        barmode="overlay",
        height=140 + 45 * len(speakers),
        margin=dict(l=10, r=10, t=10, b=40),
        xaxis=dict(title="time (s)", range=[0, end], showgrid=True),
        yaxis=dict(categoryorder="array", categoryarray=[shown[s] for s in reversed(speakers)], title=None),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        plot_bgcolor="#ffffff",
    )
    return fig


def _wrap(text: str, width: int = 60) -> str:
    lines, line = [], ""
    for word in html.escape(text).split():
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join(lines + [line])
