"""Dates and times as subsystems write them (Jalali or Gregorian, any digits) → ISO 8601.

A four-digit year below 1700 is Jalali (۱۴۰۳/۰۸/۱۴, 1403-8-14, 14 آبان 1403, 14030814); the
Jalali calendar (month lengths, leap years) comes from `jdatetime`.  A weekday before the date
(«دوشنبه ۱۴ آبان ۱۴۰۳») and a time before it («۱۰:۳۰ - ۱۴۰۳/۰۸/۱۴») are read too.  Day-first dates are read
as d/m/y; a Gregorian one where day and month could swap is refused rather than guessed.
Conversions are cached: birth dates repeat across millions of records.
"""
from __future__ import annotations

import datetime as dt
import functools
import re

from munihub.persian.letters import NormalizeError, match_key, to_latin_digits

JALALI_MONTHS = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر",
                 "دی", "بهمن", "اسفند")
_MONTH_EN = ("Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar", "Mehr",
             "Aban", "Azar", "Dey", "Bahman", "Esfand")
_MONTH_BY_KEY = {match_key(m): i for i, m in enumerate(JALALI_MONTHS, 1)}
_MONTH_BY_KEY.update({m.lower(): i for i, m in enumerate(_MONTH_EN, 1)})
# Gregorian months in English, as a contractor's system writes them («Nov 4 1984», «4 Nov 1984»,
# «November 4, 1984 02:28 PM»): no name is also a Jalali month's, and the year (1700 or later)
# keeps the date Gregorian
_GREGORIAN_EN = {name: i for i, full in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                                  "august", "september", "october", "november", "december"), 1)
                 for name in {full, full[:3], full[:4]}}
_MONTH_FIRST = re.compile(r"([a-z]{3,9})\.?\s*(\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(\d{4})(.*)", re.I | re.S)

_CLEAN = str.maketrans({"٫": "/", "٬": "/", "⁄": "/", "／": "/", "\\": "/", "،": " ",
                        "\u200c": " ", "\u200f": None, "\u200e": None, "\u061c": None})
_NAMED = re.compile(r"(\d{1,2})\s*([^\d]+?)\s*(\d{4}|\d{2}(?!\d))(.*)", re.S)
# Era words after a date: «ه.ش»/«هجری شمسی» (Jalali), «م»/«میلادی» (Gregorian); they add nothing.
_ERA = re.compile(r"\s*(?:ه\s*ـ*\s*\.?\s*ش\.?|هجری\s*شمسی|شمسی|میلادی|م\.?)\s*$")
# A lunar Hijri date's era («۱۴۲۷/۰۳/۱۵ ق», «ه.ق», «قمری»): another calendar, never read as Jalali.
_LUNAR = re.compile(r"(?:\s|\d)(?:ه\s*ـ*\s*\.?\s*ق\.?|هجری\s*قمری|قمری|ق\.?)\s*$")
_SEP = r"\s*[/\-.\s]\s*"
_DATE = re.compile(rf"(\d{{1,4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,4}})(?:(?:\s*[T,\-]\s*|\s+)(.+))?",
                   re.I | re.S)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:(?:\s*T\s*|\s+)(.+)|(\d{2})(\d{2})(\d{2})?)?", re.I | re.S)
_TIME = re.compile(
    r"(?:ساعت\s*)?(\d{1,2})[:.](\d{2}|\d(?=\s|$))(?:[:.](\d{2})(?:[.,](\d{1,9}))?)?\s*"
    r"(am|pm|a\.m\.|p\.m\.|ق\.?\s?ظ\.?|ب\.?\s?ظ\.?|صبح|عصر|بعدازظهر|بعد از ظهر)?\s*"
    r"(z|[+-]\d{2}:?\d{2})?", re.I)
_PM = ("pm", "p.m.", "عصر", "بعدازظهر", "بعد از ظهر")
# A weekday before the date, as calendars and letters write it: «چهارشنبه ۱۴ آبان ۱۴۰۳»,
# «سه‌شنبه، 1403/08/13» (the half-space is a space by now); Arabic ي/ك forms too.
_WEEKDAY = re.compile(r"(?:روز\s*)?(?:(?:[یي][کك]|دو|سه|چهار|پنج)\s*)?شنبه\s*[,\-]?\s*|(?:روز\s*)?جمعه\s*[,\-]?\s*")
# A time before the date: «10:22 1403/08/14», «۱۰:۲۲ - ۱۴۰۳/۰۸/۱۴».
_TIME_FIRST = re.compile(r"(\d{1,2}:\d{2}(?::\d{2})?)\s*[\-,]?\s*(?=\d)")
_MAX_LEN = 64


