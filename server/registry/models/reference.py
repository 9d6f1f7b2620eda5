"""Reference data from the source document: counties, departments, the leading group, duties,
venue categories, rules with their checklist items, legal bases and discretion benchmarks.

Rows are loaded from the versioned files under server/reference/ and then editable by an admin.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, ForeignKey, Integer, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...columns import TimestampMixin, utcnow
from ...extensions import db

category_departments = Table(
    "category_department",
    db.metadata,
    Column("category_id", ForeignKey("venue_category.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)

rule_categories = Table(
    "rule_category",
    db.metadata,
    Column("rule_id", ForeignKey("rule.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("venue_category.id", ondelete="CASCADE"), primary_key=True),
)


class ReferenceDataset(db.Model):
    """Which version of each reference file is loaded (makes `reference load` idempotent)."""

    __tablename__ = "reference_dataset"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class County(TimestampMixin, db.Model):
    """A county-level territory (县市区) or functional zone of 金华."""

    __tablename__ = "county"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    division_code: Mapped[str | None] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(16))  # district | city | county | zone
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Department(TimestampMixin, db.Model):
    """A municipal department or unit (市公安局, 市教育局 …)."""

    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(32))
    is_enforcement_authority: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class RosterMember(TimestampMixin, db.Model):
    """A member of the leading group (二、组织分工): leader, deputies and members."""

    __tablename__ = "roster_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    group_role: Mapped[str] = mapped_column(String(24))  # leader | executive_deputy | deputy | member
    title: Mapped[str] = mapped_column(String(128))  # job title as written in the document
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    office_role: Mapped[str | None] = mapped_column(String(32))  # 办公室主任 / 常务副主任 / 副主任
    is_responsible_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    department: Mapped[Department] = relationship()


class Duty(TimestampMixin, db.Model):
    """One of the duty entries of 四、职责分工."""

    __tablename__ = "duty"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    party: Mapped[str] = mapped_column(String(16))  # department | others | locality
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    text: Mapped[str] = mapped_column(Text)

    department: Mapped[Department | None] = relationship()


class VenueCategory(TimestampMixin, db.Model):
    """A kind of venue named in the document (网吧, 景区, 餐饮场所 …)."""

    __tablename__ = "venue_category"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    group: Mapped[str | None] = mapped_column(String(64))
    # document: named in 四; default: a gap in 四 filled as data.
    responsibility_source: Mapped[str] = mapped_column(String(16), default="document")
    locality_responsible: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    departments: Mapped[list[Department]] = relationship(secondary=category_departments, order_by="Department.sort_order")
    rules: Mapped[list["Rule"]] = relationship(secondary=rule_categories, back_populates="categories")


class Rule(TimestampMixin, db.Model):
    """A key task of 三、重点任务 as a rule (K1–K11)."""

    __tablename__ = "rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    section: Mapped[str] = mapped_column(String(16))  # e.g. 三.3
    title: Mapped[str] = mapped_column(String(128))
    source_text: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    categories: Mapped[list[VenueCategory]] = relationship(secondary=rule_categories, back_populates="rules")
    items: Mapped[list["ChecklistItem"]] = relationship(
        back_populates="rule", order_by="ChecklistItem.sort_order", cascade="all, delete-orphan"
    )
    checks: Mapped[list["RuleCheck"]] = relationship(
        back_populates="rule", order_by="RuleCheck.sort_order", cascade="all, delete-orphan"
    )


class ChecklistItem(TimestampMixin, db.Model):
    """An observation an inspector records for a rule (a count, a yes/no, a choice)."""

    __tablename__ = "checklist_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rule.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    prompt: Mapped[str] = mapped_column(String(256))
    value_type: Mapped[str] = mapped_column(String(16))  # boolean | integer | choice | text
    choices: Mapped[list | None] = mapped_column(JSON)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    rule: Mapped[Rule] = relationship(back_populates="items")


class RuleCheck(TimestampMixin, db.Model):
    """A machine-evaluable condition of a rule; false means a violation."""

    __tablename__ = "rule_check"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rule.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(256))
    applies_when: Mapped[dict | None] = mapped_column(JSON)
    expression: Mapped[dict] = mapped_column(JSON)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    rule: Mapped[Rule] = relationship(back_populates="checks")


# Penalty kinds an enforcement case may decide (the field client proposes only the first three).
LEGAL_PENALTY_TYPES = ("warning", "fine", "suspend", "detention", "order_correction")
PENALTY_TYPE_LABELS = {"warning": "警告", "fine": "罚款", "suspend": "责令停产停业", "detention": "行政拘留",
                       "order_correction": "责令改正"}
CIRCUMSTANCES = ("first", "repeated", "refused", "serious")
CIRCUMSTANCE_LABELS = {"first": "初次违法", "repeated": "再次违法", "refused": "拒不配合", "serious": "情节严重"}
PARTY_KINDS = ("individual", "unit")
PARTY_KIND_LABELS = {"individual": "个人", "unit": "单位"}


def combined_types(combinations) -> list[str]:
    """The types of all `combinations` (lists of types), once each, in LEGAL_PENALTY_TYPES order."""
    present = {t for combination in combinations or [] for t in combination}
    return [t for t in LEGAL_PENALTY_TYPES if t in present] + sorted(present - set(LEGAL_PENALTY_TYPES))


class LegalBasis(TimestampMixin, db.Model):
    """One version of an article of law a penalty may rest on, valid for a period.

    Versions of the same provision (e.g. 治安管理处罚法 第五十条 of 2012 and 第六十一条 of
    2025) share `provision`; the version in force on the date of the act applies.
    """

    __tablename__ = "legal_basis"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    provision: Mapped[str] = mapped_column(String(64), index=True)
    law: Mapped[str] = mapped_column(String(128))
    article: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    # The kind of organ the law makes competent (公安机关, 疾病预防控制部门, 人民政府 …) and where it
    # says so: the case's documents are issued by the organ holding it (server/reference/organs.yaml).
    authority_kind: Mapped[str] = mapped_column(String(32))
    authority_source: Mapped[str] = mapped_column(String(256))
    # What the article itself allows; benchmarks must stay inside it. A null maximum: no fine
    # (or no detention) for that party under this article.
    penalty_types: Mapped[list] = mapped_column(JSON)
    max_fine_individual: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    max_fine_unit: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    max_detention_days: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # Set when an admin created or edited the row through the API; a reference load that
    # overwrites such a row from the file reports it and clears the mark.
    admin_edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    benchmarks: Mapped[list["DiscretionBenchmark"]] = relationship(
        back_populates="legal_basis", cascade="all, delete-orphan",
        order_by="[DiscretionBenchmark.party_kind, DiscretionBenchmark.circumstance, DiscretionBenchmark.valid_from]",
    )

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


class DiscretionBenchmark(TimestampMixin, db.Model):
    """A discretion benchmark (裁量基准): the penalty combinations allowed for a circumstance and
    party kind, with the fine range and the detention-day range."""

    __tablename__ = "discretion_benchmark"
    id: Mapped[int] = mapped_column(primary_key=True)
    legal_basis_id: Mapped[int] = mapped_column(ForeignKey("legal_basis.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    circumstance: Mapped[str] = mapped_column(String(32))  # first | repeated | refused | serious
    party_kind: Mapped[str] = mapped_column(String(16))  # individual | unit
    # Each a list of types decided together ([[warning], [fine]]; [[detention], [detention, fine]]):
    # a case decides exactly one combination, never a type on its own the article only allows
    # together with another (可以并处).
    combinations: Mapped[list] = mapped_column(JSON)
    min_fine: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    max_fine: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    min_detention_days: Mapped[int | None] = mapped_column(Integer)
    max_detention_days: Mapped[int | None] = mapped_column(Integer)
    # Printed after the range, e.g. that a fine may be added to detention (可以并处).
    note: Mapped[str | None] = mapped_column(String(256))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    legal_basis: Mapped[LegalBasis] = relationship(back_populates="benchmarks")

    @property
    def penalty_types(self) -> list[str]:
        """Every type some combination holds, in the order of LEGAL_PENALTY_TYPES."""
        return combined_types(self.combinations)

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


class HearingThreshold(TimestampMixin, db.Model):
    """When a proposed penalty gives the party the right to ask for a hearing (听证).

    `min_amount` null: the penalty type always carries the right (责令停产停业); otherwise a fine
    of at least that many yuan does; `minors_only`: only for a party under 18. `party_kind` "any" applies to individuals and units.
    """

    __tablename__ = "hearing_threshold"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    party_kind: Mapped[str] = mapped_column(String(16))  # individual | unit | any
    penalty_type: Mapped[str] = mapped_column(String(32))
    min_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # True: only a party under 18 on the date of the act has the right (治安管理处罚法 2025
    # 第一百一十七条第二款, detention of minors).
    minors_only: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(256))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


class DrawPolicy(TimestampMixin, db.Model):
    """Weights and conflict-of-interest rules for draws, and the check-in radius the field's
    check-in checks flag beyond, loaded from server/reference/draw_policy.yaml."""

    __tablename__ = "draw_policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    version: Mapped[str] = mapped_column(String(32))
    # The whole validated policy document (weights per rule/category, factors, exclusions, limits).
    settings: Mapped[dict] = mapped_column(JSON)
