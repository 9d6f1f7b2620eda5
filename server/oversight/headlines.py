"""The headline numbers at the top of each role's landing page, each with its last seven Beijing
days as a bar strip and the change against the seven days before.

A headline is either a day's count (today's checks, today's violations: the value is today's bar)
or a count of what is open now (open cases, overdue orders: the value is now, and the bars count
the daily flow that feeds it — cases filed, deadlines falling due — named in `trend_label`).

Scope is the reader's, through the rules that already decide it: the access policies'
`scope_filter` for records, cases, orders and draws, and the statistics module for violations
(DESIGN.md §6); a role never sees a number it could not reach by the pages it may open. Days are
Beijing days: queries take UTC bounds from server.columns and buckets are made in Python with
`china_date`, the same on SQLite and PostgreSQL.

Roles are registered with `headlines_for(role)`; the publicity package registers the propaganda
role's numbers itself (server.publicity.headlines), as oversight may not import publicity.
Reading only; nothing here writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ..access import scope_filter
from ..accounts.models.user import DeviceToken, User
from ..audit.models.audit import AuditEvent
from ..columns import china_date, china_days_utc, china_today, utcnow
from ..draws.assignment_reading import TEAM_OPEN_STATUSES
from ..draws.models.draw import Assignment, AssignmentMember, Draw
from ..draws.seeding import awaiting_contribution
from ..enforcement import cases as case_service
from ..enforcement import rectification
from ..enforcement.models.case import EnforcementCase
from ..enforcement.models.rectification import RectificationOrder
from ..extensions import db
from ..field.models.inspection import Inspection, Violation
from . import statistics

TREND_DAYS = 7

# The page each number opens, and the roles that may open it (their views' role lists); other
# roles get the number without a link.
PAGES = {
    "inspections": ("web_inspections.list_inspections",
                    ("office", "admin", "enforcement", "inspector", "department", "county")),
    "findings": ("web_viewer.list_findings", statistics.SCOPED_ROLES),
    "statistics": ("web_statistics.page", statistics.READER_ROLES),
    "cases": ("web_cases.list_cases", case_service.READERS),
    "orders": ("web_rectification.list_orders", ("office", "enforcement", "admin")),
    "tracked_orders": ("web_viewer.list_orders", statistics.SCOPED_ROLES),
    "draws": ("web_draws.list_draws", ("office", "admin", "auditor")),
    "users": ("web_admin.list_users", ("admin",)),
    "tokens": ("web_admin.list_tokens", ("admin",)),
}


def page(user: User, name: str) -> str | None:
    endpoint, roles = PAGES[name]
    return endpoint if user.role in roles else None


@dataclass(frozen=True)
class Headline:
    """One number: `days` are the last TREND_DAYS Beijing days (oldest first, today last) of the
    daily count named by `trend_label`; `previous` is the same count over the TREND_DAYS before."""

    key: str
    label: str
    value: int
    unit: str
    trend_label: str
    days: tuple[tuple[date, int], ...]
    previous: int
    endpoint: str | None = None

    @property
    def week(self) -> int:
        return sum(count for _, count in self.days)

    @property
    def change(self) -> int:
        return self.week - self.previous

    @property
    def change_text(self) -> str:
        if self.change > 0:
            return f"比前 {TREND_DAYS} 日多 {self.change} {self.unit}"
        if self.change < 0:
            return f"比前 {TREND_DAYS} 日少 {-self.change} {self.unit}"
        return f"与前 {TREND_DAYS} 日持平"


def period(today: date) -> tuple[date, date]:
    """The first and last Beijing day counted: the trend's days and the TREND_DAYS before them."""
    return today - timedelta(days=2 * TREND_DAYS - 1), today


def daily(days: Iterable[date | None], today: date) -> tuple[tuple[tuple[date, int], ...], int]:
    """(the last TREND_DAYS days with their counts, the sum of the TREND_DAYS before) from the
    Beijing day of each counted thing."""
    counts = Counter(day for day in days if day is not None)
    recent = tuple((today - timedelta(days=n), counts.get(today - timedelta(days=n), 0))
                   for n in range(TREND_DAYS - 1, -1, -1))
    previous = sum(counts.get(today - timedelta(days=n), 0) for n in range(TREND_DAYS, 2 * TREND_DAYS))
    return recent, previous


