"""The fourth blind labelled set: five Mashhad sources as their agencies deliver them, each read
through the ODCS v3 contract a busy engineer writes from the public docs alone (README,
docs/*.md, schemas/, contracts/): some properties typed loosely, descriptions missing, Persian
column names, `required` on a column that is sometimes empty.

- `tax.nosazi`: the property-tax (عوارض نوسازی) payments report, CSV with a BOM, a title and a
  totals row; the payer's name in one field, the property's address as one free-text field;
- `portal.users`: the citizen web portal's user table (SQLite): structured address, birth date
  Jalali or only the year, foreign nationals' 12-digit FIDA number in the national-id column;
- `culture.members`: a cultural centre's (فرهنگسرا) enrolment sheet (xlsx): children enrolled
  under a parent's national id and mobile, birth year only, or an age;
- `licences.kasb`: business licences (پروانه کسب), TSV in Windows-1256, owner in one field;
- `hotline.tickets`: another vendor's 137 export, nested JSON, Jalali times, app follow-ups
  quoting «کد پیگیری: 1403-004512» or «TR004512», re-opened tickets («بازگشایی»).

Truth: `persons` = (source, record id, person id, labels, raw row) for every record naming a
citizen; `requests` = (tracking code, request group, labels). Written from the docs only; the
matcher's code and the other generators were not read.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sqlite3
from pathlib import Path

import jdatetime

CONTRACTS = ["tax.nosazi", "portal.users", "culture.members", "licences.kasb", "hotline.tickets"]
CALLS = "hotline.tickets"

MALE = ["محمد", "علی", "حسین", "حسن", "رضا", "مهدی", "محمدرضا", "امیر", "جواد", "مجید", "سعید", "حمید",
        "مصطفی", "احمد", "عباس", "ابوالفضل", "محسن", "هادی", "یاسر", "امیرحسین", "سجاد", "وحید", "کاظم",
        "اکبر", "مرتضی", "ناصر", "بهروز", "میلاد", "پویا", "عرفان", "یوسف", "داوود", "اسماعیل", "قاسم"]
FEMALE = ["فاطمه", "زهرا", "مریم", "زینب", "معصومه", "سمیه", "لیلا", "نرگس", "الهام", "مهسا", "سارا",
          "نسرین", "اعظم", "طاهره", "راضیه", "فریبا", "محبوبه", "ملیحه", "عاطفه", "نازنین", "هانیه",
          "سکینه", "شهلا", "منیره", "پروین", "حمیده", "مرضیه", "ریحانه", "فرشته", "صدیقه"]
LAST = ["رضایی", "حسینی", "محمدی", "احمدی", "کریمی", "موسوی", "جعفری", "قاسمی", "صادقی", "طباطبایی",
        "رضوی", "نوری", "هاشمی", "عباسی", "یزدانی", "شریفی", "قوچانی", "نیشابوری", "سبزواری", "خراسانی",
        "ترابی", "فرهادی", "کاظمی", "رحیمی", "سلطانی", "اکبری", "باقری", "زارع", "جوادی", "امیری",
        "حیدری", "نظری", "توکلی", "یوسفی", "مرادی", "عطایی", "شاکری", "وحیدی", "بهرامی", "پورمحمد",
        "علوی", "فاطمی", "میرزایی", "ملکی", "غفاری", "صالحی", "نجفی", "کامرانی", "دهقان", "شهابی",
        "اسدی", "طاهری", "بیگی", "مقدم", "فیروزی", "چناری", "کلاته", "تربتی", "بجنوردی", "گلمکانی",
        "شاندیزی", "طرقبه‌ای", "مشهدی", "رستمی", "ابراهیمی", "عزیزی", "سعیدی", "خسروی", "نیک‌نام", "پاکزاد"]
AFG_MALE = ["محمد نبی", "گل احمد", "عبدالله", "نجیب الله", "حبیب الله", "شیر آقا", "سید جان", "خان محمد"]
AFG_FEMALE = ["زرغونه", "ملالی", "شیرین گل", "بی بی گل", "نسیمه", "فرزانه"]
AFG_LAST = ["احمدزی", "هزاره", "حیدری", "نوروزی", "قربانی", "سادات", "یعقوبی", "رحمانی"]
# official first-name changes (ثبت احوال): old → new
RENAMES = {"غلامرضا": "رضا", "کبری": "کیمیا", "صغری": "سارا", "قربانعلی": "علی", "ماشاالله": "مهدی",
           "رقیه": "رها", "عصمت": "آیدا", "رمضانعلی": "امید", "خدیجه": "هستی", "غلامحسین": "حسین"}
# Mashhad streets whose alleys are named by the street and a number («سجاد ۱۴»)
STREETS = [("بلوار سجاد", "سجاد", 1), ("بلوار وکیل‌آباد", "وکیل‌آباد", 9), ("بلوار فردوسی", "فردوسی", 11),
           ("بلوار هاشمیه", "هاشمیه", 9), ("بلوار معلم", "معلم", 11), ("بلوار پیروزی", "پیروزی", 9),
           ("بلوار کوهسنگی", "کوهسنگی", 8), ("خیابان امام رضا", "امام رضا", 8), ("بلوار طبرسی", "طبرسی", 3),
           ("بلوار توس", "توس", 6), ("بلوار کلاهدوز", "کلاهدوز", 8), ("بلوار جلال آل احمد", "جلال", 1),
           ("بلوار صیاد شیرازی", "صیاد", 11), ("خیابان دانشگاه", "دانشگاه", 8), ("بلوار الندشت", "الندشت", 4)]
CATEGORIES = ["آسفالت و چاله", "پسماند", "روشنایی معابر", "فضای سبز", "سد معبر", "آب‌های سطحی", "حیوانات ولگرد"]
FOLLOWUP = "پیگیری درخواست"
KINDS = ["سوپرمارکت", "نانوایی", "آرایشگاه", "تعمیر موبایل", "پوشاک", "قصابی", "لوازم التحریر"]
CLASSES = ["خوشنویسی", "نقاشی", "زبان انگلیسی", "قرآن", "رباتیک", "یوگا", "خیاطی"]
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# phenomena left out to measure what each costs (bench_blind4 --plain): `glued` writes the
# no-space address «طبرسی۲۷،پ۱۰۳» with spaces, `parent_nid` gives children their own id,
# `reopen` files a re-opened ticket within the window (20–28 days on)
PLAIN: set = set()


def fa(s) -> str:
    return str(s).translate(FA)


def jdate(d: dt.date, sep="/") -> str:
    j = jdatetime.date.fromgregorian(date=d)
    return f"{j.year:04d}{sep}{j.month:02d}{sep}{j.day:02d}"


def jyear(d: dt.date) -> int:
    return jdatetime.date.fromgregorian(date=d).year


def national_id(rng: random.Random, used: set) -> str:
    while True:
        body = [rng.randrange(10) for _ in range(9)]
        if body[:3] == [0, 0, 0] or len(set(body)) == 1:
            continue
        s = sum(d * (10 - i) for i, d in enumerate(body)) % 11
        nid = "".join(map(str, body)) + str(s if s < 2 else 11 - s)
        if nid not in used:
            used.add(nid)
            return nid


def mobile(rng: random.Random, used: set) -> str:
    while True:
        m = rng.choice(["0915", "0935", "0912", "0901", "0936", "0937", "0938", "0903"]) + f"{rng.randrange(10**7):07d}"
        if m not in used:
            used.add(m)
            return m


def write_mobile(rng: random.Random, m: str) -> tuple[str, list]:
    """How a clerk or a form wrote the mobile, and the label when it is an unusual way."""
    r = rng.random()
    if r < 0.5:
        return m, []
    if r < 0.63:
        return fa(m), []
    if r < 0.76:
        return fa(f"{m[:4]} {m[4:7]} {m[7:9]} {m[9:]}"), ["mobile:spaced"]
    if r < 0.88:
        return f"+98 {m[1:4]} {m[4:]}", ["mobile:+98"]
    return m[1:], ["mobile:no_zero"]


def write_landline(rng: random.Random, t: str) -> tuple[str, list]:
    r = rng.random()
    if r < 0.45:
        return t, []
    if r < 0.65:
        return f"{t[:3]}-{t[3:]}", []
    if r < 0.8:
        return fa(t), []
    return t[3:], ["landline:local8"]


# ---------------------------------------------------------------- population

def homes_for(rng: random.Random, n: int) -> list[dict]:
    """n homes, two to four to an alley so neighbours exist."""
    homes, used_post = [], set()
    while len(homes) < n:
        si = rng.randrange(len(STREETS))
        alley = rng.randrange(1, 60)
        base = (36.25 + si * 0.01 + alley * 0.0004, 59.50 + si * 0.012 + alley * 0.0003)
        for _ in range(rng.choice([1, 2, 2, 3, 3, 4])):
            plate = rng.randrange(1, 120)
            # a real postal code: no 0 or 2 among its first five digits
            post = "91" + "".join(rng.choice("13456789") for _ in range(3)) + f"{rng.randrange(10**5):05d}"
            if post in used_post:
                continue
            used_post.add(post)
            homes.append({"street": si, "alley": alley, "plate": plate, "unit": rng.choice([None, None, 1, 2, 3, 4, 6]),
                          "postal": post, "landline": f"0513{rng.randrange(10**7):07d}",
                          "geo": (base[0] + rng.uniform(-0.0004, 0.0004), base[1] + rng.uniform(-0.0004, 0.0004))})
    return homes[:n]


def people(rng: random.Random, n_households: int) -> tuple[list[dict], list[dict]]:
    homes = homes_for(rng, int(n_households * 1.1))
    spare = homes[n_households:]
    nids, mobs, persons, households = set(), set(), [], []
    today = dt.date(2025, 1, 15)

    def person(hh, first, last, gender, birth, father, foreign, **kw):
        p = {"pid": f"P{len(persons):05d}", "hh": hh["id"], "first": first, "last": last, "gender": gender,
             "birth": birth, "father": father, "foreign": foreign, "labels": set(),
             "nid": None if foreign else national_id(rng, nids),
             "fida": f"{rng.randrange(1, 10)}{rng.randrange(10**11):011d}" if foreign else None,
             "mobile": None, "old_first": None, "renamed_on": None, **kw}
        if foreign:
            p["labels"].add("foreign:fida")
        persons.append(p)
        hh["members"].append(p)
        return p

    for h in range(n_households):
        foreign = rng.random() < 0.06
        hh = {"id": h, "home": homes[h], "old_home": None, "moved_on": None, "members": [], "foreign": foreign}
        if rng.random() < 0.08 and spare:
            hh["old_home"], hh["home"] = homes[h], spare.pop()
            hh["moved_on"] = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(700))
        households.append(hh)
        last = rng.choice(AFG_LAST if foreign else LAST)
        males, females = (AFG_MALE, AFG_FEMALE) if foreign else (MALE, FEMALE)
        hb = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 45))
        head = person(hh, rng.choice(males), last, "male", hb, rng.choice(males), foreign, role="head")
        if rng.random() < 0.85:
            wife = person(hh, rng.choice(females), rng.choice(AFG_LAST if foreign else LAST), "female",
                          hb + dt.timedelta(days=rng.randrange(365 * 2, 365 * 8)), rng.choice(males), foreign, role="wife")
            if rng.random() < 0.2:  # she calls and registers on her husband's mobile
                wife["shares_mobile_of"] = head["pid"]
                wife["labels"].add("phone:spouse_shares_mobile")
                head["labels"].add("phone:spouse_shares_mobile")
        kid_start = hb + dt.timedelta(days=365 * rng.randint(22, 32))
        for k in range(rng.choice([0, 1, 1, 2, 2, 3])):
            kb = kid_start + dt.timedelta(days=365 * 2 * k + rng.randrange(300))
            if kb > today - dt.timedelta(days=365 * 6):
                break
            g = rng.choice(["male", "female"])
            taken = {m["first"] for m in hh["members"]}  # no child is named as a parent or a sibling
            person(hh, rng.choice([n for n in (males if g == "male" else females) if n not in taken]), last, g, kb,
                   head["first"], foreign, role="child")
        if not foreign and rng.random() < 0.08:  # a widowed grandmother living with them
            person(hh, rng.choice(["سکینه", "کبری", "صغری", "رقیه", "خدیجه"]), rng.choice(LAST), "female",
                   hb - dt.timedelta(days=365 * rng.randint(20, 28)), rng.choice(males), False, role="grandparent")
    for p in persons:
        age = (today - p["birth"]).days / 365.25
        if age >= 16 and not p.get("shares_mobile_of"):
            p["mobile"] = mobile(rng, mobs)
        p["age"] = age
    byid = {p["pid"]: p for p in persons}
    for p in persons:
        if p.get("shares_mobile_of"):
            p["mobile"] = byid[p["shares_mobile_of"]]["mobile"]
        # an official first-name change (ثبت احوال), the old name kept by the older systems
        if not p["foreign"] and p["age"] > 30 and rng.random() < 0.05:
            olds = [o for o, nw in RENAMES.items() if (nw in MALE + ["رضا", "علی", "امید", "حسین", "مهدی"]) == (p["gender"] == "male")]
            old = rng.choice(olds)
            p["old_first"], p["first"] = old, RENAMES[old]
            p["renamed_on"] = dt.date(2021, 6, 1) + dt.timedelta(days=rng.randrange(900))
    # cousins named after their grandfather: same first name and surname, other homes
    by_last = {}
    for hh in households:
        if not hh["foreign"]:
            by_last.setdefault(hh["members"][0]["last"], []).append(hh)
    for last, hhs in by_last.items():
        if len(hhs) >= 2 and rng.random() < 0.5:
            a, b = rng.sample(hhs, 2)
            ka = [p for p in a["members"] if p["role"] in ("head", "child") and p["gender"] == "male"]
            kb = [p for p in b["members"] if p["role"] in ("head", "child") and p["gender"] == "male"]
            if ka and kb:
                pa, pb = rng.choice(ka), rng.choice(kb)
                if not pa["old_first"] and not pb["old_first"] and pa["father"] != pb["father"] \
                        and pa["first"] not in {m["first"] for m in b["members"]} and pa["first"] != pb["father"]:
                    pb["first"] = pa["first"]
                    pa["labels"].add("namesake:cousin")
                    pb["labels"].add("namesake:cousin")
    return persons, households


# ---------------------------------------------------------------- addresses

def freetext(rng: random.Random, home: dict) -> str:
    street, short, _ = STREETS[home["street"]]
    a, pl, u = home["alley"], home["plate"], home["unit"]
    forms = [f"مشهد، {street}، {short} {fa(a)}، پلاک {fa(pl)}" + (f"، واحد {fa(u)}" if u else ""),
             f"مشهد - {street} - {short} {a} - پلاک {pl}" + (f" - واحد {u}" if u else ""),
             f"{street.replace('خیابان ', '', 1)}، {short} {fa(a)}، پ {fa(pl)}" if "glued" in PLAIN else
             f"{street.replace('خیابان ', '', 1)}،{short}{fa(a)}،پ{fa(pl)}",  # typed with no spaces
             f"{short} {fa(a)} پلاک {fa(pl)}" + (f" طبقه {fa(u)}" if u else ""),
             f"خ {short} ک {fa(a)} پ {fa(pl)}"]
    return rng.choice(forms)


def home_at(p: dict, hh: dict, day: dt.date) -> tuple[dict, list]:
    if hh["old_home"] and day < hh["moved_on"]:
        return hh["old_home"], ["moved:old_home"]
    return hh["home"], (["moved:new_home"] if hh["old_home"] else [])


def first_at(p: dict, day: dt.date) -> tuple[str, list]:
    if p["old_first"] and day < p["renamed_on"]:
        return p["old_first"], ["name:changed_old"]
    return p["first"], (["name:changed_new"] if p["old_first"] else [])


def rand_day(rng, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=rng.randrange(max(1, (hi - lo).days)))


# ---------------------------------------------------------------- sources

def tax_rows(rng, persons, households, truth):
    """Yearly property-tax payments of each home's owner (the head, sometimes the wife)."""
    rows, serial = [], 500000
    for hh in households:
        if hh["foreign"]:
            continue
        heads = [p for p in hh["members"] if p["role"] in ("head", "wife")]
        owner = heads[1] if len(heads) > 1 and rng.random() < 0.25 else heads[0]
        homes = [(hh["home"], range(1400, 1404))] + ([(hh["old_home"], range(1398, 1401))] if hh["old_home"] else [])
        for home, years in homes:
            for y in rng.sample(list(years), rng.randint(1, 3)):
                day = jdatetime.date(y, rng.randint(1, 12), rng.randint(1, 28)).togregorian()
                if hh["old_home"] and home is hh["old_home"] and day >= hh["moved_on"]:
                    day = hh["moved_on"] - dt.timedelta(days=rng.randrange(30, 300))
                first, lb1 = first_at(owner, day)
                _, lb2 = home_at(owner, hh, day)
                lb = sorted(owner["labels"]) + lb1 + (["moved:old_home"] if home is hh["old_home"] else lb2) + ["address:freetext"]
                r = rng.random()
                name = (f"{owner['last']} {first}" if r < 0.2 else f"حاج {first} {owner['last']}" if r < 0.3 and owner["gender"] == "male"
                        else f"{first} {owner['last']}")
                if r < 0.2:
                    lb.append("name:surname_first")
                mob, mlb = ("", ["required:empty_mobile"]) if rng.random() < 0.08 else write_mobile(rng, owner["mobile"] or "")
                tel, tlb = write_landline(rng, home["landline"]) if rng.random() < 0.7 else ("", [])
                serial += rng.randint(1, 40)
                row = {"ردیف": "", "شناسه پرداخت": f"N{serial}", "کد نوسازی": f"{home['street'] + 1}-{home['alley']}-{home['plate']}",
                       "نام مودی": name, "کد ملی": owner["nid"] if rng.random() < 0.9 else "", "تلفن همراه": mob,
                       "تلفن ثابت": tel, "نشانی ملک": freetext(rng, home), "منطقه": str(STREETS[home["street"]][2]),
                       "سال": str(y), "مبلغ (ریال)": str(rng.randrange(200, 9000) * 1000), "تاریخ پرداخت": jdate(day),
                       "وضعیت": "پرداخت شده"}
                if not row["کد ملی"]:
                    lb.append("nid:missing")
                rows.append(row)
                truth.append(("tax.nosazi", row["شناسه پرداخت"], owner["pid"], sorted(set(lb + mlb + tlb)), row))
    rng.shuffle(rows)
    for i, r in enumerate(rows, 1):
        r["ردیف"] = str(i)
    return rows


