"""A third labelled multi-source set, built blind: five agencies' exports of one city's
households, written from the hub's public documents only (README, docs/, schemas/, the
example contracts), not from its matcher or from the other two generators.

What it stresses, as real Mashhad data has it (every record is labelled with what it carries):
skewed first names and surnames (many people share a whole name, some a birth year too);
people known to two systems only by thin mentions; a bank with Gregorian dates and Latin
names; Jalali two-digit years and month names; national ids that lost their leading zero,
carry spaces, or sit in a name or notes column; mobiles in every written form; a landline of
Tehran (a citizen who moved); compound surnames joined, spaced or half-spaced, «آ»/«ا»,
«ؤ»/«و», «ئ»/«ی», «ة»/«ه», kashida, diacritics; a wife called by her husband's name, «بانو»,
«مرحوم»; twins, shared landlines, mobiles re-issued to a stranger; 137 follow-ups and their
traps (a neighbour's call about the same pothole, the same place long after closing).

    python bench/blind_exports.py OUT [--households 800] [--seed 1]

OUT gets data/<folder>/<file>, contracts/<agency>/<dataset>.yaml, contracts/match_settings.yaml,
truth/persons.csv (source, record_id, person_id, phenomena), truth/requests.csv
(record_id, request_group, phenomena) and truth/raw.jsonl (each record as exported, for analysis).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
from pathlib import Path

import yaml

# Zipf-like weights: a handful of names carry most of the city.
MALE = [("محمد", 30), ("علی", 22), ("حسین", 14), ("رضا", 10), ("مهدی", 9), ("حسن", 8), ("محمدرضا", 8),
        ("ابوالفضل", 6), ("امیر", 5), ("مصطفی", 5), ("جواد", 5), ("سعید", 4), ("علیرضا", 4), ("محمدحسین", 4),
        ("حمید", 3), ("مجید", 3), ("احمد", 3), ("عباس", 3), ("غلامرضا", 2), ("اکبر", 2), ("مرتضی", 2),
        ("یاسر", 1), ("کاظم", 1), ("ناصر", 1), ("بهروز", 1), ("آرش", 1), ("مسعود", 1)]
FEMALE = [("فاطمه", 30), ("زهرا", 24), ("مریم", 12), ("معصومه", 8), ("زینب", 7), ("سمیه", 5), ("اعظم", 4),
          ("طاهره", 3), ("فاطمه‌زهرا", 3), ("مهدیه", 3), ("نرگس", 3), ("سکینه", 2), ("الهام", 2), ("آمنه", 2),
          ("راضیه", 2), ("لیلا", 2), ("منیژه", 1), ("شیرین", 1), ("آزاده", 1), ("کبری", 1)]
SURNAMES = [("احمدی", 30), ("محمدی", 28), ("حسینی", 24), ("رضایی", 22), ("موسوی", 10), ("کریمی", 8), ("هاشمی", 7),
            ("حسین‌زاده", 7), ("جعفری", 6), ("قاسمی", 6), ("علی‌پور", 5), ("رحیمی", 5), ("آقایی", 5), ("مؤمنی", 4),
            ("رئیسی", 4), ("صادقی", 4), ("نوری", 3), ("قلی‌زاده", 3), ("عباس‌پور", 3), ("طباطبایی", 3), ("آزادی", 3),
            ("قائمی", 3), ("شریعتی", 2), ("نیشابوری", 2), ("خراسانی", 2), ("سبزواری", 2), ("طاهری", 2),
            ("مشهدی", 2), ("آملی", 1), ("فرهادی", 1), ("بهرامی", 1), ("یزدانی", 1), ("کاظمی", 2), ("اکبری", 2)]
LATIN = {"محمد": ["Mohammad", "Mohamad", "Mohammed"], "علی": ["Ali"], "حسین": ["Hossein", "Hosein", "Hussein"],
         "رضا": ["Reza"], "مهدی": ["Mahdi", "Mehdi"], "حسن": ["Hassan", "Hasan"], "محمدرضا": ["Mohammadreza", "Mohammad Reza"],
         "ابوالفضل": ["Abolfazl"], "امیر": ["Amir"], "مصطفی": ["Mostafa", "Mustafa"], "جواد": ["Javad"], "سعید": ["Saeed", "Saeid"],
         "علیرضا": ["Alireza"], "محمدحسین": ["Mohammadhossein"], "حمید": ["Hamid"], "مجید": ["Majid"], "احمد": ["Ahmad"],
         "عباس": ["Abbas"], "غلامرضا": ["Gholamreza"], "اکبر": ["Akbar"], "مرتضی": ["Morteza"], "یاسر": ["Yaser"],
         "کاظم": ["Kazem"], "ناصر": ["Naser", "Nasser"], "بهروز": ["Behrouz", "Behrooz"], "آرش": ["Arash"], "مسعود": ["Masoud"],
         "فاطمه": ["Fatemeh", "Fatima"], "زهرا": ["Zahra"], "مریم": ["Maryam"], "معصومه": ["Masoumeh", "Masoome"],
         "زینب": ["Zeynab", "Zeinab"], "سمیه": ["Somayeh", "Somaye"], "اعظم": ["Azam"], "طاهره": ["Tahereh"],
         "فاطمه‌زهرا": ["Fatemeh Zahra", "Fatemehzahra"], "مهدیه": ["Mahdieh"], "نرگس": ["Narges"], "سکینه": ["Sakineh"],
         "الهام": ["Elham"], "آمنه": ["Ameneh"], "راضیه": ["Raziyeh", "Razieh"], "لیلا": ["Leila", "Leyla"],
         "منیژه": ["Manijeh"], "شیرین": ["Shirin"], "آزاده": ["Azadeh"], "کبری": ["Kobra"],
         "احمدی": ["Ahmadi"], "محمدی": ["Mohammadi", "Mohamadi"], "حسینی": ["Hosseini", "Hoseini"], "رضایی": ["Rezaei", "Rezayi", "Rezaee"],
         "موسوی": ["Mousavi", "Musavi"], "کریمی": ["Karimi"], "هاشمی": ["Hashemi"], "حسین‌زاده": ["Hosseinzadeh", "Hossein Zadeh"],
         "جعفری": ["Jafari", "Jafary"], "قاسمی": ["Ghasemi", "Qasemi"], "علی‌پور": ["Alipour", "Alipoor"], "رحیمی": ["Rahimi"],
         "آقایی": ["Aghaei", "Aghayi"], "مؤمنی": ["Momeni"], "رئیسی": ["Raeisi", "Raisi"], "صادقی": ["Sadeghi"], "نوری": ["Nouri", "Noori"],
         "قلی‌زاده": ["Gholizadeh"], "عباس‌پور": ["Abbaspour"], "طباطبایی": ["Tabatabaei"], "آزادی": ["Azadi"], "قائمی": ["Ghaemi"],
         "شریعتی": ["Shariati"], "نیشابوری": ["Neyshabouri"], "خراسانی": ["Khorasani"], "سبزواری": ["Sabzevari"], "طاهری": ["Taheri"],
         "مشهدی": ["Mashhadi"], "آملی": ["Amoli"], "فرهادی": ["Farhadi"], "بهرامی": ["Bahrami"], "یزدانی": ["Yazdani"],
         "کاظمی": ["Kazemi"], "اکبری": ["Akbari"]}
STREETS = ["وکیل‌آباد", "احمدآباد", "سجاد", "هاشمیه", "کوهسنگی", "طبرسی", "سناباد", "فلسطین", "امام رضا", "پیروزی",
           "معلم", "قاسم‌آباد", "دانشجو", "رضاشهر", "ابوطالب", "خیام", "توس", "کلاهدوز"]
KINDS = ["بلوار", "خیابان"]
MONTHS = ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"]
CATEGORIES = ["آسفالت", "روشنایی معابر", "پسماند", "فضای سبز", "سد معبر"]
PROBLEMS = {"آسفالت": "چاله در آسفالت", "روشنایی معابر": "لامپ تیر برق خاموش است", "پسماند": "سطل زباله تخلیه نشده",
            "فضای سبز": "درختان نیاز به هرس دارند", "سد معبر": "اشغال پیاده‌رو توسط مغازه"}
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def pick(rng, table):
    return rng.choices([n for n, _ in table], [w for _, w in table])[0]


def national_id(rng, leading_zero: bool) -> str:
    """A valid Iranian national id; Mashhad's series often start 09, so Excel drops the zero."""
    head = ("09" + "".join(rng.choice("0123456789") for _ in range(7))) if leading_zero else \
        (rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(8)))
    s = sum(int(head[i]) * (10 - i) for i in range(9)) % 11
    return head + str(s if s < 2 else 11 - s)


