import numpy as np
import pytest
import torch

from serlib import training
from serlib.models.rnn import RecurrentClassifier


def toy_data(n: int = 64, seed: int = 0) -> training.Examples:
    """Two classes separable by the mean of the first feature."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 10, 3)).astype(np.float32)
    x[:, :, 0] += 2.0 * (2 * y[:, None] - 1)
    return training.Examples(x, y, np.arange(n) // 4)


def make_model() -> torch.nn.Module:
    return RecurrentClassifier(3, 2, "lstm", dropout=0.0)


def test_loss_falls_and_accuracy_rises_on_a_tiny_batch():
    data = {"train": toy_data(), "test": toy_data(seed=1)}
    outcome = training.train_and_evaluate(make_model, data, training.TrainConfig(epochs=30, batch_size=16, learning_rate=1e-2, progress=False))
    losses = [h["train_loss"] for h in outcome.history]
    assert losses[-1] < 0.3 * losses[0]
    assert outcome.levels["window"].score("WA") > 0.9


def test_same_seed_same_result_and_resume_equals_uninterrupted(tmp_path):
    data = {"train": toy_data(), "val": toy_data(seed=2), "test": toy_data(seed=1)}
    config = training.TrainConfig(epochs=4, batch_size=16, progress=False)
    straight = training.train_and_evaluate(make_model, data, config)
    again = training.train_and_evaluate(make_model, data, config)
    np.testing.assert_array_equal(straight.levels["window"].posteriors, again.levels["window"].posteriors)
    checkpoint = tmp_path / "run.ckpt"
    training.train_and_evaluate(make_model, data, training.TrainConfig(epochs=2, batch_size=16, progress=False), checkpoint)
    resumed = training.train_and_evaluate(make_model, data, config, checkpoint)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    assert resumed.training_seconds() > 0 and all(h["seconds"] >= 0 for h in resumed.history)
    np.testing.assert_allclose(resumed.levels["window"].posteriors, straight.levels["window"].posteriors, atol=1e-6)


def test_validation_selection_restores_the_best_epoch():
    data = {"train": toy_data(), "val": toy_data(seed=2), "test": toy_data(seed=2)}
    outcome = training.train_and_evaluate(make_model, data, training.TrainConfig(epochs=5, batch_size=16, select="val", progress=False))
    best = max(h["val_WA"] for h in outcome.history)
    assert outcome.levels["window"].score("WA") == pytest.approx(best)
    assert outcome.validation_score() == best
    with pytest.raises(ValueError, match="no validation WA"):
        training.Outcome(outcome.levels, [{"epoch": 1, "train_loss": 0.5}]).validation_score()
    with pytest.raises(ValueError, match="validation set"):
        training.train_and_evaluate(make_model, {"train": toy_data(), "test": toy_data()}, training.TrainConfig(epochs=1, batch_size=16, select="val", progress=False))


def test_utterance_level_averages_posteriors():
    window = training.Predictions(
        y_true=np.array([1, 1, 0]), y_pred=np.array([0, 1, 0]), utterance=np.array([7, 7, 3]),
        posteriors=np.array([[0.6, 0.4], [0.1, 0.9], [0.8, 0.2]]),
    )
    utterance = training.utterance_level(window)
    assert utterance.utterance.tolist() == [3, 7]
    np.testing.assert_allclose(utterance.posteriors, [[0.8, 0.2], [0.35, 0.65]])
    assert utterance.y_pred.tolist() == [0, 1] and utterance.y_true.tolist() == [0, 1]


def test_examples_must_align():
    with pytest.raises(ValueError, match="lengths differ"):
        training.Examples(np.zeros((3, 2, 1)), np.zeros(2), np.zeros(3))


def test_load_trained_rebuilds_the_selected_model(tmp_path):
    data = {"train": toy_data(), "val": toy_data(seed=2), "test": toy_data(seed=1)}
    for select in ("last", "val"):
        checkpoint = tmp_path / f"{select}.ckpt"
        config = training.TrainConfig(epochs=3, batch_size=16, select=select, progress=False)
        outcome = training.train_and_evaluate(make_model, data, config, checkpoint)
        model = training.load_trained(make_model, checkpoint, select)
        again = training.evaluate(model, data["test"], torch.device("cpu"), 64)
        np.testing.assert_allclose(again["window"].posteriors, outcome.levels["window"].posteriors, atol=1e-6)


def test_evaluate_estimator_with_and_without_probabilities():
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    def flat(seed: int) -> training.Examples:
        data = toy_data(seed=seed)
        return training.Examples(data.x.mean(axis=1), data.y, np.arange(len(data.y)))

    data = {"train": flat(0), "test": flat(1)}
    for make in (LogisticRegression, SVC):
        outcome = training.evaluate_estimator(make, data)
        assert outcome.levels["utterance"].score("UA") > 0.9
        np.testing.assert_allclose(outcome.levels["window"].posteriors.sum(axis=1), 1.0)
        assert outcome.training_seconds() >= 0


def test_evaluate_estimator_needs_every_class_in_training():
    from sklearn.linear_model import LogisticRegression

    train = training.Examples(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 2, 2]), np.arange(4))
    with pytest.raises(ValueError, match=r"classes \[0, 2\]"):
        training.evaluate_estimator(LogisticRegression, {"train": train, "test": train})


def test_selection_on_validation_ua_keeps_the_epoch_with_the_best_ua():
    data = {"train": toy_data(), "val": toy_data(seed=2), "test": toy_data(seed=2)}
    config = training.TrainConfig(epochs=5, batch_size=16, select="val", select_metric="UA", progress=False)
    outcome = training.train_and_evaluate(make_model, data, config)
    assert outcome.levels["window"].score("UA") == pytest.approx(outcome.validation_score("UA"))
    assert all({"val_WA", "val_UA"} <= set(h) for h in outcome.history)


class MeanOverFrames(torch.nn.Module):
    """Mean of the true (unpadded) frames, then a linear layer: padding must not change it."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        return self.dense((x * mask).sum(dim=1) / lengths[:, None])


