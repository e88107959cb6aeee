"""The bodies of the workbench pages, from plain (already masked) dicts to HTML.

Figures of sources are the static report's (`munihub.report.build.gather`), so the page and
the printable report never disagree; this module only lays them out for a person who acts.
"""
from __future__ import annotations

import json
from munihub.report.render import CHECK_FA, SEVERITY_FA, e, fa, ident, status_badge, trend_svg
from munihub.report.render import age_text as age
from munihub.workbench.html import action_form, link, table, when
from munihub.workbench.people import Person

RULE_FA = {"required": "مقدار لازم خالی است", "format": "قالب نادرست", "type": "نوع نادرست",
           "pattern": "الگو نمی‌خواند", "enum": "خارج از فهرست مجاز", "invalid": "مقدار نامعتبر",
           "check_digit": "رقم کنترل نمی‌خواند", "minimum": "کمتر از کمینه", "maximum": "بیشتر از بیشینه"}
METRIC_FA = {"rowCount": "تعداد سطر", "nullValues": "مقدار خالی", "duplicateValues": "مقدار تکراری",
             "invalidValues": "مقدار نامعتبر", "missingValues": "مقدار گمشده", "freshness": "تازگی"}
VERDICT_FA = {"match": "یکی است", "no-match": "یکی نیست"}


def signin_body(base: str, pre: str) -> str:
    return (f'<h1>ورود به میزکار کارشناسان داده</h1>'
            f'<form method="post" action="{e(base)}/signin" style="max-width:22rem;display:grid;gap:.6rem">'
            f'<input type="hidden" name="csrf" value="{e(pre)}">'
            '<label>نام کاربری <input name="username" autocomplete="username" required dir="ltr"></label>'
            '<label>گذرواژه <input name="password" type="password" autocomplete="current-password" required '
            'dir="ltr"></label><button type="submit">ورود</button></form>')


def _checks_cell(checks: dict) -> str:
    return (f'<span class="ok">{fa(checks["passed"])}</span> / <span class="warn">{fa(checks["warning"])}</span>'
            f' / <span class="bad">{fa(checks["failed"] + checks["error"])}</span>')


def _attention(s: dict) -> tuple:
    load = s["last_load"] or {}
    checks = s["checks"]
    return (load.get("status") not in {"held", "failed"}, not s["freshness"]["stale"],
            not (checks["failed"] or checks["error"]), not s["quarantine"]["open"], s["source"])


def _fresh(fresh: dict) -> str:
    label = {True: '<span class="bad">کهنه</span>', False: '<span class="ok">تازه</span>',
             None: '<span class="muted">بی‌پیمان تازگی</span>'}[fresh["stale"]]
    return f'{label} <span class="muted">({age(fresh["age_seconds"])})</span>'


def _set_aside(s: dict) -> int:
    """Values set aside from the source's published records and still open, of every load."""
    return (s.get("set_aside") or {}).get("open", 0)


