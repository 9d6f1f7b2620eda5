"""What every `anfang` command does the same way: one-line Chinese errors and a non-zero exit,
commit on success, roll back on failure."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import click
from sqlalchemy.exc import IntegrityError

from ..errors import Problem
from ..extensions import db


def fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"错误：{message}", err=True)
    sys.exit(1)


def problem_line(exc: Problem) -> str:
    """A domain problem in one line, field errors included."""
    if exc.errors:
        fields = "；".join(f"{name}：{' '.join(map(str, messages))}" for name, messages in exc.errors.items())
        return f"{exc.detail}（{fields}）"
    return exc.detail


@contextmanager
def committing(conflict_message: str | None = None):
    """Commit what the block did, or roll back and report a domain error in one line.

    `conflict_message` explains a unique-constraint race (another administrator doing the same
    at the same moment); without it such an error is not expected and propagates.
    """
    try:
        yield
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    except IntegrityError:
        if conflict_message is None:
            raise
        fail(conflict_message)
