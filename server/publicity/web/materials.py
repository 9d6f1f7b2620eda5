"""Pages for the material library (典型材料) and bulletins (简报).

Propaganda sees masked texts and redacted images only; the office also sees the text as
written. The box editor is a canvas over the redacted image (static/redact.js) that fills the
plain form's textarea — without JavaScript the same form takes one box per line.
"""

from __future__ import annotations

import dataclasses
from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ...access import web_role_required
from ...errors import Problem
from ...extensions import db
from ...jobs.web.answers import file_or_job_page
from ...registry.models.reference import County
from ...web.navigation import add_nav_item
from ...web.query_args import choice_arg, int_arg, page_number, sort_arg, sort_links
from ...web.signed_in import signed_in_user
from .. import bulletin_print, redaction
from .. import bulletins as bulletin_service
from .. import materials as service
from ..jobs import preview_job
from ..models.material import MATERIAL_KINDS, MATERIAL_STATES
from .material_forms import (
    ActionForm,
    AddItemForm,
    BoxesForm,
    BulletinForm,
    BulletinTextForm,
    EntryMoveForm,
    EntryWordingForm,
    PublishForm,
    ReviewForm,
    VenueDisplayForm,
)

bp = Blueprint("web_materials", __name__, template_folder="templates")

READERS = ("office", "admin", "propaganda")
EDITORS = ("office", "propaganda")

add_nav_item("典型材料", "web_materials.list_materials", READERS)
add_nav_item("简报", "web_materials.list_bulletins", READERS)


def _errors(form) -> str:
    return "；".join(message for messages in form.errors.values() for message in messages)


def _attempt(action, success: str | None) -> bool:
    """Run a service call in a savepoint: a refusal is flashed and leaves nothing half-stored."""
    try:
        with db.session.begin_nested():
            action()
    except Problem as exc:
        flash(exc.detail if not exc.errors else f"{exc.detail}（{'；'.join(m for ms in exc.errors.values() for m in ms)}）",
              "error")
        return False
    if success:
        flash(success, "success")
    return True


def _attempt_form(form, action) -> bool:
    """As `_attempt`, but a refusal that names fields of `form` is shown next to them."""
    try:
        with db.session.begin_nested():
            action()
    except Problem as exc:
        placed = False
        for name, messages in (exc.errors or {}).items():
            if name in form._fields:
                form._fields[name].errors = list(form._fields[name].errors or []) + list(messages)
                placed = True
        if not placed:
            flash(exc.detail, "error")
        return False
    return True


# --- material library ----------------------------------------------------------------------------


@bp.get("/materials")
@web_role_required(*READERS)
def list_materials():
    kind = choice_arg("kind", MATERIAL_KINDS)
    state = choice_arg("state", MATERIAL_STATES)
    sort, descending = sort_arg(service.ITEM_SORTS, "-created")
    county_id = int_arg("county_id")
    if current_user.role in EDITORS:
        service.collect_note_candidates_if_possible(signed_in_user())
    page = service.page_items(signed_in_user(), kind=kind, state=state, county_id=county_id, sort=sort,
                              descending=descending, page=page_number())
    page = dataclasses.replace(page, items=[service.item_view(item, signed_in_user()) for item in page.items])
    counties = db.session.scalars(db.select(County).order_by(County.sort_order, County.code))
    return render_template("materials/list.html", page=page, kinds=service.KIND_LABELS, states=service.STATE_LABELS,
                           filters={"kind": kind or "", "state": state or "", "county_id": county_id},
                           counties=list(counties),
                           sort_links=sort_links("web_materials.list_materials", service.ITEM_SORTS, sort, descending))


def _render_material(item, *, status: int = 200, failed_boxes: dict | None = None):
    view = service.item_view(item, signed_in_user())
    boxes_forms = dict(failed_boxes or {})
    for photo in view["photos"]:
        photo["suggested_lines"] = [n for n, box in enumerate(photo["boxes"], start=1) if box in photo["suggested"]]
        if photo["position"] not in boxes_forms:
            form = BoxesForm(formdata=None, prefix=f"p{photo['position']}")
            form.boxes.data = "\n".join(", ".join(f"{v:g}" for v in box) for box in photo["boxes"])
            boxes_forms[photo["position"]] = form
    venue_form = VenueDisplayForm(formdata=None, venue_display=item.venue_display)
    return render_template("materials/detail.html", item=view, boxes_forms=boxes_forms, review=ReviewForm(formdata=None),
                           venue_form=venue_form, can_edit=current_user.role in EDITORS,
                           can_review=current_user.role == "office"), status