def _bad(value, why: str, why_fa: str, code: str = "invalid") -> NormalizeError:
    shown = str(value)[:40]
    return NormalizeError(f"date {shown!r} {why}", f"تاریخ «{shown}» {why_fa}", code=code)


@functools.lru_cache(maxsize=65536)
def jalali_to_iso(y: int, m: int, d: int) -> str:
    """ISO Gregorian date of a Jalali day; NormalizeError naming the month if it does not exist."""
    import jdatetime  # lazy: 25 ms import
    if not 1 <= m <= 12:
        raise _bad(f"{y}/{m:02d}/{d:02d}", f"has month {m}; Jalali months are 1-12",
                   f"ماه {m} دارد؛ ماه‌ها ۱ تا ۱۲ هستند", "range")
    days = 31 if m <= 6 else 30
    if 1 <= d <= days:
        try:
            return jdatetime.date(y, m, d).togregorian().isoformat()
        except ValueError:        # only Esfand 30 of a common year gets here
            days = 29
    note = f" ({y} is not a leap year)" if m == 12 and d == 30 else ""
    raise _bad(f"{y}/{m:02d}/{d:02d}",
               f"does not exist: {_MONTH_EN[m - 1]} (month {m}) has {days} days{note}",
               f"وجود ندارد: {JALALI_MONTHS[m - 1]} {days} روز دارد", "range")


def _to_iso(value, y: int, m: int, d: int) -> str:
    if y < 1700:
        if y < 1200:
            raise _bad(value, f"has year {y}; write a four-digit Jalali (13xx/14xx) or "
                       "Gregorian year", f"سال {y} دارد؛ سال را چهاررقمی بنویسید", "range")
        iso = jalali_to_iso(y, m, d)
        if iso > "2199-12-31":  # the Gregorian bound below, so an accepted date reads back as itself
            raise _bad(value, f"has year {y}, too far in the future", f"سال {y} نامعقول است", "range")
        return iso
    if y > 2199:
        raise _bad(value, f"has year {y}, too far in the future", f"سال {y} نامعقول است", "range")
    try:
        return dt.date(y, m, d).isoformat()
    except ValueError as exc:
        raise _bad(value, f"is not a Gregorian calendar day ({exc})",
                   "روز معتبری در تقویم میلادی نیست", "range") from None


def _short_year(value, a: str, b: str, c: str, century: int, day_first: bool | None = None) -> tuple[int, int, int]:
    """(year, month, day) of a date written with a two-digit year, `62/6/4` or `4/6/62`, in the
    century the contract names (`date:13`): the year is the part that cannot be a day; where
    both could be, a Jalali date is year first, as Persian writes it (`02/1/15` is 1402/01/15)."""
    first, last = int(a), int(c)
    if last > 31 >= first:  # year last: day and month in the order four-digit years take
        return _order(value, a, b, str(century * 100 + last), day_first=day_first)
    if first > 31 >= last or (century < 17 and last <= 31):
        return century * 100 + first, int(b), last
    raise _bad(value, "has a two-digit year that could be its first or its last part; write the year "
               "with four digits", "سال دورقمی دارد و معلوم نیست کدام بخش سال است؛ سال را چهاررقمی بنویسید",
               "ambiguous")


def _order(value, a: str, b: str, c: str, century: int | None = None,
           day_first: bool | None = None) -> tuple[int, int, int]:
    """(year, month, day) from three date parts in either year-first or year-last order; a
    Gregorian year-last date that fits both orders is read in the contract's (`day_first`:
    `date:dmy` True, `date:mdy` False), else refused."""
    if century and len(a) <= 2 and len(c) <= 2:
        return _short_year(value, a, b, c, century, day_first)
    if len(a) == 4 and len(c) <= 2:
        return int(a), int(b), int(c)
    if len(c) == 4 and len(a) <= 2:
        y, first, second = int(c), int(a), int(b)
        if y < 1700 or first > 12 or first == second:
            return y, second, first                    # Iranian order: day/month/year
        if second > 12 or day_first is False:
            return y, first, second                    # only month/day fits, or the contract says so
        if day_first:
            return y, second, first
        raise _bad(value, "could be day/month or month/day; write it year first (YYYY-MM-DD), "
                   "or name the order in the contract (transformLogic date:dmy or date:mdy)",
                   "مبهم است (روز/ماه یا ماه/روز)؛ سال را اول بنویسید", "ambiguous")
    if len(a) <= 2 and len(c) <= 2:  # a two-digit year: which century is the contract's to say
        raise _bad(value, "has a two-digit year; name its century in the contract (transformLogic "
                   "date:14 or datetime:14 for Jalali 14xx such as 03/08/14, date:13 for 13xx, date:19 or "
                   "date:20 for Gregorian) or write the year with four digits",
                   "سال دورقمی دارد؛ قرن آن را در قرارداد بنویسید (date:14) یا سال را چهاررقمی بنویسید", "format")
    raise _bad(value, "needs a four-digit year", "باید سال چهاررقمی داشته باشد", "format")


