"""Charts for the managers' dashboards: inline SVG built on the server, right to left.

Plain functions from plain data to SVG text: no script, no outside font or file, so a page
prints and works on a closed city network.  Time runs right to left (the earliest period on
the right, as Persian readers scan), labels are Jalali months in Persian digits, and every
chart carries a <title> and <desc> (the page puts a table of the same figures beside it).
A suppressed cell (fewer than k citizens) is drawn as a hatched stub marked «پنهان»,
never as a bar of its value; the value is not in the chart's data to begin with.

    columns(periods, series)   one or a few series over periods (vertical bars, optional target)
    lines(periods, series)     several series over periods
    bars(labels, values, ...)  one period's cells side by side (horizontal bars)
    legend(labels)             the series' colours, as HTML under a chart
"""
from __future__ import annotations

import math
import re
from typing import Any

from munihub.report.render import e

FA_DIGITS = str.maketrans("0123456789.-", "۰۱۲۳۴۵۶۷۸۹٫−")
DIGITS_ONLY = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
MONTHS = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند")
# Okabe-Ito: told apart by people with the common colour-vision deficiencies, and in grey print
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
MAX_SERIES = len(PALETTE)
DASHES = ("", "7 3", "2 3", "9 3 2 3", "4 4", "1 2")  # lines told apart in grey print and where they overlap
SUPPRESSED_FA = "پنهان"
FONT = "font-family:Vazirmatn,Tahoma,sans-serif"


def fa_label(text: Any) -> str:
    """A cell's name for display: Persian digits in a Persian name (منطقه 3 → منطقه ۳); a Latin
    code (registry.citizens, MM-137) is left as it is."""
    text = str(text)
    return text.translate(DIGITS_ONLY) if re.search(r"[\u0600-\u06FF]", text) else text


def fa_num(value: Any) -> str:
    """Persian digits, Persian decimal separator and minus."""
    return str(value).translate(FA_DIGITS)


def period_fa(period: str) -> str:
    """A Jalali period as people say it: 1403-07 → «مهر ۱۴۰۳», 1403-W05 → «هفتهٔ ۵ ۱۴۰۳»,
    1403-Q2 → «فصل ۲ ۱۴۰۳»; anything else in Persian digits as it is."""
    text = str(period)
    m = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if m and 1 <= int(m.group(2)) <= 12:
        return f"{MONTHS[int(m.group(2)) - 1]} {fa_num(m.group(1))}"
    m = re.fullmatch(r"(\d{4})-([WQ])(\d{1,2})", text)
    if m:
        word = "هفتهٔ" if m.group(2) == "W" else "فصل"
        return f"{word} {fa_num(int(m.group(3)))} {fa_num(m.group(1))}"
    return fa_num(text)


def figure(value: float | None, unit: str = "", *, suppressed: bool = False) -> str:
    """A figure as a manager reads it: a share as a percent, a count with separators, days with
    one decimal; «پنهان» for a suppressed cell and a dash for none."""
    if suppressed:
        return SUPPRESSED_FA
    if value is None:
        return "—"
    if unit == "سهم":
        text = fa_num(f"{value * 100:.1f}") + "٪"
        return f"\u2066{text}\u2069" if value < 0 else text
    if float(value).is_integer():
        text = fa_num(f"{int(value):,}").replace(",", "٬")
    else:
        text = fa_num(f"{value:,.2f}".rstrip("0").rstrip(".")).replace(",", "٬")
    # a negative number is isolated left to right, so its minus stays in front in RTL text
    return f"\u2066{text}\u2069" if value < 0 else text


