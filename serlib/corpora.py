"""Corpus manifests: one table per corpus with the same columns for every corpus.

Columns of a manifest (:data:`MANIFEST_COLUMNS`): ``utterance_id``, ``path`` (absolute),
``corpus``, ``speaker``, ``gender`` (``f``/``m``/``""``), ``emotion`` (canonical name, see
:data:`EMOTIONS`), ``text`` (sentence id), plus corpus-specific extras (RAVDESS ``intensity``,
``statement``, ``repetition``; Emo-DB ``version``; ...).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from serlib import config
from serlib.audio import SUPPORTED_SUFFIXES, duration_seconds

MANIFEST_COLUMNS = ["utterance_id", "path", "corpus", "speaker", "gender", "emotion", "text"]

#: Canonical emotion names used across corpora (``emphatic``, ``positive``, ``rest``: FAU-Aibo's
#: 5-class labels; ``excitement``, ``frustration``, ``other``, ``no agreement``: IEMOCAP's).
EMOTIONS = (
    "anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
    "emphatic", "positive", "rest", "excitement", "frustration", "other", "no agreement",
)

#: The 4-class subset most SER papers use (angry, happy, neutral, sad).
FOUR_CLASS = ("anger", "happiness", "neutral", "sadness")

#: Binary valence of the acted corpora (capsule paper, Jalal et al. 2019, §4.3: "positive vs
#: negative"). FAU-Aibo has its own binary labels (NEG/IDL, manifest column ``label_2cl``).
VALENCE = {
    "anger": "negative", "boredom": "negative", "disgust": "negative", "fear": "negative",
    "sadness": "negative", "calm": "positive", "happiness": "positive", "neutral": "positive",
    "surprise": "positive",
}


class CorpusError(ValueError):
    """A corpus folder or label file that cannot be parsed; the message names the file."""


# --------------------------------------------------------------------------- parsers

EMODB_EMOTIONS = {
    "W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
    "F": "happiness", "T": "sadness", "N": "neutral",
}
EMODB_GENDER = {
    "03": "m", "08": "f", "09": "f", "10": "m", "11": "m",
    "12": "m", "13": "f", "14": "f", "15": "m", "16": "f",
}
_EMODB_NAME = re.compile(r"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[WLEAFTN])(?P<version>[a-z])$")

RAVDESS_EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happiness", "04": "sadness",
    "05": "anger", "06": "fear", "07": "disgust", "08": "surprise",
}
_RAVDESS_NAME = re.compile(
    r"^(?P<modality>\d\d)-(?P<channel>0[12])-(?P<emotion>0[1-8])-(?P<intensity>0[12])-"
    r"(?P<statement>0[12])-(?P<repetition>0[12])-(?P<actor>\d\d)$"
)

SAVEE_EMOTIONS = {
    "a": "anger", "d": "disgust", "f": "fear", "h": "happiness",
    "n": "neutral", "sa": "sadness", "su": "surprise",
}
SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
_SAVEE_CODE = re.compile(r"^(?P<emotion>sa|su|a|d|f|h|n)(?P<number>\d\d)$")


def _audio_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
    if not files:
        raise CorpusError(f"{folder}: no .wav or .flac files found")
    return files


def _unexpected(path: Path, corpus: str, pattern: str) -> CorpusError:
    return CorpusError(f"{path}: file name does not follow the {corpus} naming scheme ({pattern})")


def parse_emodb(root: Path) -> pd.DataFrame:
    """Emo-DB: ``wav/03a01Fa.wav`` = speaker, text, emotion letter, version."""
    folder = root / "wav" if (root / "wav").is_dir() else root
    rows = []
    for path in _audio_files(folder):
        match = _EMODB_NAME.match(path.stem)
        if not match or match["speaker"] not in EMODB_GENDER:
            raise _unexpected(path, "Emo-DB", "03a01Fa.wav")
        rows.append({
            "utterance_id": path.stem, "path": str(path), "corpus": "emodb",
            "speaker": match["speaker"], "gender": EMODB_GENDER[match["speaker"]],
            "emotion": EMODB_EMOTIONS[match["emotion"]], "text": match["text"],
            "version": match["version"],
        })
    return pd.DataFrame(rows)


def parse_ravdess(root: Path) -> pd.DataFrame:
    """RAVDESS audio-only: ``Actor_12/03-01-06-01-02-01-12.wav`` (odd actors male)."""
    rows = []
    for path in _audio_files(root):
        match = _RAVDESS_NAME.match(path.stem)
        if not match or match["modality"] != "03":
            raise _unexpected(path, "RAVDESS audio-only", "03-01-06-01-02-01-12.wav")
        actor = match["actor"]
        rows.append({
            "utterance_id": path.stem, "path": str(path), "corpus": "ravdess",
            "speaker": actor, "gender": "m" if int(actor) % 2 else "f",
            "emotion": RAVDESS_EMOTIONS[match["emotion"]], "text": f"statement{match['statement']}",
            "vocal_channel": "speech" if match["channel"] == "01" else "song",
            "intensity": "normal" if match["intensity"] == "01" else "strong",
            "statement": int(match["statement"]), "repetition": int(match["repetition"]),
        })
    return pd.DataFrame(rows)


def parse_savee(root: Path) -> pd.DataFrame:
    """SAVEE: official ``AudioData/DC/a01.wav`` or flat ``ALL/DC_a01.wav`` layout (all male)."""
    rows = []
    for path in _audio_files(root):
        if "_" in path.stem:
            speaker, code = path.stem.split("_", 1)
        else:
            speaker, code = path.parent.name, path.stem
        match = _SAVEE_CODE.match(code)
        if speaker not in SAVEE_SPEAKERS or not match:
            raise _unexpected(path, "SAVEE", "AudioData/DC/a01.wav or ALL/DC_a01.wav")
        rows.append({
            "utterance_id": f"{speaker}_{code}", "path": str(path), "corpus": "savee",
            "speaker": speaker, "gender": "m", "emotion": SAVEE_EMOTIONS[match["emotion"]],
            "text": code,
        })
    return pd.DataFrame(rows)


AIBO_5CLASS = {"A": "anger", "E": "emphatic", "N": "neutral", "P": "positive", "R": "rest"}
AIBO_2CLASS = {"NEG": "negative", "IDL": "idle"}
AIBO_LABELS = Path("labels") / "IS2009EmotionChallenge"
_AIBO_CHUNK = re.compile(r"^(?P<school>Ohm|Mont)_(?P<child>\d\d)_(?P<turn>\d{3})_(?P<chunk>\d\d)$")


def _aibo_labels(path: Path, classes: dict[str, str]) -> dict[str, tuple[str, float]]:
    if not path.is_file():
        raise CorpusError(f"{path}: FAU-Aibo label file not found")
    labels = {}
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or fields[1] not in classes or not _AIBO_CHUNK.match(fields[0]):
            raise CorpusError(f"{path}, line {line_number}: expected '<chunk id> <{'|'.join(classes)}> <confidence>', got {line!r}")
        labels[fields[0]] = (classes[fields[1]], float(fields[2]))
    return labels


def parse_fau_aibo(root: Path) -> pd.DataFrame:
    """FAU-Aibo as distributed for the Interspeech 2009 Emotion Challenge.

    ``wav/Ohm_01_001_00.wav`` chunks (school, child, turn, chunk) and
    ``labels/IS2009EmotionChallenge/chunk_labels_{5cl,2cl}_corpus.txt`` (``id class confidence``).
    ``emotion`` is the 5-class label (A/E/N/P/R); ``label_2cl`` the NEG/IDL label; ``school``
    gives the challenge's split (Ohm = train, Mont = test). Speakers are ``school_child``.
    """
    five = _aibo_labels(root / AIBO_LABELS / "chunk_labels_5cl_corpus.txt", AIBO_5CLASS)
    two = _aibo_labels(root / AIBO_LABELS / "chunk_labels_2cl_corpus.txt", AIBO_2CLASS)
    rows = []
    for path in _audio_files(root / "wav"):
        match = _AIBO_CHUNK.match(path.stem)
        if not match:
            raise _unexpected(path, "FAU-Aibo", "Ohm_01_001_00.wav")
        if path.stem not in five or path.stem not in two:
            raise CorpusError(f"{path}: chunk has no label in {root / AIBO_LABELS}")
        rows.append({
            "utterance_id": path.stem, "path": str(path), "corpus": "fau-aibo",
            "speaker": f"{match['school']}_{match['child']}", "gender": "",
            "emotion": five[path.stem][0], "text": f"turn{match['turn']}",
            "label_2cl": two[path.stem][0], "confidence": five[path.stem][1], "school": match["school"],
        })
    missing_audio = sorted(set(five) - {r["utterance_id"] for r in rows})
    if missing_audio:
        raise CorpusError(f"{root / 'wav'}: no audio for labelled chunk(s) {missing_audio[:5]}")
    return pd.DataFrame(rows)


NEMO_EMOTIONS = {
    "neutral": "neutral", "happiness": "happiness", "anger": "anger", "sadness": "sadness",
    "fear": "fear", "surprised": "surprise",
}
NEMO_GENDER = {"female": "f", "male": "m"}
#: nEMO's 9 actors in 5 fixed speaker-disjoint folds, IEMOCAP-session-like: folds 1-4 pair a
#: female with a male actor (alphabetical order within each gender), fold 5 holds the fifth male.
#: MP0 (198 files) shares a fold so that no fold is tiny: 720/558/719/720/359 utterances.
NEMO_FOLDS = {"EB0": 1, "KS0": 1, "IC0": 2, "MP0": 2, "KD0": 3, "SM0": 3, "MK0": 4, "TP0": 4, "WR0": 5}


def parse_nemo(root: Path) -> pd.DataFrame:
    """nEMO (Christop 2024): ``samples/EB0_neutral_13.flac`` labelled by ``data.tsv``.

    ``data.tsv`` names ``.wav`` files; a copy may hold ``.flac``: files are matched on the stem.
    ``speaker_id`` carries leading spaces (stripped). The column ``session`` is the actor's fold
    in :data:`NEMO_FOLDS` (for leave-one-session-out like IEMOCAP's); an actor outside it is an error.
    """
    table_path = root / "data.tsv"
    if not table_path.is_file():
        raise CorpusError(f"{table_path}: nEMO label file not found")
    table = pd.read_csv(table_path, sep="\t", dtype=str, keep_default_na=False)
    missing = {"file_id", "emotion", "speaker_id", "gender"} - set(table.columns)
    if missing:
        raise CorpusError(f"{table_path}: missing column(s) {sorted(missing)}")
    audio = {path.stem: path for path in _audio_files(root / "samples" if (root / "samples").is_dir() else root)}
    rows = []
    for line, record in enumerate(table.itertuples(index=False), start=2):
        stem, speaker = Path(record.file_id.strip()).stem, record.speaker_id.strip()
        emotion = NEMO_EMOTIONS.get(record.emotion.strip())
        if emotion is None:
            raise CorpusError(f"{table_path}, line {line}: unknown emotion {record.emotion!r}; known: {sorted(NEMO_EMOTIONS)}")
        if speaker not in NEMO_FOLDS:
            raise CorpusError(f"{table_path}, line {line}: actor {speaker!r} is not one of nEMO's {sorted(NEMO_FOLDS)}")
        if stem not in audio:
            raise CorpusError(f"{table_path}, line {line}: no audio file {stem}.flac or {stem}.wav in {root / 'samples'}")
        rows.append({
            "utterance_id": stem, "path": str(audio.pop(stem)), "corpus": "nemo", "speaker": speaker,
            "gender": NEMO_GENDER.get(record.gender.strip(), ""), "emotion": emotion,
            "text": getattr(record, "normalized_text", ""), "session": NEMO_FOLDS[speaker],
        })
    if audio:
        raise CorpusError(f"{root / 'samples'}: audio file(s) not in {table_path}: {sorted(audio)[:5]}")
    return pd.DataFrame(rows)


IEMOCAP_EMOTIONS = {
    "neu": "neutral", "ang": "anger", "sad": "sadness", "hap": "happiness", "exc": "excitement",
    "fru": "frustration", "sur": "surprise", "fea": "fear", "dis": "disgust", "oth": "other", "xxx": "no agreement",
}
_IEMOCAP_TURN = re.compile(
    r"^\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\t(?P<turn>Ses0[1-5][FM]_\S+?_(?P<gender>[FM])\d{3})\t"
    r"(?P<label>[a-z]{3})\t\[(?P<vad>[^\]]*)\]$"
)


def _iemocap_labels(path: Path) -> list[dict]:
    """The summary lines of one ``EmoEvaluation/<dialog>.txt`` (evaluator lines are skipped)."""
    rows = []
    for line_number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.startswith("["):
            continue  # the header, blank lines and the evaluators' lines (C-E2:, A-E3: ...)
        match = _IEMOCAP_TURN.match(line.rstrip())
        if not match or match["label"] not in IEMOCAP_EMOTIONS:
            raise CorpusError(f"{path}, line {line_number}: expected '[start - end]<TAB>Ses01F_impro01_F000<TAB>"
                              f"<{'|'.join(IEMOCAP_EMOTIONS)}><TAB>[V, A, D]', got {line!r}")
        valence, activation, dominance = (float(v) for v in match["vad"].split(","))
        rows.append({"turn": match["turn"], "gender": match["gender"], "label": match["label"],
                     "start": float(match["start"]), "end": float(match["end"]),
                     "valence": valence, "activation": activation, "dominance": dominance})
    return rows


def parse_iemocap(root: Path) -> pd.DataFrame:
    """IEMOCAP as distributed: ``Session1..5/sentences/wav/<dialog>/<turn>.wav`` labelled by the
    summary lines of ``Session*/dialog/EmoEvaluation/<dialog>.txt``.

    The speaker is the session and the gender letter just before the turn number
    (``Ses01F_impro01_M003`` → ``Ses01M``); the letter after ``Ses01`` names who wears the
    motion-capture markers in the dialog, not the speaker. ``emotion`` keeps IEMOCAP's labels
    (``exc`` as ``excitement``: a paper merges it into happiness if it wants to); ``label`` is
    the raw code, ``session`` 1-5, ``improvised`` whether the dialog is improvised.
    """
    sessions = sorted(p for p in root.glob("Session[1-5]") if p.is_dir())
    if not sessions:
        raise CorpusError(f"{root}: no Session1..Session5 folders (IEMOCAP's release layout)")
    rows = []
    for session in sessions:
        label_files = sorted((session / "dialog" / "EmoEvaluation").glob("*.txt"))
        if not label_files:
            raise CorpusError(f"{session / 'dialog' / 'EmoEvaluation'}: no label files")
        for label_file in label_files:
            for turn in _iemocap_labels(label_file):
                wav = session / "sentences" / "wav" / label_file.stem / f"{turn['turn']}.wav"
                if not wav.is_file():
                    raise CorpusError(f"{label_file}: turn {turn['turn']} has no audio file {wav}")
                number = int(session.name[-1])
                rows.append({
                    "utterance_id": turn["turn"], "path": str(wav), "corpus": "iemocap",
                    "speaker": f"Ses0{number}{turn['gender']}", "gender": turn["gender"].lower(),
                    "emotion": IEMOCAP_EMOTIONS[turn["label"]], "text": label_file.stem, "label": turn["label"],
                    "session": number, "improvised": "_impro" in label_file.stem,
                    "valence": turn["valence"], "activation": turn["activation"], "dominance": turn["dominance"],
                })
    return pd.DataFrame(rows)


EMOTASS_EMOTIONS = {"angry": "anger", "happy": "happiness", "sad": "sadness", "neutral": "neutral"}
EMOTASS_LABELS = Path("lab") / "ComParE2018_AtypicalAffect.tsv"
_EMOTASS_NAME = re.compile(r"^(?P<partition>train|devel|test)_\d{4}$")
#: What the challenge's label file writes for the unlabelled test files.
UNLABELLED = ("?", "")


def parse_emotass(root: Path) -> pd.DataFrame:
    """EmotAsS as released for the ComParE 2018 Atypical Affect sub-challenge.

    ``wav/{train,devel,test}_NNNN.wav`` and ``lab/ComParE2018_AtypicalAffect.tsv`` (tab-separated
    ``file_name`` and a label column named ``label`` or ``emotion`` depending on the release).
    ``partition`` comes from the file-name prefix; test files are unlabelled (``emotion`` is
    empty). The release gives no speaker ids; its partitions are speaker-disjoint by design, so
    ``speaker`` names the partition's speakers as a group.
    """
    table_path = root / EMOTASS_LABELS
    if not table_path.is_file():
        raise CorpusError(f"{table_path}: EmotAsS label file not found")
    table = pd.read_csv(table_path, sep="\t", dtype=str, keep_default_na=False)
    column = next((c for c in ("label", "emotion") if c in table.columns), None)
    if "file_name" not in table.columns or column is None:
        raise CorpusError(f"{table_path}: expected columns 'file_name' and 'label' (or 'emotion'), got {list(table.columns)}")
    labels = {}
    for line, (name, label) in enumerate(zip(table["file_name"], table[column]), start=2):
        stem, label = Path(name.strip()).stem, label.strip()
        match = _EMOTASS_NAME.match(stem)
        if not match:
            raise CorpusError(f"{table_path}, line {line}: file name {name!r} is not train_/devel_/test_NNNN.wav")
        if label not in EMOTASS_EMOTIONS and not (match["partition"] == "test" and label in UNLABELLED):
            raise CorpusError(f"{table_path}, line {line}: unknown label {label!r}; known: {sorted(EMOTASS_EMOTIONS)}")
        labels[stem] = EMOTASS_EMOTIONS.get(label, "")
    rows = []
    for path in _audio_files(root / "wav"):
        match = _EMOTASS_NAME.match(path.stem)
        if not match:
            raise _unexpected(path, "EmotAsS", "train_0001.wav")
        if path.stem not in labels:
            raise CorpusError(f"{path}: not listed in {table_path}")
        rows.append({
            "utterance_id": path.stem, "path": str(path), "corpus": "emotass",
            "speaker": f"{match['partition']} speakers", "gender": "", "emotion": labels.pop(path.stem), "text": "",
            "partition": match["partition"],
        })
    if labels:
        raise CorpusError(f"{root / 'wav'}: no audio for listed file(s) {sorted(labels)[:5]}")
    return pd.DataFrame(rows)


def parse_csv_manifest(csv_path: str | Path, corpus: str | None = None) -> pd.DataFrame:
    """Bring-your-own corpus: a CSV with at least ``path``, ``speaker``, ``emotion``.

    Relative paths are resolved against the CSV's folder; optional columns ``utterance_id`` (by
    default the file's stem, or its path as written in the CSV where stems repeat, e.g.
    ``speaker1/01.wav`` and ``speaker2/01.wav``), ``gender``, ``text`` and ``session`` (speaker-disjoint
    folds for the papers that need them) are kept, as is any other column.
    """
    csv_path = Path(csv_path)
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = {"path", "speaker", "emotion"} - set(table.columns)
    if missing:
        raise CorpusError(f"{csv_path}: missing column(s) {sorted(missing)}")
    for column in ("path", "speaker", "emotion"):
        blank = table.index[table[column].str.strip() == ""]
        if len(blank):
            raise CorpusError(f"{csv_path}, line {blank[0] + 2}: no {column} ({len(blank)} row(s) in all); "
                              f"give every utterance one")
    unknown = table.index[~table["emotion"].isin(EMOTIONS)]
    if len(unknown):
        names = sorted(set(table["emotion"].iloc[unknown]))
        raise CorpusError(f"{csv_path}, line {unknown[0] + 2}: unknown emotion name {table['emotion'].iloc[unknown[0]]!r} "
                          f"(all unknown: {names}); use one of {EMOTIONS}")
    paths = [(csv_path.parent / p).resolve() for p in table["path"]]
    for line, path in enumerate(paths, start=2):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(f"{csv_path}, line {line}: {path.name}: serlib reads {' and '.join(SUPPORTED_SUFFIXES)} "
                              "audio; convert it (e.g. ffmpeg -i in.mp3 out.flac)")
        if not path.is_file():
            raise CorpusError(f"{csv_path}, line {line}: audio file {path} does not exist")
    if "utterance_id" not in table:  # the file's stem, or its path as the CSV writes it where stems repeat
        stems = pd.Series([Path(p).stem for p in paths])
        table["utterance_id"] = stems if stems.is_unique else [Path(p).with_suffix("").as_posix() for p in table["path"]]
    table["path"] = [str(p) for p in paths]
    table["corpus"] = corpus or csv_path.stem
    for column in ("gender", "text"):
        if column not in table:
            table[column] = ""
    return table


#: Each corpus's full class set (canonical names).
CORPUS_EMOTIONS = {
    "emodb": tuple(sorted(EMODB_EMOTIONS.values())),
    "ravdess": tuple(sorted(RAVDESS_EMOTIONS.values())),
    "savee": tuple(sorted(SAVEE_EMOTIONS.values())),
    "fau-aibo": tuple(sorted(AIBO_5CLASS.values())),
    "nemo": ("anger", "fear", "happiness", "neutral", "sadness", "surprise"),
    "iemocap": tuple(sorted(IEMOCAP_EMOTIONS.values())),
    "emotass": tuple(sorted(EMOTASS_EMOTIONS.values())),
}


# --------------------------------------------------------------------------- downloads

#: Corpora distributed only under a licence: not in this project; their loaders are tested on
#: generated fixtures in their true layout, and a paper's tables on them are listed as not run.
LICENCE_GATED = ("iemocap", "fau-aibo", "emotass")

#: How the book writes each registered corpus's name.
DISPLAY_NAMES = {"emodb": "Emo-DB", "ravdess": "RAVDESS", "savee": "SAVEE", "nemo": "nEMO", "iemocap": "IEMOCAP",
                 "fau-aibo": "FAU-Aibo", "emotass": "EmotAsS"}


def display_name(corpus: str) -> str:
    """``corpus`` as the book writes it (a user's CSV corpus keeps its own name)."""
    return DISPLAY_NAMES.get(corpus, corpus)

@dataclass(frozen=True)
class Download:
    """Where a public corpus comes from and how its bytes are checked.

    ``known_hash`` checks the archive (pooch format ``"md5:..."``); ``tree_sha256`` checks the
    extracted audio with :func:`tree_digest` when the archive itself has no published hash.
    """

    url: str
    archive: str
    known_hash: str | None = None
    tree_sha256: str | None = None


DOWNLOADS = {
    # Emo-DB's server publishes no checksum for its zip; the 535 wav files are checked instead
    # (digest of their SHA-256, matching an independent copy of the release).
    "emodb": Download(
        url="http://emodb.bilderbar.info/download/download.zip",
        archive="emodb-download.zip",
        tree_sha256="cca8be65dd0e048ffd0b873da4b7def7983078ade8da7279dd3f0b0496b713b9",
    ),
    # Zenodo record 1188976 publishes the MD5 of the audio-only speech zip.
    "ravdess": Download(
        url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
        archive="Audio_Speech_Actors_01-24.zip",
        known_hash="md5:bc696df654c87fed845eb13823edef8a",
    ),
}


def tree_digest(folder: Path, suffix: str = ".wav") -> str:
    """SHA-256 over the sorted lines ``"<file name> <sha256 of file>"`` of ``folder/**/*suffix``."""
    lines = sorted(
        f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in folder.rglob(f"*{suffix}")
    )
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def download_corpus(name: str, destination: Path, source: Download | None = None) -> Path:
    """Download and unpack a public corpus into ``destination`` with checksums (pooch)."""
    import pooch

    source = source or DOWNLOADS.get(name)
    if source is None:
        raise CorpusError(f"{name}: no public download; obtain it from its distributor (see the book's data page)")
    downloads = config.cache_dir() / "downloads"
    archive = pooch.retrieve(
        source.url, known_hash=source.known_hash, fname=source.archive, path=downloads, progressbar=True
    )
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.unpack_archive(archive, staging, format="zip")
    if source.tree_sha256 and (digest := tree_digest(staging)) != source.tree_sha256:
        shutil.rmtree(staging)
        raise CorpusError(f"{archive}: unpacked audio digest {digest} != expected {source.tree_sha256}")
    staging.rename(destination)
    return destination


# --------------------------------------------------------------------------- registry

PARSERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "emodb": parse_emodb,
    "ravdess": parse_ravdess,
    "savee": parse_savee,
    "fau-aibo": parse_fau_aibo,
    "nemo": parse_nemo,
    "iemocap": parse_iemocap,
    "emotass": parse_emotass,
}


