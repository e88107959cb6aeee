"""The fifth blind labelled set, written from the public docs only (README, docs/, schemas/,
contracts/), as an agency engineer holding real Mashhad data would deliver it:

- `hr.payroll`: the municipality's HR/payroll system, a MariaDB table (Persian names, or a
  Latin transliteration the payroll vendor typed, Gregorian birth dates, national ids with
  dashes, the department's landline every employee shares, a rehired employee under an old
  and a new employee number);
- `permits.portal`: the building-permit portal's paginated JSON REST API on 127.0.0.1
  (applicant «نام خانوادگی، نام» in one field, either order; abbreviated addresses
  «بل.»/«خ.»/«ک.»/«پ.», districts «ناحیه ۳» or a named zone «ثامن», postal codes «91375-12345»);
- `sports.members`: a sports and health centre's semicolon CSV (honorific suffixes «حسین آقا»,
  «فاطمه خانم», «زهرابیگم», «…السادات», two-digit or month-name birth dates, mobiles with
  «-» and «.», children under their own names);
- `rc137.calls_v5`: another 137 export as CSV: «تکراری» with the original's code in its own
  column, follow-ups by another channel citing the code, a call split by the operator into
  two categories, a neighbour's report, the same place long after.

Every record is labelled with the phenomena it carries; truth is a person id per person
mention and a request group per 137 call (`truth/` holds both as CSV).  `generate` returns
{persons: [(source, key, pid, labels, raw)], requests: [(code, group, labels)], calls,
people, cleanup}; `cleanup()` stops the API server and drops the MariaDB database.
"""
from __future__ import annotations

import csv
import json
import os
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

CONTRACTS = ["hr.payroll", "permits.portal", "sports.members", "rc137.calls_v5"]
CALLS = "rc137.calls_v5"
PLAIN: set[str] = set()  # phenomena left out: `two_digit` (every date with a four-digit year)

FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
MONTHS = ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"]

MALE = {"محمد": "Mohammad", "علی": "Ali", "حسین": "Hossein", "رضا": "Reza", "مهدی": "Mahdi", "حسن": "Hasan",
        "محمدرضا": "Mohammad Reza", "امیر": "Amir", "سعید": "Saeed", "جواد": "Javad", "مجید": "Majid",
        "مصطفی": "Mostafa", "احمد": "Ahmad", "ابوالفضل": "Abolfazl", "حمید": "Hamid", "محمدحسین": "Mohammad Hossein",
        "غلامرضا": "Gholamreza", "عباس": "Abbas", "یوسف": "Yousef", "کاظم": "Kazem"}
FEMALE = {"فاطمه": "Fatemeh", "زهرا": "Zahra", "مریم": "Maryam", "معصومه": "Masoumeh", "زینب": "Zeinab",
          "سمیه": "Somayeh", "الهام": "Elham", "مهسا": "Mahsa", "نرگس": "Narges", "ملیحه": "Maliheh",
          "طاهره": "Tahereh", "اکرم": "Akram", "لیلا": "Leila", "سارا": "Sara", "نازنین": "Nazanin",
          "فاطمه‌زهرا": "Fatemeh Zahra", "رقیه": "Roghayeh", "صدیقه": "Sedigheh", "منصوره": "Mansoureh", "هانیه": "Hanieh"}
SURNAMES = {"رضایی": "Rezaei", "حسینی": "Hosseini", "محمدی": "Mohammadi", "احمدی": "Ahmadi", "کریمی": "Karimi",
            "موسوی": "Mousavi", "جعفری": "Jafari", "قاسمی": "Ghasemi", "صادقی": "Sadeghi", "رحیمی": "Rahimi",
            "هاشمی": "Hashemi", "نوری": "Nouri", "طاهری": "Taheri", "عباسی": "Abbasi", "حسین‌زاده": "Hosseinzadeh",
            "قوچانی": "Ghouchani", "رضوی": "Razavi", "یزدانی": "Yazdani", "فرهادی": "Farhadi", "سلطانی": "Soltani",
            "اکبری": "Akbari", "ابراهیمی": "Ebrahimi", "نیشابوری": "Neyshabouri", "کاشانی": "Kashani",
            "شریفی": "Sharifi", "باقری": "Bagheri", "عسگری": "Asgari", "توکلی": "Tavakoli"}
