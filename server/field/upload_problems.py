"""Refusals of upload requests: the tus answers (410, 423, 460, 507) and the `KeptProblem`s.

A `KeptProblem` comes after the service changed disk and database together, so the view commits
before answering (see `uploads`).
"""

from __future__ import annotations

from ..errors import Problem


class UploadGone(Problem):
    status = 410
    slug = "upload-expired"
    default_title = "上传已过期"


class UploadLocked(Problem):
    status = 423
    slug = "upload-locked"
    default_title = "上传正被写入"


class ChecksumMismatch(Problem):
    """tus checksum extension: the chunk's Upload-Checksum does not match; the chunk is dropped."""

    status = 460
    slug = "checksum-mismatch"
    default_title = "校验和不符"


class KeptProblem(Problem):
    """A refusal after the service changed disk and database together: commit, then answer."""


class UploadRefused(KeptProblem):
    """The completed file is not acceptable evidence; the upload and its file are deleted."""

    status = 422


class UploadRewound(KeptProblem):
    """The temporary file was lost (a disk replaced, a restore): the upload starts again at 0."""

    status = 409
    slug = "upload-rewound"


class UploadInterrupted(KeptProblem):
    """The client stopped sending mid-chunk; what arrived is kept (tus core) and counted."""

    status = 400
    slug = "upload-interrupted"


class InsufficientStorage(Problem):
    """The disk is full: the chunk is dropped and the client tries again later."""

    status = 507
    slug = "insufficient-storage"
    default_title = "服务器存储空间不足"