def portal_rows(rng, persons, households, truth):
    """Portal accounts of adults; some registered twice; a young adult under a parent's id."""
    rows, byhh = [], {hh["id"]: hh for hh in households}
    for p in persons:
        if p["age"] < 18 or rng.random() > 0.4:
            continue
        hh = byhh[p["hh"]]
        for copy in range(2 if rng.random() < 0.1 else 1):
            created = rand_day(rng, dt.date(2021, 3, 21), dt.date(2024, 12, 30))
            home, hlb = home_at(p, hh, created)
            first, flb = first_at(p, created)
            lb = sorted(p["labels"]) + hlb + flb + (["portal:second_account"] if copy else [])
            nid = p["fida"] if p["foreign"] else p["nid"]
            parent = next((m for m in hh["members"] if m["role"] == "head"), None)
            if p["role"] == "child" and p["age"] < 26 and parent and parent["nid"] and rng.random() < 0.35 and "parent_nid" not in PLAIN:
                nid = parent["nid"]
                lb.append("nid:parent_on_child")
            if rng.random() < 0.3:
                birth, blb = fa(jyear(p["birth"])) if rng.random() < 0.5 else str(jyear(p["birth"])), ["birth:year_only"]
            else:
                birth, blb = jdate(p["birth"]), []
            mob, mlb = write_mobile(rng, p["mobile"]) if p["mobile"] else ("", [])
            row = {"id": len(rows) + 1, "username": f"user{rng.randrange(10**6)}", "first_name": first, "last_name": p["last"],
                   "national_code": nid or "", "gender": "M" if p["gender"] == "male" else "F", "birth_date": birth,
                   "mobile": mob, "tel": home["landline"] if rng.random() < 0.4 else "", "email": "",
                   "city": "مشهد", "region": f"منطقه {STREETS[home['street']][2]}", "street": STREETS[home["street"]][0],
                   "alley": f"{STREETS[home['street']][1]} {home['alley']}", "plaque": str(home["plate"]),
                   "unit": f"واحد {home['unit']}" if home["unit"] else "", "postal_code": home["postal"] if rng.random() < 0.6 else "",
                   "created_at": f"{created} 10:{rng.randrange(60):02d}:00", "updated_at": f"{created} 10:{rng.randrange(60):02d}:00"}
            rows.append(row)
            truth.append(("portal.users", str(row["id"]), p["pid"], sorted(set(lb + blb + mlb + ["address:structured"])), row))
    return rows


