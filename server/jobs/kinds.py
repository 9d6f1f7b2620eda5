"""The kinds of background work: each domain registers its own (`server/<domain>/jobs.py`).

A kind's `run(params, user)` does the work inside the caller's transaction and returns what it
produced (see `models.job.Job.result`). It must be idempotent: a retried attempt, or the same
daily job fired by two schedulers, may run it again, and the second run must change nothing the
first one already did. A `Problem` it raises (bad input, something gone) is final and shown as
it is; any other exception is retried up to `max_attempts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..accounts.models.user import User
from ..errors import NotFound

Runner = Callable[[dict, User | None], dict]


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str  # Chinese, for the admin's list and the waiting page
    run: Runner
    max_attempts: int = 3
    timeout_seconds: int = 600
    # Only worth doing in the background: without a queue the work is left to whoever first needs
    # it (photo variants are made when first viewed), instead of slowing the request that asked.
    background_only: bool = False


KINDS: dict[str, JobKind] = {}


def job_kind(name: str, label: str, **options) -> Callable[[Runner], Runner]:
    """Register the decorated function as the job kind `name`."""

    def register(run: Runner) -> Runner:
        KINDS[name] = JobKind(name, label, run, **options)
        return run

    return register


def find_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise NotFound(f"没有名为“{name}”的后台任务类型。") from None


def kind_label(name: str) -> str:
    return KINDS[name].label if name in KINDS else "（已停用的任务类型）"
