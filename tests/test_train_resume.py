"""Training from a recipe: a tiny real run (real Whisper, real simulated windows) killed with SIGKILL part
way resumes from its state file and ends with exactly the weights of a run never interrupted; the stage's
file can be shipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
UPDATES = 6

RECIPE = {
    "name": "tiny",
    "settings": {
        "bottleneck": 16,
        "hidden": 32,
        "dilations": [1, 2],
        "transducer_dim": 16,
        "predictor_embed": 8,
        "predictor_hidden": 16,
    },
    "stages": [
        {
            "name": "separator",
            "updates": UPDATES,
            "batch_windows": 1,
            "checkpoint_every": 1,
            "validate_every": 3,
            "warmup": 2,
            "lr": 0.01,
            "seed": 3,
            "pools": [{"source": "sim", "windows": 3, "seed": 5, "window_s": 6.0}],
            "dev_pool": {"source": "sim", "windows": 1, "seed": 6, "window_s": 6.0, "voices": "dev"},
        }
    ],
}


def _train(recipe: Path, out: Path, data: Path, wait_for_kill: bool = False) -> subprocess.CompletedProcess | None:
    env = {**os.environ, "CROSSTALK_DATA_DIR": str(data), "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "engine", "train", "--recipe", str(recipe), "--out-dir", str(out)]
    if not wait_for_kill:
        return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    curves = out / "separator" / "curves.jsonl"
    deadline = time.time() + 900
    while time.time() < deadline and process.poll() is None:
        if curves.exists() and len(curves.read_text().splitlines()) >= 2:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    process.wait()
    return None


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    recipe = tmp_path / "tiny.json"
    recipe.write_text(json.dumps(RECIPE))
    data = tmp_path / "data"
    whole = _train(recipe, tmp_path / "whole", data)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert "update" in whole.stderr  # the tqdm bar

    _train(recipe, tmp_path / "killed", data, wait_for_kill=True)
    state = torch.load(tmp_path / "killed" / "separator" / "state.pt", weights_only=True)
    assert 1 <= state["step"] < UPDATES  # it really stopped part way
    resumed = _train(recipe, tmp_path / "killed", data)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    from engine.sst.package import read_package

    a = read_package(tmp_path / "whole" / "separator" / "final.pt")["trained"]
    b = read_package(tmp_path / "killed" / "separator" / "final.pt")["trained"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    rows = [json.loads(line) for line in (tmp_path / "whole" / "separator" / "curves.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, UPDATES + 1)) and "dev" in rows[2]

    shipped = tmp_path / "sst.pt"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "train",
            "--export",
            str(shipped),
            "--source",
            str(tmp_path / "whole" / "separator" / "best.pt"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_package(shipped)["card"]["decoding"] == {"turn_source": "activity"}
