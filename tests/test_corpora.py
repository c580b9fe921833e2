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
        ({"path": ["a.wav", "b.wav"], "speaker": ["s1", "s1"], "emotion": ["anger", "joy"]}, "bad.csv, line 3: unknown emotion name 'joy'"),
        ({"path": ["a.wav", "b.wav"], "speaker": ["s1", " "], "emotion": ["anger", "anger"]}, r"bad.csv, line 3: no speaker \(1 row"),
        ({"path": ["a.mp3"], "speaker": ["s1"], "emotion": ["anger"]}, "bad.csv, line 2: a.mp3: serlib reads .wav and .flac"),
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


def test_nemo_real_corpus(corpora_root):
    """nEMO's quirks: speaker ids with leading spaces, .wav names for .flac files; 5 fixed folds."""
    manifest = corpora.load_manifest("nemo", corpora_root / "nemo", download=False)
    assert (len(manifest), manifest["speaker"].nunique()) == (3076, 9)
    assert manifest["emotion"].value_counts().to_dict() == {"neutral": 809, "sadness": 769, "anger": 749, "happiness": 749}
    assert manifest.groupby("session").size().tolist() == [720, 558, 719, 720, 359]
    assert all(manifest.groupby("session")["speaker"].nunique() == [2, 2, 2, 2, 1])
    assert manifest.set_index("utterance_id").loc["MP0_sadness_79", ["speaker", "gender"]].tolist() == ["MP0", "m"]
    assert all(path.endswith(".flac") for path in manifest["path"])


def test_nemo_errors_name_the_file(tmp_path):
    (tmp_path / "samples").mkdir()
    write_tone(tmp_path / "samples" / "EB0_anger_1.flac", seconds=0.2)
    header = "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"
    (tmp_path / "data.tsv").write_text(header + "EB0_anger_1.wav\tanger\tA.\ta\t        EB0\tfemale\t27\n"
                                       "EB0_anger_2.wav\tanger\tB.\tb\t        EB0\tfemale\t27\n")
    with pytest.raises(corpora.CorpusError, match=r"data.tsv, line 3: no audio file EB0_anger_2"):
        corpora.load_manifest("nemo", tmp_path)
    (tmp_path / "data.tsv").write_text(header + "EB0_anger_1.wav\tbored\tA.\ta\t EB0\tfemale\t27\n")
    with pytest.raises(corpora.CorpusError, match="line 2: unknown emotion 'bored'"):
        corpora.load_manifest("nemo", tmp_path)


IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def write_iemocap_fixture(root, turns_per_speaker: int = 2, labels=("neu", "ang", "sad", "hap", "exc", "fru"),
                          seconds: float = 0.5) -> list[tuple[str, str]]:
    """IEMOCAP's release layout: ``Session{1..5}/sentences/wav/<dialog>/<turn>.wav`` and
    ``Session{n}/dialog/EmoEvaluation/<dialog>.txt`` with summary and evaluator lines. Each
    session has an improvised and a scripted dialog whose name's gender letter differs from some
    speakers' (``Ses01F_impro01_M000`` is Session 1's male). Returns (turn, label) pairs."""
    written = []
    for session in range(1, 6):
        for dialog in (f"Ses0{session}F_impro01", f"Ses0{session}M_script01_1"):
            lines, number = [IEMOCAP_HEADER], 0
            for gender in "FM":
                for repeat in range(turns_per_speaker):
                    for label in labels:
                        turn = f"{dialog}_{gender}{number:03d}"
                        number += 1
                        start = 2.0 * number
                        lines.append(f"[{start:.4f} - {start + 1.5:.4f}]\t{turn}\t{label}\t[2.5000, 3.0000, 2.0000]\n"
                                     f"C-E2:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n")
                        write_tone(root / f"Session{session}" / "sentences" / "wav" / dialog / f"{turn}.wav",
                                   seconds=seconds, freq=220.0 * (1 + labels.index(label)) + 40 * session)
                        written.append((turn, label))
            label_file = root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
            label_file.parent.mkdir(parents=True, exist_ok=True)
            label_file.write_text("".join(lines))
    return written


