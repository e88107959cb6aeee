"""Five agencies' exports of one city's households, as real municipal systems write them, with truth.

A second generator, written apart from `synthetic` and from the matcher, for evaluating
duplicate cutting on data shaped unlike the hub's own: people live in households (a shared
address, landline, postal code and surname; spouses, children, twins with one birth date
and father), numbers change owners, and each system writes a person its own way:

- `registry.csv`: the civil registry, split names, birth dates in several forms (some with a
  two-digit year, `62/6/4`), one row per registration (a citizen who
  registered twice has two rows, two record ids), national ids as spreadsheet numbers;
- `hotline.json`: the 137 hotline, the caller's name in one field in every form callers give
  (titles anywhere, either order, "فرزند", سید joined or dropped, title and surname only,
  "ناشناس"), the phone they called from (their mobile, a household member's, the landline
  with or without area code), a national id sometimes mistyped by one digit, follow-ups
  (same citizen and place, a generic "پیگیری" category, an earlier tracking code quoted in
  any digits) and look-alikes that are new requests;
- `payments.csv`: the payer as "surname، first name" or "first surname", dates as 14030814;
- `permits.csv`: the owner in one field, national ids with lost leading zeros, plaque/unit;
- `licences.json`: split names, a renewed licence is a new record with the same holder.

`truth_persons.csv` names the person behind every record with the phenomena it shows;
`truth_requests.csv` the request group of every hotline record.  Deterministic by seed:
tune on seeds you like, report on `FROZEN_SEED`, which nothing is ever tuned on.

    python -m munihub.testing.exports --out DIR [--households 2000] [--seed 20261205]
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import random
from pathlib import Path

# Arithmetic Gregorian -> Jalali shared with the first generator, apart from munihub.persian.dates.
from munihub.testing.synthetic import jalali_of

FROZEN_SEED = 20261205

MEN = ["محمد", "علی", "حسین", "رضا", "مهدی", "حسن", "جواد", "مجتبی", "احمد", "سعید", "کاظم", "یوسف",
       "محمدرضا", "علیرضا", "امیرحسین", "محمدعلی", "محمدحسین", "ابوالفضل", "غلامرضا", "محمدجواد"]
WOMEN = ["فاطمه", "زهرا", "مریم", "معصومه", "زینب", "سکینه", "نرگس", "طاهره", "لیلا", "اعظم",
         "فاطمه‌زهرا", "زهرابیگم", "مهین", "ملیحه", "سمانه", "راضیه", "کبری", "صغری", "هانیه", "نازنین"]
SURNAMES = ["احمدی", "محمدی", "حسینی", "رضایی", "موسوی", "کریمی", "رحیمی", "جعفری", "نوری", "قاسمی",
            "حسین‌زاده", "علی‌پور", "شریفی", "طاهری", "صادقی", "رستمی", "یزدانی", "فرهادی", "مشهدی",
            "خراسانی", "نیشابوری", "سبزواری", "قوچانی", "رضوی", "هاشمی", "امیری", "طوسی", "بهرامی"]
SEYYED_SURNAMES = {"حسینی", "موسوی", "رضوی", "هاشمی"}
STREETS = ["بلوار وکیل‌آباد", "بلوار سجاد", "خیابان امام رضا", "بلوار احمدآباد", "خیابان کوهسنگی",
           "بلوار معلم", "بلوار هاشمیه", "خیابان دانشگاه", "بلوار توس", "بلوار مفتح"]
CATEGORIES = ["آسفالت معابر", "روشنایی معابر", "جمع‌آوری پسماند", "فضای سبز", "آب‌های سطحی", "سد معبر"]
FOLLOW_CATEGORY = "پیگیری درخواست"
TITLES_MAN = ["آقای", "جناب", "حاج آقا", "مهندس", "دکتر", "حاج"]
TITLES_WOMAN = ["خانم", "حاجیه خانم", "سرکار خانم", "دکتر"]
PLACEHOLDERS = ["ناشناس", "شهروند", "بدون نام"]
ZWNJ = "\u200c"
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
AR = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@dataclasses.dataclass
class Citizen:
    pid: str
    first: str
    last: str
    father: str
    gender: str
    born: dt.date
    nid: str
    mobile: str | None
    seyyed: bool
    home: "Household"


@dataclasses.dataclass
class Household:
    hid: str
    district: int
    street: str
    alley: int
    plaque: int
    unit: int
    postal: str
    landline: str  # 8 digits, area code 051 apart
    members: list = dataclasses.field(default_factory=list)


def _check(first9: str) -> str:
    # Written out from the registry's published rule, apart from munihub.persian on purpose.
    r = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1))) % 11
    return str(r if r < 2 else 11 - r)


class _City:
    def __init__(self, rng: random.Random):
        self.rng, self.nids, self.mobiles, self.people = rng, set(), set(), []

    def nid(self) -> str:
        while True:
            first9 = self.rng.choice(["092", "093", "094", "096", "070", "076", "001", "002"]) + \
                f"{self.rng.randrange(10 ** 6):06d}"
            nid = first9 + _check(first9)
            if nid not in self.nids and len(set(nid)) > 1:
                self.nids.add(nid)
                return nid

    def mobile(self) -> str:
        while True:
            m = self.rng.choice(["0915", "0915", "0915", "0912", "0935", "0901", "0990"]) + f"{self.rng.randrange(10 ** 7):07d}"
            if m not in self.mobiles:
                self.mobiles.add(m)
                return m

    def person(self, home: Household, gender: str, last: str, father: str, born: dt.date, seyyed: bool,
               first: str | None = None) -> Citizen:
        names = MEN if gender == "male" else WOMEN
        taken = {m.first for m in home.members}
        first = first or self.rng.choice([n for n in names if n not in taken] or names)
        adult = (dt.date(2025, 1, 1) - born).days > 18 * 365
        c = Citizen(f"P{len(self.people):06d}", first, last, father, gender, born, self.nid(),
                    self.mobile() if adult or self.rng.random() < 0.3 else None, seyyed, home)
        home.members.append(c)
        self.people.append(c)
        return c


def _households(rng: random.Random, n: int) -> tuple[list[Household], list[Citizen]]:
    city = _City(rng)
    homes = []
    for h in range(n):
        district = rng.randrange(1, 14)
        postal = "".join(rng.choice("13456789") for _ in range(5)) + f"{rng.randrange(10 ** 5):05d}"
        home = Household(f"H{h:05d}", district, rng.choice(STREETS), rng.randrange(1, 60), rng.randrange(1, 400),
                         rng.randrange(1, 5) if rng.random() < 0.4 else 0, postal, f"3{rng.randrange(10 ** 7):07d}")
        homes.append(home)
        last = rng.choice(SURNAMES)
        seyyed = last in SEYYED_SURNAMES or rng.random() < 0.08
        husband_father = rng.choice(MEN)
        husband_born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(40 * 365))
        husband = city.person(home, "male", last, husband_father, husband_born, seyyed)
        if rng.random() < 0.85:
            city.person(home, "female", rng.choice(SURNAMES), rng.choice(MEN),
                        husband_born + dt.timedelta(days=rng.randrange(-1500, 1500)), rng.random() < 0.1)
        for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
            born = husband_born + dt.timedelta(days=rng.randrange(20 * 365, 35 * 365))
            child = city.person(home, rng.choice(["male", "female"]), last, husband.first, born, seyyed)
            if rng.random() < 0.06:  # twins: same surname, father, birth date and home
                city.person(home, child.gender, last, husband.first, born, seyyed)
        if rng.random() < 0.1:  # a grandparent sharing the father's name with nobody
            city.person(home, "male", last, rng.choice(MEN), husband_born - dt.timedelta(days=rng.randrange(
                18 * 365, 30 * 365)), seyyed)
    # Numbers change owners: some mobiles pass to a person in another household.
    for c in rng.sample(city.people, k=len(city.people) // 40):
        other = rng.choice(city.people)
        if other.mobile is None and c.mobile and other.home is not c.home:
            other.mobile, c.mobile = c.mobile, city.mobile()
    return homes, city.people


def _digits(rng: random.Random, text: str) -> str:
    roll = rng.random()
    return text.translate(FA) if roll < 0.25 else text.translate(AR) if roll < 0.3 else text


def _letters(rng: random.Random, text: str) -> str:
    if rng.random() < 0.25:
        text = text.replace("ی", "ي").replace("ک", "ك")
    if ZWNJ in text:
        text = text.replace(ZWNJ, rng.choice([ZWNJ, " ", ""]))
    return text


def _jdate(rng: random.Random, day: dt.date, style: str | None = None) -> str:
    y, m, d = jalali_of(day)
    style = style or rng.choice(["slash", "slash", "dash", "compact", "short"])
    text = {"slash": f"{y}/{m:02d}/{d:02d}", "dash": f"{y}-{m}-{d}", "compact": f"{y}{m:02d}{d:02d}",
            "short": f"{y % 100}/{m}/{d}"}[style]
    return _digits(rng, text)


def _one_field_name(rng: random.Random, c: Citizen, labels: list[str]) -> str:
    """A caller's or payer's name as one field, in one of the forms people give."""
    first = c.first
    if ZWNJ in first and rng.random() < 0.25:  # the short half of a compound name (محمدرضا -> رضا)
        first = rng.choice(first.split(ZWNJ))
        labels.append("compound_half")
    elif first.startswith("محمد") and len(first) > 4 and rng.random() < 0.25:
        first = first[4:]
        labels.append("compound_half")
    form = rng.random()
    if form < 0.08:
        labels.append("placeholder")
        return rng.choice(PLACEHOLDERS)
    if form < 0.18:
        labels.append("title_surname_only")
        return f"{rng.choice(TITLES_MAN if c.gender == 'male' else TITLES_WOMAN)} {c.last}"
    if form < 0.28:
        labels.append("surname_first")
        return f"{c.last}{rng.choice(['، ', ' - ', ' ', ','])}{first}"
    if form < 0.36:
        labels.append("farzand")
        return f"{first} {c.last} فرزند {c.father}"
    name = f"{first} {c.last}"
    if c.seyyed and rng.random() < 0.6:
        labels.append("seyyed")
        name = rng.choice(["سید ", "سید", "سیده " if c.gender == "female" else "سید "]) + name
    if form < 0.55:
        labels.append("title")
        name = f"{rng.choice(TITLES_MAN if c.gender == 'male' else TITLES_WOMAN)} {name}"
    return name


def _mistype(rng: random.Random, nid: str) -> str:
    i = rng.randrange(10)
    return nid[:i] + str((int(nid[i]) + rng.randrange(1, 10)) % 10) + nid[i + 1:]


def _caller_phone(rng: random.Random, c: Citizen, labels: list[str]) -> str:
    roll = rng.random()
    others = [m for m in c.home.members if m is not c and m.mobile]
    if roll < 0.12 and others:
        labels.append("household_mobile")
        return _digits(rng, rng.choice(others).mobile)
    if roll < 0.22:
        labels.append("landline")
        return _digits(rng, rng.choice(["051" + c.home.landline, c.home.landline, "+9851" + c.home.landline]))
    if roll < 0.28 or not c.mobile:
        labels.append("no_phone")
        return ""
    m = c.mobile
    return _digits(rng, rng.choice([m, m, "+98" + m[1:], "0098" + m[1:], f"{m[:4]} {m[4:7]} {m[7:]}"]))


def _address(c: Citizen) -> str:
    h = c.home
    unit = f"، واحد {h.unit}" if h.unit else ""
    return f"مشهد، {h.street}، کوچه {h.alley}، پلاک {h.plaque}{unit}"


def _registry(rng: random.Random, people: list[Citizen], truth: list) -> list[dict]:
    rows = []
    for c in people:
        if rng.random() > 0.7:
            continue
        for copy in range(2 if rng.random() < 0.05 else 1):
            labels = ["reregistration"] if copy else []
            nid = c.nid
            if nid.startswith("0") and rng.random() < 0.5:
                nid = nid.lstrip("0")
                labels.append("zeros_lost")
            rid = f"R{len(rows) + 1:06d}"
            rows.append({"شناسه": rid, "کد_ملی": nid, "نام": _letters(rng, c.first), "نام_خانوادگی": _letters(rng, c.last),
                         "نام_پدر": _letters(rng, c.father) if rng.random() < 0.9 else "",
                         "تاریخ_تولد": _jdate(rng, c.born), "جنسیت": "مرد" if c.gender == "male" else "زن",
                         "همراه": _digits(rng, c.mobile) if c.mobile and rng.random() < 0.85 else "",
                         "تلفن": rng.choice([c.home.landline, "051" + c.home.landline, ""]),
                         "نشانی": _letters(rng, _address(c)) if not copy else _letters(rng, _address(c)) + " (نشانی جدید)",
                         "کد_پستی": _digits(rng, c.home.postal) if rng.random() < 0.8 else "",
                         "منطقه": str(c.home.district)})
            truth.append({"source": "registry", "record_id": rid, "person_id": c.pid, "phenomena": ";".join(labels)})
    return rows


def _hotline(rng: random.Random, people: list[Citizen], truth: list, groups: list) -> list[dict]:
    calls: list[dict] = []
    start = dt.datetime(2024, 3, 21, 8, 0)
    adults = [c for c in people if c.mobile or rng.random() < 0.5]

    def call(c: Citizen, when: dt.datetime, category: str, text: str, group: str, labels: list[str]) -> dict:
        code = f"{1403}{len(calls) + 1:06d}"
        nid = ""
        if rng.random() < 0.4:
            nid = c.nid
            if rng.random() < 0.12:
                nid = _mistype(rng, nid)
                labels.append("nid_one_digit")
        row = {"tracking_code": code, "caller": _letters(rng, _one_field_name(rng, c, labels)),
               "phone": _caller_phone(rng, c, labels), "national_id": _digits(rng, nid), "category": category,
               "description": text, "district": str(c.home.district), "street": c.home.street,
               "alley": f"کوچه {c.home.alley}", "filed_at": _jdate(rng, when.date(), "slash") + when.strftime(" %H:%M"),
               "status": rng.choice(["ثبت شده", "در حال بررسی", "انجام شده", "بسته شده"])}
        calls.append(row)
        truth.append({"source": "hotline", "record_id": code, "person_id": c.pid, "phenomena": ";".join(labels)})
        groups.append({"record_id": code, "request_group": group, "phenomena": ";".join(labels)})
        return row

    for n, c in enumerate(rng.sample(adults, k=len(adults) // 3)):
        when = start + dt.timedelta(minutes=rng.randrange(300 * 24 * 60))
        category = rng.choice(CATEGORIES)
        group = f"G{n:06d}"
        first = call(c, when, category, f"{category} در {c.home.street} کوچه {c.home.alley} مشکل دارد", group, [])
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):  # follow-ups within two weeks
            when += dt.timedelta(hours=rng.randrange(6, 7 * 24))
            labels = ["followup"]
            cat = category
            if rng.random() < 0.4:
                cat = FOLLOW_CATEGORY
                labels.append("generic_followup")
            text = "دوباره تماس می‌گیرم، هنوز رسیدگی نشده"
            if rng.random() < 0.35:
                labels.append("quoted_code")
                text = f"پیگیری درخواست شماره {_digits(rng, first['tracking_code'])}؛ " + text
            call(c, when, cat, text, group, labels)
        if rng.random() < 0.08:  # the trap: the same place and category long after it closed is new
            call(c, when + dt.timedelta(days=rng.randrange(120, 200)), category,
                 f"{category} در {c.home.street} دوباره خراب شده", f"G{n:06d}-late", ["late_repeat"])
        neighbours = [p for p in people if p.home.street == c.home.street and p.home.alley == c.home.alley
                      and p.home is not c.home]
        if neighbours and rng.random() < 0.1:  # another citizen reports the same thing: another request
            call(rng.choice(neighbours), when + dt.timedelta(hours=rng.randrange(1, 48)), category,
                 f"{category} در {c.home.street} کوچه {c.home.alley} مشکل دارد", f"G{n:06d}-other",
                 ["other_citizen_same_place"])
    return calls


def _payments(rng: random.Random, people: list[Citizen], truth: list) -> list[dict]:
    rows = []
    for c in people:
        if not c.mobile or rng.random() > 0.4:
            continue
        labels: list[str] = []
        payer = f"{c.last}، {c.first}" if rng.random() < 0.4 else f"{c.first} {c.last}"
        if payer.startswith(c.last):
            labels.append("surname_first")
        rid = f"PAY-{len(rows) + 1:07d}"
        rows.append({"payment_id": rid, "payer": _letters(rng, payer), "code_melli": c.nid if rng.random() < 0.8 else "",
                     "mobile": c.mobile if rng.random() < 0.7 else "", "amount_rial": str(rng.randrange(10, 5000) * 10000),
                     "paid_on": _jdate(rng, dt.date(2024, 4, 1) + dt.timedelta(days=rng.randrange(300)), "compact"),
                     "kind": rng.choice(["عوارض نوسازی", "عوارض کسب", "جریمه", "پسماند"])})
        truth.append({"source": "payments", "record_id": rid, "person_id": c.pid, "phenomena": ";".join(labels)})
    return rows


def _permits(rng: random.Random, homes: list[Household], truth: list) -> list[dict]:
    rows = []
    for h in homes:
        if rng.random() > 0.15:
            continue
        c = h.members[0]
        labels: list[str] = []
        nid = c.nid
        if nid.startswith("0") and rng.random() < 0.5:
            nid = str(int(nid))
            labels.append("zeros_lost")
        rid = f"{1400 + rng.randrange(5)}/{len(rows) + 1:05d}"
        rows.append({"permit_no": rid, "owner": _letters(rng, _one_field_name(rng, c, labels)), "owner_nid": nid,
                     "address": _letters(rng, _address(c)), "postal_code": _digits(rng, h.postal),
                     "district": str(h.district), "issued_on": _jdate(rng, dt.date(2021, 3, 21) + dt.timedelta(
                         days=rng.randrange(1300))), "floors": str(rng.randrange(1, 7))})
        truth.append({"source": "permits", "record_id": rid, "person_id": c.pid, "phenomena": ";".join(labels)})
    return rows


def _licences(rng: random.Random, people: list[Citizen], truth: list) -> list[dict]:
    rows = []
    for c in people:
        if not c.mobile or rng.random() > 0.1:
            continue
        for renewal in range(2 if rng.random() < 0.3 else 1):
            labels = ["renewal"] if renewal else []
            rid = f"L-{len(rows) + 1:06d}"
            first = f"{rng.choice(TITLES_MAN if c.gender == 'male' else TITLES_WOMAN)} {c.first}" \
                if rng.random() < 0.15 else c.first
            if first != c.first:
                labels.append("title")
            rows.append({"licence_no": rid, "holder_first_name": _letters(rng, first),
                         "holder_last_name": _letters(rng, c.last), "holder_national_id": c.nid,
                         "holder_mobile": c.mobile, "issued": _jdate(rng, dt.date(2022, 1, 1) + dt.timedelta(
                             days=rng.randrange(300) + 365 * renewal)),
                         "business": rng.choice(["سوپرمارکت", "نانوایی", "آرایشگاه", "تعمیرگاه"])})
            truth.append({"source": "licences", "record_id": rid, "person_id": c.pid, "phenomena": ";".join(labels)})
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)


def generate(out: str | Path, households: int = 2000, seed: int = FROZEN_SEED) -> dict[str, int]:
    """Write the five exports and the two truth files under `out`; rows per file."""
    rng = random.Random(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    homes, people = _households(rng, households)
    truth: list[dict] = []
    groups: list[dict] = []
    files = {"registry.csv": _registry(rng, people, truth), "hotline.json": _hotline(rng, people, truth, groups),
             "payments.csv": _payments(rng, people, truth), "permits.csv": _permits(rng, homes, truth),
             "licences.json": _licences(rng, people, truth)}
    for name, rows in files.items():
        if name.endswith(".json"):
            (out / name).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            _write_csv(out / name, rows)
    _write_csv(out / "truth_persons.csv", truth)
    _write_csv(out / "truth_requests.csv", groups)
    return {name: len(rows) for name, rows in files.items()} | {"people": len(people), "households": len(homes)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m munihub.testing.exports", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder to write the exports and truth files into")
    p.add_argument("--households", type=int, default=2000)
    p.add_argument("--seed", type=int, default=FROZEN_SEED, help=f"default: the frozen set ({FROZEN_SEED})")
    args = p.parse_args(argv)
    print(json.dumps(generate(args.out, args.households, args.seed), ensure_ascii=False))


if __name__ == "__main__":
    main()
