"""The cross-corpus page's protocol: speaker-disjoint folds per training corpus, every other
corpus tested whole, cells computed as stated (diagonal pooled, off-diagonal averaged over the
fold models), a CSV corpus joining as a row and a column, and a smoke grid end to end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serlib import crosscorpus, metrics, training
from serlib.papers import common
from tests.csv_corpus import write_csv_corpus


@pytest.fixture(scope="module")
def two_csv_corpora(tmp_path_factory):
    """Two CSV corpora of tones (one with a session column), as a user would bring them."""
    root = tmp_path_factory.mktemp("crosscorpus")
    first, second = write_csv_corpus(root / "a"), write_csv_corpus(root / "b", sessions=3)
    return first.rename(first.with_name("first.csv")), second.rename(second.with_name("second.csv"))


def test_every_fold_trains_and_validates_on_one_corpus_and_holds_out_its_own_speakers(two_csv_corpora):
    first, second = map(str, two_csv_corpora)
    data = crosscorpus.load_corpora(crosscorpus.settings("full", corpora=f"{first},{second}"))
    assert data.names == ("first", "second")  # a CSV is named by its stem
    corpus = data.manifest["corpus"].to_numpy()
    speakers = data.manifest["speaker"].to_numpy()
    for name, folds in data.folds.items():
        assert len(folds) == {"first": 5, "second": 3}[name]
        held_out = []
        for split in folds:
            assert set(corpus[split.train]) == set(corpus[split.val]) == set(corpus[split.test]) == {name}
            assert not set(speakers[split.test]) & (set(speakers[split.train]) | set(speakers[split.val]))
            assert not set(speakers[split.val]) & set(speakers[split.train])
            held_out.extend(split.test)
        assert sorted(held_out) == sorted(np.flatnonzero(corpus == name))  # each utterance held out once
    table = data.describe()
    assert list(table.index) == ["first", "second"] and table["folds"].tolist() == [5, 3]
    # each corpus's fold rule is named by a letter; the caption states every distinct rule once
    assert table["fold rule"].tolist() == ["(a)", "(b)"]
    assert table.attrs["caption"] == f"Fold rules: (a) {data.rules['first']}; (b) {data.rules['second']}"
    shared = replace(data, rules={"first": "one rule", "second": "one rule"}).describe()
    assert shared["fold rule"].tolist() == ["(a)", "(a)"] and shared.attrs["caption"] == "Fold rules: (a) one rule"


def predictions_of(rows: np.ndarray, labels: np.ndarray, correct: np.ndarray) -> training.Predictions:
    """Utterance-level predictions of ``rows``: right where ``correct``, else the next class."""
    y_true = labels[rows]
    y_pred = np.where(correct, y_true, (y_true + 1) % 4)
    return training.Predictions(y_true, y_pred, rows, np.eye(4)[y_pred])


def test_cells_pool_the_diagonal_and_average_the_fold_models_off_it(two_csv_corpora):
    first, second = map(str, two_csv_corpora)
    data = crosscorpus.load_corpora(crosscorpus.settings("full", corpora=f"{first},{second}"))
    labels = data.labels
    result = crosscorpus.MatrixOutcomes(crosscorpus.main_model("rnn", "smoke"), {})
    for name, folds in data.folds.items():
        other = "second" if name == "first" else "first"
        for number, split in enumerate(folds, start=1):
            # held-out fold: only the first fold model is right; the other corpus: only the first is right
            held_out = predictions_of(split.test, labels, np.full(len(split.test), number == 1))
            result.outcomes[name, number] = [training.Outcome({"utterance": held_out}, [{"epoch": 1, "seconds": 1.0}])]
            rows = data.rows(other)[::-1]  # in another order than the manifest's: matched by utterance
            result.tested[name, number, other] = [predictions_of(rows, labels, np.full(len(rows), number == 1))]
    cells = crosscorpus.matrix(result, data, n_boot=50).set_index(["train", "test"])
    # diagonal: the held-out folds pooled, so fold 1's utterances are right and the rest wrong
    fold_one = data.folds["first"][0].test
    pooled = training.Predictions.concat([result.outcomes["first", n][0].levels["utterance"] for n in range(1, 6)])
    assert cells.loc[("first", "first"), "value"] == pytest.approx(pooled.score("UA"))
    assert 0 < cells.loc[("first", "first"), "value"] < 1 and len(fold_one) < (data.manifest["corpus"] == "first").sum()
    # off the diagonal: 1 of 5 fold models right on every utterance: the mean of their UAs
    assert cells.loc[("first", "second"), "value"] == pytest.approx(1 / 5)
    assert cells.loc[("second", "first"), "value"] == pytest.approx(1 / 3)
    assert cells.loc[("first", "second"), "models"] == 5
    corpus_of = data.manifest["corpus"]
    for (_, test), cell in cells.iterrows():  # every cell tests its whole test corpus (the cells table's caption says so)
        assert cell["test utterances"] == (corpus_of == test).sum()
        assert cell["test speakers"] == data.manifest.loc[corpus_of == test, "speaker"].nunique()
    for cell in cells.itertuples():
        assert cell.ci_low <= cell.value <= cell.ci_high
    drops = crosscorpus.drops(cells.reset_index()).set_index(["train", "test"])
    assert drops.loc[("first", "second"), "drop (points)"] == pytest.approx(100 * (cells.loc[("first", "first"), "value"] - 0.2))
    assert "rnn: LSTM, MSPEC +Δ+ΔΔ: first → second" in crosscorpus.verdict(cells.reset_index())


def test_a_cells_ci_resamples_the_test_speakers():
    """One speaker always right, one always wrong: an utterance bootstrap would be narrow, a
    speaker bootstrap spans from all wrong to all right."""
    manifest = pd.DataFrame({"speaker": ["a:1"] * 20 + ["a:2"] * 20, "corpus": "a", "utterance_id": [f"u{i}" for i in range(40)]})
    labels = np.tile(np.arange(4), 10)
    rows = np.arange(40)
    data = crosscorpus.Corpora(("a",), manifest, labels, {"a": [None]}, {"a": ""})
    result = crosscorpus.MatrixOutcomes(crosscorpus.main_model("rnn", "smoke"), {
        ("a", 1): [training.Outcome({"utterance": predictions_of(rows, labels, rows < 20)})]})
    cell = crosscorpus.matrix(result, data, n_boot=200).iloc[0]
    assert cell["value"] == pytest.approx(0.5) and cell["test speakers"] == 2
    assert cell["ci_low"] == pytest.approx(0.0) and cell["ci_high"] == pytest.approx(1.0)
    assert cell["std"] is None and cell["seeds"] == 1  # one seed measures no spread
    result.outcomes["a", 1].append(training.Outcome({"utterance": predictions_of(rows, labels, rows < 40)}))
    two_seeds = crosscorpus.matrix(result, data, n_boot=50).iloc[0]
    assert (two_seeds["value"], two_seeds["std"], two_seeds["seeds"]) == (pytest.approx(0.75), pytest.approx(0.25), 2)


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


def test_a_corpus_added_later_trains_only_its_row_and_the_tests_travel_with_the_outcomes(two_csv_corpora, tmp_path):
    from serlib import jobs

    first, second = map(str, two_csv_corpora)
    both = crosscorpus.settings("smoke", corpora=f"{first},{second}", models="rnn")
    data = crosscorpus.load_corpora(both)
    model = crosscorpus.main_model("rnn", "smoke")
    lines = []
    result = crosscorpus.train_model(model, data, both, "cpu", tmp_path / "cache", log=lines.append)
    assert lines == [f"{model.name} · trained on {name} (1 fold), tested on the other 1" for name in ("first", "second")]
    tested = result.tested["first", 1, "second"][0]
    assert sorted(tested.utterance) == sorted(data.rows("second"))
    assert sorted(result.outcomes["first", 1][0].levels["utterance"].utterance) == sorted(data.folds["first"][0].test)
    assert result.testing_seconds > 0 and result.untimed_tests == 0  # each stored test records its time
    # the corpora in the other order: the same trainings and tests are read back, on the right utterances
    swapped = crosscorpus.load_corpora(crosscorpus.settings("smoke", corpora=f"{second},{first}", models="rnn"))
    reread = crosscorpus.train_model(model, swapped, both, "cpu", tmp_path / "cache", log=lambda line: None)
    by_id = lambda corpora, p: dict(zip(corpora.manifest["utterance_id"].to_numpy()[p.utterance], p.y_pred.tolist()))  # noqa: E731
    assert by_id(swapped, reread.tested["first", 1, "second"][0]) == by_id(data, tested)
    assert sorted(reread.tested["first", 1, "second"][0].utterance) == sorted(swapped.rows("second"))
    assert sorted(reread.outcomes["first", 1][0].levels["utterance"].utterance) == sorted(swapped.folds["first"][0].test)
    assert by_id(swapped, reread.outcomes["first", 1][0].levels["utterance"]) == by_id(
        data, result.outcomes["first", 1][0].levels["utterance"])
    # a third corpus adds its own row; the first two rows keep their identities (already stored)
    third = Path(first).with_name("third.csv")
    third.write_text(Path(first).read_text())
    three = crosscorpus.training_grid(crosscorpus.settings("smoke", corpora=f"{first},{second},{third}", models="rnn"),
                                      cache=tmp_path / "cache")
    assert [job.done(tmp_path / "cache") for job in three] == [True, True, False]
    # the tests travel with the outcomes: exported, imported into an empty cache, read without a network
    specs = jobs.plan("crosscorpus", "smoke", {"corpora": f"{first},{second}", "models": "rnn"}, None, tmp_path / "cache", "cpu")
    jobs.export_outcomes(specs, tmp_path / "outcomes")
    assert list((tmp_path / "outcomes" / "crosscorpus").glob(f"*/{'tested-*.npz'}"))
    jobs.import_outcomes(tmp_path / "outcomes", tmp_path / "fresh")
    again = crosscorpus.train_model(model, data, both, "cpu", tmp_path / "fresh", log=lambda line: None)
    assert again.tested["first", 1, "second"][0].y_pred.tolist() == tested.y_pred.tolist()
    assert not list((tmp_path / "fresh").rglob("checkpoint.ckpt"))  # nothing trained again


def test_stored_predictions_that_no_longer_fit_their_corpus_are_a_clear_error(two_csv_corpora):
    first, second = map(str, two_csv_corpora)
    data = crosscorpus.load_corpora(crosscorpus.settings("full", corpora=f"{first},{second}"))
    rows = data.rows("second")
    stored = data.own_rows(predictions_of(rows, data.labels, np.ones(len(rows), bool)), "second")
    assert stored.utterance.tolist() == list(range(len(rows)))
    assert data.joint_rows(stored, "second", "a training").utterance.tolist() == rows.tolist()
    changed = training.Predictions((stored.y_true + 1) % 4, stored.y_pred, stored.utterance, stored.posteriors)
    with pytest.raises(ValueError, match="a training: its stored predictions of second do not fit"):
        data.joint_rows(changed, "second", "a training")


def synthetic_cells() -> pd.DataFrame:
    """Two models' 2 × 2 matrices over corpora x and y (every cell tests its whole test corpus); A
    predicts one class only when trained on x and tested on y."""
    rows = []
    for model, own, other in (("A", {"x": 0.8, "y": 0.9}, 0.5), ("B", {"x": 0.7, "y": 0.6}, 0.2)):
        for train in ("x", "y"):
            for test in ("x", "y"):
                value = own[train] if train == test else other
                rows.append({"model": model, "train": train, "test": test, "metric": "UA", "value": value,
                             "ci_low": value - 0.02, "ci_high": value + 0.02, "test speakers": 10,
                             "test utterances": {"x": 300, "y": 500}[test], "seeds": 1, "diagonal": train == test,
                             "classes predicted": 1 if (model, train, test) == ("A", "x", "y") else 4})
    return pd.DataFrame(rows)


def test_the_results_file_holds_the_best_models_lead_over_the_next_per_cell_as_the_page_shows_it(two_csv_corpora, monkeypatch):
    first, second = map(str, two_csv_corpora)
    chosen = replace(crosscorpus.settings("full", corpora=f"{first},{second}"), n_boot=50)
    data = crosscorpus.load_corpora(chosen)
    labels = data.labels

    def grid(paper: str, right_off_diagonal: bool) -> crosscorpus.MatrixOutcomes:  # right on its own folds; elsewhere as told
        result = crosscorpus.MatrixOutcomes(crosscorpus.main_model(paper, "smoke"), {})
        for name, folds in data.folds.items():
            other = "second" if name == "first" else "first"
            for number, split in enumerate(folds, start=1):
                held_out = predictions_of(split.test, labels, np.ones(len(split.test), bool))
                result.outcomes[name, number] = [training.Outcome({"utterance": held_out}, [{"epoch": 1, "seconds": 1.0}])]
                rows = data.rows(other)
                result.tested[name, number, other] = [predictions_of(rows, labels, np.full(len(rows), right_off_diagonal))]
        return result

    trained = [grid("rnn", False), grid("crnn", True)]
    cells = crosscorpus.matrix_of(trained, data, chosen.n_boot)
    calls, paired = [], metrics.paired_difference_ci
    monkeypatch.setattr(metrics, "paired_difference_ci", lambda *args, **kwargs: calls.append((args, kwargs)) or paired(*args, **kwargs))
    record = crosscorpus.results_file(data, trained, cells, chosen, "cpu")
    # each cell's bootstrap draws an utterance with every fold model's prediction of it, within its speaker,
    # at the corrected level with the resamples that level needs
    (args, kwargs), folds = calls[0], len(data.folds["first"])
    assert args[4:6] == (common.resamples(50, 0.975), pytest.approx(0.975))
    assert np.array_equal(kwargs["groups"], np.tile(data.rows("second"), folds))
    assert np.array_equal(kwargs["speakers"], data.speakers()[kwargs["groups"]])
    differences = record.table().query("quantity == 'difference'")
    best, next_ = trained[1].model.name, trained[0].model.name
    assert differences["row"].tolist() == [f"{best} · trained on {train} − {next_} · trained on {train}" for train in ("first", "second")]
    assert differences["column"].tolist() == ["second", "first"] and (differences["value"] == 1.0).all()
    comparison = crosscorpus.best_against_next(record)
    assert comparison[["trained on", "tested on", "difference (points)", "established"]].values.tolist() == [
        ["first", "second", 100.0, "ahead"], ["second", "first", 100.0, "ahead"]]
    # two off-diagonal cells: each judged at 97.5 % (Bonferroni), the level stored with each row
    assert differences["ci_level"].tolist() == [pytest.approx(0.975)] * 2 and "97.5% CI" in comparison
    assert comparison.attrs["caption"].startswith(f"{best} minus {next_}, UA off the diagonal (first seed); paired CIs "
                                                  "at 97.5 % (95 % corrected for 2 comparisons)")
    assert crosscorpus.best_against_next(crosscorpus.results_file(data, trained[:1], cells.query("model == @next_"), chosen, "cpu")).empty


def test_the_cells_table_leaves_the_test_counts_to_the_corpora_table_only_where_every_cell_tests_its_whole_corpus():
    cells = synthetic_cells()
    table = crosscorpus.cells_table(cells, "full", "cpu")
    assert table.index.names == ["model", "trained on", "tested on"] and len(table) == 8
    assert table.loc[("B", "x", "y"), "UA % [95% CI]"] == "20.0 [18.0, 22.0]"
    assert table.loc[("B", "x", "y"), "below training corpus's own (points)"] == pytest.approx(50)
    assert "test utterances" not in table and "every speaker and utterance of its test corpus" in table.attrs["caption"]
    # one fold held out of x (a smoke run): x's diagonal tests fewer utterances than the cells trained elsewhere
    cells.loc[cells["diagonal"] & (cells["test"] == "x"), "test utterances"] = 60
    part = crosscorpus.cells_table(cells, "smoke", "cpu")
    assert part.loc[("A", "x", "x"), "test utterances"] == 60 and part.loc[("A", "y", "x"), "test utterances"] == 300
    assert "a diagonal cell tests only the held-out folds run" in part.attrs["caption"]


def test_the_verdict_counts_established_leads_both_ways_and_names_cells_below_chance():
    cells = synthetic_cells()
    off = crosscorpus.drops(cells).set_index(["model", "train", "test"])
    assert off.loc[("B", "x", "y"), "drop (points)"] == pytest.approx(50)  # below x's own 70
    assert off.loc[("B", "x", "y"), "below test corpus's own (points)"] == pytest.approx(40)  # below y's own 60
    comparison = pd.DataFrame({"established": ["ahead", "behind"]})
    comparison.attrs["bounds"] = [(0.5, 9.0), (-8.0, -3.0)]  # the lead's CI ends within a point of 0, the reversal's not
    comparison.attrs["level"] = 0.975
    text = crosscorpus.verdict(cells, comparison)
    assert "paired 97.5 % CI excluding 0, 95 % corrected for 2 comparisons) in 1 of 2" in text
    comparison.attrs["level"] = 0.95  # e.g. a results file written before the correction
    assert "paired 95.0 % CI excluding 0, each cell on its own, not corrected for the 2 comparisons)" in crosscorpus.verdict(cells, comparison)
    comparison.attrs["level"] = 0.975
    assert "A transfers best on average, 30.0 points above B" in text
    assert "in 1 of 2 off-diagonal cells, and reversed in 1 (1 of these 2 with the CI's nearer end within a point of 0)" in text
    assert "the training's own spread is not in the CIs" in text
    assert "2 of 4 off-diagonal cells have a CI that does not lie above chance (2 entirely below it: B: x → y, B: y → x)" in text
    assert "B: x → y, y → x" in text
    assert "In 1 off-diagonal cell every fold model predicts one and the same class for every test utterance" in text
    assert "zero width: A: x → y." in text
    assert "falls below the diagonal" in text and "A 35.0; B 45.0." in text
    renamed = crosscorpus.verdict(cells.replace({"model": {"A": "Z"}}), comparison)
    assert "Z 35.0; B 45.0." in renamed  # the drops in the order of the mean UAs, not the names'


@pytest.mark.parametrize("paper", crosscorpus.MODEL_PAPERS)
def test_each_papers_main_model_meets_the_contract(paper):
    from serlib.papers.contract import MainModel

    model = crosscorpus.main_model(paper, "smoke")
    assert isinstance(model, MainModel) and model.paper == paper and model.name.startswith(f"{paper}: ")
    assert model.train_config(3, "cpu").seed == 3
    assert model.feature_keys and model.trained


@pytest.mark.parametrize("paper", ["rnn", "crnn"])
def test_a_test_set_built_alone_is_scaled_with_its_training_parts_statistics(paper):
    """``fit_rows``: a test corpus is z-scored as it would be beside its training part, never by itself."""
    rng = np.random.default_rng(0)
    frames = [rng.normal(3.0, 2.0, (40 + i, 40)).astype(np.float32) for i in range(12)]
    found = frames if paper == "rnn" else {"spectrogram": frames, "functionals": rng.normal(5.0, 3.0, (12, 30))}
    labels = np.arange(12) % 4
    model = crosscorpus.main_model(paper, "smoke")
    train, test = np.arange(8), np.arange(8, 12)
    beside = model.inputs(found, labels, {"train": train, "test": test}, train)["test"]
    alone = model.inputs(found, labels, {"test": test}, train)["test"]
    by_itself = model.inputs(found, labels, {"train": test, "test": test}, test)["test"]
    for name in (["x"] if paper == "rnn" else ["spectrogram", "functionals"]):
        value = (lambda e: e.x if name == "x" else e.x[name])
        np.testing.assert_array_equal(value(alone), value(beside))
        assert not np.allclose(value(alone), value(by_itself))


def test_a_run_on_a_csv_among_registered_corpora_names_its_notebook_by_every_corpus():
    from serlib.papers import get
    from serlib.reproduce import output_notebook

    study = get("crosscorpus")
    assert output_notebook(study, "full").name == "crosscorpus.ipynb"
    target = output_notebook(study, "full", {"corpora": "emodb,/data/mine/yours.csv,savee"})
    assert target.name == "crosscorpus-emodb+yours+savee-full.ipynb" and target.parent.name == "reproduce"
