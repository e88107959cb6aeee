"""Labelled Persian test data: true identities, noisy source copies, 137 requests, truth tables.

Deterministic by seed; used by the demo municipality, the tests and the benchmarks.  The
truth (which person or request a source record really is) lives only in truth rows, never
in the source record itself.

Noise applied by `noisy_copy` (rate = probability per record at ``noise=1.0``; ``noise``
scales every rate, ``noise=0`` gives a clean copy):

=====================  =====  =============================================================
kind                   rate   what happens
=====================  =====  =============================================================
arabic_letters         0.20   ی→ي and ک→ك in every text field
persian_digits         0.15   digits of ids, mobile, postal code, date as ۰-۹
arabic_indic_digits    0.05   digits as ٠-٩ (instead of Persian)
compound_space         0.30   compound names (علی‌اکبر) written with a space instead of ZWNJ
compound_joined        0.30   compound names written with no separator (علیاکبر)
date_persian_style     --     (persian_digits on a Jalali date gives ۱۴۰۳/۰۸/۱۴)
date_jalali_dash       0.15   birth date as 1403-8-14 (dashes, no zero padding)
date_gregorian         0.10   birth date as Gregorian ISO 2024-11-04
typo                   0.06   one letter of first or last name swapped with its neighbour or dropped
name_swap              0.03   first and last name exchanged
title                  0.08   سید / حاج / دکتر / مهندس put before the first name
missing_field          0.08   one of father_name, mobile, birth_date, postal_code, street empty
nid_zeros_lost         0.50   a national id starting with 0 stored as a number (leading zeros gone)
mobile_plus98          0.15   mobile as +98915…
mobile_0098            0.10   mobile as 0098915…
mobile_spaced          0.05   mobile as 0915 123 4567
gender_persian         0.30   gender as مرد/زن (else male/female); gender_letter 0.10: M/F
=====================  =====  =============================================================

Hard negatives (`make_hard_negatives`): look-alikes (same first, last and father name,
different national id and birth date), twins (same last name, father, birth date and
address, different first name and id), and phones that changed owner (a different person
now holds an earlier person's mobile).
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import random
from pathlib import Path
from typing import Any, Iterable

from munihub.persian.ids import is_national_id, national_id_check_digit

MALE = ["محمد", "علی", "حسین", "حسن", "رضا", "مهدی", "امیر", "سعید", "مجید", "جواد", "حمید",
        "مصطفی", "ابوالفضل", "عباس", "کاظم", "یوسف", "هادی", "وحید", "پویا", "آرش", "کامران",
        "محمد‌رضا", "علی‌اکبر", "امیر‌حسین", "محمد‌حسین", "علی‌رضا", "محمد‌مهدی", "غلام‌رضا"]
FEMALE = ["فاطمه", "زهرا", "مریم", "معصومه", "زینب", "سمیه", "الهام", "نرگس", "لیلا", "مهسا",
          "سارا", "نگار", "کبری", "رقیه", "پریسا", "شیما", "یگانه", "ژیلا", "طاهره",
          "فاطمه‌زهرا", "زهرا‌سادات", "ملیکا‌سادات", "مریم‌السادات"]
LAST = ["محمدی", "حسینی", "رضایی", "احمدی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی",
        "هاشمی", "قاسمی", "نوری", "طوسی", "مشهدی", "خراسانی", "سبزواری", "نیشابوری", "کاشانی",
        "یزدانی", "گلستانی", "پورمحمد", "رضوی", "عطاری", "شاکری", "کاظمی", "فرهادی",
        "قاسم‌زاده", "حسین‌زاده", "رضایی‌فر", "موسوی‌نژاد", "کریمی‌نیا", "علی‌پور", "حسینی‌مقدم"]
TITLES = ["سید", "حاج", "دکتر", "مهندس"]
DISTRICTS = [f"منطقه {i}" for i in range(1, 14)] + ["ثامن"]
STREETS = ["بلوار وکیل‌آباد", "بلوار سجاد", "خیابان امام رضا", "بلوار احمدآباد", "بلوار فردوسی",
           "خیابان کوهسنگی", "بلوار هاشمیه", "بلوار معلم", "بلوار پیروزی", "بلوار هفت تیر",
           "خیابان سناباد", "بلوار طبرسی", "بلوار توس", "خیابان دانشگاه", "بلوار جلال آل احمد",
           "بلوار شهید کلانتری", "خیابان خسروی", "بلوار میرزا کوچک خان", "بلوار امامت", "بلوار قرنی"]
# Mashhad's national-id city prefixes start with 0, so "leading zeros lost" is common for real.
NID_PREFIXES = ["092", "093", "094", "095", "096", "001", "002", "064", "128", "106"]
MOBILE_PREFIXES = ["0915", "0915", "0915", "0912", "0935", "0936", "0901", "0903", "0990", "0911"]

NOISE_RATES: dict[str, float] = {
    "arabic_letters": 0.20, "persian_digits": 0.15, "arabic_indic_digits": 0.05,
    "compound_space": 0.30, "compound_joined": 0.30, "date_jalali_dash": 0.15,
    "date_gregorian": 0.10, "typo": 0.06, "name_swap": 0.03, "title": 0.08,
    "missing_field": 0.08, "nid_zeros_lost": 0.50, "mobile_plus98": 0.15, "mobile_0098": 0.10,
    "mobile_spaced": 0.05, "gender_persian": 0.30, "gender_letter": 0.10,
}
ZWNJ = "\u200c"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_ARABIC_LETTERS = str.maketrans({"ی": "ي", "ک": "ك"})


@dataclasses.dataclass(frozen=True)
class Person:
    """A true identity.  `negative_kind`/`resembles` mark a hard negative and whom it resembles."""

    person_id: str
    first_name: str
    last_name: str
    father_name: str
    gender: str                      # male / female
    birth_date: dt.date              # Gregorian
    birth_jalali: tuple[int, int, int]
    national_id: str                 # 10 digits, valid check digit
    mobile: str                      # 09xxxxxxxxx
    postal_code: str
    district: str
    street: str
    plate: int
    negative_kind: str | None = None
    resembles: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def national_id_check(first9: str) -> str:
    """The check digit of an Iranian national id from its first nine digits."""
    return str(national_id_check_digit(first9))


_MONTH_START = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def jalali_of(day: dt.date) -> tuple[int, int, int]:
    """Gregorian -> Jalali (year, month, day); arithmetic, ~10x faster than jdatetime per call."""
    gy, gm, gd = day.year, day.month, day.day
    gy2 = gy + 1 if gm > 2 else gy
    days = (355666 + 365 * gy + (gy2 + 3) // 4 - (gy2 + 99) // 100 + (gy2 + 399) // 400
            + gd + _MONTH_START[gm - 1])
    jy = -1595 + 33 * (days // 12053)
    days %= 12053
    jy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        jy += (days - 1) // 365
        days = (days - 1) % 365
    if days < 186:
        return jy, 1 + days // 31, 1 + days % 31
    return jy, 7 + (days - 186) // 30, 1 + (days - 186) % 30


class _Unique:
    """Draws values from `make(rng)` until one is new, so ids and mobiles never collide."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def draw(self, rng: random.Random, make) -> str:
        while True:
            value = make(rng)
            if value not in self.seen:
                self.seen.add(value)
                return value