def culture_rows(rng, persons, households, truth):
    """Enrolments at a cultural centre: children enrolled by a parent (the parent's mobile,
    sometimes the parent's national id), adults for themselves; birth year or an age."""
    rows, byhh, serial = [], {hh["id"]: hh for hh in households}, 1000
    for p in persons:
        if p["foreign"] or rng.random() > (0.35 if p["age"] < 18 else 0.08):
            continue
        hh = byhh[p["hh"]]
        parent = next((m for m in hh["members"] if m["role"] == ("wife" if rng.random() < 0.6 else "head")), None) \
            or hh["members"][0]
        for _ in range(rng.choice([1, 1, 2])):
            day = rand_day(rng, dt.date(2022, 9, 1), dt.date(2024, 12, 30))
            home, hlb = home_at(p, hh, day)
            first, flb = first_at(p, day)
            lb = sorted(p["labels"]) + hlb + flb + ["address:freetext"]
            nid = p["nid"]
            if p["age"] < 18:
                if rng.random() < 0.3 and parent["nid"] and parent is not p and "parent_nid" not in PLAIN:
                    nid = parent["nid"]
                    lb.append("nid:parent_on_child")
                elif rng.random() < 0.3:
                    nid = ""
                    lb.append("nid:missing")
            m = p["mobile"] if p["age"] >= 18 and p["mobile"] else parent["mobile"]
            if m and m != p["mobile"]:
                lb.append("phone:parent_mobile")
            mob, mlb = write_mobile(rng, m) if m else ("", [])
            year, age = str(jyear(p["birth"])), ""
            if rng.random() < 0.35:
                year, age = "", fa(int(p["age"]))
                lb.append("birth:age_only")
            else:
                lb.append("birth:year_only")
            serial += 1
            row = {"شماره ثبت‌نام": str(serial), "نام": first, "نام خانوادگی": p["last"], "نام پدر": p["father"],
                   "کد ملی": fa(nid) if nid and rng.random() < 0.5 else (nid or ""), "سال تولد": year, "سن": age,
                   "جنسیت": ("پسر" if p["gender"] == "male" else "دختر") if p["age"] < 18 else ("آقا" if p["gender"] == "male" else "خانم"),
                   "تلفن همراه": mob, "نشانی": freetext(rng, home), "کلاس": rng.choice(CLASSES), "تاریخ ثبت‌نام": jdate(day)}
            rows.append(row)
            truth.append(("culture.members", row["شماره ثبت‌نام"], p["pid"], sorted(set(lb + mlb)), row))
    return rows