def _time(value, text: str) -> str:
    """'HH:MM:SS[.ffffff][±HH:MM]' from a time part; NormalizeError if it is not a time."""
    t = _TIME.fullmatch(text.strip())
    if t is None:
        raise _bad(value, "has a time part that is not HH:MM[:SS]", "ساعت نامعتبر دارد", "format")
    h, mi, s = int(t[1]), int(t[2]), int(t[3] or 0)
    if t[5]:
        if not 1 <= h <= 12:
            raise _bad(value, f"has hour {h} with am/pm", f"ساعت {h} با ق.ظ/ب.ظ دارد", "range")
        h = h % 12 + (12 if t[5].lower().replace(" ", "") in _PM or t[5].startswith("ب") else 0)
    if h > 23 or mi > 59 or s > 59:
        raise _bad(value, f"has time {h:02d}:{mi:02d}:{s:02d} outside the day",
                   "ساعت خارج از شبانه‌روز دارد", "range")
    out = f"{h:02d}:{mi:02d}:{s:02d}"
    if t[4]:
        out += "." + t[4][:6].ljust(6, "0")
    if t[6]:
        tz = t[6].upper()
        if tz == "Z":
            return out + "+00:00"
        sign, digits = tz[0], tz[1:].replace(":", "")
        if int(digits[:2]) > 14 or int(digits[2:]) > 59:
            raise _bad(value, f"has time zone {tz} out of range", "منطقهٔ زمانی نامعتبر دارد", "range")
        out += f"{sign}{digits[:2]}:{digits[2:]}"
    return out


def _parse(value, century: int | None = None, day_first: bool | None = None) -> tuple[str, str | None]:
    """(ISO date, ISO time or None) of any supported date value."""
    if value is None or isinstance(value, bool):
        raise NormalizeError("date is empty", "تاریخ خالی است", code="empty")
    if isinstance(value, dt.datetime):
        return _date_object(value.date()), value.isoformat(
            timespec="microseconds" if value.microsecond else "seconds")[11:]
    if isinstance(value, dt.date):
        return _date_object(value), None
    if type(value).__module__.startswith("jdatetime") and hasattr(value, "togregorian"):
        return _parse(value.togregorian(), century, day_first)
    if isinstance(value, (int, float)) and _EXCEL_SERIALS[0] <= value < _EXCEL_SERIALS[1]:
        return _excel_serial(value)
    if isinstance(value, float) and value.is_integer():  # a spreadsheet's 14030814 as a number
        value = int(value)
    if isinstance(value, int):
        value = str(value)
        if len(value) != 8:
            raise _bad(value, "is a number but not YYYYMMDD", "عدد است ولی به شکل YYYYMMDD نیست")
    if not isinstance(value, str):
        raise _bad(value, f"is a {type(value).__name__}, not a date", "تاریخ نیست", "type")
    if len(value) > _MAX_LEN:
        raise _bad(value, "is too long to be a date", "برای تاریخ بیش از حد بلند است", "format")
    return _parse_text(value, century, day_first)


# A spreadsheet cell holding a date as Excel's serial number (days since 1899-12-30, a
# fraction of a day for the time: 45600.5 is 2024-11-04 12:00), as a cell formatted "General"
# or a CSV saved from it hands it: 10000–99999 are 1927–2173, and no YYYYMMDD date.
_EXCEL_SERIALS = (10_000, 100_000)
_SERIAL_TEXT = re.compile(r"[1-9][0-9]{4}(?:\.[0-9]+)?")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def _excel_serial(value: float) -> tuple[str, str | None]:
    moment = _EXCEL_EPOCH + dt.timedelta(days=float(value))
    moment = moment.replace(microsecond=0) + dt.timedelta(seconds=round(moment.microsecond / 1e6))
    time = moment.time().isoformat() if moment.time() != dt.time() else None
    return moment.date().isoformat(), time