def _leap(y: int) -> bool:
    return (25 * y + 11) % 33 < 8  # the 33-year rule, exact for 1300-1420


def _jdays(jy: int, jm: int, jd: int) -> int:
    days = sum(366 if _leap(y) else 365 for y in range(1300, jy))
    return days + ((jm - 1) * 31 if jm <= 7 else 186 + (jm - 7) * 30) + jd - 1


def jalali_to_gregorian(jy: int, jm: int, jd: int) -> dt.date:
    """1300/01/01 was 1921-03-21."""
    return dt.date(1921, 3, 21) + dt.timedelta(days=_jdays(jy, jm, jd))


def jalali_of(day: int, year: int = 1403) -> tuple[int, int, int]:
    """The Jalali date `day` days after `year`/01/01."""
    while day >= (366 if _leap(year) else 365):
        day -= 366 if _leap(year) else 365
        year += 1
    month = 1
    for month in range(1, 13):
        length = 31 if month <= 6 else (30 if month < 12 or _leap(year) else 29)
        if day < length:
            break
        day -= length
    return year, month, day + 1


def variant(rng, name: str, labels: set, p: float = 0.35) -> str:
    """The letter-form noise a clerk's keyboard or a legacy system adds to a name."""
    if rng.random() > p:
        return name
    out = name
    choices = []
    if "‌" in out:
        choices += ["space", "joined"]
    if "آ" in out:
        choices.append("alef")
    if "ؤ" in out:
        choices.append("hamza_waw")
    if "ئ" in out:
        choices.append("hamza_ye")
    if out.endswith("ه") and len(out) > 3:
        choices.append("teh_marbuta")
    choices += ["arabic_letters", "kashida", "diacritics"]
    kind = rng.choice(choices)
    if kind == "space":
        out = out.replace("‌", " ")
    elif kind == "joined":
        out = out.replace("‌", "")
    elif kind == "alef":
        out = out.replace("آ", "ا")
    elif kind == "hamza_waw":
        out = out.replace("ؤ", "و")
    elif kind == "hamza_ye":
        out = out.replace("ئ", "ی" if rng.random() < 0.6 else "ی" + "ی"[:0])
    elif kind == "teh_marbuta":
        out = out[:-1] + "ة"
    elif kind == "arabic_letters":
        out = out.replace("ی", "ي").replace("ک", "ك")
    elif kind == "kashida":
        i = rng.randrange(1, max(2, len(out) - 1))
        out = out[:i] + "ـ" * rng.randint(1, 3) + out[i:]
    elif kind == "diacritics":
        i = rng.randrange(1, len(out))
        out = out[:i] + rng.choice("َُِّ") + out[i:]
    if out != name and on("letters"):
        labels.add(f"letters_{kind}")
        return out
    return name  # (drawn all the same, so a --plain run keeps the other draws)


