"""A document's optional parts (版记 copies, the notice's contact) may be left out of a preview or
an issue: the template then prints without them rather than failing on a missing key (it was a 500)."""

from __future__ import annotations

import copy

import pytest
from document_helpers import bearer, sample

from server.extensions import db as _db


def leaving_out(kind: str, part: str, replacement=None) -> dict:
    context = copy.deepcopy(sample(kind))
    context.pop(part)
    if replacement is not None:
        context[part] = replacement
    return context


@pytest.mark.parametrize(("kind", "part", "replacement"), [
    ("penalty_decision", "copies", None),
    ("penalty_decision", "copies", {}),
    ("penalty_notice", "copies", None),
    ("penalty_notice", "contact", None),
    ("penalty_notice", "contact", {}),
])
def test_a_preview_without_an_optional_part_is_a_pdf(client, db, make_user, kind, part, replacement):
    headers = bearer(make_user("enforcement"))
    _db.session.commit()
    response = client.post(f"/api/v1/document-templates/{kind}/preview", headers=headers,
                           json=leaving_out(kind, part, replacement))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
