"""Charts as plain SVG text: horizontal bars per key and vertical bars per day.

The same functions draw the charts of the statistics page and of the accountability report
(WeasyPrint renders inline SVG), so a chart always shows the numbers of the table beside it.
Every label and number is escaped; nothing is loaded from anywhere.
"""

from __future__ import annotations

from markupsafe import Markup, escape

FONT = "'Noto Sans CJK SC', 'Noto Serif CJK SC', sans-serif"
BAR_COLOUR = "#b22222"
AXIS_COLOUR = "#555"


def _value(row, name):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def bar_chart(rows, title: str = "", *, width: int = 560, bar_height: int = 18, label_width: int = 170,
              label: str = "label") -> Markup:
    """Horizontal bars, one per row (its `label` field, or another such as "key"; count), longest
    scaled to the available width."""
    rows = list(rows)
    top = 24 if title else 6
    height = top + max(1, len(rows)) * (bar_height + 6) + 6
    largest = max((_value(row, "count") for row in rows), default=0) or 1
    span = width - label_width - 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bar-chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12" role="img">']
    if title:
        parts.append(f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>')
    if not rows:
        parts.append(f'<text x="{label_width}" y="{top + 14}">（无数据）</text>')
    for index, row in enumerate(rows):
        y = top + index * (bar_height + 6)
        count = _value(row, "count")
        length = round(span * count / largest, 1)
        parts.append(f'<text x="{label_width - 6}" y="{y + bar_height - 5}" text-anchor="end">'
                     f'{escape(_value(row, label))}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" fill="{BAR_COLOUR}"/>')
        parts.append(f'<text x="{label_width + length + 4}" y="{y + bar_height - 5}">{count}</text>')
    parts.append(f'<line x1="{label_width}" y1="{top - 2}" x2="{label_width}" y2="{height - 4}" '
                 f'stroke="{AXIS_COLOUR}" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def day_chart(rows, title: str = "", *, width: int = 560, height: int = 200) -> Markup:
    """Vertical bars per day (label MM-DD under each bar when there is room), count above each bar."""
    rows = list(rows)
    top = 26 if title else 10
    bottom = 24
    left = 30
    plot_height = height - top - bottom
    largest = max((_value(row, "count") for row in rows), default=0) or 1
    slot = (width - left - 4) / max(1, len(rows))
    bar = max(1.0, slot * 0.7)
    every = max(1, round(len(rows) / 14))  # at most about 14 date labels
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart day-chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10" role="img">']
    if title:
        parts.append(f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>')
    base = top + plot_height
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 2}" y2="{base}" stroke="{AXIS_COLOUR}" stroke-width="1"/>')
    for index, row in enumerate(rows):
        count = _value(row, "count")
        x = left + index * slot + (slot - bar) / 2
        bar_height = round(plot_height * count / largest, 1)
        parts.append(f'<rect x="{x:.1f}" y="{base - bar_height:.1f}" width="{bar:.1f}" height="{bar_height}" '
                     f'fill="{BAR_COLOUR}"/>')
        if len(rows) <= 31:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{base - bar_height - 3:.1f}" text-anchor="middle">{count}</text>')
        if index % every == 0:
            label = str(_value(row, "label"))[5:]
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{base + 14}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