def mobile_forms(rng, m: str, labels: set, style: str) -> str:
    """A mobile as a given system writes it (drawn the same with --plain mobile_forms)."""
    written = _mobile_form(rng, m, labels if on("mobile_forms") else set(), style)
    return written if on("mobile_forms") else m


def _mobile_form(rng, m: str, labels: set, style: str) -> str:
    if style == "bank":
        k = rng.random()
        if k < 0.5:
            labels.add("mobile_nozero")
            return m[1:]
        if k < 0.8:
            labels.add("mobile_plus98")
            return f"+98 {m[1:4]} {m[4:7]} {m[7:]}"
        return m
    if style == "culture":
        k = rng.random()
        if k < 0.5:
            labels.add("mobile_dashed_fa")
            return f"{m[:4]}-{m[4:7]}-{m[7:]}".translate(FA)
        if k < 0.7:
            labels.add("mobile_spaced_fa")
            return f"{m[:4]} {m[4:7]} {m[7:]}".translate(FA)
        return m
    if rng.random() < 0.2:
        labels.add("mobile_nozero")
        return m[1:]
    return m


# Phenomena `--plain` can switch off one by one, to measure what each costs: latin_name,
# letters, mobile_forms, nid_nozero, nid_in_name, nid_in_notes, nid_in_text, greg_dmy,
# surname_first, late_title, spouse_ref, title_banu, title_surname, nameless, home_landline,
# borrowed_mobile, thin_name_address.
PLAIN: set[str] = set()


def on(phenomenon: str) -> bool:
    return phenomenon not in PLAIN


