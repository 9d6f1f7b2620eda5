"""Accountability against the source document (金市疫情防指办〔2021〕51号): responsibility follows
四、职责分工 (属地 always, the industry department 四 names, the police nowhere by default), 问责 only
for 属地 and 部门, Beijing days, and a report that cites only what the source and the reference data
say."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from stats_world import DAY1, DAY2, stats_world  # noqa: F401  (fixture)

from server.columns import as_utc
from server.field.models.inspection import Inspection
from server.oversight import accountability, accountability_reference
from server.registry.loader import read_reference_files
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.schemas.reference import ReferenceDataError, validate_documents

REFERENCE = Path(__file__).resolve().parents[2] / "server" / "reference"
SOURCE = REFERENCE / "source" / "jinshi_yiqing_fangzhiban_2021_51.txt"
OLD_TITLE = "关于进一步加强疫情防控社会面管控工作的通知"


def _flat(text: str) -> str:
    """Text without whitespace: the source breaks lines (and pages) inside sentences."""
    return "".join(text.split())


SOURCE_TEXT = _flat(SOURCE.read_text("utf-8"))


def _reference_text() -> str:
    return _flat("".join(path.read_text("utf-8") for path in REFERENCE.glob("*.yaml")))


# --- the data --------------------------------------------------------------------------------


def test_the_cited_document_issuer_and_group_are_the_sources_own_words():
    source = yaml.safe_load((REFERENCE / "responsibility.yaml").read_text("utf-8"))["source"]
    assert source["number"] == "金市疫情防指办〔2021〕51号"
    assert source["issuer"] == "金华市新型冠状病毒肺炎疫情防控工作指挥部办公室"
    assert source["leading_group"] == "疫情防控社会面管控“战时”工作领导小组"
    assert f"特制定本{source['kind']}" in SOURCE_TEXT
    assert f"{source['date'].year}年{source['date'].month}月{source['date'].day}日印发" in SOURCE_TEXT
    quoted = [source["number"], source["issuer"], source["leading_group"], source["command"], *source["copies_to"]]
    quoted += [source[name]["text"] for name in source if name.endswith("_clause")]
    for text in quoted:
        assert _flat(text) in SOURCE_TEXT, text
    assert OLD_TITLE not in _reference_text()


def test_every_category_quotes_the_item_of_four_it_rests_on():
    categories = yaml.safe_load((REFERENCE / "categories.yaml").read_text("utf-8"))["categories"]
    assert categories
    for category in categories:
        reference, _, quote = category["basis"].partition(" ")
        party, _, words = quote.partition("：")
        item = re.search(rf"{reference.removeprefix('四.')}\.{party}：(.*?)(?:\d+\.|五、)", SOURCE_TEXT)
        assert item is not None and words in item.group(1), category["code"]
        if category["responsibility_source"] == "default":
            assert reference == "四.18" and category["departments"] == [], category["code"]


# The kinds 四 names no department for: the 属地 government alone (四.18), not 公安 (四.1 配合) nor 商务局.
LOCALITY_ONLY = ["chess_card_room", "mahjong_parlor", "board_game_room", "escape_room", "spa", "moxibustion",
                 "bathhouse", "foot_bath", "restaurant", "airport", "funeral_event"]


@pytest.mark.parametrize("code", LOCALITY_ONLY)
def test_kinds_four_does_not_name_answer_to_the_locality_only(db, code):
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == code))
    assert category.departments == [] and category.locality_responsible
    assert category.responsibility_source == "default"


def test_the_police_answer_for_no_kind_and_commerce_only_for_shopping_malls(db):
    def kinds(code: str) -> list[str]:
        department = db.session.scalar(sa.select(Department).where(Department.code == code))
        return sorted(c.code for c in db.session.scalars(sa.select(VenueCategory))
                      if department in c.departments)

    assert kinds("psb") == []
    assert kinds("commerce") == ["shopping_mall"]  # 四.9: 大型商场超市; 餐饮 is named nowhere in 四
    assert "大型商场超市" in SOURCE_TEXT and "商务局：根据部门工作职责，负责落实餐饮" not in SOURCE_TEXT


def _documents_issues(mutate) -> list[str]:
    raw, _ = read_reference_files(REFERENCE)
    mutate(raw)
    try:
        validate_documents(raw)
    except ReferenceDataError as exc:
        return [str(issue) for issue in exc.issues]
    return []


def test_a_mapping_four_does_not_make_is_refused_at_load():
    def police_for_escape_rooms(raw):
        escape = next(c for c in raw["categories"]["categories"] if c["code"] == "escape_room")
        escape["departments"] = ["psb"]

    def commerce_for_restaurants_on_a_made_up_quote(raw):
        restaurant = next(c for c in raw["categories"]["categories"] if c["code"] == "restaurant")
        restaurant.update(departments=["commerce"], responsibility_source="document",
                          basis="四.9 市商务局：负责落实大型商场超市、餐饮场所等")

    issues = _documents_issues(police_for_escape_rooms)
    assert any("escape_room" in i and "departments" in i and "不应填写责任部门" in i for i in issues), issues
    issues = _documents_issues(commerce_for_restaurants_on_a_made_up_quote)
    assert any("restaurant" in i and "所引文字不见于四.9" in i for i in issues), issues


def test_the_thresholds_file_cannot_suggest_accountability_for_a_business_or_a_person(app, tmp_path):
    for party in ("unit", "person"):
        (tmp_path / accountability_reference.THRESHOLDS_FILE).write_text(
            'version: "x"\noperating_while_closed_checks: []\nthresholds:\n'
            f'  - {{code: a, party: {party}, failure: violations, min_count: 1, measure: accountability, '
            'valid_from: 2021-12-14}\n', "utf-8")
        with pytest.raises(accountability_reference.ThresholdsInvalid) as caught:
            accountability_reference.load_thresholds(tmp_path)
        assert "measure" in str(caught.value.errors) and "不能问责" in str(caught.value.errors)


def test_suggest_never_gives_accountability_to_a_business_or_a_person_whatever_the_threshold():
    rogue = [accountability_reference.Threshold(f"{party}_x", party, "violations", 1, "accountability",
                                                date(2021, 12, 14), None)
             for party in accountability_reference.PARTIES]
    for party in ("unit", "person"):
        assert accountability_reference.suggest(party, {"violations": 99}, rogue) == []
    for party in ("county", "department"):
        suggested = accountability_reference.suggest(party, {"violations": 99}, rogue)
        assert [m["measure_label"] for m in suggested] == ["问责"]


# --- a 密室逃脱 open at 00:30 Beijing time -------------------------------------------------------


LEADER = {"county": "wucheng", "name": "测试甲", "title": "婺城区人民政府区长"}


@pytest.fixture
def escape_room_night(app, db, stats_world, make_venue, tmp_path):
    """Reference files with a 属地 leader for 婺城区, and a 密室逃脱 there found open at 00:30 Beijing
    time on DAY2 (16:30 UTC on DAY1)."""
    directory = tmp_path / "reference"
    shutil.copytree(REFERENCE, directory)
    path = directory / accountability_reference.RESPONSIBILITY_FILE
    data = path.read_text("utf-8").replace("locality_leaders: []", "locality_leaders:\n  - " + yaml.safe_dump(
        LEADER, allow_unicode=True, default_flow_style=True).strip())
    path.write_text(data, "utf-8")
    previous = app.config["REFERENCE_DIR"]
    app.config["REFERENCE_DIR"] = str(directory)
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == "escape_room"))
    county = db.session.scalar(sa.select(County).where(County.code == "wucheng"))
    venue = make_venue(name=f"夜猫密室{stats_world.tag}", category=category, county=county,
                       operator_name=f"夜猫店主{stats_world.tag}")
    [violation] = stats_world.inspect(venue, DAY2, [("K1", "k1_leisure_venue_closed")], hour=0, minute=30)
    yield stats_world, venue, violation
    app.config["REFERENCE_DIR"] = previous


def test_an_escape_room_at_half_past_midnight_is_the_localitys_on_that_beijing_day(db, escape_room_night):
    world, venue, violation = escape_room_night
    office = world.users["office"]
    checked_in = as_utc(db.session.get(Inspection, violation.inspection_id).checked_in_at)
    assert (checked_in.hour, checked_in.minute, checked_in.day) == (16, 30, DAY1.day)  # stored in UTC
    findings = accountability.trace(date_from=DAY2, date_to=DAY2, user=office)
    assert findings["totals"]["violations"] == 1
    assert findings["by_day"] == [{"key": DAY2.isoformat(), "label": DAY2.isoformat(), "count": 1}]
    assert sum(row["count"] for row in findings["by_day"]) == findings["totals"]["violations"]
    assert accountability.trace(date_from=DAY1, date_to=DAY1, user=office)["totals"]["violations"] == 0

    [county] = findings["counties"]
    assert county["name"] == "婺城区" and county["basis"] == "四.18"
    assert county["leader"] == f"{LEADER['name']}（{LEADER['title']}）"
    assert findings["departments"] == []  # not the police: 四 names no department for 密室逃脱
    [unit] = findings["units"]
    assert unit["venue"] == venue.name and unit["departments"] == []
    assert unit["locality"]["leader"] == county["leader"]
    assert {m["measure"] for m in unit["measures"]} <= {"penalty", "interview", "criticism", "exposure"}
    assert "penalty" in {m["measure"] for m in unit["measures"]}
    [person] = findings["persons"]
    assert person["name"] == venue.operator_name
    assert [m["measure_label"] for m in person["measures"]] == ["约谈"]


def test_the_page_total_equals_its_daily_chart(db, client, escape_room_night):
    from web_session import login

    world, venue, _ = escape_room_night
    world.inspect(venue, DAY2 + timedelta(days=1), [("K1", "k1_leisure_venue_closed")], hour=23, minute=59)
    login(client, world.users["office"])
    period = {"date_from": DAY1.isoformat(), "date_to": (DAY2 + timedelta(days=1)).isoformat()}
    page = client.get("/accountability", query_string=period).get_data(as_text=True)
    findings = accountability.trace(date_from=DAY1, date_to=DAY2 + timedelta(days=1), user=world.users["office"])
    assert [row["count"] for row in findings["by_day"]] == [0, 1, 1]
    assert f"违规问题 <strong>{sum(row['count'] for row in findings['by_day'])}</strong> 起" in page
    assert LEADER["name"] in page and "市公安局" not in page


# --- the rendered report -----------------------------------------------------------------------


ORGAN = re.compile(r"(?:金华市|各县（市、区）|市)[\u4e00-\u9fff“”]{1,30}?"
                   r"(?:指挥部办公室|指挥部成员单位|指挥部|领导小组办公室|领导小组|委员会|局|委|办公室|部)")


def test_the_report_cites_only_the_source_and_the_reference_data(db, escape_room_night):
    world, venue, _ = escape_room_night
    pdf = accountability.draft_report_pdf(date_from=DAY2, date_to=DAY2, county_id=None, user=world.users["office"])
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True,
                            timeout=120)
    text = _flat(result.stdout.decode("utf-8"))
    known = SOURCE_TEXT + _reference_text()

    assert OLD_TITLE not in text and "金华市新冠肺炎疫情防控工作领导小组办公室印发的" not in text
    assert "金市疫情防指办〔2021〕51号（金华市新型冠状病毒肺炎疫情防控工作指挥部办公室2021年12月14日印发）" in text
    assert "疫情防控社会面管控“战时”工作领导小组办公室审核" in text
    for title in re.findall(r"《(.+?)》", text):
        assert title in known, title
    organs = set(ORGAN.findall(text))
    assert organs, "the report names organs"
    for organ in organs:
        assert organ in known, organ

    tracing = text.split("三、责任倒查", 1)[1]
    assert "市公安局" not in tracing and LEADER["name"] in tracing
    assert "问责" not in tracing.split("（三）单位责任", 1)[1].split("四、处理建议", 1)[0]
    assert venue.operator_name in tracing
