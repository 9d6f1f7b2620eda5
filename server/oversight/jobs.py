"""Accountability report drafts (样稿) rendered in the background: tracing a month and rendering
its tables and charts takes seconds."""

from __future__ import annotations

from datetime import date

from ..accounts.models.user import User
from ..audit.chain import current_head
from ..field.evidence_store import write_durably
from ..jobs.files import file_result, new_generated_path
from ..jobs.kinds import job_kind
from ..jobs.models.job import Job
from ..jobs.queue import job_key, submit
from .accountability import draft_report_pdf

DRAFT = "accountability.draft"


@job_kind(DRAFT, "生成倒查责任报告样稿")
def render_draft(params: dict, user: User | None) -> dict:
    date_from, date_to = date.fromisoformat(params["date_from"]), date.fromisoformat(params["date_to"])
    data = draft_report_pdf(date_from=date_from, date_to=date_to, county_id=params["county_id"], user=user)
    relative, destination = new_generated_path(".pdf")
    write_durably(data, destination)
    return file_result(relative, data, media_type="application/pdf",
                       download_name=f"accountability-{date_from}-{date_to}-draft.pdf")


def draft_job(*, date_from: date, date_to: date, county_id: int | None, user: User) -> Job:
    """The draft for this period as the records stand: every change is an audit event, so the
    chain's head names the state of the records, and an unchanged state gives the same job."""
    params = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "county_id": county_id}
    key = job_key(DRAFT, {**params, "records_as_of": current_head().seq}, user)
    return submit(DRAFT, params, user=user, key=key)