def test_variable_length_batches_pass_lengths_to_the_model():
    from serlib.examples import pad_sequences

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 40)
    sequences = [rng.normal(size=(int(rng.integers(3, 12)), 3)).astype(np.float32) + 2 * y for y in labels]
    padded = pad_sequences(sequences, labels, np.arange(40))
    assert padded.x.shape == (40, max(len(s) for s in sequences), 3)
    assert padded.lengths.tolist() == [len(s) for s in sequences]
    config = training.TrainConfig(epochs=20, batch_size=8, learning_rate=1e-2, gradient_clip=1.0, weight_decay=1e-4, progress=False)
    outcome = training.train_and_evaluate(MeanOverFrames, {"train": padded, "test": padded}, config)
    assert outcome.levels["utterance"].score("WA") > 0.9
    # the same utterances padded to a longer length give the same posteriors: padding is masked
    longer = pad_sequences([np.concatenate([s, np.zeros((5, 3), np.float32)]) for s in sequences], labels, np.arange(40))
    longer.lengths = padded.lengths
    model = MeanOverFrames()
    np.testing.assert_allclose(
        training.predict_proba(model, padded.x, torch.device("cpu"), 16, padded.lengths),
        training.predict_proba(model, longer.x, torch.device("cpu"), 16, longer.lengths), atol=1e-6)


def test_patience_stops_training_and_a_rerun_does_not_train_on(tmp_path):
    data = {"train": toy_data(), "val": toy_data(seed=2), "test": toy_data(seed=1)}
    config = training.TrainConfig(epochs=40, batch_size=16, select="val", select_metric="UA", patience=3, progress=False)
    checkpoint = tmp_path / "run.ckpt"
    outcome = training.train_and_evaluate(make_model, data, config, checkpoint)
    scores = [h["val_UA"] for h in outcome.history]
    kept = int(np.argmax(scores))  # the earliest best epoch
    assert len(scores) == kept + 1 + 3 < 40  # stopped three epochs after it
    again = training.train_and_evaluate(make_model, data, config, checkpoint)
    assert len(again.history) == len(outcome.history)  # a finished early-stopped run reloads, it does not go on
    np.testing.assert_array_equal(again.levels["window"].posteriors, outcome.levels["window"].posteriors)
    with pytest.raises(ValueError, match="patience need a validation set"):
        training.train_and_evaluate(make_model, {"train": toy_data(), "test": toy_data()},
                                    training.TrainConfig(epochs=2, batch_size=16, patience=1, progress=False))


