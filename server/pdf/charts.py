"""Charts as plain SVG text: horizontal bars per key, vertical bars per day, and the small
seven-day strip of a headline number.

The same functions draw the charts of the statistics page, of the accountability pages and of the
accountability report (WeasyPrint renders inline SVG), so a chart always shows the numbers of the
table beside it. Every label and number is escaped; nothing is loaded from anywhere.

Readable when printed: every bar carries its number as text beside it, text is at least 13 units
(the report draws a 560-unit chart 150 mm wide: about 9.8 pt; on screen 13 px, never scaled
down: a page scrolls a wide chart inside its box), and the fills differ in lightness, not only in
hue, so that a greyscale print keeps them apart (`FILLS`, checked by the tests). Bars of keys are
drawn largest first; days stay in the order of the calendar.
"""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

FONT = "'Noto Sans CJK SC', 'Noto Serif CJK SC', sans-serif"
FONT_SIZE = 13
TITLE_SIZE = 15
INK = "#1a1a1a"
AXIS_COLOUR = "#555"
# Dark red for the bars of a chart: a greyscale print (luma) turns it into a dark grey of about
# 25 % against white paper. The light fill marks "earlier" in a strip: about 72 %, a step anyone
# can tell apart in grey, and outlined in the dark colour so it never vanishes into the paper.
BAR_FILL = "#8b1e1e"
LIGHT_FILL = "#e3a5a5"
FILLS = {"bar": BAR_FILL, "earlier": LIGHT_FILL, "paper": "#ffffff"}
WEEKDAYS = "一二三四五六日"


def _value(row, name):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def text_width(text: str, size: int = FONT_SIZE) -> float:
    """Estimated width of `text` in user units: a CJK character is one em, others about 0.6."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def fit(text: str, room: float, size: int = FONT_SIZE) -> str:
    """`text`, cut with an ellipsis where it would be wider than `room`."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def sorted_rows(rows) -> list:
    """Largest count first; equal counts keep their given (reference) order."""
    return sorted(rows, key=lambda row: -_value(row, "count"))


def _open(kind: str, width: int, height: int, title: str) -> list[str]:
    label = escape(title) if title else "统计图"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="{FONT_SIZE}" fill="{INK}" '
             f'role="img" aria-label="{label}"><title>{label}</title>']
    if title:
        parts.append(f'<text x="0" y="{TITLE_SIZE + 2}" font-size="{TITLE_SIZE}" font-weight="bold">'
                     f'{escape(title)}</text>')
    return parts


