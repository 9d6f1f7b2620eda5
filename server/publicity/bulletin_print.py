"""What a bulletin (简报) prints: its reference data, the wording and figures of its items, the
statistics block, the context built from them and the PDF rendered from that context.

The PDF (report_templates/bulletin/) is rendered from a context built here: masked texts,
redacted images (`anfang-material:` URLs, never evidence hashes) and the statistics block.
What an issue prints carries no telephone number at all, masked or not
(`masking.strip_phone_numbers`), an item's text does not open with the sentence its heading
already says, and figures are numbered 图 1, 图 2, … through the whole issue in print order
(positive examples first), as the editor's thumbnails show them. The same context gives the same
PDF bytes apart from the metadata dates. The workflow that composes, numbers and publishes an
issue (and freezes this context into it) is server/publicity/bulletins.py.

Statistics: `violation_counts_by_county` gives the live violations of the bulletin's period per
county, from `server.oversight.statistics` like every other number.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
import yaml
from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..accounts.models.user import User
from ..columns import china_today, utcnow
from ..enforcement.document_catalogue import DocumentCatalogueError
from ..extensions import db
from ..oversight import statistics
from ..pdf.fetcher import MATERIAL_SCHEME, RefusedURL, Resolver, material_url
from ..pdf.rendering import render_pdf
from ..registry.models.reference import County
from .masking import mask_text, strip_phone_numbers
from .materials import _caption, _title, find_item, mask_for_item, masked_text, masked_title, venue_label
from .models.material import Bulletin, BulletinItem
from .redaction import boxes_digest, find_material_photo, redacted_file

BULLETIN_FILE = "bulletin.yaml"


# --- reference ---------------------------------------------------------------------------------


class BulletinReferenceSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(required=True)
    mark = fields.String(required=True, validate=validate.Length(min=2, max=40))
    number_format = fields.String(required=True, validate=validate.Regexp(r"^第\{n\}期$", error="须为“第{n}期”。"))
    authority = fields.String(required=True, validate=validate.Length(min=2, max=80))
    printed_by = fields.String(required=True, validate=validate.Length(min=2, max=80))
    cc = fields.List(fields.String(validate=validate.Length(min=1, max=80)), load_default=list)


@dataclass(frozen=True)
class BulletinReference:
    version: str
    mark: str
    number_format: str
    authority: str
    printed_by: str
    cc: tuple[str, ...]

    def number(self, serial: int) -> str:
        return self.number_format.format(n=serial)


@lru_cache(maxsize=8)
def _reference(path: str, mtime: int) -> BulletinReference:
    try:
        raw = yaml.safe_load(Path(path).read_text("utf-8"))
        data = BulletinReferenceSchema().load(raw if isinstance(raw, dict) else {})
    except (OSError, yaml.YAMLError) as exc:
        raise DocumentCatalogueError(f"简报参考文件 {BULLETIN_FILE} 无法读取：{exc}") from None
    except ValidationError as exc:
        raise DocumentCatalogueError(f"简报参考文件 {BULLETIN_FILE} 校验未通过。", errors=exc.messages) from None
    return BulletinReference(data["version"], data["mark"], data["number_format"], data["authority"],
                             data["printed_by"], tuple(data["cc"]))


def bulletin_reference() -> BulletinReference:
    path = Path(current_app.config["REFERENCE_DIR"]) / BULLETIN_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise DocumentCatalogueError(f"简报参考文件 {BULLETIN_FILE} 不存在。") from None
    return _reference(str(path), mtime)


# --- wording and figures -----------------------------------------------------------------------


SENTENCE_END = re.compile(r"\s*[。！？；!?;\n]")


def without_heading(title: str, text: str) -> str:
    """`text` less its opening sentence when that sentence is `title` (a library title is the
    note's first sentence): a printed item does not say its heading twice, and a one-sentence
    note prints as its heading alone. A title cut short (…) leaves the text as it is."""
    heading = (title or "").strip().rstrip("。！？；!?;")
    body = (text or "").lstrip()
    if not heading or heading.endswith("…") or not body.startswith(heading):
        return text
    rest = body[len(heading):]
    if not rest.strip():
        return ""
    end = SENTENCE_END.match(rest)
    if end is None:
        return text  # the heading is only the start of a longer sentence
    return rest[end.end():].lstrip()


def entry_wording(entry: BulletinItem) -> dict:
    """What the issue prints for an entry (masked, no telephone numbers, the heading not repeated
    in the text), and whether it is the issue's own wording."""
    item = entry.item
    text = strip_phone_numbers(mask_for_item(item, entry.text) if entry.text else masked_text(item))
    if entry.heading:
        title = strip_phone_numbers(mask_for_item(item, entry.heading))
    elif item.title == _title(item.text, item.kind):
        # The library's title is the note's first sentence: taken again from the text as printed,
        # so that a number cut from the text does not leave "联系电话…" in the heading.
        title = _title(strip_phone_numbers(masked_text(item)), item.kind)
    else:
        title = strip_phone_numbers(masked_title(item))
    return {"title": title, "text": without_heading(title, text),
            "own_heading": entry.heading is not None, "own_text": entry.text is not None}


def in_print_order(entries: list[BulletinItem]) -> list[BulletinItem]:
    """Positive examples, then negative ones (the issue's two sections), each in the chosen order."""
    return ([entry for entry in entries if entry.item.kind == "positive"]
            + [entry for entry in entries if entry.item.kind == "negative"])


def figures(bulletin: Bulletin) -> dict[int, list[dict]]:
    """Per material item id, its photos as the issue prints them: the figure number, continuous
    through the whole issue, the caption (masked, without telephone numbers) and the boxes
    digest naming the redacted image."""
    numbers = itertools.count(1)
    return {entry.material_item_id: [
        {"position": photo.position, "figure": next(numbers), "digest": boxes_digest(photo.boxes),
         "caption": strip_phone_numbers(_caption(entry.item, photo))} for photo in entry.item.photos]
        for entry in in_print_order(list(bulletin.entries))}

# --- statistics --------------------------------------------------------------------------------


def violation_counts_by_county(start: date, end: date) -> list[dict]:
    """Live violations of inspections checked in within [start, end] (China dates), per county in
    the counties' order, counties without any listed with 0 — counted by the statistics module,
    so the bulletin shows the numbers the statistics page and the reports show."""
    counted = {row.key: row.count for row in statistics.violation_counts(date_from=start, date_to=end, by="county",
                                                                         user=None)}
    counties = db.session.scalars(sa.select(County).order_by(County.sort_order, County.code)).all()
    return [{"county": county.name, "violations": counted.get(county.code, 0)} for county in counties]


# --- context and rendering ---------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _item_context(entry: BulletinItem, photos: list[dict]) -> dict:
    item = entry.item
    wording = entry_wording(entry)
    return {
        "id": item.id, "kind": item.kind, "title": wording["title"], "paragraphs": _paragraphs(wording["text"]),
        "venue": venue_label(item), "county": item.inspection.assignment.venue.county.name,
        "photos": [{"src": material_url(item.id, photo["position"], photo["digest"]), "figure": photo["figure"],
                    "caption": photo["caption"]} for photo in photos],
    }


def build_context(bulletin: Bulletin, issued_on: date | None = None) -> dict:
    """Everything the PDF prints, as plain JSON: what a published issue stores."""
    reference = bulletin_reference()
    entries = list(bulletin.entries)
    printed = figures(bulletin)
    rows = violation_counts_by_county(bulletin.period_start, bulletin.period_end)
    return {
        "reference_version": reference.version, "mark": reference.mark, "authority": reference.authority,
        "title": strip_phone_numbers(mask_text(bulletin.title)), "date": (issued_on or china_today()).isoformat(),
        "period": {"start": bulletin.period_start.isoformat(), "end": bulletin.period_end.isoformat()},
        # Typed by propaganda, but published: ID and plate numbers are masked, phone numbers go.
        "editorial": _paragraphs(strip_phone_numbers(mask_text(bulletin.editorial))),
        "statistics": {"rows": rows, "total": sum(row["violations"] for row in rows)},
        "positive": [_item_context(entry, printed[entry.material_item_id])
                     for entry in entries if entry.item.kind == "positive"],
        "negative": [_item_context(entry, printed[entry.material_item_id])
                     for entry in entries if entry.item.kind == "negative"],
        "copies": {"cc": list(reference.cc), "printed_by": reference.printed_by},
    }


def render_bulletin(context: dict, *, number: str, user: User | None, draft: bool,
                    created: datetime | None = None) -> bytes:
    """The PDF of `context`. The only varying inputs are the metadata dates (`created`)."""
    created = (created or utcnow()).replace(microsecond=0)
    return render_pdf("bulletin", ctx=context, resolve=material_resolver(user), doc={
        "kind": "bulletin", "title": context["title"], "number": number, "id": None, "content_sha256": None,
        "authority_mark": context["mark"], "draft": draft, "created": created.isoformat()})


def material_resolver(user: User | None) -> Resolver:
    """What a bulletin rendered for `user` may embed: the redacted images of material items,
    authorised exactly as the material API would; never evidence by its hash."""

    def resolve(scheme: str, parts: tuple[str, ...]) -> bytes:
        if scheme != MATERIAL_SCHEME:
            raise RefusedURL("简报只能引用已遮挡的材料图片")
        if user is None:
            raise RefusedURL("未指定出具人，不能读取材料图片")
        item_id, position, digest = parts
        return redacted_file(find_material_photo(find_item(item_id, user), position), digest).read_bytes()

    return resolve