def _pick(rng: random.Random, seq):
    # random() is one C call; choice()/randrange() cost several Python frames (2x on 1M people).
    return seq[int(rng.random() * len(seq))]


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def _national_id(rng: random.Random) -> str:
    first9 = _pick(rng, NID_PREFIXES) + f"{_below(rng, 1_000_000):06d}"
    return first9 + national_id_check(first9)


def _mobile(rng: random.Random) -> str:
    return _pick(rng, MOBILE_PREFIXES) + f"{_below(rng, 10_000_000):07d}"


_POSTAL_MIDDLE = [f"{a}{b}{c}" for a in "13456789" for b in "13456789" for c in "13456789"]


def _postal(rng: random.Random) -> str:
    # Iranian postal codes avoid 0 and 2 in the first five digits; Mashhad's start with 91.
    return f"91{_pick(rng, _POSTAL_MIDDLE)}{_below(rng, 100_000):05d}"


_DAY0, _DAYS = dt.date(1945, 1, 1).toordinal(), (dt.date(2006, 12, 31) - dt.date(1945, 1, 1)).days


def _person(rng: random.Random, pid: str, ids: _Unique, mobiles: _Unique, **fixed: Any) -> Person:
    gender = fixed.pop("gender", None) or _pick(rng, ("male", "female"))
    birth = fixed.pop("birth_date", None) or dt.date.fromordinal(_DAY0 + _below(rng, _DAYS))
    values = dict(
        person_id=pid, gender=gender, birth_date=birth, birth_jalali=jalali_of(birth),
        first_name=_pick(rng, MALE if gender == "male" else FEMALE), last_name=_pick(rng, LAST),
        father_name=_pick(rng, MALE), national_id=ids.draw(rng, _national_id),
        mobile=mobiles.draw(rng, _mobile), postal_code=_postal(rng), district=_pick(rng, DISTRICTS),
        street=_pick(rng, STREETS), plate=1 + _below(rng, 399))
    values.update(fixed)
    return Person(**values)


