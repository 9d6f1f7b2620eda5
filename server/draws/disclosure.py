"""What of a draw a reader who may not read targets (the auditor, viewers) is shown.

Office and admin read targets through the audited target read and see everything. Anyone else:
- no teams while the draw is open — with 回避 a team's make-up tells the venue's county or
  category (team members see their own team) — nor of a cancelled re-inspection, whose venue
  the next one visits;
- of a re-inspection draw (a draw of one named venue: the order it follows names the venue),
  neither the scope's venue list, county and category nor the day while the draw is open or any
  of its assignments is still sealed: the day of a re-inspection is as secret as its venue.
"""

from __future__ import annotations

from ..accounts.models.user import User
from .models.draw import Assignment, Draw

TARGET_READERS = ("office", "admin")


def sees_everything(reader: User | None) -> bool:
    """`None` is the server's operator at the command line, who reads the database anyway."""
    return reader is None or reader.role in TARGET_READERS


def shows_teams(draw: Draw, reader: User | None) -> bool:
    """A cancelled sample draw's teams too: the auditor judges the cancellation by them, and its
    targets are not drawn again. A cancelled re-inspection's venue is: it stays hidden."""
    return (sees_everything(reader) or draw.status == "closed"
            or (draw.status == "cancelled" and draw.purpose == "sample"))


def hides_reinspection(draw: Draw, reader: User | None) -> bool:
    if sees_everything(reader) or draw.purpose != "reinspection":
        return False
    return draw.status != "closed" or any(a.status == "sealed" for a in draw.assignments)


def shows_team_of(assignment: Assignment, reader: User | None) -> bool:
    return shows_teams(assignment.draw, reader) or any(m.user_id == reader.id for m in assignment.members)


def hides_day_of(assignment: Assignment, reader: User | None) -> bool:
    if any(reader is not None and m.user_id == reader.id for m in assignment.members):
        return False
    return hides_reinspection(assignment.draw, reader)
