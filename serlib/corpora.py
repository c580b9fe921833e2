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

#: Canonical emotion names used across corpora (the last three are FAU-Aibo's 5-class labels).
EMOTIONS = (
    "anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
    "emphatic", "positive", "rest",
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


def parse_csv_manifest(csv_path: str | Path, corpus: str | None = None) -> pd.DataFrame:
    """Bring-your-own corpus: a CSV with at least ``path``, ``speaker``, ``emotion``.

    Relative paths are resolved against the CSV's folder; optional columns ``utterance_id``,
    ``gender`` and ``text`` are kept, as is any other column.
    """
    csv_path = Path(csv_path)
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = {"path", "speaker", "emotion"} - set(table.columns)
    if missing:
        raise CorpusError(f"{csv_path}: missing column(s) {sorted(missing)}")
    unknown = sorted(set(table["emotion"]) - set(EMOTIONS))
    if unknown:
        raise CorpusError(f"{csv_path}: unknown emotion name(s) {unknown}; use one of {EMOTIONS}")
    paths = [(csv_path.parent / p).resolve() for p in table["path"]]
    for line, path in enumerate(paths, start=2):
        if not path.is_file():
            raise CorpusError(f"{csv_path}, line {line}: audio file {path} does not exist")
    table["path"] = [str(p) for p in paths]
    table["corpus"] = corpus or csv_path.stem
    table["utterance_id"] = table.get("utterance_id", pd.Series([Path(p).stem for p in paths]))
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
}


# --------------------------------------------------------------------------- downloads

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
        download_corpus(name, folder)
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
        "emotions": {k: int(v) for k, v in sorted(manifest["emotion"].value_counts().items())},
        "hours": round(seconds / 3600, 4),
    }
