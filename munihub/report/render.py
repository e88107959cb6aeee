"""Static HTML for the stewards' report: Persian, right-to-left, no scripts, no fetched fonts.

Pages are rendered from the plain dicts of `munihub.report.build` with f-strings; every value goes
through `e()` (html.escape), Latin identifiers sit in `<bdi dir="ltr">` so RTL layout does
not scramble them, and trends are inline SVG.  The dicts arrive already masked.
"""
from __future__ import annotations

from html import escape
from typing import Any

from munihub.contracts.schemas import flatten

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
STATUS_FA = {"published": "منتشر شد", "held": "نگه داشته شد", "failed": "ناموفق", "staged": "در صف انتشار",
             "extracting": "در حال خواندن", "abandoned": "رها شد", "skipped": "رد شد", None: "اجرا نشده"}
CHECK_FA = {"passed": "قبول", "warning": "هشدار", "failed": "رد", "error": "خطا"}
SEVERITY_FA = {"error": "خطا", "warning": "هشدار", "info": "اطلاع"}
CSS = """
:root{--ok:#1b7f3b;--warn:#b26a00;--bad:#b3261e;--muted:#5f6368;--line:#dadce0;--bg:#f8f9fa}
body{font-family:Vazirmatn,"Vazir","Noto Sans Arabic","Noto Naskh Arabic",Tahoma,"DejaVu Sans",
 "Segoe UI",Arial,sans-serif;margin:0;padding:1.5rem;line-height:1.7;color:#202124;background:#fff}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line)}
h3{font-size:1.05rem;margin:1.2rem 0 .3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}
th,td{border:1px solid var(--line);padding:.25rem .6rem;text-align:start;vertical-align:top}
th{background:var(--bg)}td.n{text-align:left;font-variant-numeric:tabular-nums;direction:ltr}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad);font-weight:bold}.muted{color:var(--muted)}
.badge{display:inline-block;padding:0 .5rem;border-radius:.8rem;background:var(--bg);border:1px solid var(--line)}
.badge.bad{border-color:var(--bad)}.badge.ok{border-color:var(--ok)}.badge.warn{border-color:var(--warn)}
bdi.id,code{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:.88em}
pre{white-space:pre-wrap;word-break:break-all;background:var(--bg);padding:.3rem;margin:0;direction:ltr;
 text-align:left;font-size:.8rem}
section.source{border:1px solid var(--line);border-radius:.4rem;padding:.3rem 1rem;margin:1rem 0}
nav a{margin-inline-end:1rem}.diff{background:#fff3cd}
"""


def e(value: Any) -> str:
    """Escaped text; None shows as a dash."""
    return "—" if value is None else escape(str(value), quote=True)


def fa(value: Any) -> str:
    """A number in Persian digits with thousands separators, for prose."""
    text = f"{value:,}" if isinstance(value, int) else str(value)
    return e(text.replace(",", "٬").translate(FA_DIGITS))


def num(value: Any) -> str:
    """A table cell number: Latin digits, left-to-right, easy to compare down a column."""
    return f'<td class="n">{e(f"{value:,}" if isinstance(value, int) else value)}</td>'


def ident(value: Any) -> str:
    """A Latin identifier (dataset id, load id) isolated from the surrounding RTL text."""
    return f'<bdi class="id" dir="ltr">{e(value)}</bdi>'


def age_text(seconds: int | None) -> str:
    """A duration in Persian words and digits (the report and the workbench say it alike)."""
    if seconds is None:
        return "هرگز منتشر نشده"
    if seconds < 3600:
        return f"{fa(seconds // 60)} دقیقه"
    if seconds < 86400 * 2:
        return f"{fa(seconds // 3600)} ساعت"
    return f"{fa(seconds // 86400)} روز"


def status_badge(status: str | None) -> str:
    cls = {"published": "ok", "held": "bad", "failed": "bad"}.get(status or "", "warn")
    return f'<span class="badge {cls}">{e(STATUS_FA.get(status, status))}</span>'


def page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="fa" dir="rtl">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{e(title)}</title>\n'
            f'<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n')


