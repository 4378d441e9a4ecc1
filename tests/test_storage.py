"""Content-addressed audio store: the key is the sha256 of the bytes; writes are idempotent and atomic."""

from __future__ import annotations

import hashlib

import pytest

from engine import config
from engine.storage import LocalAudioStore, default_store, sha256_of_file

AMI_FLAC = config.shared_data_dir() / "ami_excerpts" / "audio" / "dev00.flac"


@pytest.fixture
def upload(tmp_path):
    source = AMI_FLAC
    copy = tmp_path / "upload.bin"
    copy.write_bytes(source.read_bytes())
    return copy


def test_put_returns_sha256_and_stores_identical_bytes(tmp_path, upload):
    store = LocalAudioStore(tmp_path / "audio")
    sha = store.put_file(upload, ".FLAC")
    assert sha == hashlib.sha256(upload.read_bytes()).hexdigest() == sha256_of_file(upload)
    assert store.exists(sha)
    stored = store.path(sha)
    assert stored.suffix == ".flac" and stored.read_bytes() == upload.read_bytes()


def test_put_is_idempotent_and_leaves_no_temporary_files(tmp_path, upload):
    store = LocalAudioStore(tmp_path / "audio")
    first = store.put_file(upload, "flac")
    second = store.put_file(upload, ".flac")
    assert first == second
    files = [p for p in (tmp_path / "audio").rglob("*") if p.is_file()]
    assert files == [store.path(first)]


def test_delete_and_unknown_keys(tmp_path, upload):
    store = LocalAudioStore(tmp_path / "audio")
    sha = store.put_file(upload, ".flac")
    store.delete(sha)
    assert not store.exists(sha)
    store.delete(sha)  # deleting twice is harmless
    with pytest.raises(KeyError):
        store.path(sha)
    with pytest.raises(ValueError):
        store.exists("../../etc/passwd")


def test_failed_copy_leaves_nothing_behind(tmp_path):
    store = LocalAudioStore(tmp_path / "audio")
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "missing.wav", ".wav")
    assert [p for p in (tmp_path / "audio").rglob("*") if p.is_file()] == []


def test_default_store_lives_in_the_data_dir(data_dir):
    assert default_store().root == data_dir / "audio"
