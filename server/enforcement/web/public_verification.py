"""The public verification page of issued documents (/v/<核验码>): whoever holds the paper — no
login — looks the document up by the code printed beside its QR code, and may check a PDF file
they hold against it (the check `anfang document verify` makes).

The page is open to anyone, so: one rate limit per address over all of it (VERIFICATION_RATE_LIMIT,
an unknown code counts like a known one); a layout of its own, without the internal site's
navigation or the signed-in user; and answers that name only what the paper shows
(server.enforcement.public_document_facts). An unknown or malformed code gets the same "no such
document" page either way.

Not audited: the audit chain would record an anonymous lookup as "system", and every lookup
would take the chain head's lock, letting anyone on the internet queue officers' writes.

The upload form carries its CSRF token like every form (the page gives it, in the session
cookie a citizen gets on the first visit), and the form checks it. Only CSRFProtect's check before
the view is left out: it would parse the multipart body before the view has set the upload's
size limit.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import StringField
from wtforms.validators import DataRequired, ValidationError

from ...extensions import csrf, limiter
from ...web.chinese_form import ChineseForm
from .. import documents as service
from ..public_document_facts import file_verdict, public_facts

bp = Blueprint("public_verification", __name__, template_folder="templates", url_prefix="/v")

# Room for the multipart framing around the file (boundaries, headers, the CSRF token).
MULTIPART_ALLOWANCE = 64 * 1024
CODE_FORMAT = "核验码为 12 位字母或数字，如 7KQ2-MXW9-PA4T"
EXPIRED = "页面已过期，请刷新本页后重新选择文件上传。"

verification_rate_limit = limiter.shared_limit(
    lambda: current_app.config["VERIFICATION_RATE_LIMIT"],
    scope="public-verification",
    error_message="核验请求过于频繁，请稍等一分钟后再试。",
)


def size_text(size: int) -> str:
    """50 MB, 200 KB, 900 字节: the upload limit as the page states it."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} 字节"


class CodeForm(ChineseForm):
    """The 核验码 as typed; sent with GET, so it carries no token (it changes nothing)."""

    class Meta:
        csrf = False

    code = StringField("核验码", validators=[DataRequired(message="请输入文书上印制的核验码。")],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                  "placeholder": "7KQ2-MXW9-PA4T"})

    def validate_code(self, field):
        if service.normalise_verification_code(field.data) is None:
            raise ValidationError(f"核验码格式不正确：{CODE_FORMAT}，请核对后重新输入。")


class CheckFileForm(ChineseForm):
    """A PDF file checked against the page's document; read whole (it is at most the limit)."""

    pdf = FileField("选择要核对的 PDF 文件", validators=[FileRequired(message="请选择要核对的 PDF 文件。")],
                    render_kw={"accept": "application/pdf,.pdf"})

    def validate_pdf(self, field):
        limit = current_app.config["DOCUMENT_VERIFY_MAX_BYTES"]
        data = field.data.read(limit + 1)
        if len(data) > limit:
            raise ValidationError(too_large_message())
        if not data.startswith(b"%PDF-"):
            raise ValidationError("所选文件不是 PDF 文件，请选择文书的 PDF 电子文件。")
        self.pdf_bytes = data


def too_large_message() -> str:
    return f"文件过大：文书的 PDF 文件不超过 {size_text(current_app.config['DOCUMENT_VERIFY_MAX_BYTES'])}，请核对所选文件。"


@bp.get("")
@verification_rate_limit
def lookup():
    """The form to type a 核验码; a well-formed code leads to its page."""
    if "code" not in request.args:
        return render_template("verification/lookup.html", form=CodeForm(formdata=None))
    form = CodeForm(formdata=request.args)
    if not form.validate():
        return render_template("verification/lookup.html", form=form), 422
    return redirect(url_for(".document", code=service.normalise_verification_code(form.code.data)))


@bp.get("/<code>")
@verification_rate_limit
def document(code):
    """What the document with this 核验码 is, and the form to check a file against it."""
    found = service.find_by_verification_code(code)
    if found is None:
        return _not_found(code)
    return _document_page(found, CheckFileForm(formdata=None))


@bp.post("/<code>")
@csrf.exempt  # the form checks its token itself, after the size limit is set (see the module docstring)
@verification_rate_limit
def check_file(code):
    """Check an uploaded PDF against the document: its original, a changed copy, or another file."""
    found = service.find_by_verification_code(code)
    if found is None:
        return _not_found(code)
    limit = current_app.config["DOCUMENT_VERIFY_MAX_BYTES"] + MULTIPART_ALLOWANCE
    if request.content_length is not None and request.content_length > limit:
        return _refused_file(found, too_large_message(), 413)
    request.max_content_length = limit  # a body sent without a length is cut off at the limit too
    try:
        form = CheckFileForm()
        valid = form.validate()
    except RequestEntityTooLarge:
        return _refused_file(found, too_large_message(), 413)
    if "csrf_token" in form.errors:
        return _refused_file(found, EXPIRED, 400)
    if not valid:
        status = 413 if too_large_message() in form.pdf.errors else 422
        return _document_page(found, form), status
    verdict = file_verdict(found, service.verify_pdf(form.pdf_bytes))
    return _document_page(found, CheckFileForm(formdata=None), verdict=verdict)


@bp.errorhandler(429)
def too_many_requests(error):
    return render_template("verification/message.html", title="请求过于频繁",
                           detail="核验请求过于频繁，请稍等一分钟后再试。"), 429


def _document_page(document, form, *, verdict=None):
    return render_template("verification/document.html", facts=public_facts(document), form=form, verdict=verdict)


def _refused_file(document, message: str, status: int):
    form = CheckFileForm(formdata=None)
    form.pdf.errors = [message]
    return _document_page(document, form), status


def _not_found(code: str):
    canonical = service.normalise_verification_code(code)
    form = CodeForm(formdata=None, data={"code": canonical or ""})
    return render_template("verification/not_found.html", code=canonical, form=form), 404
