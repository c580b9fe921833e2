import json

import numpy as np

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


def test_results_file_fields(tmp_path):
    run = results.Run(paper="rnn", corpus="emodb", protocol="p", profile="smoke", device="cpu", seeds=[0])
    assert len(run.git_commit) >= 7  # read when the run starts
    run.add(results.ResultRow("Table 3", "MFCC", "LSTM", "WA", 0.531, 0.5, 0.4, 0.6))
    path = run.write(tmp_path)
    assert path == tmp_path / "rnn" / "emodb-smoke.json"
    record = json.loads(path.read_text())
    for key in ("paper", "corpus", "protocol", "profile", "device", "seeds", "git_commit", "packages", "started", "ended", "wall_seconds", "rows"):
        assert key in record
    assert {"table", "row", "column", "metric", "paper_value", "value", "ci_low", "ci_high"} <= set(record["rows"][0])
    assert "torch" in record["packages"]
    loaded = results.load_results(tmp_path)
    assert loaded[["paper", "profile", "value"]].values.tolist() == [["rnn", "smoke", 0.5]]
    assert loaded["training_seconds"].isna().all() and (loaded["not_run"] == "").all()
    run.notes.update({"training_seconds Table 3": 12.5, "not_run": ["Table 3 BLSTM (8-class)", "Table 2 X (2-class)"]})
    run.write(tmp_path)
    again = results.load_results(tmp_path)
    assert again.loc[0, "training_seconds"] == 12.5 and again.loc[0, "not_run"] == "Table 3 BLSTM (8-class); Table 2 X (2-class)"
    table = results.comparison_table(loaded)
    assert table.loc[0, "paper"] == "53.1" and table.loc[0, "ours"] == "50.0 ± 0.0"


def test_summarise_runs_t_interval_over_splits():
    runs = [outcome([0, 0, 1, 1]), outcome([0, 1, 1, 0]), outcome([0, 0, 1, 0])]  # WA 1.0, 0.5, 0.75
    summary = results.summarise_runs(runs, "window", "WA")
    assert summary["value"] == 0.75 and summary["seeds"] == 3
    # t(0.975, 2) = 4.303, sample std 0.25, n 3: half-width 0.621, clipped to [0, 1]
    assert abs(summary["ci_low"] - (0.75 - 4.302653 * 0.25 / np.sqrt(3))) < 1e-5
    assert summary["ci_high"] == 1.0
    single = results.summarise_runs(runs[:1], "window", "WA", n_boot=100)
    assert single["value"] == 1.0 and single["seeds"] == 1
