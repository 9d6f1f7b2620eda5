"""A job queue for tests: RQ on a Redis database of the tests' own, emptied before and after."""

from __future__ import annotations

import os
import socket

import pytest

from server.jobs.queue import rq_queue

TEST_REDIS = os.environ.get("ANFANG_TEST_JOBS_REDIS_URL", "redis://127.0.0.1:6379/7")


def redis_or_fail() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis at 127.0.0.1:6379 does not answer")
        pytest.skip("Redis at 127.0.0.1:6379 does not answer")


@pytest.fixture
def queued(app, monkeypatch):
    """The app with a job queue on a Redis database of the tests' own, emptied before and after."""
    redis_or_fail()
    monkeypatch.setitem(app.config, "REDIS_URL", TEST_REDIS)
    with app.app_context():  # only to read the config: the test's own context stays the current one
        queue = rq_queue()
    queue.connection.flushdb()
    yield queue
    queue.connection.flushdb()
    queue.connection.close()
