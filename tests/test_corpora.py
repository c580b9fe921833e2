import json

import pandas as pd
import pytest

from serlib import cli, corpora, splits
from tests.conftest import write_tone


@pytest.mark.parametrize(
    "name, utterances, speakers, emotions",
    [
        ("emodb", 535, 10, {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "sadness": 62, "neutral": 79}),
        ("ravdess", 1440, 24, {"neutral": 96, **{e: 192 for e in ("calm", "happiness", "sadness", "anger", "fear", "disgust", "surprise")}}),
        ("savee", 480, 4, {"neutral": 120, **{e: 60 for e in ("anger", "disgust", "fear", "happiness", "sadness", "surprise")}}),
    ],
)
def test_real_corpus_counts(corpora_root, name, utterances, speakers, emotions):
    manifest = corpora.load_manifest(name, corpora_root / name, download=False)
    assert len(manifest) == utterances
    assert manifest["speaker"].nunique() == speakers
    assert manifest["emotion"].value_counts().to_dict() == emotions
    assert list(manifest.columns[:7]) == corpora.MANIFEST_COLUMNS
    assert set(manifest["emotion"]) <= set(corpora.EMOTIONS)


def test_emodb_fields(corpora_root):
    manifest = corpora.load_manifest("emodb", corpora_root / "emodb", download=False).set_index("utterance_id")
    row = manifest.loc["03a01Fa"]
    assert (row["speaker"], row["gender"], row["emotion"], row["text"], row["version"]) == ("03", "m", "happiness", "a01", "a")
    assert manifest.groupby("speaker").size().to_dict()["16"] == 71


def test_ravdess_extras(corpora_root):
    manifest = corpora.load_manifest("ravdess", corpora_root / "ravdess", download=False).set_index("utterance_id")
    row = manifest.loc["03-01-06-02-01-02-12"]
    assert (row["emotion"], row["intensity"], row["statement"], row["repetition"], row["gender"]) == ("fear", "strong", 1, 2, "f")
    assert set(manifest.loc[manifest["emotion"] == "neutral", "intensity"]) == {"normal"}


def test_savee_official_and_flat_layouts(tmp_path):
    write_tone(tmp_path / "official" / "AudioData" / "DC" / "a01.wav")
    write_tone(tmp_path / "official" / "AudioData" / "KL" / "sa15.wav")
    write_tone(tmp_path / "flat" / "ALL" / "DC_a01.flac")
    write_tone(tmp_path / "flat" / "ALL" / "KL_sa15.flac")
    official = corpora.load_manifest("savee", tmp_path / "official")
    flat = corpora.load_manifest("savee", tmp_path / "flat")
    for manifest in (official, flat):
        assert manifest[["utterance_id", "speaker", "emotion"]].values.tolist() == [
            ["DC_a01", "DC", "anger"], ["KL_sa15", "KL", "sadness"],
        ]


def test_misnamed_file_is_named_in_the_error(tmp_path):
    write_tone(tmp_path / "wav" / "03a01Fa.wav")
    write_tone(tmp_path / "wav" / "notes.wav")
    with pytest.raises(corpora.CorpusError, match="notes.wav"):
        corpora.load_manifest("emodb", tmp_path)


def test_empty_corpus_folder(tmp_path):
    (tmp_path / "wav").mkdir()
    with pytest.raises(corpora.CorpusError, match="no .wav or .flac"):
        corpora.load_manifest("emodb", tmp_path)


def test_missing_corpus_without_download(tmp_path):
    with pytest.raises(corpora.CorpusError, match="not found"):
        corpora.load_manifest("savee", tmp_path / "absent", download=False)


def test_csv_manifest_resolves_relative_paths(tmp_path):
    write_tone(tmp_path / "audio" / "one.wav")
    write_tone(tmp_path / "audio" / "two.flac")
    csv = tmp_path / "mine.csv"
    pd.DataFrame({"path": ["audio/one.wav", "audio/two.flac"], "speaker": ["s1", "s2"], "emotion": ["anger", "neutral"]}).to_csv(csv, index=False)
    manifest = corpora.load_manifest(str(csv))
    assert manifest["path"].tolist() == [str(tmp_path / "audio" / "one.wav"), str(tmp_path / "audio" / "two.flac")]
    assert manifest["corpus"].unique().tolist() == ["mine"]
    assert manifest["utterance_id"].tolist() == ["one", "two"]


