"""The Model page (streamlit AppTest): what the recognisers do, SST beside the cascade (bars and table) from
the database, including runs the app seeds from a shipped asset on start, where SST fails, and both cards."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from db import init_db
from engine import config, evaluation_demo, persistence
from engine.sst.package import package_id as checkpoint_id
from engine.sst.package import save_package
from tests.conftest import REPO_ROOT
from tests.sst_models import tiny_model


def _results(orc_errors: int, words: int) -> dict:
    condition = {
        "meetings": 2,
        "orc_wer": {"errors": orc_errors, "words": words, "wer": orc_errors / words},
        "cp_wer": {"errors": orc_errors + 5, "words": words, "wer": (orc_errors + 5) / words},
        "turns": {"turn_count_accuracy": 0.5, "end_latency": {"p50": 0.4}, "start_latency": {"p50": 0.2}},
        "rtf": 0.05,
    }
    return {"conditions": {"0S": condition, "OV20": condition}, "overall": {**condition, "meetings": 4}}


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """A models folder holding a real (tiny, untrained) SST file with its card, and both model cards."""
    folder = tmp_path / "models"
    card = {
        "step": 200,
        "recipe": "tiny",
        "stage": "separator",
        "decoding": {"turn_source": "activity"},
        "quality_note": "Undertrained: do not use for real transcripts.",
    }
    save_package(folder / "sst.pt", tiny_model(), card)
    (folder / "MODEL_CARD.md").write_text("# SST model card\n\nTrained on synthetic speech.\n")
    (folder / "WHISPER_CARD.md").write_text("# Whisper tiny.en\n\nPretrained by OpenAI.\n")
    monkeypatch.setattr(config, "models_dir", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def shipped_runs(tmp_path, monkeypatch):
    """Where the app seeds shipped evaluation runs from: nothing unless a test writes the file."""
    path = tmp_path / "evaluation_demo.json"
    monkeypatch.setattr(evaluation_demo, "DEMO_JSON", path)
    return path


def _chart(element) -> tuple[dict, pd.DataFrame]:
    """A Vega-Lite chart's spec and its data: Streamlit moves the one dataset out of the spec, as Arrow IPC."""
    (dataset,) = element.proto.datasets
    return json.loads(element.proto.spec), pa.ipc.open_stream(dataset.data.data).read_pandas()