def moments(column, today: date, *conditions) -> list[date]:
    """The Beijing days of `column` (a stored UTC time) over `period(today)` for the rows matching
    `conditions`."""
    start, end = china_days_utc(*period(today))
    return [china_date(moment) for moment in db.session.scalars(
        sa.select(column).where(column >= start, column < end, *conditions))]


def dates(column, today: date, *conditions) -> list[date]:
    """As `moments`, for a column that already holds a Beijing date."""
    first, last = period(today)
    return list(db.session.scalars(sa.select(column).where(column >= first, column <= last, *conditions)))


def count(model, *conditions) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0


def flow(key: str, label: str, unit: str, trend_label: str, days: list[date], today: date,
         endpoint: str | None = None) -> Headline:
    """A headline whose value is today's bar."""
    recent, previous = daily(days, today)
    return Headline(key, label, recent[-1][1], unit, trend_label, recent, previous, endpoint)


def stock(key: str, label: str, value: int, unit: str, trend_label: str, days: list[date], today: date,
          endpoint: str | None = None) -> Headline:
    """A headline whose value is what is open now; the bars count the daily flow that feeds it."""
    recent, previous = daily(days, today)
    return Headline(key, label, value, unit, trend_label, recent, previous, endpoint)


# --- the numbers, each within the reader's scope ----------------------------------------------------


def checks(user: User, today: date) -> Headline:
    """Submitted records (the primary record of each visit) by the Beijing day of check-in."""
    days = moments(Inspection.checked_in_at, today, Inspection.is_primary.is_(True),
                   Inspection.status.in_(statistics.SUBMITTED_STATUSES), scope_filter(user, "read", Inspection))
    return flow("checks", "今日督查", "次", "每日督查次数", days, today, page(user, "inspections"))


def violations(user: User, today: date) -> Headline:
    """Live violations as the statistics module counts them for this reader."""
    first, last = period(today)
    if user.role in statistics.READER_ROLES:
        days = [fact.day for fact in statistics.violation_facts(date_from=first, date_to=last, user=user)]
        endpoint = page(user, "findings") or page(user, "statistics")
    else:
        # An inspector is no statistics reader: the live violations of the records they may read
        # (their own teams'), by the same rule as statistics.violation_facts.
        start, end = china_days_utc(first, last)
        days = [china_date(moment) for moment in db.session.scalars(
            sa.select(Inspection.checked_in_at).join(Violation, Violation.inspection_id == Inspection.id)
            .where(Violation.withdrawn_at.is_(None), Inspection.status.in_(statistics.SUBMITTED_STATUSES),
                   Inspection.checked_in_at >= start, Inspection.checked_in_at < end,
                   scope_filter(user, "read", Inspection)))]
        endpoint = page(user, "inspections")
    return flow("violations", "今日发现违规", "起", "每日发现违规问题数", days, today, endpoint)


def open_cases(user: User, today: date) -> Headline:
    scope = scope_filter(user, "read", EnforcementCase)
    value = count(EnforcementCase, scope, EnforcementCase.state.not_in(case_service.FINAL_STATES))
    return stock("open_cases", "办理中的案件", value, "件", "每日立案数",
                 moments(EnforcementCase.opened_at, today, scope), today, page(user, "cases"))


def decisions_due(user: User, today: date) -> Headline:
    """Notified cases whose statement and hearing periods have run out: a decision is due."""
    scope = scope_filter(user, "read", EnforcementCase)
    value = count(EnforcementCase, scope, EnforcementCase.state == "notified", case_service.overdue_condition(today))
    return stock("decisions_due", "待作出决定", value, "件", "每日告知数",
                 dates(EnforcementCase.notified_on, today, scope), today, page(user, "cases"))


def overdue_orders(user: User, today: date) -> Headline:
    """Overdue as this reader may see it (rectification.overdue_orders); the bars: deadlines."""
    value = len(rectification.overdue_orders(today, user=user))
    return stock("overdue_orders", "逾期未整改", value, "件", "每日到期的整改通知",
                 dates(RectificationOrder.deadline, today, scope_filter(user, "read", RectificationOrder)), today,
                 page(user, "orders") or page(user, "tracked_orders"))


