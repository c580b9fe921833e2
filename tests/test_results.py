import json
import re
from dataclasses import replace

import numpy as np
import pytest

from serlib import results, training


def outcome(y_pred) -> training.Outcome:
    y_true = np.array([0, 0, 1, 1])
    posteriors = np.eye(2)[y_pred]
    window = training.Predictions(y_true, np.array(y_pred), np.arange(4), posteriors)
    return training.Outcome({"window": window, "utterance": training.utterance_level(window)})


def test_summarise_seeds_mean_and_std():
    summary = results.summarise_seeds([outcome([0, 0, 1, 1]), outcome([0, 1, 1, 0])], "window", "WA", n_boot=200)
    assert summary["value"] == 0.75 and summary["std"] == 0.25 and summary["seeds"] == 2
    assert summary["ci_low"] <= summary["value"] <= summary["ci_high"]


def test_a_single_seed_or_run_measures_no_spread():
    single = results.summarise_seeds([outcome([0, 0, 1, 1])], "window", "WA", n_boot=50)
    assert single["std"] is None and single["seeds"] == 1
    assert results.summarise_splits([outcome([0, 0, 1, 1])], "window", "WA", n_boot=50)["std"] is None
    assert results.summarise_splits([outcome([0, 0, 1, 1]), outcome([0, 1, 1, 0])], "window", "WA")["std"] == 0.25
    assert results.ResultRow("Table 1", "A", "B", "UA", None, 0.5, 0.4, 0.6).std is None
    record = results.ResultsFile(paper="rnn", corpus="emodb", protocol="p", profile="smoke", device="cpu", seeds=[0])
    record.add(results.ResultRow("Table 1", "A", "B", "UA", 0.5, 0.42, 0.4, 0.6))
    record.add(results.ResultRow("Table 1", "C", "B", "UA", 0.5, 0.42, 0.4, 0.6, std=0.01, seeds=3))
    assert list(results.comparison_table(record.table())["ours"]) == ["42.0", "42.0 ± 1.0"]
    older = {"paper": "rnn", "rows": [{"value": 0.4, "std": 0.0, "seeds": 1}, {"value": 0.4, "std": 0.0, "seeds": 3}]}
    assert [row["std"] for row in results.upgrade_record(older)["rows"]] == [None, 0.0]


def test_summarise_seeds_refuses_seeds_tested_on_other_items():
    reordered = outcome([0, 0, 1, 1])
    window = reordered.levels["window"]
    reordered.levels["window"] = training.Predictions(window.y_true, window.y_pred, window.utterance[::-1], window.posteriors)
    with pytest.raises(ValueError, match="outcome 1 and outcome 0 are not of the same test items"):
        results.summarise_seeds([outcome([0, 0, 1, 1]), reordered], "window", "WA", n_boot=10)


def test_results_file_fields(tmp_path):
    results_file = results.ResultsFile(paper="rnn", corpus="emodb", protocol="p", profile="smoke", device="cpu", seeds=[0])
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty-serlib)?", results_file.git_commit)  # read when the results file starts
    results_file.add(results.ResultRow("Table 3", "MFCC", "LSTM", "WA", 0.531, 0.5, 0.4, 0.6))
    path = results_file.write(tmp_path)
    assert path == tmp_path / "rnn" / "emodb-smoke.json"
    record = json.loads(path.read_text())
    for key in ("paper", "corpus", "protocol", "profile", "device", "seeds", "git_commit", "packages", "started", "ended", "wall_seconds", "rows"):
        assert key in record
    assert {"table", "row", "column", "metric", "paper_value", "value", "ci_low", "ci_high"} <= set(record["rows"][0])
    assert "torch" in record["packages"]
    loaded = results.load_results(tmp_path)
    assert loaded[["paper", "profile", "value"]].values.tolist() == [["rnn", "smoke", 0.5]]
    assert loaded["training_seconds"].isna().all() and (loaded["not_run"].map(len) == 0).all()
    results_file.training_seconds["Table 3"] = 12.5
    results_file.not_run += [results.Cell("Table 3", "BLSTM", "8-class"), results.Cell("Table 2", "X", "2-class")]
    results_file.write(tmp_path)
    again = results.load_results(tmp_path)
    assert again.loc[0, "training_seconds"] == 12.5 and again.loc[0, "not_run"] == (results.Cell("Table 3", "BLSTM", "8-class"), results.Cell("Table 2", "X", "2-class"))
    table = results.comparison_table(loaded)
    assert table.loc[0, ["paper", "ours", "gap", "paper in CI"]].tolist() == ["53.1", "50.0", "-3.1", "yes"]  # one seed: no "± 0.0"


