"""What `anfang draw export` writes for an independent re-computation (docs/draw-export.md).

Only a closed or cancelled draw is exported: its seed is public (not a cancelled re-inspection,
whose venue the next re-inspection visits). The parameters and the venue
snapshot are written as digested (canonical JSON), so their sha256 is the stored digest. The
inspector snapshot is written whole only when every visit it names belongs to an assignment that
is no longer sealed; otherwise the export is redacted (`export_redaction`): the other draws'
sealed targets stay out of it, and the inspector digest check waits for a later export.

A draw that cannot be exported — not closed, a snapshot missing, not decompressible or not
replayable — is a `Conflict` with a Chinese reason, decided before anything is written: half an
export would look like a complete one to whoever checks it. Every export is audited
(`draw.exported`, saying whether it was redacted).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..audit.chain import record_event
from ..errors import Conflict
from .export_redaction import (
    ReplayError,
    disclosed_visits,
    redacted_inspectors,
    repeat_blocked,
)
from .models.draw import Draw
from .selection import (
    SelectionInputError,
    canonical_json,
    inspectors_from_json,
    select,
    selection_seed,
    venues_from_json,
)

EXPORT_FORMAT = "anfang-draw-export-1"
FULL_INSPECTORS = "inspectors.json"
REDACTED_INSPECTORS = "inspectors.redacted.json"
EXPORTABLE_STATUSES = ("closed", "cancelled")
SNAPSHOT_NAMES = {"venues_snapshot": "场所候选快照", "inspectors_snapshot": "督查人员候选快照"}


@dataclass
class Export:
    draw: Draw
    files: dict[str, bytes]  # name -> bytes, in writing order
    redacted: bool
    withheld_visits: int


def _snapshot(draw: Draw, column: str) -> tuple[bytes, list]:
    blob = getattr(draw, column)
    if not blob:
        raise Conflict(f"抽查 {draw.id} 没有保存{SNAPSHOT_NAMES[column]}，无法导出供独立重算。")
    try:
        raw = zlib.decompress(blob)
        return raw, json.loads(raw.decode("utf-8"))
    except (zlib.error, TypeError):
        raise Conflict(f"抽查 {draw.id} 的{SNAPSHOT_NAMES[column]}无法解压（数据被改动），无法导出。") from None
    except ValueError:
        raise Conflict(f"抽查 {draw.id} 的{SNAPSHOT_NAMES[column]}不是有效的 JSON（数据被改动），无法导出。") from None


def _office_seed(draw: Draw) -> bytes:
    try:
        return bytes.fromhex(draw.revealed_seed or "")
    except ValueError:
        raise Conflict(f"抽查 {draw.id} 公开的种子不是有效的十六进制串（数据被改动），无法导出。") from None


def _blocked(draw: Draw, seed: bytes, venues: list, inspectors: list, disclosed: set) -> dict[int, list[int]]:
    """Replay the stored draw from its full snapshot to find the facts a redacted export gives."""
    if draw.result_digest is None:
        return {}  # no assignments were formed: the re-run consults nothing
    try:
        selection = select(seed, venues_from_json(venues), inspectors_from_json(inspectors), draw.parameters)
        if not selection.ok:
            raise ReplayError("infeasible")
        return repeat_blocked(seed, draw.parameters, venues, inspectors, selection.as_json(), disclosed)
    except (SelectionInputError, ReplayError, KeyError, TypeError, ValueError, AttributeError, StopIteration):
        raise Conflict(f"抽查 {draw.id} 无法按保存的快照和参数重算（数据被改动），无法生成删减版导出；"
                       f"请先运行 anfang draw verify {draw.id}。") from None


def export_contents(draw: Draw) -> Export:
    """The export's files; Conflict if the draw cannot be exported."""
    if draw.status not in EXPORTABLE_STATUSES or not draw.revealed_seed:
        raise Conflict(f"抽查 {draw.id} 尚未关闭或取消，种子尚未公开，不能导出。")
    if draw.status == "cancelled" and draw.purpose == "reinspection":
        # Its one venue is the venue the order's next re-inspection visits (server.draws.disclosure).
        raise Conflict(f"抽查 {draw.id} 是已取消的整改复查：同一场所还将复查，不能导出。")
    office_seed = _office_seed(draw)
    seed = selection_seed(office_seed, draw.contribution)
    venues_raw, venues = _snapshot(draw, "venues_snapshot")
    inspectors_raw, inspectors = _snapshot(draw, "inspectors_snapshot")
    try:
        disclosed = disclosed_visits(draw, inspectors)
        withheld = sum(1 for item in inspectors for venue, day in item["visits"]
                       if (item["id"], venue, day) not in disclosed)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Conflict(f"抽查 {draw.id} 的督查人员候选快照格式不对（数据被改动），无法导出。") from None
    if withheld:
        blocked = _blocked(draw, seed, venues, inspectors, disclosed)
        inspectors_name, inspectors_bytes = (REDACTED_INSPECTORS,
                                             canonical_json(redacted_inspectors(inspectors, disclosed, blocked)))
    else:
        inspectors_name, inspectors_bytes = FULL_INSPECTORS, inspectors_raw
    summary = {
        "format": EXPORT_FORMAT, "id": draw.id, "uuid": draw.uuid, "status": draw.status, "purpose": draw.purpose,
        "office_seed": draw.revealed_seed, "contribution": draw.contribution,
        "contribution_source": draw.contribution_source, "seed": seed.hex(), "commitment": draw.commitment,
        "parameters_digest": draw.parameters_digest, "venues_digest": draw.venues_digest,
        "inspectors_digest": draw.inspectors_digest, "result_digest": draw.result_digest,
        "inspectors_file": inspectors_name, "redacted": bool(withheld), "withheld_visits": withheld,
        "pending_checks": ["inspectors_digest"] if withheld else [],
    }
    if withheld:
        summary["note"] = (f"督查人员快照中有 {withheld} 条到访记录属于尚在密封中的任务，本导出已删去，"
                           "改为列出其在本次抽取中起作用的回避结论（repeat_blocked）。督查人员快照摘要须待这些任务"
                           "揭封（提交或所在抽查关闭、取消）后重新导出完整快照再核对。")
    files = {"draw.json": json.dumps(summary, ensure_ascii=False, indent=2).encode("utf-8"),
             "parameters.json": canonical_json(draw.parameters), "venues.json": venues_raw,
             inspectors_name: inspectors_bytes}
    return Export(draw=draw, files=files, redacted=bool(withheld), withheld_visits=withheld)


def export_draw(draw: Draw, directory: str | Path, *, actor=None, channel: str = "cli") -> tuple[Path, Export]:
    """Write the export into `directory` (created if missing) and audit it; Conflict if it
    cannot be done. Flushes, never commits."""
    export = export_contents(draw)
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        # A full export replaces an earlier redacted one in the same directory, and vice versa.
        for stale in (FULL_INSPECTORS, REDACTED_INSPECTORS):
            if stale not in export.files and (target / stale).is_file():
                (target / stale).unlink()
        for name, content in export.files.items():
            (target / name).write_bytes(content)
    except OSError:
        raise Conflict(f"无法写入目录 {target}（不存在、不是目录或没有写权限）。") from None
    record_event("draw.exported", actor=actor, channel=channel, object_type="draw", object_id=draw.id,
                 details={"redacted": export.redacted, "withheld_visits": export.withheld_visits,
                          "files": list(export.files), "directory": str(target)})
    return target, export