def licence_rows(rng, persons, households, truth):
    """Business licences: the owner's name in one field, the shop's address, a son's licence
    now and then filed under his father's national id."""
    rows, byhh = [], {hh["id"]: hh for hh in households}
    for p in persons:
        if p["age"] < 20 or rng.random() > (0.15 if p["gender"] == "male" else 0.04):
            continue
        hh = byhh[p["hh"]]
        issued = rand_day(rng, dt.date(2019, 3, 21), dt.date(2024, 12, 1))
        first, flb = first_at(p, issued)
        lb = sorted(p["labels"]) + flb
        nid = p["fida"] if p["foreign"] else p["nid"]
        head = next((m for m in hh["members"] if m["role"] == "head"), None)
        if p["role"] == "child" and head and head["nid"] and rng.random() < 0.3 and "parent_nid" not in PLAIN:
            nid = head["nid"]
            lb.append("nid:parent_on_child")
        mob, mlb = write_mobile(rng, p["mobile"]) if p["mobile"] else ("", [])
        shop_street = rng.choice(STREETS)
        row = {"شماره پروانه": f"{jyear(issued)}/{rng.randrange(10000, 99999)}", "نام و نام خانوادگی": f"{first} {p['last']}",
               "کد ملی/فیدا": nid or "", "همراه": mob, "تلفن": hh["home"]["landline"][3:] if rng.random() < 0.3 else "",
               "رسته": rng.choice(KINDS), "نشانی محل کسب": f"{shop_street[0]}، نبش {shop_street[1]} {fa(rng.randrange(1, 60))}",
               "منطقه": str(shop_street[2]), "تاریخ صدور": jdate(issued), "تاریخ اعتبار": jdate(issued + dt.timedelta(days=3 * 365)),
               "وضعیت": "معتبر"}
        rows.append(row)
        truth.append(("licences.kasb", row["شماره پروانه"], p["pid"], sorted(set(lb + mlb + ["address:shop"])), row))
    return rows


