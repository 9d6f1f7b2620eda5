"""Legal bases and discretion benchmarks: read the versions in force, an admin adds or edits
versions, and any enforcement user checks a proposed penalty against the benchmark.

Edits follow the rules of server/registry/schemas/legal_rules.py (409 when broken) and are audited. How
they interact with `anfang reference load` is described in server/enforcement/legal_bases.py.
"""

from datetime import datetime
from types import SimpleNamespace

from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from ...columns import CHINA_STANDARD_TIME
from ...errors import Conflict
from ..discretion import check_penalty, describe_benchmark, hearing_right
from ..legal_bases import create_legal_basis, get_legal_basis, legal_bases_in_force, update_legal_basis
from ..schemas.legal_basis import (
    LegalBasisCreateSchema,
    LegalBasisPatchSchema,
    LegalBasisQuerySchema,
    LegalBasisSchema,
    PenaltyCheckResultSchema,
    PenaltyCheckSchema,
)

blp = Blueprint("legal_bases", __name__, url_prefix="/api/v1", description="法律依据与裁量基准")

READERS = ("enforcement", "office", "admin")
# Inspectors propose penalties on site: their phone pulls the bases in force with the allowed
# ranges and checks a proposed fine against them offline.
LIST_READERS = (*READERS, "inspector")
ADMINS = ("admin",)


def _user():
    return current_user._get_current_object()


@blp.get("/legal-bases")
@api_auth_required(*LIST_READERS)
@blp.arguments(LegalBasisQuerySchema, location="query")
@blp.response(200, LegalBasisSchema(many=True))
def list_legal_bases(query):
    """List the versions of legal bases in force on a day, with their benchmarks."""
    on = query["on"] or datetime.now(CHINA_STANDARD_TIME).date()
    return legal_bases_in_force(on)


@blp.get("/legal-bases/<string:code>")
@api_auth_required(*LIST_READERS)
@blp.response(200, LegalBasisSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_basis(code: str):
    """Get one version of a legal basis with its benchmarks."""
    return get_legal_basis(code)


@blp.post("/legal-bases")
@api_auth_required(*ADMINS)
@blp.arguments(LegalBasisCreateSchema)
@blp.response(201, LegalBasisSchema)
@blp.alt_response(409, response="CONFLICT", description="代码已被使用，或与同一条款其他版本的有效期重叠等")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def create_basis(data):
    """Add a version of a provision (e.g. a revision), with its benchmarks.

    Closes no earlier version: give the earlier version a `valid_to` first (PATCH), or the
    overlap is refused with 409.
    """
    return create_legal_basis(data, _user())


@blp.patch("/legal-bases/<string:code>")
@api_auth_required(*ADMINS)
@blp.arguments(LegalBasisPatchSchema)
@blp.response(200, LegalBasisSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="修改后违反数据规则（有效期重叠、幅度超出法定上限等）")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def patch_basis(data, code: str):
    """Change a version's text or end date, or its benchmarks' ranges (audited).

    A row also listed in server/reference/legal_bases.yaml is overwritten by the next load of a
    changed file, and that load reports it.
    """
    return update_legal_basis(code, data, _user())


@blp.post("/penalty-checks")
@api_auth_required(*READERS)
@blp.arguments(PenaltyCheckSchema)
@blp.response(200, PenaltyCheckResultSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="不是裁量基准允许的处罚组合或超出幅度：detail 写明依据、"
                                                          "有效期和允许的组合；allowed 给出 basis_code、combinations、"
                                                          "min_fine、max_fine、min_detention_days、max_detention_days")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def penalty_check(data):
    """Check a proposed penalty combination against the benchmark of the law in force on the act's date."""
    minor = data.pop("party_minor")
    benchmark = check_penalty(**data)
    try:
        hearing = hearing_right(party_kind=data["party_kind"], penalty_types=data["penalty_types"],
                                fine_amount=data["fine_amount"], on=data["act_date"], minor=minor)
    except Conflict:
        hearing = None
    fields = {name: getattr(benchmark, name) for name in (
        "code", "circumstance", "party_kind", "combinations", "penalty_types", "min_fine", "max_fine",
        "min_detention_days", "max_detention_days", "note", "valid_from", "valid_to", "legal_basis")}
    return SimpleNamespace(**fields, description=describe_benchmark(benchmark), hearing_right=hearing)
