"""Closing a draw (revealing its seed) and verifying it against the published algorithm.

Closing reveals the seed the draw committed to; from then on anyone with access re-runs the
selection from the stored snapshots (`verify_draw`) and sees whether the stored result is what
the published algorithm gives (docs/draw-algorithm.md), and whether the commitment and digests
are the ones the `draw.created` audit event anchored.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..audit.chain import canonical_timestamp, event_hash
from ..audit.models.audit import AuditEvent
from ..extensions import db
from .creation import anchor, created_event
from .models.draw import Assignment, Draw
from .registry_changes import registry_changes
from .seeding import contribution_source, seeded_event
from .selection import (
    Selection,
    SelectionInputError,
    commitment_of,
    digest,
    inspectors_from_json,
    result_digest,
    select,
    selection_seed,
    venues_from_json,
)
from .stored_teams import teams_by_assignment

# --- verification ----------------------------------------------------------------------------

NOT_REVEALED = "not_revealed"
MATCH = "match"
MISMATCH = "mismatch"

DIGEST_LABELS = {
    "commitment": "承诺值",
    "parameters_digest": "参数摘要",
    "venues_digest": "场所候选快照摘要",
    "inspectors_digest": "督查人员候选快照摘要",
    "result_digest": "结果摘要",
}


@dataclass
class VerificationReport:
    draw_id: int
    state: str  # match | mismatch | not_revealed
    message: str
    reasons: list[str] = field(default_factory=list)
    commitment: str | None = None
    revealed_seed: str | None = None
    digests: dict = field(default_factory=dict)
    assignments_checked: int = 0
    skipped: int = 0
    contribution: str | None = None
    seed: str | None = None  # the selection seed (office seed combined with the contribution), hex
    # Warnings, not mismatches: registry rows changed since the draw where it matters (registry_changes).
    registry_changes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == MATCH


def _snapshot(blob: bytes, name: str, stored_digest: str, reasons: list[str]) -> list | None:
    try:
        raw = zlib.decompress(blob)
    except (zlib.error, TypeError):
        reasons.append(f"{name}无法解压（数据被改动）。")
        return None
    if hashlib.sha256(raw).hexdigest() != stored_digest:
        reasons.append(f"{name}与存储的摘要不符（候选名单被改动）。")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        reasons.append(f"{name}不是有效的 JSON。")
        return None


def _stored_result(draw: Draw) -> list[tuple]:
    """(position, venue id, ISO visit date, member ids by position) of the draw's assignments."""
    teams = teams_by_assignment(draw.id)
    rows = db.session.execute(sa.select(Assignment.id, Assignment.position, Assignment.venue_id, Assignment.visit_date)
                              .where(Assignment.draw_id == draw.id).order_by(Assignment.position))
    return [(position, venue_id, visit_date.isoformat(), tuple(teams.get(assignment_id, ())))
            for assignment_id, position, venue_id, visit_date in rows]


def _compare(stored: list[tuple], selection: Selection, reasons: list[str]) -> None:
    expected = [(p.position, p.venue_id, p.visit_date, p.members) for p in selection.assignments]
    if len(stored) != len(expected):
        reasons.append(f"存储的任务有 {len(stored)} 项，重算结果为 {len(expected)} 项。")
    by_position = {row[0]: row for row in stored}
    for position, venue_id, visit_date, members in expected:
        row = by_position.get(position)
        if row is None:
            reasons.append(f"缺少第 {position} 项任务。")
            continue
        if row[1] != venue_id:
            reasons.append(f"第 {position} 项任务的场所与重算结果不符。")
        if row[2] != visit_date:
            reasons.append(f"第 {position} 项任务的督查日期为 {row[2]}，重算结果为 {visit_date}。")
        if row[3] != members:
            reasons.append(f"第 {position} 项任务的督查组成员与重算结果不符。")
    extra = sorted(set(by_position) - {p.position for p in selection.assignments})
    for position in extra:
        reasons.append(f"第 {position} 项任务不在重算结果中。")