def test_balanced_loss_weights_classes_by_inverse_frequency():
    labels = torch.tensor([0, 0, 0, 1])
    weights = training.class_weights(labels, training.TrainConfig(epochs=1, batch_size=4, balanced_loss=True))
    torch.testing.assert_close(weights, torch.tensor([4 / 6, 2.0]))  # each class's share of the loss is equal
    assert training.class_weights(labels, training.TrainConfig(epochs=1, batch_size=4)) is None
    data = toy_data()
    skewed = training.Examples(data.x[:40], np.where(np.arange(40) < 34, 0, 1), data.utterance[:40])
    plain, balanced = (training.train_and_evaluate(make_model, {"train": skewed, "test": toy_data(seed=1)},
                                                   training.TrainConfig(epochs=3, batch_size=8, balanced_loss=b, progress=False))
                       for b in (False, True))
    assert not np.array_equal(plain.levels["window"].posteriors, balanced.levels["window"].posteriors)


def test_identity_of_a_config_without_the_new_switches_is_unchanged():
    """Adding a switch that is off must not change the identities (and cached trainings) of earlier runs."""
    config = training.TrainConfig(epochs=3, batch_size=8, learning_rate=3e-4, device="cuda", progress=True)
    assert set(config.identity()) == {"epochs", "batch_size", "learning_rate", "weight_decay", "gradient_clip", "seed",
                                      "device", "select", "select_metric", "eval_batch_size", "progress"}
    assert config.identity()["device"] == "" and config.identity()["progress"] is False
    assert training.TrainConfig(epochs=3, batch_size=8, patience=2).identity()["patience"] == 2
    assert "select_level" not in training.TrainConfig(epochs=3, batch_size=8, select_level="window").identity()


def test_selection_on_utterance_level_validation_ua_keeps_that_epoch():
    data = {"train": toy_data(), "val": toy_data(seed=2), "test": toy_data(seed=2)}  # four windows per utterance
    config = training.TrainConfig(epochs=5, batch_size=16, select="val", select_metric="UA", select_level="utterance", progress=False)
    assert config.selection_key == "val_utterance_UA" and config.identity()["select_level"] == "utterance"
    outcome = training.train_and_evaluate(make_model, data, config)
    assert all({"val_WA", "val_UA", "val_utterance_WA", "val_utterance_UA"} <= set(h) for h in outcome.history)
    assert outcome.levels["utterance"].score("UA") == pytest.approx(outcome.validation_score("UA", "utterance"))


def test_kept_epoch_is_the_first_with_the_best_validation_score():
    outcome = training.Outcome({}, [{"epoch": 1, "val_UA": 0.4}, {"epoch": 2, "val_UA": 0.6, "val_utterance_UA": 0.5},
                                    {"epoch": 3, "val_UA": 0.6, "val_utterance_UA": 0.7}])
    assert outcome.kept_epoch("UA") == 2 and outcome.kept_epoch("UA", "utterance") == 3
    with pytest.raises(ValueError, match="no validation WA"):
        outcome.kept_epoch("WA")


def test_length_buckets_cover_every_row_once_reproducibly_and_sort_each_pool():
    import torch

    lengths = torch.as_tensor(np.random.default_rng(0).integers(1, 400, 1000))
    batches = training.epoch_batches(1000, 32, seed=7, lengths=lengths)
    rows = torch.cat(batches)
    assert sorted(rows.tolist()) == list(range(1000)) and max(len(b) for b in batches) == 32
    again = training.epoch_batches(1000, 32, seed=7, lengths=lengths)
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    assert not torch.equal(rows, torch.cat(training.epoch_batches(1000, 32, seed=8, lengths=lengths)))
    assert all(torch.all(lengths[b][1:] >= lengths[b][:-1]) for b in batches)  # each batch from one sorted pool
    spread = np.mean([int(lengths[b].max() - lengths[b].min()) for b in batches])
    assert spread < 0.2 * 400  # similar lengths together (random batches spread over most of 1-400)
    plain = training.epoch_batches(1000, 32, seed=7)
    assert sorted(torch.cat(plain).tolist()) == list(range(1000))


def test_a_batch_is_cut_to_its_longest_sequence_only_where_it_has_a_time_axis():
    x = {"spectrogram": np.zeros((3, 10, 4)), "functionals": np.zeros((3, 6))}
    cut = training.cut_to_longest(x, np.array([2, 7, 5]))
    assert cut["spectrogram"].shape == (3, 7, 4) and cut["functionals"].shape == (3, 6)
    assert training.cut_to_longest(np.zeros((2, 9, 3)), np.array([4, 4])).shape == (2, 4, 3)
    assert training.cut_to_longest(x, None) is x