def overview_body(base: str, data: dict, person: Person) -> str:
    """Per source: last load, status, freshness, last checks, quarantined, trend; entity figures."""
    t = data["totals"]
    cards = "".join(f'<div class="card">{label}<b>{fa(value)}</b></div>' for label, value in (
        ("منبع", t["sources"]), ("نگه داشته", t["held_sources"]), ("ناموفق", t["failed_sources"]),
        ("کهنه", t["stale_sources"]), ("رکورد در قرنطینه (باز)", sum(s["quarantine"]["open"] for s in data["sources"])),
        ("مقدار کنار گذاشته (باز)", sum(_set_aside(s) for s in data["sources"])),
        ("جفت در انتظار بازبینی", t["review_open"]), ("موجودیت", t["entities"])))
    dup = {x["entity_type"]: x for x in data["entities"]}
    rows = []
    for s in sorted(data["sources"], key=_attention):
        load = s["last_load"] or {}
        rows.append(
            f'<tr><td>{link(base, "/sources/" + s["source"], ident(s["source"]))}</td>'
            f'<td>{status_badge(load.get("status"))}</td><td>{when(load.get("finished_at") or load.get("started_at"))}</td>'
            f'<td>{_fresh(s["freshness"])}</td><td>{_checks_cell(s["checks"])}</td>'
            f'<td>{link(base, "/quarantine", fa(s["quarantine"]["open"]), source=s["source"])}</td>'
            f'<td>{link(base, "/values", fa(_set_aside(s)), source=s["source"])}</td>'
            f'<td>{fa(load.get("rows_in", 0))}</td><td>{fa(load.get("published", 0))}</td>'
            f'<td dir="ltr">{trend_svg(s["trend"], 160, 28)}</td></tr>')
    ents = [f'<tr><td>{ident(x["entity_type"])}</td><td>{fa(x["records"])}</td><td>{fa(x["entities"])}</td>'
            f'<td>{fa(round(x["duplicate_rate"] * 100, 1))}٪</td></tr>' for x in dup.values()]
    ov = data["overlap"]
    pairs = [f'<tr><td>{ident(p["left"])}</td><td>{ident(p["right"])}</td><td>{fa(p["entities"])}</td></tr>'
             for p in ov["pairs"][:30]]
    return (f'<h1>نمای کلی منابع</h1><p class="muted">به‌روز شده {when(data["generated_at"])}</p>'
            f'<div class="cards">{cards}</div><h2>منابع (اول آن‌ها که کار دارند)</h2>'
            + table(["منبع", "وضعیت آخرین بار", "زمان", "تازگی", "بررسی‌ها (قبول/هشدار/رد)", "قرنطینه باز",
                     "مقدار کنار گذاشته", "ورودی", "منتشر", "روند بارها"], rows, empty="منبعی ثبت نشده است.")
            + '<h2>موجودیت‌ها و نرخ تکرار</h2>'
            + table(["نوع", "رکورد", "موجودیت", "نرخ تکرار"], ents, empty="هنوز یکپارچه‌سازی اجرا نشده است.")
            + f'<h2>همپوشانی منابع</h2><p>{fa(ov["multi_source_entities"])} موجودیت در دو منبع یا بیشتر عضو دارند.</p>'
            + table(["منبع", "منبع", "موجودیت مشترک"], pairs, empty="همپوشانی‌ای نیست.")
            + (action_form(base, "/consolidate", person, "اجرای یکپارچه‌سازی") if person.may_act else ""))


def _examples(found: dict | None) -> str:
    if not found or not found["items"]:
        return ""
    label = "ردیف‌های منتشرشده" if found["kind"] == "rows" else "مقدارهای تکراری"
    return (f'<br><span class="muted">{label}:</span> '
            + " · ".join(f'<bdi class="id" dir="ltr">{e(x)}</bdi>' for x in found["items"]))


def checks_explained(checks: dict, examples: dict | None = None) -> str:
    """Each dataset check: what the contract promised (threshold, severity) against what was
    measured, with a few of the published rows or values it counts."""
    rows = []
    for c in checks["items"]:
        cls = {"failed": "bad", "error": "bad", "warning": "warn"}.get(c["status"], "ok")
        rows.append(f'<tr class="{cls}"><td>{e(METRIC_FA.get(c["metric"], c["metric"]))} {ident(c["metric"])}</td>'
                    f'<td>{ident(c["field"] or "—")}</td><td class="w">{e(c["expected"])}</td>'
                    f'<td>{e(SEVERITY_FA.get(c["severity"], c["severity"]))}</td><td class="w">{e(c["observed"])}</td>'
                    f'<td><span class="badge {cls}">{e(CHECK_FA.get(c["status"], c["status"]))}</span></td>'
                    f'<td dir="auto">{e(c["message"])}{_examples((examples or {}).get(c["name"]))}</td></tr>')
    return table(["سنجه", "فیلد", "قول پیمان", "شدت", "اندازه‌گیری شد", "نتیجه", "توضیح و نمونه"], rows,
                 empty="هنوز باری با داده بررسی نشده است.")