def test_summarise_splits_t_interval_over_splits():
    split_outcomes = [outcome([0, 0, 1, 1]), outcome([0, 1, 1, 0]), outcome([0, 0, 1, 0])]  # WA 1.0, 0.5, 0.75
    summary = results.summarise_splits(split_outcomes, "window", "WA")
    assert summary["value"] == 0.75 and summary["seeds"] == 3
    # t(0.975, 2) = 4.303, sample std 0.25, n 3: half-width 0.621, clipped to [0, 1]
    assert abs(summary["ci_low"] - (0.75 - 4.302653 * 0.25 / np.sqrt(3))) < 1e-5
    assert summary["ci_high"] == 1.0
    single = results.summarise_splits(split_outcomes[:1], "window", "WA", n_boot=100)
    assert single["value"] == 1.0 and single["seeds"] == 1


def row(table, name, column, value, variant=""):
    return results.ResultRow(table, name, column, "UA", 0.5, value, value - 0.1, value + 0.1, variant=variant)


def test_writing_merges_by_cell_and_keeps_each_rows_provenance(tmp_path):
    first = results.ResultsFile(paper="p", corpus="c", protocol="p1", profile="full", device="cuda", seeds=[0])
    first.add(row("Table 2", "A", "8-class", 0.6))
    first.add(row("Table 2", "B", "8-class", 0.7))
    first.add(replace(row("Table 2", "B", "8-class", 0.7), level="utterance"))  # a level the next run no longer writes
    first.training_seconds["Table 2"] = 100.0
    first.not_run.append(results.Cell("Table 3", "A", "8-class"))
    first.write(tmp_path)
    second = results.ResultsFile(paper="p", corpus="c", protocol="p1", profile="full", device="cpu", seeds=[0])
    second.git_commit = "abc1234"
    second.add(row("Table 2", "B", "8-class", 0.75))  # replaces B
    second.add(row("Table 2", "B", "8-class", 0.2, variant="class-balanced loss"))  # a variant is its own cell
    second.add(row("Table 3", "A", "8-class", 0.65))  # was not run: now it is
    second.training_seconds["Table 3"] = 50.0
    path = second.write(tmp_path)
    record = json.loads(path.read_text())
    cells = {(r["table"], r["row"], r["variant"]): (r["value"], r["device"], r["git_commit"]) for r in record["rows"]}
    assert cells[("Table 2", "A", "")][:2] == (0.6, "cuda")  # kept, with the first run's device
    assert cells[("Table 2", "B", "")] == (0.75, "cpu", "abc1234")
    assert [r["level"] for r in record["rows"] if r["row"] == "B" and not r["variant"]] == ["window"]
    assert cells[("Table 2", "B", "class-balanced loss")][0] == 0.2
    assert len(record["rows"]) == 4
    assert record["training_seconds"] == {"Table 2": 100.0, "Table 3": 50.0}
    assert record["not_run"] == []
    assert not list(tmp_path.glob("*/*.tmp"))


def difference(table, first, second, column, value, variant=""):
    return results.ResultRow(table, results.difference_name(first, second), column, "UA", 0.07, value, value - 0.1, value + 0.1,
                             std=None, variant=variant, quantity=results.DIFFERENCE, ci_level=0.99)


