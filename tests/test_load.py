"""A small bench/load.py against the real app: 3 uploads transcribed by the app's worker while 3 websocket
sessions open the fairness pages, all at once; every row intact, every job done, no page error."""

from __future__ import annotations

import load  # bench/load.py (pytest.ini puts bench/ on the path, as running it as a script does)
import pytest
import soundfile as sf
from app_harness import running_app

from tests.conftest import AMI_AUDIO

pytestmark = pytest.mark.browser  # needs the running app (the app_server fixture)

CLIP_S = 6  # seconds of each AMI excerpt: short jobs, still real speech


def test_concurrent_uploads_and_fairness_visits_keep_every_row(app_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTALK_DATA_DIR", str(app_server["data_dir"]))  # submit to the app's database
    monkeypatch.delenv("CROSSTALK_DATABASE_URL", raising=False)
    clips = []
    for name in ("trn03", "trn06", "dev00"):  # each opens with speech
        samples, rate = sf.read(AMI_AUDIO / f"{name}.flac", dtype="float32")
        clips.append(tmp_path / f"load-{name}.wav")
        sf.write(clips[-1], samples[: CLIP_S * rate], rate)

    # The uploads write to the app's database directly: a first session (app.py) migrates it before they start.
    load.visit(app_server["url"], "Transcribe", 300)
    uploads, visits, _ = load.run_load(app_server["url"], clips, browsers=3, visits=1, timeout_s=300)

    assert [u["status"] for u in uploads] == ["done"] * 3, [u["error"] for u in uploads]
    assert load.check_rows(uploads) == []
    assert len({u["recording_id"] for u in uploads}) == 3
    assert sorted(page for page, _, _ in visits) == sorted(load.FAIRNESS_PAGES * 3)
    assert [errors for _, _, errors in visits if errors] == []


def test_the_first_visit_of_a_fresh_server_may_open_any_page():
    # Until st.navigation has run once, Streamlit would run pages/cohorts.py alone (no migrations, no demo);
    # scripts/serve.py tells it first that app.py routes every page.
    with running_app(worker_idle_s=10) as app:
        _, errors = load.visit(app.url, "Cohorts", 300)
        assert errors == []
        assert load.visit(app.url, "Regional WER", 300)[1] == []
