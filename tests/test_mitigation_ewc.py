"""EWC: the penalty by hand, the Fisher's sign and frozen parameters, λ = 0 as plain fine-tuning, and a tiny
end-to-end experiment on real archive recordings (stored, then rerun from its stored parameters by the CLI)."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from engine import audio, persistence
from engine.__main__ import main
from engine.errors import UserError
from engine.mitigation import ewc_experiment, saa
from engine.mitigation.ewc import EWCPenalty, diagonal_fisher, fine_tune
from engine.mitigation.sst_adapt import SSTLoss, utterance_example
from tests.mitigation_data import SET_NAME, UNALIGNABLE, saa_set, tiny_checkpoint, tiny_params
from tests.sst_models import TABLE, TINY, tiny_model


def test_penalty_equals_a_hand_computation():
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
        model.bias.copy_(torch.tensor([0.5]))
    fisher = {"weight": torch.tensor([[3.0, 0.5]]), "bias": torch.tensor([2.0])}
    penalty = EWCPenalty.at(model, fisher, lam=4.0)
    assert penalty(model).item() == 0.0  # at the anchor
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[2.0, 0.0]]))  # moved by +1 and -2
        model.bias.copy_(torch.tensor([0.0]))  # moved by -0.5
    # (λ/2) Σ F (θ − θ*)² = 2 · (3·1 + 0.5·4 + 2·0.25) = 2 · 5.5
    assert penalty(model).item() == pytest.approx(11.0)
    model.bias.requires_grad_(False)  # a frozen parameter is not penalised
    assert penalty(model).item() == pytest.approx(10.0)


@pytest.fixture(scope="module")
def stella():
    """The first 3 s of a real archive recording ("Please call Stella") as an SST training example."""
    samples = audio.load(saa.audio_paths(["saa66"])["saa66"])[:3 * audio.SAMPLE_RATE]
    return utterance_example(samples, "please call stella", audio.SAMPLE_RATE)


def test_fisher_is_non_negative_and_zero_for_frozen_parameters(stella):
    model = tiny_model()
    for p in model.subsampling.parameters():
        p.requires_grad_(False)
    fisher = diagonal_fisher(model, [[stella], [stella]], SSTLoss(TABLE, TINY))
    assert set(fisher) == {name for name, _ in model.named_parameters()}
    for name, f in fisher.items():
        assert f.shape == dict(model.named_parameters())[name].shape
        assert (f >= 0).all(), name
        if name.startswith("subsampling."):
            assert (f == 0).all(), name
    assert float(fisher["joint_out.weight"].sum()) > 0  # the loss does reach the trainable weights


def test_lambda_zero_is_plain_fine_tuning_and_lambda_pulls_towards_the_anchor(stella):
    loss = SSTLoss(TABLE, TINY)
    base = tiny_model()
    fisher = diagonal_fisher(base, [[stella]], loss)

    def tuned(penalty_lambda):
        model = copy.deepcopy(base)
        penalty = None if penalty_lambda is None else EWCPenalty.at(model, fisher, penalty_lambda)
        fine_tune(model, lambda rng: [stella], loss, updates=3, lr=1e-2, penalty=penalty, seed=5)
        return model

    plain, zero, strong = tuned(None), tuned(0.0), tuned(1e3)
    assert all(torch.equal(p, z) for p, z in zip(plain.state_dict().values(), zero.state_dict().values()))
    # Σ F (θ − θ*)², the distance EWC keeps small: the penalty holds the weights the general data needs
    distance = EWCPenalty.at(base, fisher, lam=2.0)
    assert distance(plain).item() > 0
    assert distance(strong).item() < 0.5 * distance(plain).item()


def test_readings_are_cut_between_sentences_three_and_four():
    keys = ["saa66", UNALIGNABLE]
    halves = saa.Readings(saa.audio_paths(keys), "halves")
    first, first_text = halves.fine_tuning("saa66")
    second, second_text = halves.evaluation("saa66")
    whole = audio.load(saa.audio_paths(["saa66"])["saa66"])
    assert len(first) + len(second) == len(whole)
    assert 5.0 < len(first) / audio.SAMPLE_RATE < 9.0  # a 14 s reading, cut near its middle
    assert first_text.endswith("her brother Bob.") and second_text.startswith("We also need")
    assert len(first_text.split()) == 34 and len(second_text.split()) == 35
    assert not halves.usable(UNALIGNABLE)
    none = saa.Readings(saa.audio_paths(keys), "none")
    assert none.usable(UNALIGNABLE) and none.evaluation(UNALIGNABLE)[1] == saa.paragraph()
    with pytest.raises(UserError, match="text split"):
        saa.Readings({}, "thirds")


def test_tiny_experiment_is_stored_and_rerun_from_its_parameters(db_url, tmp_path, capsys):
    saa_set(db_url)
    params = tiny_params(tiny_checkpoint(tmp_path))
    experiment_id = ewc_experiment.run(params, url=db_url)
    stored = persistence.get_experiment(experiment_id, url=db_url)
    assert stored.kind == "ewc" and stored.set_name == SET_NAME and stored.params == params
    arms = stored.results["arms"]
    assert [(a["arm"], a["lambda"]) for a in arms] == [("none", 0.0), ("finetune", 0.0), ("ewc", 10.0)]
    for arm in arms:
        assert [r["rank"] for r in arm["regions"]] == [1, 2]
        assert [r["targeted"] for r in arm["regions"]] == [True, False]
        # evaluated on sentences 4-5 only (35 words), never on the fine-tuning sentences
        assert all(r["n_speakers"] == 1 and r["ref_words"] == 35 for r in arm["regions"])
        assert arm["overall"]["ref_words"] == 70 and arm["overall"]["n_speakers"] == 2
        assert arm["overall"]["ci_low"] <= arm["overall"]["wer"] <= arm["overall"]["ci_high"]
        assert arm["targeted_wer"] == arm["regions"][0]["wer"]
        assert arm["max_region_wer"] == max(r["wer"] for r in arm["regions"])
        assert arm["general"]["ref_words"] > 0
    assert [len(a["training"]["loss_curve"]) for a in arms[1:]] == [1, 1]
    split = stored.results["split"]
    assert set(split["train"]) == {"1"} and set(split["heldout"]) == {"1", "2"}
    assert not set(split["train"]["1"]) & set(split["heldout"]["1"])  # evaluation speakers are held out
    assert UNALIGNABLE not in split["train"]["1"] + split["heldout"]["1"]
    assert set(split["not_usable"]) <= {UNALIGNABLE}
    assert stored.results["texts"]["evaluation"].startswith("We also need")

    assert main(["mitigate", "rerun", str(experiment_id)]) == 0
    assert f"experiment {experiment_id + 1} stored" in capsys.readouterr().out
    again = persistence.get_experiment(experiment_id + 1, url=db_url)
    assert again.params == params
    assert [a["overall"] for a in again.results["arms"]] == [a["overall"] for a in arms]  # same seed, same numbers


def test_bad_requests_are_one_sentence_and_store_nothing(db_url, tmp_path):
    saa_set(db_url)
    checkpoint = tiny_checkpoint(tmp_path)
    with pytest.raises(UserError, match="no region 7"):
        ewc_experiment.run(tiny_params(checkpoint, regions=[7]), url=db_url)
    with pytest.raises(UserError, match="cannot be negative"):
        ewc_experiment.run(tiny_params(checkpoint, lambdas=[-1.0]), url=db_url)
    with pytest.raises(UserError, match="does not exist"):
        ewc_experiment.run(tiny_params(tmp_path / "missing.pt"), url=db_url)
    assert persistence.list_experiments(url=db_url) == []
    assert main(["mitigate", "ewc", "--eval-set", SET_NAME, "--regions", "first"]) == 2
