"""Legal bases and discretion benchmarks as data: the consistency rules, and the admin's edits.

The same rules guard the reference file (server/reference/legal_bases.yaml, checked by the
loader before anything is written, and again against the admin's rows after), and every edit an
admin makes through the API:

- a version's validity runs forward (valid_to ≥ valid_from); a benchmark lies inside its version's;
- versions of one provision do not overlap, so exactly one applies on any date they cover;
- benchmarks of one version with the same circumstance and party kind do not overlap;
- a benchmark's combinations hold only penalty types its article allows, none twice, detention
  only for individuals; its fine range satisfies
  min ≤ max ≤ the article's maximum for that party kind (no maximum: no fine at all), and the
  same for detention days.

Interaction with `anfang reference load`: rows an admin created (codes the file does not list)
are kept and reported as absent, like every other reference row. Rows the file lists are the
file's: an admin's edit of such a row survives loads of an unchanged file (those are skipped),
but the next load of a changed file (or `--force`) writes the file's values over it, and the load
report names the overwritten rows (`overwritten`). To keep an edit, put it in the file.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import utcnow
from ..errors import Conflict, NotFound
from ..extensions import db
from ..registry.models.reference import DiscretionBenchmark, HearingThreshold, LegalBasis
from ..registry.schemas.legal_rules import legal_basis_problems, number_text, problem_lines

# ---------------------------------------------------------------- reading


def _query():
    return select(LegalBasis).options(selectinload(LegalBasis.benchmarks))


def legal_bases_in_force(on: date) -> list[LegalBasis]:
    """The versions in force on a date, with their benchmarks, by law and article."""
    query = _query().where(LegalBasis.valid_from <= on,
                           (LegalBasis.valid_to.is_(None)) | (LegalBasis.valid_to >= on))
    return list(db.session.scalars(query.order_by(LegalBasis.provision, LegalBasis.valid_from)))


def all_legal_bases() -> list[LegalBasis]:
    return list(db.session.scalars(_query().order_by(LegalBasis.provision, LegalBasis.valid_from)))


def citations() -> dict[str, str]:
    """How a page names each basis by its code: 《law》article, as the documents print it."""
    return {basis.code: f"《{basis.law}》{basis.article}" for basis in db.session.scalars(select(LegalBasis))}


def get_legal_basis(code: str) -> LegalBasis:
    basis = db.session.scalar(_query().where(LegalBasis.code == code))
    if basis is None:
        raise NotFound(f"没有代码为 {code} 的法律依据。")
    return basis


def hearing_thresholds() -> list[HearingThreshold]:
    return list(db.session.scalars(select(HearingThreshold).order_by(HearingThreshold.valid_from,
                                                                      HearingThreshold.code)))


# ---------------------------------------------------------------- admin edits


def _ensure_consistent(provision: str) -> None:
    """Refuse (409) the pending change if the provision's versions now break a rule."""
    db.session.flush()
    versions = list(db.session.scalars(_query().where(LegalBasis.provision == provision)))
    problems = legal_basis_problems(versions)
    if problems:
        lines = problem_lines(problems)
        raise Conflict("法律依据与裁量基准的数据规则不允许此修改：" + "；".join(lines),
                       errors={"_schema": lines})


def _benchmark_values(data: dict) -> dict:
    return {name: data.get(name) for name in (
        "circumstance", "party_kind", "combinations", "min_fine", "max_fine", "min_detention_days",
        "max_detention_days", "note", "valid_from", "valid_to")}


def _taken(model, code: str) -> bool:
    return db.session.scalar(select(model.id).where(model.code == code)) is not None


def create_legal_basis(data: dict, actor: User, *, channel: str = "api") -> LegalBasis:
    """A new version (e.g. a revision of a provision); closes no earlier version by itself."""
    if _taken(LegalBasis, data["code"]):
        raise Conflict(f"代码 {data['code']} 已被另一法律依据使用。")
    for benchmark in data.get("benchmarks") or []:
        if _taken(DiscretionBenchmark, benchmark["code"]):
            raise Conflict(f"裁量基准代码 {benchmark['code']} 已被使用。")
    basis = LegalBasis(
        code=data["code"], provision=data["provision"], law=data["law"], article=data["article"],
        text=data["text"], authority_kind=data["authority_kind"], authority_source=data["authority_source"],
        penalty_types=list(data["penalty_types"]),
        max_fine_individual=data.get("max_fine_individual"), max_fine_unit=data.get("max_fine_unit"),
        max_detention_days=data.get("max_detention_days"), valid_from=data["valid_from"],
        valid_to=data.get("valid_to"), admin_edited_at=utcnow(),
        benchmarks=[DiscretionBenchmark(code=b["code"], **_benchmark_values(b)) for b in data.get("benchmarks") or []],
    )
    db.session.add(basis)
    _ensure_consistent(basis.provision)
    record_event("legal_basis.created", actor=actor, channel=channel, object_type="legal_basis",
                 object_id=basis.code, details={"provision": basis.provision, "law": basis.law,
                                                "article": basis.article,
                                                "valid_from": basis.valid_from.isoformat(),
                                                "valid_to": basis.valid_to.isoformat() if basis.valid_to else None,
                                                "benchmarks": [b.code for b in basis.benchmarks]})
    return basis


_BENCHMARK_EDITABLE = ("min_fine", "max_fine", "min_detention_days", "max_detention_days", "note")


def update_legal_basis(code: str, data: dict, actor: User, *, channel: str = "api") -> LegalBasis:
    """Change a version's text or end date, or its benchmarks' ranges; audited with before/after.

    Ending a version (valid_to) ends its benchmarks that run longer on the same day.
    """
    basis = get_legal_basis(code)
    changes: dict[str, dict] = {}

    def change(target: str, row, name: str, value) -> None:
        before = getattr(row, name)
        if _comparable(before) == _comparable(value):
            return
        setattr(row, name, value)
        changes[f"{target}.{name}" if target else name] = {"from": _jsonable(before), "to": _jsonable(value)}

    for name in ("text", "valid_to"):
        if name in data:
            change("", basis, name, data[name])
    benchmarks = {b.code: b for b in basis.benchmarks}
    if data.get("valid_to") is not None:
        # Ending a version ends its benchmarks that would outlive it, on the same day.
        for benchmark in benchmarks.values():
            if benchmark.valid_to is None or benchmark.valid_to > data["valid_to"]:
                change(benchmark.code, benchmark, "valid_to", data["valid_to"])
    for item in data.get("benchmarks") or []:
        benchmark = benchmarks.get(item["code"])
        if benchmark is None:
            raise NotFound(f"法律依据 {code} 没有代码为 {item['code']} 的裁量基准。")
        for name in _BENCHMARK_EDITABLE:
            if name in item:
                change(benchmark.code, benchmark, name, item[name])
        if "valid_to" in item:
            change(benchmark.code, benchmark, "valid_to", item["valid_to"])
    if not changes:
        return basis
    basis.admin_edited_at = utcnow()
    _ensure_consistent(basis.provision)
    record_event("legal_basis.updated", actor=actor, channel=channel, object_type="legal_basis",
                 object_id=basis.code, details={"changes": changes})
    return basis


def _comparable(value):
    if isinstance(value, (Decimal, float, int)) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _jsonable(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, float)):
        return number_text(value)
    return value
