"""Your corpus through every paper: a CSV corpus of the shape users bring (tests/csv_corpus.py)
is read by every paper's data step, with speaker-disjoint folds by a stated rule where the paper
needs sessions, the paper's classes mapped in one place, and clear errors where a split cannot be
made. The notebooks' smoke runs on such a corpus are in test_notebooks.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serlib import corpora, splits
from serlib.papers import capsule, common, crnn, etransformer, rnn, scalogram
from tests.csv_corpus import SPEAKER_SIZES, write_csv_corpus


@pytest.fixture(scope="module")
def corpus_csv(tmp_path_factory):
    return write_csv_corpus(tmp_path_factory.mktemp("yours"))


def test_the_csv_corpus_reads_with_non_ascii_names_mixed_rates_and_stereo(corpus_csv):
    manifest = corpora.load_manifest(str(corpus_csv))
    assert len(manifest) == sum(SPEAKER_SIZES) and manifest["speaker"].nunique() == len(SPEAKER_SIZES)
    assert {"Zoë", "Łukasz", "Ngọc"} <= set(manifest["speaker"]) and manifest["path"].str.endswith(".flac").any()


def test_speaker_folds_follow_the_stated_rule_and_are_disjoint(corpus_csv):
    manifest = corpora.load_manifest(str(corpus_csv))
    folds = splits.speaker_folds(manifest, 5)
    assert manifest.groupby("speaker").apply(lambda rows: folds[rows.index].nunique()).eq(1).all()  # one fold per speaker
    sizes = folds.value_counts().sort_index()
    assert sizes.index.tolist() == [1, 2, 3, 4, 5] and sizes.max() - sizes.min() <= max(SPEAKER_SIZES[5:])
    assert folds[manifest["speaker"] == "Zoë"].iloc[0] == 1  # the largest speaker goes first, to fold 1
    assert splits.speaker_folds(manifest, 5).equals(folds)  # deterministic
    with pytest.raises(ValueError, match="need 40 speakers or more; the corpus has 29"):
        splits.speaker_folds(manifest, 40)


@pytest.mark.parametrize("module", [crnn, etransformer], ids=["crnn", "etransformer"])
def test_the_session_papers_take_a_csv_without_sessions(module, corpus_csv):
    chosen = module.settings("full", corpus=str(corpus_csv))
    manifest, labels, task = common.session_corpus(chosen.corpus)
    assert sorted(manifest["session"].unique()) == [1, 2, 3, 4, 5] and "speaker-disjoint folds" in task.note
    for fold in splits.session_folds(manifest, validate_on_next=True):  # each checked speaker-disjoint by make_split
        assert fold.speaker_independent and len(fold.val)
    assert task.stand_in and set(labels) == {0, 1, 2, 3}


def test_a_session_column_is_used_as_the_folds(tmp_path):
    manifest, _, task = common.session_corpus(str(write_csv_corpus(tmp_path, sessions=4)))
    assert sorted(manifest["session"].unique()) == [1, 2, 3, 4] and "the 4 sessions of its manifest as folds" in task.note


def test_a_missing_class_is_named_with_the_counts(tmp_path):
    with pytest.raises(ValueError, match=r"missing \['neutral'\] \(found \{"):
        common.session_corpus(str(write_csv_corpus(tmp_path, drop_class="neutral")))


def test_a_stratified_split_names_the_scarce_class():
    manifest = pd.DataFrame({"utterance_id": [f"u{i}" for i in range(7)], "speaker": list("aabbccd"),
                             "emotion": ["anger"] * 3 + ["sadness"] * 3 + ["happiness"]})
    with pytest.raises(ValueError, match=r"too few of \{'happiness': 1\}"):
        splits.random_stratified(manifest, 0.25)


def test_smoke_subsets_keep_every_class_of_an_uneven_corpus(corpus_csv):
    manifest = corpora.load_manifest(str(corpus_csv))
    kept = common.smoke_speakers(manifest, 3, ("01", "02", "20"))  # RAVDESS's smoke actors are not in this corpus
    assert len(kept) == 3 and set(manifest[manifest["speaker"].isin(kept)]["emotion"]) == set(manifest["emotion"])
    assert common.smoke_speakers(manifest, 2, ("Zoë", "spk05")) == ["Zoë", "spk05"]  # present: kept as given


def test_capsule_and_scalogram_smoke_data_on_the_csv_corpus(corpus_csv, monkeypatch):
    import serlib.papers.capsule.data as capsule_data

    monkeypatch.setattr(capsule_data, "corpus_features", lambda manifest, cache=None, progress=True: {})
    acted = capsule.load_acted(capsule.settings("smoke", corpus=str(corpus_csv)))
    assert set(acted.tasks["8-class"].classes) == {"anger", "happiness", "neutral", "sadness"}
    assert "reduced task: 4 of the paper's 8 classes" in acted.tasks["8-class"].note
    assert "2-class intensity" in acted.dropped_tasks  # no intensity column
    found = scalogram.load_corpus(str(corpus_csv), scalogram.settings("smoke"))
    assert set(found.classes.classes) == {"anger", "happiness", "neutral", "sadness"}
    assert np.bincount(found.labels).min() >= 2


def test_folds_from_a_session_column_keep_numbers_and_refuse_blanks_and_too_many(tmp_path):
    manifest = pd.DataFrame({"utterance_id": list("abcdef"), "speaker": list("aabbcc"), "emotion": ["anger"] * 6})
    assert common.with_sessions(manifest.assign(session=["1", "1", "3", "3", "5", "5"]), "x")[0]["session"].tolist() == [1, 1, 3, 3, 5, 5]
    assert common.with_sessions(manifest.assign(fold=["B", "B", "A", "A", "C", "C"]), "x")[0]["session"].tolist() == [2, 2, 1, 1, 3, 3]
    with pytest.raises(ValueError, match="2 utterances have no session"):
        common.with_sessions(manifest.assign(session=["1", "1", "", "", "2", "2"]), "x")
    with pytest.raises(ValueError, match="6 sessions; the protocols test 5 folds"):
        common.with_sessions(manifest.assign(speaker=list("abcdef"), session=list("123456")), "x")


def test_a_session_column_that_splits_a_speaker_is_refused_naming_the_speaker():
    manifest = pd.DataFrame({"utterance_id": list("abcdef"), "speaker": list("aabbcc"), "emotion": ["anger"] * 6})
    with pytest.raises(ValueError, match=r"corpus 'my.csv': the fold column puts speaker\(s\) in more than one fold.*'b': \['1', '2'\]"):
        common.with_sessions(manifest.assign(fold=["1", "1", "1", "2", "2", "2"]), "my.csv")


def test_a_csv_with_four_sessions_tests_four_folds_and_says_so_for_a_fifth(tmp_path):
    corpus = str(write_csv_corpus(tmp_path, sessions=4))
    manifest, _, task = common.session_corpus(corpus)
    assert task.single_split_test == 4
    chosen = etransformer.settings("smoke", corpus=corpus, test_folds=(1, 2, 3, 4))
    assert chosen.test_folds == (1, 2, 3, 4)