def trend_svg(trend: list[dict], width: int = 320, height: int = 64) -> str:
    """Stacked bars per load (published, quarantined); held or failed loads drawn red."""
    if not trend:
        return '<span class="muted">بدون سابقه</span>'
    top = max(max(t["rows_in"], t["published"] + t["quarantined"]) for t in trend) or 1
    step = min(width / max(len(trend), 1), 16.0)  # few loads: narrow bars, not slabs
    bars = []
    for i, t in enumerate(trend):
        x = i * step + 1
        w = max(step - 2, 1)
        pub_h = t["published"] * (height - 4) / top
        q_h = t["quarantined"] * (height - 4) / top
        tip = (f'{t["started_at"]} {t["status"]}: in {t["rows_in"]}, published {t["published"]}, '
               f'quarantined {t["quarantined"]}')
        if t["status"] in {"held", "failed"}:
            bars.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="#f4c7c3">'
                        f'<title>{e(tip)}</title></rect>')
        bars.append(f'<rect x="{x:.1f}" y="{height - pub_h:.1f}" width="{w:.1f}" height="{pub_h:.1f}" '
                    f'fill="#1b7f3b"><title>{e(tip)}</title></rect>')
        if q_h:
            bars.append(f'<rect x="{x:.1f}" y="{height - pub_h - q_h:.1f}" width="{w:.1f}" height="{q_h:.1f}" '
                        f'fill="#e37400"><title>{e(tip)}</title></rect>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" dir="ltr" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="روند بارها">{"".join(bars)}</svg>')


def _source_row(s: dict) -> str:
    load, fresh, checks = s["last_load"] or {}, s["freshness"], s["checks"]
    balance = {True: '<span class="ok">✓</span>', None: "—",
               False: '<span class="bad">✗ ورودی ≠ منتشر + قرنطینه</span>'}[load.get("balanced")] if load else "—"
    stale = {True: '<span class="bad">کهنه</span>', False: '<span class="ok">تازه</span>',
             None: '<span class="muted">بدون پیمان تازگی</span>'}[fresh["stale"]]
    return (f'<tr><td><a href="#src-{e(s["source"])}">{ident(s["source"])}</a></td><td>{e(s["owner"])}</td>'
            f'<td>{status_badge(load.get("status"))}</td>{num(load.get("rows_in", 0))}{num(load.get("published", 0))}'
            f'{num(load.get("rows_quarantined", 0))}<td>{balance}</td>'
            f'<td><span class="ok">{fa(checks["passed"])}</span> / <span class="warn">{fa(checks["warning"])}</span>'
            f' / <span class="bad">{fa(checks["failed"] + checks["error"])}</span></td>'
            f'<td>{stale} <span class="muted">({age_text(fresh["age_seconds"])})</span></td>'
            f'<td>{trend_svg(s["trend"], 160, 28)}</td></tr>')


def _checks_table(checks: dict) -> str:
    if not checks["items"]:
        return '<p class="muted">بررسی کیفیتی ثبت نشده است.</p>'
    rows = "".join(
        f'<tr class="{ {"failed": "bad", "error": "bad", "warning": "warn"}.get(c["status"], "")}">'
        f'<td>{ident(c["name"])}</td><td>{ident(c["field"])}</td><td>{ident(c["metric"])}</td>'
        f'<td>{e(SEVERITY_FA.get(c["severity"], c["severity"]))}</td><td>{e(CHECK_FA.get(c["status"], c["status"]))}</td>'
        f'<td dir="ltr">{e(c["observed"])}</td><td dir="ltr">{e(c["expected"])}</td>'
        f'<td dir="ltr">{e(c["message"])}</td></tr>' for c in checks["items"])
    return ('<table><tr><th>بررسی</th><th>فیلد</th><th>سنجه</th><th>شدت</th><th>نتیجه</th><th>مشاهده</th>'
            f'<th>انتظار</th><th>پیام</th></tr>{rows}</table>')


def _quarantine_block(q: dict) -> str:
    if not q["open"]:
        return '<p class="ok">رکورد باز در قرنطینه نیست.</p>'
    rows = []
    for r in q["reasons"]:
        examples = "".join(
            f'<div><span class="muted">#{e(x["quarantine_id"])} کلید {ident(x["source_key"])}</span> '
            f'{e(x["message_fa"] or x["message"])}<pre>{e(x["raw"])}</pre></div>' for x in r["examples"])
        rows.append(f'<tr><td>{ident(r["rule"])}</td><td>{ident(r["field"])}</td>{num(r["count"])}'
                    f'<td>{examples}</td></tr>')
    return (f'<p>{fa(q["open"])} رکورد باز در قرنطینه، {fa(q["distinct_reasons"])} دلیل متفاوت.</p>'
            f'<table><tr><th>قاعده</th><th>فیلد</th><th>تعداد</th><th>نمونه‌ها (پوشانده)</th></tr>'
            f'{"".join(rows)}</table>')