def make_people(n: int, seed: int) -> list[Person]:
    """`n` distinct true identities with unique valid national ids and mobiles."""
    rng, ids, mobiles = random.Random(seed), _Unique(), _Unique()
    return [_person(rng, f"P{i:07d}", ids, mobiles) for i in range(1, n + 1)]


def make_hard_negatives(people: list[Person], seed: int, n: int) -> list[Person]:
    """`n` extra people who resemble someone in `people` but are not them (kinds rotate)."""
    rng, ids, mobiles = random.Random(seed ^ 0x5EED), _Unique(), _Unique()
    ids.seen.update(p.national_id for p in people)
    mobiles.seen.update(p.mobile for p in people)
    out: list[Person] = []
    for i in range(n):
        base, pid = rng.choice(people), f"N{i + 1:07d}"
        kind = ("lookalike", "twin", "phone_reassigned")[i % 3]
        if kind == "lookalike":
            extra = dict(first_name=base.first_name, last_name=base.last_name,
                         father_name=base.father_name, gender=base.gender)
        elif kind == "twin":
            names = MALE if base.gender == "male" else FEMALE
            extra = dict(last_name=base.last_name, father_name=base.father_name, gender=base.gender,
                         birth_date=base.birth_date, birth_jalali=base.birth_jalali,
                         first_name=rng.choice([x for x in names if x != base.first_name]),
                         postal_code=base.postal_code, district=base.district,
                         street=base.street, plate=base.plate)
        else:
            extra = dict(mobile=base.mobile)
        out.append(_person(rng, pid, ids, mobiles, negative_kind=kind, resembles=base.person_id,
                           **extra))
    return out


# ---------------------------------------------------------------- noise

def _typo(rng: random.Random, word: str) -> str:
    letters = [i for i, c in enumerate(word) if c not in (" ", ZWNJ)]
    if len(letters) < 3:
        return word
    i = rng.choice(letters[:-1])
    if rng.random() < 0.5 and word[i + 1] not in (" ", ZWNJ):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i + 1:]


def format_jalali(y: int, m: int, d: int, style: str = "slash") -> str:
    """1403/08/14 (slash), 1403-8-14 (dash)."""
    return f"{y}-{m}-{d}" if style == "dash" else f"{y:04d}/{m:02d}/{d:02d}"


