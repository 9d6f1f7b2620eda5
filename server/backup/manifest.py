"""The backup's files and their manifest: copying with a hash, checking every file against it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "anfang-backup"
MANIFEST_VERSION = 1
CHUNK = 1024 * 1024
REQUIRED = {"database": ("backend", "file", "tables", "alembic_revision"), "audit_head": ("seq", "hash")}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one Chinese line for the operator."""


class Progress:
    """What a long step reports; the command line shows it with rich, services and tests ignore it."""

    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the backup directory, "/"-separated
    size: int
    sha256: str

    def as_dict(self) -> dict:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def safe_relative(path: str) -> PurePosixPath:
    """A relative path that stays inside its directory (a stored or listed path is never trusted)."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or any(part in ("", ".", "..") for part in pure.parts) or "\\" in path:
        raise BackupError(f"路径不正确：{path}")
    return pure


def file_sha256(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def copy_file(source: Path, destination: Path, *, read_only: bool = False) -> tuple[int, str]:
    """Copy through a temporary name, fsync, rename; the size and SHA-256 of the bytes copied."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.part")
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as reader, open(temporary, "wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    if read_only:
        os.chmod(temporary, 0o440)
    os.replace(temporary, destination)
    return size, digest.hexdigest()


def read_manifest(directory: Path) -> dict:
    """The manifest of the backup in `directory`, its shape checked."""
    path = directory / MANIFEST_FILE
    if not directory.is_dir():
        raise BackupError(f"备份目录 {directory} 不存在。")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{directory} 中没有 {MANIFEST_FILE}：不是完整的备份（备份可能未完成）。") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"备份清单 {MANIFEST_FILE} 无法读取：{exc}") from None
    try:
        if manifest["format"] != MANIFEST_FORMAT:
            raise BackupError(f"{MANIFEST_FILE} 不是 anfang 的备份清单。")
        if manifest["version"] != MANIFEST_VERSION:
            raise BackupError(f"备份清单的格式版本 {manifest['version']} 不受支持（本程序支持 {MANIFEST_VERSION}）。")
        for entry in manifest["files"]:
            safe_relative(entry["path"])
            if not isinstance(entry["size"], int) or not isinstance(entry["sha256"], str):
                raise BackupError(f"备份清单中 {entry['path']} 的记录不完整。")
        for section, keys in REQUIRED.items():
            missing = [key for key in keys if key not in manifest[section]]
            if missing:
                raise KeyError(missing[0])
    except (KeyError, TypeError):
        raise BackupError(f"备份清单 {MANIFEST_FILE} 缺少必要的项目，无法使用。") from None
    return manifest


def verify_files(directory: Path, manifest: dict, progress: Progress) -> None:
    """Every file the manifest lists is there with its size and SHA-256; raises on the first that is not."""
    files = manifest["files"]
    progress.start("核对备份文件", len(files))
    for entry in files:
        path = directory / safe_relative(entry["path"])
        try:
            size, sha256 = file_sha256(path)
        except FileNotFoundError:
            raise BackupError(f"备份文件缺失：{entry['path']}；备份不完整，未恢复任何内容。") from None
        except OSError as exc:
            raise BackupError(f"备份文件 {entry['path']} 无法读取（{exc.strerror}）；未恢复任何内容。") from None
        if size != entry["size"] or sha256 != entry["sha256"]:
            raise BackupError(f"备份文件 {entry['path']} 与清单记录的大小或 SHA-256 不符："
                              "备份已损坏或被改动，未恢复任何内容。")
        progress.advance()
