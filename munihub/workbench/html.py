"""The workbench's page frame and small HTML pieces: Persian, right-to-left, Jalali dates.

Every value goes through `e()` (html.escape, from the report's renderer, which the static
report shares); Latin identifiers sit in `<bdi dir="ltr">`; forms carry the session's CSRF
token.  The font is Vazirmatn (SIL OFL), shipped in `static/fonts`, so a closed city network
renders Persian without a CDN.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from munihub.report.render import CSS as REPORT_CSS, e, fa
from munihub.workbench.people import Person

FONT_FACES = "".join(
    f"@font-face{{font-family:Vazirmatn;font-style:normal;font-weight:{w};font-display:swap;"
    f"src:url({{base}}/static/fonts/vazirmatn-{subset}-{w}-normal.woff2) format('woff2');unicode-range:{rng}}}"
    for w in (400, 700) for subset, rng in (
        ("arabic", "U+0600-06FF,U+0750-077F,U+08A0-08FF,U+200C-200E,U+2010-2011,U+FB50-FDFF,U+FE70-FEFC"),
        ("latin", "U+0000-00FF,U+0131,U+0152-0153,U+02BB-02BC,U+02C6,U+02DA,U+02DC,U+2000-206F,U+20AC,U+2122,"
                  "U+2212,U+FEFF,U+FFFD")))
CSS = REPORT_CSS + """
body{padding:0;font-family:Vazirmatn,Tahoma,sans-serif}main{padding:1rem 1.5rem;max-width:80rem}
header.top{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;align-items:center;background:#0b5394;color:#fff;
 padding:.5rem 1.5rem}header.top a{color:#fff;text-decoration:none}header.top .who{margin-inline-start:auto}
header.top form{display:inline}header.top button{background:transparent;color:#fff;border:1px solid #fff}
form.inline{display:inline-flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.3rem 0}
input,select,button,textarea{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:.3rem}
button{background:#0b5394;color:#fff;border-color:#0b5394;cursor:pointer;min-height:2.4rem}
button.bad{background:var(--bad);border-color:var(--bad);color:#fff}button.ok{background:var(--ok);border-color:var(--ok);color:#fff}
.msg{padding:.6rem 1rem;border-radius:.3rem;margin:.6rem 0;border:1px solid var(--line)}
.msg.bad{background:#fce8e6;border-color:var(--bad);font-weight:normal}.msg.ok{background:#e6f4ea;border-color:var(--ok)}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid var(--line);border-radius:.4rem;padding:.5rem 1rem;
 min-width:9rem}.card b{font-size:1.4rem;display:block}
.scroll{overflow-x:auto}td.w{direction:ltr;text-align:left}.plus{color:var(--ok)}.minus{color:var(--bad)}
@media (max-width:900px){main{padding:.6rem}table{font-size:.85rem}}
section.indicator{border-top:1px solid var(--line);margin-top:1.2rem;padding-top:.4rem}
section.indicator h4{margin:.8rem 0 .2rem}svg.chart{display:block;margin:.4rem 0;height:auto}
td.suppressed{color:#555;font-style:italic}.multiples{display:grid;gap:.4rem 1.5rem;
 grid-template-columns:repeat(auto-fill,minmax(28rem,1fr))}.card.dash{max-width:24rem}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;padding:0;margin:.2rem 0 .6rem;font-size:.9rem}.card.dash b{font-size:1.2rem}
/* the printable view: figures, charts and tables; no navigation, filters or download links */
@media print{header.top,.no-print,form,button{display:none!important}main{max-width:none;padding:0}
 body{font-size:10.5pt}section.indicator{break-inside:avoid-page}
 a{color:inherit;text-decoration:none}.scroll{overflow:visible}}
"""
ROLE_FA = {"steward": "کارشناس داده", "viewer": "بیننده", "manager": "مدیر"}
try:
    from zoneinfo import ZoneInfo
    TEHRAN: dt.tzinfo = ZoneInfo("Asia/Tehran")
except Exception:  # noqa: BLE001 - no tz database: Iran has kept +03:30 all year since 2022
    TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))


def when(value: Any) -> str:
    """A timestamp as people read it here: Jalali date and Tehran time in Persian digits."""
    from munihub.persian.dates import to_jalali

    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return e(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        local = value.astimezone(TEHRAN)
        return fa(f"{to_jalali(local.date().isoformat())} {local:%H:%M}")
    return fa(to_jalali(value.isoformat() if isinstance(value, dt.date) else value))


def link(base: str, path: str, text: str, **query: Any) -> str:
    q = {k: v for k, v in query.items() if v not in (None, "")}
    href = f"{base}{path}" + (f"?{urlencode(q)}" if q else "")
    return f'<a href="{e(href)}">{text}</a>'


def csrf_field(person: Person) -> str:
    return f'<input type="hidden" name="csrf" value="{e(person.csrf)}">'


def action_form(base: str, path: str, person: Person, label: str, *, hidden: dict | None = None,
                cls: str = "", reason: bool = True, extra: str = "") -> str:
    """A steward's form: CSRF token, the reason it needs, one button; nothing for a viewer."""
    if not person.may_act:
        return ""
    fields = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in (hidden or {}).items())
    why = ('<input name="why" required placeholder="دلیل (در گزارش ممیزی می‌ماند)" aria-label="دلیل" size="28">'
           if reason else "")
    return (f'<form class="inline" method="post" action="{e(base + path)}">{csrf_field(person)}{fields}{extra}'
            f'{why}<button class="{cls}" type="submit">{e(label)}</button></form>')


def message(text: str | None, kind: str = "ok") -> str:
    return f'<div class="msg {kind}" role="status">{e(text)}</div>' if text else ""


def page(base: str, title: str, body: str, person: Person | None = None, *, note: str | None = None,
         note_kind: str = "ok") -> str:
    """The frame of every page: header with the sections and who is signed in."""
    nav = ""
    if person:
        role = ROLE_FA.get(person.role, person.role)
        sections = (f'{link(base, "/", "نمای کلی")}{link(base, "/quarantine", "قرنطینه")}'
                    f'{link(base, "/values", "مقدارهای کنار گذاشته")}'
                    f'{link(base, "/review", "بازبینی جفت‌ها")}{link(base, "/entities", "جست‌وجوی موجودیت")}'
                    if person.sees_records else "")  # a manager is shown only what a manager may open
        nav = (f'<header class="top"><b>میزکار کارشناسان داده</b>{sections}{link(base, "/dashboards", "داشبوردها")}'
               f'<span class="who">{e(person.display_name)} ({role})</span>'
               f'<form method="post" action="{e(base)}/signout">{csrf_field(person)}'
               f'<button type="submit">خروج</button></form></header>')
    return (f'<!doctype html>\n<html lang="fa" dir="rtl">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{e(title)}</title>\n'
            '<link rel="icon" href="data:,">\n'
            f'<style>{FONT_FACES.replace("{base}", base)}{CSS}</style>\n</head>\n<body>\n{nav}<main>\n'
            f'{message(note, note_kind)}{body}\n</main>\n</body>\n</html>\n')


def table(headers: list[str], rows: list[str], *, empty: str = "چیزی برای نمایش نیست.") -> str:
    if not rows:
        return f'<p class="muted">{e(empty)}</p>'
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'
