"""What can be imported from a filled-in template, by kind: the register's venues here, and what
the domains above add (the inspectors, users of server.accounts, register themselves), so that
the import page and `anfang registry template` offer every kind without importing upwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .import_sheet import ImportReport


@dataclass(frozen=True)
class Importer:
    label: str  # what a row is, as people say it: 场所, 督查人员
    # run(actor, content, filename, *, dry_run, merge, channel) -> ImportReport
    run: Callable[..., ImportReport]
    template: Callable[[str], bytes]  # "xlsx" | "csv" -> the blank template


_IMPORTERS: dict[str, Importer] = {}


def register_importer(kind: str, importer: Importer) -> None:
    _IMPORTERS[kind] = importer


def importer_for(kind: str) -> Importer | None:
    return _IMPORTERS.get(kind)


def importer_choices() -> list[tuple[str, str]]:
    return [(kind, importer.label) for kind, importer in _IMPORTERS.items()]