def _model_page() -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180).run()
    app.switch_page("pages/model.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _sst_params(sha256: str, step: int) -> dict:
    return {"set_dir": "test", "limit": None, "oracle_speakers": False, "checkpoint": {"sha256": sha256, "step": step}}


def test_model_page_shows_card_curves_and_both_backends(db_url, models_dir):
    run = config.data_dir() / "sst" / "runs" / "tiny" / "separator"
    run.mkdir(parents=True)
    run.joinpath("curves.jsonl").write_text(
        "".join(
            json.dumps({"step": s, "total": 3.0 - s / 100, "decoder": 2.0, "activity": 0.5, "rnnt": 1.0}) + "\n"
            for s in range(1, 11)
        )
    )
    with persistence.session_scope() as s:
        sst = _sst_params(checkpoint_id(models_dir / "sst.pt"), 200)
        persistence.save_evaluation_run(s, "sst", "test", sst, _results(60, 100))
        persistence.save_evaluation_run(s, "cascade", "test", {}, _results(40, 100))
    app = _model_page()
    assert "cascade" in app.markdown[0].value.lower()  # the page opens with what the recognisers do
    assert any("Undertrained" in w.value for w in app.warning)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Training updates"] == "200" and metrics["Trained parameters"].endswith(" M")
    assert metrics["Separator"] == "after block 2"
    bars, curves = app.get("vega_lite_chart")  # SST beside the cascade (one set), training losses
    assert set(_chart(bars)[1]["backend"]) == {"sst", "cascade"}
    curves_spec, lines = _chart(curves)
    assert curves_spec["encoding"]["color"]["field"] == "loss" and curves_spec["mark"]["type"] == "line"
    assert lines.groupby("loss")["step"].count().to_dict() == {"total": 10, "decoder": 10, "activity": 10, "rnnt": 10}
    assert lines[lines["loss"] == "total"]["training loss"].iloc[-1] == pytest.approx(2.9)
    table = app.dataframe[0].value
    assert set(table["backend"]) == {"sst", "cascade"}
    assert len(table) == 6  # two conditions + overall, per backend
    sst_overall = table[(table["backend"] == "sst") & (table["condition"] == "overall")].iloc[0]
    assert sst_overall["ORC-WER %"] == 60.0 and sst_overall["words"] == 100 and sst_overall["ORC-WER errors"] == 60
    assert sst_overall["checkpoint"] == "shipped (step 200)"
    text = " ".join(m.value for m in app.markdown)
    assert "Trained on synthetic speech" in text and "Pretrained by OpenAI" in text
    assert not any("issue" in m.value.lower() or "session" in m.value.lower() for m in app.markdown[:1])


def test_an_sst_file_of_the_old_format_is_one_sentence_not_a_traceback(db_url, tmp_path, monkeypatch):
    folder = tmp_path / "old"
    folder.mkdir()
    import torch

    torch.save({"config": {}, "state": {}}, folder / "sst.pt")
    monkeypatch.setattr(config, "models_dir", lambda: folder)
    app = _model_page()
    assert any("not a Whisper-based SST file" in w.value for w in app.warning)


def test_model_page_without_a_model_or_runs_says_what_to_do(db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path / "empty")
    app = _model_page()
    assert any("No SST model is shipped" in w.value for w in app.warning)
    assert any("No evaluation runs stored yet" in i.value for i in app.info)


def test_seeded_runs_draw_bars_of_the_shipped_checkpoint_and_mark_an_older_one(
    db_url, models_dir, shipped_runs, tmp_path
):
    source = f"sqlite:///{tmp_path / 'source.sqlite'}"  # where the shipped runs were made
    init_db(source)
    with persistence.session_scope(source) as s:
        ids = [
            persistence.save_evaluation_run(s, "cascade", "test", {"set_dir": "test"}, _results(40, 100)),
            persistence.save_evaluation_run(
                s, "sst", "test", _sst_params(checkpoint_id(models_dir / "sst.pt"), 200), _results(60, 100)
            ),
            # the newest SST run scored another checkpoint: listed and marked, but not drawn
            persistence.save_evaluation_run(s, "sst", "test", _sst_params("0123456789ab", 100), _results(90, 100)),
        ]
    evaluation_demo.export_runs(ids, shipped_runs, url=source)
    app = _model_page()  # the app seeds the shipped runs into the empty database on start

    spec, frame = _chart(app.get("vega_lite_chart")[0])  # one set: one bar chart
    bars, labels = spec["layer"]
    assert spec["title"] == "set: test" and bars["mark"]["type"] == "bar"
    assert bars["encoding"]["xOffset"]["field"] == bars["encoding"]["color"]["field"] == "backend"  # grouped
    assert labels["encoding"]["text"]["field"] == bars["encoding"]["y"]["field"] == "ORC-WER %"
    assert [t["field"] for t in bars["encoding"]["tooltip"]][-3:] == ["errors / words", "meetings", "run"]
    drawn = dict(list(frame.groupby("backend")))  # (a groupby has a .keys attribute)
    assert set(drawn) == {"sst", "cascade"}
    assert drawn["sst"]["condition"].tolist() == ["0S", "OV20", "overall"]
    assert drawn["sst"]["ORC-WER %"].tolist() == [60.0] * 3 and drawn["cascade"]["ORC-WER %"].tolist() == [40.0] * 3
    hover = drawn["sst"][["errors / words", "meetings", "run"]].values.tolist()
    assert hover == [["60 / 100", 2, ids[1]]] * 2 + [["60 / 100", 4, ids[1]]]

    table = app.dataframe[0].value
    assert len(table) == 9  # three seeded runs, three rows each
    notes = table.drop_duplicates("run").set_index("checkpoint")["backend"].to_dict()
    assert notes == {"": "cascade", "shipped (step 200)": "sst", "older checkpoint (step 100, 0123456789ab)": "sst"}