def _set_aside_block(a: dict) -> str:
    """Open set-aside values of a source: per field and rule, with masked examples."""
    if not a["open"]:
        return '<p class="muted">مقداری کنار گذاشته نشده است.</p>'
    rows = []
    for f in a["fields"]:
        examples = "".join(
            f'<div><span class="muted">#{e(x["set_aside_id"])} کلید {ident(x["source_key"])}</span> '
            f'<bdi dir="ltr">{e(x["value"])}</bdi> {e(x["message_fa"] or x["message"])}</div>' for x in f["examples"])
        rows.append(f'<tr><td>{ident(f["field"])}</td><td>{ident(f["rule"])}</td>{num(f["count"])}'
                    f'<td>{examples}</td></tr>')
    return (f'<p>{fa(a["open"])} مقدار باز کنار گذاشته: رکوردشان منتشر شد و این مقدارها منتظر راهبرند '
            '(<code>munihub quarantine values</code>، <code>replay-values</code>، <code>dismiss-values</code>).</p>'
            f'<table><tr><th>فیلد</th><th>قاعده</th><th>تعداد</th><th>نمونه‌ها (پوشانده)</th></tr>'
            f'{"".join(rows)}</table>')


def _source_section(s: dict) -> str:
    load = s["last_load"]
    if load:
        head = (f'<p>آخرین بار {ident(load["load_id"])} — {status_badge(load["status"])} — '
                f'ورودی {fa(load["rows_in"])}، جدید {fa(load["rows_new"])}، تغییرکرده {fa(load["rows_changed"])}، '
                f'بدون تغییر {fa(load["rows_unchanged"])}، قرنطینه {fa(load["rows_quarantined"])}.</p>')
        if load.get("values_set_aside"):  # the records were published; these values wait for a steward
            head += ('<p class="warn">مقدارهای کنار گذاشته (رکورد منتشر شد، مقدار نه): ' + "، ".join(
                f'{ident(f)} {fa(n)}' for f, n in sorted(load["values_set_aside"].items())) + '</p>')
        if load["error"]:
            head += f'<p class="bad" dir="auto">{e(load["error"])}</p>'
    else:
        head = '<p class="warn">این منبع هنوز اجرا نشده است.</p>'
    if s["held"]:
        head += '<p class="bad">این بار به‌خاطر بررسی‌های رد شده نگه داشته شد و منتشر نشد.</p>'
    fresh = s["freshness"]
    window = age_text(fresh["window_seconds"]) if fresh["window_seconds"] else "تعریف نشده"
    return (f'<section class="source" id="src-{e(s["source"])}"><h3>{ident(s["source"])}</h3>{head}'
            f'<p>مالک: {e(s["owner"])} · نسخهٔ پیمان: {ident(s["contract_version"])} · '
            f'پنجرهٔ تازگی: {window} · آخرین انتشار: {ident(fresh["last_published"])}</p>'
            f'<h4>بررسی‌های کیفیت</h4>{_checks_table(s["checks"])}'
            f'<h4>قرنطینه</h4>{_quarantine_block(s["quarantine"])}'
            f'<h4>مقدارهای کنار گذاشته</h4>{_set_aside_block(s.get("set_aside") or {"open": 0})}'
            f'<h4>روند {fa(len(s["trend"]))} بار اخیر</h4><div dir="ltr">{trend_svg(s["trend"])}</div></section>')


def _attention(s: dict) -> tuple:
    """Sources needing a steward first: held or failed, then stale, then unbalanced, then by name."""
    load = s["last_load"] or {}
    return (load.get("status") not in {"held", "failed"}, not s["freshness"]["stale"],
            load.get("balanced") is not False, s["source"])


