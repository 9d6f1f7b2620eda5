"""Pages for the material library (典型材料) and bulletins (简报).

Propaganda sees masked texts and redacted images only; the office also sees the text as
written. The box editor is a canvas over the redacted image (static/redact.js) that fills the
plain form's textarea — without JavaScript the same form takes one box per line.
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..errors import Problem
from ..extensions import db
from ..models import MATERIAL_KINDS, MATERIAL_STATES
from ..services import bulletins as bulletin_service
from ..services import materials as service
from ..services.access import web_role_required
from .material_forms import ActionForm, BoxesForm, BulletinForm, PublishForm, ReviewForm, VenueDisplayForm
from .navigation import add_nav_item

bp = Blueprint("web_materials", __name__)

READERS = ("office", "admin", "propaganda")
EDITORS = ("office", "propaganda")

add_nav_item("典型材料", "web_materials.list_materials", READERS)
add_nav_item("简报", "web_materials.list_bulletins", READERS)


def _user():
    return current_user._get_current_object()


def _errors(form) -> str:
    return "；".join(message for messages in form.errors.values() for message in messages)


def _attempt(action, success: str) -> bool:
    """Run a service call in a savepoint: a refusal is flashed and leaves nothing half-stored."""
    try:
        with db.session.begin_nested():
            action()
    except Problem as exc:
        flash(exc.detail if not exc.errors else f"{exc.detail}（{'；'.join(m for ms in exc.errors.values() for m in ms)}）",
              "error")
        return False
    flash(success, "success")
    return True


# --- material library ----------------------------------------------------------------------------


@bp.get("/materials")
@web_role_required(*READERS)
def list_materials():
    kind = request.args.get("kind") or None
    state = request.args.get("state") or None
    if (kind and kind not in MATERIAL_KINDS) or (state and state not in MATERIAL_STATES):
        abort(400)
    if current_user.role in EDITORS:
        service.collect_note_candidates_if_possible(_user())
    items = [service.item_view(item, _user()) for item in service.list_items(_user(), kind=kind, state=state)]
    return render_template("materials/list.html", items=items, filters={"kind": kind or "", "state": state or ""},
                           kinds=service.KIND_LABELS, states=service.STATE_LABELS)


@bp.get("/materials/<int:item_id>")
@web_role_required(*READERS)
def show_material(item_id):
    item = service.find_item(item_id, _user())
    view = service.item_view(item, _user())
    boxes_forms = {}
    for photo in view["photos"]:
        form = BoxesForm(prefix=f"p{photo['position']}")
        form.boxes.data = "\n".join(", ".join(f"{v:g}" for v in box) for box in photo["boxes"])
        boxes_forms[photo["position"]] = form
    venue_form = VenueDisplayForm(venue_display=item.venue_display)
    return render_template("materials/detail.html", item=view, boxes_forms=boxes_forms, review=ReviewForm(),
                           venue_form=venue_form, can_edit=current_user.role in EDITORS,
                           can_review=current_user.role == "office")


@bp.post("/materials/<int:item_id>/photos/<int:position>/boxes")
@web_role_required(*EDITORS)
def save_boxes(item_id, position):
    item = service.find_item(item_id, _user())
    form = BoxesForm(prefix=f"p{position}")
    if not form.validate_on_submit():
        flash("遮挡框未保存：" + _errors(form), "error")
    else:
        _attempt(lambda: service.set_boxes(item, position, form.parsed, actor=_user(), channel="web"),
                 f"照片 {position} 的遮挡框已保存，已重新生成遮挡图。")
    return redirect(url_for("web_materials.show_material", item_id=item_id) + f"#photo-{position}")


@bp.post("/materials/<int:item_id>/review")
@web_role_required("office")
def review(item_id):
    item = service.find_item(item_id, _user())
    form = ReviewForm()
    if not form.validate_on_submit():
        flash(_errors(form), "error")
    else:
        _attempt(lambda: service.review_material(item, form.decision.data, actor=_user(), channel="web"),
                 "审核结论已保存。")
    return redirect(url_for("web_materials.show_material", item_id=item_id))


@bp.post("/materials/<int:item_id>/venue")
@web_role_required(*EDITORS)
def venue_display(item_id):
    item = service.find_item(item_id, _user())
    form = VenueDisplayForm()
    if not form.validate_on_submit():
        flash(_errors(form), "error")
    else:
        _attempt(lambda: service.update_material(item, actor=_user(), venue_display=form.venue_display.data,
                                                 channel="web"), "场所名称的显示方式已保存。")
    return redirect(url_for("web_materials.show_material", item_id=item_id))


@bp.get("/materials/<int:item_id>/photos/<int:position>/image")
@web_role_required(*READERS)
def material_image(item_id, position):
    item = service.find_item(item_id, _user())
    path = service.redacted_file(service.find_material_photo(item, position))
    response = send_file(path, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- bulletins -----------------------------------------------------------------------------------


def _bulletin_form(bulletin=None) -> BulletinForm:
    form = BulletinForm(obj=None if request.method == "POST" else bulletin)
    approved = service.list_items(_user(), state="approved")
    form.item_ids.choices = [SelectChoice(item.id, f"【{service.KIND_LABELS[item.kind]}】{service.masked_title(item)}")
                             for item in approved]
    if request.method != "POST" and bulletin is not None:
        form.item_ids.data = [entry.material_item_id for entry in bulletin.entries]
        form.version.data = str(bulletin.version)
    return form


@bp.get("/bulletins")
@web_role_required(*READERS)
def list_bulletins():
    bulletins = bulletin_service.list_bulletins(_user())
    return render_template("materials/bulletins.html", bulletins=bulletins, labels=bulletin_service.STATE_LABELS,
                           number=bulletin_service.bulletin_number,
                           form=_bulletin_form() if current_user.role in EDITORS else None)


@bp.post("/bulletins")
@web_role_required(*EDITORS)
def create_bulletin():
    form = _bulletin_form()
    if not form.validate_on_submit():
        flash("简报未创建：" + _errors(form), "error")
        return redirect(url_for("web_materials.list_bulletins"))
    created = []
    ok = _attempt(lambda: created.append(bulletin_service.create_bulletin(
        actor=_user(), title=form.title.data, period_start=form.period_start.data, period_end=form.period_end.data,
        editorial=form.editorial.data or "", item_ids=form.item_ids.data or [], channel="web")), "简报草稿已创建。")
    if not ok:
        return redirect(url_for("web_materials.list_bulletins"))
    return redirect(url_for("web_materials.show_bulletin", bulletin_id=created[0].id))


@bp.get("/bulletins/<int:bulletin_id>")
@web_role_required(*READERS)
def show_bulletin(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    role = current_user.role
    return render_template(
        "materials/bulletin.html", bulletin=bulletin, labels=bulletin_service.STATE_LABELS,
        number=bulletin_service.bulletin_number(bulletin), items=[service.item_view(e.item, _user()) for e in bulletin.entries],
        form=_bulletin_form(bulletin) if role in EDITORS and bulletin.state == "draft" else None,
        action_form=ActionForm(), publish_form=PublishForm(),
        actions=[a for a, allowed in (("submit", bulletin.state == "draft" and role in EDITORS),
                                      ("approve", bulletin.state == "submitted" and role == "office"),
                                      ("return", bulletin.state in ("submitted", "approved") and role == "office"))
                 if allowed],
        can_publish=bulletin.state == "approved" and role in EDITORS, can_preview=role in EDITORS)


@bp.post("/bulletins/<int:bulletin_id>")
@web_role_required(*EDITORS)
def update_bulletin(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    form = _bulletin_form(bulletin)
    if not form.validate_on_submit():
        flash("未保存：" + _errors(form), "error")
    else:
        version = int(form.version.data) if (form.version.data or "").isdigit() else None
        _attempt(lambda: bulletin_service.update_bulletin(
            bulletin, actor=_user(), version=version, title=form.title.data, period_start=form.period_start.data,
            period_end=form.period_end.data, editorial=form.editorial.data or "", item_ids=form.item_ids.data or [],
            channel="web"), "简报已保存。")
    return redirect(url_for("web_materials.show_bulletin", bulletin_id=bulletin_id))


@bp.post("/bulletins/<int:bulletin_id>/transition")
@web_role_required(*EDITORS)
def bulletin_transition(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_errors(form), "error")
    else:
        _attempt(lambda: bulletin_service.transition(bulletin, form.action.data, actor=_user(), channel="web"),
                 "简报状态已更新。")
    return redirect(url_for("web_materials.show_bulletin", bulletin_id=bulletin_id))


@bp.post("/bulletins/<int:bulletin_id>/publish")
@web_role_required(*EDITORS)
def publish(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    form = PublishForm()
    if not form.validate_on_submit():
        flash("未发布：" + _errors(form), "error")
    else:
        _attempt(lambda: bulletin_service.publish_bulletin(bulletin, actor=_user(), channel="web"), "简报已发布。")
    return redirect(url_for("web_materials.show_bulletin", bulletin_id=bulletin_id))


@bp.get("/bulletins/<int:bulletin_id>/preview.pdf")
@web_role_required(*EDITORS)
def preview(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    data = bulletin_service.preview_bulletin(bulletin, _user())
    return send_file(BytesIO(data), mimetype="application/pdf", download_name=f"bulletin-{bulletin.id}-preview.pdf")


@bp.get("/bulletins/<int:bulletin_id>/bulletin.pdf")
@web_role_required(*READERS)
def download(bulletin_id):
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    path = bulletin_service.published_pdf(bulletin, _user())
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"bulletin-{bulletin.year}-{bulletin.serial}.pdf")