# ---------------------------------------------------------------- 137

EXPORTED = dt.datetime(2025, 1, 20, 8, 0)


def hotline_calls(rng, persons, households, truth, requests):
    """Request episodes per home: one call, or a call and what follows it (label on each call)."""
    byhh = {hh["id"]: hh for hh in households}
    on_alley = {}
    for hh in households:
        on_alley.setdefault((hh["home"]["street"], hh["home"]["alley"]), []).append(hh)
    calls, groups = [], 0
    kinds = ["plain"] * 30 + ["repeat"] * 10 + ["app_code"] * 9 + ["app_tr"] * 8 + ["reopen"] * 8 + \
        ["household"] * 10 + ["same_day_two"] * 8 + ["neighbour"] * 9 + ["late"] * 6

    def adults(hh):
        return [p for p in hh["members"] if p["age"] >= 18 and p["mobile"]]

    def add(p, when, category, group, labels, desc="", status=None, cite=None, channel="تلفن", quote=None):
        calls.append({"p": p, "hh": byhh[p["hh"]], "when": when, "category": category, "group": group,
                      "labels": labels, "desc": desc, "status": status, "cite": cite, "channel": channel, "quote": quote})
        return len(calls) - 1

    def at(day, hours=(8, 21)):
        return dt.datetime.combine(day, dt.time(rng.randrange(*hours), rng.randrange(60)))

    for hh in households:
        people_here = adults(hh)
        if not people_here:
            continue
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            kind = rng.choice(kinds)
            p = rng.choice(people_here)
            cat = rng.choice(CATEGORIES)
            last_day = dt.date(2023, 12, 31) if kind == "late" else dt.date(2024, 11, 20)
            t0 = at(rand_day(rng, dt.date(2023, 3, 21), last_day))
            groups += 1
            g = f"G{groups}"
            if kind == "plain":
                add(p, t0, cat, g, ["plain"])
            elif kind == "repeat":
                add(p, t0, cat, g, ["repeat:same_caller"])
                add(p, t0 + dt.timedelta(days=rng.randint(3, 20), hours=rng.randint(0, 5)), cat, g, ["repeat:same_caller"],
                    "هنوز رسیدگی نشده")
            elif kind in ("app_code", "app_tr"):
                i = add(p, t0, cat, g, [f"followup:{kind}"])
                add(p, t0 + dt.timedelta(days=rng.randint(2, 15), hours=rng.randint(0, 5)), FOLLOWUP, g, [f"followup:{kind}"],
                    "", cite=i, channel="اپلیکیشن", quote=kind)
            elif kind == "reopen":
                i = add(p, t0, cat, g, ["reopen"], status="بسته شده")
                add(p, t0 + dt.timedelta(days=rng.randint(20, 28) if "reopen" in PLAIN else rng.randint(35, 70), hours=rng.randint(0, 5)), cat, g, ["reopen"],
                    "مشکل برطرف نشده است، درخواست بازگشایی شد", status="بازگشایی", cite=i)
            elif kind == "household":
                others = [m for m in people_here if m is not p]
                if not others:
                    add(p, t0, cat, g, ["plain"])
                    continue
                m = rng.choice(others)
                who = "همسرم" if {p["role"], m["role"]} == {"head", "wife"} else ("پدرم" if p["gender"] == "male" else "مادرم") \
                    if m["role"] == "child" else "فرزندم" if p["role"] == "child" else "یکی از اعضای خانواده"
                add(p, t0, cat, g, ["followup:other_member"])
                cat2 = rng.choice([cat, FOLLOWUP])
                add(m, t0 + dt.timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 5)), cat2, g,
                    ["followup:other_member", "followup:other_member_" + ("generic" if cat2 == FOLLOWUP else "same_category")],
                    f"پیگیری درخواست {who}")
            elif kind == "same_day_two":
                cat2 = rng.choice([c for c in CATEGORIES if c != cat])
                add(p, t0, cat, g, ["same_day_two"])
                groups += 1
                add(p, t0 + dt.timedelta(minutes=rng.randint(20, 240)), cat2, f"G{groups}", ["same_day_two"])
            elif kind == "neighbour":
                near = [o for o in on_alley[(hh["home"]["street"], hh["home"]["alley"])] if o is not hh and adults(o)
                        and not (hh["old_home"] and t0.date() < hh["moved_on"]) and not (o["old_home"] and t0.date() < o["moved_on"])]
                if not near:
                    add(p, t0, cat, g, ["plain"])
                    continue
                n = rng.choice(adults(rng.choice(near)))
                cat = "آسفالت و چاله" if rng.random() < 0.6 else cat
                add(p, t0, cat, g, ["neighbour:same_problem"])
                groups += 1
                add(n, t0 + dt.timedelta(days=rng.randint(0, 5), hours=rng.randint(1, 6)), cat, f"G{groups}", ["neighbour:same_problem"])
            elif kind == "late":
                add(p, t0, cat, g, ["late:same_place"], status="بسته شده")
                groups += 1
                add(p, t0 + dt.timedelta(days=rng.randint(120, 300)), cat, f"G{groups}", ["late:same_place"])
    calls = [c for c in calls if c["when"] < EXPORTED - dt.timedelta(hours=2)]
    order = sorted(range(len(calls)), key=lambda i: calls[i]["when"])
    serial, code = 4000, {}
    for i in order:
        serial += rng.randint(1, 9)
        code[i] = (jyear(calls[i]["when"].date()), serial)
    items = []
    for i in order:
        c = calls[i]
        p, hh, when = c["p"], c["hh"], c["when"]
        home, hlb = home_at(p, hh, when.date())
        first, flb = first_at(p, when.date())
        plb = sorted(p["labels"]) + hlb + flb
        r = rng.random()
        title = "آقای" if p["gender"] == "male" else "خانم"
        if r < 0.55:
            name = f"{first} {p['last']}"
        elif r < 0.82:
            name = f"{title} {p['last']}"
            plb.append("caller:title_surname")
        elif r < 0.92:
            name = f"{title} {first} {p['last']}"
        else:
            name = "ناشناس"
        nid = (p["fida"] if p["foreign"] else p["nid"]) if rng.random() < 0.45 else ""
        phones, mlb = [], []
        if p["mobile"]:
            mob, mlb = write_mobile(rng, p["mobile"])
            phones.append({"type": "همراه", "number": mob})
        if rng.random() < 0.25 or not phones:
            tel, tlb = write_landline(rng, home["landline"])
            phones.append({"type": "ثابت", "number": tel})
            mlb += tlb
        if not p["mobile"] or phones[0]["type"] == "ثابت":
            mlb.append("caller:landline_only")
        desc = c["desc"]
        if c["quote"] == "app_code":
            y, s = code[c["cite"]]
            desc = f"پیگیری درخواست قبلی. کد پیگیری: {y}-{s:06d} هنوز اقدامی نشده"
        elif c["quote"] == "app_tr":
            y, s = code[c["cite"]]
            desc = f"پیگیری از طریق اپلیکیشن، کد رهگیری TR{s:06d}"
        status = c["status"] or ("بسته شده" if when < EXPORTED - dt.timedelta(days=15) and rng.random() < 0.7
                                 else rng.choice(["ثبت شده", "در حال بررسی", "ارجاع شده"]))
        closed = None
        if status == "بسته شده":
            closed = when + dt.timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 6))
        geo = {"lat": round(home["geo"][0], 6), "lng": round(home["geo"][1], 6)} if rng.random() < 0.7 else None
        y, s = code[i]
        item = {"ticket": {"code": f"{y}{s:06d}", "channel": c["channel"]},
                "caller": {"name": name, "nid": nid, "phones": phones},
                "subject": {"title": c["category"], "detail": ""},
                "text": desc or rng.choice(["", "لطفا رسیدگی شود", "چند روز است که مشکل وجود دارد", "درخواست رسیدگی فوری"]),
                "location": {"region": f"منطقه {fa(STREETS[home['street']][2])}", "address": freetext(rng, home), "geo": geo},
                "state": status, "created": f"{jdate(when.date())} {when:%H:%M}",
                "closed": f"{jdate(closed.date())} {closed:%H:%M}" if closed else None}
        items.append(item)
        tc = item["ticket"]["code"]
        requests.append((tc, c["group"], c["labels"]))
        named = name != "ناشناس"
        if nid or (named and phones):
            truth.append((CALLS, tc, p["pid"], sorted(set(plb + mlb + [f"137:{c['labels'][0]}"])), item))
    return items


