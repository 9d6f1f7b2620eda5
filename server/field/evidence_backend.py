"""Where evidence bytes are kept: the `EvidenceStore` interface and its local implementation.

Everything stored for good — photo originals (sha256/…), their variants (variants/…), issued
documents (documents/…), published bulletins and redacted images — is named by a path relative to
the store, the same path the database rows record. `LocalEvidenceStore` keeps them under
EVIDENCE_DIR on this machine's filesystem (a local disk, or a shared one such as NFS when several
servers share the store). Another store, such as an S3-compatible object store, would implement the
same methods and be chosen by EVIDENCE_STORE (server/config.py refuses a name it does not know).

What is not in the store stays on the server's local disk under EVIDENCE_DIR whatever the store:
the parts of tus uploads being received (incoming/, appended to chunk by chunk under an `flock`)
and other temporary files; a completed upload enters the store with `put_file`.
"""

from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from flask import current_app


class EvidenceFileMissing(FileNotFoundError):
    """A path the database names has no file in the store."""


class EvidenceStore(ABC):
    """Files by relative path (`sha256/ab/cdef…`); written whole or not at all, never half."""

    @abstractmethod
    def read_bytes(self, relative: str) -> bytes:
        """The file's bytes; `EvidenceFileMissing` if there is none."""

    @abstractmethod
    def open(self, relative: str) -> BinaryIO:
        """The file opened for reading (the caller closes it); `EvidenceFileMissing` if there is none."""

    @abstractmethod
    def write(self, relative: str, data: bytes, *, read_only: bool = False) -> None:
        """Store `data` durably: once this returns it survives a crash, and a reader sees the whole
        file or none. `read_only`: a file never rewritten (an original, an issued document)."""

    @abstractmethod
    def put_file(self, source: Path, relative: str, *, read_only: bool = False) -> None:
        """Move a complete local file (a finished upload) into the store durably; `source` is gone after."""

    @abstractmethod
    def exists(self, relative: str) -> bool:
        ...

    @abstractmethod
    def size(self, relative: str) -> int:
        """The file's size in bytes; `EvidenceFileMissing` if there is none."""

    @abstractmethod
    def delete(self, relative: str) -> None:
        """Remove the file if it is there (a refused or abandoned upload's leftovers)."""

    @abstractmethod
    def local_path(self, relative: str) -> Path:
        """A file on this machine with the stored bytes, for what needs one (sending a file, WeasyPrint,
        Pillow, backups); `EvidenceFileMissing` if there is none. A remote store downloads to a cache."""


def _checked(relative: str) -> PurePosixPath:
    """Paths come from the server's own rows, never from a client; refuse any that could leave the store."""
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"not a path inside the evidence store: {relative!r}")
    return path


def fsync_directory(path: Path) -> None:
    """A rename or a new file is durable only once its directory entry is."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(data: bytes, destination: Path, *, read_only: bool = False) -> None:
    """Temporary name → fsync → rename → fsync the directory: a reader sees the whole file or
    none, and it survives a crash. `read_only`: a file that is never rewritten (an issued
    document, a published bulletin)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if read_only:
        os.chmod(temporary, 0o440)
    os.replace(temporary, destination)
    fsync_directory(destination.parent)


class LocalEvidenceStore(EvidenceStore):
    """The store as a directory tree under `root` (EVIDENCE_DIR)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def _path(self, relative: str) -> Path:
        return self.root / _checked(relative)

    def _existing(self, relative: str) -> Path:
        path = self._path(relative)
        if not path.is_file():
            raise EvidenceFileMissing(f"evidence file missing from {self.root}: {relative}")
        return path

    def read_bytes(self, relative: str) -> bytes:
        return self._existing(relative).read_bytes()

    def open(self, relative: str) -> BinaryIO:
        return self._existing(relative).open("rb")

    def write(self, relative: str, data: bytes, *, read_only: bool = False) -> None:
        write_durably(data, self._path(relative), read_only=read_only)

    def put_file(self, source: Path, relative: str, *, read_only: bool = False) -> None:
        # The source lies under the same root (incoming/), so this is a rename on one filesystem.
        destination = self._path(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as handle:
            os.fsync(handle.fileno())
        if read_only:
            os.chmod(source, 0o440)
        os.replace(source, destination)
        fsync_directory(destination.parent)
        fsync_directory(source.parent)

    def exists(self, relative: str) -> bool:
        return self._path(relative).is_file()

    def size(self, relative: str) -> int:
        return self._existing(relative).stat().st_size

    def delete(self, relative: str) -> None:
        self._path(relative).unlink(missing_ok=True)

    def local_path(self, relative: str) -> Path:
        return self._existing(relative)


# How each EVIDENCE_STORE (server/config.py's EVIDENCE_STORES) is built from the configuration.
STORES = {"local": lambda config: LocalEvidenceStore(config["EVIDENCE_DIR"])}


def evidence_store() -> EvidenceStore:
    """The current app's store, as EVIDENCE_STORE names it. Built on each call: it holds nothing
    but its configuration, and tests change EVIDENCE_DIR on a running app."""
    config = current_app.config
    return STORES[config["EVIDENCE_STORE"]](config)
