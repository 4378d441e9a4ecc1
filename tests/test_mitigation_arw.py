"""ARW mitigation: the weights, EER (hand-checked), the bootstrap's rebuilt trials, the speaker split, learning on
real audio, and tiny end-to-end experiments stored in a temp database (module and CLI).

    .venv/bin/python -m pytest tests/test_mitigation_arw.py -x -q
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import persistence
from engine.__main__ import main as cli
from engine.mitigation import arw, arw_experiment, speaker_data
from engine.mitigation.eer import SortedScores, Trials, bootstrap_eers, build_trials, eer, resampled_weights


@pytest.fixture(autouse=True)
def one_torch_thread():
    """As the experiment runs: one thread (the machine is shared; more threads only contend)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


TINY = {
    "steps": 3,
    "max_saa_speakers": 24,
    "max_librispeech_speakers": 6,
    "n_boot": 5,
    "speakers_per_batch": 8,
    "channels": 16,
    "embedding_dim": 16,
    "kmeans_clusters": 2,
    "eval_crops": 1,
    "min_group_speakers": 2,
}


# ---- ARW weights --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_arw_weights_are_at_least_one_and_average_two(seed):
    rng = np.random.default_rng(seed)
    f = torch.from_numpy(rng.random(17) ** 4)  # skewed, some near zero
    f[3] = 0.0
    weights = arw.arw_weights(f)
    assert torch.all(weights >= 1)
    assert weights[3] == 1  # f = 0: the floor of Lahoti's form
    assert float(weights.mean()) == pytest.approx(2.0)


def test_constant_adversary_gives_every_crop_weight_two_and_pairs_four():
    weights = arw.arw_weights(torch.full((6,), 0.3))
    assert torch.allclose(weights, torch.full((6,), 2.0))
    assert torch.allclose(
        arw.pair_weights(torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])), torch.tensor([11.0, 22.0, 33.0])
    )  # crop s pairs with crop s + S


# ---- EER ----------------------------------------------------------------------------------------------------


def test_eer_equals_hand_computation():
    # Sorted: .1n .2n .3t .4n .8t .9t. Threshold above .3: miss 1/3 (the .3 target), false alarm 1/3 (.4).
    assert eer([0.9, 0.8, 0.3], [0.1, 0.4, 0.2]) == pytest.approx(1 / 3)
    # A target and a non-target tie at .5: the cut cannot split them, so (miss, FA) goes from (0, 1/2) straight
    # to (1/2, 0), and the curves cross half-way: EER 1/4.
    assert eer([0.5, 0.9], [0.5, 0.1]) == pytest.approx(0.25)


def test_eer_is_zero_when_separable_and_half_for_identical_distributions():
    rng = np.random.default_rng(0)
    assert eer(rng.uniform(1, 2, 50), rng.uniform(-1, 0.99, 80)) == 0.0
    assert eer(rng.normal(size=4000), rng.normal(size=4000)) == pytest.approx(0.5, abs=0.03)
    assert eer([0.4] * 3, [0.4] * 5) == pytest.approx(0.5)


def test_weighted_eer_equals_eer_of_repeated_scores():
    target, nontarget = np.array([0.9, 0.6, 0.2]), np.array([0.7, 0.3, 0.1, 0.5])
    tw, nw = np.array([2, 1, 3]), np.array([1, 4, 2, 1])
    assert eer(target, nontarget, tw, nw) == pytest.approx(eer(np.repeat(target, tw), np.repeat(nontarget, nw)))


def _embeddings(n_speakers: int, crops: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(n_speakers, 1, 8))

    def around():
        x = centre + noise * rng.normal(size=(n_speakers, crops, 8))
        return x / np.linalg.norm(x, axis=2, keepdims=True)

    return around(), around()


def test_trials_count_targets_and_non_targets_and_select_groups():
    trials = build_trials(*_embeddings(5, 2, 0.5, 0))
    assert trials.is_target.sum() == 5 * 4 and (~trials.is_target).sum() == 5 * 4 * 4
    within = trials.within(np.array([0, 3]))
    assert set(within.speaker_a) | set(within.speaker_b) == {0, 3}
    assert within.is_target.sum() == 8 and (~within.is_target).sum() == 2 * 4


def test_bootstrap_weights_equal_the_trial_list_rebuilt_from_the_draw():
    enrol, test = _embeddings(4, 2, 1.0, 1)
    trials = build_trials(enrol, test)
    draw = np.array([0, 0, 2, 3])  # speaker 0 twice, speaker 1 missing
    # Rebuilt by hand: the drawn copies as speakers of their own, minus the pairs of two copies of one speaker.
    copies = build_trials(enrol[draw], test[draw])
    same_recording = (draw[copies.speaker_a] == draw[copies.speaker_b]) & ~copies.is_target
    rebuilt = Trials(
        copies.scores[~same_recording], draw[copies.speaker_a][~same_recording], draw[copies.speaker_b][~same_recording]
    )
    sorted_scores = SortedScores(trials.scores, trials.is_target)
    weights = resampled_weights(
        np.bincount(draw, minlength=4),
        trials.speaker_a[sorted_scores.order],
        trials.speaker_b[sorted_scores.order],
        sorted_scores.target_positions,
    )
    assert weights.sum() == len(rebuilt.scores)
    assert sorted_scores.eer(weights) == pytest.approx(rebuilt.eer())