def test_a_difference_never_outlives_a_score_it_was_drawn_from(tmp_path):
    first = results.ResultsFile(paper="p", corpus="c", protocol="p1", profile="full", device="cpu", seeds=[0])
    for name, value in (("A", 0.6), ("B", 0.5), ("C", 0.4)):
        first.add(row("Table 2", name, "random", value))
    first.add(difference("Table 2", "A", "B", "random", 0.1))
    first.add(difference("Table 2", "A", "C", "random", 0.2))
    first.add(difference("Table 2", "A", "C", "other folds", 0.3))
    first.write(tmp_path)
    again = results.ResultsFile(paper="p", corpus="c", protocol="p1", profile="full", device="cpu", seeds=[0])
    again.add(row("Table 2", "A", "random", 0.7))  # A again, against C only: A − B rests on the old A and goes
    again.add(difference("Table 2", "A", "C", "random", 0.3))
    record = json.loads(again.write(tmp_path).read_text())
    kept = {(r["row"], r["column"]): (r["value"], r["ci_level"]) for r in record["rows"] if r["quantity"] == "difference"}
    assert kept == {("A − C", "random"): (0.3, 0.99), ("A − C", "other folds"): (0.3, 0.99)}  # another column: untouched
    assert {r["row"] for r in record["rows"] if r["quantity"] == "score"} == {"A", "B", "C"}
    # under another protocol the scores' paper cells become not run, never the differences
    later = results.ResultsFile(paper="p", corpus="c", protocol="p2", profile="full", device="cpu", seeds=[0])
    later.add(row("Table 2", "A", "random", 0.7))
    with pytest.warns(UserWarning, match="3 rows measured under another protocol .* their 2 paper cells listed as not run"):
        record = json.loads(later.write(tmp_path).read_text())
    assert {c["row"] for c in record["not_run"]} == {"B", "C"}
    with pytest.raises(ValueError, match="quantity 'ratio' is neither 'score' nor 'difference'"):
        results.ResultRow("Table 2", "A", "random", "UA", None, 0.5, 0.4, 0.6, quantity="ratio")


def test_a_difference_goes_with_the_score_it_was_drawn_from_in_its_own_variant(tmp_path):
    stored = results.ResultsFile(paper="p", corpus="c", protocol="p1", profile="full", device="cpu", seeds=[0])
    for variant in ("", "front end"):
        for name, value in (("A", 0.6), ("B", 0.5)):
            stored.add(row("Table 3", name, "LSTM", value, variant))
        stored.add(difference("Table 3", "A", "B", "LSTM", 0.1, variant))
    stored.add(row("Table 2", "A", "random", 0.9))
    stored.add(row("Table 2", "A", "speaker-independent", 0.7, variant="speaker-independent folds"))
    inflation = replace(difference("Table 2", "random", "speaker-independent", "", 0.2), row="A",
                        column=results.difference_name("random", "speaker-independent"))
    stored.add(inflation)  # named in its column; its second score is of a labelled variant
    stored.write(tmp_path)
    again = results.ResultsFile(paper="p", corpus="c", protocol="p1", profile="full", device="cpu", seeds=[0])
    again.add(row("Table 3", "A", "LSTM", 0.65))  # the paper protocol's A only: the variant's A − B stays
    again.add(row("Table 2", "B", "random", 0.8))  # another row of the column: the inflation of A stays
    record = json.loads(again.write(tmp_path).read_text())
    kept = {(r["row"], r["variant"]) for r in record["rows"] if r["quantity"] == "difference"}
    assert kept == {("A − B", "front end"), ("A", "")}
    later = results.ResultsFile(paper="p", corpus="c", protocol="p1", profile="full", device="cpu", seeds=[0])
    later.add(row("Table 2", "A", "speaker-independent", 0.75, variant="speaker-independent folds"))  # its other score
    record = json.loads(later.write(tmp_path).read_text())
    assert {(r["row"], r["variant"]) for r in record["rows"] if r["quantity"] == "difference"} == {("A − B", "front end")}
    with pytest.raises(ValueError, match="must name .* exactly once"):
        difference("Table 2", "A − B", "C", "random", 0.1)


def test_tables_orderings_and_headline_cells_read_scores_only():
    from serlib.papers import common, etransformer

    record = results.ResultsFile(paper="etransformer", corpus="nemo", protocol="p", profile="full", device="cpu", seeds=[0])
    for system, value in zip(etransformer.SYSTEMS[:2], (0.9, 0.8)):
        record.add(results.ResultRow("Table 2", system, "random 5-fold", "UA", 0.7, value, value - 0.01, value + 0.01, level="utterance"))
    record.add(difference("Table 2", *etransformer.SYSTEMS[:2], "random 5-fold", 0.1))
    rows = record.table().assign(paper="etransformer", corpus="nemo", protocol="p")
    assert len(results.comparison_table(rows)) == 2 and len(results.headline_cells(rows)) == 2
    assert list(results.ours_by_column(record, etransformer.SYSTEMS).index) == list(etransformer.SYSTEMS[:2])
    assert "by point score, UA: " in etransformer.ordering_summary(rows) and "Base1" in etransformer.ordering_summary(rows) and common.ordering_of_rows(rows) == common.ordering_of_rows(results.scores(rows))
    assert results.differences(rows)["row"].tolist() == [results.difference_name(*etransformer.SYSTEMS[:2])]
    # first, how many proposed − BaseN differences establish the paper's sign: here the CI [0, 0.2] spans 0
    assert etransformer.ordering_summary(rows).startswith("random folds, proposed − BaseN: the paper's sign established for 0 of 1, the opposite for 0; ")
    narrower = rows.assign(ci_low=rows["ci_low"].where(rows["quantity"] != results.DIFFERENCE, 0.05))
    assert "established for 1 of 1 (Base1), the opposite for 0" in etransformer.ordering_summary(narrower)