# ---------------------------------------------------------------- contracts

HEAD = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 1.0.0
status: active
domain: {domain}
tenant: mashhad
description:
  purpose: {purpose}
team:
  name: {agency}
  members:
    - {{username: {agency}-steward, name: {steward}, role: owner}}
servers:
  - server: {agency}-prod
    type: custom
    environment: prod
    customProperties:
{server}
schema:
  - name: {name}
    physicalName: {name}
    physicalType: table
    customProperties:
      - {{property: sharedSchema, value: {shared}}}
{record_id}    properties:
{props}
customProperties:
  - {{property: schedule, value: "@daily"}}
"""


def contract(out: Path, dataset: str, domain: str, purpose: str, steward: str, server: dict, shared: str,
             props: list[str], record_id: str | None = None) -> None:
    agency, name = dataset.split(".")
    path = out / "contracts" / agency / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    srv = "\n".join(f"      - {{property: {k}, value: {json.dumps(v, ensure_ascii=False)}}}" for k, v in server.items())
    rid = f"      - {{property: recordId, value: \"{record_id}\"}}\n" if record_id else ""
    path.write_text(HEAD.format(id=dataset, name=name, domain=domain, purpose=purpose, agency=agency, steward=steward,
                                server=srv, shared=shared, record_id=rid, props="\n".join(f"      - {p}" for p in props)),
                    encoding="utf-8")


def write_contracts(out: Path) -> None:
    d = out / "data"
    contract(out, "tax.nosazi", "finance", "پرداخت عوارض نوسازی املاک (خروجی ماهانه سامانه درآمد)", "اداره درآمد",
             {"connector": "file", "path": str(d / "tax"), "pattern": "*.csv", "format": "csv", "encoding": "auto"}, "payment",
             ['{name: payment_id, physicalName: "شناسه پرداخت", logicalType: string, primaryKey: true, primaryKeyPosition: 1, required: true}',
              '{name: national_id, physicalName: "کد ملی", logicalType: integer, description: کد ملی مودی}',
              '{name: payer_name, physicalName: "نام مودی", logicalType: string, transformLogic: person_name}',
              # the report always has the mobile, the engineer believed: it is sometimes empty
              '{name: mobile, physicalName: "تلفن همراه", logicalType: integer, required: true}',
              '{name: phone, physicalName: "تلفن ثابت", logicalType: string, transformLogic: phone}',
              '{name: address.detail, physicalName: "نشانی ملک", logicalType: string}',
              '{name: address.district, physicalName: "منطقه", logicalType: string}',
              '{name: amount_rial, physicalName: "مبلغ (ریال)", logicalType: integer, required: true}',
              '{name: paid_on, physicalName: "تاریخ پرداخت", logicalType: date, transformLogic: date}',
              '{name: status, physicalName: "وضعیت", logicalType: string}'], record_id="شناسه پرداخت")
    contract(out, "portal.users", "citizen-services", "کاربران پرتال شهروندی", "واحد فناوری",
             {"connector": "sql", "url": f"sqlite:///{d / 'portal.db'}", "table": "users", "watermark": "updated_at", "key": "id",
              "batch_size": 500}, "person",
             ['{name: national_id, physicalName: national_code, logicalType: string, transformLogic: national_id, primaryKey: true, primaryKeyPosition: 1, required: true}',
              '{name: first_name, physicalName: first_name, logicalType: string, transformLogic: person_name, required: true}',
              '{name: last_name, physicalName: last_name, logicalType: string, transformLogic: person_name, required: true}',
              "{name: gender, physicalName: gender, logicalType: string, customProperties: [{property: valueMap, value: {M: male, F: female}}]}",
              '{name: birth_date, physicalName: birth_date, logicalType: string, transformLogic: date}',
              '{name: mobile, physicalName: mobile, logicalType: string}',
              '{name: phone, physicalName: tel, logicalType: string, transformLogic: "phone:51"}',
              '{name: postal_code, physicalName: postal_code, logicalType: integer}',
              '{name: address.city, physicalName: city, logicalType: string}',
              '{name: address.district, physicalName: region, logicalType: string}',
              '{name: address.street, physicalName: street, logicalType: string}',
              '{name: address.alley, physicalName: alley, logicalType: string}',
              '{name: address.plate, physicalName: plaque, logicalType: string}',
              '{name: address.detail, physicalName: unit, logicalType: string}'], record_id="id")
    contract(out, "culture.members", "culture", "اعضای کلاس‌های فرهنگسرا", "فرهنگسرای شهرداری",
             {"connector": "file", "path": str(d / "culture"), "pattern": "*.xlsx", "format": "xlsx"}, "person",
             ['{name: national_id, physicalName: "کد ملی", logicalType: string, primaryKey: true, primaryKeyPosition: 1}',
              '{name: first_name, physicalName: "نام", logicalType: string}',
              '{name: last_name, physicalName: "نام خانوادگی", logicalType: string}',
              '{name: father_name, physicalName: "نام پدر", logicalType: string}',
              '{name: birth_date, physicalName: "سال تولد", logicalType: date, transformLogic: date, description: سال تولد عضو}',
              "{name: gender, physicalName: \"جنسیت\", logicalType: string, customProperties: [{property: valueMap, value: {پسر: male, دختر: female, آقا: male, خانم: female}}]}",
              '{name: mobile, physicalName: "تلفن همراه", logicalType: string}',
              '{name: address.detail, physicalName: "نشانی", logicalType: string}'],
             # lint refuses the column's own spelling with its half-space (ZWNJ) as a recordId; the
             # engineer typed a plain space, which the docs say a physicalName may differ by
             record_id="شماره ثبت نام")
    contract(out, "licences.kasb", "business", "پروانه‌های کسب صادرشده", "اداره صنوف",
             {"connector": "file", "path": str(d / "licences"), "pattern": "*.txt", "format": "tsv", "encoding": "auto"}, "permit",
             ['{name: permit_no, physicalName: "شماره پروانه", logicalType: string, primaryKey: true, primaryKeyPosition: 1, required: true}',
              '{name: owner_name, physicalName: "نام و نام خانوادگی", logicalType: string, transformLogic: person_name}',
              '{name: national_id, physicalName: "کد ملی/فیدا", logicalType: string}',
              '{name: mobile, physicalName: "همراه", logicalType: string, transformLogic: mobile}',
              '{name: phone, physicalName: "تلفن", logicalType: string, transformLogic: "phone:51"}',
              '{name: address.detail, physicalName: "نشانی محل کسب", logicalType: string}',
              '{name: district, physicalName: "منطقه", logicalType: string}',
              '{name: kind, physicalName: "رسته", logicalType: string}',
              '{name: issued_on, physicalName: "تاریخ صدور", logicalType: date, transformLogic: date}',
              '{name: expires_on, physicalName: "تاریخ اعتبار", logicalType: date}',
              '{name: status, physicalName: "وضعیت", logicalType: string}'])
    contract(out, CALLS, "citizen-services", "درخواست‌های ۱۳۷ (خروجی سامانه پیمانکار جدید)", "سامانه ۱۳۷",
             {"connector": "file", "path": str(d / "hotline"), "pattern": "*.json", "format": "json", "records": "items"},
             "service_request",
             ['{name: tracking_code, physicalName: ticket.code, logicalType: string, primaryKey: true, primaryKeyPosition: 1, required: true}',
              '{name: citizen_name, physicalName: caller.name, logicalType: string, transformLogic: person_name}',
              '{name: national_id, physicalName: caller.nid, logicalType: string}',
              '{name: mobile, physicalName: caller.phones.0.number, logicalType: string, transformLogic: mobile}',
              '{name: phone, physicalName: caller.phones.1.number, logicalType: string}',
              '{name: category, physicalName: subject.title, logicalType: string, required: true}',
              '{name: subcategory, physicalName: subject.detail, logicalType: string}',
              '{name: description, physicalName: text, logicalType: string}',
              '{name: district, physicalName: location.region, logicalType: string}',
              '{name: address, physicalName: location.address, logicalType: string}',
              '{name: latitude, physicalName: location.geo.lat, logicalType: number}',
              '{name: longitude, physicalName: location.geo.lng, logicalType: number}',
              '{name: status, physicalName: state, logicalType: string}',
              '{name: filed_at, physicalName: created, logicalType: string, transformLogic: date, required: true}',
              '{name: closed_at, physicalName: closed, logicalType: string, transformLogic: datetime}'])
    (out / "contracts" / "match_settings.yaml").write_text("{}\n", encoding="utf-8")


# ---------------------------------------------------------------- files

def cp1256(s: str) -> str:
    """What the licensing office's Windows system can hold: Arabic Yeh, Latin digits."""
    return s.replace("ی", "ي").replace("ۀ", "ه").translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))