def test_bootstrap_replicates_scatter_around_the_observed_eer():
    trials = build_trials(*_embeddings(30, 2, 1.2, 2))
    replicates = bootstrap_eers(trials, [np.arange(15), np.arange(15, 30)], n_boot=200, seed=0)
    assert replicates.shape == (200, 2)
    for g, members in enumerate([np.arange(15), np.arange(15, 30)]):
        observed = trials.within(members).eer()
        low, high = np.percentile(replicates[:, g], [2.5, 97.5])
        assert low <= observed <= high and high - low > 0


def test_gender_gap_ci_is_the_signed_ci_folded():
    fold = arw_experiment._folded
    assert fold({"value": -0.01, "ci_low": -0.02, "ci_high": 0.03}) == {"value": 0.01, "ci_low": 0.0, "ci_high": 0.03}
    assert fold({"value": -0.05, "ci_low": -0.07, "ci_high": -0.02}) == {"value": 0.05, "ci_low": 0.02, "ci_high": 0.07}


# ---- speakers -----------------------------------------------------------------------------------------------


def test_country_groups_and_a_deterministic_stratified_split():
    assert speaker_data.country_group("USA") == "usa"
    assert speaker_data.country_group("south korea") == "east_se_asia"
    assert speaker_data.country_group("india") == speaker_data.OTHER_GROUP
    speakers = speaker_data.saa_speakers()
    assert len(speakers) == 1166
    train, heldout = speaker_data.split_heldout(speakers, 0.3, seed=0)
    assert (train, heldout) == speaker_data.split_heldout(speakers, 0.3, seed=0)
    assert not {s.id for s in train} & {s.id for s in heldout}
    assert len(train) + len(heldout) == 1166 and abs(len(heldout) - 350) <= 10
    for sex in ("female", "male"):  # stratified: each sex keeps its share of held-out speakers
        share = sum(s.sex == sex for s in heldout) / sum(s.sex == sex for s in speakers)
        assert share == pytest.approx(0.3, abs=0.02)
    assert len(speaker_data.stratified_subset(speakers, 100, seed=0)) == pytest.approx(100, abs=10)


# ---- training on real audio ---------------------------------------------------------------------------------


def _real_features(n_saa: int, n_libri: int) -> list[np.ndarray]:
    """Per-speaker features of a few SAA speakers and of LibriSpeech speakers with at least 5 s of speech."""
    libri = [
        f
        for f in map(speaker_data.speaker_features, speaker_data.librispeech_speakers()[: 3 * n_libri])
        if len(f) >= 5 * speaker_data.FRAMES_PER_S
    ]
    return [speaker_data.speaker_features(s) for s in speaker_data.saa_speakers()[::97][:n_saa]] + libri[:n_libri]


def test_metric_learning_loss_decreases_on_real_audio(data_dir):
    features = _real_features(8, 4)
    assert features[0].shape[1] == speaker_data.N_MELS
    assert len(features[0]) / speaker_data.FRAMES_PER_S == pytest.approx(41.55, abs=0.1)  # arabic_001: 41.553 s
    config = arw.TrainConfig(
        steps=40, seed=0, embedding_dim=16, channels=32, speakers_per_batch=8, crop_min_s=1.0, crop_max_s=1.5, lr=5e-3
    )
    losses = arw.train(features, config).losses
    assert np.mean(losses[:10]) > 1.6  # near chance, ln 8 ≈ 2.08, at the start
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])


def test_adversary_steps_up_the_weighted_loss_towards_the_hard_pairs():
    torch.manual_seed(0)
    embeddings = torch.nn.functional.normalize(torch.randn(16, 4), dim=1)  # 8 pairs
    hard = embeddings[:8, 0] > 0  # a region of the embedding space where the pairs' loss is high
    losses = torch.where(hard, 3.0, 0.5)
    adversary = arw.Adversary(4, n_clusters=0)
    optimiser = torch.optim.Adam(adversary.parameters(), lr=0.1)
    clusters = torch.zeros(16, dtype=torch.long)
    first = arw.adversary_step(adversary, optimiser, embeddings, clusters, losses)
    for _ in range(30):
        last = arw.adversary_step(adversary, optimiser, embeddings, clusters, losses)
    weighted = [float((w * losses).sum() / w.sum()) for w in (first, last)]
    assert weighted[1] > weighted[0] + 0.2
    assert last[hard].min() > last[~hard].max()


