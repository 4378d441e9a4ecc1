"""EWC on Whisper tiny.en: the penalty by hand, the Fisher's sign and frozen weights, λ = 0 as plain fine-tuning,
the sentence cut from Whisper's word times, paired changes by hand, and a tiny end-to-end experiment on real
archive recordings with the real model (stored, then rerun from its stored parameters by the CLI).

    .venv/bin/python -m pytest tests/test_mitigation_ewc.py -x -q
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from engine import audio, persistence
from engine.__main__ import main
from engine.errors import UserError
from engine.mitigation import ewc_experiment, saa, whisper_readings
from engine.mitigation.ewc import EWCPenalty, diagonal_fisher, fine_tune
from engine.mitigation.whisper_adapt import Adapter, TeacherForcedLoss, Utterance, set_trainable, transcribe
from engine.types import Word
from engine.whisper.decoding import decode
from engine.whisper.features import window_mel
from engine.whisper.model import Whisper
from engine.whisper.tokenizer import tokenizer
from tests.mitigation_data import SET_NAME, saa_set, tiny_params


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
def whisper():
    model = Whisper.pretrained()
    set_trainable(model, "decoder")
    return model


@pytest.fixture(scope="module")
def stella(whisper):
    """The first 3 s of a real archive recording ("Please call Stella"), as the decoder adaptation sees it."""
    samples = audio.load(saa.audio_paths(["saa66"])["saa66"])[: 3 * audio.SAMPLE_RATE]
    return Utterance("saa66", Adapter("decoder").memory(whisper, samples), "Please call Stella.")


def test_decoder_adaptation_moves_the_decoder_blocks_but_not_the_cross_attention_keys(whisper):
    moving = {name for name, p in whisper.named_parameters() if p.requires_grad}
    assert moving and all(name.startswith("decoder.blocks.") or name.startswith("decoder.ln.") for name in moving)
    assert not any(".cross_attn.kv." in name for name in moving)
    assert "decoder.token_embedding.weight" not in moving
    top = Whisper.pretrained()
    assert set_trainable(top, "encoder_top") == sum(p.numel() for p in top.encoder.blocks[3].parameters()) + sum(
        p.numel() for p in top.encoder.ln_post.parameters()
    )


def test_batched_transcripts_equal_the_torch_greedy_decoder(whisper):
    """transcribe() decodes many utterances at once from the cached cross-attention keys and values; it must give
    engine.whisper.decoding.decode's greedy transcript of each, computed from the audio."""
    tok = tokenizer()
    adapter = Adapter("decoder")
    parts, utts = [], []
    for key in ("saa66", "saa1119"):
        samples = audio.load(saa.audio_paths([key])[key])
        parts.append(samples[-5 * audio.SAMPLE_RATE :])  # the last 5 s: "... at the train station."
        utts.append(Utterance(key, adapter.memory(whisper, parts[-1]), ""))
    with torch.no_grad():
        features = [whisper.encoder(window_mel(p)[None]) for p in parts]
    for timestamps in (True, False):  # the experiments decode without timestamps, as the loss trains
        batched = transcribe(whisper, utts, adapter, timestamps, batch_size=2)
        single = [tok.decode(decode(whisper, f, timestamps=timestamps).text_tokens(tok)) for f in features]
        assert batched == single and all("station" in text for text in batched)


def test_fisher_is_non_negative_and_zero_for_frozen_weights(whisper, stella):
    loss = TeacherForcedLoss(Adapter("decoder"))
    assert 0 < loss(whisper, [stella]).item() < 2  # Whisper reads these words well: a low cross-entropy
    fisher = diagonal_fisher(whisper, [[stella], [stella]], loss)
    params = dict(whisper.named_parameters())
    assert set(fisher) == set(params)
    for name, f in fisher.items():
        assert f.shape == params[name].shape and (f >= 0).all(), name
        if not params[name].requires_grad:
            assert (f == 0).all(), name
    assert float(fisher["decoder.blocks.3.mlp.2.weight"].sum()) > 0  # the loss reaches the moving weights