def noisy_copy(person: Person, rng: random.Random, noise: float = 1.0) -> tuple[dict, list[str]]:
    """The person as a subsystem would hold them, and the noise kinds applied (for tests).

    Keys are generic (national_id, first_name, …); the demo renames them per subsystem.
    """
    hit = lambda kind: rng.random() < NOISE_RATES[kind] * noise  # noqa: E731
    kinds: list[str] = []
    first, last = person.first_name, person.last_name
    if ZWNJ in first + last:
        for kind, sep in (("compound_space", " "), ("compound_joined", "")):
            if hit(kind):
                first, last = first.replace(ZWNJ, sep), last.replace(ZWNJ, sep)
                kinds.append(kind)
                break
    if hit("typo"):
        if rng.random() < 0.5:
            first = _typo(rng, first)
        else:
            last = _typo(rng, last)
        kinds.append("typo")
    if hit("name_swap"):
        first, last = last, first
        kinds.append("name_swap")
    if hit("title"):
        first = f"{rng.choice(TITLES)} {first}"
        kinds.append("title")
    y, m, d = person.birth_jalali
    if hit("date_gregorian"):
        birth, _ = person.birth_date.isoformat(), kinds.append("date_gregorian")
    elif hit("date_jalali_dash"):
        birth, _ = format_jalali(y, m, d, "dash"), kinds.append("date_jalali_dash")
    else:
        birth = format_jalali(y, m, d)
    nid = person.national_id
    if nid.startswith("0") and hit("nid_zeros_lost"):
        nid, _ = str(int(nid)), kinds.append("nid_zeros_lost")
    mobile = person.mobile
    for kind, form in (("mobile_plus98", "+98" + mobile[1:]), ("mobile_0098", "0098" + mobile[1:]),
                       ("mobile_spaced", f"{mobile[:4]} {mobile[4:7]} {mobile[7:]}")):
        if hit(kind):
            mobile, _ = form, kinds.append(kind)
            break
    gender = person.gender
    if hit("gender_persian"):
        gender, _ = ("مرد" if gender == "male" else "زن"), kinds.append("gender_persian")
    elif hit("gender_letter"):
        gender, _ = gender[0].upper(), kinds.append("gender_letter")
    rec = {"national_id": nid, "first_name": first, "last_name": last,
           "father_name": person.father_name, "gender": gender, "birth_date": birth,
           "mobile": mobile, "postal_code": person.postal_code, "district": person.district,
           "street": person.street, "plate": str(person.plate)}
    for kind, table in (("persian_digits", _PERSIAN_DIGITS), ("arabic_indic_digits", _ARABIC_DIGITS)):
        if hit(kind):
            for key in ("national_id", "mobile", "postal_code", "birth_date", "plate"):
                rec[key] = rec[key].translate(table)
            kinds.append(kind)
            break
    if hit("arabic_letters"):
        for key in ("first_name", "last_name", "father_name", "district", "street"):
            rec[key] = rec[key].translate(_ARABIC_LETTERS)
        kinds.append("arabic_letters")
    if hit("missing_field"):
        rec[rng.choice(("father_name", "mobile", "birth_date", "postal_code", "street"))] = None
        kinds.append("missing_field")
    return rec, kinds


BAD_KINDS = ("bad_check_digit", "bad_jalali_date", "missing_required")


def spoil(record: dict, kind: str, rng: random.Random) -> dict:
    """A copy of a generic person record made invalid on purpose, so quarantine has work."""
    rec = dict(record)
    if kind == "bad_check_digit":
        nid = str(rec.get("national_id") or "0923456789").zfill(10)
        rec["national_id"] = nid[:9] + str((int(nid[9]) + 1 + rng.randrange(8)) % 10) \
            if nid[9].isdigit() else nid[:9] + "1"
        if is_national_id(rec["national_id"]):   # two digits can share a check value
            rec["national_id"] = nid[:9] + str((int(nid[9]) + 5) % 10)
    elif kind == "bad_jalali_date":
        # Months 7-11 have 30 days and Esfand 29 in a common year: these days do not exist.
        rec["birth_date"] = rng.choice(["1365/07/31", "1370/09/31", "1359/11/31", "1403/07/31"])
    elif kind == "missing_required":
        rec["national_id"] = None
    else:
        raise ValueError(f"unknown bad-record kind {kind!r}; known: {', '.join(BAD_KINDS)}")
    return rec


def write_truth_csv(path: str | Path, rows: Iterable[dict]) -> Path:
    """Write truth rows as UTF-8 CSV; the header is every key in first-seen order."""
    rows = list(rows)
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(row))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)
    return path


def person_truth(source: str, key: str, person: Person, kinds: list[str]) -> dict:
    """One truth row linking a source record to its true person."""
    return {"source": source, "source_key": key, "true_person_id": person.person_id,
            "negative_kind": person.negative_kind or "", "resembles": person.resembles or "",
            "noise": " ".join(kinds)}


# ---------------------------------------------------------------- 137 service requests

CATEGORIES = {
    "پسماند": ["زباله‌ها جمع‌آوری نشده", "مخزن زباله پر است و بو می‌دهد", "نخاله ساختمانی در کوچه رها شده"],
    "روشنایی معابر": ["چراغ‌های خیابان خاموش است", "تیر چراغ برق شکسته", "کوچه شب‌ها تاریک است"],
    "آسفالت": ["چاله بزرگ وسط خیابان", "آسفالت کوچه تخریب شده", "دریچه فاضلاب بیرون زده"],
    "فضای سبز": ["درختان پارک آبیاری نمی‌شوند", "شاخه درخت روی سیم برق افتاده", "چمن پارک خشک شده"],
    "سد معبر": ["مغازه پیاده‌رو را اشغال کرده", "خودروهای رها شده جلوی در", "دستفروش‌ها معبر را بسته‌اند"],
    "حمل و نقل": ["اتوبوس خط ۲۱ دیر می‌آید", "ایستگاه اتوبوس سایه‌بان ندارد", "تاکسی‌ها از مسیر خارج می‌شوند"],
}
FOLLOW_UP = ["دوباره {d}، هنوز رسیدگی نشده", "پیگیری: {d}", "بار دوم است که اطلاع می‌دهم؛ {d}",
             "تا امروز کسی نیامده. {d}", "{d} — لطفا سریع‌تر اقدام کنید"]
