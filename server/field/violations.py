"""The server's own evaluation of a submitted inspection: its observations with amendments laid
over them, evaluated with the venue category's rules, and the violations stored from them.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

import rulecheck

from ..columns import utcnow
from ..extensions import db
from ..registry.loader import rules_bundle_for_category, venue_facts
from .models.inspection import Amendment, Finding, Inspection, Observation, Violation

log = logging.getLogger(__name__)


def effective_observations(inspection: Inspection) -> dict:
    """The record's observations with its amendments laid over them in the server's order."""
    observations = dict(db.session.execute(
        sa.select(Observation.item_code, Observation.value).where(Observation.inspection_id == inspection.id)).all())
    for payload in db.session.scalars(sa.select(Amendment.payload).where(Amendment.inspection_id == inspection.id)
                                      .order_by(Amendment.id)):
        observations.update((payload or {}).get("observations") or {})
    return observations


def store_violations(inspection: Inspection, *, amendment: Amendment | None = None
                     ) -> tuple[list[Violation], list[Violation]]:
    """Evaluate the observations (amendments applied) with the rules of the venue's category (the
    bundle the device used) and store each violated check with the venue, its county and the
    departments responsible for its category.

    Idempotent: a check already stored is not stored again. With an `amendment`, a live
    violation the corrected observations clear is withdrawn, and one withdrawn before that they
    break again is live again. Returns (live violations, violations withdrawn now).

    A parallel record (not the assignment's primary) stores none: a venue's violations are
    counted, queued for cases and reported from one record of a visit only.
    """
    if inspection.is_primary is not True:
        return [], []
    venue = inspection.assignment.venue
    facts = venue_facts(venue)
    observations = effective_observations(inspection)
    findings = {(finding.rule_code, finding.check_code): finding.id for finding in db.session.scalars(
        sa.select(Finding).where(Finding.inspection_id == inspection.id, Finding.withdrawn_at.is_(None)))}
    held = {(v.rule_code, v.check_code): v for v in db.session.scalars(
        sa.select(Violation).where(Violation.inspection_id == inspection.id))}
    department_ids = sorted(department.id for department in venue.category.departments)
    violated, evaluated = set(), set()
    for rule in rules_bundle_for_category(venue.category):
        own = {item["code"]: observations[item["code"]] for item in rule["items"] if item["code"] in observations}
        try:
            result = rulecheck.evaluate_rule(rule, venue=facts, observations=own)
        except rulecheck.ExpressionError:
            log.exception("rule %s could not be evaluated for inspection %s", rule["code"], inspection.uuid)
            continue
        for check in result.checks:
            key = (rule["code"], check.code)
            evaluated.add(key)
            if check.outcome != rulecheck.VIOLATION:
                continue
            violated.add(key)
            existing = held.get(key)
            if existing is None:
                held[key] = Violation(inspection_id=inspection.id, finding_id=findings.get(key),
                                      rule_code=rule["code"], check_code=check.code, description=check.description,
                                      venue_id=venue.id, county_id=venue.county_id, department_ids=department_ids,
                                      amendment_id=amendment.id if amendment else None)
                db.session.add(held[key])
            elif existing.withdrawn_at is not None and amendment is not None:
                existing.withdrawn_at = existing.withdrawn_by_amendment_id = None
                existing.amendment_id = amendment.id
    withdrawn = []
    if amendment is not None:
        now = utcnow()
        for key, violation in held.items():
            # Only a check evaluated now and passing is cleared; one whose rule could not be
            # evaluated keeps its standing.
            if violation.withdrawn_at is None and key in evaluated and key not in violated:
                violation.withdrawn_at, violation.withdrawn_by_amendment_id = now, amendment.id
                withdrawn.append(violation)
    db.session.flush()
    live = sorted((v for v in held.values() if v.withdrawn_at is None), key=lambda v: (v.rule_code, v.check_code))
    return live, sorted(withdrawn, key=lambda v: (v.rule_code, v.check_code))
