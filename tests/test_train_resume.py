"""A training run killed mid-way resumes from its last checkpoint step, and its export carries the voice-change
threshold chosen for it (real CLI, real TTS audio)."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
TINY_RUN = {
    "model": {"encoder_dim": 32, "subsampling_channels": 32, "mixture_layers": 1, "prediction_dim": 32,
              "prediction_embed_dim": 16, "joint_dim": 32},
    "data": {"source": "tts", "pool_size": 12, "voices": 3, "dev_pool_size": 4, "dev_voices": 2},
    "dev_mixtures": {"single": 1, "overlap": 1},
    "batch_seconds": 4, "epoch_updates": 100, "checkpoint_updates": 2, "threads": 1,
    "stages": [{"name": "single", "updates": 4, "mixing": {"kind": "single"}},
               {"name": "overlap", "updates": 4, "copy_branch": True,
                "mixing": {"kind": "meeting", "overlap_prob": 1.0, "max_turns": 2, "speed": [0.9, 1.1]},
                "spec_augment": {"freq_masks": 2, "max_freq_width": 8},
                "loss": {"fastemit_lambda": 0.005, "eot_beta": 1.0, "prune_width": 4}}],
    "final_lr_ratio": 0.1,
}


def _steps(out: Path) -> list[int]:
    with (out / "curves.csv").open() as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def test_killed_run_resumes_from_its_checkpoint_and_ships_with_its_threshold(tmp_path, data_dir):
    out = tmp_path / "run"
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps({**TINY_RUN, "out_dir": str(out)}))
    command = [sys.executable, "-m", "engine", "train", "--config", str(config_path)]
    env = {**os.environ, "CROSSTALK_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "last.pt").exists() and torch.load(out / "last.pt", weights_only=False)["step"] >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(out / "last.pt", weights_only=False)["step"]
    assert 2 <= killed_at < 8, "the run should have been killed between checkpoints and the end"

    resumed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from update {killed_at}" in resumed.stdout
    assert _steps(out) == list(range(1, 9))  # each update once: rows after the checkpoint were redone
    final = torch.load(out / "last.pt", weights_only=False)
    assert final["step"] == 8
    assert (out / "best.pt").exists() and (out / "curves.html").exists()
    record = json.loads((out / "validation.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 8 and {"single", "overlap"} <= set(record["dev"])

    # shipping it: the card carries the voice-change threshold chosen for it, and the backend splits turns at it
    from engine.backends.sst import SSTBackend
    from engine.sst.checkpoint import load_model
    from engine.voice_changes import CHANGE_THRESHOLD

    shipped = tmp_path / "shipped.pt"
    for given, expected in ((["--voice-change-threshold", "0.5"], 0.5), (["--voice-change-threshold", "off"], None),
                            ([], CHANGE_THRESHOLD)):
        export = subprocess.run(command + ["--export", str(shipped), "--source", "model-000008.pt"] + given,
                                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert export.returncode == 0, export.stderr[-2000:]
        card = load_model(shipped)[2]
        assert card["step"] == 8 and card["voice_change_threshold"] == expected
        assert SSTBackend(shipped).change_threshold == expected
    assert SSTBackend(shipped, change_threshold=0.3).change_threshold == 0.3  # a sweep overrides it
    refused = subprocess.run(command + ["--export", str(shipped), "--voice-change-threshold", "high"],
                             cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "must be a number or off" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_new_run_can_start_from_a_shipped_checkpoint(tmp_path, data_dir, monkeypatch):
    from engine.sst.checkpoint import save_model
    from engine.sst.config import SSTConfig
    from engine.sst.model import SSTModel
    from engine.sst.tokens import TokenTable
    from engine.sst.train import TrainConfig, model_card_data, train

    monkeypatch.setenv("CROSSTALK_DATA_DIR", str(data_dir))
    train(TrainConfig.from_dict({**TINY_RUN, "out_dir": str(tmp_path / "first")}), stop_after=2)
    table = TokenTable()
    shipped = SSTModel(SSTConfig.from_dict({**TINY_RUN["model"], "vocab_size": len(table)}))
    shipped.load_state_dict(torch.load(tmp_path / "first" / "last.pt", weights_only=False)["model"])
    save_model(tmp_path / "shipped.pt", shipped, table, {"step": 2, "total_updates": 7})

    # lr 0: one update leaves the weights (feature statistics included) exactly those it started from
    train(TrainConfig.from_dict({**TINY_RUN, "out_dir": str(tmp_path / "second"), "lr": 0.0,
                                 "init_from": str(tmp_path / "shipped.pt")}), stop_after=1)
    continued = torch.load(tmp_path / "second" / "last.pt", weights_only=False)["model"]
    assert continued.keys() == shipped.state_dict().keys()
    for name, value in shipped.state_dict().items():
        assert torch.equal(continued[name], value), name
    # the card counts the updates behind the starting weights too, and keeps counting them after a resume
    assert model_card_data(tmp_path / "second", 1, "single", {}, "single")["total_updates"] == 8
    save_model(tmp_path / "shipped.pt", shipped, table, {"step": 1})  # the export replaced the starting file
    train(TrainConfig.from_dict({**TINY_RUN, "out_dir": str(tmp_path / "second"), "lr": 0.0,
                                 "init_from": str(tmp_path / "shipped.pt")}), stop_after=1)
    assert model_card_data(tmp_path / "second", 2, "single", {}, "single")["total_updates"] == 9

    # reinit: the named modules start afresh, everything else is the shipped model's
    train(TrainConfig.from_dict({**TINY_RUN, "out_dir": str(tmp_path / "third"), "lr": 0.0,
                                 "init_from": str(tmp_path / "shipped.pt"), "reinit": ["joint_out", "prediction"]}),
          stop_after=1)
    restarted = torch.load(tmp_path / "third" / "last.pt", weights_only=False)["model"]
    for name, value in shipped.state_dict().items():
        fresh = name.startswith(("joint_out.", "prediction."))
        assert torch.equal(restarted[name], value) != fresh, name

    # growth: residual layers added by the recipe start as the identity, everything else is the shipped model's
    grown_sizes = {**TINY_RUN["model"], "residual_separator_layers": 1, "residual_recognition_layers": 1}
    train(TrainConfig.from_dict({**TINY_RUN, "model": grown_sizes, "out_dir": str(tmp_path / "grown"), "lr": 0.0,
                                 "init_from": str(tmp_path / "shipped.pt")}), stop_after=1)
    grown = SSTModel(SSTConfig.from_dict({**grown_sizes, "vocab_size": len(table)})).eval()
    grown.load_state_dict(torch.load(tmp_path / "grown" / "last.pt", weights_only=False)["model"])
    new = set(grown.state_dict()) - set(shipped.state_dict())
    assert new and all("residual" in name for name in new)
    for name, value in shipped.state_dict().items():
        assert torch.equal(grown.state_dict()[name], value), name
    feats = torch.randn(2, 60, 80)
    torch.testing.assert_close(grown.encode(feats)[0], shipped.eval().encode(feats)[0])
    # other sizes are refused in one sentence, before any update
    with pytest.raises(ValueError, match="does not fit the recipe's model sizes"):
        train(TrainConfig.from_dict({**TINY_RUN, "model": {**TINY_RUN["model"], "encoder_dim": 24},
                                     "out_dir": str(tmp_path / "other"), "init_from": str(tmp_path / "shipped.pt")}),
              stop_after=1)


def test_a_ctc_only_stage_is_scored_through_the_ctc_head_and_never_becomes_best(tmp_path, data_dir, monkeypatch):
    from engine.sst.train import TrainConfig, train

    monkeypatch.setenv("CROSSTALK_DATA_DIR", str(data_dir))
    out = tmp_path / "run"
    ctc_first = {**TINY_RUN, "out_dir": str(out), "epoch_updates": 2,
                 "model": {**TINY_RUN["model"], "residual_blocks": True},
                 "stages": [{"name": "ctc-single", "updates": 2, "mixing": {"kind": "single"},
                             "loss": {"rnnt_weight": 0.0, "ctc_weight": 1.0}}, TINY_RUN["stages"][1]]}
    train(TrainConfig.from_dict(ctc_first), stop_after=2)
    record = json.loads((out / "validation.jsonl").read_text().splitlines()[-1])
    assert record["search"] == "ctc" and record["dev"]["single"]["sessions"] == 1
    assert (out / "model-000002.pt").exists() and not (out / "best.pt").exists()
    with (out / "curves.csv").open() as f:
        assert all(float(row["rnnt"]) == 0.0 for row in csv.DictReader(f))
    train(TrainConfig.from_dict(ctc_first), stop_after=2)
    record = json.loads((out / "validation.jsonl").read_text().splitlines()[-1])
    assert record["search"] == "transducer" and (out / "best.pt").exists()


def test_batch_seed_draws_other_batches_from_the_same_pool(tmp_path, data_dir, monkeypatch):
    from engine.sst.train import TrainConfig, train

    monkeypatch.setenv("CROSSTALK_DATA_DIR", str(data_dir))

    def first_batch(name: str, **extra) -> tuple[str, str]:
        out = tmp_path / name
        torch.manual_seed(0)  # the same initial weights, so the first loss depends on the batch alone
        train(TrainConfig.from_dict({**TINY_RUN, "out_dir": str(out), **extra}), stop_after=1)
        with (out / "curves.csv").open() as f:
            row = next(csv.DictReader(f))
        return row["audio_s"], row["total"]

    default = first_batch("default")
    assert first_batch("same", batch_seed=0) == default  # batch_seed defaults to seed (0)
    assert first_batch("other", batch_seed=7) != default


def test_a_bad_recipe_gets_one_sentence_and_no_traceback(tmp_path):
    config_path = tmp_path / "bad.json"
    config_path.write_text(json.dumps({**TINY_RUN, "out_dir": str(tmp_path / "run"),
                                       "stages": [{"name": "a", "updates": 1, "loss": {"prune_width": 1}}]}))
    result = subprocess.run([sys.executable, "-m", "engine", "train", "--config", str(config_path)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is not a usable recipe: prune_width is 0 (the full lattice) or at least 2 rows, not 1." in result.stderr
    assert not (tmp_path / "run").exists()