def test_a_run_under_another_protocol_replaces_the_earlier_rows_and_lists_their_cells_not_run(tmp_path):
    earlier = results.ResultsFile(paper="p", corpus="c", protocol="rate fixed at 1e-3", profile="full", device="cpu", seeds=[0])
    earlier.add(row("Table 2", "A", "8-class", 0.6))
    earlier.add(row("Table 2", "A", "2-class", 0.7))
    earlier.add(row("Table 2", "A", "2-class", 0.5, variant="whole map"))
    earlier.training_seconds["Table 2"] = 100.0
    earlier.notes["rate"] = 1e-3
    earlier.not_run.append(results.Cell("Table 3", "B", "2-class"))
    earlier.write(tmp_path)
    later = results.ResultsFile(paper="p", corpus="c", protocol="rate chosen on validation", profile="full", device="cpu", seeds=[0])
    later.add(row("Table 2", "A", "8-class", 0.65))
    with pytest.warns(UserWarning, match=r"2 rows measured under another protocol .* their 1 paper cells listed as not run"):
        path = later.write(tmp_path)
    record = json.loads(path.read_text())
    assert [(r["column"], r["value"]) for r in record["rows"]] == [("8-class", 0.65)]
    assert {(c["table"], c["column"]) for c in record["not_run"]} == {("Table 2", "2-class"), ("Table 3", "2-class")}
    assert record["training_seconds"] == {} and "rate" not in record["notes"]
    again = results.ResultsFile(paper="p", corpus="c", protocol="rate chosen on validation", profile="full", device="cpu", seeds=[0])
    again.add(row("Table 2", "A", "2-class", 0.7))
    record = json.loads(again.write(tmp_path).read_text())  # the same protocol merges as before
    assert len(record["rows"]) == 2 and {c["table"] for c in record["not_run"]} == {"Table 3"}


def test_files_written_before_named_fields_are_read_the_same(tmp_path):
    old = {"paper": "capsule", "corpus": "ravdess", "protocol": "p", "profile": "full", "device": "cpu", "seeds": [0],
           "git_commit": "e11a3e9", "ended": "2026-11-22T00:00:00+00:00", "wall_seconds": 10.0,
           "notes": {"training_seconds Table 2": 80.0, "training_seconds Table 3": None, "settings": {},
                     "not_run": ["Table 3 (Feature*) + Capsule (2-class valence)"]},
           "rows": [{"table": "Table 2", "row": "A", "column": "8-class", "metric": "UA", "paper_value": 0.5,
                     "value": 0.4, "ci_low": 0.3, "ci_high": 0.5, "std": 0.0, "seeds": 1, "level": "utterance"}]}
    upgraded = results.upgrade_record(old)
    assert upgraded["training_seconds"] == {"Table 2": 80.0, "Table 3": None}
    assert upgraded["not_run"] == [{"table": "Table 3", "row": "(Feature*) + Capsule", "column": "2-class valence"}]
    assert upgraded["rows"][0]["git_commit"] == "e11a3e9" and upgraded["rows"][0]["variant"] == ""
    assert upgraded["rows"][0]["quantity"] == "score" and upgraded["rows"][0]["ci_level"] == 0.95  # rows before differences
    assert "not_run" not in upgraded["notes"] and "settings" in upgraded["notes"]
    (tmp_path / "capsule").mkdir()
    (tmp_path / "capsule" / "ravdess-full.json").write_text(json.dumps(old))
    loaded = results.load_results(tmp_path)
    assert loaded.loc[0, "training_seconds"] == 80.0
    assert loaded.loc[0, "not_run"] == (results.Cell("Table 3", "(Feature*) + Capsule", "2-class valence"),)  # a row with " (" kept whole


