"""The Model page (streamlit AppTest): card, curves and SST-beside-cascade table from the database."""
from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

from engine import config, persistence
from engine.sst.checkpoint import save_model
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
            "curves": [{"step": s, "stage": "single", "total": 900.0 - s, "rnnt": 700.0 - s, "ctc": 600.0}
                       for s in range(1, 201)],
            "validation": [{"step": s, "stage": "single", "dev": {"single": {"orc_wer": 1.0 - s / 1000}}}
                           for s in (100, 200)]}
    save_model(folder / "sst.pt", model, table, card)
    (folder / "MODEL_CARD.md").write_text("# SST model card\n\nTrained on synthetic speech.\n")
    monkeypatch.setattr(config, "models_dir", lambda: folder)
    return folder


def _model_page() -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180).run()
    app.switch_page("pages/model.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_model_page_shows_card_curves_and_both_backends(db_url, models_dir):
    persistence.save_evaluation_run("sst", "test", {}, _results(60, 100))
    persistence.save_evaluation_run("cascade", "test", {}, _results(40, 100))
    app = _model_page()
    assert any("Undertrained" in w.value for w in app.warning)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Training updates"] == "200" and metrics["Parameters"].endswith(" M")
    assert len(app.get("plotly_chart")) == 2  # loss curves and dev ORC-WER
    table = app.dataframe[0].value
    assert set(table["backend"]) == {"sst", "cascade"}
    assert len(table) == 6  # two conditions + overall, per backend
    sst_overall = table[(table["backend"] == "sst") & (table["condition"] == "overall")].iloc[0]
    assert sst_overall["ORC-WER %"] == 60.0 and sst_overall["words"] == 100
    assert any("Trained on synthetic speech" in m.value for m in app.markdown)


def test_model_page_without_a_model_or_runs_says_what_to_do(db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path / "empty")
    app = _model_page()
    assert any("No SST model is shipped" in w.value for w in app.warning)
    assert any("No evaluation runs stored yet" in i.value for i in app.info)
