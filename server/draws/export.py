"""What `anfang draw export` writes for an independent re-computation (docs/draw-algorithm.md).

The snapshots are written as stored (canonical JSON), so their sha256 is the stored digest. A
draw that cannot be exported — not closed, or a snapshot missing or not decompressible — is a
`Conflict` with a Chinese reason, decided before anything is written: half an export would
look like a complete one to whoever checks it.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from ..errors import Conflict
from .models.draw import Draw

FILES = ("draw.json", "parameters.json", "venues.json", "inspectors.json")
SNAPSHOT_NAMES = {"venues_snapshot": "场所候选快照", "inspectors_snapshot": "督查人员候选快照"}


def _snapshot(draw: Draw, column: str) -> bytes:
    blob = getattr(draw, column)
    if not blob:
        raise Conflict(f"抽查 {draw.id} 没有保存{SNAPSHOT_NAMES[column]}，无法导出供独立重算。")
    try:
        return zlib.decompress(blob)
    except (zlib.error, TypeError):
        raise Conflict(f"抽查 {draw.id} 的{SNAPSHOT_NAMES[column]}无法解压（数据被改动），无法导出。") from None


def export_contents(draw: Draw) -> dict[str, bytes]:
    """The export's files by name; Conflict if the draw cannot be exported."""
    if not draw.revealed_seed:
        raise Conflict(f"抽查 {draw.id} 尚未关闭，种子尚未公开；关闭后才能导出。")
    venues, inspectors = _snapshot(draw, "venues_snapshot"), _snapshot(draw, "inspectors_snapshot")
    summary = {"id": draw.id, "uuid": draw.uuid, "seed": draw.revealed_seed, "commitment": draw.commitment,
               "parameters_digest": draw.parameters_digest, "venues_digest": draw.venues_digest,
               "inspectors_digest": draw.inspectors_digest, "result_digest": draw.result_digest}
    return {"draw.json": json.dumps(summary, ensure_ascii=False, indent=2).encode("utf-8"),
            "parameters.json": json.dumps(draw.parameters, ensure_ascii=False, indent=2).encode("utf-8"),
            "venues.json": venues, "inspectors.json": inspectors}


def export_draw(draw: Draw, directory: str | Path) -> Path:
    """Write the export into `directory` (created if missing); Conflict if it cannot be done."""
    contents = export_contents(draw)
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            (target / name).write_bytes(contents[name])
    except OSError:
        raise Conflict(f"无法写入目录 {target}（不存在、不是目录或没有写权限）。") from None
    return target