@bp.get("/materials/<int:item_id>")
@web_role_required(*READERS)
def show_material(item_id):
    return _render_material(service.find_item(item_id, signed_in_user()))


@bp.post("/materials/<int:item_id>/photos/<int:position>/boxes")
@web_role_required(*EDITORS)
def save_boxes(item_id, position):
    item = service.find_item(item_id, signed_in_user())
    redaction.find_material_photo(item, position)
    form = BoxesForm(prefix=f"p{position}")
    if form.validate_on_submit() and _attempt_form(form, lambda: redaction.set_boxes(
            item, position, form.parsed, actor=signed_in_user(), channel="web")):
        flash(f"照片 {position} 的遮挡框已保存，已重新生成遮挡图。", "success")
        return redirect(url_for("web_materials.show_material", item_id=item_id) + f"#photo-{position}")
    flash(f"照片 {position} 的遮挡框未保存，请按提示修改。", "error")
    return _render_material(item, status=422, failed_boxes={position: form})


@bp.post("/materials/<int:item_id>/review")
@web_role_required("office")
def review(item_id):
    item = service.find_item(item_id, signed_in_user())
    form = ReviewForm()
    if not form.validate_on_submit():
        flash(_errors(form), "error")
    else:
        _attempt(lambda: service.review_material(item, form.decision.data, actor=signed_in_user(), channel="web"),
                 "审核结论已保存。")
    return redirect(url_for("web_materials.show_material", item_id=item_id))


@bp.post("/materials/<int:item_id>/venue")
@web_role_required(*EDITORS)
def venue_display(item_id):
    item = service.find_item(item_id, signed_in_user())
    form = VenueDisplayForm()
    if not form.validate_on_submit():
        flash(_errors(form), "error")
    else:
        _attempt(lambda: service.update_material(item, actor=signed_in_user(), venue_display=form.venue_display.data,
                                                 channel="web"), "场所名称的显示方式已保存。")
    return redirect(url_for("web_materials.show_material", item_id=item_id))