def corpus_root(name: str, data_root: str | Path | None = None) -> Path:
    """``<data root>/<name>``."""
    return config.data_root(data_root) / name


def load_manifest(name: str, root: str | Path | None = None, download: bool = True) -> pd.DataFrame:
    """The manifest of corpus ``name`` found at ``root`` (default: ``<data root>/<name>``).

    ``name`` is a registered corpus (:data:`PARSERS`) or a path to a CSV manifest. A public
    corpus missing from the data root is downloaded when ``download`` is true.
    """
    if name.endswith(".csv"):
        return _validated(parse_csv_manifest(name), name)
    if name not in PARSERS:
        raise CorpusError(f"unknown corpus {name!r}; known: {sorted(PARSERS)} or a .csv manifest")
    folder = Path(root).expanduser().resolve() if root else corpus_root(name)
    if not folder.exists():
        if not download or name not in DOWNLOADS:
            raise CorpusError(f"{folder}: corpus {name!r} not found (set ${config.DATA_ENV} or pass its path)")
        try:
            download_corpus(name, folder)
        except CorpusError:
            raise
        except Exception as err:  # requests' ConnectionError, HTTP errors, a full disk ...
            raise CorpusError(
                f"{folder}: corpus {name!r} not found there, and downloading it failed ({type(err).__name__}: {err}). "
                f"Offline? Point the data root at a local copy: set ${config.DATA_ENV}, or pass data_root / --data-root."
            ) from err
    return _validated(PARSERS[name](folder), str(folder))