def source_body(base: str, s: dict, data: dict, person: Person, examples: dict | None = None) -> str:
    load, fresh, q = s["last_load"] or {}, s["freshness"], s["quarantine"]
    head = (f'<p>آخرین بار {ident(load["load_id"])} {status_badge(load["status"])} در {when(load["started_at"])}: '
            f'ورودی {fa(load["rows_in"])}، جدید {fa(load["rows_new"])}، تغییرکرده {fa(load["rows_changed"])}، '
            f'بدون تغییر {fa(load["rows_unchanged"])}، قرنطینه {fa(load["rows_quarantined"])}'
            + ''.join(f'، {ident(f)}: {fa(n)} مقدار کنار گذاشته' for f, n in sorted((load.get("values_set_aside") or {}).items()))
            + '.</p>'
            if load else '<p class="warn">این منبع هنوز اجرا نشده است.</p>')
    if load.get("error"):
        head += f'<div class="msg bad" dir="auto">{e(load["error"])}</div>'
    window = age(fresh["window_seconds"]) if fresh["window_seconds"] else "تعریف نشده"
    checked = s.get("checks_load_id")
    since = (f'<p class="muted">بررسی‌های بار {ident(checked)} (آخرین باری که داده داشت؛ بارهای بی‌داده '
             'بررسی‌ها را پاک نمی‌کنند).</p>') if checked else ""
    reasons = [f'<tr><td>{ident(r["rule"])} {e(RULE_FA.get(r["rule"], ""))}</td><td>{ident(r["field"])}</td>'
               f'<td>{link(base, "/quarantine", fa(r["count"]), source=s["source"], rule=r["rule"], field=r["field"])}'
               f'</td></tr>' for r in q["reasons"]]
    return (f'<p>{link(base, "/", "نمای کلی")}</p><h1>منبع {ident(s["source"])}</h1>{head}'
            f'<p>مالک: {e(s["owner"])} · نسخهٔ پیمان {ident(s["contract_version"])} · پنجرهٔ تازگی: {window} · '
            f'آخرین انتشار: {when(fresh["last_published"])} · {_fresh(fresh)}</p>'
            f'<h2>بررسی‌های کیفیت: قول پیمان در برابر اندازه‌گیری</h2>{since}{checks_explained(s["checks"], examples)}'
            f'<h2>قرنطینه</h2><p>{link(base, "/quarantine", fa(q["open"]) + " رکورد باز", source=s["source"])}'
            f'، {fa(q["distinct_reasons"])} دلیل متفاوت.</p>'
            + table(["قاعده", "فیلد", "تعداد"], reasons, empty="رکورد باز در قرنطینه نیست.")
            + f'<h2>روند {fa(len(s["trend"]))} بار اخیر</h2><div dir="ltr">{trend_svg(s["trend"])}</div>')


def _reasons(reasons: list[dict]) -> str:
    return "<br>".join(f'{ident(r["pointer"])} <span class="muted">{ident(r["rule"])}</span> '
                       f'<span dir="auto">{e(r["message_fa"])}</span>' for r in reasons)


def _select(name: str, label: str, options: list[str], current: str | None) -> str:
    opts = "".join(f'<option value="{e(o)}"{" selected" if o == current else ""}>{e(o)}</option>' for o in options)
    return f'<label>{label} <select name="{name}"><option value="">همه</option>{opts}</select></label>'


def quarantine_body(base: str, found: dict, choices: dict, query: dict, person: Person) -> str:
    statuses = {"open": "باز", "replayed": "بازپخش شده", "dismissed": "کنار گذاشته", "superseded": "جایگزین شده",
                "all": "همه"}
    status = query.get("status") or "open"
    status_opts = "".join(f'<option value="{k}"{" selected" if k == status else ""}>{v}</option>'
                          for k, v in statuses.items())
    form = (f'<form class="inline" method="get" action="{e(base)}/quarantine">'
            f'{_select("source", "منبع", choices["sources"], query.get("source"))}'
            f'{_select("field", "فیلد", choices["fields"], query.get("field"))}'
            f'{_select("rule", "قاعده", choices["rules"], query.get("rule"))}'
            f'<label>از تاریخ <input name="since" value="{e(query.get("since", ""))}" placeholder="۱۴۰۳/۰۸/۰۱" size="10"></label>'
            f'<label>تا تاریخ <input name="until" value="{e(query.get("until", ""))}" placeholder="۱۴۰۳/۰۸/۳۰" size="10"></label>'
            f'<label>وضعیت <select name="status">{status_opts}</select></label><button type="submit">پالایش</button></form>')
    rows = [f'<tr><td>{link(base, "/quarantine/" + str(r["id"]), fa(r["id"]))}</td><td>{ident(r["source"])}</td>'
            f'<td>{when(r["started_at"])}</td><td>{e(statuses.get(r["status"], r["status"]))}</td>'
            f'<td>{_reasons(r["reasons"])}</td></tr>' for r in found["rows"]]
    replay = ""
    if query.get("source") and person.may_act and status == "open" and found["total"]:
        replay = ('<p>پس از اصلاح پیمان یا نگاشت، رکوردهای باز این منبع را دوباره از همهٔ مراحل بگذرانید:</p>'
                  + action_form(base, "/quarantine/replay", person, "بازپخش همهٔ رکوردهای باز این منبع",
                                hidden={"source": query["source"]}, cls="ok"))
    shown = f" (نمایش {fa(len(found['rows']))} مورد نخست)" if found["total"] > len(found["rows"]) else ""
    total = f"بیش از {fa(found['cap'])}" if found["total"] > found["cap"] else fa(found["total"])
    return (f'<h1>قرنطینه</h1>{form}<p>{total} رکورد{shown}.</p>{replay}'
            + table(["شماره", "منبع", "زمان بار", "وضعیت", "دلیل‌ها"], rows, empty="رکوردی با این پالایه نیست."))