CITE = ["پیگیری کد رهگیری {code}", "درخواست قبلی به شماره {code}", "عطف به کد {code}"]
STATUSES = ["ثبت شده", "در حال بررسی", "ارجاع شده", "انجام شده", "بسته شده"]


def make_requests(people: list[Person], seed: int, cases: int, *, window_days: int = 14,
                  follow_up_rate: float = 0.4, renewal_rate: float = 0.15,
                  start: dt.datetime = dt.datetime(2024, 9, 1, 8, 0)) -> tuple[list[dict], list[dict]]:
    """137 requests and their truth rows.

    Each case is one real problem filed by one citizen; with `follow_up_rate` the citizen
    re-files it 1-3 times within `window_days` (varied text, sometimes citing the first
    tracking code), and with `renewal_rate` files a genuinely new complaint of the same
    category at the same place after the window (a different `true_request_id`).
    """
    rng = random.Random(seed ^ 0x137)
    requests, truth = [], []
    serial = 0

    def file(case_id: str, person: Person, when: dt.datetime, category: str, text: str,
             lat: float, lon: float, refers_to: str | None, is_follow_up: bool) -> str:
        nonlocal serial
        serial += 1
        code = f"137{when:%y%m}{serial:06d}"
        rec, kinds = noisy_copy(person, rng, 0.5)
        closed = when + dt.timedelta(days=rng.randrange(1, 20)) if rng.random() < 0.4 else None
        requests.append({
            "tracking_code": code, "national_id": rec["national_id"] if rng.random() < 0.85 else None,
            "citizen_name": f"{rec['first_name']} {rec['last_name']}", "mobile": rec["mobile"],
            "category": category, "subcategory": None, "description": text,
            "district": person.district, "address": f"{person.district}، {person.street}، پلاک {person.plate}",
            "latitude": round(lat + rng.uniform(-0.0002, 0.0002), 6),
            "longitude": round(lon + rng.uniform(-0.0002, 0.0002), 6),
            "status": "بسته شده" if closed else rng.choice(STATUSES[:4]),
            "filed_at": when.isoformat(timespec="seconds"),
            "closed_at": closed.isoformat(timespec="seconds") if closed else None,
            "refers_to": refers_to, "updated_at": (closed or when).isoformat(timespec="seconds")})
        truth.append({"tracking_code": code, "true_request_id": case_id,
                      "true_person_id": person.person_id, "is_follow_up": int(is_follow_up),
                      "noise": " ".join(kinds)})
        return code

    for c in range(1, cases + 1):
        person, category = rng.choice(people), rng.choice(list(CATEGORIES))
        when = start + dt.timedelta(minutes=rng.randrange(60 * 24 * 60))
        lat, lon = 36.26 + rng.random() * 0.14, 59.45 + rng.random() * 0.25
        problem = rng.choice(CATEGORIES[category])
        first = file(f"R{c:06d}", person, when, category, problem, lat, lon, None, False)
        if rng.random() < follow_up_rate:
            later = when
            for _ in range(rng.randint(1, 3)):
                later += dt.timedelta(hours=rng.randrange(6, 24 * window_days // 3))
                if later - when > dt.timedelta(days=window_days):
                    break
                text = rng.choice(FOLLOW_UP).format(d=problem)
                cites = rng.random() < 0.4
                if cites:
                    text += "، " + rng.choice(CITE).format(code=first)
                file(f"R{c:06d}", person, later, category, text, lat, lon,
                     first if cites and rng.random() < 0.5 else None, True)
        if rng.random() < renewal_rate:
            later = when + dt.timedelta(days=window_days + rng.randrange(5, 60))
            file(f"R{c:06d}b", person, later, category, rng.choice(CATEGORIES[category]),
                 lat, lon, None, False)
    return requests, truth