@bp.get("/materials/<int:item_id>/photos/<int:position>/image")
@web_role_required(*READERS)
def material_image(item_id, position):
    item = service.find_item(item_id, signed_in_user())
    path = redaction.redacted_file(redaction.find_material_photo(item, position))
    response = send_file(path, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- bulletins -----------------------------------------------------------------------------------


def _approved_choices(exclude=()) -> list[SelectChoice]:
    return [SelectChoice(item.id, f"【{service.KIND_LABELS[item.kind]}】{service.masked_title(item)}")
            for item in service.list_items(signed_in_user(), state="approved") if item.id not in exclude]


def _create_form() -> BulletinForm:
    form = BulletinForm()
    form.item_ids.choices = _approved_choices()
    return form


def _version(form) -> int | None:
    return int(form.version.data) if (form.version.data or "").isdigit() else None


def _bulletin_query_args() -> dict:
    state = choice_arg("state", bulletin_service.STATE_LABELS)
    year = request.args.get("year", "").strip()
    if year and not (year.isdigit() and 2000 <= int(year) <= 2100):
        abort(400)
    sort, descending = sort_arg(bulletin_service.SORTS, "-created")
    return {"state": state, "year": int(year) if year else None, "sort": sort, "descending": descending,
            "page": page_number()}


@bp.get("/bulletins")
@web_role_required(*READERS)
def list_bulletins():
    args = _bulletin_query_args()
    page = bulletin_service.page_bulletins(signed_in_user(), **args)
    return render_template("materials/bulletins.html", page=page, labels=bulletin_service.STATE_LABELS,
                           number=bulletin_service.bulletin_number, filters=args,
                           sort_links=sort_links("web_materials.list_bulletins", bulletin_service.SORTS, args["sort"],
                                                  args["descending"]),
                           form=_create_form() if current_user.role in EDITORS else None)


@bp.post("/bulletins")
@web_role_required(*EDITORS)
def create_bulletin():
    form = _create_form()
    created = []
    if form.validate_on_submit() and _attempt_form(form, lambda: created.append(bulletin_service.create_bulletin(
            actor=signed_in_user(), title=form.title.data, period_start=form.period_start.data,
            period_end=form.period_end.data, editorial=form.editorial.data or "", item_ids=form.item_ids.data or [],
            channel="web"))):
        flash("简报草稿已创建，请在下方选用材料、编辑文字。", "success")
        return redirect(url_for("web_materials.show_bulletin", bulletin_id=created[0].id))
    args = {"state": None, "year": None, "sort": "created", "descending": True, "page": 1}
    page = bulletin_service.page_bulletins(signed_in_user(), **args)
    return render_template("materials/bulletins.html", page=page, labels=bulletin_service.STATE_LABELS,
                           number=bulletin_service.bulletin_number, filters=args,
                           sort_links=sort_links("web_materials.list_bulletins", bulletin_service.SORTS, args["sort"],
                                                  args["descending"]),
                           form=form), 422


def _render_bulletin(bulletin, *, status: int = 200, text_form=None, add_form=None, wording_forms=None,
                     action_form=None, publish_form=None):
    role = current_user.role
    editable = role in EDITORS and bulletin.state == "draft"
    chosen = [entry.material_item_id for entry in bulletin.entries]
    figures = bulletin_print.figures(bulletin)
    entries = []
    wording_forms = wording_forms or {}
    for entry in bulletin.entries:
        form = None
        if editable:
            form = wording_forms.get(entry.material_item_id) or EntryWordingForm(
                formdata=None, prefix=f"e{entry.material_item_id}",
                data={"heading": entry.heading or "", "text": entry.text or "", "version": str(bulletin.version)})
        entries.append({"item": service.item_view(entry.item, signed_in_user()),
                        "wording": bulletin_print.entry_wording(entry),
                        "photos": figures[entry.material_item_id], "form": form})
    if editable:
        text_form = text_form or BulletinTextForm(formdata=None, obj=bulletin, data={"version": str(bulletin.version)})
        add_form = add_form or AddItemForm(formdata=None, data={"version": str(bulletin.version)})
        add_form.item_id.choices = _approved_choices(exclude=chosen)
    return render_template(
        "materials/bulletin.html", bulletin=bulletin, labels=bulletin_service.STATE_LABELS,
        number=bulletin_service.bulletin_number(bulletin), entries=entries, editable=editable,
        text_form=text_form if editable else None, add_form=add_form if editable else None,
        move_form=EntryMoveForm(formdata=None, data={"version": str(bulletin.version)}),
        action_form=action_form or ActionForm(formdata=None), publish_form=publish_form or PublishForm(formdata=None),
        actions=[a for a, allowed in (("submit", bulletin.state == "draft" and role in EDITORS),
                                      ("approve", bulletin.state == "submitted" and role == "office"),
                                      ("return", bulletin.state in ("submitted", "approved") and role == "office"))
                 if allowed],
        can_publish=bulletin.state == "approved" and role in EDITORS, can_preview=role in EDITORS), status


@bp.get("/bulletins/<int:bulletin_id>")
@web_role_required(*READERS)
def show_bulletin(bulletin_id):
    return _render_bulletin(bulletin_service.find_bulletin(bulletin_id, signed_in_user()))


def _back(bulletin_id, anchor: str = ""):
    return redirect(url_for("web_materials.show_bulletin", bulletin_id=bulletin_id) + anchor)


@bp.post("/bulletins/<int:bulletin_id>")
@web_role_required(*EDITORS)
def update_bulletin(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    form = BulletinTextForm()
    if form.validate_on_submit() and _attempt_form(form, lambda: bulletin_service.update_bulletin(
            bulletin, actor=signed_in_user(), version=_version(form), title=form.title.data,
            period_start=form.period_start.data, period_end=form.period_end.data,
            editorial=form.editorial.data or "", channel="web")):
        flash("简报文字已保存。", "success")
        return _back(bulletin_id)
    db.session.refresh(bulletin)
    return _render_bulletin(bulletin, status=422, text_form=form)


@bp.post("/bulletins/<int:bulletin_id>/items")
@web_role_required(*EDITORS)
def add_item(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    form = AddItemForm()
    form.item_id.choices = _approved_choices(exclude=[entry.material_item_id for entry in bulletin.entries])
    if form.validate_on_submit() and _attempt_form(form, lambda: bulletin_service.add_item(
            bulletin, form.item_id.data, actor=signed_in_user(), version=_version(form), channel="web")):
        flash("已加入简报。", "success")
        return _back(bulletin_id, "#items")
    db.session.refresh(bulletin)
    return _render_bulletin(bulletin, status=422, add_form=form)


def _item_in(bulletin, item_id):
    if item_id not in [entry.material_item_id for entry in bulletin.entries]:
        abort(404)


@bp.post("/bulletins/<int:bulletin_id>/items/<int:item_id>/<any(up, down, remove):move>")
@web_role_required(*EDITORS)
def move_item(bulletin_id, item_id, move):
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    _item_in(bulletin, item_id)
    form = EntryMoveForm()
    if not form.validate_on_submit():
        flash(_errors(form) or "请求无效，请刷新页面后重试。", "error")
    elif move == "remove":
        _attempt(lambda: bulletin_service.remove_item(bulletin, item_id, actor=signed_in_user(), version=_version(form),
                                                      channel="web"), "已从简报中移除（材料仍在材料库中）。")
    else:
        _attempt(lambda: bulletin_service.move_item(bulletin, item_id, -1 if move == "up" else 1, actor=signed_in_user(),
                                                    version=_version(form), channel="web"), "顺序已调整。")
    return _back(bulletin_id, "#items")


@bp.post("/bulletins/<int:bulletin_id>/items/<int:item_id>/wording")
@web_role_required(*EDITORS)
def item_wording(bulletin_id, item_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    _item_in(bulletin, item_id)
    form = EntryWordingForm(prefix=f"e{item_id}")
    if form.validate_on_submit() and _attempt_form(form, lambda: bulletin_service.set_item_wording(
            bulletin, item_id, heading=form.heading.data, text=form.text.data, actor=signed_in_user(),
            version=_version(form), channel="web")):
        flash("本期文字已保存。", "success")
        return _back(bulletin_id, f"#entry-{item_id}")
    db.session.refresh(bulletin)
    return _render_bulletin(bulletin, status=422, wording_forms={item_id: form})


# What happened and what comes next, for the one who acted.
TRANSITION_MESSAGES = {
    "submit": "简报已提交审核，等待领导小组办公室审核；审核期间不能修改，如需修改请联系办公室退回。",
    "approve": "简报已审核通过，可以发布；发布时分配期号并生成 PDF，发布后不可更改。",
    "return": "简报已退回草稿，撰写人修改后可重新提交审核。",
}


@bp.post("/bulletins/<int:bulletin_id>/transition")
@web_role_required(*EDITORS)
def bulletin_transition(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    form = ActionForm()
    if not form.validate_on_submit():
        flash("未执行：" + _errors(form), "error")
    else:
        _attempt(lambda: bulletin_service.transition(bulletin, form.action.data, actor=signed_in_user(), channel="web"),
                 TRANSITION_MESSAGES[form.action.data])
    return _back(bulletin_id)


@bp.post("/bulletins/<int:bulletin_id>/publish")
@web_role_required(*EDITORS)
def publish(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    form = PublishForm()
    if not form.validate_on_submit():
        flash("未发布：" + _errors(form), "error")
    else:
        published = _attempt(lambda: bulletin_service.publish_bulletin(bulletin, actor=signed_in_user(), channel="web"),
                             None)
        if published:
            flash(f"简报已发布，期号 {bulletin_service.bulletin_number(bulletin)}；PDF 已生成，可在本页下载、印发。",
                  "success")
    return redirect(url_for("web_materials.show_bulletin", bulletin_id=bulletin_id))


@bp.get("/bulletins/<int:bulletin_id>/preview.pdf")
@web_role_required(*EDITORS)
def preview(bulletin_id):
    """The draft (样稿) of an unpublished issue, rendered by a background job ("生成中…" until
    it is there); a published issue's preview is its stored file."""
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    if bulletin.state == "published":
        return send_file(BytesIO(bulletin_service.preview_bulletin(bulletin, signed_in_user())),
                         mimetype="application/pdf", download_name=f"bulletin-{bulletin.id}-preview.pdf")
    return file_or_job_page(preview_job(bulletin, signed_in_user()))


@bp.get("/bulletins/<int:bulletin_id>/bulletin.pdf")
@web_role_required(*READERS)
def download(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, signed_in_user())
    path = bulletin_service.published_pdf(bulletin, signed_in_user())
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"bulletin-{bulletin.year}-{bulletin.serial}.pdf")
