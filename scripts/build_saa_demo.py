"""Build the dashboard's demo evaluation sets from the Speech Accent Archive (hypotheses + metadata, no audio).

    nice -n 10 .venv/bin/python scripts/build_saa_demo.py --recogniser whisper   # all files; resumes
    nice -n 10 .venv/bin/python scripts/build_saa_demo.py --recogniser pocketsphinx --limit 20  # a speed check
    nice -n 10 .venv/bin/python scripts/build_saa_demo.py --shard 1/2            # one of two workers (0/2, 1/2)
    .venv/bin/python scripts/build_saa_demo.py --write-only                      # ship what is cached now
    nice -n 10 .venv/bin/python scripts/build_saa_demo.py --seed-from-shipped    # fresh cache: reuse shipped rows

For every recording in ../shared/data/saa: the chosen recogniser over the whole file (one speaker reading one
paragraph: no VAD or diarization needed) — Whisper tiny.en (engine.whisper.runtime, CTranslate2 int8,
greedy) or the cascade's pocketsphinx — and once per file a resemblyzer embedding of the speaker (it does not
depend on the recogniser). Each result is cached under data/saa_demo_cache/<recogniser>/ (embeddings under
data/saa_demo_cache/embedding/) as soon as it exists, so a killed run loses at most one file. Files are
visited in a stratified order (round-robin over native languages), so a partial run is a stratified subset.
Birthplaces are geocoded offline. The result is one table, engine/assets/saa_demo.parquet: a row per
speaker with the metadata, the embedding and one `hypothesis_<recogniser>` column per recogniser (empty where
that recogniser has not run yet); engine/fairness/demo.py seeds one evaluation set per column.
--seed-from-shipped fills an empty cache from the rows already in that parquet, after re-recognising a few of
them to check the results are reproducible; seeded cache files say so ("seeded_from").

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
from tqdm import tqdm

from engine import audio, config
from engine.fairness import demo
from engine.fairness.geocode import geocode_place
from engine.metrics.wer import edit_counts, wer

EMBEDDING = "embedding"
# A fresh run must come this close to a shipped row (WER of one against the other): CTranslate2's int8 kernels
# differ between CPUs (AVX2, AVX-512 VNNI), so Whisper's greedy text on another machine differs: 10-11 % of the
# words on two accented readings (english_495, english_458) on an AVX2-only machine. A different recogniser
# or a damaged row is much further off (the tests cut half a hypothesis away).
RECHECK_WER = 0.15


def stratified_order(meta: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Round-robin over native languages (shuffled within each), so any prefix is a stratified sample."""
    rng = np.random.default_rng(seed)
    shuffled = meta.iloc[rng.permutation(len(meta))].copy()
    shuffled["_turn"] = shuffled.groupby("native_language").cumcount() / shuffled.groupby("native_language")[
        "file"
    ].transform("count")
    return shuffled.sort_values(["_turn", "native_language"]).drop(columns="_turn")


def recognise(recogniser: str, samples: np.ndarray) -> str:
    if recogniser == "whisper":
        from engine.whisper import runtime

        words = runtime.recognize(samples)
    else:
        from engine.cascade import asr

        words = asr.recognize(samples)
    return " ".join(w.text for w in words)


def embed(samples: np.ndarray) -> list[float]:
    from engine.speakers import embed_segments

    return embed_segments(samples, [(0.0, len(samples) / audio.SAMPLE_RATE)])[0].round(5).tolist()


def recognise_file(recogniser: str, path: Path) -> dict:
    samples = audio.load(path)
    started = time.perf_counter()
    hypothesis = recognise(recogniser, samples)
    return {
        "hypothesis": hypothesis,
        "audio_s": len(samples) / audio.SAMPLE_RATE,
        "compute_s": time.perf_counter() - started,
        "asr": demo.RECOGNISERS[recogniser].asr,
    }


def cache_path(cache: Path, kind: str, file: str) -> Path:
    return cache / kind / f"{Path(file).stem}.json"


def read_cache(cache: Path, kind: str, file: str) -> dict | None:
    path = cache_path(cache, kind, file)
    return json.loads(path.read_text()) if path.exists() else None


def write_cache(cache: Path, kind: str, file: str, result: dict) -> None:
    path = cache_path(cache, kind, file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)  # atomic: a killed run never leaves half a file