def _date_object(value: dt.date) -> str:
    """ISO date of a driver's date: a year before 1700 is a Jalali date a system kept in a
    DATE column (1403-08-14 is a valid Gregorian date to the database), read as Jalali."""
    if value.year < 1700:
        return _to_iso(value.isoformat(), value.year, value.month, value.day)
    return value.isoformat()


@functools.lru_cache(maxsize=65536)
def _parse_text(value: str, century: int | None = None, day_first: bool | None = None) -> tuple[str, str | None]:
    """`_parse` of a string, cached: the same dates recur across millions of records."""
    text = to_latin_digits(value).translate(_CLEAN).strip()
    if not text:
        raise NormalizeError("date is empty", "تاریخ خالی است", code="empty")
    if _SERIAL_TEXT.fullmatch(text):  # «45600» in a CSV saved from a General cell: the number as text
        return _excel_serial(float(text))
    if text[-1] > "\u0600":
        if _LUNAR.search(text):
            raise _bad(value, "is a lunar Hijri date (ق, قمری); the hub reads Jalali and Gregorian dates: "
                       "convert it at the source", "تاریخ قمری است؛ آن را به شمسی یا میلادی برگردانید", "calendar")
        text = _ERA.sub("", text)
    if text[0] > "\u0600" and (weekday := _WEEKDAY.match(text)):
        text = text[weekday.end():]
    if text[2:3] == ":" or text[1:2] == ":":
        first = _TIME_FIRST.match(text)
        if first:
            text = f"{text[first.end():]} {first[1]}"
    named = _NAMED.fullmatch(text)
    if named:
        word = named[2].strip(" ,.-")
        month = _MONTH_BY_KEY.get(match_key(word.replace("ماه", "")))
        if month:
            text = f"{named[3]}/{month}/{named[1]}{named[4]}"
        elif len(named[3]) == 4 and (month := _GREGORIAN_EN.get(word.rstrip(".").lower())):
            text = f"{named[3]}-{month}-{named[1]}{named[4]}"
    elif text[0].isascii() and text[0].isalpha() and (first := _MONTH_FIRST.fullmatch(text)) and \
            (month := _GREGORIAN_EN.get(first[1].lower())):
        text = f"{first[3]}-{month}-{first[2]}{first[4]}"
    m = _DATE.fullmatch(text)
    if m:
        y, mo, d = _order(value, m[1], m[2], m[3], century, day_first)
    else:
        m = _COMPACT.fullmatch(text)
        if m is None:
            raise _bad(value, "is not a date (expected 1403/08/14 or 2024-11-04)",
                       "تاریخ نیست (نمونه: ۱۴۰۳/۰۸/۱۴)", "format")
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
        if m[5]:  # «14030814102200»: the time's digits run on
            return _to_iso(value, y, mo, d), _time(value, f"{m[5]}:{m[6]}:{m[7] or '00'}")
    iso = _to_iso(value, y, mo, d)
    return iso, _time(value, m[4]) if m[4] else None


def parse_date(value, century: int | None = None, day_first: bool | None = None) -> str:
    """ISO Gregorian `YYYY-MM-DD` of a Jalali or Gregorian date (a time part is checked, then
    dropped).  Raises NormalizeError for empty, malformed or non-existent dates.  A two-digit
    year (`62/6/4`, as old registries wrote birth dates) is read only with a `century` (13), and
    a Gregorian date written year last that fits both orders (04/11/2024) only with `day_first`.
    Also read: a driver's date (a year before 1700 is Jalali, kept in a DATE column), a number
    YYYYMMDD, and a spreadsheet's serial day number (10000–99999)."""
    return _parse(value, century, day_first)[0]


def parse_datetime(value, century: int | None = None, day_first: bool | None = None) -> str:
    """ISO 8601 `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]`; a date without a time gets 00:00:00,
    so date-time fields always hold one shape."""
    day, time = _parse(value, century, day_first)
    return f"{day}T{time or '00:00:00'}"


@functools.lru_cache(maxsize=65536)
def _jalali_of(iso: str) -> str:
    import jdatetime
    j = jdatetime.date.fromgregorian(date=dt.date.fromisoformat(iso))
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


def to_jalali(iso) -> str:
    """Jalali display form `1403/08/14` of an ISO date (or anything `parse_date` reads)."""
    return _jalali_of(parse_date(iso))
