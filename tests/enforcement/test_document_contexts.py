"""Contexts: a document missing an item the law requires is refused naming the item (service and
API: 422); number formats and rights texts are data, validated."""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml
from document_helpers import ISSUED_ON, bearer, sample

from server.enforcement import documents as service
from server.enforcement.document_catalogue import DocumentCatalogueError, document_kind, load_catalogue
from server.errors import Invalid
from server.extensions import db as _db


def without(context: dict, path: str) -> dict:
    context = copy.deepcopy(context)
    *parents, last = path.split(".")
    target = context
    for name in parents:
        target = target[name]
    target.pop(last)
    return context


def individual(context: dict) -> dict:
    context = copy.deepcopy(context)
    context["party"] = {"kind": "individual", "name": "李某某", "id_number": "330702198001010000",
                        "address": "金华市婺城区示例路2号"}
    return context


DECISION_ITEMS = [
    ("party", "当事人"), ("party.name", "当事人姓名或单位名称"), ("party.address", "当事人住址"),
    ("party.legal_representative", "法定代表人"), ("facts", "违法事实"), ("evidence", "证据"),
    ("penalty", "行政处罚"), ("penalty.description", "处罚内容"), ("legal_basis", "法律依据"),
    ("execution", "履行方式和期限"), ("execution.method", "履行方式"), ("remedies", "行政复议"),
    ("remedies.review_body", "行政复议机关"), ("remedies.court", "管辖法院"), ("authority", "作出决定的机关"),
]


@pytest.mark.parametrize("path,label", DECISION_ITEMS)
def test_a_decision_without_a_required_item_is_refused_naming_it(db, make_user, path, label):
    with pytest.raises(Invalid) as refused:
        service.issue_document("penalty_decision", without(sample("penalty_decision"), path),
                               actor=make_user("enforcement"), subject_type="test", subject_id="1",
                               issued_on=ISSUED_ON)
    assert label in refused.value.detail
    assert path in refused.value.errors


def test_an_individual_needs_an_id_number_and_empty_lists_are_missing_items(db):
    with pytest.raises(Invalid) as refused:
        service.preview_document("penalty_decision", without(individual(sample("penalty_decision")), "party.id_number"))
    assert "身份证件号码" in refused.value.detail and "party.id_number" in refused.value.errors
    context = sample("penalty_decision")
    context["evidence"] = []
    context["legal_basis"] = []
    with pytest.raises(Invalid) as refused:
        service.preview_document("penalty_decision", context)
    assert {"evidence", "legal_basis"} <= set(refused.value.errors)


def test_the_date_is_required_when_validated_alone_and_must_match_the_issue_date(db):
    from server.enforcement.document_contexts import validate_context

    with pytest.raises(Invalid) as refused:
        validate_context("penalty_decision", sample("penalty_decision"))
    assert "文书日期" in refused.value.detail
    context = dict(sample("penalty_decision"), date="2026-11-27")
    with pytest.raises(Invalid):
        service.prepare_context("penalty_decision", context, ISSUED_ON)


@pytest.mark.parametrize("path", ["party", "facts", "reasons", "legal_basis", "penalty"])
def test_a_notice_without_facts_reasons_basis_party_or_penalty_is_refused(db, path):
    with pytest.raises(Invalid) as refused:
        service.preview_document("penalty_notice", without(sample("penalty_notice"), path))
    assert path in refused.value.errors


def test_unknown_fields_are_refused(db):
    context = sample("penalty_decision")
    context["pennalty"] = {"description": "拼错的字段"}
    with pytest.raises(Invalid) as refused:
        service.preview_document("penalty_decision", context)
    assert "pennalty" in refused.value.errors


@pytest.mark.parametrize("path", ["party.address", "remedies.court", "evidence"])
def test_the_api_answers_422_naming_the_missing_item(client, db, make_user, path):
    headers = bearer(make_user("enforcement"))
    _db.session.commit()
    response = client.post("/api/v1/document-templates/penalty_decision/preview", headers=headers,
                           json=without(sample("penalty_decision"), path))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert path in body["errors"] and path in body["detail"]