def bar_chart(rows, title: str = "", *, width: int = 560, bar_height: int = 20, label_width: int = 190,
              label: str = "label") -> Markup:
    """Horizontal bars, one per row (its `label` field, or another such as "key"; count), largest
    first, the longest scaled to the available width, each with its count written after it."""
    rows = sorted_rows(rows)
    gap = 8
    top = TITLE_SIZE + 12 if title else 4
    height = top + max(1, len(rows)) * (bar_height + gap) + 4
    largest = max((_value(row, "count") for row in rows), default=0) or 1
    span = width - label_width - 12 - text_width(str(largest)) - 8
    parts = _open("bar-chart", width, height, title)
    if not rows:
        parts.append(f'<text x="{label_width + 8}" y="{top + 15}">（无数据）</text>')
    for index, row in enumerate(rows):
        y = top + index * (bar_height + gap)
        baseline = y + bar_height / 2 + FONT_SIZE * 0.36
        count = _value(row, "count")
        name = str(_value(row, label))
        length = round(span * count / largest, 1)
        shown = fit(name, label_width - 8)
        tooltip = Markup("<title>{}</title>").format(name) if shown != name else ""
        parts.append(f'<text x="{label_width - 8}" y="{baseline:.1f}" text-anchor="end">'
                     f'{tooltip}{escape(shown)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" fill="{BAR_FILL}"/>')
        parts.append(f'<text x="{label_width + length + 6:.1f}" y="{baseline:.1f}" font-weight="bold">{count}</text>')
    parts.append(f'<line x1="{label_width}" y1="{top - 2}" x2="{label_width}" y2="{height - 2}" '
                 f'stroke="{AXIS_COLOUR}" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def day_label(day: date, short: bool) -> str:
    """3月10日, or 3/10 where room is short."""
    return f"{day.month}/{day.day}" if short else f"{day.month}月{day.day}日"


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def day_chart(rows, title: str = "", *, width: int = 560, height: int = 220) -> Markup:
    """Vertical bars per day in calendar order, the count above each bar where there is room and
    dates (月日) under as many bars as fit without overlapping."""
    rows = list(rows)
    top = TITLE_SIZE + 14 if title else 8
    bottom = FONT_SIZE + 12
    left = 8
    plot_height = height - top - bottom - FONT_SIZE - 4
    largest = max((_value(row, "count") for row in rows), default=0) or 1
    slot = (width - left - 4) / max(1, len(rows))
    bar = max(1.0, slot * 0.7)
    days = [_as_date(_value(row, "label")) for row in rows]
    short = slot < text_width("12月31日") + 6
    every = 1
    while every < len(rows) and slot * every < text_width(day_label(date(2000, 12, 31), short)) + 8:
        every += 1
    show_counts = slot >= text_width(str(largest)) + 2
    parts = _open("day-chart", width, height, title)
    base = top + FONT_SIZE + 4 + plot_height
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 2}" y2="{base}" stroke="{AXIS_COLOUR}" '
                 'stroke-width="1"/>')
    if not rows:
        parts.append(f'<text x="{left + 8}" y="{base - 8}">（无数据）</text>')
    for index, (row, day) in enumerate(zip(rows, days)):
        count = _value(row, "count")
        x = left + index * slot + (slot - bar) / 2
        bar_height = round(plot_height * count / largest, 1)
        parts.append(f'<rect x="{x:.1f}" y="{base - bar_height:.1f}" width="{bar:.1f}" height="{bar_height}" '
                     f'fill="{BAR_FILL}"><title>{day_label(day, False)}：{count}</title></rect>')
        if show_counts:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{base - bar_height - 4:.1f}" text-anchor="middle">'
                         f'{count}</text>')
        if index % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{base + FONT_SIZE + 5}" text-anchor="middle">'
                         f'{day_label(day, short)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_strip(days, *, width: int = 140, height: int = 44, unit: str = "") -> Markup:
    """The small bar strip of a headline number: one bar per day (date, count) in calendar order,
    the last (today) dark and the earlier ones light with a dark outline, the weekday (一…日) under
    each bar and every day's count in the bar's tooltip and in the strip's accessible name."""
    days = [(_as_date(day), count) for day, count in days]
    label = "；".join(f"{day_label(day, False)} {count}{unit}" for day, count in days) or "无数据"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart trend-strip" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12" fill="{INK}" role="img" '
             f'aria-label="{escape(label)}"><title>{escape(label)}</title>']
    bottom = 16
    plot = height - bottom - 2
    largest = max((count for _, count in days), default=0) or 1
    slot = width / max(1, len(days))
    bar = slot * 0.68
    for index, (day, count) in enumerate(days):
        x = index * slot + (slot - bar) / 2
        # A zero still shows as a hairline, so that "nothing that day" reads as a day, not a gap.
        bar_height = max(1.5, round(plot * count / largest, 1))
        last = index == len(days) - 1
        parts.append(f'<rect x="{x:.1f}" y="{plot - bar_height + 1:.1f}" width="{bar:.1f}" height="{bar_height}" '
                     f'fill="{BAR_FILL if last else LIGHT_FILL}" stroke="{BAR_FILL}" stroke-width="1">'
                     f'<title>{day_label(day, False)}：{count}{escape(unit)}</title></rect>')
        weight = ' font-weight="bold"' if last else ""
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 2}" text-anchor="middle"{weight}>'
                     f'{WEEKDAYS[day.weekday()]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