def build(households: int, seed: int) -> dict:
    rng = random.Random(seed)
    people, homes = [], []
    used_mobiles = set()

    def new_mobile():
        while True:
            m = "09" + rng.choice(["15", "15", "15", "12", "13", "35", "01", "05"]) + "".join(rng.choice("0123456789") for _ in range(7))
            if m not in used_mobiles:
                used_mobiles.add(m)
                return m

    def person(hid, first, last, gender, by, role, father):
        p = {"pid": f"P{len(people):05d}", "hid": hid, "first": first, "last": last, "gender": gender,
             "birth": (by, rng.randint(1, 12), rng.randint(1, 29)), "role": role, "father": father,
             "nid": national_id(rng, rng.random() < 0.45), "mobile": new_mobile() if by < 1390 and rng.random() < 0.9 else "",
             "labels": set()}
        people.append(p)
        return p

    for h in range(households):
        street = rng.choice(STREETS)
        home = {"hid": f"H{h:04d}", "street": street, "kind": rng.choice(KINDS), "alley": rng.randint(1, 60),
                "plaque": rng.randint(1, 200), "district": rng.randint(1, 13),
                "landline": "3" + "".join(rng.choice("0123456789") for _ in range(7)),
                # Iran's postal codes: no 0 or 2 in the first five digits, the fifth not 5
                "postal": "91" + "".join(rng.choice("13456789") for _ in range(2)) + rng.choice("1346789")
                          + "".join(rng.choice("0123456789") for _ in range(5)), "members": []}
        homes.append(home)
        last = pick(rng, SURNAMES)
        hb = rng.randint(1325, 1375)
        head = person(home["hid"], pick(rng, MALE), last, "m", hb, "head", pick(rng, MALE))
        home["members"].append(head)
        if rng.random() < 0.85:
            wife = person(home["hid"], pick(rng, FEMALE), pick(rng, SURNAMES), "f", hb + rng.randint(-2, 8), "wife", pick(rng, MALE))
            home["members"].append(wife)
        kids = rng.choice([0, 1, 2, 2, 3, 3, 4])
        twins_at = rng.randrange(kids - 1) if kids >= 2 and rng.random() < 0.12 else None
        prev = None
        for k in range(kids):
            gender = rng.choice("mf")
            first = pick(rng, MALE if gender == "m" else FEMALE)
            kb = min(1400, hb + rng.randint(22, 38))
            c = person(home["hid"], first, last, gender, kb, "child", head["first"])
            if twins_at is not None and k == twins_at + 1:
                c["birth"] = prev["birth"]
                c["gender"] = prev["gender"] if rng.random() < 0.6 else c["gender"]
                pairs = {"حسن": "حسین", "حسین": "حسن", "محمد": "محمدرضا", "رضا": "محمدرضا", "علی": "علیرضا",
                         "فاطمه": "فاطمه‌زهرا", "زهرا": "فاطمه‌زهرا", "زینب": "زهرا"}
                if c["gender"] == prev["gender"] and prev["first"] in pairs:
                    c["first"] = pairs[prev["first"]]  # twins named as a pair: حسن / حسین
                else:
                    c["first"] = pick(rng, MALE if c["gender"] == "m" else FEMALE)
                while c["first"] == prev["first"]:
                    c["first"] = pick(rng, MALE if c["gender"] == "m" else FEMALE)
                c["labels"].add("twin")
                prev["labels"].add("twin")
            if c["first"] == head["first"] and c["gender"] == "m":  # a son with his father's whole name
                c["labels"].add("junior")
                head["labels"].add("junior")
            home["members"].append(c)
            prev = c
        if rng.random() < 0.08:  # the late grandfather the water bill is still in the name of
            g = person(home["hid"], pick(rng, MALE), last, "m", hb - rng.randint(22, 30), "late", pick(rng, MALE))
            g["mobile"] = ""
            home["members"].append(g)
        if rng.random() < 0.06:  # moved from Tehran: the registry still holds the Tehran landline
            home["tehran"] = "021" + rng.choice("2345678") + "".join(rng.choice("0123456789") for _ in range(7))

    # namesakes: another household's head with the same whole name and birth year
    heads = [p for p in people if p["role"] == "head"]
    for a, b in zip(rng.sample(heads, len(heads) // 12), rng.sample(heads, len(heads) // 12)):
        if a["hid"] != b["hid"]:
            b["first"], b["last"], b["birth"] = a["first"], a["last"], (a["birth"][0], rng.randint(1, 12), rng.randint(1, 29))
            a["labels"].add("namesake")
            b["labels"].add("namesake")
    # mobiles re-issued by the operator: the old owner (bank record) had it, a stranger has it now
    adults = [p for p in people if p["mobile"] and p["role"] in {"head", "wife"}]
    reused = []
    for a, b in zip(rng.sample(adults, len(adults) // 25), rng.sample(adults, len(adults) // 25)):
        if a["hid"] != b["hid"] and "old_mobile" not in a and "old_mobile" not in b:
            a["old_mobile"] = b["mobile"]
            a["labels"].add("reused_mobile")
            b["labels"].add("reused_mobile")
            reused.append((a, b))
    return {"people": people, "homes": homes, "rng": rng}


def jalali_str(b, rng, labels, style):
    y, m, d = b
    if style == "registry":
        if rng.random() < 0.15:
            labels.add("digits_fa")
            return f"{y}/{m:02d}/{d:02d}".translate(FA)
        return f"{y}/{m:02d}/{d:02d}"
    k = rng.random()
    if k < 0.4:
        labels.add("jalali_2digit")
        return f"{y % 100:02d}/{m:02d}/{d:02d}".translate(FA)
    if k < 0.7:
        labels.add("jalali_monthname")
        return f"{d} {MONTHS[m - 1]} {y}".translate(FA)
    return f"{y}/{m}/{d}"


def address(home, rng, labels, short=False):
    alley = f"کوچه {home['alley']}" if rng.random() < 0.6 else f"{home['street']} {home['alley']}"
    if short:
        return f"{home['street']} {home['alley']}"
    return f"مشهد، {home['kind']} {home['street']}، {alley}، پلاک {home['plaque']}"


def exports(world: dict) -> dict:
    """Every agency's rows as exported, plus truth rows (source, record_id, pid, labels, raw)."""
    rng = world["rng"]
    homes = {h["hid"]: h for h in world["homes"]}
    truth = []

    def note(source, rid, p, labels, raw):
        truth.append((source, str(rid), p["pid"], sorted(labels | p["labels"]), raw))

    # 1. registry (UTF-8 CSV with BOM): most of the city, clean-ish
    registry, in_registry = [], set()
    for p in world["people"]:
        share = 0.8 if p["role"] in {"head", "wife", "late"} else 0.6
        if p.get("thin_only") or rng.random() > share:
            continue
        labels = set()
        h = homes[p["hid"]]
        nid = p["nid"]
        if nid.startswith("0") and rng.random() < 0.12 and on("nid_nozero"):
            nid, _ = nid[1:], labels.add("nid_nozero")
        landline = h.get("tehran") if h.get("tehran") else (h["landline"] if rng.random() < 0.5 else "051" + h["landline"])
        if h.get("tehran"):
            labels.add("moved_tehran")
        row = {"شناسه": f"R{len(registry) + 1:06d}", "کد ملی": nid, "نام": variant(rng, p["first"], labels, 0.15),
               "نام خانوادگی": variant(rng, p["last"], labels, 0.2), "نام پدر": p["father"],
               "تاریخ تولد": jalali_str(p["birth"], rng, labels, "registry"), "جنسیت": {"m": "مرد", "f": "زن"}[p["gender"]],
               "تلفن همراه": p["mobile"], "تلفن ثابت": landline, "کد پستی": h["postal"], "منطقه": str(h["district"]),
               "نشانی": address(h, rng, labels)}
        registry.append(row)
        in_registry.add(p["pid"])
        note("registry.citizens", row["شناسه"], p, labels, row)

    # 2. bank (xlsx): Latin names, Gregorian dates, ids as numbers, old mobiles
    bank = []
    for p in world["people"]:
        if p["role"] not in {"head", "wife"} or rng.random() > 0.4:
            continue
        labels = {"latin_name", "gregorian_date"}
        first = rng.choice(LATIN[p["first"]])
        last = rng.choice(LATIN[p["last"]])
        name = f"{first} {last}" if rng.random() < 0.7 else f"{last.upper()}, {first}"
        if "latin_name" in PLAIN:
            name, _ = f"{p['first']} {p['last']}", labels.discard("latin_name")
        g = jalali_to_gregorian(*p["birth"])
        date = g.isoformat() if rng.random() < 0.6 or not on("greg_dmy") else g.strftime("%d/%m/%Y")
        labels.add("greg_iso" if "-" in date else "greg_dmy")
        nid: object = p["nid"]
        k = rng.random()
        if k < 0.45 and (on("nid_nozero") or not p["nid"].startswith("0")):
            nid = int(p["nid"])
            if p["nid"].startswith("0"):
                labels.add("nid_nozero")
        elif k < 0.65:
            nid, _ = f"{p['nid'][:3]} {p['nid'][3:9]} {p['nid'][9]}", labels.add("nid_spaced")
        elif k < 0.75:
            nid, _ = "", labels.add("nid_missing")
        mob = p.get("old_mobile") or p["mobile"]
        if p.get("old_mobile"):
            labels.add("holds_reissued_mobile")
        mobile = mobile_forms(rng, mob, labels, "bank") if mob else ""
        row = {"Customer No": f"{rng.randint(10, 99)}{len(bank) + 1:07d}", "Name": name, "National ID": nid,
               "Birth Date": date, "Mobile": mobile, "Branch": rng.choice(["Mashhad Sajjad", "Mashhad Ahmadabad", "Mashhad Vakilabad"])}
        bank.append(row)
        note("bank.customers", row["Customer No"], p, labels, row)

    # 3. culture centre members (JSON document): thin mentions, two-digit years, month names,
    #    the national id typed into the name or the notes
    culture = []
    for p in world["people"]:
        thin = p["pid"] not in in_registry
        if rng.random() > (0.45 if thin else 0.15):
            continue
        labels = set()
        h = homes[p["hid"]]
        name = f"{variant(rng, p['first'], labels)} {variant(rng, p['last'], labels)}"
        notes, code_melli = "", ""
        k, fa_digits, own_field = rng.random(), rng.random() < 0.5, rng.random() < 0.25
        if k < 0.35 and not (on("nid_in_name") if k < 0.15 else on("nid_in_notes")):
            code_melli = p["nid"]  # the form's own field, as the plain case
        elif k >= 0.35 and own_field:
            code_melli = p["nid"]
        elif k < 0.15:
            name, _ = f"{name} {p['nid']}".translate(FA) if fa_digits else f"{name} ک.م {p['nid']}", labels.add("nid_in_name")
        elif k < 0.35:
            notes, _ = f"عضو از سال ۱۴۰۰، کد ملی: {p['nid']}".translate(FA), labels.add("nid_in_notes")
        if p["gender"] == "f" and rng.random() < 0.2 and on("title_banu"):
            name, _ = f"بانو {name}", labels.add("title_banu")
        shape = rng.random()
        row = {"member_id": len(culture) + 1, "name": name, "birth": "", "phone": "", "addr": "", "notes": notes,
               "code_melli": code_melli}
        if thin:
            labels.add("thin")
        # every form drawn whichever is used (see caller_fields)
        mob_labels, birth_labels, addr_labels = set(), set(), set()
        mob = mobile_forms(rng, p["mobile"], mob_labels, "culture") if p["mobile"] else ""
        birth = jalali_str(p["birth"], rng, birth_labels, "culture")
        short_addr = address(h, rng, addr_labels, short=rng.random() < 0.5)
        long_addr = address(h, rng, addr_labels)
        if shape < 0.45 and mob:
            row["phone"], _ = mob, labels.update(mob_labels | {"thin_name_mobile"})
        elif shape < 0.75 and on("thin_name_address"):
            row["addr"], _ = short_addr, labels.add("thin_name_address")
        else:
            row["phone"], row["birth"], row["addr"] = mob, birth, long_addr
            labels.update(mob_labels | birth_labels)
        culture.append(row)
        note("culture.members", row["member_id"], p, labels, row)

    # 4. water bills (CSV, Windows-1256 as Excel saves it): one subscriber per home, the head,
    #    the late grandfather, or the wife; «نام، خانوادگی» order, id typed in the name
    bills = []
    for h in world["homes"]:
        if rng.random() > 0.7:
            continue
        members = h["members"]
        late = [m for m in members if m["role"] == "late"]
        payer = late[0] if late else (members[1] if len(members) > 1 and members[1]["role"] == "wife" and rng.random() < 0.15 else members[0])
        for month in range(rng.randint(1, 3)):
            labels = set()
            name = f"{variant(rng, payer['last'], labels)}، {payer['first']}" if rng.random() < 0.3 and on("surname_first") else f"{payer['first']} {variant(rng, payer['last'], labels)}"
            if "،" in name:
                labels.add("surname_first")
            if payer["role"] == "late" and on("late_title"):
                name, _ = f"مرحوم {name}", labels.add("late_title")
            if rng.random() < 0.1 and on("nid_in_name"):
                name, _ = f"{name} کدملی {payer['nid']}", labels.add("nid_in_name")
            phone = rng.choice([h["landline"], "051-" + h["landline"], payer["mobile"] or h["landline"]])
            if phone.startswith("3"):
                labels.add("landline_8digit")
            row = {"شناسه قبض": f"{h['hid'][1:]}{month}{rng.randint(1000, 9999)}", "نام مشترک": name,
                   "شماره تماس": phone, "نشانی": address(h, rng, labels), "کد پستی": h["postal"],
                   "مبلغ (ریال)": rng.randint(200, 4000) * 1000}
            bills.append(row)
            note("water.bills", row["شناسه قبض"], payer, labels, row)
    return {"registry": registry, "bank": bank, "culture": culture, "bills": bills, "truth": truth}


def place_text(home, rng, labels):
    """The operator's spelling of the spot: no plaque, the street's kind often left out."""
    street, alley = home["street"], home["alley"]
    k = rng.random()
    if k < 0.3:
        return f"{home['kind']} {street.replace('‌', ' ')} كوچه {alley}"
    if k < 0.55:
        return f"{street} {alley}".translate(FA)
    if k < 0.75:
        labels.add("place_nabsh")
        return f"{street} نبش کوچه {alley}"
    return f"{home['kind']} {street}، ک {alley}"


def calls(world: dict) -> dict:
    """137 calls: episodes of one problem with follow-ups, and the traps beside them."""
    rng = world["rng"]
    homes = world["homes"]
    out, ptruth, rtruth = [], [], []
    codes = set()

    def code():
        while True:
            c = "14" + "".join(rng.choice("0123456789") for _ in range(8))
            if c not in codes:
                codes.add(c)
                return c

    def when(day):
        y, m, d = jalali_of(day)
        return f"{y}/{m:02d}/{d:02d} {rng.randint(7, 21):02d}:{rng.choice(['00', '15', '30', '45'])}"

    def caller_fields(p, home, labels):
        """Name and phone as the caller gave them.  Every form is drawn whichever is used, so a
        --plain run changes only the phenomenon it leaves out."""
        k, j = rng.random(), rng.random()
        title = "آقای" if p["gender"] == "m" else "خانم"
        husband = home["members"][0]
        full_labels, short_labels, mobile_labels = set(), {"title_surname"}, set()
        full = f"{variant(rng, p['first'], full_labels)} {variant(rng, p['last'], full_labels)}"
        short = f"{title} {variant(rng, p['last'], short_labels)}"
        nameless = "" if k < 0.93 else "ناشناس"
        if p["role"] == "wife" and k < 0.15 and on("spouse_ref"):
            name, _ = f"همسر {husband['first']} {husband['last']}", labels.add("spouse_ref")
        elif p["gender"] == "f" and k < 0.22 and on("title_banu"):
            name, _ = f"بانو {p['first']} {p['last']}", labels.add("title_banu")
        elif k < 0.55 or (k < 0.85 and not on("title_surname")) or (k >= 0.85 and not on("nameless")):
            name, _ = full, labels.update(full_labels)
        elif k < 0.85:
            name, _ = short, labels.update(short_labels)
        else:
            name, _ = nameless, labels.add("nameless")
        others = [m for m in home["members"] if m is not p and m["mobile"]]
        own = mobile_forms(rng, p["mobile"], mobile_labels, "137") if p["mobile"] else ""
        landline = rng.choice([home["landline"], "051" + home["landline"]])
        borrowed = rng.choice(others)["mobile"] if others else ""
        if own and (j < 0.7 or (j < 0.88 and not on("home_landline")) or (j >= 0.88 and not on("borrowed_mobile"))):
            phone, _ = own, labels.update(mobile_labels)
        elif j < 0.88 or not borrowed:
            phone, _ = landline, labels.add("home_landline")
        else:
            phone, _ = borrowed, labels.add("borrowed_mobile")
        return name, phone

    def call(p, home, cat, day, group, labels, desc, place_home=None):
        labels = set(labels)
        name, phone = caller_fields(p, home, labels)
        nid = ""
        if rng.random() < 0.2:
            nid = p["nid"] if rng.random() < 0.7 else p["nid"].lstrip("0")
            labels.add("nid_given")
        elif rng.random() < 0.08:
            digits = FA if rng.random() < 0.5 else str.maketrans("", "")
            if on("nid_in_text"):
                desc += f" کد ملی {p['nid']}".translate(digits)
                labels.add("nid_in_text")
            else:  # the form's own field, as the plain case
                nid, _ = p["nid"], labels.add("nid_given")
        spot = place_home or home
        c = code()
        row = {"tracking": c, "caller_name": name, "caller_phone": phone, "caller_nid": nid, "subject": cat,
               "region": f"منطقه {spot['district']}" if rng.random() < 0.8 else "", "location": place_text(spot, rng, labels),
               "description": desc, "status": rng.choice(["ثبت شده", "در حال بررسی", "انجام شده", "بسته شده"]),
               "registered": when(day)}
        out.append(row)
        ptruth.append(("rc137.calls", c, p["pid"], sorted(labels | p["labels"]), row))
        rtruth.append((c, group, sorted(labels)))
        return c

    groups = 0
    for home in homes:
        if rng.random() > 0.4:
            continue
        adults = [m for m in home["members"] if m["role"] in {"head", "wife"} or (m["role"] == "child" and m["birth"][0] < 1382)]
        # a home's two problems are of two categories: the same one at the same spot is one request
        for cat in rng.sample(CATEGORIES, rng.choice([1, 1, 1, 2])):
            p = rng.choice(adults[:1] * 3 + adults)
            day = rng.randint(0, 240)
            groups += 1
            g = f"G{groups:05d}"
            first = call(p, home, cat, day, g, set(), PROBLEMS[cat])
            prev = first
            for _f in range(rng.choice([0, 0, 1, 1, 2, 3])):
                day += rng.randint(3, 20)
                labels = {"followup"}
                fcat = cat
                if rng.random() < 0.4:
                    fcat, _ = rng.choice(["پیگیری", "پیگیری درخواست"]), labels.add("generic_category")
                desc = "مشکل هنوز برطرف نشده"
                if rng.random() < 0.4:
                    cited = rng.choice([first, prev])
                    desc = rng.choice([f"پیگیری درخواست شماره {cited}", f"کد رهگیری قبلی: {cited}".translate(FA),
                                       f"قبلا با کد {cited[:2]}-{cited[2:6]}-{cited[6:]} ثبت شده"])
                    labels.add("quoted_code")
                who = p if rng.random() < 0.85 else rng.choice(adults)
                if who is not p:
                    labels.add("other_member_followup")
                prev = call(who, home, fcat, day, g, labels, desc)
            if rng.random() < 0.15:  # trap: the same spot and problem long after, a new request
                groups += 1
                call(p, home, cat, day + rng.randint(70, 160), f"G{groups:05d}", {"reopen_after_close"}, PROBLEMS[cat])
            if rng.random() < 0.12:  # trap: a neighbour reports the same pothole, another request
                n_home = rng.choice(homes)
                if n_home is not home:
                    groups += 1
                    neighbour = n_home["members"][0]
                    call(neighbour, n_home, cat, day + rng.randint(0, 6), f"G{groups:05d}", {"neighbour_same_spot"},
                         PROBLEMS[cat], place_home=home)
    return {"calls": out, "ptruth": ptruth, "rtruth": rtruth}


# ---------------------------------------------------------------- contracts, as each agency writes them

def _p(name, column, transform=None, **extra):
    prop = {"name": name, "physicalName": column, "logicalType": "string"}
    if transform:
        prop["transformLogic"] = transform
    prop.update(extra)
    return prop


CONTRACTS = {
    "registry.citizens": ("citizens", {"format": "csv", "encoding": "auto", "pattern": "*.csv"}, "person", "شناسه", [
        _p("national_id", "کد ملی", "national_id", primaryKey=True, primaryKeyPosition=1),
        _p("first_name", "نام", "person_name"), _p("last_name", "نام خانوادگی", "person_name"),
        _p("father_name", "نام پدر", "person_name"), _p("birth_date", "تاریخ تولد", "date"),
        _p("gender", "جنسیت", "gender"), _p("mobile", "تلفن همراه", "mobile:51"), _p("phone", "تلفن ثابت", "phone:51"),
        _p("postal_code", "کد پستی", "postal_code"), _p("address.district", "منطقه", "text"),
        _p("address.detail", "نشانی", "text")]),
    "bank.customers": ("customers", {"format": "xlsx", "sheet": "Customers", "pattern": "*.xlsx"}, "person", "Customer No", [
        _p("national_id", "National ID", "national_id", primaryKey=True, primaryKeyPosition=1),
        _p("full_name", "Name", "person_name"), _p("birth_date", "Birth Date", "date"),
        _p("mobile", "Mobile", "mobile:51")]),
    "culture.members": ("members", {"format": "json", "records": "data.members", "pattern": "*.json"}, "person", "member_id", [
        _p("national_id", "code_melli", "national_id", primaryKey=True, primaryKeyPosition=1),
        _p("full_name", "name", "person_name"), _p("title", "name", "title"), _p("birth_date", "birth", "date:13"),
        _p("mobile", "phone", "mobile:51"), _p("address.detail", "addr", "text")]),
    "water.bills": ("bills", {"format": "csv", "encoding": "windows-1256", "pattern": "*.csv"}, "payment", "شناسه قبض", [
        _p("payment_id", "شناسه قبض", "text", primaryKey=True, primaryKeyPosition=1, required=True),
        _p("payer_name", "نام مشترک", "person_name"), _p("phone", "شماره تماس", "phone:51"),
        _p("address.detail", "نشانی", "text"), _p("address.postal_code", "کد پستی", "postal_code"),
        _p("amount_rial", "مبلغ (ریال)", "integer", required=True)]),
    "rc137.calls": ("calls", {"format": "jsonl", "pattern": "*.jsonl"}, "service_request", "tracking", [
        _p("tracking_code", "tracking", "text", primaryKey=True, primaryKeyPosition=1, required=True),
        _p("citizen_name", "caller_name", "person_name"), _p("citizen_title", "caller_name", "title"),
        _p("mobile", "caller_phone", "mobile:51"), _p("national_id", "caller_nid", "national_id"),
        _p("category", "subject", "text"), _p("district", "region", "text"), _p("address", "location", "text"),
        _p("description", "description", "text"), _p("status", "status", "text"),
        _p("filed_at", "registered", "datetime", required=True)]),
}

MATCH_SETTINGS = {"service_request": {"followup": {
    "window_days": 30, "generic_categories": ["پیگیری", "پیگیری درخواست"], "quoted_codes": True}}}


def write_contracts(out: Path, data: Path) -> None:
    for dataset, (folder, server, shared, record_id, props) in CONTRACTS.items():
        agency, name = dataset.split(".")
        contract = {
            "apiVersion": "v3.1.0", "kind": "DataContract", "id": dataset, "name": name, "version": "1.0.0",
            "status": "active", "team": {"name": agency, "members": [{"username": f"{agency}-steward", "role": "owner"}]},
            "servers": [{"server": f"{name}-drop", "type": "local", "path": (data / folder).as_posix(), "format": server["format"],
                         "customProperties": [{"property": k, "value": v} for k, v in {"connector": "file", **server}.items()]}],
            "schema": [{"name": name, "physicalName": name, "customProperties": [
                {"property": "sharedSchema", "value": shared}, {"property": "recordId", "value": record_id}],
                "properties": props}],
            "customProperties": [{"property": "retries", "value": 0}]}
        (out / agency).mkdir(parents=True, exist_ok=True)
        (out / agency / f"{name}.yaml").write_text(yaml.safe_dump(contract, allow_unicode=True, sort_keys=False), "utf-8")
    (out / "match_settings.yaml").write_text(yaml.safe_dump(MATCH_SETTINGS, allow_unicode=True), "utf-8")


def _csv(path: Path, rows: list[dict], encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="", errors="replace") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def generate(out: Path, households: int = 800, seed: int = 1) -> dict:
    """Write every export, contract and truth file under `out`; the truth rows."""
    world = build(households, seed)
    ex = exports(world)
    hot = calls(world)
    data = out / "data"
    _csv(data / "citizens" / "citizens.csv", ex["registry"], "utf-8-sig")
    # Excel's Windows-1256 has no Persian «ی»: it saves the Arabic «ي», as such exports do
    bills = [{k.replace("ی", "ي"): (v.replace("ی", "ي") if isinstance(v, str) else v) for k, v in r.items()}
             for r in ex["bills"]]
    _csv(data / "bills" / "bills.csv", bills, "windows-1256")
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(list(ex["bank"][0]))
    for r in ex["bank"]:
        ws.append(list(r.values()))
    (data / "customers").mkdir(parents=True, exist_ok=True)
    wb.save(data / "customers" / "customers.xlsx")
    (data / "members").mkdir(parents=True, exist_ok=True)
    members = ex["culture"]
    (data / "members" / "members.json").write_text(json.dumps({"data": {"members": members}}, ensure_ascii=False), "utf-8")
    (data / "calls").mkdir(parents=True, exist_ok=True)
    (data / "calls" / "calls.jsonl").write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in hot["calls"]), "utf-8")
    write_contracts(out / "contracts", data)
    truth = ex["truth"] + hot["ptruth"]
    (out / "truth").mkdir(parents=True, exist_ok=True)
    with open(out / "truth" / "persons.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "record_id", "person_id", "phenomena"])
        w.writerows([(s, r, p, ";".join(lb)) for s, r, p, lb, _ in truth])
    with open(out / "truth" / "requests.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "request_group", "phenomena"])
        w.writerows([(c, g, ";".join(lb)) for c, g, lb in hot["rtruth"]])
    with open(out / "truth" / "raw.jsonl", "w", encoding="utf-8") as fh:
        for s, r, p, lb, raw in truth:
            fh.write(json.dumps({"source": s, "record_id": r, "person_id": p, "labels": lb, "raw": raw}, ensure_ascii=False, default=str) + "\n")
    return {"persons": truth, "requests": hot["rtruth"], "people": len(world["people"]), "households": households}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--households", type=int, default=800)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plain", default="", help="phenomena to leave out, comma-separated (latin_name, ...)")
    a = ap.parse_args()
    PLAIN.update(x for x in a.plain.split(",") if x)
    got = generate(a.out, a.households, a.seed)
    print(f"{got['people']} people in {got['households']} households; {len(got['persons'])} person records, "
          f"{len(got['requests'])} calls -> {a.out}")


if __name__ == "__main__":
    main()