def test_iemocap_fixture(tmp_path):
    written = write_iemocap_fixture(tmp_path)
    manifest = corpora.load_manifest("iemocap", tmp_path)
    assert len(manifest) == len(written) == 5 * 2 * 2 * 2 * 6
    assert sorted(manifest["speaker"].unique()) == [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]
    row = manifest.set_index("utterance_id").loc["Ses01F_impro01_M012"]
    assert (row["speaker"], row["gender"], row["session"], row["label"], row["emotion"]) == ("Ses01M", "m", 1, "neu", "neutral")
    assert manifest["emotion"].value_counts()["excitement"] == 40
    assert manifest.groupby("session")["speaker"].nunique().tolist() == [2] * 5
    folds = splits.session_folds(manifest, validate_on_next=True)
    assert [manifest["session"].iloc[f.test].unique().tolist() for f in folds] == [[s] for s in range(1, 6)]
    assert [manifest["speaker"].iloc[f.val].unique().tolist() for f in folds] == [["Ses02F"], ["Ses03F"], ["Ses04F"], ["Ses05F"], ["Ses01F"]]
    info = json.loads(_cli_json(["corpus", "iemocap", "--root", str(tmp_path), "--json"]))
    assert (info["utterances"], info["speakers"]) == (240, 10)


def test_iemocap_errors_name_the_file(tmp_path):
    write_iemocap_fixture(tmp_path, turns_per_speaker=1)
    label_file = tmp_path / "Session2" / "dialog" / "EmoEvaluation" / "Ses02F_impro01.txt"
    label_file.write_text(label_file.read_text() + "[1.0 - 2.0]\tSes02F_impro01_F099\tjoy\t[1, 2, 3]\n")
    with pytest.raises(corpora.CorpusError, match=r"Ses02F_impro01.txt, line \d+: expected"):
        corpora.load_manifest("iemocap", tmp_path)
    label_file.write_text(label_file.read_text().replace("joy", "neu").replace("[1, 2, 3]", "[1.0, 2.0, 3.0]"))
    with pytest.raises(corpora.CorpusError, match="turn Ses02F_impro01_F099 has no audio file"):
        corpora.load_manifest("iemocap", tmp_path)


def write_emotass_fixture(root, per_partition_and_class: int = 2, label_column: str = "label", test_files: int = 3) -> None:
    """The ComParE 2018 Atypical Affect layout: ``wav/{train,devel,test}_NNNN.wav`` and
    ``lab/ComParE2018_AtypicalAffect.tsv`` (test labelled ``?``); neutral three times as frequent."""
    lines = [f"file_name\t{label_column}\n"]
    for partition in ("train", "devel"):
        number = 1
        for label in ("angry", "happy", "sad", "neutral"):
            for _ in range(per_partition_and_class * (3 if label == "neutral" else 1)):
                name = f"{partition}_{number:04d}.wav"
                write_tone(root / "wav" / name, seconds=0.5, freq=200.0 * (1 + len(label)))
                lines.append(f"{name}\t{label}\n")
                number += 1
    for number in range(1, test_files + 1):
        write_tone(root / "wav" / f"test_{number:04d}.wav", seconds=0.5)
        lines.append(f"test_{number:04d}.wav\t?\n")
    (root / "lab").mkdir(parents=True, exist_ok=True)
    (root / "lab" / "ComParE2018_AtypicalAffect.tsv").write_text("".join(lines))


@pytest.mark.parametrize("label_column", ["label", "emotion"])
def test_emotass_fixture(tmp_path, label_column):
    write_emotass_fixture(tmp_path, label_column=label_column)
    manifest = corpora.load_manifest("emotass", tmp_path)
    assert manifest.groupby("partition").size().to_dict() == {"devel": 12, "test": 3, "train": 12}
    labelled = manifest[manifest["partition"] != "test"]
    assert labelled["emotion"].value_counts().to_dict() == {"neutral": 12, "anger": 4, "happiness": 4, "sadness": 4}
    assert set(manifest.loc[manifest["partition"] == "test", "emotion"]) == {""}
    assert corpora.summary(manifest)["emotions"]["(unlabelled)"] == 3


def test_emotass_errors_name_the_file(tmp_path):
    write_emotass_fixture(tmp_path)
    table = tmp_path / "lab" / "ComParE2018_AtypicalAffect.tsv"
    table.write_text(table.read_text().replace("train_0001.wav\tangry", "train_0001.wav\tfurious"))
    with pytest.raises(corpora.CorpusError, match="AtypicalAffect.tsv, line 2: unknown label 'furious'"):
        corpora.load_manifest("emotass", tmp_path)
    table.write_text("file_name\tclass\n")
    with pytest.raises(corpora.CorpusError, match="expected columns"):
        corpora.load_manifest("emotass", tmp_path)


def _cli_json(argv: list[str]) -> str:
    import contextlib
    import io

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert cli.main(argv) == 0
    return output.getvalue()
