"""The public verification page (/v/<核验码>): anyone, without a login, sees what the paper shows —
number, organ, date, the fine, the party masked, never an ID number — reads the code as typed or
heard, checks a PDF file against the document, gets Chinese errors for bad uploads, and is
rate-limited per address."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from case_world import PERSON, case_world, make_assignment, make_inspection, world  # noqa: F401  (fixtures)
from document_helpers import ISSUED_ON, sample

from server.enforcement import case_opening as opening
from server.enforcement import case_transitions
from server.enforcement import documents as service
from server.extensions import db as _db

CODE = "70Q1-MXW9-PA4T"  # holds a 0 and a 1, to be typed as O, I or L
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NOTICE_PARTY = sample("penalty_notice")["party"]  # an individual: 李某某, with an ID number
DECISION_PARTY = sample("penalty_decision")["party"]  # a unit


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def anonymous(client):
    """A client never logged in, from an address of its own, so that the rate limit counts only this test."""
    tag = uuid.uuid4().hex
    client.environ_base["REMOTE_ADDR"] = f"2001:db8:{tag[:4]}:{tag[4:8]}::1"
    return client


@pytest.fixture
def officer(make_user):
    return make_user("enforcement", display_name="执法人员甲某")


def issue(kind: str, officer, code: str | None = None):
    document = service.issue_document(kind, sample(kind), actor=officer, subject_type="case", subject_id="0",
                                      issued_on=ISSUED_ON)
    if code is not None:
        document.verification_code = code
    _db.session.commit()
    return document


def page(client, path: str):
    response = client.get(path)
    return response, response.get_data(as_text=True)


def upload(client, code: str, data: bytes | None, filename: str = "文书.pdf", token: str | None = "from the page"):
    if token == "from the page":
        token = CSRF.search(client.get(f"/v/{code}").get_data(as_text=True)).group(1)
    form = {} if token is None else {"csrf_token": token}
    if data is not None:
        form["pdf"] = (io.BytesIO(data), filename)
    response = client.post(f"/v/{code}", data=form, content_type="multipart/form-data")
    return response, response.get_data(as_text=True)


def text_of(html: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", html))


# --- the page ------------------------------------------------------------------------------------


def test_the_page_shows_what_the_paper_shows_and_no_personal_data(anonymous, db, officer):
    document = issue("penalty_notice", officer)
    response, html = page(anonymous, f"/v/{document.verification_code}")
    assert response.status_code == 200
    text = text_of(html)
    for shown in ("行政处罚告知书", document.number, document.organ, "2026年11月28日", "拟罚款金额",
                  "人民币贰佰元整（¥200.00）", "李**", "未加盖电子签章", document.pdf_sha256,
                  document.verification_code):
        assert shown in text, shown
    for hidden in (NOTICE_PARTY["name"], NOTICE_PARTY["id_number"], NOTICE_PARTY["address"], document.id,
                   document.content_sha256, officer.username, officer.display_name, "退出登录", "site-nav"):
        assert hidden not in html, hidden
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert 'name="viewport"' in html and 'content="noindex, nofollow"' in html


def test_a_unit_is_named_in_full_and_a_signed_original_says_so(anonymous, db, officer, organ_keys):
    document = issue("penalty_decision", officer)
    text = text_of(page(anonymous, f"/v/{document.verification_code}")[1])
    assert DECISION_PARTY["name"] in text and "罚款金额人民币贰佰元整（¥200.00）" in text
    assert "已加盖电子签章" in text and DECISION_PARTY["legal_representative"] not in text


@pytest.mark.parametrize("typed", ["70Q1-MXW9-PA4T", "70q1-mxw9-pa4t", "70Q1MXW9PA4T", "7oqi mxw9 pa4t",
                                   "7OQL—MXW9—PA4T", "７０Ｑ１－ＭＸＷ９－ＰＡ４Ｔ", " 70q1 mxw9 pa4t "])
def test_the_code_is_read_as_typed_or_heard(anonymous, db, officer, typed):
    document = issue("penalty_notice", officer, code=CODE)
    response, html = page(anonymous, f"/v/{typed}")
    assert response.status_code == 200 and document.number in html
    lookup = anonymous.get("/v", query_string={"code": typed})
    assert lookup.status_code == 302 and lookup.headers["Location"].endswith(f"/v/{CODE}")


def test_the_lookup_form_explains_a_malformed_code_in_chinese(anonymous, db):
    response, html = page(anonymous, "/v")
    assert response.status_code == 200 and 'name="code"' in html and "核验码" in html
    for typed, message in (("7KQ2-MXW9", "核验码格式不正确"), ("7KQ2-MXW9-PA4U", "核验码格式不正确"),
                           ("", "请输入文书上印制的核验码")):
        response = anonymous.get("/v", query_string={"code": typed})
        assert response.status_code == 422 and message in response.get_data(as_text=True)


@pytest.mark.parametrize("code", ["ZZZZ-ZZZZ-ZZZZ", "hello", "7KQ2-MXW9-PA4"])
def test_an_unknown_code_is_a_chinese_404_that_reveals_nothing(anonymous, db, officer, code):
    document = issue("penalty_notice", officer, code=CODE)
    response, html = page(anonymous, f"/v/{code}")
    assert response.status_code == 404
    assert "未找到文书" in html and "请核对文书上印制的核验码" in html
    assert document.number not in html and document.organ not in html
    post = anonymous.post(f"/v/{code}", data={}, content_type="multipart/form-data")
    assert post.status_code == 404 and "未找到文书" in post.get_data(as_text=True)


def test_a_revoked_case_shows_on_its_documents(anonymous, db, case_world):
    officer = case_world.officers[0]
    case = opening.open_case([v.id for v in case_world.violations], officers=[o.id for o in case_world.officers],
                             party=PERSON, circumstance="first", actor=officer,
                             facts="2026年3月10日9时30分许，当事人经营的场所未按要求查验健康码。")
    notice = service.issue_document("penalty_notice", sample("penalty_notice"), actor=officer, subject_type="case",
                                    subject_id=str(case.id), issued_on=ISSUED_ON)
    _db.session.commit()
    assert "撤销" not in text_of(page(anonymous, f"/v/{notice.verification_code}")[1])
    case_transitions.transition(case, "revoked", actor=officer, version=case.version, reason="当事人认定有误")
    _db.session.commit()
    text = text_of(page(anonymous, f"/v/{notice.verification_code}")[1])
    assert "撤销本文书所涉的行政处罚案件" in text and "当事人认定有误" not in text


# --- checking a file -------------------------------------------------------------------------------


def test_the_issued_file_is_the_original_and_its_seal_holds(anonymous, db, officer, organ_keys):
    document = issue("penalty_decision", officer)
    data = service.document_path(document).read_bytes()
    response, html = upload(anonymous, document.verification_code, data)
    assert response.status_code == 200
    text = text_of(html)
    assert "核验通过" in text and "完全一致" in text and "电子签章有效" in text and "核验未通过" not in text


@pytest.mark.parametrize("how", ["one byte flipped", "bytes appended"])
def test_a_changed_copy_is_not_the_original(anonymous, db, officer, how):
    document = issue("penalty_notice", officer)
    data = service.document_path(document).read_bytes()
    if how == "one byte flipped":
        position = re.search(rb"stream\r?\n", data).end() + 40
        changed = data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]
    else:
        changed = data + b"\n% appended\n"
    response, html = upload(anonymous, document.verification_code, changed)
    assert response.status_code == 200
    text = text_of(html)
    assert "核验未通过" in text and "与出具时保存的原件不一致" in text and "核验通过" not in text


def test_another_documents_file_or_an_unknown_pdf_is_not_this_document(anonymous, db, officer):
    document = issue("penalty_notice", officer)
    other = issue("rectification_order", officer)
    other_data = service.document_path(other).read_bytes()
    text = text_of(upload(anonymous, document.verification_code, other_data)[1])
    assert "核验未通过" in text and "另一份文书" in text and other.number not in text
    text = text_of(upload(anonymous, document.verification_code, service.preview_document("penalty_notice"))[1])
    assert "核验未通过" in text and "无法识别" in text


def test_bad_uploads_get_chinese_errors_next_to_the_field(anonymous, db, officer, monkeypatch, app):
    document = issue("penalty_notice", officer)
    code, data = document.verification_code, service.document_path(document).read_bytes()

    response, html = upload(anonymous, code, None)
    assert response.status_code == 422 and "请选择要核对的PDF文件" in text_of(html) and "field__error" in html
    response, html = upload(anonymous, code, "这不是文书".encode(), filename="说明.txt")
    assert response.status_code == 422 and "所选文件不是PDF文件" in text_of(html)
    response, html = upload(anonymous, code, data, token=None)
    assert response.status_code == 400 and "页面已过期" in html
    response, html = upload(anonymous, code, data, token="not-a-token")
    assert response.status_code == 400 and "页面已过期" in html

    monkeypatch.setitem(app.config, "DOCUMENT_VERIFY_MAX_BYTES", 1000)
    response, html = upload(anonymous, code, data[:2000])  # the file is over the limit, the request is not
    assert response.status_code == 413 and "文件过大" in html and "1000 字节" in html
    response, html = upload(anonymous, code, data + bytes(70 * 1024))  # refused by its length, body unread
    assert response.status_code == 413 and "文件过大" in html and document.number in html


# --- the rate limit --------------------------------------------------------------------------------


def test_the_rate_limit_answers_429_in_chinese(anonymous, db, officer, monkeypatch, app):
    document = issue("penalty_notice", officer)
    monkeypatch.setitem(app.config, "VERIFICATION_RATE_LIMIT", "3 per minute")
    # One budget for the whole page: the form, known and unknown codes alike.
    assert anonymous.get("/v").status_code == 200
    assert anonymous.get("/v/ZZZZ-ZZZZ-ZZZZ").status_code == 404
    assert anonymous.get(f"/v/{document.verification_code}").status_code == 200
    response, html = page(anonymous, f"/v/{document.verification_code}")
    assert response.status_code == 429 and "请求过于频繁" in html and document.number not in html
    assert "行政执法文书核验" in html and "暗访督查系统" not in html  # the public frame, not the internal site's
    assert "Retry-After" in response.headers
    assert anonymous.post(f"/v/{document.verification_code}", data={}).status_code == 429
    anonymous.environ_base["REMOTE_ADDR"] += "2"  # another address has its own budget
    assert anonymous.get(f"/v/{document.verification_code}").status_code == 200