# surnames written with a glued or spaced prefix, and double surnames
PREFIXED = {"میرحسینی": ("میر حسینی", "Mirhosseini"), "میرهاشمی": ("میر هاشمی", "Mirhashemi"),
            "آل‌یاسین": ("آل یاسین", "Al-e Yasin"), "آل‌داوود": ("آل داوود", "Aledavood"),
            "میرکاظمی": ("میر کاظمی", "Mirkazemi")}
DOUBLE = {"حسینی‌نژاد طوسی": "Hosseininejad Tousi", "رضایی مقدم": "Rezaei Moghaddam", "کریمی راد": "Karimi Rad",
          "موسوی‌زاده خراسانی": "Mousavizadeh Khorasani", "هاشمی‌نسب": "Hasheminasab", "صادقی‌فر": "Sadeghifar"}
STREETS = ["وکیل‌آباد", "سجاد", "هاشمیه", "احمدآباد", "فردوسی", "طبرسی", "توس", "پیروزی", "معلم", "سناباد",
           "کوهسنگی", "امام رضا", "دانشجو", "هفت تیر", "استقلال", "الهیه", "قاسم‌آباد", "شاهد"]
COMPLEXES = ["یاس", "نرگس", "ارغوان", "مهر", "بهاران", "فرهنگیان", "الماس"]
ZONES = {"ثامن": "ثامن", "۱": "ناحیه ۱"}  # the shrine's district has a name, not a number
CATEGORIES = ["پسماند", "روشنایی معابر", "آسفالت", "فضای سبز", "سد معبر", "حیوانات ولگرد", "آب‌های سطحی"]
DEPARTMENTS = [("منطقه ۹", "05138612000"), ("منطقه ۱۱", "05136051100"), ("سازمان پسماند", "05138433300"),
               ("معاونت شهرسازی", "05137654000"), ("سازمان فضای سبز", "05138818800"), ("ستاد مرکزی", "05131051000")]


def nid(rng) -> str:
    d = [rng.randint(0, 9) for _ in range(9)]
    d[0] = rng.choice([0, 0, 0, 9, 1])  # Mashhad's ids mostly start 09…, 07…
    if d[0] == 0:
        d[1] = rng.choice([9, 7, 9])
    s = sum(x * (10 - i) for i, x in enumerate(d)) % 11
    return "".join(map(str, d)) + str(s if s < 2 else 11 - s)


def mobile(rng) -> str:
    return rng.choice(["0915", "0915", "0935", "0912", "0901", "0937", "0936"]) + "".join(str(rng.randint(0, 9)) for _ in range(7))


