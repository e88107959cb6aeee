"""A second labelled set of one city's citizens, written as an outsider would build a held-out
set: apart from the matcher and from `munihub.testing.exports` (neither was read to write it),
from the phenomena of Iranian municipal exports alone.

Five agencies' exports of the same households, each in its own shape:

- `tax.taxpayers`: CSV in UTF-8 with a BOM; one «نام و نام خانوادگی» field in either order,
  with titles, سید, «فرزند X»; national ids with dashes or in Persian digits; a taxpayer with
  two files (a duplicate within the source);
- `permits.cases`: CSV in Windows-1256 as Excel saves it (Arabic ي/ك, national ids and
  mobiles that lost their leading zero as numbers, dates `14030814`); the owner as
  «نام فرزند پدر» or surname first; a case number re-used when a case passes to a new owner;
- `rc137.calls`: JSON lines from the 137 hotline: a title and surname only, nameless callers,
  another member's mobile, landlines with or without 051, `+98`/`0098` mobiles, a national id
  with one wrong digit, `1403-8-14` dates; calls form request groups (a problem's first call
  and its follow-ups days to weeks later: the place written anew, the same category or a
  generic «پیگیری درخواست», the earlier tracking code quoted in the description in any digits,
  a duplicate status, another phone or a household member calling; the code now and then
  with separators «137-1234-5678»; numbers that are no tracking code in some descriptions: a
  callback mobile, the district office's number every caller of the district is given, a
  postal code, a date as 14030814, a permit number, a national id) beside the traps (the same
  place and category long after the request closed, a neighbour reporting the same place, a
  neighbour on the same street with the same category), each a request of its own; a
  problem's spot an alley, an alley off it («سجاد ۱۴، گلستان ۳», «بن‌بست ۳», «سجاد ۱۴/۳»), or a
  landmark on a street («جنب مسجد الزهرا», «نرسیده به چهارراه دانش»), «شهید» in a street's
  name written or not, digits mixed («۱2»), «پ» for the plaque.  The export is also a status
  log now and then (`status_rows`): a call's earlier statuses («ثبت شده» → «در حال بررسی» →
  its last) as rows of their own before it, the same tracking code, caller and `registered`
  stamp, a later `status_at`, the caller's number sometimes written another way
  (`status_rows_phone_differs`); the form's title field (`caller_title`, «آقای»/«خانم»)
  picked while the name field holds the surname alone (`title_in_column`); a caller naming
  their father («علی رضایی فرزند حسن», `name_father`); the callback mobile typed into the
  name field («علی رضایی (۰۹۱۵…)», `phone_in_name`, also in the water bills);
- `water.bills`: an .xlsx sheet of subscribers («نام مشترک» surname first), one phone column
  holding mobiles and landlines as numbers, postal codes as numbers, numbers re-used (an old
  subscriber's mobile now someone else's);
- `welfare.clients`: a JSON document (records under `result.items`) with separate name
  fields but titles in them («حاج محمد», «سیده فاطمه»), Arabic-Indic digits, `۱۴۰۳/۰۸/۱۴` dates,
  a client registered twice.

A citizen with a compound first name (محمدرضا، علیرضا، امیرحسین، محمدحسین، فاطمه‌زهرا) is
written in some records by one half (`compound_half`): the half they go by («رضا»، «امیر»،
«زهرا»), now and then the other; callers most often, then the water bills' clerks, rarely
the agencies that copy an id card.

Homes may be on an alley off an alley («کوچه ۱۲، کوچه گلستان ۳»); the tax and welfare
exports write the address in full or Mashhad's short way («وکیل‌آباد ۱۲، گلستان ۳، پ ۵»),
«شهید» kept or dropped, digits mixed, each labelled on its record.

People live in households (spouses with their own surnames, children with the father's,
twins sharing birth date and father, one landline, address and postal code).  Truth rows are
`(dataset, record id, person id, labels)`; every label names a phenomenon of that record or a
look-alike of its person (`twin`, `household_surname`, `household`).  The 137 calls also have
request truth rows `(dataset, tracking code, request id, labels)`, labelled with the request
phenomena (`followup`, `generic_followup`, `quoted_code`, `recurring_after_close`, …) and the
call's person phenomena; a tracking code on several rows (`status_rows`) is one record, one
truth row of each kind.  `compound_half`, `status_rows`, `title_in_column`, `phone_in_name` and
the 137 `name_father` each draw from a stream of their own, seeded by the record they change,
so every other record is written as it was before them and its figures stay comparable.
"""
from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

MALE = ["علی", "محمد", "حسین", "رضا", "مهدی", "حسن", "امیر", "مرتضی", "مصطفی", "جواد", "سعید", "حمید",
        "مجید", "اکبر", "یوسف", "ابراهیم", "کریم", "محمدرضا", "علیرضا", "امیرحسین", "محمدحسین", "مهران",
        "کاظم", "ناصر", "بهروز", "یعقوب", "عباس", "قاسم", "هادی", "وحید"]
FEMALE = ["فاطمه", "زهرا", "مریم", "زینب", "سمیه", "معصومه", "نرگس", "لیلا", "مهسا", "سارا", "الهام",
          "فاطمه‌زهرا", "ریحانه", "کبری", "سکینه", "طاهره", "اعظم", "منیژه", "شیرین", "نازنین", "پروین",
          "راضیه", "مرضیه", "عاطفه", "ملیحه"]
SURNAMES = ["احمدی", "رضایی", "محمدی", "کریمی", "جعفری", "قاسمی", "صادقی", "رحیمی", "نوری", "کاظمی",
            "عباسی", "یزدانی", "طالبی", "شریفی", "حسین‌زاده", "علی‌پور", "قربانی", "نیک‌نام", "خراسانی",
            "توسلی", "فرهادی", "سلیمانی", "باقری", "اکبری", "میرزایی", "ملکی", "شاکری", "زمانی", "رستمی",
            "ابراهیمی", "عبدالله‌زاده", "نظری", "کامرانی", "پاک‌نیت", "فتحی", "اسدی", "غلامی", "بیات"]
