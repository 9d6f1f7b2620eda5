"""The SHA-256 of a tus upload, computed while its chunks arrive rather than read back at the end.

The chunk that completes an upload must prove the whole file's SHA-256 before it answers, and
reading 50 MB back to hash it was the largest part of that answer. Instead each server process
hashes the bytes it appends, on one background thread, while the client sends the next chunk
(hashlib lets other threads run while it hashes a block).

A running digest is used only if it has seen every byte of the file, in order: it remembers the
file's device, inode, size and modification time as they were after the last byte it hashed. A
write it did not see (a chunk received by another process, a dropped chunk, an upload restarted
from zero) changes the file's size or time, and the completion then reads the file back instead.
Digests live in this process's memory only, a bounded number of them; a restart or an evicted
digest costs that one read, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

# Open uploads whose digest a process keeps; the least recently written is forgotten first.
KEPT_DIGESTS = 256


def _file_state(stat: os.stat_result) -> tuple[int, int, int, int]:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass(eq=False)
class RunningDigest:
    """One upload's SHA-256 so far; `feed` queues a block, `kept` records the file after a chunk."""

    file_state: tuple[int, int, int, int]
    sha256: object = field(default_factory=hashlib.sha256)
    pending: Future | None = None

    def feed(self, block: bytes) -> None:
        # One worker takes the blocks in the order they were queued, so they are hashed in file order.
        self.pending = _worker().submit(self.sha256.update, block)

    def hexdigest(self) -> str:
        if self.pending is not None:
            self.pending.result()
        return self.sha256.hexdigest()


_digests: OrderedDict[str, RunningDigest] = OrderedDict()
_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _worker() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-sha256")
        return _executor


def _after_fork_in_child() -> None:
    # A forked server worker inherits neither the parent's worker thread nor the chunks it had
    # queued: digests waiting on them would never finish.
    global _executor, _lock
    _executor, _lock = None, threading.Lock()
    _digests.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def for_chunk(upload_id: str, stat: os.stat_result) -> RunningDigest | None:
    """The digest to feed with the chunk about to be appended to the file whose state is `stat`
    (taken under the upload's lock): this process's digest if it covers the file exactly as it
    is, a new one if the file is empty, else None (the completion will read the file back)."""
    state = _file_state(stat)
    with _lock:
        digest = _digests.pop(upload_id, None)
    if digest is None or digest.file_state != state:
        digest = RunningDigest(state) if state[2] == 0 else None
    return digest


def chunk_kept(upload_id: str, digest: RunningDigest, fd: int) -> None:
    """The chunk fed to `digest` is in the file (flushed): remember the file as it now is."""
    digest.file_state = _file_state(os.fstat(fd))
    with _lock:
        _digests[upload_id] = digest
        _digests.move_to_end(upload_id)
        while len(_digests) > KEPT_DIGESTS:
            _digests.popitem(last=False)


def forget(upload_id: str) -> None:
    with _lock:
        _digests.pop(upload_id, None)


def completed_sha256(upload_id: str, fd: int) -> str | None:
    """The SHA-256 of the complete file open as `fd` if a digest here saw all of it, else None."""
    with _lock:
        digest = _digests.pop(upload_id, None)
    if digest is None or digest.file_state != _file_state(os.fstat(fd)):
        return None
    return digest.hexdigest()
