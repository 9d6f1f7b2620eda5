"""The auditor's checkpoint page: the current chain head to sign on the auditor's own machine, the
signed file handed back, and the auditor's public keys. Only the auditor signs and registers keys;
the administrator reads the page (the anchor guards the log against the database's keepers)."""

from __future__ import annotations

from datetime import datetime

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from checkpoint_signer.format import MAX_FILE_BYTES

from ...access import web_role_required
from ...errors import Problem
from ...extensions import db
from ...web.chinese_form import ChineseForm
from ...web.signed_in import signed_in_user
from .. import checkpoints as service
from .audit import READERS, bp

SIGNERS = ("auditor",)


class RegisterKeyForm(ChineseForm):
    public_key = StringField("公钥（base64）",
                             validators=[DataRequired(message="请粘贴在本人电脑上生成密钥时显示的公钥。"),
                                         Length(max=200, message="公钥过长。")],
                             render_kw={"autocomplete": "off", "spellcheck": "false"})
    label = StringField("标签（持有人或用途）", validators=[DataRequired(message="请填写标签。"),
                                                     Length(max=service.LABEL_MAX, message="不超过 64 个字符。")])


class UploadCheckpointForm(ChineseForm):
    file = FileField("已签名的检查点文件",
                     validators=[FileRequired(message="请选择在本人电脑上签名生成的检查点文件。")],
                     render_kw={"accept": "application/json,.json"})


def _page(key_form=None, upload_form=None, status: int = 200):
    head = service.export_head()
    checkpoints = service.list_checkpoints()
    keys = service.list_keys()
    return render_template(
        "audit/checkpoints.html", head=head, head_text=service.head_file_bytes(head).decode("utf-8"),
        # The file says UTC (what is signed); people read Beijing time.
        head_moment=datetime.fromisoformat(head.time.replace("Z", "+00:00")),
        keys=keys, key_of={key.public_key: key for key in keys}, checkpoints=checkpoints,
        standing=service.stored_checkpoint_standing(checkpoints), may_sign=current_user.role in SIGNERS,
        key_form=key_form or RegisterKeyForm(formdata=None),
        upload_form=upload_form or UploadCheckpointForm(formdata=None),
    ), status


def _problem_text(exc: Problem) -> str:
    if not exc.errors:
        return exc.detail
    return f"{exc.detail}（{'；'.join(m for messages in exc.errors.values() for m in messages)}）"


@bp.get("/checkpoints")
@web_role_required(*READERS)
def checkpoints():
    return _page()


@bp.get("/checkpoints/head.json")
@web_role_required(*READERS)
def head_file():
    """The current head as the file the auditor signs (anfang-checkpoint sign)."""
    head = service.export_head()
    return Response(service.head_file_bytes(head), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{service.head_file_name(head)}"', "Cache-Control": "no-store"})


@bp.post("/checkpoints")
@web_role_required(*SIGNERS)
def upload_checkpoint():
    form = UploadCheckpointForm()
    if not form.validate_on_submit():
        return _page(upload_form=form, status=422)
    data = form.file.data.read(MAX_FILE_BYTES + 1)
    try:
        with db.session.begin_nested():
            row = service.add_checkpoint(data, actor=signed_in_user(), channel="web")
    except Problem as exc:
        form.file.errors = [_problem_text(exc)]
        return _page(upload_form=form, status=exc.status)
    flash(f"已登记检查点：第 {row.seq} 条，哈希 {row.hash[:16]}…", "success")
    return redirect(url_for(".checkpoints"), 303)


@bp.post("/checkpoints/keys")
@web_role_required(*SIGNERS)
def register_key():
    form = RegisterKeyForm()
    if not form.validate_on_submit():
        return _page(key_form=form, status=422)
    try:
        with db.session.begin_nested():
            key = service.register_key(form.public_key.data, form.label.data, actor=signed_in_user(), channel="web")
    except Problem as exc:
        form.public_key.errors = [_problem_text(exc)]
        return _page(key_form=form, status=exc.status)
    flash(f"已登记公钥：{key.label}（指纹 {key.fingerprint}）", "success")
    return redirect(url_for(".checkpoints"), 303)
