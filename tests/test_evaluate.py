"""The evaluation harness end to end: the real cascade backend on a small simulated set, stored in a
real SQLite database, with counts that add up."""

from __future__ import annotations

import json

import pytest

from engine import persistence
from engine.__main__ import main
from engine.errors import UserError
from engine.evaluate import evaluate, select_meetings
from engine.simulate.sets import SetRecipe, write_set


@pytest.fixture
def tiny_set(data_dir):
    return write_set(
        data_dir / "sets" / "tiny", SetRecipe(2, "balanced", 7, (2, 2), "dev", duration_s=(6.0, 8.0)), workers=1
    )


def test_evaluate_cli_scores_the_cascade_and_stores_the_run(tiny_set, db_url, tmp_path, capsys):
    out, hyps = tmp_path / "results.json", tmp_path / "hyps"
    assert (
        main(
            [
                "evaluate",
                "--backend",
                "cascade",
                "--set",
                str(tiny_set),
                "--out",
                str(out),
                "--hyp-dir",
                str(hyps),
                "--limit",
                "1",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in hyps.iterdir()) == ["0S_0000.json", "model.json"]
    first = json.loads(out.read_text())["sessions"]["0S_0000"]
    assert (
        main(["evaluate", "--backend", "cascade", "--set", str(tiny_set), "--out", str(out), "--hyp-dir", str(hyps)])
        == 0
    )  # transcribes only the second meeting
    results = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert "| overall | 2 |" in printed and "ORC-WER" in printed

    reference = json.loads((tiny_set / "reference.seglst.json").read_text())
    ref_words = sum(len(r["words"].split()) for r in reference)
    overall = results["overall"]
    assert set(results["conditions"]) == {"0S", "0L"}
    for metric in ("orc_wer", "cp_wer", "tcp_wer"):
        counts = overall[metric]
        assert counts["words"] == ref_words
        assert counts["errors"] == counts["substitutions"] + counts["deletions"] + counts["insertions"]
        assert counts["errors"] == sum(c[metric]["errors"] for c in results["conditions"].values())
        assert counts["wer"] == pytest.approx(counts["errors"] / counts["words"])
    assert overall["turns"]["hyp_turns"] > 0  # the cascade found speech to transcribe
    assert overall["turns"]["ref_turns"] == len(reference) and overall["turns"]["sessions"] == 2
    assert overall["rtf"] > 0 and overall["peak_memory_mb"] > 100
    assert results["sessions"]["0S_0000"] == first  # the kept hypothesis scores as when it was fresh

    with pytest.raises(UserError, match="another model"):  # kept cascade output is not an SST run
        evaluate("sst", tiny_set, hyp_dir=hyps)

    runs = persistence.list_evaluation_runs("cascade", url=db_url)
    assert len(runs) == 2 and runs[0].set_name == "tiny"
    assert runs[0].results["overall"]["cp_wer"]["errors"] == overall["cp_wer"]["errors"]


def test_limit_interleaves_conditions_and_bad_input_is_one_sentence(tiny_set, tmp_path):
    # Sessions sort as 0L_0001 < 0S_0000 by name; the harness takes them in index order.
    assert [m["session_id"] for m in select_meetings(tiny_set)] == ["0S_0000", "0L_0001"]
    assert [m["session_id"] for m in select_meetings(tiny_set, limit=1)] == ["0S_0000"]
    with pytest.raises(UserError):
        evaluate("no-such-backend", tiny_set)
    with pytest.raises(UserError):
        evaluate("cascade", tmp_path)  # not a set
    assert main(["evaluate", "--backend", "cascade", "--set", str(tmp_path), "--no-db"]) == 2


def test_a_given_sst_checkpoint_is_scored_and_recorded(tiny_set, tmp_path):
    import torch

    from engine.backends.sst import SSTBackend
    from engine.sst.package import package_id, save_package
    from tests.sst_models import tiny_model

    model = tiny_model()
    with torch.no_grad():
        model.activity.bias.fill_(-20.0)  # a channel that is never active is never decoded: a fast, empty run
    path = save_package(tmp_path / "candidate.pt", model, {"step": 42})
    results = evaluate("sst", tiny_set, limit=1, checkpoint=path, hyp_dir=tmp_path / "hyps")
    assert results["model"] == {
        "checkpoint": {"sha256": package_id(path), "step": 42},
        "turn_source": "activity",
        "decoder_pass": True,
    }
    assert results["overall"]["meetings"] == 1 and results["overall"]["orc_wer"]["errors"] > 0
    transducer_words = SSTBackend(path, decoder_pass=False)  # a backend object, as an ablation passes one
    assert evaluate("sst", tiny_set, limit=1, backend=transducer_words)["model"]["decoder_pass"] is False
    with pytest.raises(UserError, match="another model"):  # kept hypotheses of one decoding are not another's
        evaluate("sst", tiny_set, limit=1, backend=transducer_words, hyp_dir=tmp_path / "hyps")
    with pytest.raises(UserError, match="only be given to the sst backend"):
        evaluate("cascade", tiny_set, checkpoint=path)
