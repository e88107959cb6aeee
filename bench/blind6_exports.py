"""The sixth blind set: citizens seen through records that are not about persons.  Written from
the public docs (README, docs/, schemas/, contracts/) only, as an agency engineer with Mashhad's
real exports would, without reading the matcher or the other generators.

Four exports, each with the contract a busy engineer writes for it (`CONTRACTS`):

* `urbanplanning.owners` (permit): building permits, owners as the deed writes them: «علی رضایی
  و شرکا», «ورثه مرحوم حسن کریمی», «شرکت ساختمانی توس بنا (سهامی خاص)» with an 11-digit legal id,
  «زهرا احمدی به وکالت از محمد احمدی», two owners «علی و حسین رضایی»; one owner on two permits
  years apart, at two homes (moved).  CSV, Jalali dates.
* `finance.fees` (payment): fees and levies, SQLite table; payer name, a national id or a
  company's 11-digit legal id in one column, mobile, amount, Jalali date, tracking number; a
  relative paying an owner's permit fee, a company's officer paying from his own pocket.
* `registry.people` (person): the citizens themselves, national ids, Jalali birth dates.
* `rc137.calls` (service_request): 137 calls, some with coordinates only (lat/lon swapped
  sometimes, or 0/0) and no address text, some located by a landmark «روبروی پارک ملت».

Truth, as a steward would label it (the docs say nothing of deeds' wording):
* a record's person is the one the record is about: a permit's owner, a payment's payer, a
  call's caller, a registry row's citizen;
* «X و شرکا» names X; «A و B <surname>» names A (the first owner, whose national id the permit
  system holds); «ورثه مرحوم X» names X, the deceased owner (his heirs are nobody in particular);
  «A به وکالت از B» names B, the owner (A is the agent: her mobile is on the record, her name is not
  the owner's);
* a company is nobody: each of its records is a singleton (`company:<legal id>:<record>`), never
  joined to a citizen, even when it names its managing director or carries his mobile; two
  records of one company are not scored as a pair (the person scores count no company pairs).
A 137 request group: one citizen's calls about one problem at one place within a month.
"""
from __future__ import annotations

import csv
import random
import sqlite3
from pathlib import Path

CONTRACTS = ["registry.people", "urbanplanning.owners", "finance.fees", "rc137.calls"]
CALLS = "rc137.calls"
# phenomena left out (--plain), for attribution: heirs, company, partners, joint, agent,
# relative_pays, moved, swapped, zero, long_after, neighbour
PLAIN: set[str] = set()

MALE = ["علی", "حسین", "محمد", "رضا", "مهدی", "حسن", "امیر", "جواد", "مجید", "سعید", "احمد", "مصطفی",
        "عباس", "حمید", "وحید", "یوسف", "محمدرضا", "علیرضا", "غلامرضا", "ابراهیم"]
FEMALE = ["زهرا", "فاطمه", "مریم", "معصومه", "سمیرا", "نرگس", "الهام", "لیلا", "سارا", "مینا", "اکرم",
          "طاهره", "فرشته", "زینب", "سمانه", "شیما"]
SURNAMES = ["رضایی", "کریمی", "احمدی", "حسینی", "محمدی", "موسوی", "جعفری", "قاسمی", "رحیمی", "صادقی",
            "نوری", "کاظمی", "عباسی", "مرادی", "یزدانی", "طوسی", "شریفی", "فرهادی", "باقری", "هاشمی",
            "رضوی", "قوچانی", "نیشابوری", "سبزواری", "خراسانی", "اکبری", "حیدری", "زارعی", "سلطانی", "میرزایی"]
STREETS = ["بلوار وکیل‌آباد", "بلوار سجاد", "خیابان امام رضا", "بلوار فردوسی", "خیابان احمدآباد",
           "بلوار هاشمیه", "بلوار پیروزی", "بلوار معلم", "بلوار کوهسنگی", "خیابان سناباد"]
LANDMARKS = ["پارک ملت", "مسجد الزهرا", "بیمارستان امام رضا", "پمپ بنزین", "مدرسه شهید بهشتی", "بانک ملی"]
COMPANIES = ["توس بنا", "سازه گستر شرق", "پارس عمران خراسان", "آتیه سازان مشهد", "نگین شرق", "کیان سازه"]
CATEGORIES = ["پسماند", "روشنایی معابر", "آسفالت", "فضای سبز", "سد معبر"]
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def national_id(rng: random.Random) -> str:
    d = [rng.randrange(10) for _ in range(9)]
    s = sum(x * (10 - i) for i, x in enumerate(d)) % 11
    return "".join(map(str, d)) + str(s if s < 2 else 11 - s)


