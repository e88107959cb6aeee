"""A third blind set (issue 16), written from README, docs/, schemas/ and the example contracts
only: two education exports (students, parents), a health patients' JSON-lines file and a 137
hotline from another vendor, each with the contract a busy agency engineer would write.

    generate(out, households, seed) -> {"persons": [(source, record_id, person_id, labels, raw)],
                                        "requests": [(tracking_code, group, labels)], ...}

The contracts are deliberately imperfect as agencies write them (no transformLogic on some
fields, `phone` on a mobile column, `date` on a date-time, `text` on a national id, `required`
on a field that is sometimes empty, a record id of two columns, quality rules as the ODCS
examples spell them). Truth CSVs for `munihub resolve evaluate --by phenomena` are written too.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import jdatetime

CONTRACTS = ["education.students", "education.parents", "health.patients", "hotline.calls"]

MALE = ["علی", "محمد", "حسین", "رضا", "مهدی", "حسن", "امیر", "سعید", "یاسر", "مجتبی", "کاظم", "یوسف", "مصطفی", "هادی", "یحیی"]
FEMALE = ["فاطمه", "زهرا", "مریم", "زینب", "سمیه", "نرگس", "لیلا", "کبری", "معصومه", "یگانه", "مهری", "سکینه", "آزیتا"]
LAST = ["رضایی", "محمدی", "حسینی", "کریمی", "یزدانی", "قاسمی", "نیکخواه", "کاظمی", "یعقوبی", "موسوی", "صادقی",
        "شریفی", "کیانی", "احمدی", "جعفری", "تقوی", "ملکی", "یوسفی", "نوری", "بیگی"]
LATIN = {"علی": "Ali", "محمد": "Mohammad", "حسین": "Hossein", "رضا": "Reza", "مهدی": "Mahdi", "فاطمه": "Fatemeh",
         "زهرا": "Zahra", "مریم": "Maryam", "سعید": "Saeed", "امیر": "Amir"}
STREETS = ["امام رضا", "احمدآباد", "سجاد", "وکیل آباد", "کوهسنگی", "طبرسی", "خیام", "فلسطین"]
# the vendor's own taxonomy: codes, subcategories under them
CATS = {"11": ("راه و آسفالت", ["چاله", "ترمیم ترانشه"]), "21": ("پسماند", ["جمع آوری زباله", "نخاله"]),
        "31": ("روشنایی", ["لامپ سوخته", "تیر برق"]), "41": ("فضای سبز", ["هرس درخت", "آبیاری"])}
STATUS = {"1": "ثبت شده", "2": "ارجاع شده", "3": "انجام شده", "4": "بسته شده", "9": "بازگشایی"}
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def nid(rng) -> str:
    d = [rng.randrange(10) for _ in range(9)]
    s = sum(x * (10 - i) for i, x in enumerate(d)) % 11
    return "".join(map(str, d)) + str(s if s < 2 else 11 - s)


def swap_pair(v: str, rng) -> str:
    i = rng.randrange(len(v) - 1)
    return v[:i] + v[i + 1] + v[i] + v[i + 2:] if v[i] != v[i + 1] else v[:i] + v[i + 1] + v[i + 2:] + v[i]


def arabic_letters(name: str, rng) -> str:
    """A Persian-keyboard slip: one «ی» (or «ک») of the word typed Arabic, the rest not."""
    idx = [i for i, c in enumerate(name) if c in "یک"]
    if not idx:
        return name
    i = rng.choice(idx)
    return name[:i] + {"ی": "ي", "ک": "ك"}[name[i]] + name[i + 1:]


def hijri(d: dt.date) -> str:
    """The tabular Islamic (qamari) date, as a hospital's old form writes it."""
    jd = d.toordinal() + 1721425 - 1948439 + 10632
    n = (jd - 1) // 10631
    jd = jd - 10631 * n + 354
    j = ((10985 - jd) // 5316) * ((50 * jd) // 17719) + (jd // 5670) * ((43 * jd) // 15238)
    jd = jd - ((30 - j) // 15) * ((17719 * j) // 50) - (j // 16) * ((15238 * j) // 43) + 29
    m = (24 * jd) // 709
    day = jd - (709 * m) // 24
    return f"{30 * n + j - 30}/{m:02d}/{day:02d} ق"


def jal(d: dt.date, sep="/", fa=False) -> str:
    j = jdatetime.date.fromgregorian(date=d)
    s = f"{j.year}{sep}{j.month:02d}{sep}{j.day:02d}"
    return s.translate(FA) if fa else s


def people(households: int, rng) -> list[dict]:
    out = []
    for h in range(households):
        last = rng.choice(LAST)
        street = rng.choice(STREETS)
        addr = {"district": rng.randint(1, 13), "street": street, "no": rng.randint(1, 90), "plaque": rng.randint(1, 200)}
        landline = "0513" + "".join(str(rng.randrange(10)) for _ in range(7))
        father = {"pid": f"p{h}-f", "first": rng.choice(MALE), "last": last, "gender": "male", "h": h,
                  "birth": dt.date(1965, 1, 1) + dt.timedelta(rng.randrange(7000)), "role": "father"}
        mother = {"pid": f"p{h}-m", "first": rng.choice(FEMALE), "last": rng.choice(LAST), "gender": "female", "h": h,
                  "birth": dt.date(1968, 1, 1) + dt.timedelta(rng.randrange(7000)), "role": "mother"}
        kids = []
        for k in range(rng.choice([0, 1, 1, 2, 2, 3])):
            g = rng.choice(["male", "female"])
            kids.append({"pid": f"p{h}-c{k}", "first": rng.choice(MALE if g == "male" else FEMALE), "last": last,
                         "gender": g, "h": h, "birth": dt.date(2006, 1, 1) + dt.timedelta(rng.randrange(4500)),
                         "role": "child", "father": father["first"]})
        if rng.random() < 0.05 and kids:  # twins: same birth date, same parents
            t = dict(kids[0], pid=f"p{h}-t", first=rng.choice(MALE if kids[0]["gender"] == "male" else FEMALE))
            if t["first"] != kids[0]["first"]:
                kids.append(t)
        for p in [father, mother] + kids:
            p.update(nid=nid(rng), mobile="09" + str(rng.choice([12, 15, 35, 36])) + "".join(str(rng.randrange(10)) for _ in range(7)),
                     addr=addr, landline=landline)
        for k in kids:
            k["mobile"] = None if rng.random() < 0.8 else k["mobile"]
            k["parent_mobile"] = rng.choice([father, mother])["mobile"]
        out.extend([father, mother] + kids)
    return out


def name_noise(p: dict, rng, labels: list, latin_ok=False) -> tuple[str, str]:
    first, last = p["first"], p["last"]
    if rng.random() < 0.15:
        first = arabic_letters(first, rng) if rng.random() < 0.5 else first
        last = arabic_letters(last, rng)
        if (first, last) != (p["first"], p["last"]):
            labels.append("arabic_letter")
    if latin_ok and first in LATIN and rng.random() < 0.2:
        first = LATIN[first]
        labels.append("latin_first")
    return first, last


def nid_noise(p: dict, rng, labels: list, missing=0.05) -> str:
    r = rng.random()
    if r < missing:
        labels.append("no_nid")
        return ""
    if r < missing + 0.06:
        labels.append("nid_swapped")
        return swap_pair(p["nid"], rng)
    return p["nid"]


def generate(out: Path, households: int = 600, seed: int = 1) -> dict:
    rng = random.Random(seed)
    out = Path(out)
    data, cdir = out / "data", out / "contracts"
    for d in ("students", "parents", "patients", "calls"):
        (data / d).mkdir(parents=True, exist_ok=True)
    pop = people(households, rng)
    persons, requests = [], []

    # education.students: one row per enrolment; record id = school + student code (a pupil moves school)
    rows = []
    for p in pop:
        if p["role"] != "child" or rng.random() < 0.1:
            continue
        for k in range(1 + (rng.random() < 0.15)):
            lb = ["moved_school"] if k else []
            first, last = name_noise(p, rng, lb)
            bd = p["birth"]
            birth = jal(bd, fa=rng.random() < 0.3) if rng.random() < 0.85 else (lb.append("birth_gregorian") or bd.isoformat())
            row = {"کد مدرسه": str(rng.randint(1000, 1099)), "کد دانش آموز": str(len(rows) + 5000),
                   "کد ملی": nid_noise(p, rng, lb, 0.08), "نام": first, "نام خانوادگی": last, "نام پدر": p["father"],
                   "تاریخ تولد": birth, "جنسیت": "پسر" if p["gender"] == "male" else "دختر",
                   "تلفن همراه ولی": p["parent_mobile"], "نشانی": f"منطقه {p['addr']['district']}، خ {p['addr']['street']}"}
            rows.append(row)
            persons.append(("education.students", f"{row['کد مدرسه']}-{row['کد دانش آموز']}", p["pid"], lb, row))
    write_csv(data / "students" / "students_1403.csv", rows)

    # education.parents: one row per parent per pupil (a parent of two pupils appears twice)
    rows = []
    kids_by_h = {}
    for p in pop:
        if p["role"] == "child":
            kids_by_h.setdefault(p["h"], []).append(p)
    for p in pop:
        if p["role"] == "child" or p["h"] not in kids_by_h or rng.random() < 0.3:
            continue
        for kid in kids_by_h[p["h"]]:
            lb = ["parent_repeat"] if any(r["parent_pid"] == p["pid"] for r in rows) else []
            first, last = name_noise(p, rng, lb, latin_ok=True)
            # registered from the enrolment system: a timestamp column
            reg = dt.datetime(2024, 9, 1, 8) + dt.timedelta(minutes=rng.randrange(90000))
            row = {"parent_id": f"PR{len(rows) + 1:05d}", "student_code": "", "national_code": nid_noise(p, rng, lb, 0.1),
                   "name": f"{first} {last}", "relation": "پدر" if p["role"] == "father" else "مادر",
                   "mobile": p["mobile"] if rng.random() < 0.9 else "", "home_phone": p["landline"] if rng.random() < 0.5 else "",
                   "birth_date": p["birth"].strftime("%Y-%m-%d 00:00:00"), "registered_at": reg.strftime("%Y-%m-%d %H:%M:%S"),
                   "parent_pid": p["pid"]}
            rows.append(row)
            persons.append(("education.parents", row["parent_id"], p["pid"], lb, {k: v for k, v in row.items() if k != "parent_pid"}))
    write_csv(data / "parents" / "parents.csv", [{k: v for k, v in r.items() if k != "parent_pid"} for r in rows])

    # health.patients: JSON lines from the clinics' HIS; birth dates in three calendars' styles
    lines = []
    for p in pop:
        if rng.random() > 0.35:
            continue
        for k in range(1 + (rng.random() < 0.2)):
            lb = ["second_clinic"] if k else []
            first, last = name_noise(p, rng, lb, latin_ok=True)
            r = rng.random()
            if r < 0.5:
                birth = jal(p["birth"])
            elif r < 0.8:
                birth = p["birth"].strftime("%d/%m/%Y")
                lb.append("birth_gregorian_dmy")
            else:
                birth = hijri(p["birth"])
                lb.append("birth_hijri")
            mob = p["mobile"] or p.get("parent_mobile")
            rec = {"patient_no": f"H{len(lines) + 1:06d}", "clinic": rng.choice(["C1", "C2", "C3"]),
                   "nid": nid_noise(p, rng, lb, 0.12), "full_name": f"{first} {last}",
                   "sex": "M" if p["gender"] == "male" else "F", "dob": birth,
                   "cell": ("+98" + mob[1:] if rng.random() < 0.3 else mob) if mob and rng.random() < 0.85 else "",
                   "admitted": (dt.datetime(2024, 1, 1) + dt.timedelta(hours=rng.randrange(8000))).isoformat()}
            lines.append(rec)
            persons.append(("health.patients", rec["patient_no"], p["pid"], lb, rec))
    (data / "patients" / "patients.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")

    # hotline.calls: another vendor's 137 export; codes for categories and statuses
    rows = []
    adults = [p for p in pop if p["role"] != "child"]
    base = dt.datetime(2024, 4, 1, 8)
    group = 0

    def call(p, when, cat, sub, lat, lon, addr, lb, prev=""):
        first, last = name_noise(p, rng, lb, latin_ok=True)
        code = f"{when:%y%m}{len(rows) + 1:05d}"
        r = rng.random()
        if lat and r < 0.08:
            lat, lon = lon, lat
            lb.append("latlon_swapped")
        elif r < 0.14:
            lat = lon = 0
            lb.append("latlon_zero")
        row = {"کد پیگیری": code, "کد پیگیری قبلی": prev, "تاریخ ثبت": jal(when.date()) + when.strftime(" %H:%M"),
               "کد موضوع": cat, "زیرموضوع": sub, "وضعیت": rng.choices(list(STATUS), [20, 20, 25, 32, 3])[0],
               "نام تماس گیرنده": f"{first} {last}" if rng.random() < 0.9 else last,
               "شماره تماس": p["mobile"] if rng.random() < 0.8 else p["landline"],
               "کد ملی": nid_noise(p, rng, lb, 0.6), "عرض": f"{lat:.5f}" if lat else "0", "طول": f"{lon:.5f}" if lon else "0",
               "نشانی": addr, "شرح": "—"}
        rows.append(row)
        return row

    for _ in range(households // 2):
        group += 1
        p = rng.choice(adults)
        when = base + dt.timedelta(minutes=rng.randrange(300000))
        cat = rng.choice(list(CATS))
        sub = rng.choice(CATS[cat][1])
        lat, lon = 36.2 + rng.random() * 0.2, 59.5 + rng.random() * 0.2
        a = p["addr"]
        addr = f"منطقه {a['district']}، خ {a['street']} {a['no']}، پ {a['plaque']}"
        lb0 = []
        first = call(p, when, cat, sub, lat, lon, addr, lb0)
        members = [(first, lb0, p)]
        r = rng.random()
        if r < 0.25:  # follow-up by the same caller, often citing the first code, sometimes re-filed
            for k in range(rng.randint(1, 2)):
                lb = ["followup"]
                c2, s2 = cat, sub
                if rng.random() < 0.3:
                    c2 = rng.choice([c for c in CATS if c != cat])
                    s2 = rng.choice(CATS[c2][1])
                    lb.append("refiled_category")
                prev = first["کد پیگیری"] if rng.random() < 0.5 else ""
                if prev:
                    lb.append("cites_previous")
                members.append((call(p, when + dt.timedelta(days=rng.randint(1, 20)), c2, s2, lat, lon, addr, lb, prev), lb, p))
        elif r < 0.35:  # household member calls about the same problem
            other = rng.choice([q for q in pop if q["h"] == p["h"] and q is not p and q["role"] != "child"] or [p])
            lb = ["same_household"]
            members.append((call(other, when + dt.timedelta(hours=rng.randint(2, 72)), cat, sub, lat, lon, addr, lb), lb, other))
        elif r < 0.45 and cat == "11":  # the same pothole from neighbours
            for _ in range(rng.randint(1, 3)):
                q = rng.choice(adults)
                lb = ["neighbours_same_pothole"]
                addr2 = f"منطقه {a['district']}، خ {a['street']} {a['no'] + rng.randint(-2, 2)}"
                members.append((call(q, when + dt.timedelta(hours=rng.randint(1, 96)), cat, sub,
                                     lat + rng.uniform(-3e-4, 3e-4), lon + rng.uniform(-3e-4, 3e-4), addr2, lb), lb, q))
        elif r < 0.5:  # reopened months later, citing the first code
            lb = ["reopened_months_later", "cites_previous"]
            members.append((call(p, when + dt.timedelta(days=rng.randint(90, 200)), cat, sub, lat, lon, addr, lb,
                                 first["کد پیگیری"]), lb, p))
        for row, lb, who in members:
            # a neighbour or another family member reporting the same problem is another request
            # (docs/resolution.md); kept labelled to see that they stay apart
            own = any(x in lb for x in ("neighbours_same_pothole", "same_household")) and who is not p
            requests.append((row["کد پیگیری"], f"g{group}" + (f"-{row['کد پیگیری']}" if own else ""), lb))
            persons.append(("hotline.calls", row["کد پیگیری"], who["pid"], lb, row))
    write_csv(data / "calls" / "calls_export.csv", rows, encoding="utf-8-sig")
    write_contracts(cdir, data)
    # truth for `munihub resolve evaluate --truth FILE --by phenomena`; the store keys a record id
    # of two columns as its values joined by «|» (found in the store; the docs do not say)
    (out / "truth").mkdir(exist_ok=True)
    write_csv(out / "truth" / "persons.csv", [{"source": s, "record_id": r.replace("-", "|") if s == "education.students" else r,
                                                "person_id": pid, "phenomena": ";".join(lb)} for s, r, pid, lb, _ in persons])
    write_csv(out / "truth" / "requests.csv", [{"record_id": c, "request_group": g, "phenomena": ";".join(lb)}
                                                for c, g, lb in requests])
    return {"persons": persons, "requests": requests, "people": len(pop)}


def write_csv(path: Path, rows: list[dict], encoding="utf-8") -> None:
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


HEAD = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 0.1.0
status: active
domain: {agency}
tenant: mashhad
description:
  purpose: {purpose}
team:
  name: {agency}
  members:
    - username: {agency}-it
      name: واحد فناوری اطلاعات
      role: owner
servers:
  - server: {agency}-{name}
    type: local
    path: "{path}"
    format: {fmt}
    environment: production
    customProperties:
      - {{property: connector, value: file}}
      - {{property: path, value: "{path}"}}
      - {{property: pattern, value: "{pattern}"}}
      - {{property: format, value: {fmt}}}
schema:
  - name: {name}
    physicalName: {name}
    physicalType: table
    customProperties:
      - {{property: sharedSchema, value: {shared}}}
{extra}    quality:
      - {{metric: rowCount, mustBeGreaterThan: 0, severity: error}}
    properties:
"""

PROPS = {
    "education.students": ("person", "csv", "students_*.csv",
                           "      - {property: recordId, value: [کد مدرسه, کد دانش آموز]}\n", """
      - {name: national_id, physicalName: کد ملی, logicalType: string, transformLogic: national_id, primaryKey: true, primaryKeyPosition: 1}
      - {name: first_name, physicalName: نام, logicalType: string, required: true}
      - {name: last_name, physicalName: نام خانوادگی, logicalType: string, required: true}
      - {name: father_name, physicalName: نام پدر, logicalType: string}
      - {name: birth_date, physicalName: تاریخ تولد, logicalType: date, transformLogic: date}
      - name: gender
        physicalName: جنسیت
        logicalType: string
        customProperties:
          - {property: valueMap, value: {پسر: male, دختر: female}}
      - {name: mobile, physicalName: تلفن همراه ولی, logicalType: string, transformLogic: phone}
      - {name: address.district, physicalName: نشانی, logicalType: string}
"""),
    "education.parents": ("person", "csv", "parents*.csv", "      - {property: recordId, value: [parent_id]}\n", """
      - name: national_id
        physicalName: national_code
        logicalType: string
        transformLogic: text
        primaryKey: true
        primaryKeyPosition: 1
        quality:
          - {metric: nullValues, mustBe: 0, severity: warning}
      - {name: full_name, physicalName: name, logicalType: string, transformLogic: person_name, required: true}
      - {name: mobile, physicalName: mobile, logicalType: string, transformLogic: mobile, required: true}
      - {name: phone, physicalName: home_phone, logicalType: string, transformLogic: phone}
      - {name: birth_date, physicalName: birth_date, logicalType: date, transformLogic: date}
"""),
    "health.patients": ("person", "jsonl", "*.jsonl",
                        "      - {property: recordId, value: [patient_no]}\n", """
      - {name: national_id, physicalName: nid, logicalType: integer, primaryKey: true, primaryKeyPosition: 1}
      - {name: full_name, physicalName: full_name, logicalType: string}
      - name: gender
        physicalName: sex
        logicalType: string
        customProperties:
          - {property: valueMap, value: {M: male, F: female}}
      - {name: birth_date, physicalName: dob, logicalType: date, transformLogic: date, required: true}
      - {name: mobile, physicalName: cell, logicalType: string, transformLogic: phone}
"""),
    "hotline.calls": ("service_request", "csv", "calls_*.csv", "", """
      - {name: tracking_code, physicalName: کد پیگیری, logicalType: string, primaryKey: true, primaryKeyPosition: 1, required: true}
      - {name: refers_to, physicalName: کد پیگیری قبلی, logicalType: string}
      - {name: filed_at, physicalName: تاریخ ثبت, logicalType: date, transformLogic: date, required: true}
      - name: category
        physicalName: کد موضوع
        logicalType: string
        required: true
        customProperties:
          - {property: valueMap, value: {'11': آسفالت, '21': پسماند, '31': روشنایی معابر, '41': فضای سبز}}
      - {name: subcategory, physicalName: زیرموضوع, logicalType: string}
      - name: status
        physicalName: وضعیت
        logicalType: string
        customProperties:
          - {property: valueMap, value: {'1': ثبت شده, '2': ارجاع شده, '3': انجام شده, '4': بسته شده}}
      - {name: citizen_name, physicalName: نام تماس گیرنده, logicalType: string}
      - {name: mobile, physicalName: شماره تماس, logicalType: string, transformLogic: mobile}
      - name: national_id
        physicalName: کد ملی
        logicalType: string
        transformLogic: national_id
        quality:
          - {metric: invalidValues, arguments: {pattern: '^[0-9]{10}$'}, mustBeLessThan: 5, unit: percent, severity: warning}
      - {name: latitude, physicalName: عرض, logicalType: number}
      - {name: longitude, physicalName: طول, logicalType: number}
      - {name: address, physicalName: نشانی, logicalType: string}
      - {name: description, physicalName: شرح, logicalType: string}
"""),
}


# What the agency engineer changes after reading the first sync's output (bench --fixed):
# each is (contract, as first written, as fixed).
FIXES = [
    ("hotline.calls", "logicalType: date, transformLogic: date, required: true}", "logicalType: date, transformLogic: datetime, required: true}"),
    ("health.patients", "transformLogic: date, required: true}", "transformLogic: 'date:dmy'}"),
    ("education.parents", "transformLogic: mobile, required: true}", "transformLogic: mobile}"),
]
FIXED = set()


def write_contracts(cdir: Path, data: Path) -> None:
    folders = {"education.students": "students", "education.parents": "parents", "health.patients": "patients",
               "hotline.calls": "calls"}
    for cid, (shared, fmt, pattern, extra, props) in PROPS.items():
        agency, name = cid.split(".")
        (cdir / agency).mkdir(parents=True, exist_ok=True)
        head = HEAD.format(id=cid, name=name, agency=agency, purpose=cid, path=data / folders[cid], fmt=fmt,
                           pattern=pattern, shared=shared, extra=extra)
        for fcid, old, new in FIXES:
            if fcid == cid and FIXED:
                assert old in props, (cid, old)
                props = props.replace(old, new)
        (cdir / agency / f"{name}.yaml").write_text(head + props.lstrip("\n") + SLA, encoding="utf-8")
    (cdir / "match_settings.yaml").write_text("{}\n", encoding="utf-8")


SLA = """slaProperties:
  - {property: freshness, value: 7, unit: d}
customProperties:
  - {property: schedule, value: "@daily"}
"""