def test_adversarial_training_reweights_pairs(data_dir):
    config = arw.TrainConfig(
        steps=6,
        seed=0,
        embedding_dim=16,
        channels=16,
        speakers_per_batch=6,
        crop_min_s=1.0,
        crop_max_s=1.0,
        adversarial=True,
        adversary_warmup=0.5,
        kmeans_clusters=2,
    )
    result = arw.train(_real_features(6, 2), config)
    assert len(result.losses) == 6 and len(result.max_pair_weights) == 3  # the adversary starts half-way
    assert all(w > 4 for w in result.max_pair_weights)  # above the mean pair weight: the weights are not uniform
    assert result.summary()["steps"] == 6


def test_crop_cluster_adversary_gives_every_crop_of_a_cluster_one_weight(data_dir):
    """arw_cluster: the adversary sees only each crop's nearest centroid, so its weights are one per cluster."""
    features = _real_features(6, 2)
    config = arw.TrainConfig(
        steps=6,
        seed=0,
        embedding_dim=16,
        channels=16,
        speakers_per_batch=6,
        crop_min_s=1.0,
        crop_max_s=1.0,
        adversarial=True,
        adversary_warmup=0.5,
        kmeans_clusters=2,
        adversary_input="crop_cluster",
    )
    result = arw.train(features, config)
    assert len(result.max_pair_weights) == 3
    centroids = arw.speaker_centroids(result.model, features, 2, 0)
    assert centroids.shape == (2, 16) and torch.allclose(centroids.norm(dim=1), torch.ones(2))
    adversary = arw.Adversary(0, n_clusters=2)
    with torch.no_grad():
        adversary.linear.weight.copy_(torch.tensor([[2.0, -1.0]]))
    clusters = torch.tensor([0, 0, 1, 1, 0, 1])
    with torch.no_grad():
        f = adversary(torch.zeros(6, 0), clusters)
    assert torch.equal(f[clusters == 0], f[clusters == 0][:1].expand(3)) and f[0] > f[2]
    weights = arw.arw_weights(f)
    assert float(weights.mean()) == pytest.approx(2.0) and float(weights.min()) >= 1.0


# ---- end to end ---------------------------------------------------------------------------------------------


def _check_results(results: dict, arms=("baseline", "arw")) -> None:
    assert [m["model"] for m in results["models"]] == list(arms)
    data = results["data"]
    assert data["train_speakers"] == data["train_saa_speakers"] + data["train_librispeech_speakers"] > 0
    for model in results["models"]:
        kinds = {g["group_kind"] for g in model["groups"]}
        assert kinds == {"overall", "sex", "country_group"}
        overall = next(g for g in model["groups"] if g["group_kind"] == "overall")
        assert 0 <= overall["eer"] <= 1 and overall["ci_low"] <= overall["ci_high"]
        assert overall["n_target_trials"] == overall["n_speakers"] and overall["n_nontarget_trials"] > 0
        gap = model["gender_gap"]
        assert gap["value"] == pytest.approx(abs(gap["signed"]["value"])) and "country_spread" in model
        assert model["training"]["steps"] == TINY["steps"] and len(model["training"]["loss_curve"]) == TINY["steps"]


def test_tiny_experiment_is_stored(db_url):
    experiment_id = arw_experiment.run({**TINY, "arms": ["baseline", "arw", "arw_cluster"]}, url=db_url)
    stored = persistence.get_experiment(experiment_id, url=db_url)
    assert stored.kind == "arw" and stored.params["steps"] == TINY["steps"]
    _check_results(stored.results, ("baseline", "arw", "arw_cluster"))
    # the same seed: the same held-out speakers and trials for every arm
    trials = [
        [(g["group"], g["n_target_trials"], g["n_nontarget_trials"]) for g in m["groups"]]
        for m in stored.results["models"]
    ]
    assert trials[0] == trials[1] == trials[2]


def test_cli_runs_lists_and_reruns_an_experiment(db_url, capsys):
    args = ["mitigate", "arw", "--name", "tiny"] + [f"--{key.replace('_', '-')}={value}" for key, value in TINY.items()]
    assert cli(args) == 0
    first = persistence.list_experiments("arw", url=db_url)[0]
    _check_results(first.results)
    assert cli(["mitigate", "list"]) == 0 and "tiny" in capsys.readouterr().out
    assert cli(["mitigate", "rerun", str(first.id)]) == 0
    again = persistence.list_experiments("arw", url=db_url)[0]
    assert again.id != first.id  # same seed, same data: the same numbers
    assert [m["groups"] for m in again.results["models"]] == [m["groups"] for m in first.results["models"]]


def test_bad_input_is_one_sentence_and_stores_nothing(db_url, capsys):
    assert cli(["mitigate", "arw", "--heldout-share", "1.5"]) == 2
    assert "--heldout-share must be between 0 and 1" in capsys.readouterr().err
    assert cli(["mitigate", "arw", "--arms", "arw_cluster", "--kmeans-clusters", "0"]) == 2
    assert "--kmeans-clusters must be at least 2" in capsys.readouterr().err
    assert persistence.list_experiments(url=db_url) == []
