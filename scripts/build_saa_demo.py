"""Build the dashboard's demo evaluation set from the Speech Accent Archive (hypotheses + metadata, no audio).

    nice -n 10 .venv/bin/python scripts/build_saa_demo.py            # all files; resumes where it stopped
    nice -n 10 .venv/bin/python scripts/build_saa_demo.py --limit 20  # a speed check on 20 files
    nice -n 10 .venv/bin/python scripts/build_saa_demo.py --shard 1/2 # one of two workers (0/2 and 1/2)
    .venv/bin/python scripts/build_saa_demo.py --write-only           # ship what is cached now
    nice -n 10 .venv/bin/python scripts/build_saa_demo.py --seed-from-shipped  # fresh cache: reuse shipped rows

For every recording in ../shared/data/saa: the cascade's pocketsphinx recogniser over the whole file (one
speaker reading one paragraph: no VAD or diarization needed), and a resemblyzer embedding of the speaker.
Each file's result is cached under data/saa_demo_cache/ as soon as it exists, so a killed run loses at most
one file. Files are visited in a stratified order (round-robin over native languages), so a partial run
is a stratified subset. Birthplaces are geocoded offline. The result goes to engine/assets/saa_demo.parquet.
--seed-from-shipped fills an empty cache from the rows already in that parquet (hypothesis and embedding are
exactly what the cache holds), after re-recognising a few of them to check the results are reproducible;
seeded cache files say so ("seeded_from").

Licence: the recordings and metadata are the Speech Accent Archive's (Weinberger, George Mason University,
CC BY-NC-SA 2.0): non-commercial, with attribution. Only derived text and numbers are shipped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import audio, config  # noqa: E402
from engine.fairness import demo  # noqa: E402
from engine.fairness.geocode import geocode_place  # noqa: E402

ASR_NAME = "cascade ASR (pocketsphinx en-us, whole file)"


def stratified_order(meta: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Round-robin over native languages (shuffled within each), so any prefix is a stratified sample."""
    rng = np.random.default_rng(seed)
    shuffled = meta.iloc[rng.permutation(len(meta))].copy()
    shuffled["_turn"] = shuffled.groupby("native_language").cumcount() / shuffled.groupby(
        "native_language")["file"].transform("count")
    return shuffled.sort_values(["_turn", "native_language"]).drop(columns="_turn")


def recognise_file(path: Path) -> dict:
    from engine.cascade import asr
    from engine.speakers import embed_segments

    started = time.perf_counter()
    samples = audio.load(path)
    words = asr.recognize(samples)
    embedding = embed_segments(samples, [(0.0, len(samples) / audio.SAMPLE_RATE)])[0]
    return {"hypothesis": " ".join(w.text for w in words), "embedding": embedding.round(5).tolist(),
            "audio_s": len(samples) / audio.SAMPLE_RATE, "compute_s": time.perf_counter() - started,
            "asr": ASR_NAME}


def cache_path(cache: Path, file: str) -> Path:
    return cache / f"{Path(file).stem}.json"


def write_cache(cache: Path, file: str, result: dict) -> None:
    tmp = cache_path(cache, file).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(cache_path(cache, file))  # atomic: a killed run never leaves half a file


