"""The Model page (streamlit AppTest): card, curves, and SST beside the cascade (bars and table) from the
database, including runs the app seeds from a shipped asset on start."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from db import init_db
from engine import config, evaluation_demo, persistence
from engine.sst.checkpoint import checkpoint_id, save_model
from engine.sst.config import SSTConfig
from engine.sst.model import SSTModel
from engine.sst.tokens import TokenTable
from tests.conftest import REPO_ROOT


def _results(orc_errors: int, words: int) -> dict:
    condition = {"meetings": 2, "orc_wer": {"errors": orc_errors, "words": words, "wer": orc_errors / words},
                 "cp_wer": {"errors": orc_errors + 5, "words": words, "wer": (orc_errors + 5) / words},
                 "turns": {"turn_count_accuracy": 0.5, "end_latency": {"p50": 0.4}, "start_latency": {"p50": 0.2}},
                 "rtf": 0.05}
    return {"conditions": {"0S": condition, "OV20": condition}, "overall": {**condition, "meetings": 4}}


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """A models folder holding a real (tiny, untrained) checkpoint with card data."""
    folder = tmp_path / "models"
    table = TokenTable()
    model = SSTModel(SSTConfig(encoder_dim=32, subsampling_channels=16, mixture_layers=1, prediction_dim=32,
                               prediction_embed_dim=8, joint_dim=32, vocab_size=len(table)))
    card = {"step": 200, "stage": "single", "quality_note": "Undertrained: do not use for real transcripts.",
            "voice_change_threshold": 0.42,
            "curves": [{"step": s, "stage": "single", "total": 900.0 - s, "rnnt": 700.0 - s, "ctc": 600.0}
                       for s in range(1, 201)],
            "validation": [{"step": s, "stage": "single", "dev": {"single": {"orc_wer": 1.0 - s / 1000}}}
                           for s in (100, 200)]}
    save_model(folder / "sst.pt", model, table, card)
    (folder / "MODEL_CARD.md").write_text("# SST model card\n\nTrained on synthetic speech.\n")
    monkeypatch.setattr(config, "models_dir", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def shipped_runs(tmp_path, monkeypatch):
    """Where the app seeds shipped evaluation runs from: nothing unless a test writes the file."""
    path = tmp_path / "evaluation_demo.json"
    monkeypatch.setattr(evaluation_demo, "DEMO_JSON", path)
    return path


def _numbers(values) -> list[float]:
    """A plotly array from a chart's JSON spec: plotly 6 writes numeric arrays as base64 typed arrays."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def _model_page() -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180).run()
    app.switch_page("pages/model.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _sst_params(sha256: str, step: int) -> dict:
    return {"set_dir": "test", "limit": None, "oracle_speakers": False, "checkpoint": {"sha256": sha256, "step": step}}


def test_model_page_shows_card_curves_and_both_backends(db_url, models_dir):
    persistence.save_evaluation_run("sst", "test", _sst_params(checkpoint_id(models_dir / "sst.pt"), 200),
                                    _results(60, 100))
    persistence.save_evaluation_run("cascade", "test", {}, _results(40, 100))
    app = _model_page()
    assert any("Undertrained" in w.value for w in app.warning)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Training updates"] == "200" and metrics["Parameters"].endswith(" M")
    assert any("cosine distance above 0.42" in c.value for c in app.caption)  # the checkpoint's own threshold
    assert len(app.get("plotly_chart")) == 3  # loss curves, dev ORC-WER, SST beside the cascade
    table = app.dataframe[0].value
    assert set(table["backend"]) == {"sst", "cascade"}
    assert len(table) == 6  # two conditions + overall, per backend
    sst_overall = table[(table["backend"] == "sst") & (table["condition"] == "overall")].iloc[0]
    assert sst_overall["ORC-WER %"] == 60.0 and sst_overall["words"] == 100 and sst_overall["ORC-WER errors"] == 60
    assert sst_overall["checkpoint"] == "shipped (step 200)"
    assert any("Trained on synthetic speech" in m.value for m in app.markdown)


def test_model_page_without_a_model_or_runs_says_what_to_do(db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path / "empty")
    app = _model_page()
    assert any("No SST model is shipped" in w.value for w in app.warning)
    assert any("No evaluation runs stored yet" in i.value for i in app.info)


def test_seeded_runs_draw_bars_of_the_shipped_checkpoint_and_mark_an_older_one(db_url, models_dir, shipped_runs,
                                                                               tmp_path):
    source = f"sqlite:///{tmp_path / 'source.sqlite'}"  # where the shipped runs were made
    init_db(source)
    ids = [persistence.save_evaluation_run("cascade", "test", {"set_dir": "test"}, _results(40, 100), url=source),
           persistence.save_evaluation_run("sst", "test", _sst_params(checkpoint_id(models_dir / "sst.pt"), 200),
                                           _results(60, 100), url=source),
           # the newest SST run scored another checkpoint: listed and marked, but not drawn
           persistence.save_evaluation_run("sst", "test", _sst_params("0123456789ab", 100), _results(90, 100),
                                           url=source)]
    evaluation_demo.export_runs(ids, shipped_runs, url=source)
    app = _model_page()  # the app seeds the shipped runs into the empty database on start

    bars = json.loads(app.get("plotly_chart")[2].proto.spec)
    drawn = {trace["name"]: trace for trace in bars["data"]}
    assert set(drawn) == {"sst", "cascade"} and all(trace["type"] == "bar" for trace in drawn.values())
    assert drawn["sst"]["x"] == ["0S", "OV20", "overall"] and _numbers(drawn["sst"]["y"]) == [60.0] * 3
    assert _numbers(drawn["cascade"]["y"]) == [40.0] * 3
    assert "errors / words" in drawn["sst"]["hovertemplate"]
    hover = [row[:3] for row in drawn["sst"]["customdata"]]  # errors / words, meetings, run (then the set)
    assert hover == [["60 / 100", 2, ids[1]]] * 2 + [["60 / 100", 4, ids[1]]]

    table = app.dataframe[0].value
    assert len(table) == 9  # three seeded runs, three rows each
    notes = table.drop_duplicates("run").set_index("checkpoint")["backend"].to_dict()
    assert notes == {"": "cascade", "shipped (step 200)": "sst", "older checkpoint (step 100, 0123456789ab)": "sst"}
