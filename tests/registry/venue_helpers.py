"""Shared by the venue register tests: users with tokens, problem answers, valid credit codes."""

from __future__ import annotations

import uuid

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.columns import utcnow
from server.registry.credit_code import check_character

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def person(db, role: str, **values) -> User:
    """A user without a password: hashing one costs more than the whole test."""
    user = User(username=f"{role}-{uuid.uuid4().hex[:10]}", display_name=f"测试{role}", role=role, **values)
    db.session.add(user)
    db.session.flush()
    return user


def bearer(db, user: User) -> dict:
    raw, token = issue_device_token(user, "测试设备", channel="api")
    token.last_used_at = utcnow()
    # Committed (a savepoint here): a refused request rolls back, and the token must outlive it.
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= body.keys() and body["status"] == status
    return body


def credit_code(serial: int, division: str = "330702") -> str:
    """A valid 统一社会信用代码 (GB 32100 check character computed) for a numbered unit."""
    first17 = f"91{division}MA{serial:07d}"
    return first17 + check_character(first17)


def broken_check(code: str) -> str:
    """The same code with a wrong check character."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % len(alphabet)]