def quarantine_item_body(base: str, item: dict, person: Person) -> str:
    reasons = [f'<tr><td>{ident(r.get("pointer"))}</td><td>{ident(r.get("rule"))} {e(RULE_FA.get(r.get("rule"), ""))}</td>'
               f'<td dir="auto">{e(r.get("message_fa") or r.get("message"))}</td></tr>' for r in item["reasons"]]
    actions = ""
    if item["status"] == "open" and person.may_act:
        actions = ('<h2>اقدام</h2>'
                   + action_form(base, "/quarantine/replay", person, "بازپخش این رکورد",
                                 hidden={"source": item["source"], "ids": item["id"]}, cls="ok")
                   + action_form(base, "/quarantine/dismiss", person, "کنار گذاشتن", hidden={"ids": item["id"]},
                                 cls="bad"))
    decided = (f'<p>{e(item["status"])} به دست {e(item["decided_by"])} در {when(item["decided_at"])}: '
               f'<span dir="auto">{e(item["note"])}</span></p>') if item.get("decided_by") else ""
    return (f'<p>{link(base, "/quarantine", "قرنطینه", source=item["source"])}</p>'
            f'<h1>رکورد قرنطینه {fa(item["id"])}</h1><p>منبع {link(base, "/sources/" + item["source"], ident(item["source"]))}'
            f' · بار {ident(item["load_id"])} · کلید {ident(item["source_key"] or "—")} · جایگاه {ident(item["position"])}</p>'
            f'{decided}<h2>چرا قرنطینه شد</h2>' + table(["فیلد", "قاعده", "پیام"], reasons)
            + '<h2>دادهٔ خام (پوشانده)</h2>'
            f'<pre>{e(json.dumps(item["raw"], ensure_ascii=False, indent=1, sort_keys=True))}</pre>{actions}')


def _shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def values_body(base: str, counts: list[dict], rows: list[dict], query: dict, person: Person) -> str:
    """Values set aside and still open: counted per source, field and rule, then listed (masked)
    with the steward's actions: read them again after a contract fix, or dismiss with a reason."""
    source = query.get("source")
    counted = [f'<tr><td>{link(base, "/values", ident(c["source"]), source=c["source"])}</td>'
               f'<td>{link(base, "/values", ident(c["field"]), source=c["source"], field=c["field"])}</td>'
               f'<td>{ident(c["rule"])}</td><td>{fa(c["open"])}</td></tr>' for c in counts]
    listed = [f'<tr><td>{fa(r["id"])}</td><td>{ident(r["source"])}</td><td>{ident(r["record"])}</td>'
              f'<td>{ident(r["field"])}</td><td>{ident(r["rule"])}</td>'
              f'<td><bdi dir="ltr">{e(_shown(r["value"]))}</bdi></td><td dir="auto">{e(r["reason_fa"] or r["reason"])}</td>'
              f'<td>{action_form(base, "/values/dismiss", person, "کنار گذاشتن", hidden={"ids": r["id"]}, cls="bad")}'
              '</td></tr>' for r in rows]
    replay = ""
    if source and person.may_act and rows:
        replay = ('<p>پس از اصلاح پیمان، مقدارهای باز این منبع را دوباره بخوانید؛ هر مقداری که اکنون خوانده شود '
                  'در رکورد منتشرشده‌اش می‌نشیند:</p>'
                  + action_form(base, "/values/replay", person, "بازخوانی مقدارهای باز این منبع",
                                hidden={"source": source}, cls="ok"))
    return ('<h1>مقدارهای کنار گذاشته</h1><p class="muted">رکوردشان منتشر شد و فقط این مقدارها خوانده نشد '
            '(کد ملی با رقم کنترل نادرست، تاریخ ناممکن، تلفن ثابت در ستون همراه …).</p>'
            + table(["منبع", "فیلد", "قاعده", "باز"], counted, empty="مقدار بازی کنار گذاشته نشده است.")
            + (f'<h2>{ident(source)}' + (f' · {ident(query["field"])}' if query.get("field") else "") + '</h2>'
               if source else '<h2>تازه‌ترین‌ها</h2>') + replay
            + table(["شماره", "منبع", "رکورد", "فیلد", "قاعده", "مقدار (پوشانده)", "دلیل", ""], listed,
                    empty="مقداری با این پالایه نیست."))


