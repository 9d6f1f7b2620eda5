"""A property-based fuzz run of every API operation, generated from the served OpenAPI document.

Schemathesis draws requests from each operation's documented parameters and bodies and sends them
in-process to the WSGI app (no network), with a bearer token of every role, against the seeded
demo world; path parameters are drawn from the generated value and the world's real ids, so that
answers other than 404 are exercised too. Every answer must be free of server errors, carry a
status code the operation documents explicitly (flask-smorest's catch-all "default" does not
count), and match the documented media type and schema; errors are problem+json. Bounded and
derandomized (same examples every run) so CI is repeatable and the run stays within minutes.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import UndefinedStatusCode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.columns import utcnow
from server.demo.cases import seed_demo_inspections
from server.demo.rectification import seed_demo_rectification
from server.demo.registry import seed_demo
from server.draws.models.draw import Assignment, Draw
from server.enforcement.document_catalogue import load_catalogue
from server.enforcement.models.rectification import RectificationOrder
from server.extensions import limiter
from server.field.models.evidence import EvidenceFile
from server.field.models.inspection import Inspection
from server.registry.models.reference import LegalBasis, Rule, VenueCategory
from server.registry.models.venue import Venue
from server.roles import ROLES

# Examples per operation and role (8 roles x ~90 operations): the bound that keeps the module
# within its time budget on SQLite.
EXAMPLES_PER_OPERATION = 5
# A hung or pathological request fails the run rather than stalling CI.
DEADLINE_MS = 20_000
MIN_OPERATIONS_ANSWERED = 40
TOKEN_PATH = "/api/v1/auth/tokens/current"

# POST /documents/verify takes a PDF as the raw body: a real-looking one, a truncated one and text.
schemathesis.openapi.media_type("application/pdf", st.sampled_from([
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
    b"%PDF-", b"not a pdf",
]))


@schemathesis.check
def status_code_documented(ctx, response, case):
    """Like status_code_conformance, but the catch-all "default" response does not count."""
    documented = [code for code in case.operation.responses.status_codes if code != "default"]
    if str(response.status_code) not in documented:
        raise UndefinedStatusCode(
            operation=case.operation.label, status_code=response.status_code, defined_status_codes=documented,
            allowed_status_codes=[int(code) for code in documented],
            message=f"Received: {response.status_code}\nDocumented: {', '.join(documented)}",
        )
    return None


CHECKS = [not_a_server_error, status_code_documented, content_type_conformance, response_schema_conformance]


def _ids(db, column, limit: int = 3) -> list:
    return list(db.session.scalars(sa.select(column).order_by(column).limit(limit)))


@pytest.fixture
def world(db):
    """The demo world (registry, users of every role, inspections with violations, a rectification
    order) and the real values of each path parameter name."""
    seed_demo()
    seed_demo_inspections()
    seed_demo_rectification()
    db.session.commit()
    return {
        "assignment_id": _ids(db, Assignment.id), "draw_id": _ids(db, Draw.id), "venue_id": _ids(db, Venue.id),
        "order_id": _ids(db, RectificationOrder.id), "report_id": [1],
        "code": _ids(db, LegalBasis.code, 2) + _ids(db, Rule.code, 2) + _ids(db, VenueCategory.code, 2),
        "kind": sorted(load_catalogue().kinds), "sha256": _ids(db, EvidenceFile.sha256),
        "variant": ["thumbnail", "print", "public"], "inspection_uuid": _ids(db, Inspection.uuid),
        "position": [0, 1],
    }


@pytest.fixture
def fresh_limiter():
    """The fuzzer tries logins until the login rate limit answers 429: the same count every run,
    and no limit left behind for the tests that follow (the memory store lives with the app)."""
    limiter.reset()
    yield
    limiter.reset()


def bearer(db, role: str) -> dict:
    user = db.session.scalar(sa.select(User).where(User.role == role, User.is_active.is_(True)).order_by(User.id))
    raw, token = issue_device_token(user, "模糊测试终端", channel="api")
    token.last_used_at = utcnow()
    db.session.commit()  # a savepoint here: an error answer rolls back the request's transaction
    return {"Authorization": f"Bearer {raw}"}


def fuzz(operation, caller: dict, known: dict, renew, statuses: Counter) -> list[str]:
    """Run the operation's examples as the caller, counting the answers' statuses; the failures
    found, as text."""

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=DEADLINE_MS,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), data=st.data())
    def run(case, data):
        for name, value in (case.path_parameters or {}).items():
            if known.get(name):
                case.path_parameters[name] = data.draw(st.sampled_from([value, *known[name]]), label=name)
        response = case.call(headers=caller["headers"])
        statuses[response.status_code] += 1
        if operation.path == TOKEN_PATH and operation.method.upper() == "DELETE" and response.status_code == 204:
            caller["headers"] = renew()  # the caller's token was just revoked
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except FailureGroup as group:
        return [str(failure) for failure in group.exceptions]
    except Exception as exc:  # one failed check, or a crash in the test itself
        return [str(exc)]
    return []


def test_every_operation_as_every_role(app, db, world, fresh_limiter):
    api_schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 90
    failures, answered, totals = [], set(), Counter()
    for role in ROLES:
        caller = {"headers": bearer(db, role)}
        for operation in operations:
            statuses = Counter()
            for failure in fuzz(operation, caller, world, renew=lambda role=role: bearer(db, role), statuses=statuses):
                failures.append(f"{operation.label} as {role}: {failure}")
            if any(200 <= status < 300 for status in statuses):
                answered.add(operation.label)
            totals.update(statuses)
    print(f"{len(operations)} operations x {len(ROLES)} roles: {sum(totals.values())} requests, "
          f"statuses {dict(sorted(totals.items()))}; {len(answered)} operations answered 2xx")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
    # The world's ids reach past authentication and lookup: a run that only ever met 4xx proves little.
    assert len(answered) >= MIN_OPERATIONS_ANSWERED
