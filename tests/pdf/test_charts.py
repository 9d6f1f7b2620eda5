"""Server-drawn charts (server.pdf.charts): sorted, labelled in Chinese at readable sizes, every
bar with its number, and fills that stay apart on a greyscale print — for pages and reports."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest

from server.pdf import charts
from server.oversight.statistics import Row

SVG = "{http://www.w3.org/2000/svg}"
REPORT_STYLE = Path(__file__).resolve().parents[2] / "report_templates" / "accountability_report" / "style.css"


def parse(markup) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))


def texts(svg: ElementTree.Element) -> list[str]:
    return ["".join(t.itertext()).strip() for t in svg.iter(f"{SVG}text")]


def font_sizes(svg: ElementTree.Element) -> list[float]:
    return [float(node.get("font-size")) for node in svg.iter() if node.get("font-size")]


def luma(colour: str) -> float:
    """The grey a greyscale print gives a colour (ITU-R BT.601 luma, 0 black … 1 white)."""
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


ROWS = [Row("n", "北县", 3), Row("s", "南县", 11), Row("e", "东县", 0), Row("w", "西县", 7), Row("c", "城区", 7)]


def test_bars_are_drawn_largest_first_each_with_its_label_and_number():
    svg = parse(charts.bar_chart(ROWS, "各县（市、区）违规问题数"))
    shown = texts(svg)
    assert shown[0] == "各县（市、区）违规问题数"
    # Label, number, label, number …: largest first, equal counts in their given order.
    assert shown[1:] == ["南县", "11", "西县", "7", "城区", "7", "北县", "3", "东县", "0"]
    widths = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert widths == sorted(widths, reverse=True) and widths[-1] == 0
    assert svg.get("role") == "img" and svg.get("aria-label") == "各县（市、区）违规问题数"


def test_a_long_label_is_cut_with_its_full_text_as_tooltip():
    long = "K8 机场车站、宾馆酒店对带*号绿码人员核验24小时内核酸检测阴性报告，并签署承诺书后方可进入"
    svg = parse(charts.bar_chart([Row("K8", long, 4)]))
    [label] = [t for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert label.find(f"{SVG}title").text == long
    assert "".join(label.itertext()).endswith("…") and charts.text_width(label.text or "") <= 190
    assert "&lt;" not in str(charts.bar_chart([Row("K8", long, 4)]))


def test_text_is_readable_on_screen_and_in_the_report():
    for svg in (parse(charts.bar_chart(ROWS, "标题")), parse(charts.day_chart(
            [Row(d.isoformat(), d.isoformat(), n) for n, d in enumerate(date(2026, 3, 1) + timedelta(days=i)
                                                                        for i in range(31))], "每日")),
                parse(charts.trend_strip([(date(2026, 3, 1), 2)]))):
        assert min(font_sizes(svg)) >= 12
    # The report draws a chart of the default width this wide; 1 px = 0.75 pt.
    printed_mm = float(re.search(r"\.chart svg \{ width: (\d+)mm", REPORT_STYLE.read_text("utf-8")).group(1))
    scale = printed_mm / 25.4 * 96 / 560
    assert charts.FONT_SIZE * scale * 0.75 >= 9


def test_days_stay_in_calendar_order_labelled_in_chinese():
    rows = [Row(f"2026-03-{d:02d}", f"2026-03-{d:02d}", n) for d, n in ((10, 5), (11, 0), (12, 2))]
    svg = parse(charts.day_chart(rows, "每日违规问题数"))
    shown = texts(svg)
    assert [s for s in shown if "月" in s] == ["3月10日", "3月11日", "3月12日"]
    assert [s for s in shown if s.isdigit()] == ["5", "0", "2"]
    # A month of days thins its dates so they never overlap, and shortens them.
    month = [Row((date(2026, 3, 1) + timedelta(days=i)).isoformat(), "", 1) for i in range(31)]
    month = [Row(r.key, r.key, r.count) for r in month]
    labels = [s for s in texts(parse(charts.day_chart(month))) if "/" in s]
    assert labels[0] == "3/1" and 5 <= len(labels) < 31


def test_fills_stay_apart_in_greyscale():
    bar, earlier, paper = (luma(charts.FILLS[k]) for k in ("bar", "earlier", "paper"))
    assert bar < 0.35 and earlier - bar >= 0.3 and paper - earlier >= 0.2


def test_trend_strip_has_seven_days_today_dark_with_weekdays():
    today = date(2026, 3, 12)  # a Thursday
    days = [(today - timedelta(days=n), n) for n in range(6, -1, -1)]
    svg = parse(charts.trend_strip(days, unit="起"))
    rects = list(svg.iter(f"{SVG}rect"))
    assert len(rects) == 7
    assert [r.get("fill") for r in rects] == [charts.LIGHT_FILL] * 6 + [charts.BAR_FILL]
    assert texts(svg) == list("五六日一二三四")
    assert "3月12日 0起" in svg.get("aria-label") and "3月6日 6起" in svg.get("aria-label")


@pytest.mark.parametrize("maker", [charts.bar_chart, charts.day_chart])
def test_empty_charts_say_so(maker):
    assert "（无数据）" in texts(parse(maker([], "标题")))