def test_the_api_previews_a_valid_context_and_each_sample(client, db, make_user):
    headers = bearer(make_user("office"))
    _db.session.commit()
    response = client.post("/api/v1/document-templates/penalty_notice/preview", headers=headers,
                           json=sample("penalty_notice"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    for kind in ("penalty_decision", "inspection_record"):
        sample_pdf = client.get(f"/api/v1/document-templates/{kind}/preview", headers=headers)
        assert sample_pdf.status_code == 200 and sample_pdf.data.startswith(b"%PDF-")
    assert client.get("/api/v1/document-templates/nonsense/preview", headers=headers).status_code == 404
    assert client.post("/api/v1/document-templates/penalty_notice/preview", headers=headers,
                       data="[]", content_type="application/json").status_code == 422


@pytest.mark.parametrize("role", ["inspector", "propaganda", "department", "auditor"])
def test_previews_are_for_those_who_issue_documents(client, db, make_user, role):
    headers = bearer(make_user(role))
    _db.session.commit()
    assert client.get("/api/v1/document-templates/penalty_notice/preview", headers=headers).status_code == 403


def test_the_shipped_catalogue_is_valid(app, db):
    catalogue = load_catalogue()
    assert set(catalogue.kinds) == {"penalty_notice", "penalty_decision", "rectification_order", "inspection_record",
                                    "accountability_report"}
    assert document_kind("penalty_decision").number(2026, 123) == "金公（治）行罚决字〔2026〕123号"
    # The format is the issuing organ's: the disease-control organ numbers its own series.
    assert document_kind("penalty_decision").number(2026, 7, "金华市卫生健康委员会") == "金卫（疾控）行罚决字〔2026〕7号"
    assert catalogue.periods == {"statement_days": 3, "hearing_days": 5, "payment_days": 15,
                                 "late_fee_percent": 3, "review_days": 60, "lawsuit_months": 6}


@pytest.mark.parametrize("number_format,message", [
    ("金公（治）行罚决字〔{year}〕第{n}号", "第"),
    ("金公（治）行罚决字〔{year}〕{n:03d}号", "占位符"),
    ("金公（治）行罚决字[{year}]{n}号", "〔"),
    ("金公（治）行罚决字〔{year}〕号", "占位符"),
])
def test_a_bad_number_format_is_refused_naming_the_file(app, tmp_path, number_format, message):
    source = app.config["REFERENCE_DIR"]
    for name in ("document_numbers.yaml", "document_rights.yaml", "organs.yaml"):
        shutil.copy(f"{source}/{name}", tmp_path / name)
    organs = yaml.safe_load((tmp_path / "organs.yaml").read_text("utf-8"))
    organs["organs"][0]["numbers"]["penalty_decision"] = number_format
    (tmp_path / "organs.yaml").write_text(yaml.safe_dump(organs, allow_unicode=True), "utf-8")
    with app.app_context(), pytest.raises(DocumentCatalogueError) as refused:
        load_catalogue(tmp_path)
    assert "organs.yaml" in refused.value.detail and message in refused.value.detail


@pytest.mark.parametrize(("change", "message"), [
    (lambda organs: organs["organs"][1]["numbers"].update(penalty_notice="金公（治）行罚告字〔{year}〕{n}号"),
     "相同的发文字号格式"),
    (lambda organs: organs["organs"][1]["authority_kinds"].append("公安机关"), "只能由一个机关承担"),
    (lambda organs: organs["organs"][0].pop("penalty"), "penalty"),
])
def test_a_bad_organs_file_is_refused(app, tmp_path, change, message):
    source = app.config["REFERENCE_DIR"]
    for name in ("document_numbers.yaml", "document_rights.yaml", "organs.yaml"):
        shutil.copy(f"{source}/{name}", tmp_path / name)
    organs = yaml.safe_load((tmp_path / "organs.yaml").read_text("utf-8"))
    change(organs)
    (tmp_path / "organs.yaml").write_text(yaml.safe_dump(organs, allow_unicode=True), "utf-8")
    with app.app_context(), pytest.raises(DocumentCatalogueError) as refused:
        load_catalogue(tmp_path)
    assert "organs.yaml" in refused.value.detail and message in refused.value.detail


def test_rights_texts_with_an_unknown_placeholder_are_refused(app, tmp_path):
    source = app.config["REFERENCE_DIR"]
    for name in ("document_numbers.yaml", "document_rights.yaml", "organs.yaml"):
        shutil.copy(f"{source}/{name}", tmp_path / name)
    rights = yaml.safe_load((tmp_path / "document_rights.yaml").read_text("utf-8"))
    rights["texts"]["remedies"] += "{judge}"
    (tmp_path / "document_rights.yaml").write_text(yaml.safe_dump(rights, allow_unicode=True), "utf-8")
    with app.app_context(), pytest.raises(DocumentCatalogueError) as refused:
        load_catalogue(tmp_path)
    assert "judge" in refused.value.detail
