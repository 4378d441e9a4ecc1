"""Draw a simulated meeting: the mixture's waveform over one lane of reference turns per speaker.

    .venv/bin/python scripts/plot_meeting.py data/sets/test OV20_0002 docs/simulated_meeting.png

Reads DIR/audio/<session>.wav and DIR/meetings/<session>.json; writes a PNG (Pillow only, no plotting
library needed). Overlapping turns show as lanes that are busy at the same time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw, ImageFont

WIDTH, MARGIN, WAVE_H, LANE_H = 1700, 340, 180, 46
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def draw(set_dir: Path, session: str, out: Path) -> None:
    audio, rate = sf.read(set_dir / "audio" / f"{session}.wav", dtype="float32")
    meeting = json.loads((set_dir / "meetings" / f"{session}.json").read_text())
    speakers = [s["speaker"] for s in meeting["speakers"]]
    duration = len(audio) / rate
    plot_w = WIDTH - MARGIN - 20
    height = 60 + WAVE_H + LANE_H * len(speakers) + 50
    image = Image.new("RGB", (WIDTH, height), "white")
    pen = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(size=16), ImageFont.load_default(size=13)

    def x(t: float) -> float:
        return MARGIN + plot_w * t / duration

    spec = meeting["spec"]
    pen.text(
        (20, 15),
        f"{session}: condition {spec['condition']}, {len(speakers)} talkers, "
        f"measured overlap {100 * meeting['overlap_ratio']:.1f} %, SNR {meeting['snr_db']:.1f} dB"
        + (f", RT60 {meeting['rt60_s']:.2f} s" if meeting["rt60_s"] else ""),
        fill="black",
        font=font,
    )
    mid = 60 + WAVE_H / 2
    columns = np.array_split(audio, plot_w)
    peak = float(np.abs(audio).max()) or 1.0
    for i, column in enumerate(columns):
        if column.size:
            top, bottom = mid - column.max() / peak * WAVE_H / 2, mid - column.min() / peak * WAVE_H / 2
            pen.line([(MARGIN + i, top), (MARGIN + i, bottom)], fill="#555555")
    pen.text((20, mid - 8), "mixture", fill="black", font=font)
    for lane, speaker in enumerate(speakers):
        y = 60 + WAVE_H + 10 + lane * LANE_H
        colour = COLOURS[lane % len(COLOURS)]
        pen.text((20, y + 10), speaker.replace(":p", " p").replace(":r", " r")[:44], fill=colour, font=small)
        for turn in meeting["reference"]:
            if turn["speaker"] == speaker:
                x0, x1 = x(turn["start_time"]), x(turn["end_time"])
                pen.rectangle([x0, y + 4, x1, y + LANE_H - 8], fill=colour)
                words = turn["words"]
                while words and pen.textlength(words + "…", font=small) > x1 - x0 - 6:
                    words = words[:-1]
                if words:
                    pen.text(
                        (x0 + 3, y + 12), words + ("…" if words != turn["words"] else ""), fill="white", font=small
                    )
    axis_y = height - 40
    pen.line([(MARGIN, axis_y), (MARGIN + plot_w, axis_y)], fill="black")
    for t in range(0, int(duration) + 1, 5):
        pen.line([(x(t), axis_y), (x(t), axis_y + 6)], fill="black")
        pen.text((x(t) - 6, axis_y + 8), f"{t}s", fill="black", font=small)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_dir", type=Path, help="a simulated set (DIR/audio, DIR/meetings)")
    parser.add_argument("session", help="the meeting's session id, e.g. OV20_0002")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args()
    draw(args.set_dir, args.session, args.out)


if __name__ == "__main__":
    main()