def test_lambda_zero_is_plain_fine_tuning_and_lambda_pulls_towards_the_anchor(whisper, stella):
    loss = TeacherForcedLoss(Adapter("decoder"))
    fisher = diagonal_fisher(whisper, [[stella]], loss)

    def tuned(penalty_lambda):
        model = copy.deepcopy(whisper)
        penalty = None if penalty_lambda is None else EWCPenalty.at(model, fisher, penalty_lambda)
        fine_tune(model, lambda rng: [stella], loss, updates=3, lr=1e-3, penalty=penalty, seed=5)
        return model

    plain, zero, strong = tuned(None), tuned(0.0), tuned(1e6)
    assert all(torch.equal(p, z) for p, z in zip(plain.state_dict().values(), zero.state_dict().values()))
    distance = EWCPenalty.at(whisper, fisher, lam=2.0)  # Σ F (θ − θ*)²: what EWC keeps small
    assert distance(plain).item() > 0
    assert distance(strong).item() < 0.8 * distance(plain).item()  # Adam's first step is the same for all
    frozen = "decoder.token_embedding.weight"
    assert torch.equal(plain.state_dict()[frozen], whisper.state_dict()[frozen])


def test_the_cut_follows_the_aligned_words_and_their_neighbours():
    text = "one two three. four five six."
    words = [
        Word("One", 0.0, 0.4),
        Word("two", 0.5, 0.9),
        Word("three.", 1.0, 1.4),
        Word("Four", 2.0, 2.4),
        Word("five", 2.5, 2.9),
        Word("six.", 3.0, 3.3),
    ]
    assert whisper_readings.cut_after(words, text, 3) == pytest.approx(1.7)  # between "three." and "Four"
    missing = [words[0], words[1], *words[3:]]  # "three" not recognised: its left neighbour stands in
    assert whisper_readings.cut_after(missing, text, 3) == pytest.approx(1.45)
    substituted = [*words[:3], Word("for", 2.0, 2.4), *words[4:]]  # a substitution still aligns
    assert whisper_readings.cut_after(substituted, text, 3) == pytest.approx(1.7)
    assert whisper_readings.cut_after([], text, 3) is None
    assert whisper_readings.cut_after(words[:3], text, 3) is None  # nothing after the cut


def test_readings_are_cut_between_sentences_three_and_four():
    paths = saa.audio_paths(["saa66"])
    halves = saa.Readings(paths, "halves", 30 * audio.SAMPLE_RATE)
    first, start1, end1, first_text = halves.fine_tuning("saa66")
    second, start2, end2, second_text = halves.evaluation("saa66")
    whole = audio.load(paths["saa66"])
    assert len(first) + len(second) == len(whole) and (start1, end1, end2) == (0, start2, len(whole))
    assert 5.0 < len(first) / audio.SAMPLE_RATE < 9.0  # a 14 s reading, cut near its middle
    assert first_text.endswith("her brother Bob.") and second_text.startswith("We also need")
    assert len(first_text.split()) == 34 and len(second_text.split()) == 35
    assert not saa.Readings(paths, "halves", 4 * audio.SAMPLE_RATE).usable("saa66")  # a part beyond the window
    assert saa.Readings(paths, "none", 30 * audio.SAMPLE_RATE).evaluation("saa66")[3] == saa.paragraph()
    with pytest.raises(UserError, match="text split"):
        saa.Readings({}, "thirds", 1)


def test_paired_changes_equal_a_hand_computation():
    heldout = {1: ["a", "b"], 2: ["c"]}
    base = {"a": [4, 10], "b": [2, 10], "c": [1, 10]}
    arm = {"a": [2, 10], "b": [2, 10], "c": [1, 10]}
    changes = ewc_experiment.paired_changes(base, arm, heldout, {"targeted": ["a", "b"], "untargeted": ["c"]}, 200, 0)
    assert changes["targeted"]["value"] == pytest.approx((4 - 6) / 20)
    assert changes["untargeted"] == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}  # unchanged speakers
    # region WERs 0.3 / 0.1 before, 0.2 / 0.1 after
    assert changes["mean_region_wer"]["value"] == pytest.approx(-0.05)
    assert changes["max_region_wer"]["value"] == pytest.approx(-0.1)
    assert changes["var_region_wer"]["value"] == pytest.approx(np.var([0.2, 0.1]) - np.var([0.3, 0.1]))
    assert changes["targeted"]["ci_low"] <= changes["targeted"]["value"] <= changes["targeted"]["ci_high"] <= 0


