import numpy as np
import pandas as pd
import pytest

from serlib import corpora, splits


@pytest.fixture(scope="module")
def emodb(corpora_root):
    return corpora.load_manifest("emodb", corpora_root / "emodb", download=False)


def toy_manifest() -> pd.DataFrame:
    speakers = [f"s{i}" for i in range(6) for _ in range(10)]
    emotions = ["anger", "neutral"] * 30
    return pd.DataFrame({"speaker": speakers, "emotion": emotions, "session": [s[-1] for s in speakers]})


def test_paper_split_sizes(emodb):
    split = splits.fixed_speakers(emodb, test=["16"], val=["15"])
    assert (len(split.train), len(split.val), len(split.test)) == (408, 56, 71)
    assert "15" not in set(emodb["speaker"].iloc[split.train])


def test_leaking_split_raises():
    manifest = toy_manifest()
    with pytest.raises(splits.SpeakerLeakError, match=r"\['s0'\] in both train and test"):
        splits.make_split(manifest, "leaky", train=range(0, 5), test=range(5, 10))
    with pytest.raises(splits.SpeakerLeakError, match="train and val"):
        splits.fixed_speakers(manifest, test=["s1"], val=["s2"], train=["s0", "s2"])


def test_overlapping_rows_raise():
    with pytest.raises(ValueError, match="more than one part"):
        splits.make_split(toy_manifest(), "overlap", train=[0, 1], test=[1, 2], speaker_independent=False)


def test_unknown_speaker_raises():
    with pytest.raises(ValueError, match="not in the manifest"):
        splits.fixed_speakers(toy_manifest(), test=["nobody"])


def test_leave_one_speaker_out(emodb):
    folds = splits.leave_one_speaker_out(emodb)
    assert len(folds) == 10
    for fold in folds:
        assert emodb["speaker"].iloc[fold.test].nunique() == 1
        assert len(fold.train) + len(fold.test) == 535
        splits.check_speaker_disjoint(emodb, fold)


def test_speaker_kfold_covers_every_speaker_once():
    manifest = toy_manifest()
    folds = splits.speaker_kfold(manifest, k=3, seed=1)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(manifest)))
    assert all(manifest["speaker"].iloc[f.test].nunique() == 2 for f in folds)
    with pytest.raises(ValueError):
        splits.speaker_kfold(manifest, k=7)


def test_session_folds():
    folds = splits.session_folds(toy_manifest())
    assert len(folds) == 6 and all(len(f.test) == 10 for f in folds)


def test_session_folds_refuse_a_speaker_in_two_sessions():
    manifest = toy_manifest()
    manifest.loc[5, "session"] = "1"  # one of s0's utterances filed under session 1
    with pytest.raises(splits.SpeakerLeakError, match=r"\['s0'\] in both train and test"):
        splits.session_folds(manifest)


def test_a_speaker_independent_split_cannot_be_built_unchecked():
    manifest = toy_manifest()
    rows = {"train": np.arange(0, 20), "val": np.arange(20, 25), "test": np.arange(25, 30)}
    with pytest.raises(ValueError, match="carries no speakers to check"):
        splits.Split("unchecked", rows["train"], rows["val"], rows["test"])
    with pytest.raises(splits.SpeakerLeakError, match=r"\['s2'\] in both val and test"):
        splits.Split("leaky", rows["train"], rows["val"], rows["test"], speakers=splits.part_speakers(manifest, rows))
    dependent = splits.Split("random", rows["train"], rows["val"], rows["test"], speaker_independent=False)
    with pytest.raises(splits.SpeakerLeakError):
        splits.check_speaker_disjoint(manifest, dependent)


def test_a_split_vouched_for_by_its_release_is_not_checked_and_says_so():
    manifest = toy_manifest().assign(speaker="train speakers", utterance_id=[f"u{i}" for i in range(60)])
    split = splits.make_split(manifest, "challenge", range(0, 40), range(40, 60), speakers_from="the release")
    assert split.speaker_independent and split.speakers_from == "the release"
    with pytest.raises(splits.SpeakerLeakError):
        splits.make_split(manifest, "challenge", range(0, 40), range(40, 60))


def test_random_stratified_is_labelled_speaker_dependent():
    folds = splits.random_stratified(toy_manifest(), test_size=0.25, repeats=3, seed=0)
    assert len(folds) == 3
    for fold in folds:
        assert not fold.speaker_independent and "speaker-dependent" in fold.name
        assert len(fold.test) == 15
        assert toy_manifest()["emotion"].iloc[fold.test].value_counts().tolist() in ([8, 7], [7, 8])


def test_loso_with_a_validation_speaker_never_validates_or_trains_on_the_test_speaker():
    manifest = toy_manifest()
    folds = splits.leave_one_speaker_out(manifest, validate_on_next=True)
    assert [f.name for f in folds[:2]] == ["LOSO test=s0 val=s1", "LOSO test=s1 val=s2"]
    assert folds[-1].name == "LOSO test=s5 val=s0"  # the next speaker, cyclically
    for fold in folds:
        speakers = {part: set(manifest["speaker"].iloc[rows]) for part, rows in fold.parts().items()}
        assert len(speakers["val"]) == len(speakers["test"]) == 1 and len(speakers["train"]) == 4
        assert not (speakers["val"] | speakers["train"]) & speakers["test"]
    with pytest.raises(ValueError, match="needs 3 speakers"):
        splits.leave_one_speaker_out(manifest[manifest["speaker"].isin(["s0", "s1"])], validate_on_next=True)


def test_random_stratified_validation_share_has_every_class_and_leaves_test_alone():
    plain = splits.random_stratified(toy_manifest(), test_size=0.25, seed=0)[0]
    validated = splits.random_stratified(toy_manifest(), test_size=0.25, seed=0, validation_fraction=0.1)[0]
    np.testing.assert_array_equal(plain.test, validated.test)
    assert len(validated.val) == 4 and set(toy_manifest()["emotion"].iloc[validated.val]) == {"anger", "neutral"}
    assert sorted(np.concatenate([validated.train, validated.val])) == sorted(plain.train)
    tiny = splits.random_stratified(toy_manifest(), test_size=0.25, seed=0, validation_fraction=0.01)[0]
    assert len(tiny.val) == 2  # at least one utterance per class, not round(0.45) = 0
