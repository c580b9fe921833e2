"""The cross-corpus page's protocol: speaker-disjoint folds per training corpus, every other
corpus tested whole, cells computed as stated (diagonal pooled, off-diagonal averaged over the
fold models), a CSV corpus joining as a row and a column, and a smoke grid end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serlib import crosscorpus, training
from tests.csv_corpus import write_csv_corpus


@pytest.fixture(scope="module")
def two_csv_corpora(tmp_path_factory):
    """Two CSV corpora of tones (one with a session column), as a user would bring them."""
    root = tmp_path_factory.mktemp("crosscorpus")
    first, second = write_csv_corpus(root / "a"), write_csv_corpus(root / "b", sessions=3)
    return first.rename(first.with_name("first.csv")), second.rename(second.with_name("second.csv"))


def test_every_fold_trains_on_one_corpus_and_tests_the_others_whole(two_csv_corpora):
    first, second = map(str, two_csv_corpora)
    data = crosscorpus.load_corpora(crosscorpus.settings("full", corpora=f"{first},{second}"))
    assert data.names == ("first", "second")  # a CSV is named by its stem
    corpus = data.manifest["corpus"].to_numpy()
    speakers = data.manifest["speaker"].to_numpy()
    for name, folds in data.folds.items():
        assert len(folds) == {"first": 5, "second": 3}[name]
        held_out = []
        for split in folds:
            assert set(corpus[split.train]) == {name} and set(corpus[split.val]) == {name}
            assert not set(speakers[split.test]) & (set(speakers[split.train]) | set(speakers[split.val]))
            others = np.flatnonzero(corpus != name)
            assert set(others) <= set(split.test)  # every other corpus, whole
            held_out.extend(split.test[corpus[split.test] == name])
        assert sorted(held_out) == sorted(np.flatnonzero(corpus == name))  # each utterance held out once
    table = data.describe()
    assert list(table.index) == ["first", "second"] and table["folds"].tolist() == [5, 3]


def fake_outcome(rows: np.ndarray, labels: np.ndarray, correct: np.ndarray) -> training.Outcome:
    """Utterance-level predictions of ``rows``: right where ``correct``, else the next class."""
    y_true = labels[rows]
    y_pred = np.where(correct, y_true, (y_true + 1) % 4)
    posteriors = np.eye(4)[y_pred]
    return training.Outcome({"utterance": training.Predictions(y_true, y_pred, rows, posteriors)}, [{"epoch": 1, "seconds": 1.0}])


def test_cells_pool_the_diagonal_and_average_the_fold_models_off_it(two_csv_corpora):
    first, second = map(str, two_csv_corpora)
    data = crosscorpus.load_corpora(crosscorpus.settings("full", corpora=f"{first},{second}"))
    corpus = data.manifest["corpus"].to_numpy()
    outcomes = {}
    for name, folds in data.folds.items():
        for number, split in enumerate(folds, start=1):
            # own corpus: always right; the other corpus: right only for the first fold model
            correct = (corpus[split.test] == name) | (number == 1)
            outcomes[name, number] = [fake_outcome(split.test, data.labels, correct)]
    model = crosscorpus.main_model("rnn", "smoke")
    cells = crosscorpus.matrix(crosscorpus.MatrixOutcomes(model, outcomes), data, n_boot=50).set_index(["train", "test"])
    assert cells.loc[("first", "first"), "value"] == 1.0 and cells.loc[("second", "second"), "value"] == 1.0
    assert cells.loc[("first", "second"), "value"] == pytest.approx(1 / 5)  # 1 of 5 fold models right, 4 always wrong
    assert cells.loc[("second", "first"), "value"] == pytest.approx(1 / 3)
    assert cells.loc[("first", "second"), "models"] == 5
    assert cells.loc[("first", "second"), "test utterances"] == (corpus == "second").sum()
    drops = crosscorpus.drops(cells.reset_index())
    assert drops.set_index(["train", "test"]).loc[("first", "second"), "drop (points)"] == pytest.approx(80.0)
    assert "first → second" in crosscorpus.verdict(cells.reset_index())


def test_a_matrix_needs_two_corpora_with_distinct_names(two_csv_corpora, tmp_path):
    with pytest.raises(ValueError, match="two corpora"):
        crosscorpus.load_corpora(crosscorpus.settings("full", corpora=str(two_csv_corpora[0])))
    twin = tmp_path / "first.csv"
    twin.write_text(two_csv_corpora[0].read_text().replace("audio/", str(two_csv_corpora[0].parent / "audio") + "/"))
    with pytest.raises(ValueError, match="first"):
        crosscorpus.load_corpora(crosscorpus.settings("full", corpora=f"{two_csv_corpora[0]},{twin}"))


def test_an_unknown_model_is_named():
    with pytest.raises(ValueError, match="etransformer"):
        crosscorpus.settings("smoke", models="etransformer")


def test_a_training_of_the_grid_trains_once_and_tests_every_corpus(two_csv_corpora, tmp_path):
    first, second = map(str, two_csv_corpora)
    chosen = crosscorpus.settings("smoke", corpora=f"{first},{second}", models="rnn")
    grid = crosscorpus.training_grid(chosen, cache=tmp_path)
    assert len(grid) == 2 and len({job.digest for job in grid}) == 2  # one fold per corpus in smoke
    outcome = grid[0].run(tmp_path)
    data = crosscorpus.load_corpora(chosen)
    tested = outcome.levels["utterance"].utterance
    assert sorted(tested) == sorted(data.folds["first"][0].test)
    assert grid[0].run(tmp_path).levels["utterance"].y_pred.tolist() == outcome.levels["utterance"].y_pred.tolist()
    assert crosscorpus.training_grid(chosen, cache=tmp_path)[0].done(tmp_path)  # the same identity when planned again


@pytest.mark.parametrize("paper", crosscorpus.MODEL_PAPERS)
def test_each_papers_main_model_meets_the_contract(paper):
    from serlib.papers.contract import MainModel

    model = crosscorpus.main_model(paper, "smoke")
    assert isinstance(model, MainModel) and model.paper == paper and model.name.startswith(f"{paper}: ")
    assert model.train_config(3, "cpu").seed == 3
    assert model.feature_keys and model.trained