SEYYED_SURNAMES = ["حسینی", "موسوی", "هاشمی", "رضوی", "طباطبایی", "میرحسینی"]
STREETS = ["بلوار وکیل‌آباد", "خیابان امام رضا", "بلوار سجاد", "خیابان احمدآباد", "بلوار هاشمیه",
           "خیابان کوهسنگی", "بلوار فردوسی", "خیابان سناباد", "بلوار معلم", "خیابان طبرسی",
           "خیابان شهید قرنی", "بلوار شهید کلاهدوز", "بلوار امامت"]
# alleys off an alley: «وکیل‌آباد ۱۲، گلستان ۳» (a named one) or «وکیل‌آباد ۱۲، بن‌بست ۳» (a dead end)
NESTED = ["گلستان", "بهار", "شهید رجایی", "نسترن", "لاله"]
# what a 137 operator names a problem's spot by when it is not an alley
LANDMARKS = ["مسجد الزهرا", "پارک ملت", "چهارراه دانش", "بانک ملی", "مدرسه فردوسی", "درمانگاه شفا"]
CATEGORIES = ["روشنایی معابر", "نظافت شهری", "آسفالت", "فضای سبز", "جمع‌آوری زباله", "سد معبر"]
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@dataclass
class Home:
    hid: int
    district: int
    street: str
    alley: int
    plaque: int
    postal: str
    landline: str | None
    members: list = field(default_factory=list)
    sub: str | None = None  # an alley off the alley: «گلستان 3» or «بن‌بست 3»


@dataclass
class Citizen:
    pid: str
    first: str
    last: str
    father: str
    male: bool
    seyyed: bool
    born: tuple[int, int, int]
    nid: str
    mobile: str | None
    home: Home
    old_mobile: str | None = None  # a number this citizen gave up, now another citizen's


def _nid(rng: random.Random) -> str:
    """A valid 10-digit national id; most of Mashhad's start 09 (the zero an Excel number drops)."""
    head = ("09" + "".join(rng.choice("0123456789") for _ in range(7)) if rng.random() < 0.6
            else "".join(rng.choice("123456789") for _ in range(9)))
    r = sum(int(d) * (10 - i) for i, d in enumerate(head)) % 11
    return head + str(r if r < 2 else 11 - r)


def _mobile(rng: random.Random) -> str:
    return rng.choice(["0915", "0935", "0912", "0901", "0937", "0991"]) + "".join(rng.choice("0123456789") for _ in range(7))


