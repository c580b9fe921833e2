"""The download path: a corpus zip served from 127.0.0.1, checked by pooch and by the tree digest."""

import hashlib
import http.server
import shutil
import threading
from functools import partial

import pytest

from serlib import corpora
from tests.conftest import write_tone


@pytest.fixture()
def served_zip(tmp_path, monkeypatch):
    """A tiny Emo-DB-like zip served over HTTP on 127.0.0.1; yields (url, md5, tree digest)."""
    for name in ("03a01Fa", "08b02Wb"):
        write_tone(tmp_path / "src" / "wav" / f"{name}.wav")
    archive = shutil.make_archive(str(tmp_path / "www" / "corpus"), "zip", tmp_path / "src")
    md5 = hashlib.md5(open(archive, "rb").read()).hexdigest()
    digest = corpora.tree_digest(tmp_path / "src")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield f"http://127.0.0.1:{server.server_port}/corpus.zip", md5, digest
    server.shutdown()


def test_download_unpacks_and_parses(served_zip, tmp_path):
    url, md5, digest = served_zip
    target = corpora.download_corpus("emodb", tmp_path / "data" / "emodb", corpora.Download(url, "test.zip", f"md5:{md5}", digest))
    manifest = corpora.parse_emodb(target)
    assert manifest["utterance_id"].tolist() == ["03a01Fa", "08b02Wb"]
    assert not (tmp_path / "data" / "emodb.partial").exists()


def test_download_rejects_wrong_archive_hash(served_zip, tmp_path):
    url, _, _ = served_zip
    with pytest.raises(ValueError, match="(?i)hash"):
        corpora.download_corpus("emodb", tmp_path / "emodb", corpora.Download(url, "bad.zip", "md5:" + "0" * 32))
    assert not (tmp_path / "emodb").exists()


def test_download_rejects_wrong_audio_digest(served_zip, tmp_path):
    url, md5, _ = served_zip
    with pytest.raises(corpora.CorpusError, match="digest"):
        corpora.download_corpus("emodb", tmp_path / "emodb", corpora.Download(url, "digest.zip", f"md5:{md5}", "0" * 64))
    assert not (tmp_path / "emodb").exists()


def test_load_manifest_downloads_missing_public_corpus(served_zip, tmp_path, monkeypatch):
    url, md5, digest = served_zip
    monkeypatch.setitem(corpora.DOWNLOADS, "emodb", corpora.Download(url, "auto.zip", f"md5:{md5}", digest))
    monkeypatch.setenv("SERLIB_DATA", str(tmp_path / "root"))
    manifest = corpora.load_manifest("emodb")
    assert len(manifest) == 2 and (tmp_path / "root" / "emodb" / "wav").is_dir()


def test_public_downloads_are_pinned():
    for name, source in corpora.DOWNLOADS.items():
        assert source.known_hash or source.tree_sha256, name
