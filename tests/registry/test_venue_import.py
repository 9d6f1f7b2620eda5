"""The office keeps the register from a spreadsheet: downloads the template, fills 200 venues,
sees the dry run name each deliberate error (row, column, reason) with nothing written, fixes
them, imports all 200 in one go (versioned and audited), and draws from the new venues."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws.creation import create_draw
from server.draws.seeding import contribute
from server.accounts.inspector_import import import_inspectors
from server.registry.models.venue import Venue, VenueVersion
from server.registry.venue_import import import_venues

from venue_helpers import bearer, broken_check, credit_code, person

HEADINGS = ["名称", "类别", "县（市、区）", "乡镇（街道）", "地址", "经营者", "统一社会信用代码", "核定人数",
            "包厢座位数", "经度", "纬度"]


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def venue_rows(tag: str, base: int) -> list[list]:
    """200 venues: 120 KTVs in 婺城区 with rooms, 50 restaurants with rooms, 30 theatres with 核定人数."""
    rows = []
    for n in range(200):
        code = credit_code(base + n)
        if n < 120:
            rows.append([f"欢唱KTV{tag}-{n}", "KTV", "婺城区", "城东街道", f"八一北街{tag}-{n}号", "张三", code, None,
                         "包厢A:12;包厢B:8", 119.65 + n / 10_000, 29.08])
        elif n < 170:
            rows.append([f"家常菜馆{tag}-{n}", "餐饮场所", "金东区", "多湖街道", f"光南路{tag}-{n}号", "李四", code,
                         None, "包厢1:10；包厢2:6", "119.70", "29.10"])
        else:
            rows.append([f"人民影剧院{tag}-{n}", "theatre", "jindong", "东孝街道", f"李渔路{tag}-{n}号", None, code,
                         800, None, 119.72, 29.12])
    return rows


def workbook_bytes(template: bytes, rows: list[list]) -> bytes:
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook.worksheets[0]
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def office(db):
    return person(db, "office")


def test_template_fill_dry_run_fix_import_and_draw(client, db, office):
    template = client.get("/api/v1/venues/template.xlsx", headers=bearer(db, office))
    assert template.status_code == 200
    assert [cell.value for cell in load_workbook(io.BytesIO(template.data)).worksheets[0][1]] == HEADINGS

    tag = uuid.uuid4().hex[:6]
    base = uuid.uuid4().int % 9_000_000
    rows = venue_rows(tag, base)
    good = {11: rows[9][6], 51: rows[49][10], 101: rows[99][6]}  # spreadsheet row → the right value
    rows[9][6] = broken_check(rows[9][6])  # row 11: a mistyped check character
    rows[49][10] = 31.23  # row 51: a latitude of Shanghai
    rows[99][6] = rows[4][6]  # row 101: the credit code of row 6 again
    venues_before, versions_before, events_before = count(db, Venue), count(db, VenueVersion), count(db, AuditEvent)

    report = import_venues(office, workbook_bytes(template.data, rows), "台账.xlsx", dry_run=True)
    assert report.rows == 200 and not report.written
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (11, "统一社会信用代码", "统一社会信用代码校验位不符，请核对。"),
        (51, "纬度", "纬度 31.23 不在金华市范围内（北纬 28.50–29.70）。"),
        (101, "统一社会信用代码", "与第 6 行的统一社会信用代码重复。"),
    ]
    assert report.problems[0].line() == "第 11 行“统一社会信用代码”列：统一社会信用代码校验位不符，请核对。"
    # Asked to import for real, a file with problems still writes nothing.
    report = import_venues(office, workbook_bytes(template.data, rows), "台账.xlsx", dry_run=False)
    assert len(report.problems) == 3 and not report.written
    assert (count(db, Venue), count(db, VenueVersion), count(db, AuditEvent)) == \
        (venues_before, versions_before, events_before)

    rows[9][6], rows[49][10], rows[99][6] = good[11], good[51], good[101]
    fixed = workbook_bytes(template.data, rows)
    assert import_venues(office, fixed, "台账.xlsx", dry_run=True).problems == []
    assert count(db, Venue) == venues_before
    report = import_venues(office, fixed, "台账.xlsx", dry_run=False)
    db.session.commit()
    assert report.problems == [] and report.written and report.created == 200

    imported = db.session.scalars(sa.select(Venue).where(Venue.name.like(f"%{tag}%")).order_by(Venue.id)).all()
    assert len(imported) == 200
    ktv, restaurant, theatre = imported[0], imported[120], imported[199]
    assert [(r.name, r.seats) for r in ktv.rooms] == [("包厢A", 12), ("包厢B", 8)]
    assert [(r.name, r.seats) for r in restaurant.rooms] == [("包厢1", 10), ("包厢2", 6)]
    assert theatre.approved_capacity == 800 and theatre.rooms == [] and theatre.county.code == "jindong"
    assert count(db, VenueVersion) == versions_before + 200
    created = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "venue.created",
                                                             AuditEvent.object_id.in_([str(v.id) for v in imported])))
    assert len(created.all()) == 200
    summary = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "venue.imported")
                                .order_by(AuditEvent.seq.desc()))
    assert summary.details["created"] == 200 and sorted(summary.details["venue_ids"]) == [v.id for v in imported]

    # Importing the same file again refuses every row as a duplicate of a registered venue.
    again = import_venues(office, fixed, "台账.xlsx", dry_run=True)
    assert len(again.problems) == 200 and "请选择合并导入" in again.problems[0].message
    merged = import_venues(office, fixed, "台账.xlsx", dry_run=False, merge=True)
    assert merged.written and merged.created == 0 and merged.merged == 200

    # The office draws over the new venues' county and category: the draw takes them.
    inspectors = Workbook()
    inspectors.active.append(["用户名", "姓名", "部门", "县（市、区）", "执法证号", "手机号"])
    for n in range(8):
        inspectors.active.append([f"insp{tag}{n}", f"督查员{n}", "市市场监管局", "兰溪市",
                                  f"ZJ{tag}{n}" if n % 2 else None, None])
    buffer = io.BytesIO()
    inspectors.save(buffer)
    assert import_inspectors(office, buffer.getvalue(), "督查人员.xlsx", dry_run=False).created == 8
    start = utcnow() + timedelta(hours=1)
    draw = create_draw(office, counties=["wucheng"], categories=["ktv"], sample_size=6, window_start=start,
                       window_end=start + timedelta(days=2))
    draw = contribute(draw, person(db, "auditor"), f"纪检随机数-{uuid.uuid4().hex}")
    drawn = {assignment.venue_id for assignment in draw.assignments}
    assert len(drawn) == 6 and drawn <= {venue.id for venue in imported[:120]}


def test_csv_template_and_file_level_problems(client, db, office):
    template = client.get("/api/v1/venues/template.csv", headers=bearer(db, office))
    assert template.status_code == 200 and template.data.startswith(b"\xef\xbb\xbf")
    assert template.data.decode("utf-8-sig").strip() == ",".join(HEADINGS)
    outsider = client.get("/api/v1/venues/template.csv", headers=bearer(db, person(db, "inspector")))
    assert outsider.status_code == 403

    report = import_venues(office, "名称,类型\n某场所,KTV\n".encode(), "x.csv", dry_run=True)
    lines = [p.line() for p in report.problems]
    assert "第 1 行“类型”列：不是模板中的列，请删除或改正列名。" in lines
    assert "第 1 行“县（市、区）”列：缺少该列（请使用下载的模板）。" in lines
    assert import_venues(office, b"\x00\x01garbage", "x.xlsx", dry_run=True).problems[0].message.startswith("无法读取")

    # GB 18030, as Excel on a Chinese Windows saves CSV, with ASCII brackets in a heading.
    tag = uuid.uuid4().hex[:6]
    text = ",".join(HEADINGS).replace("（", "(").replace("）", ")") + "\n" + \
        f"茶楼{tag},棋牌室,义乌市,稠城街道,工人路{tag}号,王五,,,,,\n"
    report = import_venues(office, text.encode("gb18030"), "x.csv", dry_run=False)
    assert report.problems == [] and report.created == 1
    venue = db.session.scalar(sa.select(Venue).where(Venue.name == f"茶楼{tag}"))
    assert venue.category.code == "chess_card_room" and venue.county.code == "yiwu"


def test_inspector_import_without_passwords_and_audited(db, office):
    tag = uuid.uuid4().hex[:6]
    existing = person(db, "inspector", enforcement_certificate_no=f"OLD{tag}")
    header = "用户名,姓名,部门,县（市、区）,执法证号,手机号\n"
    rows = (f"a{tag},赵一,市市场监管局,婺城区,N{tag}1,13900000000\n"
            f"b{tag},钱二,market_supervision,lanxi,,\n"
            f"{existing.username},孙三,市公安局,婺城区,,\n"
            f"c{tag},李四,不存在的局,婺城区,OLD{tag},\n"
            f"d{tag},周五,市公安局,婺城区,N{tag}1,\n")
    before = count(db, AuditEvent)
    report = import_inspectors(office, (header + rows).encode(), "i.csv", dry_run=True)
    assert [(p.row, p.column) for p in report.problems] == [
        (4, "用户名"), (5, "部门"), (5, "执法证号"), (6, "执法证号")]
    assert "已登记在其他用户名下" in report.problems[2].message and "与第 2 行" in report.problems[3].message
    assert count(db, AuditEvent) == before

    report = import_inspectors(office, (header + rows.split("\n", 2)[0] + "\n" + rows.split("\n")[1] + "\n").encode(),
                               "i.csv", dry_run=False)
    assert report.written and report.created == 2
    from server.accounts.models.user import User

    made = db.session.scalars(sa.select(User).where(User.username.in_([f"a{tag}", f"b{tag}"]))
                              .order_by(User.username)).all()
    assert [(u.role, u.password_hash, u.department.code, u.county.code) for u in made] == [
        ("inspector", None, "market_supervision", "wucheng"), ("inspector", None, "market_supervision", "lanxi")]
    assert made[0].enforcement_certificate_no == f"N{tag}1" and made[1].enforcement_certificate_no is None
    audited = db.session.scalars(sa.select(AuditEvent.object_id).where(AuditEvent.action == "user.created",
                                                                       AuditEvent.seq > 0)).all()
    assert {str(u.id) for u in made} <= set(audited)
    with pytest.raises(Exception) as refused:
        import_inspectors(person(db, "inspector"), (header + rows).encode(), "i.csv", dry_run=True)
    assert refused.value.status == 403


def test_cli_one_line_per_problem_and_counts(cli, db, office, tmp_path):
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "venues.csv"
    good = credit_code(uuid.uuid4().int % 9_000_000)
    path.write_text(",".join(HEADINGS) + "\n"
                    f"歌城{tag},KTV,婺城区,城东街道,解放路{tag}号,张三,{broken_check(good)},,包厢A:12,121.5,29.1\n"
                    f"书场{tag},影剧院,婺城区,城东街道,解放路{tag}-2号,张三,,,,,\n", encoding="utf-8")
    db.session.commit()
    result = cli.invoke(args=["registry", "import", str(path), "--dry-run", "--by", office.username])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "错误：第 2 行“统一社会信用代码”列：统一社会信用代码校验位不符，请核对。",
        "错误：第 2 行“经度”列：经度 121.5 不在金华市范围内（东经 119.20–120.80）。",
        "错误：第 3 行“核定人数”列：影剧院须登记核定人数（检查时按核定人数的比例判断）。",
        "共 2 行，发现 3 个问题，未写入任何数据。",
    ]
    path.write_text(",".join(HEADINGS) + "\n"
                    f"歌城{tag},KTV,婺城区,城东街道,解放路{tag}号,张三,{good},,包厢A:12,119.6,29.1\n"
                    f"书场{tag},影剧院,婺城区,城东街道,解放路{tag}-2号,张三,,500,,,\n", encoding="utf-8")
    result = cli.invoke(args=["registry", "import", str(path), "--dry-run", "--by", office.username])
    assert result.exit_code == 0 and "正式导入将新增 2 个场所" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Venue).where(Venue.name.like(f"%{tag}"))) == 0
    result = cli.invoke(args=["registry", "import", str(path), "--by", office.username])
    assert result.exit_code == 0 and result.output.strip() == "已导入：共 2 行，新增 2 个场所。"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Venue).where(Venue.name.like(f"%{tag}"))) == 2

    refused = cli.invoke(args=["registry", "import", str(path), "--by", "nobody-" + tag])
    assert refused.exit_code == 1 and len(refused.stderr.splitlines()) == 1 and refused.stderr.startswith("错误：")
    missing = cli.invoke(args=["registry", "import", str(tmp_path / "none.csv"), "--by", office.username])
    assert missing.exit_code == 1 and missing.stderr.strip() == f"错误：无法读取文件 {tmp_path / 'none.csv'}。"
    inspector = person(db, "inspector")
    db.session.commit()
    forbidden = cli.invoke(args=["registry", "import", str(path), "--by", inspector.username])
    assert forbidden.exit_code == 1 and "无权" in forbidden.stderr and len(forbidden.stderr.splitlines()) == 1

    people = tmp_path / "inspectors.csv"
    people.write_text("用户名,姓名,部门,县（市、区）,执法证号,手机号\n"
                      f"x{tag},吴六,市公安局,永康市,,\n", encoding="utf-8")
    result = cli.invoke(args=["registry", "import-inspectors", str(people), "--by", office.username])
    assert result.exit_code == 0 and result.output.strip() == "已导入：共 1 行，新增 1 个督查人员。"
    template = tmp_path / "t.xlsx"
    assert cli.invoke(args=["registry", "template", str(template)]).exit_code == 0
    assert [c.value for c in load_workbook(template).worksheets[0][1]] == HEADINGS
