"""Evaluation-set import: schema messages, offline geocoding, stored counts, the CLI and its JSON formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine import config, persistence
from engine.errors import UserError
from engine.fairness import geocode, tables
from engine.fairness.importing import import_frame
from engine.metrics.wer import edit_counts
from engine.persistence import fairness as stored_fairness

REPO = Path(__file__).resolve().parent.parent
SAA = config.shared_data_dir() / "saa"


def small_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "utterance_id": ["a1", "a2", "b1", "c1", "d1"],
            "speaker_id": ["alice", "alice", "bob", "carol", "dan"],
            "reference": [
                "Please call Stella.",
                "ask her to bring these things",
                "six spoons of fresh snow peas",
                "five thick slabs of blue cheese",
                "we also need a small plastic snake",
            ],
            "hypothesis": [
                "please call stella",
                "ask her bring these thing",
                "six spoons of fresh snow peas please",
                "five slabs of blue cheese",
                "",
            ],
            "place": [
                "pittsburgh, pennsylvania, usa",
                "pittsburgh, pennsylvania, usa",
                "madrid, spain",
                "atlantis under the sea",
                "",
            ],
            "zip": ["", "", "", "", "02139"],
            "native_language": ["english", "english", "spanish", "greek", "english"],
        }
    )


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t.drop(columns=["reference"]), "Column 'reference' is missing"),
        (
            lambda t: t.assign(speaker_id=["alice", "alice", "", "carol", "dan"]),
            "Row 3, column 'speaker_id': value is empty",
        ),
        (lambda t: t.assign(utterance_id=["a1", "a2", "a1", "c1", "d1"]), "Row 3, column 'utterance_id'"),
        (
            lambda t: t.assign(lat=["40", "40", "north", "1", "2"], lon=["1", "1", "1", "1", "1"]),
            "Row 3, column 'lat': 'north' is not a number",
        ),
        (
            lambda t: t.assign(lat=[40, 40, 95, 1, 2], lon=[1, 1, 1, 1, 1]),
            "Row 3, column 'lat': must lie between -90 and 90",
        ),
        (
            lambda t: t.assign(native_language=["english", "french", "spanish", "greek", "english"]),
            "Row 2, column 'native_language': speaker 'alice' already has 'english'",
        ),
        (
            lambda t: t.assign(embedding=["1 2 3", "1 2 3", "1 2", "1 2 3", "1 2 3"]),
            "Row 3, column 'embedding': 2 numbers",
        ),
        (lambda t: t.assign(reference=["x", None, "y", "z", "w"]), "Row 2, column 'reference': value is missing"),
    ],
)
def test_schema_check_names_the_row_and_column(mutate, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tables.check_schema(mutate(small_table()))


def test_unreadable_and_unknown_files_are_one_sentence(tmp_path):
    with pytest.raises(UserError, match="not a CSV, Parquet or JSONL"):
        tables.read_table(tmp_path / "set.xlsx")
    bad = tmp_path / "set.parquet"
    bad.write_text("this is not parquet")
    with pytest.raises(UserError, match="could not be read as PARQUET"):
        tables.read_table(bad)


def test_offline_geocoding_of_cities_states_countries_and_zips():
    pittsburgh = geocode.geocode_place("pittsburgh, pennsylvania, usa")
    assert pittsburgh.level == "city" and pittsburgh.us_state == "PA"
    assert pittsburgh.lat == pytest.approx(40.44, abs=0.1) and pittsburgh.lon == pytest.approx(-80.0, abs=0.1)
    assert geocode.geocode_place("riyadh, saudi arabia").country == "SA"
    assert geocode.geocode_place("bombay, india").lat == pytest.approx(19.07, abs=0.2)  # an alternate name
    assert geocode.geocode_place("wilmington nc, north carolina, usa").us_state == "NC"
    state = geocode.geocode_place("virginia")
    assert state.level == "state" and state.us_state == "VA"
    country = geocode.geocode_place("some village, france")
    assert country.level == "country" and country.country == "FR"
    assert geocode.geocode_place("atlantis under the sea") is None
    cambridge = geocode.geocode_zip("02139")
    assert cambridge.level == "zip" and cambridge.us_state == "MA" and cambridge.lat == pytest.approx(42.36, abs=0.05)
    assert geocode.geocode_zip("not a zip") is None


def test_import_stores_counts_per_utterance_and_reports_geocoding(db_url, monkeypatch):
    result = import_frame(small_table(), "small", url=db_url)
    assert result.info.n_speakers == 4 and result.info.n_utterances == 5
    geo = result.geocoding
    assert (geo.speakers_with_place, geo.matched) == (3, 2)
    assert geo.unmatched == [("carol", "atlantis under the sea")]
    totals = persistence.speaker_totals(result.info.id, url=db_url).set_index("speaker_key")
    table = small_table()
    for speaker, rows in table.groupby("speaker_id"):
        counts = [edit_counts(r, h) for r, h in zip(rows["reference"], rows["hypothesis"])]
        assert totals.loc[speaker, "errors"] == sum(c.errors for c in counts)
        assert totals.loc[speaker, "words"] == sum(c.ref_words for c in counts)
    assert result.wer == pytest.approx(totals["errors"].sum() / totals["words"].sum())
    attrs = totals.loc["alice", "attributes"]
    assert attrs["native_language"] == "english" and attrs["geo_us_state"] == "PA"
    assert totals.loc["dan", "attributes"]["geo_us_state"] == "MA"  # from the ZIP
    assert pd.isna(totals.loc["carol", "lat"])
    worst = persistence.worst_utterances(result.info.id, totals["speaker_id"], limit=2, url=db_url)
    assert worst["utterance"].tolist() == ["d1", "a2"]  # 7 deletions; then 2 errors (a2 before b1 and c1 by id)
    # the id list goes to the database in chunks; merging the chunks gives the same answer
    monkeypatch.setattr(stored_fairness, "IN_CHUNK", 1)  # set where worst_utterances reads it
    assert persistence.worst_utterances(result.info.id, totals["speaker_id"], limit=2, url=db_url).equals(worst)


def test_a_failed_import_leaves_nothing_behind(db_url):
    import_frame(small_table(), "first", url=db_url)
    with pytest.raises(UserError, match="exists already"):
        import_frame(small_table(), "first", url=db_url)
    with pytest.raises(UserError):
        import_frame(small_table().drop(columns=["hypothesis"]), "second", url=db_url)
    assert [s.name for s in persistence.list_evaluation_sets(db_url)] == ["first"]


def run_cli(*args: str, env_dir: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "CROSSTALK_DATA_DIR": str(env_dir)}
    env.pop("CROSSTALK_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "engine", "fairness", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_import_regions_cohorts_with_json_in_the_issue_format(tmp_path, data_dir, capsys):
    """One real `python -m engine` process for the import; the analyses through the same entry point in-process
    (every CLI process start pays for importing the whole engine)."""
    from engine.__main__ import main
    from engine.fairness.synthetic import Plan, make_set, with_embeddings

    synthetic = make_set(
        Plan(n_utterances=3_000, utterances_per_speaker=10, box=(-100, 30, -90, 40), raised_cluster=1, seed=3)
    )
    frame = with_embeddings(synthetic)
    jsonl = tmp_path / "set.jsonl"
    frame.assign(embedding=[e.tolist() for e in frame["embedding"]]).to_json(jsonl, orient="records", lines=True)
    csv = tmp_path / "set.csv"
    frame.drop(columns="embedding").to_csv(csv, index=False)

    done = run_cli("import", str(jsonl), "--name", "synthetic", env_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "Imported 'synthetic': 300 speakers, 3000 utterances" in done.stdout
    assert main(["fairness", "import", str(csv), "--name", "synthetic"]) == 2
    assert capsys.readouterr().err.startswith("error: An evaluation set named 'synthetic' exists")

    regions_json, cohorts_json = tmp_path / "regions.json", tmp_path / "cohorts.json"
    assert main(["fairness", "regions", "synthetic", "--max-regions", "6", "--json", str(regions_json)]) == 0
    regions = json.loads(regions_json.read_text())["regions"]
    assert set(regions[0]) == {"rank", "wer", "ci_low", "ci_high", "n_speakers", "n_words", "polygon", "flagged"}
    assert regions[0]["rank"] == 1 and regions[0]["flagged"] and regions[0]["polygon"]["type"] == "Polygon"
    assert 0 < regions[-1]["wer"] < regions[0]["wer"] < 1
    assert sum(r["n_speakers"] for r in regions) == 300

    assert main(["fairness", "cohorts", "synthetic", "--method", "automatic", "--json", str(cohorts_json)]) == 0
    cohorts = json.loads(cohorts_json.read_text())["cohorts"]
    assert set(cohorts[0]) == {
        "method",
        "label",
        "definition",
        "wer",
        "ci_low",
        "ci_high",
        "n_speakers",
        "share_pct",
        "is_bottom",
        "wer_gap_pct",
    }
    bottom = next(c for c in cohorts if c["is_bottom"])
    assert bottom["method"] == "automatic" and bottom["n_speakers"] == int((synthetic.speaker_cluster == 1).sum())

    assert main(["fairness", "cohorts", "synthetic", "--method", "geodemographic", "--json", str(cohorts_json)]) == 0
    assert {c["method"] for c in json.loads(cohorts_json.read_text())["cohorts"]} == {"geodemographic"}
    capsys.readouterr()
    assert main(["fairness", "regions", "nope"]) == 2
    assert "There is no evaluation set named 'nope'" in capsys.readouterr().err


def test_fairness_run_builds_a_set_from_real_audio_with_the_cascade(tmp_path, db_url):
    from engine.fairness.audio_run import recognise_manifest

    meta = pd.read_csv(SAA / "metadata.csv")
    shortest = meta.nsmallest(1, "duration_s").iloc[0]
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(
        {
            "utterance_id": [Path(shortest.file).stem],
            "speaker_id": [str(shortest.speakerid)],
            "audio": [str(SAA / shortest.file)],
            "reference": [(SAA / "transcript.txt").read_text()],
            "place": [shortest.birthplace],
        }
    ).to_csv(manifest, index=False)
    frame = recognise_manifest(manifest, "cascade", num_speakers=1)
    assert len(frame.loc[0, "hypothesis"].split()) > 5 and len(frame.loc[0, "embedding"]) == 256
    result = import_frame(frame.drop(columns="audio"), "from-audio", url=db_url)
    totals = persistence.speaker_totals(result.info.id, with_embeddings=True, url=db_url)
    assert totals.loc[0, "words"] == 69 and totals.loc[0, "embedding"] is not None
    assert result.geocoding.matched == 1

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"utterance_id": ["x"], "speaker_id": ["s"], "audio": ["missing.ogg"], "reference": ["hi"]}).to_csv(
        bad, index=False
    )
    with pytest.raises(UserError, match="Row 1, column 'audio': missing.ogg does not exist"):
        recognise_manifest(bad, "cascade")


@pytest.mark.postgres
def test_import_and_analyses_on_postgresql(postgres_url):
    from engine.fairness import analyses
    from engine.fairness.synthetic import Plan, make_set, with_embeddings

    synthetic = make_set(Plan(n_utterances=1_000, utterances_per_speaker=5, box=(-100, 30, -90, 40), seed=2))
    result = import_frame(with_embeddings(synthetic), "pg-set", url=postgres_url)
    totals = persistence.speaker_totals(result.info.id, url=postgres_url)
    assert int(totals["errors"].sum()) == result.errors and int(totals["words"].sum()) == result.ref_words
    regions = analyses.run_regions("pg-set", url=postgres_url)
    assert sum(r["n_speakers"] for r in regions.rows) == 200
    cohorts = analyses.run_cohorts("pg-set", "automatic", url=postgres_url)
    assert sum(r["n_speakers"] for r in cohorts.rows) == 200
    with pytest.raises(UserError, match="exists already"):
        import_frame(synthetic.utterances, "pg-set", url=postgres_url)


def test_demo_sets_seed_once_per_recogniser_with_their_analyses_and_refresh_when_the_parquet_grows(
    db_url, tmp_path, monkeypatch
):
    from engine.fairness import demo
    from engine.fairness.importing import import_frame

    shipped = pd.read_parquet(demo.DEMO_PARQUET)
    assert {
        "utterance_id",
        "speaker_id",
        "reference",
        "hypothesis_whisper",
        "hypothesis_pocketsphinx",
        "lat",
        "lon",
        "place",
        "native_language",
        "embedding",
    } <= set(shipped.columns)
    assert shipped["reference"].str.startswith("Please call Stella").all()
    assert demo.recognisers_in(shipped) == ["whisper", "pocketsphinx"]
    # a database seeded before the Whisper set existed holds the pocketsphinx set under its old name
    import_frame(
        demo.demo_frame(shipped.head(3), "pocketsphinx"), demo.LEGACY_SET_NAME, source=demo.LEGACY_SOURCE, url=db_url
    )
    smaller = tmp_path / "demo.parquet"
    part = shipped.head(12).copy()
    part.loc[part.index[8:], "hypothesis_whisper"] = None  # the Whisper build has reached 8 of these 12
    part.to_parquet(smaller)
    monkeypatch.setattr(demo, "DEMO_PARQUET", smaller)
    assert demo.seed_demo_set(db_url) is True
    assert demo.seed_demo_set(db_url) is False  # idempotent
    sizes = {info.name: info.n_speakers for info in persistence.list_evaluation_sets(db_url)}
    assert sizes == {demo.RECOGNISERS["whisper"].set_name: 8, demo.RECOGNISERS["pocketsphinx"].set_name: 12}
    whisper = persistence.get_evaluation_set(demo.DEMO_SET_NAME, db_url)
    assert "CC BY-NC-SA" in whisper.attribution and "Whisper tiny.en" in whisper.source
    utterances = persistence.worst_utterances(
        whisper.id, persistence.speaker_totals(whisper.id, url=db_url)["speaker_id"], limit=20, url=db_url
    )
    by_key = part.set_index("utterance_id")["hypothesis_whisper"]
    assert all(by_key[u] == h for u, h in zip(utterances["utterance"], utterances["hypothesis"]))
    # the pages' default analyses are stored with the sets, so a first visit computes nothing
    for method in ("geodemographic", "automatic"):
        assert persistence.latest_analysis(whisper.id, "cohorts", method, url=db_url) is not None
    assert persistence.latest_analysis(whisper.id, "regions", url=db_url) is not None

    part = shipped.head(12)
    part.to_parquet(smaller)  # the build went on: all 12 have Whisper hypotheses now
    assert demo.seed_demo_set(db_url) is True
    assert persistence.get_evaluation_set(demo.DEMO_SET_NAME, db_url).n_speakers == 12
