"""The 行政执法文书 format of the 告知书, 决定书, 整改通知书 and 检查记录 as issued (DESIGN.md §7):
the organ's name over the document's name, the number under them, the body in 仿宋
(FandolFang where no licensed 仿宋 is installed), the 落款 on the page of the last paragraph,
the 核验码 with its QR code at the foot of every page, and nothing of the software."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import segno
from document_helpers import ISSUED_ON, KINDS, MM, pdffonts, pdftotext, sample
from PIL import Image

from server.enforcement import documents as service
from server.pdf.fonts import FANGSONG_FAMILIES, cjk_font_families
from server.pdf.rendering import cn_date

TITLES = {"penalty_notice": "行政处罚告知书", "penalty_decision": "行政处罚决定书",
          "rectification_order": "责令（限期）整改通知书", "inspection_record": "检查记录"}
SOFTWARE = {
    "a SHA-256": re.compile(r"SHA-256|[0-9a-f]{64}", re.I),
    "a rule code": re.compile(r"(?<![A-Za-z0-9])K\d+"),
    "a check code": re.compile(r"k\d+_[a-z_]+"),
    "a UUID": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I),
    "the program's name": re.compile(r"anfang", re.I),
    "an API path": re.compile(r"/api/"),
    "an internal case number": re.compile(r"案件编号"),
    "a red-header 版记": re.compile(r"印发"),
}
FOOT = re.compile(r"签发时审计链：第\d+条，哈希[0-9a-f]+…|核验码|扫码或访问|核验本文书真伪|第\d+页|共\d+页")


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def officer(make_user):
    return make_user("enforcement")


def issue(kind, officer, context=None):
    return service.issue_document(kind, sample(kind) if context is None else context, actor=officer,
                                  subject_type="test", subject_id="1", issued_on=ISSUED_ON)


def page_count(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, timeout=60).stdout.decode()
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1])


def page_texts(path: Path) -> list[str]:
    """Each page's text, page by page (pdftotext -f N -l N), without spaces and line breaks."""
    return ["".join(pdftotext(path, "-f", str(n), "-l", str(n)).split()) for n in range(1, page_count(path) + 1)]


def page_lines(path: Path, number: int) -> list[str]:
    return ["".join(line.split()) for line in pdftotext(path, "-f", str(number), "-l", str(number)).splitlines()
            if line.strip()]


def closing_only(page: str, context: dict) -> bool:
    """Whether a page holds nothing but the close: the 落款 (organ, date), 抄送 or 版记 — once the foot
    (核验码, page number) is taken away."""
    rest = FOOT.sub("", page)
    for words in (context["authority"], cn_date(ISSUED_ON)):
        rest = rest.replace(words, "")
    if context.get("copies", {}).get("cc"):
        rest = rest.replace("抄送：" + "，".join(context["copies"]["cc"]) + "。", "")
    rest = re.sub(r"\S*印发", "", rest)
    # What the foot line leaves: the code and the address of the verification page.
    rest = re.sub(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}|https?://\S*?/v/[0-9A-Z-]+", "", rest)
    return rest == ""


def assert_close_is_not_alone(document) -> None:
    path = service.document_path(document)
    pages = page_texts(path)
    for number, page in enumerate(pages, start=1):
        assert not closing_only(page, document.context), f"{document.kind}: page {number} holds only the close: {page}"
    # The 落款 stands right after the last paragraph, on the last page.
    assert document.context["authority"] in FOOT.sub("", pages[-1]).split(TITLES[document.kind])[-1]
    assert cn_date(ISSUED_ON) in pages[-1]


@pytest.mark.parametrize("kind", KINDS)
def test_the_title_is_the_organ_over_the_document_name_with_the_number_under_it(db, officer, kind):
    document = issue(kind, officer)
    path = service.document_path(document)
    lines = page_lines(path, 1)
    assert lines[:3] == [document.context["authority"], TITLES[kind], document.number], lines[:4]
    # The 核验码 is the party's to quote (its letters could look like a rule code such as K5).
    text = "".join(pdftotext(path).split()).replace(document.verification_code, "")
    # No red header: the GB/T 9704 公文 head and its 版记 belong to the report and the bulletin.
    assert "印发" not in text
    for what, pattern in SOFTWARE.items():
        found = pattern.search(text)
        assert found is None, f"{kind} prints {what}: {found.group(0)!r}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_page_holds_only_the_close(db, officer, kind):
    assert_close_is_not_alone(issue(kind, officer))


def test_the_close_stays_with_the_last_paragraph_however_long_the_evidence(db, officer):
    """Decisions whose evidence tables end at every height of a page: at some of them the 落款
    alone would fall over onto a new page, unless it is kept with the last paragraph."""
    for rows in range(14, 30):
        context = sample("penalty_decision")
        context["evidence"] = [{"name": f"现场照片{i}", "description": "包厢营业情况"} for i in range(rows)]
        assert_close_is_not_alone(issue("penalty_decision", officer, context))