def j2g(jy: int, jm: int, jd: int) -> tuple[int, int, int]:
    """Jalali to Gregorian (the usual arithmetic; the HR system stores Gregorian)."""
    jy += 1595
    days = -355668 + 365 * jy + (jy // 33) * 8 + ((jy % 33) + 3) // 4 + jd + ((jm - 1) * 31 if jm < 7 else (jm - 7) * 30 + 186)
    gy = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gy += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gy += (days - 1) // 365
        days = (days - 1) % 365
    gd = days + 1
    leap = (gy % 4 == 0 and gy % 100 != 0) or gy % 400 == 0
    for gm, n in enumerate([31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], 1):
        if gd <= n:
            return gy, gm, gd
        gd -= n
    return gy, 12, 31


# ---------------------------------------------------------------- the population

def households(rng, n: int) -> list[dict]:
    homes, people = [], []
    complexes = {}
    for h in range(n):
        district = rng.choice(["ثامن"] + [str(x) for x in range(1, 13)])
        street = rng.choice(STREETS)
        alley = rng.randint(1, 60)
        if rng.random() < 0.15:  # a block of flats: many homes share street, alley and plaque
            key = rng.choice(COMPLEXES)
            if key not in complexes:
                complexes[key] = (district, street, alley, rng.randint(1, 200))
            district, street, alley, plaque = complexes[key]
            home = {"complex": key, "block": rng.choice("ABCD"), "unit": rng.randint(1, 40)}
        else:
            plaque, home = rng.randint(1, 300), {}
        home.update(id=h, district=district, street=street, alley=alley, plaque=plaque,
                    postal="91" + "".join(rng.choice("13456789") for _ in range(3)) + "".join(rng.choice("123456789") for _ in range(5)),
                    landline="3" + "".join(str(rng.randint(0, 9)) for _ in range(7)), members=[])
        surname_kind = rng.random()
        if surname_kind < 0.12:
            surname = rng.choice(list(PREFIXED))
        elif surname_kind < 0.24:
            surname = rng.choice(list(DOUBLE))
        else:
            surname = rng.choice(list(SURNAMES))
        sayyid = surname in ("حسینی", "موسوی", "هاشمی", "رضوی", "میرحسینی", "میرهاشمی") and rng.random() < 0.7
        by = rng.randint(1335, 1375)
        father = dict(first=rng.choice(list(MALE)), last=surname, gender="male", sayyid=sayyid,
                      birth=(by, rng.randint(1, 12), rng.randint(1, 29)), father=rng.choice(list(MALE)))
        wife_last = rng.choice(list(SURNAMES))
        mother = dict(first=rng.choice(list(FEMALE)), last=wife_last, gender="female", sayyid=rng.random() < 0.1,
                      birth=(by + rng.randint(0, 6), rng.randint(1, 12), rng.randint(1, 29)), father=rng.choice(list(MALE)))
        kids = []
        for k in range(rng.choice([0, 1, 1, 2, 2, 3])):
            g = rng.choice(["male", "female"])
            first = rng.choice([x for x in (MALE if g == "male" else FEMALE) if x not in (father["first"], mother["first"])])
            kids.append(dict(first=first, last=surname, gender=g, sayyid=sayyid and g == "male" or (sayyid and rng.random() < 0.5),
                             birth=(min(1398, by + 22 + 2 * k + rng.randint(0, 3)), rng.randint(1, 12), rng.randint(1, 29)),
                             father=father["first"], kid=True))
        for p in [father, mother] + kids:
            p.update(pid=f"p{len(people)}", nid=nid(rng), mobile=mobile(rng) if not p.get("kid") or p["birth"][0] < 1385 else "",
                     home=home)
            people.append(p)
            home["members"].append(p)
        homes.append(home)
    return homes, people


# ---------------------------------------------------------------- how each source writes a value

def dashed_nid(v, rng, labels):
    if rng.random() < 0.5:
        labels.append("nid:dashed")
        return f"{v[:3]}-{v[3:9]}-{v[9]}"
    return v


def sep_mobile(v, rng, labels):
    if not v:
        return ""
    r = rng.random()
    if r < 0.3:
        labels.append("mobile:dash")
        return f"{v[:4]}-{v[4:7]}-{v[7:]}"
    if r < 0.5:
        labels.append("mobile:dot")
        return f"{v[:4]}.{v[4:7]}.{v[7:]}"
    return v


def surname_as(p, rng, labels):
    s = p["last"]
    if s in PREFIXED and rng.random() < 0.5:
        labels.append("name:prefix_spaced")
        return PREFIXED[s][0]
    if s in PREFIXED:
        labels.append("name:prefix_glued")
    if s in DOUBLE:
        labels.append("name:double")
        if " " in s and rng.random() < 0.3:  # one clerk keeps only the first part
            labels.append("name:double_first_only")
            return s.split(" ")[0]
    return s


def first_as(p, rng, labels, honorific=0.0):
    f = p["first"]
    if p["sayyid"]:
        if p["gender"] == "male":
            r = rng.random()
            if r < 0.35:
                labels.append("name:sayyid_spaced")
                f = "سید " + f
            elif r < 0.6:
                labels.append("name:sayyid_glued")
                f = "سید" + f
        elif rng.random() < 0.5:
            labels.append("name:sadat")
            f = f + rng.choice(["‌السادات", " سادات", "‌سادات"])
    if rng.random() < honorific:
        labels.append("name:honorific_suffix")
        f = f + (rng.choice([" آقا", " آقا"]) if p["gender"] == "male" else rng.choice([" خانم", "‌بیگم", "بیگم", " خانم"]))
    return f


def address_text(home, rng, labels, abbreviated: bool):
    if abbreviated:
        labels.append("address:abbrev")
        parts = [f"بل. {home['street']}", f"ک. {home['alley']}", f"پ. {home['plaque']}"]
    else:
        parts = [f"بلوار {home['street']}", f"{home['street']} {home['alley']}", f"پلاک {home['plaque']}"]
    if "complex" in home:
        labels.append("address:complex")
        parts += [f"مجتمع {home['complex']}", f"بلوک {home['block']}", f"واحد {home['unit']}"]
    return rng.choice(["مشهد، ", ""]) + "، ".join(parts)


def district_as(home, rng, labels):
    d = home["district"]
    if d == "ثامن":
        labels.append("district:named")
        return rng.choice(["ثامن", "منطقه ثامن"])
    r = rng.random()
    if r < 0.4:
        labels.append("district:nahieh")
        return f"ناحیه {d}".translate(FA)
    return rng.choice([f"منطقه {d}", d])


def jalali(d, style, labels):
    y, m, dd = d
    if style == "two_digit" and "two_digit" not in PLAIN:
        labels.append("date:two_digit")
        return f"{y % 100:02d}/{m:02d}/{dd:02d}"
    if style == "month_name":
        labels.append("date:month_name")
        return f"{dd} {MONTHS[m - 1]} {y}".translate(FA)
    return f"{y}/{m:02d}/{dd:02d}"


# ---------------------------------------------------------------- sources

def hr_rows(rng, people, persons):
    """Employees: one adult in about a third of the homes, a few rehired under a new number."""
    rows, emp = [], 1000
    for p in people:
        if p.get("kid") or rng.random() > 0.3:
            continue
        dept, tel = rng.choice(DEPARTMENTS)
        for copy in range(2 if rng.random() < 0.1 else 1):
            labels = ["phone:workplace"]
            emp += rng.randint(1, 7)
            if copy:
                labels.append("hr:rehired")
            row = {"emp_no": f"E{emp}", "dept": dept, "tel_work": tel, "sex": "M" if p["gender"] == "male" else "F"}
            if rng.random() < 0.35:  # typed by the payroll vendor, in Latin letters
                first = MALE.get(p["first"]) or FEMALE[p["first"]]
                last = SURNAMES.get(p["last"]) or (PREFIXED.get(p["last"]) or (None, None))[1] or DOUBLE[p["last"]]
                if p["sayyid"] and p["gender"] == "male" and rng.random() < 0.5:
                    first = "Seyed " + first
                r = rng.random()
                if r < 0.3:
                    labels.append("name:latin_initials")
                    latin = ". ".join(w[0] for w in first.split()) + ". " + last
                elif r < 0.55:
                    labels.append("name:latin_comma")
                    latin = f"{last}, {first}"
                else:
                    latin = f"{first} {last}"
                labels.append("name:latin")
                row.update(first_name="", last_name="", name_latin=latin)
            else:
                row.update(first_name=first_as(p, rng, labels), last_name=surname_as(p, rng, labels), name_latin="")
            labels.append("date:gregorian")
            g = j2g(*p["birth"])
            row["birth_date"] = f"{g[0]}-{g[1]:02d}-{g[2]:02d}"
            row["national_code"] = dashed_nid(p["nid"], rng, labels)
            m = p["mobile"] if not copy or rng.random() < 0.5 else mobile(rng)
            if copy and m != p["mobile"]:
                labels.append("mobile:new")
            row["mobile"] = "" if rng.random() < 0.08 else sep_mobile(m, rng, labels)
            row["home_address"] = address_text(p["home"], rng, labels, rng.random() < 0.5)
            row["postal_code"] = p["home"]["postal"][:5] + "-" + p["home"]["postal"][5:] if rng.random() < 0.6 else p["home"]["postal"]
            if "-" in row["postal_code"]:
                labels.append("postal:dashed")
            row["updated_at"] = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 08:00:00"
            rows.append(row)
            persons.append(("hr.payroll", row["emp_no"], p["pid"], labels, row))
    return rows


def permit_items(rng, homes, persons):
    items, n = [], 0
    for home in homes:
        if rng.random() > 0.3:
            continue
        owner = home["members"][0] if rng.random() < 0.75 else home["members"][1]
        for _ in range(rng.choice([1, 1, 1, 2])):
            n += 1
            labels = []
            first, last = first_as(owner, rng, labels), surname_as(owner, rng, labels)
            r = rng.random()
            if r < 0.35:
                labels.append("name:comma_last_first")
                name = f"{last}، {first}" if rng.random() < 0.7 else f"{last}, {first}"
            elif r < 0.5:
                labels.append("name:comma_first_last")
                name = f"{first}، {last}"
            else:
                name = f"{first} {last}"
            phones = [sep_mobile(owner["mobile"], rng, labels)] if owner["mobile"] else []
            if rng.random() < 0.25:  # the home's landline listed first
                labels.append("phones:landline_first")
                phones.insert(0, "051" + home["landline"])
            item = {"id": f"PRM-1403-{n:05d}", "kind": rng.choice(["تعمیرات", "احداث", "تمدید", "افزایش بنا"]),
                    "submitted": jalali((1403, rng.randint(1, 9), rng.randint(1, 29)), rng.choice(["month_name", "plain"]), labels),
                    "applicant": {"full_name": name, "nid": dashed_nid(owner["nid"], rng, labels), "phones": phones},
                    "property": {"address": address_text(home, rng, labels, rng.random() < 0.7),
                                 "zone": district_as(home, rng, labels),
                                 "postal": home["postal"][:5] + "-" + home["postal"][5:]},
                    "status": rng.choice(["در حال بررسی", "صادر شده", "نقص مدارک"])}
            labels.append("postal:dashed")
            items.append(item)
            persons.append(("permits.portal", item["id"], owner["pid"], labels, item))
    return items


def sports_rows(rng, homes, persons):
    rows, n = [], 0
    for home in homes:
        if rng.random() > 0.35:
            continue
        for p in home["members"]:
            if rng.random() > 0.55:
                continue
            n += 1
            labels = []
            if p.get("kid"):
                labels.append("kid")
            style = rng.choice(["plain", "plain", "two_digit", "month_name"])
            row = {"شماره عضویت": str(5000 + n), "نام": first_as(p, rng, labels, honorific=0.3),
                   "نام‌خانوادگی": surname_as(p, rng, labels), "کد ملی": dashed_nid(p["nid"], rng, labels) if rng.random() < 0.9 else "",
                   "تاریخ تولد": jalali(p["birth"], style, labels), "جنسیت": "آقا" if p["gender"] == "male" else "خانم",
                   "همراه": sep_mobile(p["mobile"] or p["home"]["members"][1]["mobile"], rng, labels),
                   "تلفن منزل": home["landline"], "نشانی": address_text(home, rng, labels, rng.random() < 0.5),
                   "تاریخ عضویت": jalali((1403, rng.randint(1, 9), rng.randint(1, 29)), "plain", [])}
            if not p["mobile"]:
                labels.append("mobile:mothers")
            if not row["کد ملی"]:
                labels.append("nid:missing")
            rows.append(row)
            persons.append(("sports.members", row["شماره عضویت"], p["pid"], labels, row))
    return rows


def calls_rows(rng, homes, persons, requests):
    rows, code = [], [14030800000]

    def call(p, home, category, day, labels, status="ثبت شده", refers="", desc="", channel="تلفن", name=True, caller_mobile=None):
        code[0] += rng.randint(1, 40)
        c = str(code[0])
        hh, mm = rng.randint(7, 21), rng.randint(0, 59)
        y, m, d = 1403, 1 + day // 30, 1 + day % 30
        when = f"{y}/{m:02d}/{d:02d} {hh:02d}:{mm:02d}"
        if rng.random() < 0.12 and "two_digit" not in PLAIN:
            labels.append("date:two_digit")
            when = f"{y % 100:02d}/{m:02d}/{d:02d} {hh:02d}:{mm:02d}"
        nm = ""
        if name:
            r = rng.random()
            if r < 0.25:
                labels.append("name:title_surname")
                nm = ("آقای " if p["gender"] == "male" else "خانم ") + surname_as(p, rng, labels)
            else:
                nm = first_as(p, rng, labels, honorific=0.2) + " " + surname_as(p, rng, labels)
        row = {"کد پیگیری": c, "تاریخ ثبت": when, "نام تماس‌گیرنده": nm,
               "کد ملی": dashed_nid(p["nid"], rng, labels) if rng.random() < 0.3 else "",
               "شماره تماس": sep_mobile(caller_mobile if caller_mobile is not None else p["mobile"], rng, labels),
               "موضوع": category, "شرح": desc or f"{category} در محل", "منطقه": district_as(home, rng, labels),
               "نشانی": address_text(home, rng, labels, rng.random() < 0.6), "وضعیت": status,
               "کد درخواست اصلی": refers, "کانال": channel}
        rows.append(row)
        return c, row

    # who calls is drawn first: a neighbour who reports the same problem is one who never
    # calls about his own home (else his own request of that category in the same block of
    # flats within the window would be, rightly, the same request)
    calling = [home for home in homes if rng.random() <= 0.55]
    quiet = {id(h) for h in homes} - {id(h) for h in calling}
    for home in calling:
        adults = [p for p in home["members"] if p["mobile"]][:2]
        # a home's requests are of distinct categories: two reports of one category at one
        # place within the window are one request by definition, whatever the truth says
        used = set()
        for _ in range(rng.choice([1, 1, 2])):
            p = rng.choice(adults)
            category, day = rng.choice([c for c in CATEGORIES if c not in used]), rng.randint(0, 150)
            used.add(category)
            g = f"g{len(requests)}"
            group = []

            def add(labels, **kw):
                c, row = call(p, home, category if "cat" not in kw else kw.pop("cat"), kw.pop("day"), labels, **kw)
                group.append((c, labels))
                persons.append((CALLS, c, p["pid"], labels, row))
                return c

            first = add(["first"], day=day)
            r = rng.random()
            if r < 0.2:
                add(["followup:same"], day=day + rng.randint(2, 20))
            elif r < 0.35:  # the operator marks it a duplicate and writes the original's code
                add(["dup:marked"], day=day + rng.randint(0, 25), status="تکراری", refers=first,
                    cat=rng.choice([category, category, rng.choice(CATEGORIES)]))
            elif r < 0.5:  # followed up through the app, the code in the description
                add(["followup:channel"], day=day + rng.randint(3, 25), channel=rng.choice(["اپلیکیشن", "وب"]),
                    desc=rng.choice([f"پیگیری درخواست {first}", f"پیگیری کد رهگیری {first}", f"درخواست قبلی به شماره {first} انجام نشده"]),
                    cat=rng.choice(["پیگیری درخواست", category]), name=rng.random() < 0.5)
            for c, labels in group:
                requests.append((c, g, labels))
            r = rng.random()
            if r < 0.12:  # the operator splits one call into two tickets of two categories
                other = rng.choice([x for x in CATEGORIES if x not in used])
                used.add(other)
                # two problems, two tickets for two departments: half the operators note the first ticket's code
                lb = ["split", "split:cited" if rng.random() < 0.5 else "split:uncited"]
                c, row = call(p, home, other, day, lb, desc=f"{other} - ثبت جداگانه از تماس {first}" if "split:cited" in lb else other)
                persons.append((CALLS, c, p["pid"], lb, row))
                requests.append((c, f"g{len(requests)}s", lb))
            elif r < 0.22:  # the same place long after: a new request
                c, row = call(p, home, category, day + rng.randint(60, 110), ["late:same_place"])
                persons.append((CALLS, c, p["pid"], ["late:same_place"], row))
                requests.append((c, f"g{len(requests)}l", ["late:same_place"]))
            elif r < 0.40:  # a neighbour (same alley, or the same block of flats) reports the same thing
                near = [h for h in homes if h is not home and h["street"] == home["street"] and h["alley"] == home["alley"]
                        and h["district"] == home["district"] and id(h) in quiet]
                if near:
                    nh = rng.choice(near)
                    q = nh["members"][0]
                    lb = ["neighbour:same_problem"] + (["address:complex_neighbour"] if "complex" in nh else [])
                    c, row = call(q, home, category, day + rng.randint(0, 5), lb)
                    persons.append((CALLS, c, q["pid"], lb, row))
                    requests.append((c, f"g{len(requests)}n", lb))
    return rows


# ---------------------------------------------------------------- delivery

def serve_permits(items: list[dict]):
    """The permit portal's API: GET /api/v1/permits?page=N&per_page=M -> {items, page, total}."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            u = urlparse(self.path)
            q = parse_qs(u.query)
            if u.path != "/api/v1/permits":
                self.send_error(404)
                return
            page, size = int(q.get("page", ["1"])[0]), int(q.get("per_page", ["50"])[0])
            body = json.dumps({"items": items[(page - 1) * size: page * size], "page": page, "total": len(items)},
                              ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def load_mariadb(rows: list[dict], seed: int):
    import pymysql

    db = f"munihub_blind5_{seed}_{os.getpid()}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", charset="utf8mb4", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
        cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_persian_ci")
        cur.execute(f"""CREATE TABLE {db}.personel (emp_no VARCHAR(12) PRIMARY KEY, first_name VARCHAR(80), last_name VARCHAR(80),
            name_latin VARCHAR(120), sex CHAR(1), birth_date DATE, national_code VARCHAR(14), mobile VARCHAR(16),
            tel_work VARCHAR(16), dept VARCHAR(60), home_address VARCHAR(300), postal_code VARCHAR(12), updated_at DATETIME,
            KEY wm (updated_at, emp_no))""")
        cols = list(rows[0])
        cur.executemany(f"INSERT INTO {db}.personel ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                        [[r[c] or None for c in cols] for r in rows])

    def drop():
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.close()
    return f"mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4", drop


def generate(out: Path, n_households: int = 500, seed: int = 1) -> dict:
    rng = random.Random(seed)
    homes, people = households(rng, n_households)
    persons, requests = [], []
    hr = hr_rows(rng, people, persons)
    items = permit_items(rng, homes, persons)
    sports = sports_rows(rng, homes, persons)
    calls = calls_rows(rng, homes, persons, requests)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sports").mkdir(exist_ok=True)
    with open(out / "sports" / "aza_1403.csv", "w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(sports[0]), delimiter=";")
        w.writeheader()
        w.writerows(sports)
    (out / "rc137").mkdir(exist_ok=True)
    with open(out / "rc137" / "calls_1403.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(calls[0]))
        w.writeheader()
        w.writerows(calls)
    url, drop = load_mariadb(hr, seed)
    try:
        server = serve_permits(items)
    except BaseException:  # the database is dropped whatever stops the set being made
        drop()
        raise
    os.environ["BLIND5_HR_DB_URL"] = url
    os.environ["BLIND5_PERMITS_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ["BLIND5_DIR"] = str(out)
    try:
        write_contracts(out / "contracts")
    except BaseException:
        server.shutdown()
        drop()
        raise
    (out / "truth").mkdir(exist_ok=True)
    with open(out / "truth" / "persons.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "key", "person", "labels"])
        w.writerows([s, k, pid, "|".join(lb)] for s, k, pid, lb, _ in persons)
    with open(out / "truth" / "requests.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "group", "labels"])
        w.writerows([c, g, "|".join(lb)] for c, g, lb in requests)

    def cleanup():
        server.shutdown()
        drop()
    return {"persons": persons, "requests": requests, "people": len(people), "cleanup": cleanup,
            "calls": {k: raw for s, k, _, _, raw in persons if s == CALLS}}


def write_contracts(root: Path) -> None:
    here = Path(__file__).resolve().parent / "blind5_contracts"
    for src in here.rglob("*.yaml"):
        dst = root / src.relative_to(here)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