def seed_from_shipped(meta: pd.DataFrame, saa: Path, cache: Path, shipped: Path, n_check: int = 3) -> int:
    """Cache the shipped parquet's hypotheses and embeddings that the cache lacks; returns how many files were
    seeded (per recogniser, summed).

    For every recogniser, n_check shipped files are first re-recognised: the hypothesis must come out within
    RECHECK_WER of the shipped one (and, for the first, the embedding equal up to the 5 decimals stored), else
    nothing is seeded for any recogniser (the build would mix two recognisers' versions). The checked files keep
    their fresh hypotheses.
    """
    rows = pd.read_parquet(shipped).set_index("utterance_id")
    plans = {}
    for recogniser in demo.recognisers_in(rows):
        column = demo.RECOGNISERS[recogniser].column
        plans[recogniser] = [
            f
            for f in meta["file"]
            if Path(f).stem in rows.index
            and pd.notna(rows.at[Path(f).stem, column])
            and read_cache(cache, recogniser, f) is None
        ]
    checked: list[tuple[str, str, dict]] = []
    for recogniser, files in plans.items():
        column = demo.RECOGNISERS[recogniser].column
        for file in files[:n_check]:
            fresh, row = recognise_file(recogniser, saa / file), rows.loc[Path(file).stem]
            apart = wer(edit_counts(row[column], fresh["hypothesis"]))
            if apart > RECHECK_WER:
                raise SystemExit(
                    f"{file}: a fresh {recogniser} run differs from the shipped row ({apart:.0%} of its words); "
                    "not seeding"
                )
            checked.append((recogniser, file, fresh))
    if checked:
        file = checked[0][1]
        embedding_diff = float(
            np.abs(np.asarray(embed(audio.load(saa / file))) - rows.at[Path(file).stem, EMBEDDING]).max()
        )
        if embedding_diff > 1e-4:
            raise SystemExit(
                f"{file}: a fresh embedding differs from the shipped one (max diff {embedding_diff:.2g}); not seeding"
            )
    for recogniser, file, fresh in checked:
        write_cache(cache, recogniser, file, fresh)
    seeded_from = (
        os.path.relpath(shipped, config.REPO_ROOT) if shipped.is_relative_to(config.REPO_ROOT) else str(shipped)
    )
    n_seeded = 0
    for recogniser, files in plans.items():
        column = demo.RECOGNISERS[recogniser].column
        for file in files[n_check:]:
            row = rows.loc[Path(file).stem]
            write_cache(
                cache,
                recogniser,
                file,
                {
                    "hypothesis": row[column],
                    "audio_s": float(row["duration_s"]),
                    "compute_s": None,
                    "asr": demo.RECOGNISERS[recogniser].asr,
                    "seeded_from": seeded_from,
                },
            )
            n_seeded += 1
    for file in meta["file"]:
        stem = Path(file).stem
        if stem in rows.index and read_cache(cache, EMBEDDING, file) is None:
            write_cache(
                cache,
                EMBEDDING,
                file,
                {
                    "embedding": np.asarray(rows.at[stem, EMBEDDING], dtype=np.float64).round(5).tolist(),
                    "seeded_from": seeded_from,
                },
            )
    print(f"{len(checked)} shipped rows reproduced exactly; seeded {n_seeded} more from {shipped.name}")
    return n_seeded


def write_parquet(meta: pd.DataFrame, cache: Path, reference: str, out: Path) -> int:
    """One row per file that has an embedding and at least one hypothesis; returns the number of rows."""
    rows = []
    for rec in meta.itertuples(index=False):
        embedding = read_cache(cache, EMBEDDING, rec.file)
        hypotheses = {name: read_cache(cache, name, rec.file) for name in demo.RECOGNISERS}
        if embedding is None or not any(hypotheses.values()):
            continue
        place = geocode_place(rec.birthplace)
        rows.append(
            {
                "utterance_id": Path(rec.file).stem,
                "speaker_id": f"saa{rec.speakerid}",
                "reference": reference,
                **{spec.column: (hypotheses[name] or {}).get("hypothesis") for name, spec in demo.RECOGNISERS.items()},
                "place": rec.birthplace,
                "lat": place.lat if place else None,
                "lon": place.lon if place else None,
                "native_language": rec.native_language,
                "sex": rec.sex,
                "age": float(rec.age),
                "age_onset": float(rec.age_onset),
                "birth_country": rec.country,
                "duration_s": float(rec.duration_s),
                EMBEDDING: np.asarray(embedding[EMBEDDING], dtype=np.float32),
            }
        )
    table = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(out)  # two workers may finish together; neither sees half a file
    return len(table)


def run(meta: pd.DataFrame, saa: Path, cache: Path, recogniser: str, shard: str, limit: int | None) -> None:
    index, n_shards = (int(x) for x in shard.split("/"))
    mine = [f for i, f in enumerate(meta["file"]) if i % n_shards == index]
    todo = [f for f in mine if read_cache(cache, recogniser, f) is None or read_cache(cache, EMBEDDING, f) is None]
    todo = todo[:limit] if limit else todo
    audio_s = compute_s = 0.0
    for file in tqdm(todo, desc=f"SAA files ({recogniser})", unit="file"):
        samples = None
        if read_cache(cache, recogniser, file) is None:
            result = recognise_file(recogniser, saa / file)
            write_cache(cache, recogniser, file, result)
            audio_s += result["audio_s"]
            compute_s += result["compute_s"]
        if read_cache(cache, EMBEDDING, file) is None:
            samples = audio.load(saa / file)
            write_cache(cache, EMBEDDING, file, {EMBEDDING: embed(samples)})
    if audio_s:
        print(
            f"{recogniser}: {len(todo)} files, {audio_s:.0f} s of audio recognised in {compute_s:.0f} s "
            f"(RTF {compute_s / audio_s:.3f})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recogniser", choices=sorted(demo.RECOGNISERS), default="whisper")
    parser.add_argument("--limit", type=int, default=None, help="process at most this many new files")
    parser.add_argument("--write-only", action="store_true", help="only write the parquet from the cache")
    parser.add_argument("--shard", default="0/1", help="I/N: this worker takes every N-th file from the I-th")
    parser.add_argument("--out", type=Path, default=demo.DEMO_PARQUET)
    parser.add_argument(
        "--seed-from-shipped",
        action="store_true",
        help="first cache the rows the parquet at --out already has (checked on 3 files each)",
    )
    args = parser.parse_args()
    import torch

    # One torch thread: the machine is shared, and oversubscribed torch threads made embeddings 20x slower.
    torch.set_num_threads(1)

    saa = config.shared_data_dir() / "saa"
    meta = stratified_order(pd.read_csv(saa / "metadata.csv"))
    reference = " ".join((saa / "transcript.txt").read_text().split())
    cache = config.data_dir() / "saa_demo_cache"

    if args.seed_from_shipped and args.out.exists():
        seed_from_shipped(meta, saa, cache, args.out)
    if not args.write_only:
        run(meta, saa, cache, args.recogniser, args.shard, args.limit)
    n = write_parquet(meta, cache, reference, args.out)
    print(f"wrote {args.out} with {n} of {len(meta)} speakers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