def open_orders(user: User, today: date) -> Headline:
    scope = scope_filter(user, "read", RectificationOrder)
    value = count(RectificationOrder, scope, RectificationOrder.state.in_(rectification.OPEN_STATES))
    return stock("open_orders", "整改中的通知", value, "件", "每日下达的整改通知",
                 moments(RectificationOrder.issued_at, today, scope), today,
                 page(user, "orders") or page(user, "tracked_orders"))


def team_assignments(user: User, today: date) -> Headline:
    """The inspector's own teams' assignments still to do; the bars: dispatched to those teams."""
    scope = scope_filter(user, "read", Assignment)
    mine = Assignment.members.any(AssignmentMember.user_id == user.id)
    value = count(Assignment, scope, mine, Assignment.status.in_(TEAM_OPEN_STATUSES))
    return stock("team_assignments", "待完成的任务", value, "个", "每日派发给本组的任务",
                 moments(Assignment.dispatched_at, today, scope, mine), today)


def team_awaiting_evidence(user: User, today: date) -> Headline:
    scope = scope_filter(user, "read", Inspection)
    value = count(Inspection, scope, Inspection.status == "awaiting_evidence")
    return stock("awaiting_evidence", "照片未传齐的记录", value, "份", "每日提交的记录",
                 moments(Inspection.submission_received_at, today, scope), today, page(user, "inspections"))


def draws_awaiting_contribution(user: User, today: date) -> Headline:
    value = len(awaiting_contribution(user))
    return stock("awaiting_contribution", "待录入随机数", value, "批", "每日新建的抽查",
                 moments(Draw.created_at, today, scope_filter(user, "read", Draw)), today, page(user, "draws"))


def draw_cancellations(user: User, today: date) -> Headline:
    return flow("cancellations", "今日取消的抽查", "批", "每日取消的抽查",
                moments(Draw.cancelled_at, today, scope_filter(user, "read", Draw)), today, page(user, "draws"))


def active_users(user: User, today: date) -> Headline:
    value = count(User, User.is_active.is_(True))
    return stock("users", "在用账号", value, "个", "每日新建账号", moments(User.created_at, today), today,
                 page(user, "users"))


def locked_accounts(user: User, today: date) -> Headline:
    """Accounts locked now; the bars: locks from the audit log (admins read it)."""
    value = count(User, User.locked_until > utcnow())
    return stock("locked", "锁定中的账号", value, "个", "每日锁定次数",
                 moments(AuditEvent.occurred_at, today, AuditEvent.action == "auth.locked",
                         scope_filter(user, "read", AuditEvent)), today, page(user, "users"))


def device_tokens(user: User, today: date) -> Headline:
    now = utcnow()
    value = count(DeviceToken, DeviceToken.revoked_at.is_(None), DeviceToken.expires_at > now)
    return stock("tokens", "有效设备令牌", value, "个", "每日签发的令牌", moments(DeviceToken.issued_at, today), today,
                 page(user, "tokens"))


# --- per role -------------------------------------------------------------------------------------

_ROLES: dict[str, list[Callable[[User, date], Headline]]] = {
    "office": [checks, violations, open_cases, overdue_orders],
    "enforcement": [violations, open_cases, decisions_due, overdue_orders],
    "county": [checks, violations, open_orders, overdue_orders],
    "department": [checks, violations, open_orders, overdue_orders],
    "inspector": [team_assignments, checks, violations, team_awaiting_evidence],
    "auditor": [draws_awaiting_contribution, draw_cancellations, violations, overdue_orders],
    "admin": [active_users, locked_accounts, device_tokens, checks],
}


def headlines_for(role: str, *numbers: Callable[[User, date], Headline]) -> None:
    """Register the numbers of a role's landing page (for a package oversight may not import)."""
    _ROLES[role] = list(numbers)


def headlines(user: User, today: date | None = None) -> list[Headline]:
    """The numbers of `user`'s landing page, in the order of its registration (none if none)."""
    today = today or china_today()
    return [number(user, today) for number in _ROLES.get(user.role, ())]