def test_tiny_experiment_is_stored_and_rerun_from_its_parameters(db_url, capsys):
    saa_set(db_url)
    params = tiny_params()
    experiment_id = ewc_experiment.run(params, url=db_url)
    stored = persistence.get_experiment(experiment_id, url=db_url)
    assert stored.kind == "ewc" and stored.set_name == SET_NAME and stored.params == params
    arms = stored.results["arms"]
    assert [(a["arm"], a["lambda"], a["seed"]) for a in arms] == [
        ("none", 0.0, None),
        ("finetune", 0.0, 0),
        ("ewc", 10.0, 0),
    ]
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
        assert set(arm["general_per_file"]) == set(stored.results["split"]["general"])
    assert arms[0]["general"]["wer"] == 0.0  # the shipped model against its own transcripts
    for arm in arms[1:]:
        assert len(arm["training"]["loss_curve"]) == 1
        assert set(arm["changes"]) >= {"targeted", "untargeted", "overall", "var_region_wer", "general"}
    assert [row["lambda"] for row in stored.results["seed_summary"]] == [0.0, 10.0]
    split = stored.results["split"]
    assert set(split["train"]) == {"1"} and set(split["heldout"]) == {"1", "2"}
    assert not set(split["train"]["1"]) & set(split["heldout"]["1"])  # evaluation speakers are held out
    assert not set(split["fisher"]) & set(split["general"])
    assert stored.results["texts"]["evaluation"].startswith("We also need")

    assert main(["mitigate", "rerun", str(experiment_id)]) == 0
    assert f"experiment {experiment_id + 1} stored" in capsys.readouterr().out
    again = persistence.get_experiment(experiment_id + 1, url=db_url)
    assert again.params == params
    assert [a["per_speaker"] for a in again.results["arms"]] == [a["per_speaker"] for a in arms]  # same numbers


def test_cohort_target_fine_tunes_the_bottom_cohort_and_scores_the_same_speakers(db_url):
    saa_set(db_url)
    regions = persistence.get_experiment(ewc_experiment.run(tiny_params(lambdas=[0.0]), url=db_url), url=db_url)
    cohort = persistence.get_experiment(
        ewc_experiment.run(tiny_params(lambdas=[0.0], target="cohort"), url=db_url), url=db_url
    )
    assert cohort.results["target"] == "cohort" and cohort.results["cohort"]["label"]
    assert cohort.results["split"]["heldout"] == regions.results["split"]["heldout"]  # the same held-out speakers
    [trained] = cohort.results["split"]["train"].values()
    groups = cohort.results["split"]["groups"]
    assert trained and not set(trained) & {k for v in cohort.results["split"]["heldout"].values() for k in v}
    assert groups["targeted"] == groups["bottom_cohort"]
    assert not any(r["targeted"] for r in cohort.results["arms"][0]["regions"])  # no region is the target
    assert cohort.results["arms"][0]["per_speaker"] == regions.results["arms"][0]["per_speaker"]


def test_bad_requests_are_one_sentence_and_store_nothing(db_url):
    saa_set(db_url)
    with pytest.raises(UserError, match="no region 7"):
        ewc_experiment.run(tiny_params(regions=[7]), url=db_url)
    with pytest.raises(UserError, match="cannot be negative"):
        ewc_experiment.run(tiny_params(lambdas=[-1.0]), url=db_url)
    with pytest.raises(UserError, match="no evaluation set"):
        ewc_experiment.run(tiny_params(eval_set="missing"), url=db_url)
    with pytest.raises(UserError, match="from-scratch SST"):
        ewc_experiment.run(tiny_params(checkpoint="models/sst.pt"), url=db_url)  # a stored pre-Whisper experiment
    assert persistence.list_experiments(url=db_url) == []
    assert main(["mitigate", "ewc", "--eval-set", SET_NAME, "--regions", "first"]) == 2