def _check_contribution(draw: Draw, created: AuditEvent | None, reasons: list[str]) -> bool:
    """Whether the draw's result was formed, having checked how: the contribution the policy named
    in the parameters, entered after the commitment was anchored, and the result digest both
    anchored by the `draw.seeded` event. A draw from before contributions has its result digest
    in `draw.created`."""
    source = contribution_source(draw)
    if source is None:
        if draw.contribution is not None:
            reasons.append("抽查参数中没有随机数环节，却存有录入的随机数（参数或随机数被改动）。")
        if created is not None and created.details.get("result_digest") != draw.result_digest:
            reasons.append(f"存储的{DIGEST_LABELS['result_digest']}与审计日志中锚定的不符。")
        return True
    seeded = seeded_event(draw)
    if seeded is None:
        if draw.contribution is not None or draw.result_digest is not None:
            reasons.append("审计日志中没有录入随机数的记录（draw.seeded），无法确认随机数和结果摘要的来历。")
        return False
    if event_hash(seeded) != seeded.hash:
        reasons.append(f"审计日志中录入随机数的记录（seq {seeded.seq}）已被改动。")
    if created is not None and seeded.seq <= created.seq:
        reasons.append("随机数的录入早于承诺值的锚定。")
    if seeded.details.get("contribution") != draw.contribution or seeded.details.get("source") != source:
        reasons.append("存储的随机数与审计日志中录入的不符。")
    if draw.contribution_source not in (None, source):
        reasons.append("随机数的来源与抽查参数中规定的不符。")
    if seeded.details.get("result_digest") != draw.result_digest:
        reasons.append(f"存储的{DIGEST_LABELS['result_digest']}与审计日志中锚定的不符。")
    return bool(seeded.details.get("feasible")) or draw.result_digest is not None


def verify_draw(draw: Draw) -> VerificationReport:
    """Re-run the selection from the revealed seed and the stored snapshots; report any difference."""
    report = VerificationReport(draw_id=draw.id, state=NOT_REVEALED, message="", commitment=draw.commitment,
                                revealed_seed=draw.revealed_seed,
                                digests=anchor(draw) | {"result_digest": draw.result_digest},
                                contribution=draw.contribution)
    if not draw.revealed_seed:
        report.message = "抽查尚未关闭，种子尚未公开，暂不能核验；关闭抽查（窗口结束后）即可核验。"
        return report
    reasons = report.reasons
    try:
        seed = bytes.fromhex(draw.revealed_seed)
    except ValueError:
        seed = None
        reasons.append("公开的种子不是有效的十六进制串。")
    if seed is not None and commitment_of(seed) != draw.commitment:
        reasons.append("公开的种子与承诺值不符：sha256(种子) ≠ 承诺值。")

    if digest(draw.parameters) != draw.parameters_digest:
        reasons.append("抽查参数与存储的参数摘要不符（参数被改动）。")
    window = (draw.parameters or {}).get("window", {}) if isinstance(draw.parameters, dict) else {}
    if (window.get("start"), window.get("end")) != (canonical_timestamp(draw.window_start),
                                                    canonical_timestamp(draw.window_end)):
        reasons.append("抽查窗口与参数中的窗口不符。")
    venues = _snapshot(draw.venues_snapshot, "场所候选快照", draw.venues_digest, reasons)
    inspectors = _snapshot(draw.inspectors_snapshot, "督查人员候选快照", draw.inspectors_digest, reasons)

    event = created_event(draw)
    if event is None:
        reasons.append("审计日志中没有该抽查的创建记录（draw.created），无法确认摘要在派发前已锚定。")
    else:
        if event_hash(event) != event.hash:
            reasons.append(f"审计日志中该抽查的创建记录（seq {event.seq}）已被改动。")
        for name, value in anchor(draw).items():
            if event.details.get(name) != value:
                reasons.append(f"存储的{DIGEST_LABELS[name]}与审计日志中锚定的不符。")
    formed = _check_contribution(draw, event, reasons)

    if seed is not None and formed:
        seed = selection_seed(seed, draw.contribution)
        report.seed = seed.hex()
    if seed is not None and formed and venues is not None and inspectors is not None:
        try:
            selection = select(seed, venues_from_json(venues), inspectors_from_json(inspectors), draw.parameters)
        except (SelectionInputError, KeyError, TypeError, ValueError, AttributeError) as exc:
            reasons.append(f"无法按存储的快照和参数重算：{exc!r}。")
        else:
            if not selection.ok:
                reasons.append("按存储的快照和参数重算，结果不可行，与存储的抽查矛盾。")
            if result_digest(seed, selection) != draw.result_digest:
                reasons.append("重算结果的摘要与存储的结果摘要不符。")
            _compare(_stored_result(draw), selection, reasons)
            report.assignments_checked = len(selection.assignments)
            report.skipped = len(selection.skipped)
    report.registry_changes = registry_changes(draw)

    if reasons:
        report.state = MISMATCH
        report.message = f"核验未通过：发现 {len(reasons)} 处不一致。"
    elif not formed:
        report.state = MATCH
        report.message = ("核验通过：种子与承诺值相符，参数与候选快照与审计日志中锚定的摘要一致；"
                          "该抽查未录入随机数即已取消，没有生成任务。")
    else:
        report.state = MATCH
        report.message = (f"核验通过：种子与承诺值相符，参数与候选快照与审计日志中锚定的摘要一致，"
                          f"按公开算法重算的 {report.assignments_checked} 项任务与存储的结果完全一致。")
    return report