def nice_top(top: float) -> float:
    """The axis maximum: the smallest 1, 2, 2.5 or 5 × 10^n not below `top` (1 for nothing)."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= top * (1 - 1e-12):
            return step * power
    return 10 * power


def heights(values: list[float | None], plot_height: float, top: float | None = None) -> list[float | None]:
    """Bar heights in pixels for `values` on an axis from 0 to `top` (default: the nice top of
    the largest value); None stays None (no bar); negative values draw no bar."""
    shown = [v for v in values if v is not None]
    axis = top if top is not None else nice_top(max(shown, default=0))
    return [None if v is None else max(v, 0) / axis * plot_height for v in values]


def _frame(chart_id: str, width: int, height: int, title: str, desc: str, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{e(chart_id)}" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;direction:ltr;{FONT}" '
            f'aria-labelledby="{e(chart_id)}-t {e(chart_id)}-d">'
            f'<title id="{e(chart_id)}-t">{e(title)}</title><desc id="{e(chart_id)}-d">{e(desc)}</desc>'
            f'<defs><pattern id="{e(chart_id)}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="2"/></pattern></defs>{body}</svg>')


def _empty(chart_id: str, title: str, width: int, height: int) -> str:
    return _frame(chart_id, width, 60, title, "برای این پالایه رقمی نیست.",
                  f'<text x="{width - 10}" y="35" text-anchor="end" font-size="14" fill="#555">'
                  'برای این پالایه رقمی نیست.</text>')


def _y_axis(width: int, top: float, unit: str, y0: float, plot_h: float, right: float, left: float) -> str:
    """Gridlines and their labels on the right (the reader's start)."""
    out = []
    for i in range(5):
        v = top * i / 4
        y = y0 - plot_h * i / 4
        out.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{right + 6:.1f}" y="{y + 4:.1f}" font-size="11" fill="#444">{e(figure(v, unit))}</text>')
    return "".join(out)


def _x_labels(periods: list[str], x_of, y: float) -> str:
    every = max(1, math.ceil(len(periods) / 12))  # at most a dozen labels; the table has them all
    return "".join(f'<text x="{x_of(i):.1f}" y="{y:.1f}" font-size="11" text-anchor="middle" fill="#444">'
                   f'{e(period_fa(p))}</text>' for i, p in enumerate(periods) if (len(periods) - 1 - i) % every == 0)


def _suppressed_stub(chart_id: str, x: float, w: float, y0: float, what: str) -> str:
    return (f'<rect class="suppressed" x="{x:.1f}" y="{y0 - 14:.1f}" width="{max(w, 3):.1f}" height="14" '
            f'fill="url(#{e(chart_id)}-hatch)" stroke="#777"><title>{e(what)}: {SUPPRESSED_FA} '
            '(کمتر از حد شمار شهروندان)</title></rect>')


def legend(labels: list[str]) -> str:
    """The series' colours, in HTML beside the chart (it wraps like text, right to left, and
    prints): a swatch drawn in SVG so printing without backgrounds keeps it."""
    if len(labels) < 2:
        return ""
    items = "".join(f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
                    f'fill="{PALETTE[i]}"/></svg> {e(label)}</li>' for i, label in enumerate(labels[:MAX_SERIES]))
    return f'<ul class="legend">{items}</ul>'


def columns(periods: list[str], series: list[dict], *, chart_id: str, title: str, unit: str = "",
            width: int = 720, height: int = 260) -> str:
    """Vertical bars over `periods` (right to left), grouped by series (at most MAX_SERIES).

    A series is {label, values, suppressed?, targets?, on_track?}, lists as long as `periods`;
    a target draws a dark tick across its bar, on_track False a red outline."""
    series = series[:MAX_SERIES]
    if not periods or not any(v is not None or s for x in series
                              for v, s in zip(x["values"], x.get("suppressed") or [False] * len(periods))):
        return _empty(chart_id, title, width, height)
    pad_r, pad_l, pad_t, pad_b = 64, 10, 12, 30
    plot_w, plot_h = width - pad_r - pad_l, height - pad_t - pad_b
    y0, right = pad_t + plot_h, width - pad_r
    top = nice_top(max([v for s in series for v in [*s["values"], *(s.get("targets") or [])] if v is not None],
                       default=0))
    slot = plot_w / len(periods)
    bar_w = max(min(slot * 0.8 / len(series), 40), 1.5)

    def x_of(i: int) -> float:  # the first period on the right
        return right - (i + 0.5) * slot

    body = [_y_axis(width, top, unit, y0, plot_h, right, pad_l)]
    for k, s in enumerate(series):
        sup = s.get("suppressed") or [False] * len(periods)
        hs = heights(s["values"], plot_h, top)
        th = heights(s.get("targets") or [None] * len(periods), plot_h, top)
        track = s.get("on_track") or [None] * len(periods)
        for i, p in enumerate(periods):
            # series from right to left inside the period's slot
            x = x_of(i) + (len(series) / 2 - k - 1) * bar_w
            what = f'{s["label"]} · {period_fa(p)}' if s["label"] else period_fa(p)
            if sup[i]:
                body.append(_suppressed_stub(chart_id, x, bar_w - 1, y0, what))
                continue
            if hs[i] is not None:
                stroke = ' stroke="#c5221f" stroke-width="2"' if track[i] is False else ""
                body.append(f'<rect class="bar" x="{x:.1f}" y="{y0 - hs[i]:.1f}" width="{bar_w - 1:.1f}" '
                            f'height="{hs[i]:.1f}" fill="{PALETTE[k]}"{stroke} data-value="{s["values"][i]}">'
                            f'<title>{e(what)}: {e(figure(s["values"][i], unit))}</title></rect>')
            if th[i] is not None:
                body.append(f'<line class="target" x1="{x - 2:.1f}" x2="{x + bar_w + 1:.1f}" y1="{y0 - th[i]:.1f}" '
                            f'y2="{y0 - th[i]:.1f}" stroke="#202124" stroke-width="3"><title>{e(what)}: هدف '
                            f'{e(figure(s["targets"][i], unit))}</title></line>')
    body.append(f'<line x1="{pad_l}" x2="{right}" y1="{y0}" y2="{y0}" stroke="#444"/>')
    body.append(_x_labels(periods, x_of, y0 + 16))
    return _frame(chart_id, width, height, title, _describe(periods, series, unit), "".join(body))


def lines(periods: list[str], series: list[dict], *, chart_id: str, title: str, unit: str = "",
          target: float | None = None, width: int = 720, height: int = 280) -> str:
    """One line per series over `periods` (right to left); a suppressed or missing figure breaks
    the line, a suppressed one is marked by a hollow grey point on the axis; `target` draws a
    dashed line across."""
    series = series[:MAX_SERIES]
    if not periods or not series:
        return _empty(chart_id, title, width, height)
    pad_r, pad_l, pad_t, pad_b = 64, 10, 12, 30
    plot_w, plot_h = width - pad_r - pad_l, height - pad_t - pad_b
    y0, right = pad_t + plot_h, width - pad_r
    top = nice_top(max([v for s in series for v in s["values"] if v is not None] + [target or 0], default=0))
    slot = plot_w / len(periods)

    def x_of(i: int) -> float:
        return right - (i + 0.5) * slot

    body = [_y_axis(width, top, unit, y0, plot_h, right, pad_l)]
    if target is not None:
        y = y0 - heights([target], plot_h, top)[0]
        body.append(f'<line class="target" x1="{pad_l}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#202124" '
                    f'stroke-width="1.5" stroke-dasharray="6 4"><title>هدف: {e(figure(target, unit))}</title></line>'
                    f'<text x="{pad_l + 2}" y="{y - 4:.1f}" font-size="11">هدف {e(figure(target, unit))}</text>')
    for k, s in enumerate(series):
        sup = s.get("suppressed") or [False] * len(periods)
        hs = heights(s["values"], plot_h, top)
        runs: list[list[str]] = [[]]
        for i, p in enumerate(periods):
            what = f'{s["label"]} · {period_fa(p)}'
            if hs[i] is None:
                runs.append([])
                if sup[i]:
                    body.append(f'<circle class="suppressed" cx="{x_of(i):.1f}" cy="{y0:.1f}" r="4" fill="#fff" '
                                f'stroke="#777"><title>{e(what)}: {SUPPRESSED_FA}</title></circle>')
                continue
            runs[-1].append(f"{x_of(i):.1f},{y0 - hs[i]:.1f}")
            body.append(f'<circle class="point" cx="{x_of(i):.1f}" cy="{y0 - hs[i]:.1f}" r="3" fill="{PALETTE[k]}" '
                        f'data-value="{s["values"][i]}"><title>{e(what)}: {e(figure(s["values"][i], unit))}'
                        '</title></circle>')
        dash = f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else ""
        body += [f'<polyline points="{" ".join(r)}" fill="none" stroke="{PALETTE[k]}" stroke-width="2"{dash}/>'
                 for r in runs if len(r) > 1]
    body.append(f'<line x1="{pad_l}" x2="{right}" y1="{y0}" y2="{y0}" stroke="#444"/>')
    body.append(_x_labels(periods, x_of, y0 + 16))
    return _frame(chart_id, width, height, title, _describe(periods, series, unit), "".join(body))


def bars(labels: list[str], values: list[float | None], suppressed: list[bool] | None = None, *, chart_id: str,
         title: str, unit: str = "", width: int = 720) -> str:
    """One horizontal bar per cell (one period), growing right to left from the labels' edge."""
    suppressed = suppressed or [False] * len(values)
    if not labels:
        return _empty(chart_id, title, width, 60)
    row, label_w, pad = 24, min(260, 12 + 7 * max(len(x) for x in labels)), 70
    height = row * len(labels) + 24
    right = width - label_w
    plot_w = right - pad
    top = nice_top(max([v for v in values if v is not None], default=0))
    hs = heights(values, plot_w, top)
    body = []
    for i, (label, v, sup) in enumerate(zip(labels, values, suppressed)):
        y = 12 + i * row
        body.append(f'<text x="{width - 6}" y="{y + 15}" font-size="12" text-anchor="end">{e(label)}</text>')
        if sup:
            body.append(f'<rect class="suppressed" x="{right - 40}" y="{y + 3}" width="40" height="16" '
                        f'fill="url(#{e(chart_id)}-hatch)" stroke="#777"><title>{e(label)}: {SUPPRESSED_FA}</title>'
                        f'</rect><text x="{right - 46}" y="{y + 15}" font-size="11" text-anchor="end" fill="#555">'
                        f'{SUPPRESSED_FA}</text>')
        elif hs[i] is not None:
            body.append(f'<rect class="bar" x="{right - hs[i]:.1f}" y="{y + 3}" width="{hs[i]:.1f}" height="16" '
                        f'fill="{PALETTE[0]}" data-value="{v}"><title>{e(label)}: {e(figure(v, unit))}</title></rect>'
                        f'<text x="{right - hs[i] - 4:.1f}" y="{y + 15}" font-size="11" text-anchor="end">'
                        f'{e(figure(v, unit))}</text>')
    body.append(f'<line x1="{right}" x2="{right}" y1="8" y2="{height - 8}" stroke="#444"/>')
    desc = "؛ ".join(f"{label}: {figure(v, unit, suppressed=s)}" for label, v, s in zip(labels, values, suppressed))
    return _frame(chart_id, width, height, title, desc, "".join(body))


def _describe(periods: list[str], series: list[dict], unit: str) -> str:
    """The chart in words (its <desc>): range of periods and each series' last figure."""
    span = f"از {period_fa(periods[0])} تا {period_fa(periods[-1])}" if len(periods) > 1 else period_fa(periods[0])
    last = []
    for s in series:
        sup = s.get("suppressed") or [False] * len(periods)
        i = len(periods) - 1
        shown = figure(s["values"][i], unit, suppressed=sup[i])
        last.append(f'{s["label"] or "مقدار"} در {period_fa(periods[i])}: {shown}')
    return f"{span}. " + "؛ ".join(last)
