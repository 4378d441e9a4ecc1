"""The batch kinds (see engine.runners.batch): transcribe a manifest, build an evaluation set from audio
(`fairness run`), score a backend on a simulated set (`evaluate`). Each worker builds its backend once
through the registry, so a model is loaded once per worker process, not once per item."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from engine import audio
from engine.backends import get_backend
from engine.errors import UserError
from engine.persistence.batches import ItemResult
from engine.types import Turn, Word


def turns_to_json(turns: list[Turn]) -> list[dict]:
    return [
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


def turns_from_json(rows: list[dict]) -> list[Turn]:
    return [
        Turn(r["speaker"], r["start"], r["end"], [Word(*w) for w in r["words"]], r["channel"], r["unterminated"])
        for r in rows
    ]


def _manifest(params: dict[str, Any]) -> Path:
    return Path(params["manifest"]).resolve()


WARM_UP_SPAN_S = (1.0, 5.0)  # a few seconds of the demo meeting's speech


def warm_backend(backend) -> None:
    """Run the backend once over a few seconds of speech, so its models are loaded before the first shard
    (a worker's start-up, not a shard's work)."""
    import tempfile

    import soundfile as sf

    from engine.demo import DEMO_AUDIO

    start, end = (round(t * audio.SAMPLE_RATE) for t in WARM_UP_SPAN_S)
    with tempfile.NamedTemporaryFile(suffix=".wav") as piece:
        sf.write(piece.name, audio.load(DEMO_AUDIO)[start:end], audio.SAMPLE_RATE)
        backend.transcribe(Path(piece.name), num_speakers=1)


class TranscribeManifest:
    """Speaker-attributed turns of every recording a manifest (CSV/Parquet/JSONL, column `audio`) names.

    params: manifest, backend (default cascade), num_speakers (optional).
    """

    @staticmethod
    def keys(params: dict[str, Any]) -> list[str]:
        from engine.fairness import tables
        from engine.fairness.audio_run import resolve_audio

        manifest = _manifest(params)
        frame = tables.load_raw(manifest)
        if "audio" not in frame.columns:
            raise UserError("The manifest needs an 'audio' column with the path of each recording.")
        _check_backend(params)
        keys = [str(p) for p in frame["audio"]]
        for row, key in enumerate(keys, start=1):
            if not resolve_audio(manifest, key).is_file():
                raise UserError(f"Row {row}, column 'audio': {key} does not exist.")
        return keys

    def __init__(self, params: dict[str, Any]):
        self.manifest = _manifest(params)
        self.backend = get_backend(params.get("backend", "cascade"))
        self.num_speakers = params.get("num_speakers")

    def warm_up(self) -> None:
        warm_backend(self.backend)

    def run(self, key: str) -> ItemResult:
        from engine.fairness.audio_run import resolve_audio

        path = resolve_audio(self.manifest, key)
        started = time.perf_counter()
        turns = self.backend.transcribe(path, num_speakers=self.num_speakers)
        compute_s = time.perf_counter() - started
        return ItemResult(
            key,
            audio.probe(path).duration_s,
            compute_s,
            {"turns": turns_to_json(turns), "text": " ".join(t.text for t in turns)},
        )

    @staticmethod
    def finish(params: dict[str, Any], items: list[ItemResult]) -> dict[str, Any]:
        return {"recordings": len(items), "turns": sum(len(i.result["turns"]) for i in items)}


def _check_backend(params: dict[str, Any]) -> None:
    from engine.backends import BACKENDS

    name = params.get("backend", "cascade")
    if name not in BACKENDS:
        raise UserError(f"Unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}.")


class FairnessManifest:
    """`fairness run` as a batch: each utterance's hypothesis and speaker embedding, then one import.

    params: manifest, name, backend (default cascade), speakers (per file, default 1), replace.
    """

    @staticmethod
    def keys(params: dict[str, Any]) -> list[str]:
        from engine import persistence
        from engine.fairness.audio_run import read_manifest

        _check_backend(params)
        if not params.get("replace") and any(s.name == params["name"] for s in persistence.list_evaluation_sets()):
            raise UserError(f"An evaluation set named '{params['name']}' exists already; give --replace to replace it.")
        return [str(u) for u in read_manifest(_manifest(params))["utterance_id"]]

    def __init__(self, params: dict[str, Any]):
        from engine.fairness.audio_run import read_manifest, resolve_audio

        manifest = _manifest(params)
        frame = read_manifest(manifest)
        self.paths = {str(u): resolve_audio(manifest, a) for u, a in zip(frame["utterance_id"], frame["audio"])}
        self.backend = get_backend(params.get("backend", "cascade"))
        self.speakers = params.get("speakers", 1)

    def warm_up(self) -> None:
        warm_backend(self.backend)

    def run(self, key: str) -> ItemResult:
        from engine.fairness.audio_run import recognise_file

        started = time.perf_counter()
        hypothesis, embedding = recognise_file(self.backend, self.paths[key], self.speakers)
        compute_s = time.perf_counter() - started
        return ItemResult(
            key,
            audio.probe(self.paths[key]).duration_s,
            compute_s,
            {"hypothesis": hypothesis, "embedding": np.asarray(embedding, dtype=float).tolist()},
        )

    @staticmethod
    def finish(params: dict[str, Any], items: list[ItemResult]) -> dict[str, Any]:
        from engine.fairness.audio_run import read_manifest
        from engine.fairness.importing import import_frame

        manifest = _manifest(params)
        frame = read_manifest(manifest)
        by_key = {i.key: i.result for i in items}
        keys = [str(u) for u in frame["utterance_id"]]
        frame = frame.assign(
            hypothesis=[by_key[k]["hypothesis"] for k in keys],
            embedding=[np.asarray(by_key[k]["embedding"], dtype=np.float32) for k in keys],
        )
        backend = params.get("backend", "cascade")
        result = import_frame(
            frame.drop(columns="audio"),
            params["name"],
            source=f"{backend} over {manifest}",
            replace=bool(params.get("replace")),
        )
        return {
            "set": result.info.name,
            "set_id": result.info.id,
            "speakers": result.info.n_speakers,
            "utterances": result.info.n_utterances,
            "errors": result.errors,
            "ref_words": result.ref_words,
        }


class EvaluateSet:
    """`evaluate` as a batch: the meetings of a simulated set transcribed on the workers, scored once.

    params: set_dir, backend, limit (optional), oracle_speakers, store (save the evaluation run; default true).
    """

    @staticmethod
    def keys(params: dict[str, Any]) -> list[str]:
        from engine.evaluate import select_meetings

        _check_backend(params)
        return [m["session_id"] for m in select_meetings(Path(params["set_dir"]), params.get("limit"))]

    def __init__(self, params: dict[str, Any]):
        from engine.evaluate import select_meetings

        self.set_dir = Path(params["set_dir"])
        self.meetings = {m["session_id"]: m for m in select_meetings(self.set_dir, params.get("limit"))}
        self.backend = get_backend(params["backend"])
        self.oracle_speakers = bool(params.get("oracle_speakers"))

    def warm_up(self) -> None:
        warm_backend(self.backend)

    def run(self, key: str) -> ItemResult:
        from engine.evaluate import transcribe_meeting

        meeting = self.meetings[key]
        turns, compute_s, peak_mb = transcribe_meeting(self.backend, self.set_dir, meeting, self.oracle_speakers)
        return ItemResult(
            key, meeting["duration_s"], compute_s, {"turns": turns_to_json(turns), "peak_memory_mb": peak_mb}
        )

    @staticmethod
    def finish(params: dict[str, Any], items: list[ItemResult]) -> dict[str, Any]:
        from engine import persistence
        from engine.evaluate import evaluate, run_params

        hypotheses = {
            i.key: (turns_from_json(i.result["turns"]), i.compute_s, i.result["peak_memory_mb"]) for i in items
        }
        results = evaluate(
            params["backend"],
            Path(params["set_dir"]),
            params.get("limit"),
            bool(params.get("oracle_speakers")),
            hypotheses=hypotheses,
        )
        run_id = None
        if params.get("store", True):
            run_id = persistence.transact(
                persistence.save_evaluation_run, params["backend"], results["set"], run_params(results), results
            )
        overall = results["overall"]
        return {
            "evaluation_run_id": run_id,
            "meetings": overall["meetings"],
            **{name: overall[name] for name in ("orc_wer", "cp_wer", "tcp_wer")},
        }