def city(rng: random.Random, households: int) -> list[Citizen]:
    people: list[Citizen] = []
    used_nids, used_mobiles = set(), set()

    def nid():
        while (n := _nid(rng)) in used_nids:
            pass
        used_nids.add(n)
        return n

    def mob():
        while (m := _mobile(rng)) in used_mobiles:
            pass
        used_mobiles.add(m)
        return m

    def person(home, first, last, father, male, seyyed, born, adult):
        c = Citizen(f"P{len(people) + 1:05d}", first, last, father, male, seyyed, born, nid(),
                    mob() if adult and rng.random() < 0.9 else None, home)
        people.append(c)
        home.members.append(c)
        return c

    for h in range(households):
        home = Home(h, rng.randint(1, 13), rng.choice(STREETS), rng.randint(1, 60), rng.randint(1, 300),
                    "".join(rng.choice("13456789") for _ in range(10)),
                    "3" + "".join(rng.choice("0123456789") for _ in range(7)) if rng.random() < 0.8 else None)
        if rng.random() < 0.25:  # a home on an alley off the alley
            home.sub = (f"{rng.choice(NESTED)} {rng.randint(1, 6)}" if rng.random() < 0.6
                        else f"بن‌بست {rng.randint(1, 6)}")
        seyyed = rng.random() < 0.15
        last = rng.choice(SEYYED_SURNAMES if seyyed else SURNAMES)
        head_first = rng.choice(MALE)
        y = rng.randint(1330, 1375)
        person(home, head_first, last, rng.choice(MALE), True, seyyed, (y, rng.randint(1, 12), rng.randint(1, 29)), True)
        if rng.random() < 0.8:  # a wife keeps her own surname (sometimes a relative's, the same)
            wlast = last if rng.random() < 0.15 else rng.choice(SURNAMES + SEYYED_SURNAMES)
            person(home, rng.choice(FEMALE), wlast, rng.choice(MALE), False, wlast in SEYYED_SURNAMES and rng.random() < 0.7,
                   (y + rng.randint(-2, 8), rng.randint(1, 12), rng.randint(1, 29)), True)
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
                male = rng.random() < 0.5
                cy = y + rng.randint(20, 35)
                born = (min(cy, 1400), rng.randint(1, 12), rng.randint(1, 29))
                twin = rng.random() < 0.1
                for _ in range(2 if twin else 1):
                    names = MALE if male else FEMALE
                    taken = {m.first for m in home.members}
                    first = rng.choice([n for n in names if n not in taken])
                    person(home, first, last, head_first, male, seyyed, born, born[0] < 1385)
    # numbers re-used: a citizen's former mobile is now another citizen's
    owners = [c for c in people if c.mobile]
    for c in rng.sample(people, len(people) // 30):
        other = rng.choice(owners)
        if other.home is not c.home:
            c.old_mobile = other.mobile
    return people


# ---------------------------------------------------------------- value forms

def _arabic_letters(s: str) -> str:
    return s.replace("ی", "ي").replace("ک", "ك")


def name_forms(rng: random.Random, c: Citizen, labels: list[str], *, father_ok=True, titles=True,
               first: str | None = None) -> str:
    """A one-field name as clerks type it; `labels` gets what was done.  `first`: the first
    name this record writes instead of the citizen's (half of a compound, `compound_half`)."""
    first, last = first or c.first, c.last
    # drawn on the whole name, so a record writing half a compound leaves `rng` as it was
    if "‌" in c.first + last and rng.random() < 0.3:
        joined = first.replace("‌", rng.choice(["", " "])), last.replace("‌", rng.choice(["", " "]))
        if joined != (first, last):
            labels.append("no_zwnj")
        first, last = joined
    if c.seyyed and rng.random() < 0.7:
        first = rng.choice(["سید ", "سيد ", "سید"] if c.male else ["سیده ", "سیده‌"]) + first
        labels.append("seyyed")
    r = rng.random()
    if r < 0.45:
        text = f"{first} {last}"
    elif r < 0.75:
        text = rng.choice([f"{last} {first}", f"{last}، {first}", f"{last} - {first}", f"{last},{first}"])
        labels.append("name_surname_first")
    else:
        text = f"{first} {last}"
    if father_ok and rng.random() < 0.2:
        text += f" فرزند {c.father}"
        labels.append("name_father")
    if titles and rng.random() < 0.2:
        t = rng.choice(["آقای", "جناب آقای", "حاج", "مهندس", "دکتر"] if c.male else ["خانم", "سرکار خانم", "حاجیه خانم", "دکتر"])
        text = f"{t} {text}"
        labels.append("title")
    if rng.random() < 0.15:
        text = _arabic_letters(text)
        labels.append("arabic_letters")
    return text


# A compound first name's halves: people go by one of them («رضا» for محمدرضا, «امیر» for
# امیرحسین, «زهرا» for فاطمه‌زهرا), callers give it and clerks type it; now and then a clerk
# writes the other half.
HALVES = {"محمدرضا": ("محمد", "رضا"), "علیرضا": ("علی", "رضا"), "امیرحسین": ("امیر", "حسین"),
          "محمدحسین": ("محمد", "حسین"), "فاطمه‌زهرا": ("فاطمه", "زهرا")}


def compound_half(c: Citizen, key: str, share: float, labels: list[str]) -> str | None:
    """Half of `c`'s compound first name for one record (`key` names the record and seeds its
    own stream, so no other record moves), `share` of the time; else None."""
    if c.first not in HALVES or random.Random("compound-" + key).random() >= share:
        return None
    called = random.Random("called-" + c.nid).choice(HALVES[c.first])  # the half this citizen goes by
    other = next(h for h in HALVES[c.first] if h != called)
    labels.append("compound_half")
    return called if random.Random("which-half-" + key).random() < 0.8 else other


def phone_in_name(name: str, mobile: str, stream: random.Random) -> str:
    """A name field that also holds a phone, as a clerk types the callback number where the
    form has room: «علی رضایی (09151234567)», «رضایی علی - ۰۹۱۵۱۲۳۴۵۶۷», «علی رضایی تلفن 0915...»."""
    m = mobile_forms(stream, mobile, [])
    if stream.random() < 0.4:
        m = m.translate(PERSIAN)
    return stream.choice(["{} ({})", "{} - {}", "{} تلفن {}", "{} {}", "{}({})"]).format(name, m)


def nid_forms(rng: random.Random, c: Citizen, labels: list[str], *, as_number=False) -> str:
    nid = c.nid
    if rng.random() < 0.04:  # one digit mistyped
        i = rng.randrange(10)
        nid = nid[:i] + str((int(nid[i]) + rng.randint(1, 9)) % 10) + nid[i + 1:]
        labels.append("nid_wrong_digit")
    if as_number:
        if nid.startswith("0"):
            labels.append("nid_lost_zero")
        return str(int(nid))
    r = rng.random()
    if r < 0.15:
        labels.append("nid_dashes")
        return f"{nid[:3]}-{nid[3:9]}-{nid[9]}"
    if r < 0.3:
        labels.append("nid_persian_digits")
        return nid.translate(PERSIAN)
    if r < 0.35:
        labels.append("nid_spaces")
        return f"{nid[:3]} {nid[3:9]} {nid[9]}"
    return nid


def mobile_forms(rng: random.Random, m: str, labels: list[str]) -> str:
    r = rng.random()
    if r < 0.12:
        labels.append("mobile_plus98")
        return "+98" + m[1:]
    if r < 0.22:
        labels.append("mobile_0098")
        return "0098" + m[1:]
    if r < 0.32:
        labels.append("mobile_10digit")
        return m[1:]
    if r < 0.4:
        labels.append("mobile_persian_digits")
        return m.translate(PERSIAN)
    if r < 0.45:
        labels.append("mobile_dashes")
        return f"{m[:4]}-{m[4:7]}-{m[7:]}"
    return m


def landline_forms(rng: random.Random, l: str, labels: list[str]) -> str:
    labels.append("landline")
    r = rng.random()
    if r < 0.4:
        labels.append("landline_no_area")
        return l
    if r < 0.7:
        return "051" + l
    return "051-" + l


def date_forms(rng: random.Random, d: tuple[int, int, int], labels: list[str], style: str | None = None) -> str:
    y, m, day = d
    style = style or rng.choice(["slash", "slash", "persian", "compact", "dash"])
    if style != "slash":
        labels.append(f"date_{style}")
    if style == "persian":
        return f"{y}/{m:02d}/{day:02d}".translate(PERSIAN)
    if style == "compact":
        return f"{y}{m:02d}{day:02d}"
    if style == "dash":
        return f"{y}-{m}-{day}"
    return f"{y}/{m:02d}/{day:02d}"


def _martyr(street: str, rng: random.Random | None, labels: list[str]) -> str:
    """«خیابان شهید قرنی» as written, or «خیابان قرنی» (one clerk writes «شهید», another not)."""
    if "شهید " in street and rng is not None and rng.random() < 0.5:
        labels.append("martyr_dropped")
        return street.replace("شهید ", "")
    return street


def _sub(sub: str | None, full: bool) -> str:
    """The alley off the alley, after a comma: «کوچه گلستان 3» in full, «گلستان 3» short."""
    if not sub:
        return ""
    return f"، کوچه {sub}" if full and not sub.startswith("بن‌بست") else f"، {sub}"


def _mixed_digits(n: int) -> str:
    """A number half in Persian digits, as a keyboard switched mid-way types it («۱2»)."""
    s = str(n)
    return s[0].translate(PERSIAN) + s[1:] if len(s) > 1 else s.translate(PERSIAN)


def address(h: Home, rng: random.Random | None = None, labels: list[str] | None = None) -> str:
    """A home's full address; with `rng`, one agency's way of writing it (labels appended)."""
    labels = [] if labels is None else labels
    if h.sub:
        labels.append("nested_alley" if not h.sub.startswith("بن‌بست") else "dead_end")
    street = _martyr(h.street, rng, labels)
    r = rng.random() if rng is not None else 1.0
    if r < 0.25:  # Mashhad's short form: the alley numbered off its street, «پ» for the plaque
        labels.append("address_short")
        return f"مشهد، {street.split(' ', 1)[1]} {h.alley}{_sub(h.sub, False)}، پ {h.plaque}"
    if r < 0.35:
        labels.append("address_mixed_digits")
        return f"مشهد، {street}، کوچه {_mixed_digits(h.alley)}{_sub(h.sub, True)}، پلاک {h.plaque}، طبقه ۲"
    return f"مشهد، {street}، کوچه {h.alley}{_sub(h.sub, True)}، پلاک {h.plaque}"


# ---------------------------------------------------------------- the 137 hotline

GENERIC = ["پیگیری درخواست", "پیگیری", "پیگیری مجدد"]  # the hotline's own follow-up categories
DUPLICATE = "تکراری"
OPEN = ["ثبت شده", "در حال بررسی", "ارجاع به منطقه"]
CLOSED = ["انجام شد", "بسته شده", "رسیدگی شد"]
PROBLEM_TEXT = {
    "روشنایی معابر": ["چراغ‌های کوچه چند شب است خاموش است", "تیر چراغ برق روشن نمی‌شود", "لامپ چراغ کوچه سوخته"],
    "نظافت شهری": ["کوچه مدتی است جارو نشده", "نخاله ساختمانی در کوچه ریخته‌اند", "جوی آب پر از آشغال است"],
    "آسفالت": ["چاله بزرگ وسط کوچه", "آسفالت بعد از حفاری ترمیم نشده", "دست‌انداز خراب شده"],
    "فضای سبز": ["درخت خشک شده در حال افتادن است", "شاخه‌های درخت روی سیم برق افتاده", "فضای سبز آبیاری نمی‌شود"],
    "جمع‌آوری زباله": ["زباله‌ها دو روز است جمع نشده", "مخزن زباله شکسته", "بوی بد مخزن زباله"],
    "سد معبر": ["دستفروش پیاده‌رو را بسته", "مصالح ساختمانی پیاده‌رو را گرفته", "خودروی رها شده جلوی در"],
}
FOLLOW_TEXT = ["هنوز رسیدگی نشده", "شهروند مجدداً تماس گرفت، مشکل برطرف نشده", "پیگیری درخواست قبلی",
               "درخواست قبلی بدون رسیدگی بسته شده", "کسی مراجعه نکرده", "اعتراض به عدم رسیدگی"]
QUOTE = ["پیرو درخواست شماره {}", "کد رهگیری قبلی: {}", "درخواست {} هنوز انجام نشده", "شماره پیگیری {}",
         "({})", "قبلاً با کد {} ثبت شده"]
MONTHS = [31] * 6 + [30] * 5
# the district offices' numbers: citizens of one district are told to call the same one
OFFICES = {d: f"05138{d:02d}{4000 + 37 * d:04d}" for d in range(1, 14)}


def other_numbers(rng: random.Random, c: Citizen, place: Place, day: int, labels: list[str]) -> str:
    """A number in the description that is not a tracking code, as operators type them: the
    caller's mobile to call back on (any form), the district office's number (the same for
    every caller of the district), the home's postal code, a date as 14030814, a building
    permit or registered plaque number, the caller's national id."""
    kind = rng.choice(["callback", "callback", "office", "postal", "date", "permit", "nid"])
    if kind == "callback" and c.mobile:
        labels.append("callback_mobile_in_text")
        m = mobile_forms(rng, c.mobile, [])
        return rng.choice(["با شماره {} تماس بگیرید", "شماره تماس {}", "لطفاً با {} تماس گرفته شود"]).format(m)
    if kind == "office" or kind == "callback":
        labels.append("office_number_in_text")
        number = OFFICES[place.district]
        return rng.choice(["با دفتر منطقه {} هماهنگ شد", "ارجاع به دفتر منطقه (تلفن {})"]).format(
            number.translate(PERSIAN) if rng.random() < 0.4 else number)
    if kind == "postal":
        labels.append("postal_code_in_text")
        return f"کد پستی {c.home.postal}"
    if kind == "date":
        labels.append("date_in_text")
        y, m, d = _jalali(max(day - rng.randint(0, 30), 0))
        text = f"{y}{m:02d}{d:02d}"
        return f"از تاریخ {text.translate(PERSIAN) if rng.random() < 0.4 else text}"
    if kind == "permit":
        labels.append("permit_number_in_text")
        return rng.choice(["پروانه ساخت شماره {}", "پلاک ثبتی {}"]).format(rng.randint(100000, 9999999))
    labels.append("nid_in_text")
    return f"کد ملی {c.nid}"


# a status log's steps before a call's last status (`status_rows`)
STATUS_PATHS = {"در حال بررسی": [["ثبت شده"]], "ارجاع به منطقه": [["ثبت شده"], ["ثبت شده", "در حال بررسی"]],
                DUPLICATE: [["ثبت شده"]],
                **{s: [["ثبت شده"], ["ثبت شده", "در حال بررسی"], ["ثبت شده", "ارجاع به منطقه"]] for s in CLOSED}}


def _clock(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def _stamp(minute: int) -> str:
    """A status log's time stamp, `1403/08/14 10:25`, `minute` counted from 1402/01/01."""
    y, m, d = _jalali(minute // 1440)
    return f"{y}/{m:02d}/{d:02d} {_clock(minute)}"


def _jalali(day: int) -> tuple[int, int, int]:
    """Day `day` counted from 1402/01/01 as a Jalali date (1403 is a leap year)."""
    y = 1402
    while day >= (n := 366 if y == 1403 else 365):
        day, y = day - n, y + 1
    for m, length in enumerate(MONTHS + [n - 336], 1):
        if day < length:
            return y, m, day + 1
        day -= length
    raise AssertionError(day)


@dataclass
class Place:
    district: int
    street: str
    alley: int
    plaque: int
    sub: str | None = None  # the alley off the alley, as `Home.sub`
    landmark: str | None = None  # a spot by a landmark on the street, no alley (`alley` 0)

    def spot(self) -> tuple:
        return self.street, self.alley, self.sub, self.landmark


def place_forms(rng: random.Random, p: Place, labels: list[str], first: str | None) -> str:
    """The place as an operator types it; `first` is the request's first call's text."""
    own: list[str] = []  # this call's written forms, labelled on the call
    street = _martyr(p.street, rng, own)
    kind, short = street.split(" ", 1)
    abbr = {"خیابان": "خ", "بلوار": "بل"}[kind]
    if p.landmark:
        own.append("landmark")
        text = rng.choice([f"{street}، جنب {p.landmark}", f"{short} روبروی {p.landmark}",
                           f"{street}، نرسیده به {p.landmark}", f"{street} جنب {p.landmark}"])
    else:
        sub, full = _sub(p.sub, False), _sub(p.sub, True)
        if p.sub:
            own.append("nested_alley" if not p.sub.startswith("بن‌بست") else "dead_end")
        forms = [
            f"{street}، کوچه {p.alley}{full}", f"{street}، کوچه {p.alley}{sub}", f"{street} کوچه {p.alley}{full}",
            f"{short} {p.alley}{sub}", f"{abbr}. {short}، ک {p.alley}{sub}", f"{street}، نبش کوچه {p.alley}{full}",
            f"{street}، کوچه {p.alley}{full}، پلاک {p.plaque}", f"{short}، کوچه {p.alley}{full}".translate(PERSIAN),
            f"مشهد {short} {p.alley}{sub} پلاک {p.plaque}".translate(PERSIAN),
            f"{_arabic_letters(street)}، کوچه {p.alley}{full}",
            f"{short} {_mixed_digits(p.alley)}{sub}، پ {p.plaque}"]
        if p.sub and p.sub.startswith("بن‌بست"):
            forms.append(f"{short} {p.alley}/{p.sub.split()[1]}")  # «سجاد ۱۴/۳»: the dead end numbered off the alley
        k = rng.randrange(len(forms))
        text = forms[k]
        if k == 10:
            own.append("place_mixed_digits")
    labels += own
    if first is not None and text != first:
        labels.append("place_written_differently")
    return text


def hotline(rng: random.Random, adults: list[Citizen], keep, used: set[int], requests: list) -> list[dict]:
    """The 137 calls: each caller's problems, each a request of a first call and follow-ups
    (days to weeks later, the place written anew, the same or a generic category, now and then
    the earlier tracking code quoted in any digits, a duplicate status, another phone or a
    household member calling), and the traps: the same problem again long after it closed, a
    neighbour reporting the same place, a neighbour on the same street, same category."""
    calls: list[dict] = []
    history: dict[str, list[dict]] = {}  # tracking code -> its earlier status rows (`status_rows`)
    n_requests = 0

    def call(c, req, place, category, day, labels, first_place, text, status):
        labels = list(labels)
        person = []  # the person's phenomena, as the persons bench always had them
        r = rng.random()
        if r < 0.1:
            name = rng.choice(["", "ناشناس", "شهروند"])
            person.append("nameless")
        elif r < 0.25:
            name = rng.choice(["آقای ", "جناب "] if c.male else ["خانم ", "سرکار خانم "]) + c.last
            person.append("title_surname_only")
        else:  # a caller gives the half of a compound they go by more than any clerk writes it
            half = compound_half(c, f"{c.nid}-rc137-{len(calls)}", 0.35, person)
            name = name_forms(rng, c, person, father_ok=False, first=half)
        r = rng.random()
        mates = [m for m in c.home.members if m is not c and m.mobile]
        number, form = None, None  # the number called from and how it is written, for `status_rows`
        if r < 0.55 and c.mobile:
            number, form = c.mobile, mobile_forms
            phone = mobile_forms(rng, c.mobile, person)
        elif r < 0.7 and mates:
            number, form = rng.choice(mates).mobile, mobile_forms
            phone = mobile_forms(rng, number, person)
            person.append("household_mobile")
        elif r < 0.9 and c.home.landline:
            number, form = c.home.landline, landline_forms
            phone = landline_forms(rng, c.home.landline, person)
        else:
            phone = ""
            person.append("no_phone")
        code = f"137{_fresh(rng, used, 10**7, 10**8 - 1)}"
        extra = random.Random("numbers-" + code)  # its own stream: the calls stay as they were
        if extra.random() < 0.3:
            more = other_numbers(extra, c, place, day, labels)
            text = f"{text}؛ {more}" if extra.random() < 0.7 else f"{more}، {text}"
        title = None
        shape = random.Random("name-shape-" + code)  # the name field's other shapes, a stream of their own
        if "title_surname_only" in person and shape.random() < 0.35:
            # the form's title field (a drop-down) picked, the surname alone typed in the name
            title, name = ("آقای" if c.male else "خانم"), c.last
            person.append("title_in_column")
        elif name and "nameless" not in person and "title_surname_only" not in person and shape.random() < 0.08:
            # «علی رضایی فرزند حسن»: the caller names their father, the operator types it
            name += " فرزند " + (_arabic_letters(c.father) if "arabic_letters" in person else c.father)
            person.append("name_father")
        if "nameless" not in person and c.mobile and shape.random() < 0.03:
            name = phone_in_name(name, c.mobile, shape)  # the callback number typed beside the name
            person.append("phone_in_name")
        location = place_forms(rng, place, labels, first_place)
        district = place.district
        if rng.random() < 0.08:
            district = None
            labels.append("no_district")
        nid = nid_forms(rng, c, person) if rng.random() < 0.25 else None
        stamp = date_forms(rng, _jalali(day), person, rng.choice(["dash", "slash", "persian"]))
        minute = day * 1440 + rng.randint(7, 22) * 60 + rng.randint(0, 59)
        row = {"tracking": code, "caller_name": name, "caller_title": title, "caller_phone": phone,
               "caller_nid": nid, "subject": category, "region": district, "location": location,
               "description": text, "status": status, "registered": f"{stamp} {_clock(minute)}"}
        # the status log: a call's earlier statuses as rows of their own before this, its last
        steps = random.Random("status-" + code)
        path = STATUS_PATHS.get(status, [[]])
        earlier = steps.choice(path) if steps.random() < 0.1 else []
        at = minute
        for was in earlier:
            again = dict(row, status=was, status_at=_stamp(at))
            if number and steps.random() < 0.35:  # the caller's number as another screen wrote it
                again["caller_phone"] = form(steps, number, [])
                if again["caller_phone"] != phone:
                    person.append("status_rows_phone_differs")
            history.setdefault(code, []).append(again)
            at += steps.randint(20, 3 * 1440)
        if earlier:
            person.append("status_rows")
        elif status != OPEN[0]:  # a call logged once: its status set some time after it was filed
            at += steps.randint(20, 3 * 1440)
        row["status_at"] = _stamp(at)
        calls.append(row)
        h = c.home
        if place.spot() != (h.street, h.alley, h.sub, None):
            person.append("request_elsewhere")  # the call's address is the problem's, not the caller's home
        keep("rc137.calls", code, c, person)
        requests.append(("rc137.calls", code, req, tuple(dict.fromkeys(labels + person))))
        return code, location

    def quote(code: str, labels: list[str]) -> str:
        r = rng.random()
        sep = random.Random("separators-" + code + str(len(calls)))  # leaves `rng` as it was
        if sep.random() < 0.25:  # «137-1234-5678», «۱۳۷ ۱۲۳۴ ۵۶۷۸»: the code as read out
            labels.append("quoted_code_separators")
            code = sep.choice(["-", " "]).join((code[:3], code[3:7], code[7:]))
        if r < 0.4:
            labels.append("quoted_code_persian_digits")
            code = code.translate(PERSIAN)
        elif r < 0.55:
            labels.append("quoted_code_arabic_digits")
            code = code.translate(ARABIC)
        labels.append("quoted_code")
        return rng.choice(QUOTE).format(code)

    def problem(c, category, place, day, opening: list[str]) -> int:
        """One request: its first call and follow-ups; the day of its last call."""
        nonlocal n_requests
        n_requests += 1
        req = f"R{n_requests:05d}"
        follow = rng.choice([0, 0, 0, 0, 0, 1, 1, 1, 2, 3])
        text = rng.choice(PROBLEM_TEXT[category]) + (f" روبروی پلاک {place.plaque}" if rng.random() < 0.3 and place.plaque else "")
        first_code, first_place = call(c, req, place, category, day, opening, None, text,
                                       rng.choice(OPEN + CLOSED) if follow else rng.choice(CLOSED + OPEN[:1]))
        codes = [first_code]
        home_mates = [m for m in c.home.members if m is not c and m.born[0] < 1385]
        for k in range(follow):
            labels = opening + ["followup"]
            r = rng.random()
            gap = rng.randint(1, 7) if r < 0.55 else rng.randint(8, 21) if r < 0.9 else rng.randint(22, 45)
            if gap > 21:
                labels.append("late_followup")
            day += gap
            caller = c
            if home_mates and rng.random() < 0.07:
                caller = rng.choice(home_mates)
                labels.append("followup_by_household_member")
            category_now = category
            if rng.random() < 0.35:
                category_now = rng.choice(GENERIC)
                labels.append("generic_followup")
            status = rng.choice(OPEN)
            if rng.random() < 0.08:
                status = DUPLICATE
                labels.append("duplicate_status")
            text = rng.choice(FOLLOW_TEXT)
            quoting = 0.8 if caller is not c else 0.6 if gap > 21 else 0.3
            if rng.random() < quoting:
                cited = codes[0] if rng.random() < 0.7 else codes[-1]
                q = quote(cited, labels)
                text = f"{q}، {text}" if rng.random() < 0.5 else f"{text}؛ {q}"
            code, _ = call(caller, req, place, category_now, day, labels, first_place, text, status)
            codes.append(code)
        return day

    others = {}
    for c in adults:
        others.setdefault(c.home.street, []).append(c)
    for c in rng.sample(adults, int(len(adults) * 0.25)):  # about as many calls as before requests
        reported = set()  # a citizen's two problems at one place are of two categories: the same
        for _ in range(rng.choice([1, 1, 1, 1, 2])):  # one twice would be one problem to anyone
            h = c.home
            r = rng.random()
            place = (Place(h.district, h.street, h.alley, h.plaque, h.sub) if r < 0.8 else
                     Place(rng.randint(1, 13), rng.choice(STREETS), rng.randint(1, 60), rng.randint(1, 300))
                     if r < 0.9 else  # a problem by a landmark on a street, no alley
                     Place(rng.randint(1, 13), rng.choice(STREETS), 0, 0, landmark=rng.choice(LANDMARKS)))
            category = rng.choice([k for k in CATEGORIES if (place.spot(), k) not in reported])
            reported.add((place.spot(), category))
            start = rng.randint(0, 600)
            last = problem(c, category, place, start, [])
            r = rng.random()
            if r < 0.12:  # the same problem again, long after the request closed: a new request
                problem(c, category, place, last + rng.randint(60, 200), ["recurring_after_close"])
            elif r < 0.24:  # another citizen reports the same place and problem: another request
                who = rng.choice([x for x in others.get(place.street, adults) if x.home is not h] or adults)
                problem(who, category, place, start + rng.randint(0, 10), ["other_citizen_same_place"])
            elif r < 0.36:  # a neighbour on the same street, the same category, another alley
                who = rng.choice([x for x in others.get(place.street, adults) if x.home is not h] or adults)
                there = Place(place.district, place.street, (place.alley + rng.randint(1, 6)) % 60 + 1,
                              rng.randint(1, 300))  # (a landmark's neighbour: an alley of the street)
                problem(who, category, there, start + rng.randint(0, 15), ["neighbour_same_street"])
    rng.shuffle(calls)
    # a call's earlier status rows come before it, as a log ordered by time writes them (its own
    # stream: the calls' order among themselves stays as it was)
    order = random.Random(f"status-order-{len(calls)}-{calls[0]['tracking'] if calls else ''}")
    placed = [(i, 1, row) for i, row in enumerate(calls)]
    for i, row in enumerate(calls):
        earlier = history.get(row["tracking"], [])
        placed += [(at, 0, again) for at, again in zip(sorted(order.uniform(0, i) for _ in earlier), earlier)]
    return [row for _, _, row in sorted(placed, key=lambda x: (x[0], x[1]))]


# ---------------------------------------------------------------- exports

def generate(out: Path, households: int, seed: int, requests: list | None = None) -> list[tuple]:
    """Write the five exports under `out/<dataset name>/`; truth rows
    `(dataset, record id, person id, labels)`.  `requests`, when given, gets the 137 calls'
    request truth: `(dataset, tracking code, request id, labels)`."""
    requests = [] if requests is None else requests
    rng = random.Random(seed)
    people = city(rng, households)
    adults = [c for c in people if c.born[0] < 1385]
    truth: list[tuple] = []
    used: set[int] = set()  # record ids are unique unless a phenomenon re-uses one
    look = {}
    for c in people:
        others = [m for m in c.home.members if m is not c]
        look[c.pid] = tuple(x for x, ok in (
            ("twin", any(m.born == c.born and m.father == c.father for m in others)),
            ("household_surname", any(m.last == c.last for m in others)),
            ("household", bool(others))) if ok)

    def keep(dataset, rid, c, labels):
        if "shared_record_id" in labels:  # the earlier record under this id shares the phenomenon
            i = next(i for i in range(len(truth) - 1, -1, -1) if truth[i][:2] == (dataset, str(rid)))
            truth[i] = truth[i][:3] + (truth[i][3] + ("shared_record_id",),)
        truth.append((dataset, str(rid), c.pid, tuple(dict.fromkeys(labels)) + look[c.pid]))

    # tax.taxpayers: UTF-8 with BOM, one name field
    rows = []
    for c in rng.sample(adults, int(len(adults) * 0.5)):
        for copy in range(2 if rng.random() < 0.08 else 1):
            labels = ["within_source_duplicate"] if copy else []
            rid = f"T-{_fresh(rng, used, 100000, 999999)}"
            half = compound_half(c, f"{c.nid}-tax-{rid}", 0.08, labels)
            rows.append({"ردیف": 0, "شماره پرونده": rid, "نام و نام خانوادگی": name_forms(rng, c, labels, first=half),
                         "کد ملی": nid_forms(rng, c, labels) if rng.random() < 0.95 else "",
                         "نام پدر": c.father if rng.random() < 0.7 else "",
                         "تاریخ تولد": date_forms(rng, c.born, labels, rng.choice(["slash", "persian"])),
                         "تلفن همراه": mobile_forms(rng, c.mobile, labels) if c.mobile and rng.random() < 0.85 else "",
                         "تلفن ثابت": landline_forms(rng, c.home.landline, labels) if c.home.landline and rng.random() < 0.5 else "",
                         "نشانی": address(c.home, rng, labels), "کد پستی": c.home.postal})
            keep("tax.taxpayers", rid, c, labels)
    rng.shuffle(rows)
    for i, r in enumerate(rows, 1):
        r["ردیف"] = i
    _csv(out / "taxpayers" / "taxpayers.csv", rows, "utf-8-sig")

    # permits.cases: Windows-1256 as Excel saves it; a case number passes to a new owner
    rows, cases = [], []
    owners = rng.sample(adults, int(len(adults) * 0.3))
    for c in owners:
        labels = []
        reused = cases and rng.random() < 0.05
        case = rng.choice(cases) if reused else f"{rng.randint(1398, 1403)}{_fresh(rng, used, 1000, 9999)}"
        if reused:
            labels.append("shared_record_id")
        cases.append(case)
        half = compound_half(c, f"{c.nid}-permits-{len(rows)}", 0.05, labels)
        owner = (name_forms(rng, c, labels, titles=False, first=half) if rng.random() < 0.6
                 else f"{half or c.first} {c.last} فرزند {c.father}")
        if "فرزند" in owner and "name_father" not in labels:
            labels.append("name_father")
        phone = c.mobile if c.mobile and rng.random() < 0.7 else None
        row = {"شماره پرونده": case, "نام مالک": owner, "کد ملی مالک": nid_forms(rng, c, labels, as_number=True),
               "تلفن": str(int(phone)) if phone else "", "نشانی ملک": address(c.home),
               "منطقه": c.home.district, "تاریخ صدور": date_forms(rng, (rng.randint(1398, 1403), rng.randint(1, 12), rng.randint(1, 29)), [], "compact"),
               "تعداد طبقات": rng.randint(1, 6)}
        if phone:
            labels.append("mobile_10digit")
        rows.append(row)
        keep("permits.cases", case, c, labels + ["cp1256", "arabic_letters"])
    # the file holds every row; a re-used case number is in it twice
    _csv(out / "cases" / "cases.csv", rows, "cp1256")

    # rc137.calls: JSON lines, a request group per problem (its own random stream, so changes
    # to the hotline move no other export)
    calls = hotline(random.Random(seed * 7919 + 137), adults, keep, used, requests)
    (out / "calls").mkdir(parents=True)
    (out / "calls" / "calls.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in calls), "utf-8")

    # water.bills: an .xlsx sheet, numbers as numbers
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "مشترکین"
    ws.append(["شناسه قبض", "نام مشترک", "کد ملی", "شماره تماس", "نشانی", "کد پستی", "مبلغ (ریال)"])
    homes = {c.home.hid: c.home for c in people}
    for home in homes.values():
        if rng.random() > 0.6:
            continue
        grown = [m for m in home.members if m.born[0] < 1385]
        for c in rng.sample(grown, min(len(grown), rng.choice([1, 1, 2]))):
            labels, halved = [], []
            first = compound_half(c, f"{c.nid}-water-{home.hid}", 0.15, halved) or c.first
            sur_first = rng.random() < 0.7
            name = (f"{c.last} {first}" if sur_first else f"{first} {c.last}")
            if sur_first:
                labels.append("name_surname_first")
            if rng.random() < 0.1:
                name, labels = c.last, labels + ["surname_only"]
            else:
                labels += halved
            if c.old_mobile and rng.random() < 0.8:
                phone = int(c.old_mobile)
                labels += ["reused_number", "mobile_10digit"]
            elif c.mobile and rng.random() < 0.6:
                phone = int(c.mobile)
                labels.append("mobile_10digit")
            elif home.landline:
                phone = int(home.landline) if rng.random() < 0.5 else int("51" + home.landline)
                labels += ["landline"] + ([] if phone > 10**8 else ["landline_no_area"])
            else:
                phone = None
                labels.append("no_phone")
            bill = _fresh(rng, used, 10**9, 10**10 - 1)
            nid = nid_forms(rng, c, labels, as_number=True) if rng.random() < 0.6 else None
            if c.mobile and random.Random(f"name-shape-{bill}").random() < 0.03:
                name = phone_in_name(name, c.mobile, random.Random(f"phone-in-name-{bill}"))
                labels.append("phone_in_name")
            ws.append([bill, name, int(nid) if nid else None, phone, address(home), int(home.postal),
                       rng.randint(10, 900) * 10000])
            keep("water.bills", bill, c, labels + ["xlsx"])
    (out / "bills").mkdir(parents=True)
    wb.save(out / "bills" / "bills.xlsx")

    # welfare.clients: a JSON document, records under result.items
    items, ids = [], []
    for c in rng.sample(people, int(len(people) * 0.3)):
        for copy in range(2 if rng.random() < 0.06 else 1):
            labels = ["within_source_duplicate"] if copy else []
            reused = ids and rng.random() < 0.03
            cid = rng.choice(ids) if reused else _fresh(rng, used, 10000, 99999)
            if reused:
                labels.append("shared_record_id")
            ids.append(cid)
            first = compound_half(c, f"{c.nid}-welfare-{len(items)}", 0.05, labels) or c.first
            r = rng.random()
            if c.seyyed and r < 0.6:
                first = ("سید " if c.male else "سیده ") + first
                labels.append("seyyed")
            elif r < 0.2:
                first = rng.choice(["حاج ", "مهندس "] if c.male else ["حاجیه ", "خانم "]) + first
                labels.append("title")
            items.append({"client_id": cid, "first_name": first, "last_name": c.last,
                          "father": c.father if rng.random() < 0.8 else None,
                          "nid": nid_forms(rng, c, labels).translate(ARABIC) if rng.random() < 0.9 else None,
                          "birth": date_forms(rng, c.born, labels, rng.choice(["persian", "dash", "slash"])),
                          "sex": rng.choice(["مرد", "آقا"] if c.male else ["زن", "خانم"]),
                          "cell": mobile_forms(rng, c.mobile, labels) if c.mobile and rng.random() < 0.8 else None,
                          "addr": address(c.home, rng, labels) if rng.random() < 0.7 else None})
            keep("welfare.clients", cid, c, labels + ["arabic_digits"])
    (out / "clients").mkdir(parents=True)
    (out / "clients" / "clients.json").write_text(json.dumps({"result": {"count": len(items), "items": items}},
                                                             ensure_ascii=False, indent=1), "utf-8")
    return truth


def _fresh(rng: random.Random, used: set[int], lo: int, hi: int) -> int:
    while (n := rng.randint(lo, hi)) in used:
        pass
    used.add(n)
    return n


def _csv(path: Path, rows: list[dict], encoding: str) -> None:
    path.parent.mkdir(parents=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        fix = _arabic_letters if encoding == "cp1256" else str  # Windows-1256 has no Persian ی or ک:
        w.writerow([fix(k) for k in rows[0]])                   # Excel writes the Arabic letters, header too
        for r in rows:
            w.writerow([fix(str(v)) for v in r.values()])