@pytest.mark.parametrize(
    "table, message",
    [
        ({"path": ["a.wav"], "speaker": ["s1"]}, r"missing column\(s\) \['emotion'\]"),
        ({"path": ["a.wav"], "speaker": ["s1"], "emotion": ["joy"]}, "unknown emotion name"),
        ({"path": ["absent.wav"], "speaker": ["s1"], "emotion": ["anger"]}, "line 2: audio file .*absent.wav does not exist"),
    ],
)
def test_csv_manifest_errors(tmp_path, table, message):
    csv = tmp_path / "bad.csv"
    pd.DataFrame(table).to_csv(csv, index=False)
    with pytest.raises(corpora.CorpusError, match=message):
        corpora.parse_csv_manifest(csv)


def test_label_maps():
    assert len(corpora.CORPUS_EMOTIONS["emodb"]) == 7 and len(corpora.CORPUS_EMOTIONS["ravdess"]) == 8
    assert "boredom" in corpora.CORPUS_EMOTIONS["emodb"] and "surprise" in corpora.CORPUS_EMOTIONS["savee"]
    for name in ("emodb", "ravdess", "savee"):
        assert set(corpora.CORPUS_EMOTIONS[name]) <= set(corpora.VALENCE)
    assert set(corpora.FOUR_CLASS) <= set(corpora.EMOTIONS)
    manifest = pd.DataFrame({"emotion": ["anger", "boredom", "sadness", "neutral", "happiness"]})
    assert corpora.select_emotions(manifest, corpora.FOUR_CLASS)["emotion"].tolist() == ["anger", "sadness", "neutral", "happiness"]
    with pytest.raises(corpora.CorpusError):
        corpora.select_emotions(manifest, ["joy"])


def test_cli_json(corpora_root, capsys):
    assert cli.main(["corpus", "emodb", "--root", str(corpora_root / "emodb"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["utterances"] == 535 and info["speakers"] == 10
    assert info["emotions"]["anger"] == 127
    assert 0.3 < info["hours"] < 0.5


def test_cli_reports_errors(tmp_path, capsys):
    assert cli.main(["corpus", "savee", "--root", str(tmp_path / "absent"), "--no-download"]) == 2
    assert "not found" in capsys.readouterr().err


def write_aibo_fixture(root, chunks):
    """The IS2009 Emotion Challenge layout: wav/ chunks and labels/IS2009EmotionChallenge/ files."""
    labels = root / "labels" / "IS2009EmotionChallenge"
    labels.mkdir(parents=True)
    for chunk, *_ in chunks:
        write_tone(root / "wav" / f"{chunk}.wav", seconds=0.3)
    (labels / "chunk_labels_5cl_corpus.txt").write_text("".join(f"{c} {five} {conf}\n" for c, five, _, conf in chunks))
    (labels / "chunk_labels_2cl_corpus.txt").write_text("".join(f"{c} {two} {conf}\n" for c, _, two, conf in chunks))


AIBO_CHUNKS = [
    ("Ohm_01_001_00", "A", "NEG", "1.000000"), ("Ohm_01_002_01", "N", "IDL", "0.600000"),
    ("Ohm_13_010_00", "E", "NEG", "0.800000"), ("Mont_02_004_00", "P", "IDL", "1.000000"),
    ("Mont_02_005_02", "R", "IDL", "0.400000"),
]


def test_fau_aibo_fixture(tmp_path):
    write_aibo_fixture(tmp_path, AIBO_CHUNKS)
    manifest = corpora.load_manifest("fau-aibo", tmp_path).set_index("utterance_id")
    assert manifest["emotion"].tolist() == ["positive", "rest", "anger", "neutral", "emphatic"]
    assert manifest.loc["Ohm_01_002_01", ["speaker", "label_2cl", "school", "confidence"]].tolist() == ["Ohm_01", "idle", "Ohm", 0.6]
    assert sorted(manifest["speaker"].unique()) == ["Mont_02", "Ohm_01", "Ohm_13"]
    school_split = splits.fixed_speakers(manifest.reset_index(), test=["Mont_02"], train=["Ohm_01", "Ohm_13"])
    assert (len(school_split.train), len(school_split.test)) == (3, 2)


def test_fau_aibo_errors_name_the_file(tmp_path):
    write_aibo_fixture(tmp_path, AIBO_CHUNKS)
    label_file = tmp_path / "labels" / "IS2009EmotionChallenge" / "chunk_labels_5cl_corpus.txt"
    label_file.write_text(label_file.read_text() + "Ohm_01_003_00 X 1.0\n")
    with pytest.raises(corpora.CorpusError, match="chunk_labels_5cl_corpus.txt, line 6"):
        corpora.load_manifest("fau-aibo", tmp_path)
    label_file.write_text(label_file.read_text().replace("Ohm_01_003_00 X 1.0\n", "Ohm_01_003_00 A 1.0\n"))
    with pytest.raises(corpora.CorpusError, match="no audio for labelled chunk"):
        corpora.load_manifest("fau-aibo", tmp_path)
