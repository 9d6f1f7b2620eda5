"""One piece of background work and what became of it.

The row is the job's truth, whichever queue carries it: RQ on Redis only holds the job's id, so a
lost Redis message is found again from here (`anfang job retry`), the admin sees every failure on
a page, and `key` makes asking twice for the same work (a double click, two schedulers firing the
same daily job) one job. A daily job's key names its Beijing day; a document's names its inputs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import utcnow
from ...extensions import db

# queued → running → done | failed; running → queued when an attempt fails and another is due.
JOB_STATES = ("queued", "running", "done", "failed")


class Job(db.Model):
    __tablename__ = "background_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    # What the job produced: a file under EVIDENCE_DIR ({"path", "media_type", "download_name",
    # "sha256", "size"}) or the counts of a daily job.
    result: Mapped[dict | None] = mapped_column(JSON)
    # The last failure, in Chinese for the admin (the traceback goes to the log).
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    requested_by: Mapped[User | None] = relationship(User)