def _validated(manifest: pd.DataFrame, source: str) -> pd.DataFrame:
    duplicated = manifest["utterance_id"][manifest["utterance_id"].duplicated()]
    if len(duplicated):
        raise CorpusError(f"{source}: duplicate utterance ids {sorted(duplicated)[:5]}")
    extras = [c for c in manifest.columns if c not in MANIFEST_COLUMNS]
    return manifest[MANIFEST_COLUMNS + extras].sort_values("utterance_id", ignore_index=True)


def select_emotions(manifest: pd.DataFrame, emotions: Iterable[str]) -> pd.DataFrame:
    """Keep only utterances whose emotion is in ``emotions`` (e.g. :data:`FOUR_CLASS`)."""
    emotions = list(emotions)
    unknown = sorted(set(emotions) - set(EMOTIONS))
    if unknown:
        raise CorpusError(f"unknown emotion name(s) {unknown}")
    return manifest[manifest["emotion"].isin(emotions)].reset_index(drop=True)


def summary(manifest: pd.DataFrame) -> dict:
    """Utterances, speakers, per-emotion counts and total hours of a manifest."""
    seconds = sum(duration_seconds(p) for p in manifest["path"])
    return {
        "utterances": int(len(manifest)),
        "speakers": int(manifest["speaker"].nunique()),
        "emotions": {k or "(unlabelled)": int(v) for k, v in sorted(manifest["emotion"].value_counts().items())},
        "hours": round(seconds / 3600, 4),
    }