def _brief(record: dict) -> str:
    keys = ("national_id", "first_name", "last_name", "full_name", "father_name", "birth_date", "mobile", "title")
    parts = [str(record[k]) for k in keys if record.get(k)]
    return e(" · ".join(parts) if parts else json.dumps(record, ensure_ascii=False)[:80])


def review_body(base: str, pairs: list[dict], person: Person) -> str:
    rows = [f'<tr><td>{link(base, "/review/" + str(p["id"]), fa(p["id"]))}</td><td>{ident(p["entity_type"])}</td>'
            f'<td>{fa(p["probability"])}</td><td dir="auto">{_brief(p["left"])}</td><td dir="auto">{_brief(p["right"])}'
            f'</td></tr>' for p in pairs]
    return ('<h1>جفت‌های در انتظار بازبینی</h1><p class="muted">جفت‌هایی که تطبیق‌دهنده دربارهٔ آن‌ها مطمئن نبود؛ '
            'تصمیم شما در اجرای بعدی اعمال می‌شود و هرگز نادیده گرفته نمی‌شود.</p>'
            + table(["شماره", "نوع", "احتمال", "رکورد نخست", "رکورد دوم"], rows, empty="جفتی برای بازبینی نیست.")
            + action_form(base, "/consolidate", person, "اجرای یکپارچه‌سازی"))


def _weight(value: float | None) -> str:
    return "—" if value is None else e(f"{value:+.2f}")


def pair_body(base: str, pair: dict, person: Person) -> str:
    fields = [f'<tr class="{"diff" if f["differs"] else ""}"><td>{ident(f["field"])}</td>'
              f'<td dir="auto">{e(f["left"])}</td><td dir="auto">{e(f["right"])}</td>'
              f'<td>{"≠" if f["differs"] else "="}</td></tr>' for f in pair["fields"]]
    comps = [f'<tr><td>{ident(c["comparison"])}</td><td>{ident(c["level"])}</td>'
             f'<td class="w {"plus" if (c["weight"] or 0) > 0 else "minus" if (c["weight"] or 0) < 0 else ""}">'
             f'{_weight(c["weight"])}</td></tr>' for c in pair["comparisons"]]
    ents = " · ".join(link(base, f"/entities/{x}", ident(x)) for x in (pair["left_entity"], pair["right_entity"]) if x)
    decide = ""
    if pair["status"] == "open" and person.may_act:
        decide = ('<h2>تصمیم</h2>'
                  + action_form(base, f"/review/{pair['id']}/decide", person, "یکی است", hidden={"verdict": "match"},
                                cls="ok")
                  + action_form(base, f"/review/{pair['id']}/decide", person, "یکی نیست",
                                hidden={"verdict": "no-match"}, cls="bad"))
    elif pair["status"] != "open":
        decide = ('<p class="ok">این جفت تصمیم گرفته شده است؛ برای دیدن اثر، یکپارچه‌سازی را اجرا کنید.</p>'
                  + action_form(base, "/consolidate", person, "اجرای یکپارچه‌سازی"))
    return (f'<p>{link(base, "/review", "همهٔ جفت‌ها")}</p><h1>جفت {fa(pair["id"])} ({ident(pair["entity_type"])})</h1>'
            f'<p>احتمال یکی بودن: {fa(pair["probability"])} · موجودیت‌ها: {ents or "—"}</p>'
            f'<div class="scroll"><table><tr><th>فیلد</th><th>{ident(pair["left_ref"])}</th>'
            f'<th>{ident(pair["right_ref"])}</th><th></th></tr>{"".join(fields)}</table></div>'
            '<h2>وزن هر مقایسه (log₂ m/u)</h2>'
            + table(["مقایسه", "سطح", "وزن"], comps, empty="مدل تطبیقی برای این نوع نیست.") + decide)