def render_run(data: dict) -> str:
    """The page of one run: sources, checks, quarantine, freshness, entities and overlap."""
    t = data["totals"]
    prose = (f'<p>{fa(t["sources"])} منبع؛ {fa(t["published_sources"])} منتشر شده، '
             f'<span class="bad">{fa(t["held_sources"])} نگه داشته</span>، {fa(t["failed_sources"])} ناموفق، '
             f'{fa(t["stale_sources"])} کهنه. ورودی {fa(t["rows_in"])} رکورد، منتشر {fa(t["published"])}، '
             f'قرنطینه {fa(t["quarantined"])}، مقدار کنار گذاشته {fa(t.get("values_set_aside", 0))}. {fa(t["records"])} رکورد به {fa(t["entities"])} موجودیت رسید؛ '
             f'<a href="review.html">{fa(t["review_open"])} جفت در انتظار بازبینی</a>.</p>')
    ordered = sorted(data["sources"], key=_attention)
    sources = "".join(_source_row(s) for s in ordered)
    ents = "".join(f'<tr><td>{ident(x["entity_type"])}</td>{num(x["source_rows"])}{num(x["records"])}'
                   f'{num(x["entities"])}{num(x["duplicates"])}<td class="n">{x["duplicate_rate"] * 100:.1f}%</td></tr>'
                   for x in data["entities"])
    ov = data["overlap"]
    pairs = "".join(f'<tr><td>{ident(p["left"])}</td><td>{ident(p["right"])}</td>{num(p["entities"])}</tr>'
                    for p in ov["pairs"])
    body = (f'<nav><a href="index.html">همهٔ اجراها</a><a href="review.html">بازبینی</a></nav>'
            f'<h1>گزارش کیفیت داده — اجرای {ident(data["run_id"])}</h1>'
            f'<p class="muted">ساخته شده {ident(data["generated_at"])}</p>{prose}'
            '<h2>منابع</h2><table><tr><th>منبع</th><th>مالک</th><th>وضعیت</th><th>ورودی</th><th>منتشر</th>'
            '<th>قرنطینه</th><th>تراز</th><th>بررسی‌ها (قبول/هشدار/رد)</th><th>تازگی</th><th>روند</th></tr>'
            f'{sources}</table>'
            '<h2>موجودیت‌ها و حذف تکرار</h2><table><tr><th>نوع</th><th>سطر منبع</th><th>رکورد</th>'
            f'<th>موجودیت</th><th>تکراری</th><th>نرخ تکرار</th></tr>{ents}</table>'
            f'<h2>همپوشانی منابع</h2><p>{fa(ov["multi_source_entities"])} موجودیت در دو منبع یا بیشتر عضو دارند.</p>'
            f'<table><tr><th>منبع</th><th>منبع</th><th>موجودیت مشترک</th></tr>{pairs}</table>'
            f'<h2>جزئیات منابع</h2>{"".join(_source_section(s) for s in ordered)}')
    return page(f"گزارش کیفیت داده {data['run_id']}", body)


def render_index(runs: list[dict]) -> str:
    """Every run in the directory, newest first, with its headline figures."""
    rows = "".join(
        f'<tr><td><a href="run-{e(r["run_id"])}.html">{ident(r["run_id"])}</a></td><td>{ident(r["generated_at"])}</td>'
        f'{num(r.get("sources", 0))}{num(r.get("published_sources", 0))}'
        f'<td class="n {"bad" if r.get("held_sources") else ""}">{e(r.get("held_sources", 0))}</td>'
        f'<td class="n {"bad" if r.get("stale_sources") else ""}">{e(r.get("stale_sources", 0))}</td>'
        f'{num(r.get("rows_in", 0))}{num(r.get("published", 0))}{num(r.get("quarantined", 0))}'
        f'{num(r.get("records", 0))}{num(r.get("entities", 0))}{num(r.get("review_open", 0))}</tr>' for r in runs)
    body = (f'<nav><a href="review.html">بازبینی</a></nav><h1>گزارش‌های کیفیت داده</h1>'
            f'<p>{fa(len(runs))} اجرا ثبت شده است.</p>'
            '<table><tr><th>اجرا</th><th>زمان</th><th>منابع</th><th>منبع منتشرشده</th><th>نگه داشته</th><th>کهنه</th>'
            '<th>ورودی</th><th>رکورد منتشرشده</th><th>قرنطینه</th><th>رکورد</th><th>موجودیت</th><th>بازبینی باز</th></tr>'
            f'{rows}</table>')
    return page("گزارش‌های کیفیت داده", body)


def render_review(pairs: list[dict], data: dict | None = None) -> str:
    """Open review pairs side by side, fields masked, differing fields highlighted."""
    blocks = []
    for p in pairs:
        left, right = flatten(p["left"]["record"]), flatten(p["right"]["record"])
        rows = "".join(
            f'<tr class="{"diff" if left.get(k) != right.get(k) else ""}"><td>{ident(k)}</td>'
            f'<td dir="auto">{e(left.get(k))}</td><td dir="auto">{e(right.get(k))}</td></tr>'
            for k in sorted(set(left) | set(right)))
        blocks.append(
            f'<section class="source"><h3>#{e(p["id"])} {ident(p["entity_type"])} — احتمال '
            f'<span dir="ltr">{e(p["probability"])}</span></h3>'
            f'<table><tr><th>فیلد</th><th>{ident(p["left"]["source"])} {ident(p["left"]["key"])}</th>'
            f'<th>{ident(p["right"]["source"])} {ident(p["right"]["key"])}</th></tr>{rows}</table></section>')
    total = (data or {}).get("review", {}).get("open", len(pairs))
    shown = f' (نمایش {fa(len(pairs))} مورد نخست)' if total > len(pairs) else ""
    body = (f'<nav><a href="index.html">همهٔ اجراها</a></nav><h1>جفت‌های در انتظار بازبینی</h1>'
            f'<p>{fa(total)} جفت باز{shown}. کد ملی و شماره همراه پوشانده شده‌اند.</p>'
            f'{"".join(blocks) or "<p class=ok>جفتی برای بازبینی نیست.</p>"}')
    return page("بازبینی جفت‌ها", body)