def seed_from_shipped(meta: pd.DataFrame, saa: Path, cache: Path, shipped: Path, n_check: int = 3) -> int:
    """Cache the shipped parquet's rows for files the cache lacks; returns how many were seeded.

    First re-recognises n_check of the shipped files: the hypothesis must come out identical and the
    embedding equal up to the 5 decimals stored, else nothing is seeded (the build would mix two recognisers).
    """
    rows = pd.read_parquet(shipped).set_index("utterance_id")
    missing = [f for f in meta["file"] if Path(f).stem in rows.index and not cache_path(cache, f).exists()]
    for file in missing[:n_check]:
        fresh, row = recognise_file(saa / file), rows.loc[Path(file).stem]
        embedding_diff = float(np.abs(np.asarray(fresh["embedding"]) - row["embedding"]).max())
        if fresh["hypothesis"] != row["hypothesis"] or embedding_diff > 1e-4:
            raise SystemExit(f"{file}: a fresh run differs from the shipped row (hypothesis equal: "
                             f"{fresh['hypothesis'] == row['hypothesis']}, embedding max diff {embedding_diff:.2g}); "
                             "not seeding")
        write_cache(cache, file, fresh)
    for file in missing[n_check:]:
        row = rows.loc[Path(file).stem]
        write_cache(cache, file, {"hypothesis": row["hypothesis"],
                                  "embedding": np.asarray(row["embedding"], dtype=np.float64).round(5).tolist(),
                                  "audio_s": float(row["duration_s"]), "compute_s": None, "asr": ASR_NAME,
                                  "seeded_from": os.path.relpath(shipped, config.REPO_ROOT)})
    print(f"{min(n_check, len(missing))} shipped rows reproduced exactly; seeded {max(len(missing) - n_check, 0)} "
          f"more from {shipped.name}")
    return max(len(missing) - n_check, 0)


def write_parquet(meta: pd.DataFrame, cache: Path, reference: str, out: Path) -> int:
    rows = []
    for rec in meta.itertuples(index=False):
        cached = cache_path(cache, rec.file)
        if not cached.exists():
            continue
        result = json.loads(cached.read_text())
        place = geocode_place(rec.birthplace)
        rows.append({
            "utterance_id": Path(rec.file).stem, "speaker_id": f"saa{rec.speakerid}",
            "reference": reference, "hypothesis": result["hypothesis"],
            "place": rec.birthplace,
            "lat": place.lat if place else None, "lon": place.lon if place else None,
            "native_language": rec.native_language, "sex": rec.sex, "age": float(rec.age),
            "age_onset": float(rec.age_onset), "birth_country": rec.country,
            "duration_s": float(rec.duration_s),
            "embedding": np.asarray(result["embedding"], dtype=np.float32),
        })
    table = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(out)  # two workers may finish together; neither sees half a file
    return len(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="process at most this many new files")
    parser.add_argument("--write-only", action="store_true", help="only write the parquet from the cache")
    parser.add_argument("--shard", default="0/1", help="I/N: this worker takes every N-th file from the I-th")
    parser.add_argument("--out", type=Path, default=demo.DEMO_PARQUET)
    parser.add_argument("--seed-from-shipped", action="store_true",
                        help="first cache the rows the parquet at --out already has (checked on 3 files)")
    args = parser.parse_args()
    # One thread: the machine is shared, and oversubscribed torch threads made embeddings 20x slower.
    torch.set_num_threads(1)

    saa = config.shared_data_dir() / "saa"
    meta = stratified_order(pd.read_csv(saa / "metadata.csv"))
    reference = " ".join((saa / "transcript.txt").read_text().split())
    cache = config.data_dir() / "saa_demo_cache"
    cache.mkdir(parents=True, exist_ok=True)

    if args.seed_from_shipped and args.out.exists():
        seed_from_shipped(meta, saa, cache, args.out)
    if not args.write_only:
        shard, n_shards = (int(x) for x in args.shard.split("/"))
        todo = [f for i, f in enumerate(meta["file"])
                if i % n_shards == shard and not cache_path(cache, f).exists()]
        todo = todo[: args.limit] if args.limit else todo
        audio_s = compute_s = 0.0
        for file in tqdm(todo, desc="SAA files", unit="file"):
            result = recognise_file(saa / file)
            write_cache(cache, file, result)
            audio_s += result["audio_s"]
            compute_s += result["compute_s"]
        if todo:
            print(f"{len(todo)} files, {audio_s:.0f} s of audio in {compute_s:.0f} s (RTF {compute_s / audio_s:.3f})")
    n = write_parquet(meta, cache, reference, args.out)
    print(f"wrote {args.out} with {n} of {len(meta)} speakers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