def postal_code(rng):
    # Iran Post's form: no 0 or 2 in the first four digits, no 0, 2 or 5 in the fifth, no 2 after
    return ("".join(rng.choice("13456789") for _ in range(4)) + rng.choice("134679")
            + "".join(rng.choice("013456789") for _ in range(5)))


def mobile(rng):
    return "0915" + "".join(str(rng.randrange(10)) for _ in range(7))


def jdate(rng, y0, y1):
    return (rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 29))


def jfmt(d, sep="/"):
    return f"{d[0]}{sep}{d[1]:02d}{sep}{d[2]:02d}"


def jplus(d, days):
    y, m, dd = d
    n = (y * 12 + m - 1) * 30 + dd - 1 + days      # a 30-day month is close enough for gaps
    return (n // 360, n // 30 % 12 + 1, n % 30 + 1 if n % 30 < 29 else 29)


def make_people(rng, households):
    people, homes = {}, []
    for h in range(households):
        sur = rng.choice(SURNAMES)
        street = rng.choice(STREETS)
        home = {"id": h, "district": rng.randint(1, 13), "street": street, "alley": rng.randint(1, 60),
                "plaque": rng.randint(1, 200), "lat": 36.25 + rng.random() * 0.12, "lon": 59.48 + rng.random() * 0.16,
                "postal": postal_code(rng), "members": []}
        homes.append(home)

        def person(first, last, gender, born, father, mob=True):
            pid = f"p{len(people)}"
            people[pid] = {"pid": pid, "first": first, "last": last, "gender": gender, "born": born, "father": father,
                           "nid": national_id(rng), "mobile": mobile(rng) if mob else None, "home": h,
                           "dead": False, "registered": rng.random() > 0.06}
            home["members"].append(pid)
            return pid
        head = person(rng.choice(MALE), sur, "male", jdate(rng, 1325, 1365), rng.choice(MALE))
        if rng.random() < 0.85:
            person(rng.choice(FEMALE), rng.choice(SURNAMES), "female", jdate(rng, 1330, 1368), rng.choice(MALE))
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            g = rng.choice(["male", "female"])
            by = people[head]["born"][0] + rng.randint(20, 35)
            person(rng.choice(MALE if g == "male" else FEMALE), sur, g, jdate(rng, by, by), people[head]["first"],
                   mob=by < 1385)
        if rng.random() < 0.07 and "heirs" not in PLAIN:
            people[head]["dead"] = True
    return people, homes


def address(home, rng, moved=None):
    h = moved or home
    return rng.choice([f"مشهد، {h['street']}، کوچه {h['alley']}، پلاک {h['plaque']}",
                       f"{h['street']} - کوچه {h['alley']} - پ {h['plaque']}",
                       f"{h['street']}، {h['street'].split()[-1]} {h['alley']}، پلاک {h['plaque']}"])


def write_csv(path: Path, rows: list[dict]):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def generate(out: Path, households: int = 500, seed: int = 1) -> dict:
    rng = random.Random(seed)
    out = Path(out)
    people, homes = make_people(rng, households)
    truth, requests, calls = [], [], {}

    def name(p):
        return f"{p['first']} {p['last']}"

    def fa_maybe(s, p=0.15):
        return s.translate(FA) if s and rng.random() < p else s

    # ---- registry
    reg = []
    for p in people.values():
        if not p["registered"]:
            continue
        rid = f"R{len(reg) + 1000}"
        row = {"شماره پرونده": rid, "کد ملی": fa_maybe(p["nid"], 0.1), "نام": p["first"], "نام خانوادگی": p["last"],
               "نام پدر": p["father"], "تاریخ تولد": fa_maybe(jfmt(p["born"]), 0.2), "جنسیت": "مرد" if p["gender"] == "male" else "زن",
               "تلفن همراه": p["mobile"] or "", "نشانی": address(homes[p["home"]], rng), "کد پستی": homes[p["home"]]["postal"],
               "متوفی": "بله" if p["dead"] else "خیر"}
        reg.append(row)
        truth.append(("registry.people", rid, p["pid"], ["registry"] + (["deceased"] if p["dead"] else []), row))
    write_csv(out / "data" / "registry" / "people.csv", reg)

    # ---- permits
    permits, fees = [], []
    companies = []
    for i, c in enumerate(COMPANIES[: max(2, households // 80)] if "company" not in PLAIN else []):
        ceo = rng.choice([p for p in people.values() if p["gender"] == "male" and not p["dead"]])
        companies.append({"name": c, "legal": "10380" + "".join(str(rng.randrange(10)) for _ in range(6)), "ceo": ceo["pid"]})
    permit_owner = {}

    def add_permit(owner_text, nid, mob, pid, labels, home, year, moved=None):
        no = f"{year}-{len(permits) + 101:05d}"
        row = {"شماره پروانه": no, "نام مالک": owner_text, "کد ملی / شناسه ملی": fa_maybe(nid or "", 0.1),
               "همراه": mob or "", "نشانی ملک": address(home, rng, moved), "منطقه": f"منطقه {(moved or home)['district']}",
               "پلاک ثبتی": f"{rng.randint(100, 9999)}/{rng.randint(1, 300)}", "نوع پروانه": rng.choice(["احداث", "تمدید", "اضافه بنا"]),
               "متراژ": rng.randint(80, 900), "تعداد طبقات": rng.randint(1, 6),
               "تاریخ صدور": jfmt(jdate(rng, year, year)), "وضعیت": "صادر شده"}
        permits.append(row)
        truth.append(("urbanplanning.owners", no, pid, labels, row))
        permit_owner[no] = (pid, home)
        return no

    for home in homes:
        if rng.random() > 0.35:
            continue
        m = [people[x] for x in home["members"]]
        head, adults = m[0], [x for x in m[1:] if x["born"][0] < 1385]
        sons = [x for x in adults if x["gender"] == "male" and x["last"] == head["last"]]
        year = rng.randint(1390, 1397)
        kind = rng.random()
        mob = head["mobile"] if rng.random() < 0.85 else None
        nid = head["nid"] if rng.random() < 0.9 else None
        if head["dead"]:
            heir = rng.choice(adults) if adults else None
            add_permit(f"ورثه مرحوم {name(head)}", head["nid"] if rng.random() < 0.6 else None,
                       heir["mobile"] if heir else None, head["pid"], ["heirs"], home, rng.randint(1399, 1402))
            continue
        if kind < 0.12 and "partners" not in PLAIN:
            no = add_permit(f"{name(head)} و شرکا", nid, mob, head["pid"], ["partners"], home, year)
        elif kind < 0.24 and sons and "joint" not in PLAIN:
            s = rng.choice(sons)
            no = add_permit(f"{head['first']} و {s['first']} {head['last']}", nid, mob, head["pid"], ["joint"], home, year)
        elif kind < 0.36 and adults and "agent" not in PLAIN:
            a = rng.choice(adults)
            no = add_permit(f"{name(a)} به وکالت از {name(head)}", nid, a["mobile"], head["pid"], ["agent"], home, year)
        else:
            no = add_permit(rng.choice([name(head), f"آقای {name(head)}", f"{head['last']} {head['first']}"]), nid, mob,
                            head["pid"], ["owner"], home, year)
        payer, lab = head, ["fee_owner"]
        if adults and rng.random() < 0.3 and "relative_pays" not in PLAIN:
            payer, lab = rng.choice(adults), ["pays_for_relative"]
        fees.append((payer, no, lab, "عوارض صدور پروانه"))
        if rng.random() < 0.18 and "moved" not in PLAIN:
            new = dict(rng.choice(homes), plaque=rng.randint(1, 200))
            new_mob = head["mobile"] if rng.random() < 0.5 else mobile(rng)
            add_permit(name(head), head["nid"] if rng.random() < 0.7 else None, new_mob, head["pid"], ["moved"],
                       home, year + rng.randint(4, 8), moved=new)
    for c in companies:
        ceo = people[c["ceo"]]
        for _ in range(rng.randint(1, 3)):
            home = rng.choice(homes)
            if rng.random() < 0.5:
                text, lab = f"شرکت ساختمانی {c['name']} (سهامی خاص)", ["company"]
            else:
                text, lab = f"شرکت ساختمانی {c['name']} به مدیریت عاملی {name(ceo)}", ["company_officer"]
            no = add_permit(text, c["legal"], ceo["mobile"], f"company:{c['legal']}:{len(permits)}", lab, home, rng.randint(1395, 1402))
            if rng.random() < 0.4:
                fees.append((ceo, no, ["officer_pays"], "عوارض صدور پروانه"))
            else:
                fees.append((c, no, ["company_pays"], "عوارض صدور پروانه"))
    write_csv(out / "data" / "permits" / "permits_1403.csv", permits)

    # ---- payments: permit fees above, then levies and waste fees of households
    for home in homes:
        if rng.random() < 0.45:
            m = [people[x] for x in home["members"] if not people[x]["dead"] and people[x]["born"][0] < 1385]
            if m:
                p = rng.choice(m[:2])
                for _ in range(rng.randint(1, 3)):
                    fees.append((p, "", ["levy"], rng.choice(["عوارض نوسازی", "عوارض پسماند", "جریمه"])))
    db = out / "data" / "fees.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)     # a kept directory is generated afresh
    con = sqlite3.connect(db)
    con.execute("create table pardakht_avarez (shomare_peygiri text primary key, nam_pardakht_konande text, "
                "code_melli_ya_shenase text, mobile text, mablagh integer, tarikh text, sharh text, vaziat text, "
                "shomare_parvane text, updated_at text)")
    for k, (payer, no, lab, kind) in enumerate(fees):
        ref = str(7300000000 + k * 37 + rng.randint(0, 30))
        if "legal" in payer:     # a company
            pname, nid, mob, pid = f"شرکت {payer['name']}", payer["legal"], "", f"company:{payer['legal']}:fee{k}"
        else:
            pname = rng.choice([name(payer), name(payer), f"{payer['last']} {payer['first']}", f"{payer['first']}  {payer['last']}"])
            nid = payer["nid"] if rng.random() < 0.8 else ""
            mob = payer["mobile"] or ""
            pid = payer["pid"]
        d = jdate(rng, 1398, 1403)
        row = {"shomare_peygiri": ref, "nam_pardakht_konande": pname, "code_melli_ya_shenase": fa_maybe(nid, 0.1),
               "mobile": mob, "mablagh": rng.randint(50, 5000) * 10000, "tarikh": fa_maybe(jfmt(d), 0.2), "sharh": kind,
               "vaziat": "موفق", "shomare_parvane": no, "updated_at": "2024-01-01 00:00:00"}
        con.execute("insert into pardakht_avarez values (?,?,?,?,?,?,?,?,?,?)", list(row.values()))
        truth.append(("finance.fees", ref, pid, list(lab), row))
    con.commit()
    con.close()

    # ---- 137 calls
    rows = []
    g = 0

    def call(p, home, cat, when, group, labels, mode, near=None):
        nonlocal rows
        code = str(1370000000 + len(rows) * 13 + rng.randint(0, 9))
        lat, lon, addr = "", "", ""
        if mode == "address":
            addr = address(home, rng)
        elif mode == "landmark":
            addr = f"{home['street']}، {rng.choice(['روبروی', 'جنب'])} {home['landmark']}"
        else:
            jit = lambda: (rng.random() - 0.5) * 0.0004     # a phone's fix, ±20 m
            la, lo = home["lat"] + jit(), home["lon"] + jit()
            if rng.random() < 0.1 and "swapped" not in PLAIN:
                la, lo, labels = lo, la, labels + ["swapped"]
            elif rng.random() < 0.05 and "zero" not in PLAIN:
                la, lo, labels = 0, 0, labels + ["coords_zero"]
            lat, lon = f"{la:.6f}" if la else "0", f"{lo:.6f}" if lo else "0"
        nm = rng.choice([name(p), name(p), f"{'آقای' if p['gender'] == 'male' else 'خانم'} {p['last']}"])
        row = {"کد رهگیری": code, "نام تماس گیرنده": nm, "کد ملی": p["nid"] if rng.random() < 0.3 else "",
               "شماره همراه": p["mobile"] or people[homes[p["home"]]["members"][0]]["mobile"] or "",
               "موضوع": cat, "شرح": rng.choice(["", "پیگیری", "هنوز رسیدگی نشده", "لطفا سریعتر"]) if "followup" in labels else "",
               "منطقه": f"منطقه {home['district']}" if mode != "coords" or rng.random() < 0.5 else "",
               "نشانی": addr, "عرض جغرافیایی": lat, "طول جغرافیایی": lon,
               "تاریخ ثبت": f"{jfmt(when)} {rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}", "وضعیت": "ثبت شده"}
        rows.append(row)
        calls[code] = row
        requests.append((code, group, labels + [f"loc:{mode}"]))
        truth.append((CALLS, code, p["pid"], ["caller"] + labels, row))
    for home in homes:
        if rng.random() > 0.45:
            continue
        mode = rng.choices(["address", "coords", "landmark"], [0.5, 0.3, 0.2])[0]
        if mode == "landmark":
            home["landmark"] = rng.choice(LANDMARKS)
        callers = [people[x] for x in home["members"] if not people[x]["dead"] and people[x]["born"][0] < 1385]
        if not callers:
            continue
        # a home's two requests are about two problems: one category twice at one place within
        # a month is one request whoever of the home calls (docs/resolution.md), so never drawn
        for cat in rng.sample(CATEGORIES, rng.randint(1, 2)):
            p, when = rng.choice(callers), jdate(rng, 1401, 1402)
            g += 1
            call(p, home, cat, when, g, [], mode)
            for k in range(rng.choice([0, 1, 1, 2])):
                when = jplus(when, rng.randint(1, 12))
                call(p, home, cat, when, g, ["followup"], mode)
            if rng.random() < 0.25 and "long_after" not in PLAIN:
                g += 1
                call(p, home, cat, jplus(when, rng.randint(60, 120)), g, ["long_after"], mode)
            if rng.random() < 0.25 and "neighbour" not in PLAIN:
                # a neighbour: the same alley (or the same landmark, or a fix 30-80 m off)
                other = rng.choice([x for x in people.values() if x["home"] != home["id"] and not x["dead"] and x["born"][0] < 1385])
                nb = dict(home, plaque=home["plaque"] + rng.randint(1, 9), lat=home["lat"] + 0.0005, lon=home["lon"] + 0.0003)
                g += 1
                call(other, nb, cat, jplus(when, rng.randint(0, 5)), g, ["neighbour"], mode)
    write_csv(out / "data" / "rc137" / "calls_1402.csv", rows)

    # a payment whose payer is on no permit and no call: seen only by the registry and the fees
    seen = {}
    for s, _, pid, _, _ in truth:
        seen.setdefault(pid, set()).add(s)
    for s, _, pid, lbs, _ in truth:
        if s == "finance.fees" and seen[pid] <= {"finance.fees", "registry.people"}:
            lbs.append("payments_only")
    write_contracts(out)
    return {"persons": truth, "requests": requests, "calls": calls, "people": len(people), "cleanup": lambda: None}


# ---------------------------------------------------------------- contracts, as an engineer writes them

HEAD = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 1.0.0
status: active
description:
  purpose: {purpose}
team:
  name: {agency}
  members:
    - {{username: {agency}-steward, role: owner}}
servers:
{server}
schema:
  - name: {name}
    physicalName: {name}
    physicalType: {ptype}
    customProperties:
      - {{property: sharedSchema, value: {shared}}}
      - {{property: recordId, value: [{rid}]}}
    properties:
"""


def file_server(path: Path, pattern: str) -> str:
    return (f"  - server: drop\n    type: local\n    path: \"{path}\"\n    format: csv\n    encoding: auto\n"
            f"    customProperties:\n      - {{property: connector, value: file}}\n"
            f"      - {{property: pattern, value: \"{pattern}\"}}\n      - {{property: delimiter, value: \",\"}}\n")


def prop(name, col, logical="string", transform=None, extra=""):
    t = f", transformLogic: \"{transform}\"" if transform else ""
    return f"      - {{name: {name}, physicalName: \"{col}\", logicalType: {logical}{t}{extra}}}\n"


def write_contracts(out: Path) -> None:
    d = out / "data"
    c = out / "contracts"
    docs = {
        "registry/people.yaml": HEAD.format(
            id="registry.people", name="people", agency="registry", purpose="ثبت شهروندان", ptype="file",
            server=file_server(d / "registry", "people*.csv"), shared="person", rid="شماره پرونده")
        + prop("national_id", "کد ملی", transform="national_id", extra=", primaryKey: true, primaryKeyPosition: 1")
        + prop("first_name", "نام", extra=", required: true") + prop("last_name", "نام خانوادگی", extra=", required: true")
        + prop("father_name", "نام پدر") + prop("birth_date", "تاریخ تولد", "date", "date")
        + prop("gender", "جنسیت", extra=", customProperties: [{property: valueMap, value: {مرد: male, زن: female}}]")
        + prop("mobile", "تلفن همراه", transform="mobile") + prop("address.detail", "نشانی")
        + prop("postal_code", "کد پستی"),
        # the permit system holds an owner's national id and a company's legal id in one column;
        # the engineer maps it to national_id, as the template suggests
        "urbanplanning/owners.yaml": HEAD.format(
            id="urbanplanning.owners", name="owners", agency="urbanplanning", purpose="مالکان پروانه‌های ساختمانی",
            ptype="file", server=file_server(d / "permits", "permits_*.csv"), shared="permit", rid="شماره پروانه")
        + prop("permit_no", "شماره پروانه", transform="text", extra=", primaryKey: true, primaryKeyPosition: 1, required: true")
        + prop("owner_name", "نام مالک", transform="person_name") + prop("national_id", "کد ملی / شناسه ملی", transform="national_id")
        + prop("mobile", "همراه", transform="mobile:51") + prop("address.detail", "نشانی ملک")
        + prop("district", "منطقه", transform="text") + prop("parcel_code", "پلاک ثبتی") + prop("kind", "نوع پروانه")
        + prop("area_m2", "متراژ", "number", "number") + prop("floors", "تعداد طبقات", "integer", "integer")
        + prop("issued_on", "تاریخ صدور", "date", "date", ", required: true") + prop("status", "وضعیت"),
        "finance/fees.yaml": HEAD.format(
            id="finance.fees", name="pardakht_avarez", agency="finance", purpose="پرداخت عوارض و جرایم", ptype="table",
            server=(f"  - server: fees-db\n    type: custom\n    customProperties:\n      - {{property: connector, value: sql}}\n"
                    f"      - {{property: url, value: \"sqlite:///{d / 'fees.db'}\"}}\n      - {{property: table, value: pardakht_avarez}}\n"
                    f"      - {{property: watermark, value: updated_at}}\n      - {{property: key, value: shomare_peygiri}}\n"),
            shared="payment", rid="shomare_peygiri")
        + prop("payment_id", "shomare_peygiri", transform="text", extra=", primaryKey: true, primaryKeyPosition: 1, required: true")
        + prop("reference", "shomare_peygiri", transform="text")
        + prop("payer_name", "nam_pardakht_konande", transform="person_name")
        + prop("national_id", "code_melli_ya_shenase", transform="national_id") + prop("mobile", "mobile", transform="mobile:51")
        + prop("amount_rial", "mablagh", "integer", "integer", ", required: true") + prop("paid_on", "tarikh", "date", "date")
        + prop("kind", "sharh") + prop("status", "vaziat") + prop("permit_no", "shomare_parvane"),
        "rc137/calls.yaml": HEAD.format(
            id="rc137.calls", name="calls", agency="rc137", purpose="تماس‌های سامانه ۱۳۷", ptype="file",
            server=file_server(d / "rc137", "calls_*.csv"), shared="service_request", rid="کد رهگیری")
        + prop("tracking_code", "کد رهگیری", transform="text", extra=", primaryKey: true, primaryKeyPosition: 1, required: true")
        + prop("citizen_name", "نام تماس گیرنده", transform="person_name") + prop("national_id", "کد ملی", transform="national_id")
        + prop("mobile", "شماره همراه", transform="mobile:51") + prop("category", "موضوع", extra=", required: true")
        + prop("description", "شرح") + prop("district", "منطقه", transform="district") + prop("address", "نشانی")
        + prop("latitude", "عرض جغرافیایی", "number", "number") + prop("longitude", "طول جغرافیایی", "number", "number")
        + prop("filed_at", "تاریخ ثبت", "date", "datetime:14", ", required: true") + prop("status", "وضعیت"),
    }
    for rel, text in docs.items():
        (c / rel).parent.mkdir(parents=True, exist_ok=True)
        (c / rel).write_text(text, encoding="utf-8")
    (c / "match_settings.yaml").write_text(
        "# the hotline's own conventions (docs/resolution.md)\nservice_request:\n  followup:\n    window_days: 30\n",
        encoding="utf-8")
