"""The loaded reference data against the source document (金市疫情防指办〔2021〕51号).

The tables below are copied from the document as written (names with their padding spaces,
titles verbatim), so a person, department, venue kind or duty missing from the data files fails
here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rulecheck import COMPLIANT, VIOLATION, evaluate_rule
from server.registry.loader import rules_bundle_for_category, venue_facts
from server.registry.models.reference import County, Department, Duty, RosterMember, Rule, VenueCategory


def _one(db, model, **where):
    row = db.session.scalar(select(model).filter_by(**where))
    assert row is not None, f"{model.__name__} {where} is missing"
    return row


# ---------------------------------------------------------------- 二、组织分工

# (group role, name as printed, title as printed)
ROSTER = [
    ("leader", "金 盛", "市公安局常务副局长"),
    ("executive_deputy", "胡宏立", "市委政法委副书记"),
    ("executive_deputy", "傅建军", "市公安局副局长"),
    ("deputy", "庄益民", "市委政法委委务会议成员"),
    ("deputy", "丰炳春", "市公安局交管分局局长"),
    ("deputy", "黄 斌", "市公安局机关党委书记"),
    ("deputy", "王浦虹", "市公安局治安支队支队长"),
    ("deputy", "徐允伟", "市委统战部部务会议成员"),
    ("deputy", "寿才明", "市教育局副局长"),
    ("deputy", "傅国荣", "市民政局副局长"),
    ("deputy", "徐春来", "市建设局副局长"),
    ("deputy", "金 谦", "市交通运输局运输处处长"),
    ("deputy", "郑俊杰", "市农业农村局副局长"),
    ("deputy", "赵桂娃", "市商务局副局长"),
    ("deputy", "张永才", "市文广旅游局副局长"),
    ("deputy", "吴彩霞", "市卫生健康委副主任"),
    ("deputy", "何明明", "市市场监管局副局长"),
    ("deputy", "成元官", "市体育局副局长"),
    ("deputy", "傅兴平", "市行政执法局副局长"),
    ("deputy", "张新丰", "市大数据局副局长"),
    ("member", "胡炳华", "市委政法委安全稳定指导室副主任"),
    ("member", "俞文辉", "市公安局食药环知侦查支队支队长"),
    ("member", "王 全", "市公安局办公室副主任"),
    ("member", "蔡建树", "市公安局治安支队行政执法大队长"),
    ("member", "黄云峰", "市公安局刑侦支队支队长"),
    ("member", "刘胜利", "市公安局交管分局政委"),
    ("member", "张希勇", "市公安局特警支队支队长"),
    ("member", "万勇征", "市公安局高速交警支队支队长"),
    ("member", "吴卫新", "市委统战部宗教工作处处长"),
    ("member", "方晓莲", "市教育局校园安全与体卫艺处处长"),
    ("member", "费 凡", "市民政局民政综合服务指导中心主任"),
    ("member", "吴军峰", "市建设局建筑业处处长"),
    ("member", "钱 军", "市公路与运输管理中心客运科负责人"),
    ("member", "何 婕", "市农业农村局社会处处长"),
    ("member", "徐怡超", "市商务局商贸运行处三级主任科员"),
    ("member", "邢 凯", "市文广旅游局市场管理处处长"),
    ("member", "沈苗英", "市卫生健康委基础卫生和妇幼健康处处长"),
    ("member", "李西立", "市市场监管局市场合同处处长"),
    ("member", "邹 骁", "市体育局办公室负责人"),
    ("member", "周通燕", "市行政执法局办公室副主任"),
    ("member", "冯 骏", "市大数据局资源管理处干部"),
    ("member", "施敏玲", "市通讯发展办主任助理"),
]

# The roster spells 市通信发展办 as 市通讯发展办; the data keeps 四's spelling as the name.
DEPARTMENT_SPELLINGS = {"市通讯发展办": "市通信发展办"}


def _department_named_in(title: str) -> str:
    for printed, canonical in DEPARTMENT_SPELLINGS.items():
        if title.startswith(printed):
            return canonical
    return title


@pytest.mark.parametrize(("group_role", "printed_name", "title"), ROSTER, ids=[r[1] for r in ROSTER])
def test_roster_has_every_person_of_the_document(db, group_role, printed_name, title):
    member = _one(db, RosterMember, name="".join(printed_name.split()))
    assert member.title == title
    assert member.group_role == group_role
    assert _department_named_in(title).startswith(member.department.name)


def test_roster_has_no_one_else(db):
    names = set(db.session.scalars(select(RosterMember.name)))
    assert names == {"".join(name.split()) for _, name, _ in ROSTER}


@pytest.mark.parametrize(("name", "office_role"), [
    ("傅建军", "办公室主任"), ("庄益民", "常务副主任"), ("王浦虹", "常务副主任"),
    ("胡宏立", "副主任"), ("张新丰", "副主任"), ("金盛", None), ("施敏玲", None),
])
def test_office_roles(db, name, office_role):
    assert _one(db, RosterMember, name=name).office_role == office_role


def test_each_department_has_one_responsible_leader_of_highest_rank(db):
    rank = {"leader": 0, "executive_deputy": 1, "deputy": 2, "member": 3}
    by_department: dict[str, list[RosterMember]] = {}
    for member in db.session.scalars(select(RosterMember)):
        by_department.setdefault(member.department.code, []).append(member)
    for code, members in by_department.items():
        leaders = [m for m in members if m.is_responsible_leader]
        assert len(leaders) == 1, code
        assert rank[leaders[0].group_role] == min(rank[m.group_role] for m in members), code
    assert _one(db, RosterMember, name="金盛").is_responsible_leader
    assert _one(db, RosterMember, name="胡宏立").is_responsible_leader
    assert not _one(db, RosterMember, name="傅建军").is_responsible_leader


# ---------------------------------------------------------------- departments and 四、职责分工

# (seq, the party as printed at the start of the entry, first words of its text)
DUTIES = [
    (1, "市公安局", "牵头开展疫情防控社会面管控"),
    (2, "市委政法委", "统筹协调、指导监督各地"),
    (3, "市委统战部", "根据部门工作职责，负责落实宗教活动场所"),
    (4, "市教育局", "根据部门工作职责，负责落实学校、教育培训机构"),
    (5, "市民政局", "根据部门工作职责，负责落实福利机构、养老服务机构、殡仪馆"),
    (6, "市建设局", "根据部门工作职责，负责落实在建工地"),
    (7, "市交通运输局", "根据部门工作职责，负责落实各类公共交通工具、车站"),
    (8, "市农业农村局", "根据部门工作职责，负责农村地区"),
    (9, "市商务局", "根据部门工作职责，负责落实大型商场超市"),
    (10, "市文广旅游局", "根据部门工作职责，负责落实景区、影剧院、图书馆"),
    (11, "市卫生健康委", "根据部门工作职责，负责落实医院、诊所、精神卫生机构"),
    (12, "市市场监管局", "根据部门工作职责，负责落实农贸市场、药店"),
    (13, "市体育局", "根据部门工作职责，负责落实体育场馆、体育赛事"),
    (14, "市行政执法局", "根据部门工作职责，负责落实与本部门职责相关"),
    (15, "市大数据局", "负责涉疫数据去重下发"),
    (16, "市通信发展办", "负责对我市手机用户推送涉疫短信提醒"),
    (17, "其他相关部门", "根据部门工作职责，落实好与本部门职责相关"),
    (18, "属地政府", "为疫情防控社会面管控“战时”工作第一责任人"),
]


@pytest.mark.parametrize(("seq", "party", "opening"), DUTIES, ids=[d[1] for d in DUTIES])
def test_duty_of_the_document(db, seq, party, opening):
    duty = _one(db, Duty, seq=seq)
    assert duty.text.startswith(f"{party}：{opening}")
    if seq <= 16:
        assert (duty.party, duty.department.name) == ("department", party)
    else:
        assert duty.department is None
        assert duty.party == ("others" if seq == 17 else "locality")


def test_there_are_eighteen_duties(db):
    assert sorted(db.session.scalars(select(Duty.seq))) == list(range(1, 19))


DEPARTMENTS_OF_THE_DOCUMENT = [party for seq, party, _ in DUTIES if seq <= 16] + ["市公路与运输管理中心"]


@pytest.mark.parametrize("name", DEPARTMENTS_OF_THE_DOCUMENT)
def test_department_named_in_the_document_exists(db, name):
    _one(db, Department, name=name)


def test_public_security_bureau_is_the_enforcement_authority(db):
    authorities = db.session.scalars(select(Department).where(Department.is_enforcement_authority)).all()
    assert [d.name for d in authorities] == ["市公安局"]


# ---------------------------------------------------------------- counties

COUNTIES = [
    ("婺城区", "district", "330702"), ("金东区", "district", "330703"), ("兰溪市", "city", "330781"),
    ("东阳市", "city", "330783"), ("义乌市", "city", "330782"), ("永康市", "city", "330784"),
    ("浦江县", "county", "330726"), ("武义县", "county", "330723"), ("磐安县", "county", "330727"),
    ("金华开发区", "zone", None),
]


@pytest.mark.parametrize(("name", "kind", "division_code"), COUNTIES, ids=[c[0] for c in COUNTIES])
def test_county(db, name, kind, division_code):
    county = _one(db, County, name=name)
    assert (county.kind, county.division_code) == (kind, division_code)


def test_ten_counties_and_zones(db):
    assert len(db.session.scalars(select(County)).all()) == 10


# ---------------------------------------------------------------- 三、重点任务

RULE_OPENINGS = {
    "K1": "暂时关停网吧", "K2": "养老机构、儿童福利院", "K3": "全市景区", "K4": "宗教活动和民间信仰活动场所",
    "K5": "餐饮场所要提倡打包", "K6": "倡导“红事”缓办", "K7": "按照“非必要不举办", "K8": "“行程卡”带*号",
    "K9": "严密涉疫数据", "K10": "各党政机关、企事业单位", "K11": "各社区（村）要主动应对",
}


@pytest.mark.parametrize("code", list(RULE_OPENINGS))
def test_rule_quotes_its_task(db, code):
    rule = _one(db, Rule, code=code)
    assert rule.section == f"三.{code[1:]}"
    assert rule.source_text.startswith(RULE_OPENINGS[code])
    # K9 is a data workflow with nothing to observe at a venue: no checks (rules.yaml says why).
    assert bool(rule.checks) == (code != "K9"), "every venue rule has at least one check"


def test_exactly_k1_to_k11(db):
    assert set(db.session.scalars(select(Rule.code))) == set(RULE_OPENINGS)


def test_k9_applies_to_no_venue(db):
    assert _one(db, Rule, code="K9").categories == []


# (venue kind as named in 三, category code, rule)
VENUE_KINDS = [
    ("网吧", "internet_cafe", "K1"), ("KTV", "ktv", "K1"), ("酒吧", "bar", "K1"),
    ("棋牌室", "chess_card_room", "K1"), ("麻将馆", "mahjong_parlor", "K1"), ("游戏厅", "game_arcade", "K1"),
    ("桌游室", "board_game_room", "K1"), ("密室逃脱", "escape_room", "K1"), ("SPA馆", "spa", "K1"),
    ("艾灸馆", "moxibustion", "K1"), ("洗浴", "bathhouse", "K1"), ("足浴", "foot_bath", "K1"),
    ("教育培训机构", "training_institution", "K1"),
    ("养老机构", "elderly_care", "K2"), ("儿童福利院", "child_welfare", "K2"), ("学校", "school", "K2"),
    ("景区", "scenic_area", "K3"), ("影剧院", "theatre", "K3"), ("图书馆", "library", "K3"),
    ("文化馆", "cultural_center", "K3"), ("美术馆", "art_gallery", "K3"), ("博物馆", "museum", "K3"),
    ("体育馆", "gymnasium", "K3"),
    ("宗教活动", "religious_site", "K4"), ("民间信仰活动场所", "folk_belief_site", "K4"),
    ("餐饮场所", "restaurant", "K5"),
    ("红事", "wedding_banquet", "K6"), ("白事", "funeral_event", "K6"),
    ("会议活动", "meeting_event", "K7"), ("酒店", "hotel", "K7"), ("宾馆", "hotel", "K7"),
    ("机场", "airport", "K8"), ("车站", "station", "K8"), ("宾馆酒店", "hotel", "K8"),
    ("党政机关", "party_government_agency", "K10"), ("企事业单位", "enterprise_institution", "K10"),
    ("社区", "community", "K11"), ("村", "village", "K11"),
]


@pytest.mark.parametrize(("kind", "code", "rule_code"), VENUE_KINDS, ids=[f"{v[0]}-{v[2]}" for v in VENUE_KINDS])
def test_every_venue_kind_of_the_tasks_has_a_category_and_rule(db, kind, code, rule_code):
    category = _one(db, VenueCategory, code=code)
    rule = _one(db, Rule, code=rule_code)
    assert kind in rule.source_text
    assert kind in category.name, f"{category.name} does not name {kind}"
    assert rule in category.rules
    assert category.locality_responsible


# (venue category, responsible department as named in 四)
NAMED_IN_DUTIES = [
    ("religious_site", "市委统战部"), ("folk_belief_site", "市委统战部"),
    ("school", "市教育局"), ("training_institution", "市教育局"),
    ("child_welfare", "市民政局"), ("elderly_care", "市民政局"), ("funeral_home", "市民政局"),
    ("construction_site", "市建设局"), ("station", "市交通运输局"), ("village", "市农业农村局"),
    ("shopping_mall", "市商务局"),
    ("scenic_area", "市文广旅游局"), ("theatre", "市文广旅游局"), ("library", "市文广旅游局"),
    ("cultural_center", "市文广旅游局"), ("art_gallery", "市文广旅游局"), ("museum", "市文广旅游局"),
    ("hotel", "市文广旅游局"), ("internet_cafe", "市文广旅游局"), ("ktv", "市文广旅游局"),
    ("bar", "市文广旅游局"), ("game_arcade", "市文广旅游局"),
    ("hospital", "市卫生健康委"), ("clinic", "市卫生健康委"), ("mental_health_institution", "市卫生健康委"),
    ("farmers_market", "市市场监管局"), ("pharmacy", "市市场监管局"), ("gymnasium", "市体育局"),
]


@pytest.mark.parametrize(("code", "department"), NAMED_IN_DUTIES)
def test_category_named_in_duties_has_that_department(db, code, department):
    category = _one(db, VenueCategory, code=code)
    assert department in [d.name for d in category.departments]
    assert category.responsibility_source == "document"


# Kinds 四 names no department for: the 属地 government alone (四.18); 四.1 gives 公安 only a
# supporting role, and 四.9 names 商务局 for 大型商场超市, not 餐饮.
DEFAULTS = [
    ("chess_card_room", []), ("mahjong_parlor", []), ("board_game_room", []),
    ("escape_room", []), ("spa", []), ("moxibustion", []),
    ("bathhouse", []), ("foot_bath", []), ("restaurant", []),
]


@pytest.mark.parametrize(("code", "departments"), DEFAULTS)
def test_gap_in_duties_is_filled_by_default(db, code, departments):
    category = _one(db, VenueCategory, code=code)
    assert [d.name for d in category.departments] == departments
    assert category.responsibility_source == "default"
    assert category.locality_responsible


@pytest.mark.parametrize(("code", "capacity", "count", "expected"), [
    ("scenic_area", 800, 400, COMPLIANT), ("scenic_area", 800, 401, VIOLATION),
    ("religious_site", 11, 5, COMPLIANT), ("religious_site", 11, 6, VIOLATION),
])
def test_capacity_rules_from_the_database(db, make_venue, code, capacity, count, expected):
    """The rules as stored (JSON on either backend) still evaluate exactly against a venue."""
    venue = make_venue(category=_one(db, VenueCategory, code=code), approved_capacity=capacity)
    (bundle,) = rules_bundle_for_category(venue.category)
    item = bundle["items"][0]["code"]
    result = evaluate_rule(bundle, venue=venue_facts(venue), observations={item: count})
    assert result.verdict == expected