def test_scoring_in_length_order_returns_posteriors_in_the_examples_order():
    import torch

    class LastValid(torch.nn.Module):
        """Scores each sequence by its last valid frame, so a row mix-up would show."""

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(1))

        def forward(self, x, lengths):
            last = x[torch.arange(len(x)), lengths - 1, 0]
            return torch.stack([last, -last], dim=1) * self.weight

    lengths = np.array([5, 2, 9, 1, 7])
    x = np.zeros((5, 9, 1), dtype=np.float32)
    for row, length in enumerate(lengths):
        x[row, length - 1, 0] = row - 2.0
    posteriors = training.predict_proba(LastValid(), x, torch.device("cpu"), batch_size=2, lengths=lengths)
    np.testing.assert_array_equal(posteriors.argmax(axis=1), [1, 1, 0, 0, 0])
    assert posteriors[0, 0] < posteriors[1, 0] < 0.5 < posteriors[3, 0] < posteriors[4, 0]


def test_folds_pool_per_seed_in_seed_order_and_need_every_seed():
    def outcome(fold: int, seed: int) -> training.Outcome:
        utterance = np.array([f"f{fold}-u{i}" for i in range(2)])
        predictions = training.Predictions(np.array([0, 1]), np.array([seed, seed]), utterance, np.eye(2))
        return training.Outcome({"utterance": predictions}, [{"epoch": 1, "seed": seed}])

    folds = [[outcome(fold, seed) for seed in (0, 1)] for fold in range(3)]
    pooled = training.pool_folds_per_seed(folds)
    assert len(pooled) == 2
    for seed, seed_outcome in enumerate(pooled):
        assert list(seed_outcome.levels["utterance"].utterance) == ["f0-u0", "f0-u1", "f1-u0", "f1-u1", "f2-u0", "f2-u1"]
        assert set(seed_outcome.levels["utterance"].y_pred) == {seed}
        assert [h["seed"] for h in seed_outcome.history] == [seed] * 3
    with pytest.raises(ValueError, match="different numbers of seeds"):
        training.pool_folds_per_seed([folds[0], folds[1][:1]])


def test_pooled_confusion_sums_counts_before_normalising_and_recalls_read_its_diagonal():
    """Two outcomes of unequal size: rows divide the summed counts (not the mean of two matrices)."""
    def outcome(y_true: list[int], y_pred: list[int]) -> training.Outcome:
        ids = np.array([f"u{i}" for i in range(len(y_true))])
        predictions = training.Predictions(np.array(y_true), np.array(y_pred), ids, np.eye(3)[y_pred])
        return training.Outcome({"utterance": predictions}, [])

    outcomes = [outcome([0, 0, 0, 1], [0, 0, 0, 0]), outcome([0, 1, 1, 1], [1, 1, 1, 0])]
    matrix = training.pooled_confusion(outcomes, "utterance", 3)
    np.testing.assert_allclose(matrix, [[3 / 4, 1 / 4, 0], [2 / 4, 2 / 4, 0], [0, 0, 0]])
    np.testing.assert_allclose(training.pooled_recalls(outcomes, "utterance", 3), [3 / 4, 2 / 4, 0])


def test_every_training_sets_the_threads_chosen_for_its_process(monkeypatch):
    """fit sets torch's threads whichever path calls it (notebook, CLI, Dask worker): $SERLIB_THREADS,
    else the cores this process may use; a count a worker chose is kept for its later trainings."""
    import os

    from serlib import config

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(config.THREADS_ENV, "1")
        torch.set_num_threads(2)
        training.fit(make_model(), toy_data(8), None, training.TrainConfig(epochs=1, batch_size=4, device="cpu", progress=False))
        assert torch.get_num_threads() == 1
        monkeypatch.delenv(config.THREADS_ENV)
        assert training.use_threads(2) == 2 and torch.get_num_threads() == 2
        assert os.environ[config.THREADS_ENV] == "2"  # kept for the process's next training
        monkeypatch.setenv(config.THREADS_ENV, "two")
        with pytest.raises(ValueError, match="SERLIB_THREADS must be a positive whole number"):
            training.use_threads()
    finally:
        torch.set_num_threads(before)