def write_files(out: Path, tax, portal, culture, licences, items) -> None:
    import openpyxl

    d = out / "data"
    for sub in ("tax", "culture", "licences", "hotline"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    with open(d / "tax" / "nosazi_1403.csv", "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["گزارش پرداخت عوارض نوسازی - شهرداری مشهد"])
        w.writerow(["تاریخ تهیه: ۱۴۰۳/۱۰/۳۰"])
        w.writerow(list(tax[0]))
        for r in tax:
            w.writerow(list(r.values()))
        w.writerow(["جمع کل", "", "", "", "", "", "", "", "", "", str(sum(int(r["مبلغ (ریال)"]) for r in tax)), "", ""])
    con = sqlite3.connect(d / "portal.db")
    cols = list(portal[0])
    con.execute(f"CREATE TABLE users ({', '.join(c + (' INTEGER PRIMARY KEY' if c == 'id' else ' TEXT') for c in cols)})")
    con.executemany(f"INSERT INTO users VALUES ({', '.join('?' * len(cols))})", [tuple(r.values()) for r in portal])
    con.commit()
    con.close()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["فهرست اعضای کلاس‌های فرهنگسرای شهرداری مشهد"])
    ws.append(list(culture[0]))
    for r in culture:
        ws.append(list(r.values()))
    wb.save(d / "culture" / "members.xlsx")
    with open(d / "licences" / "kasb.txt", "w", encoding="cp1256", errors="replace", newline="") as f:
        f.write("\t".join(cp1256(k) for k in licences[0]) + "\r\n")
        for r in licences:
            f.write("\t".join(cp1256(v) for v in r.values()) + "\r\n")
    (d / "hotline" / "tickets.json").write_text(json.dumps({"vendor": "سامانه ۱۳۷ (پیمانکار جدید)", "exported": "1403/10/30",
                                                           "items": items}, ensure_ascii=False, indent=1), encoding="utf-8")


def generate(out: Path, households: int = 600, seed: int = 1) -> dict:
    """Write the five sources, their contracts and truth under `out`; return the truth."""
    rng = random.Random(seed)
    persons, hhs = people(rng, households)
    truth, requests = [], []
    tax = tax_rows(rng, persons, hhs, truth)
    portal = portal_rows(rng, persons, hhs, truth)
    culture = culture_rows(rng, persons, hhs, truth)
    licences = licence_rows(rng, persons, hhs, truth)
    items = hotline_calls(rng, persons, hhs, truth, requests)
    # the licensing office's file holds what Windows-1256 can: its truth shows the row as read
    truth = [(s, cp1256(r) if s == "licences.kasb" else r, pid, lb, {k: cp1256(v) for k, v in raw.items()} if s == "licences.kasb" else raw)
             for s, r, pid, lb, raw in truth]
    write_files(out, tax, portal, culture, licences, items)
    write_contracts(out)
    tdir = out / "truth"
    tdir.mkdir(exist_ok=True)
    with open(tdir / "persons.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "record_id", "person_id", "phenomena"])
        w.writerows((s, r, pid, ";".join(lb)) for s, r, pid, lb, _ in truth)
    with open(tdir / "requests.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "request_group", "phenomena"])
        w.writerows((c, g, ";".join(lb)) for c, g, lb in requests)
    return {"persons": truth, "requests": requests, "people": len(persons),
            "calls": {item["ticket"]["code"]: item for item in items}}
