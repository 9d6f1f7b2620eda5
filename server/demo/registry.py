"""A realistic demo registry: venues over every county and category, inspectors, one user per role.

Everything is drawn from a fixed random seed, so the same reference data always gives the same
registry; seeding again inserts only what is missing (venues by county + name, users by username).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from ..accounts.models.user import User
from ..accounts.passwords import hash_password
from ..audit.chain import record_event
from ..extensions import db
from ..registry.credit_code import ALPHABET, check_character
from ..registry.models.reference import County, Department, VenueCategory
from ..registry.models.venue import Venue
from ..roles import ROLE_LABELS

DEMO_SEED = 20211214
DEMO_PASSWORD = "anfang-demo-2021"
VENUE_COUNT = 2400
INSPECTOR_COUNT = 64

# Approximate centres (lat, lon) so that demo venues fall inside the right territory.
COUNTY_CENTRES = {
    "婺城区": (29.08, 119.65), "金东区": (29.10, 119.70), "兰溪市": (29.21, 119.46),
    "东阳市": (29.29, 120.24), "义乌市": (29.31, 120.08), "永康市": (28.89, 120.05),
    "浦江县": (29.45, 119.89), "武义县": (28.89, 119.82), "磐安县": (29.05, 120.45),
    "金华开发区": (29.10, 119.60),
}

TOWNS = {
    "婺城区": ["城东街道", "城中街道", "城西街道", "城北街道", "江南街道", "西关街道", "新狮街道", "罗店镇", "白龙桥镇", "汤溪镇", "琅琊镇"],
    "金东区": ["多湖街道", "东孝街道", "孝顺镇", "傅村镇", "曹宅镇", "澧浦镇", "岭下镇", "江东镇", "塘雅镇"],
    "兰溪市": ["兰江街道", "云山街道", "上华街道", "永昌街道", "赤溪街道", "女埠街道", "游埠镇", "诸葛镇"],
    "东阳市": ["吴宁街道", "白云街道", "江北街道", "城东街道", "六石街道", "歌山镇", "横店镇", "南马镇", "巍山镇"],
    "义乌市": ["稠城街道", "北苑街道", "稠江街道", "江东街道", "后宅街道", "城西街道", "廿三里街道", "福田街道", "佛堂镇", "苏溪镇", "上溪镇", "大陈镇"],
    "永康市": ["东城街道", "西城街道", "江南街道", "石柱镇", "古山镇", "芝英镇", "龙山镇", "象珠镇"],
    "浦江县": ["浦阳街道", "仙华街道", "浦南街道", "黄宅镇", "郑宅镇", "岩头镇", "杭坪镇"],
    "武义县": ["熟溪街道", "白洋街道", "壶山街道", "王宅镇", "履坦镇", "柳城畲族镇", "桃溪镇"],
    "磐安县": ["安文街道", "新渥街道", "尖山镇", "玉山镇", "仁川镇", "深泽乡"],
    "金华开发区": ["三江街道", "秋滨街道", "苏孟乡", "汤溪镇"],
}

# Relative share of venues per county, roughly by population.
COUNTY_WEIGHTS = {
    "婺城区": 1.4, "金东区": 0.9, "兰溪市": 0.9, "东阳市": 1.3, "义乌市": 2.0, "永康市": 1.1,
    "浦江县": 0.7, "武义县": 0.7, "磐安县": 0.4, "金华开发区": 0.5,
}

ROADS = ["人民路", "解放路", "八一北街", "宾虹路", "李渔路", "双龙南街", "环城南路", "婺江东路", "丹溪路",
         "迎宾大道", "工人路", "中山路", "新华街", "江滨路", "光明路", "胜利街", "丽州路", "稠州北路",
         "城中路", "兴业街", "站前路", "文化路", "青春路", "望江路", "劳动路", "五一路"]

BRANDS = ["八咏", "婺州", "双龙", "尖峰", "芙蓉", "兰江", "稠州", "宝石", "明珠", "鑫源", "恒达", "华美", "万家",
          "聚福", "锦绣", "康乐", "阳光", "星河", "如意", "同心", "和美", "天一", "嘉禾", "祥和", "丰泽", "东湖",
          "金桂", "紫薇", "翠湖", "云帆", "鸿运", "瑞丰", "欣悦", "新城", "江南", "悦来", "百合", "长虹", "银河",
          "金鹰", "顺发", "永安", "和谐", "春晖", "朝阳", "丹桂", "梧桐", "乐园", "山水", "书香", "福瑞", "佳园"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严覃武洪"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌海燕鹏辉玲波宁飞婷雪琳晨浩亮凯佳欣怡帆俊宇峰颖岚晓莉丹萍慧"

# Name pattern, capacity range and relative frequency by a keyword of the category's name.
# The first matching keyword wins; unmatched categories use the fallback.
CATEGORY_STYLES = [
    ("网吧", ["{b}网咖", "{b}网络会所"], (60, 300), 3),
    ("KTV", ["{b}KTV", "{b}量贩式KTV"], (80, 400), 2),
    ("酒吧", ["{b}酒吧", "{b}清吧"], (40, 200), 2),
    ("棋牌", ["{b}棋牌室"], (16, 80), 4),
    ("麻将", ["{b}麻将馆"], (16, 60), 3),
    ("游戏厅", ["{b}电玩城", "{b}游艺厅"], (50, 300), 1),
    ("桌游", ["{b}桌游吧"], (20, 60), 1),
    ("密室", ["{b}密室逃脱"], (20, 80), 1),
    ("SPA", ["{b}SPA会所"], (10, 60), 1),
    ("艾灸", ["{b}艾灸馆"], (8, 40), 1),
    ("洗浴", ["{b}洗浴中心"], (60, 300), 1),
    ("足浴", ["{b}足浴店", "{b}足道"], (10, 60), 3),
    ("培训", ["{b}教育培训学校", "{b}艺术培训中心", "{b}英语培训"], (30, 300), 4),
    ("养老", ["{t}{b}颐养院", "{b}养老服务中心"], (40, 400), 2),
    ("福利", ["{c}儿童福利院"], (30, 150), 0.2),
    ("学校", ["{t}中心小学", "{b}中学", "{b}实验学校"], (300, 3000), 4),
    ("景区", ["{b}风景区", "{b}山景区"], (500, 8000), 1),
    ("影剧院", ["{b}影城", "{b}大剧院"], (200, 1500), 1),
    ("图书馆", ["{t}图书馆分馆", "{b}书屋"], (80, 800), 1),
    ("文化馆", ["{t}文化馆", "{t}文化站"], (100, 600), 1),
    ("美术馆", ["{b}美术馆"], (100, 500), 0.5),
    ("博物馆", ["{b}博物馆", "{t}民俗博物馆"], (150, 1200), 0.5),
    ("体育", ["{t}体育馆", "{b}全民健身中心"], (300, 5000), 1),
    ("宗教", ["{b}寺", "{t}基督教堂", "{b}禅寺"], (50, 800), 1),
    ("民间信仰", ["{t}{b}庙", "{b}殿"], (30, 300), 1),
    ("餐饮", ["{b}酒家", "{b}饭店", "{b}土菜馆", "{b}大酒店"], (40, 600), 10),
    ("婚", ["{b}婚宴中心"], (100, 800), 0.8),
    ("红事", ["{b}婚宴中心"], (100, 800), 0.8),
    ("殡", ["{c}殡仪馆"], (50, 400), 0.2),
    ("白事", ["{t}{b}治丧礼堂"], (50, 300), 0.5),
    ("会议", ["{b}国际会议中心", "{b}会展中心"], (100, 2000), 0.6),
    ("酒店", ["{b}大酒店", "{b}宾馆", "{b}商务酒店"], (60, 800), 3),
    ("宾馆", ["{b}宾馆", "{b}商务酒店"], (40, 400), 2),
    ("机场", ["{c}机场"], (500, 5000), 0.1),
    ("车站", ["{t}汽车站", "{c}火车站"], (200, 3000), 0.6),
    ("党政", ["{c}{t}办事处", "{t}人民政府"], (50, 400), 1.5),
    ("机关", ["{c}{t}办事处", "{t}人民政府"], (50, 400), 1.5),
    ("企事业", ["{b}实业有限公司", "{b}工贸有限公司", "{b}科技有限公司"], (20, 2000), 8),
    ("工地", ["{b}花园项目工地", "{b}大厦建设工地"], (50, 800), 2),
    ("商场", ["{b}购物中心", "{b}超市", "{b}百货"], (200, 5000), 3),
    ("超市", ["{b}超市", "{b}生活超市"], (50, 1000), 3),
    ("农贸", ["{t}农贸市场"], (200, 2000), 1.5),
    ("药店", ["{b}大药房", "{b}药店"], (5, 40), 4),
    ("医院", ["{c}{b}医院", "{t}卫生院"], (200, 3000), 1),
    ("诊所", ["{b}诊所", "{b}中医门诊部"], (5, 40), 2),
    ("社区", ["{t}{b}社区"], (None, None), 4),
    ("村", ["{t}{b}村"], (None, None), 5),
]
FALLBACK_STYLE = (["{b}{n}"], (30, 300), 1)

# The first two characters of the unit's 统一社会信用代码 (GB 32100-2015: 登记管理部门码 and
# 机构类别码) by category: 11 机关, 12 事业单位 (机构编制部门), 52 民办非企业单位 (民政部门),
# 71 宗教活动场所 (宗教事务部门), otherwise 91 企业 (市场监管部门). Categories whose venues
# have no unit of their own (a village, a community, a building site, a funeral at home, a
# folk shrine) get no code: their party is found in the investigation.
CREDIT_CODE_PREFIXES = {
    "party_government_agency": "11", "school": "12", "hospital": "12", "library": "12",
    "cultural_center": "12", "art_gallery": "12", "museum": "12", "child_welfare": "12", "funeral_home": "12",
    "mental_health_institution": "12", "training_institution": "52", "elderly_care": "52", "religious_site": "71",
}
NO_UNIT_CATEGORIES = ("community", "village", "construction_site", "funeral_event", "folk_belief_site")
# 金华市市辖区: the registering authority of a functional zone, which has no division code of its own.
CITY_DIVISION_CODE = "330701"


@dataclass
class DemoReport:
    venues_created: int = 0
    users_created: int = 0
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role label, username, note)


def _style_for(category: VenueCategory):
    for keyword, patterns, capacity, weight in CATEGORY_STYLES:
        if keyword in category.name:
            return patterns, capacity, weight
    return FALLBACK_STYLE


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(["135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "187", "188"]) + \
        f"{rng.randrange(10**8):08d}"


def _organisation_code(rng: random.Random, prefix: str) -> str:
    """A 主体标识码 (positions 9–17): eight characters and the GB 11714-1997 check character.

    Enterprises and social organisations registered since 2015 get codes beginning MA; older
    public bodies keep their former eight-digit organisation codes."""
    if prefix in ("91", "52"):
        body = "MA" + "".join(rng.choice(ALPHABET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    remainder = 11 - sum(int(char, 36) * weight for char, weight in zip(body, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    return body + {10: "X", 11: "0"}.get(remainder, str(remainder))


def _credit_code(category: VenueCategory, county: County, name: str) -> str | None:
    """The demo unit's 统一社会信用代码, valid under GB 32100-2015, or None for a venue without a unit.

    Drawn from the venue's own name (not the registry's random stream), so adding codes changed
    no other demo data and a venue keeps its code when the registry is seeded again."""
    if category.code in NO_UNIT_CATEGORIES:
        return None
    prefix = CREDIT_CODE_PREFIXES.get(category.code, "91")
    rng = random.Random(hashlib.sha256(f"{county.name}|{name}".encode()).digest())
    first17 = prefix + (county.division_code or CITY_DIVISION_CODE) + _organisation_code(rng, prefix)
    return first17 + check_character(first17)


def _venues(rng: random.Random, counties: list[County], categories: list[VenueCategory]) -> list[dict]:
    county_weights = [COUNTY_WEIGHTS.get(c.name, 1.0) for c in counties]
    styles = {c.id: _style_for(c) for c in categories}
    # Every category appears in several counties; the rest is drawn by frequency.
    plan = [cat for cat in categories for _ in range(3)]
    weights = [styles[c.id][2] for c in categories]
    plan += rng.choices(categories, weights=weights, k=VENUE_COUNT - len(plan))
    seen: set[tuple[int, str]] = set()
    rows = []
    for index, category in enumerate(plan):
        county = counties[index % len(counties)] if index < len(counties) * 2 else \
            rng.choices(counties, weights=county_weights)[0]
        patterns, (low, high), _ = styles[category.id]
        town = rng.choice(TOWNS.get(county.name, ["城区"]))
        name = rng.choice(patterns).format(b=rng.choice(BRANDS), t=town, c=county.name, n=category.name)
        base, branch = name, 1
        while (county.id, name) in seen:
            branch += 1
            name = f"{base}（{branch}号店）" if "{b}" in patterns[0] else f"{base}{branch}"
        seen.add((county.id, name))
        lat, lon = COUNTY_CENTRES.get(county.name, (29.08, 119.65))
        rows.append(dict(
            name=name,
            category_id=category.id,
            county_id=county.id,
            town=town,
            address=f"金华市{county.name}{town}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
            latitude=Decimal(f"{lat + rng.uniform(-0.08, 0.08):.6f}"),
            longitude=Decimal(f"{lon + rng.uniform(-0.08, 0.08):.6f}"),
            approved_capacity=rng.randint(low, high) if low else None,
            operator_name=_person_name(rng),
            contact_phone=_phone(rng),
            credit_code=_credit_code(category, county, name),
        ))
    return rows


def _users(rng: random.Random, departments: list[Department], counties: list[County]) -> list[dict]:
    police = next((d for d in departments if d.is_enforcement_authority), departments[0])
    culture = next((d for d in departments if "文广旅游" in d.name), departments[0])
    yiwu = next((c for c in counties if c.name == "义乌市"), counties[0])
    users = [
        dict(username="office", display_name="办公室值班员", role="office", department_id=police.id),
        # A second office user: an accountability report is reviewed and issued by someone other
        # than its drafter (four eyes), so the demo's office story needs two people.
        dict(username="office2", display_name="办公室审核员", role="office", department_id=police.id),
        dict(username="enforcement", display_name="治安支队执法员", role="enforcement", department_id=police.id,
             enforcement_certificate_no="浙执金00001"),
        dict(username="enforcement2", display_name="治安支队执法员二", role="enforcement", department_id=police.id,
             enforcement_certificate_no="浙执金00002"),
        dict(username="propaganda", display_name="宣传干事", role="propaganda", department_id=police.id),
        dict(username="department", display_name="文广旅游局联络员", role="department", department_id=culture.id),
        dict(username="county", display_name="义乌市联络员", role="county", county_id=yiwu.id),
        dict(username="auditor", display_name="纪检监督员", role="auditor"),
        dict(username="admin", display_name="系统管理员", role="admin"),
    ]
    # Inspectors come from several departments and every county; about half hold an enforcement
    # certificate (all police officers do) so that teams proposing penalties can be formed.
    for n in range(1, INSPECTOR_COUNT + 1):
        department = police if n % 4 == 0 else rng.choice(departments)
        certified = department.id == police.id or rng.random() < 0.35
        users.append(dict(
            username=f"inspector{n:02d}",
            display_name=_person_name(rng),
            role="inspector",
            department_id=department.id,
            county_id=counties[n % len(counties)].id,
            enforcement_certificate_no=f"浙执金{100 + n:05d}" if certified else None,
            phone=_phone(rng),
        ))
    return users


def _fill_missing_credit_codes(venue_rows: list[dict]) -> None:
    """Demo venues seeded before venues held a credit code get theirs when seeding again."""
    codes = {(row["county_id"], row["name"]): row["credit_code"] for row in venue_rows if row["credit_code"]}
    for venue in db.session.scalars(sa.select(Venue).where(Venue.credit_code.is_(None))):
        venue.credit_code = codes.get((venue.county_id, venue.name))


def seed_demo() -> DemoReport:
    """Insert the demo registry and users that are not there yet. Needs reference data loaded."""
    counties = list(db.session.scalars(sa.select(County).order_by(County.sort_order, County.code)))
    categories = list(db.session.scalars(sa.select(VenueCategory).order_by(VenueCategory.sort_order, VenueCategory.code)))
    departments = list(db.session.scalars(sa.select(Department).order_by(Department.sort_order, Department.code)))
    if not (counties and categories and departments):
        raise LookupError("参考数据尚未导入，请先运行 anfang reference load")

    rng = random.Random(DEMO_SEED)
    report = DemoReport()

    existing_venues = set(db.session.execute(sa.select(Venue.county_id, Venue.name)).all())
    venue_rows = _venues(rng, counties, categories)
    new_venues = [row for row in venue_rows if (row["county_id"], row["name"]) not in existing_venues]
    if new_venues:
        db.session.execute(sa.insert(Venue), new_venues)
    report.venues_created = len(new_venues)
    _fill_missing_credit_codes(venue_rows)

    existing_users = set(db.session.scalars(sa.select(User.username)))
    password_hash = None
    for row in _users(rng, departments, counties):
        if row["username"] not in existing_users:
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            db.session.add(User(password_hash=password_hash, **row))
            report.users_created += 1
    if report.venues_created or report.users_created:
        record_event("demo.seeded", channel="cli", object_type="demo",
                     details={"seed": DEMO_SEED, "venues": report.venues_created, "users": report.users_created})
    db.session.flush()

    for username in ("office", "office2", "inspector01", "inspector04", "enforcement", "propaganda", "department",
                     "county", "auditor", "admin"):
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is not None:
            scope = user.department.name if user.department else (user.county.name if user.county else "全市")
            report.logins.append((ROLE_LABELS[user.role], username, scope))
    return report