def search_body(base: str, text: str, found: dict | None) -> str:
    kinds = {"national_id": "کد ملی", "mobile": "شمارهٔ همراه", "name": "نام", "ref": "شناسهٔ رکورد منبع",
             "source_key": "کلید رکورد منبع"}
    form = (f'<form class="inline" method="get" action="{e(base)}/entities">'
            f'<input name="q" value="{e(text)}" size="34" aria-label="عبارت جست‌وجو" '
            'placeholder="کد ملی، شمارهٔ همراه، نام یا شناسهٔ رکورد منبع"><button type="submit">جست‌وجو</button></form>')
    if found is None:
        return f'<h1>جست‌وجوی موجودیت</h1>{form}'
    rows = [f'<tr><td>{link(base, "/entities/" + x["entity_id"], ident(x["entity_id"]))}</td>'
            f'<td>{ident(x["entity_type"])}</td><td>{fa(x["member_count"])}</td><td dir="auto">{_brief(x["golden"])}</td></tr>'
            for x in found["entities"]]
    return (f'<h1>جست‌وجوی موجودیت</h1>{form}<p>جست‌وجو بر پایهٔ {e(kinds.get(found["kind"], "—"))}: '
            f'{fa(len(found["entities"]))} موجودیت.</p>'
            + table(["شناسه", "نوع", "عضو", "رکورد طلایی"], rows, empty="موجودیتی پیدا نشد."))


def entity_body(base: str, ent: dict, person: Person) -> str:
    from munihub.contracts.schemas import flatten

    golden = flatten(ent["golden"])
    where = {x["field"]: x for x in ent["lineage"]}
    rows = []
    for field, value in sorted(golden.items()):
        top = field.split(".")[0]
        lin = where.get(field) or where.get(top) or {}
        rows.append(f'<tr><td>{ident(field)}</td><td dir="auto">{e(value)}</td><td>{ident(lin.get("source"))}</td>'
                    f'<td>{ident(lin.get("source_key"))}</td><td>{ident(lin.get("load_id"))}</td>'
                    f'<td>{ident(lin.get("rule"))}</td></tr>')
    several = len(ent["members"]) > 1
    members = [f'<tr><td>{ident(m["source"])}</td><td>{ident(m["source_key"])}</td><td>{ident(m["rule"])}</td>'
               f'<td>{ident(m["load_id"])}</td><td>'
               + (action_form(base, f"/entities/{ent['entity_id']}/split", person, "جدا کردن", hidden={"member": i},
                              cls="bad") if several else "")
               + '</td></tr>' for i, m in enumerate(ent["members"], start=1)]
    merge = ""
    if person.may_act:
        merge = ('<h2>یکی کردن با موجودیت دیگر</h2>'
                 + action_form(base, f"/entities/{ent['entity_id']}/merge", person, "یکی کردن", extra=(
                     '<input name="other" required dir="ltr" placeholder="P-…" aria-label="شناسهٔ موجودیت دیگر" '
                     'size="18">'))
                 + action_form(base, "/consolidate", person, "اجرای یکپارچه‌سازی"))
    decisions = [f'<tr><td>{ident(d["left_ref"])}</td><td>{ident(d["right_ref"])}</td>'
                 f'<td>{e(VERDICT_FA.get(d["decision"], d["decision"]))}</td><td>{e(d["decided_by"])}</td>'
                 f'<td>{when(d["decided_at"])}</td><td dir="auto">{e(d["note"])}</td></tr>' for d in ent["decisions"]]
    return (f'<p>{link(base, "/entities", "جست‌وجو")}</p><h1>موجودیت {ident(ent["entity_id"])} '
            f'({ident(ent["entity_type"])})</h1><h2>رکورد طلایی و تبار هر مقدار</h2>'
            + table(["فیلد", "مقدار", "منبع", "رکورد منبع", "بار", "قاعده"], rows)
            + f'<h2>اعضا ({fa(len(ent["members"]))})</h2>'
            + table(["منبع", "رکورد منبع", "قاعدهٔ پیوند", "بار", ""], members)
            + '<h2>تصمیم‌های کارشناسان</h2>' + table(["رکورد", "رکورد", "تصمیم", "به دست", "زمان", "دلیل"], decisions,
                                                    empty="تصمیمی دربارهٔ اعضای این موجودیت ثبت نشده است.")
            + merge)


__all__ = ["overview_body", "source_body", "quarantine_body", "quarantine_item_body", "review_body", "pair_body",
           "search_body", "entity_body", "signin_body", "checks_explained"]
