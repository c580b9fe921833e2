"""The failure paths a user meets first: corrupt cache entries and checkpoints, a wrong profile,
a corpus that is neither there nor downloadable, a run killed while writing its results, and
the same run twice giving the same numbers."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from serlib import cli, corpora, features, results, training
from serlib.examples import Examples
from serlib.papers import common, crnn
from tests.conftest import write_tone
from tests.test_corpora import write_iemocap_fixture


def test_a_corrupt_feature_cache_entry_is_reported_and_recomputed(tmp_path):
    paths = [write_tone(tmp_path / f"{i}.wav", freq=200 + 100 * i) for i in range(3)]
    manifest = pd.DataFrame({"path": [str(p) for p in paths]})
    first = features.extract(manifest, features.MFCC(), tmp_path / "cache", progress=False)
    entries = sorted((tmp_path / "cache" / "features").rglob("*.npy"))
    entries[0].write_bytes(b"")  # a killed run
    entries[1].write_bytes(entries[1].read_bytes()[:100])  # a full disk
    with pytest.warns(UserWarning, match="feature cache: .*is unreadable") as caught:
        again = features.extract(manifest, features.MFCC(), tmp_path / "cache", progress=False)
    assert len(caught) == 2 and {str(entries[0]), str(entries[1])} <= {str(w.message).split(" is ")[0].split(": ", 1)[1] for w in caught}
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: a third read warns no more
        features.extract(manifest, features.MFCC(), tmp_path / "cache", progress=False)


def _tiny_data() -> dict[str, Examples]:
    rng = np.random.default_rng(0)
    data = Examples(rng.normal(size=(16, 5)).astype(np.float32), np.arange(16) % 2, np.arange(16))
    return {"train": data, "val": data, "test": data}


def _tiny_model():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_a_truncated_checkpoint_is_reported_and_training_starts_again(tmp_path):
    checkpoint = tmp_path / "run" / "checkpoint.ckpt"
    cfg = training.TrainConfig(epochs=3, batch_size=4, progress=False)
    first = training.train_and_evaluate(_tiny_model, _tiny_data(), cfg, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    with pytest.warns(UserWarning, match=r"checkpoint .*checkpoint.ckpt is unreadable .*training from scratch"):
        again = training.train_and_evaluate(_tiny_model, _tiny_data(), cfg, checkpoint)
    assert [h["epoch"] for h in again.history] == [1, 2, 3]
    assert (checkpoint.parent / "checkpoint.ckpt.corrupt").exists()
    np.testing.assert_array_equal(first.levels["window"].posteriors, again.levels["window"].posteriors)


def test_a_corrupt_cached_outcome_is_evaluated_again_from_its_checkpoint(tmp_path):
    key = common.TrainingKey("test", "Table 1", "system", "task", "split", 0)
    cfg = training.TrainConfig(epochs=2, batch_size=4, progress=False)
    calls = []

    def train(checkpoint):
        calls.append(checkpoint)
        return training.train_and_evaluate(_tiny_model, _tiny_data(), cfg, checkpoint)

    first = common.training_outcome(key, {"model": "tiny"}, train, tmp_path)
    stored = common.training_folder(key, {"model": "tiny"}, tmp_path) / "outcome.npz"
    stored.write_bytes(b"PK\x03\x04 cut")
    with pytest.warns(UserWarning, match="cached outcome .*outcome.npz is unreadable"):
        again = common.training_outcome(key, {"model": "tiny"}, train, tmp_path)
    assert len(calls) == 2 and len(again.history) == 2  # resumed from the finished checkpoint: no epoch retrained
    np.testing.assert_array_equal(first.levels["window"].y_pred, again.levels["window"].y_pred)


def test_a_missing_corpus_that_cannot_be_downloaded_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as probe:  # a port nothing listens on: the download fails as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(corpora.DOWNLOADS, "emodb", corpora.Download(f"http://127.0.0.1:{port}/x.zip", "x.zip", "md5:" + "0" * 32))
    monkeypatch.setenv("SERLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(corpora.CorpusError, match=r"not found there, and downloading it failed .*Offline\? Point the data root"):
        corpora.load_manifest("emodb", tmp_path / "wrong" / "emodb")
    assert cli.main(["corpus", "emodb", "--root", str(tmp_path / "wrong" / "emodb")]) == 2
    error = capsys.readouterr().err
    last = error.strip().splitlines()[-1]  # pooch may first say what it tries to download (its logger's level)
    assert last.startswith("serlib: error:") and "Traceback" not in error and "--data-root" in last


def test_the_profile_is_set_with_its_option_not_as_a_parameter():
    from serlib.reproduce import parameters_for
    from serlib.papers import get

    with pytest.raises(ValueError, match=r"set profile with --profile, not with -p \(valid profiles: smoke, full\)"):
        parameters_for([get("rnn")], "smoke", "cpu", {"profile": "fulll"})
    with pytest.raises(ValueError, match=r"unknown profile 'fulll'; valid profiles: \['full', 'smoke'\]"):
        crnn.settings("fulll")


def test_a_run_killed_while_writing_its_results_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    def fold_outcomes(value: float) -> results.ResultsFile:
        record = results.ResultsFile(paper="p", corpus="c", protocol="x", profile="full", device="cpu", seeds=[0])
        record.add(results.ResultRow(table="T", row="r", column="c", metric="UA", paper_value=None,
                                     value=value, ci_low=value, ci_high=value))
        return record

    path = fold_outcomes(0.5).write(tmp_path)
    before = path.read_text()

    def killed(source, target):
        raise KeyboardInterrupt

    from serlib import files

    monkeypatch.setattr(files.os, "replace", killed)  # killed between writing the new file and moving it in
    with pytest.raises(KeyboardInterrupt):
        fold_outcomes(0.9).write(tmp_path)
    assert path.read_text() == before and json.loads(before)["rows"][0]["value"] == 0.5
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left behind


def test_the_same_smoke_configuration_twice_gives_identical_rows(tmp_path):
    write_iemocap_fixture(tmp_path / "iemocap", turns_per_speaker=1, labels=("neu", "ang", "sad", "hap"))
    settings = crnn.settings("smoke", corpus="iemocap", test_folds="5", systems="Plain CRNN,HSF-CRNN", epochs=2)
    rows = []
    for attempt in ("first", "second"):  # separate caches: both train from scratch
        data = crnn.load_data(settings, corpus="iemocap", root=tmp_path / "iemocap", cache=tmp_path / attempt, progress=False)
        fold_outcomes = crnn.run_table1(data, settings, "cpu", tmp_path / attempt, log=lambda line: None)
        table = crnn.results_file(data, fold_outcomes, settings, "cpu").table()
        rows.append(table[["row", "column", "metric", "value", "ci_low", "ci_high"]])
    pd.testing.assert_frame_equal(rows[0], rows[1])


@pytest.mark.parametrize("paper, overrides, message", [
    ("rnn", {"corpus": "emodbx"}, r"parameter corpus: unknown corpus 'emodbx'; known: \[.*'emodb'"),
    ("scalogram", {"corpora": "savee,emodbx"}, r"parameter corpora: unknown corpus 'emodbx'"),
    ("capsule", {"tasks": "8-klass"}, r"parameter tasks: unknown value\(s\) \['8-klass'\]"),
    ("capsule", {"table2_systems": "feature_proposd"}, r"parameter table2_systems: unknown value\(s\) \['feature_proposd'\]"),
    ("capsule", {"table3_splits": "0"}, "parameter table3_splits: every value must be at least 1"),
    ("crnn", {"systems": "HSF CRNN"}, r"parameter systems: unknown value\(s\) \['HSF CRNN'\]"),
])
def test_unknown_names_in_parameters_are_clear_errors_before_any_work(paper, overrides, message):
    from serlib.papers import get

    with pytest.raises(ValueError, match=message):
        get(paper).module().settings("full", **overrides)