def test_the_scoreboard_counts_headline_cells_only():
    import pandas as pd

    not_run_here = (results.Cell("Table 3", "BLSTM", "8-class"), results.Cell("Table 3", "CNN", "8-class"))

    def cell(paper, corpus, metric, paper_value, value, low, high, variant="", not_run=(), row="system", quantity="score"):
        return {"paper": paper, "corpus": corpus, "row": row, "metric": metric, "paper_value": paper_value, "value": value,
                "ci_low": low, "ci_high": high, "variant": variant, "not_run": not_run, "quantity": quantity}

    rows = pd.DataFrame([
        cell("a", "x", "UA", 0.60, 0.61, 0.55, 0.67, not_run=not_run_here),  # close and in CI
        cell("a", "x", "UA", 0.60, 0.50, 0.45, 0.58, not_run=not_run_here),  # neither
        cell("a", "x", "UA", 0.60, 0.55, 0.50, 0.62, not_run=not_run_here),  # in CI only
        cell("a", "x", "UA", 0.60, 0.62, 0.40, 0.70, not_run=not_run_here),  # close, wide CI
        cell("a", "x", "UA", 0.60, 0.62, 0.40, 0.70, not_run=not_run_here),  # the same, printed in a second table: once
        cell("a", "x", "UA", 0.60, 0.62, 0.40, 0.70, row="another system", not_run=not_run_here),  # equal numbers, another cell
        cell("a", "x", "confusion", 0.60, 0.10, 0.05, 0.15, not_run=not_run_here),
        cell("a", "x", "UA", 0.60, 0.10, 0.05, 0.15, variant="log scalogram", not_run=not_run_here),
        cell("a", "x", "UA", 0.07, 0.06, 0.01, 0.11, row="system − another system", quantity="difference", not_run=not_run_here),
        cell("b", "stand-in", "UA", 0.60, 0.10, 0.05, 0.15),
        cell("b", "stand-in", "UA", None, 0.50, 0.45, 0.55),
    ])
    board = results.scoreboard(rows, {"b": "stand-in"}).set_index(["paper", "corpus"])
    # headline cells, then the disjoint classes (within 3 points, consistent but inconclusive, not reproduced), not run
    assert board.loc[("a", "x")].tolist() == [5, 3, 1, 1, 2]
    assert board.loc[("b", "stand-in")].tolist() == [0, 0, 0, 0, 0]
    cells = results.headline_cells(rows, {"b": "stand-in"})
    assert cells["gap"].round(1).tolist() == [1.0, -10.0, -5.0, 2.0, 2.0]
    assert results.cell_classes(cells).tolist() == [*results.CELL_CLASSES[0:1], results.CELL_CLASSES[2], results.CELL_CLASSES[1],
                                                     results.CELL_CLASSES[0], results.CELL_CLASSES[0]]
    assert results.class_counts(results.cell_classes(cells)) == "3 within 3 points, 1 consistent but inconclusive, 1 not reproduced"
    assert results.class_counts({"not reproduced": 2}, bold=True) == (
        "**0 within 3 points**, **0 consistent but inconclusive**, **2 not reproduced**")


def test_a_speaker_bootstrap_is_wider_than_an_utterance_bootstrap_when_speakers_differ():
    """4 speakers × 20 utterances; one speaker is always wrong. Resampling utterances treats its 20
    errors as independent; resampling speakers sees that they stand or fall together."""
    speakers = np.repeat(["a", "b", "c", "d"], 20)
    y_true = np.tile([0, 1], 40)
    y_pred = np.where(speakers == "d", 1 - y_true, y_true)
    window = training.Predictions(y_true, y_pred, np.arange(80), np.eye(2)[y_pred])
    seeds = [training.Outcome({"window": window, "utterance": training.utterance_level(window)})]
    by_utterance = results.summarise_seeds(seeds, "window", "UA", n_boot=500)
    by_speaker = results.summarise_seeds(seeds, "window", "UA", n_boot=500, clusters=speakers)
    assert by_utterance["value"] == by_speaker["value"] == 0.75
    assert by_speaker["ci_low"] <= 0.5 and by_speaker["ci_high"] == 1.0  # no "d", or "d" three times
    assert by_utterance["ci_high"] - by_utterance["ci_low"] < 0.5 * (by_speaker["ci_high"] - by_speaker["ci_low"])


def test_a_results_file_is_named_by_its_corpus_never_by_a_path(tmp_path):
    results_file = results.ResultsFile(paper="crnn", corpus="/data/mine/corpus.csv", protocol="p", profile="smoke", device="cpu", seeds=[0])
    with pytest.raises(ValueError, match="is a path; name it"):
        results_file.path(tmp_path)
