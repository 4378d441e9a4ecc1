"""Content-addressed audio storage behind one small interface (a local directory now, an object store later).

A recording's key is the sha256 of its bytes, so storing the same upload twice keeps one copy.
Writes go to a temporary file in the same directory and are renamed into place, so a crash never leaves
a half-written file under a real key.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from engine import config

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


class AudioStore(Protocol):
    def put_file(self, src: Path, suffix: str) -> str: ...
    def path(self, sha256: str) -> Path: ...
    def delete(self, sha256: str) -> None: ...
    def exists(self, sha256: str) -> bool: ...


def sha256_of_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


class LocalAudioStore:
    """Files at <root>/<sha[:2]>/<sha><suffix>; the suffix keeps the format visible to decoders and people."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put_file(self, src: Path, suffix: str) -> str:
        suffix = _clean_suffix(suffix)
        src = Path(src)
        # hash while copying to a temp file: one read of the source, and the key matches the bytes stored
        folder = self.root / "incoming"
        folder.mkdir(exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, src.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            if self._find(sha) is None:
                target = self._target(sha, suffix)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, target)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
        return sha

    def path(self, sha256: str) -> Path:
        found = self._find(_check_key(sha256))
        if found is None:
            raise KeyError(f"no stored audio for {sha256}")
        return found

    def delete(self, sha256: str) -> None:
        found = self._find(_check_key(sha256))
        if found is not None:
            found.unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self._find(_check_key(sha256)) is not None

    def _target(self, sha: str, suffix: str) -> Path:
        return self.root / sha[:2] / f"{sha}{suffix}"

    def _find(self, sha: str) -> Path | None:
        folder = self.root / sha[:2]
        if not folder.is_dir():
            return None
        return next((p for p in folder.glob(f"{sha}*") if not p.name.endswith(".part")), None)


def _check_key(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256 key: {sha256!r}")
    return sha256


def _clean_suffix(suffix: str) -> str:
    suffix = suffix.lower()
    if suffix and not suffix.startswith("."):
        suffix = "." + suffix
    return suffix if _SUFFIX.match(suffix) else ""


def default_store() -> LocalAudioStore:
    return LocalAudioStore(config.data_dir() / "audio")
