"""Draws (抽查): a verifiable random selection of venues and teams, and its assignments."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import TimestampMixin, utcnow
from ...extensions import db
from ...registry.models.venue import Venue

# awaiting: committed to the office's seed and the snapshots, waiting for the contribution no one
# in the office can know (docs/draw-algorithm.md §1); committed: assignments formed; closed: the
# window is over and the seed revealed; cancelled: abandoned with a reason, the seed revealed too.
DRAW_STATUSES = ("awaiting", "committed", "closed", "cancelled")
# Where the second half of the seed comes from (draw_policy.yaml `seed.contribution`).
CONTRIBUTION_SOURCES = ("auditor", "public")
# sample: the office's random selection of venues; reinspection: a re-inspection (复查) of one
# venue after a rectification deadline, drawn by the same rules (server.enforcement.reinspection).
DRAW_PURPOSES = ("sample", "reinspection")
ASSIGNMENT_STATUSES = ("sealed", "dispatched", "revealed", "in_progress", "submitted", "closed", "cancelled",
                       "expired")


class Draw(TimestampMixin, db.Model):
    """One draw. Until it is closed only `commitment = sha256(seed)` is public; the seed is kept
    wrapped under the server key and revealed (stored in clear) when the draw closes."""

    __tablename__ = "draw"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    status: Mapped[str] = mapped_column(String(16), default="awaiting")
    purpose: Mapped[str] = mapped_column(String(16), default="sample", server_default="sample", index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # Canonical parameters: scope, sample size, window, team size, and the policy in force.
    parameters: Mapped[dict] = mapped_column(JSON)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    commitment: Mapped[str] = mapped_column(String(64))  # sha256(office seed), hex
    sealed_seed: Mapped[bytes] = mapped_column(LargeBinary)  # office seed wrapped under the server key
    revealed_seed: Mapped[str | None] = mapped_column(String(64))  # office seed, hex, set when closed
    # The contribution fixed after the commitment (an auditor's share or a named public value);
    # the selection seed is HMAC-SHA256(office seed, "anfang-draw-seed:" + contribution).
    contribution: Mapped[str | None] = mapped_column(Text)
    contribution_source: Mapped[str | None] = mapped_column(String(16))
    contributed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contributed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    parameters_digest: Mapped[str] = mapped_column(String(64))
    venues_digest: Mapped[str] = mapped_column(String(64))
    inspectors_digest: Mapped[str] = mapped_column(String(64))
    result_digest: Mapped[str | None] = mapped_column(String(64))  # set once the assignments are formed
    # The candidate lists as they were at draw time (canonical JSON, zlib-compressed).
    venues_snapshot: Mapped[bytes] = mapped_column(LargeBinary)
    inspectors_snapshot: Mapped[bytes] = mapped_column(LargeBinary)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Abandoning a draw is a cancellation with a reason, never a quiet close.
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A draw whose scope overlaps one cancelled shortly before is linked to it (a re-draw).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("draw.id"), index=True)

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    assignments: Mapped[list["Assignment"]] = relationship(back_populates="draw", order_by="Assignment.position")


class Assignment(TimestampMixin, db.Model):
    """A team's sealed visit to one venue within the draw's window."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("draw_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order of selection within the draw, from 1
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"), index=True)
    visit_date: Mapped[date] = mapped_column(Date)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    meeting_point: Mapped[str | None] = mapped_column(String(256))
    may_propose_penalties: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="sealed", index=True)
    # Envelope: the target encrypted under a per-assignment key (AES-GCM), plus that key wrapped
    # under a key derived (scrypt) from the reveal code — everything a device needs offline.
    # Built on first need (a team device's pull, or dispatch): the scrypt step is deliberately slow.
    envelope: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The per-assignment key and the reveal code, each wrapped under the server key.
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_reveal_code: Mapped[bytes | None] = mapped_column(LargeBinary)  # erased once shown
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_note: Mapped[str | None] = mapped_column(Text)

    draw: Mapped[Draw] = relationship(back_populates="assignments")
    venue: Mapped[Venue] = relationship()
    members: Mapped[list["AssignmentMember"]] = relationship(
        back_populates="assignment", order_by="AssignmentMember.position", cascade="all, delete-orphan"
    )


class AssignmentMember(db.Model):
    __tablename__ = "assignment_member"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1 = team leader
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)

    assignment: Mapped[Assignment] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class AssignmentTransition(db.Model):
    """Each status change of an assignment, in order (also written to the audit log)."""

    __tablename__ = "assignment_transition"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