def test_a_long_record_keeps_its_signatures_and_close_together(db, officer):
    for notes in range(0, 14, 2):
        context = sample("inspection_record")
        context["notes"] = [{"kind": "反面典型", "text": f"第{i + 1}处入口无人查验健康码，游客聚集。"} for i in range(notes)]
        assert_close_is_not_alone(issue("inspection_record", officer, context))


@pytest.mark.parametrize("kind", KINDS)
def test_the_body_is_set_in_fangsong_and_the_title_in_a_heavy_song(app, db, officer, kind):
    families = cjk_font_families(app.config["REPORT_FONTCONFIG_FILE"])
    licensed = [name for name in FANGSONG_FAMILIES[:-1] if name in families]
    if "FandolFang" not in families or licensed:
        pytest.skip(f"FandolFang is not the 仿宋 of this machine (licensed: {licensed}); run `make install`")
    names = [font["name"].split("+")[-1] for font in pdffonts(service.document_path(issue(kind, officer)))]
    assert "FandolFang" in names, names
    # The title's heavy Song: 方正小标宋 is not installed here, FandolSong Bold stands in.
    assert "FandolSong-Bold" in names, names
    # Noto Serif CJK, the fallback, is not needed for any character of the body.
    assert not any(name.startswith("Noto-Serif-CJK") for name in names), names


def qr_on_page(path: Path, tmp_path: Path) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The foot of page 1 below the left edge of the text area, where the 16 mm QR code is drawn,
    as a grey image, and the bounding box of the code's dark modules in it."""
    dpi = 300
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-gray", "-png", str(path),
                    str(tmp_path / "page")], check=True, timeout=120)
    [png] = tmp_path.glob("page*.png")
    image = Image.open(png).convert("L")
    px_per_pt = dpi / 72
    left, top = int(28 * MM * px_per_pt) - 4, int((37 + 225) * MM * px_per_pt)
    box = image.crop((left, top, left + int(17 * MM * px_per_pt), image.height))
    dark = [(x, y) for y in range(box.height) for x in range(box.width) if box.getpixel((x, y)) < 128]
    assert dark, "no QR code at the foot of the page"
    x0, y0 = min(x for x, _ in dark), min(y for _, y in dark)
    x1, y1 = max(x for x, _ in dark), max(y for _, y in dark)
    return box, (x0, y0, x1, y1)


def test_an_issued_document_prints_its_verification_code_and_a_qr_code_of_its_page(app, db, officer, tmp_path):
    document = issue("penalty_decision", officer)
    path = service.document_path(document)
    url = f"{app.config['PUBLIC_BASE_URL']}/v/{document.verification_code}"
    for number, page in enumerate(page_texts(path), start=1):
        assert f"核验码{document.verification_code}" in page, f"page {number}"
        assert f"扫码或访问{url}核验本文书真伪" in page, f"page {number}"

    # The QR code is drawn where the foot puts it, and it is the code of the verification page:
    # the modules on the page are those segno makes of the URL (nothing is decoded).
    expected = segno.make(url, error="m", micro=False).matrix
    size = len(expected)
    box, (x0, y0, x1, y1) = qr_on_page(path, tmp_path)
    assert abs((x1 - x0) - (y1 - y0)) <= 3, "the QR code is square"
    module = (x1 - x0 + 1) / size
    drawn = [[box.getpixel((int(x0 + (col + 0.5) * module), int(y0 + (row + 0.5) * module))) < 128
              for col in range(size)] for row in range(size)]
    wrong = sum(drawn[row][col] != bool(expected[row][col]) for row in range(size) for col in range(size))
    assert wrong <= size * size // 100, f"{wrong} of {size * size} modules differ"


def test_a_preview_has_no_verification_code(db):
    data = service.preview_document("penalty_decision")
    text = "".join(subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                                  check=True, timeout=60).stdout.decode().split())
    assert "样稿（未编号、未出具，不具效力），不能核验。" in text and "核验码" not in text


def test_the_inspection_record_prints_amendments_old_and_new_with_reason_and_time(db, officer):
    context = sample("inspection_record")
    context["observations"][0].update(value="399", corrected_from="450", amendment=1)
    context["amendments"] = [{"number": 1, "reason": "人数复核为三百九十九人", "received_at": "2026-11-20 11:05",
                              "changes": ["检查项“现场接待人数”由 450 更正为 399"]}]
    text = "".join(pdftotext(service.document_path(issue("inspection_record", officer, context)), "-raw").split())
    assert "第1次更正（2026-11-2011:05，北京时间）。理由：人数复核为三百九十九人。更正内容：检查项“现场接待人数”由450更正为399。" in text
    assert "第1次更正，原记录450" in text
    # The violation is written as the requirement it breaks, without its code.
    # (The random verification code, printed on every page, may itself hold "K3": left out.)
    assert "未落实要求“接待人数不超过核定人数的50%”" in text
    assert "K3" not in re.sub(r"核验码[0-9A-Z-]+|/v/[0-9A-Z-]+", "", text)
