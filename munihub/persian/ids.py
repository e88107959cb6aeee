"""Iranian identifiers: national id (کد ملی), mobile, postal code, and gender codes.

Each `parse_*` takes what a subsystem really stores (Persian digits, dashes, spaces, an int
that lost its leading zeros, +98/0098 prefixes, a label around the one number: «کد ملی: ۰۰۱…»)
and returns the one canonical form, or raises
`NormalizeError` saying what is wrong.  Messages mask national ids and mobiles to the last 4
digits: quarantine reasons are shown to stewards and written to logs.
"""
from __future__ import annotations

import functools
import re
from operator import add, itemgetter, methodcaller

from munihub.persian.letters import NormalizeError, match_key, to_latin_digits

# What a number is written with inside it: spaces, dashes, dots, brackets ('/' too, except
# between phones: «…۱۲۳۴/۵»), and the half-spaces and bidi marks Excel copies carry along.
_INSIDE = r"\s\-\u2010-\u2015\u2212_.()"
_MARKS = r"\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
_SEPARATORS = re.compile(rf"[{_INSIDE}/{_MARKS}]+")
# One number written with separators inside it, among other characters.
_DIGIT_RUN = re.compile(rf"[0-9]+(?:[{_INSIDE}/]+[0-9]+)*")
_FLOAT_TEXT = re.compile(r"(\d+)\.0+")             # '923456789.0' from a spreadsheet export
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE]\+?\d{1,2}")   # '9.23456783E+08', same origin


def _mask(digits: str) -> str:
    return "******" + digits[-4:] if len(digits) > 4 else "****"


def _digits(value, what: str, what_fa: str) -> str:
    """ASCII digits of an id-like value, separators dropped; NormalizeError if anything else."""
    if value is None or isinstance(value, bool):
        raise NormalizeError(f"{what} is empty", f"{what_fa} خالی است", code="empty")
    if isinstance(value, int):
        if value < 0:
            raise NormalizeError(f"{what} is negative", f"{what_fa} منفی است", code="invalid")
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer() \
                or value < 0:
            raise NormalizeError(f"{what} is not a whole number", f"{what_fa} عدد صحیح نیست")
        return str(int(value))
    text = str(value)
    if text.isascii() and text.isdigit():
        return text                                   # the common, clean case
    text = to_latin_digits(text).strip()
    float_text = _FLOAT_TEXT.fullmatch(text)
    if float_text:
        text = float_text.group(1)
    elif _SCIENTIFIC.fullmatch(text) and float(text).is_integer():
        mantissa, _, exponent = text.upper().partition("E")
        if len(mantissa.partition(".")[2]) < int(exponent):
            # '9.15123E+09': a spreadsheet showed a 10-digit number in a narrow column and kept
            # six digits of it; the zeros float() would fill in are not the number's digits
            raise NormalizeError(f"{what} was rounded by a spreadsheet (written as 1.2E+09, it keeps only "
                                 f"{len(mantissa.replace('.', ''))} of its digits); format the column as text "
                                 "and export again",
                                 f"{what_fa} در صفحه‌گسترده گرد شده و رقم‌هایش از دست رفته است؛ ستون را "
                                 "متنی کنید و دوباره خروجی بگیرید", code="rounded")
        text = str(int(float(text)))
    digits = _SEPARATORS.sub("", text)
    if not digits:
        raise NormalizeError(f"{what} is empty", f"{what_fa} خالی است", code="empty")
    if not (digits.isascii() and digits.isdigit()):
        runs = _DIGIT_RUN.findall(text)
        if len(runs) == 1 and len(runs[0]) >= 5:  # one number among words: «کد ملی: ۰۰۱۲۳۴۵۶۷۹»
            return _SEPARATORS.sub("", runs[0])
        raise NormalizeError(f"{what} contains letters or symbols; write digits only",
                             f"{what_fa} حرف یا نماد دارد؛ فقط رقم بنویسید", code="characters")
    return digits


# --------------------------------------------------------------------------- national id
# The one implementation of the check digit (mod 11, weights 10…2).  Partial weighted sums
# of every 3-digit chunk make it three dict lookups (validation calls it once per record),
# and a missing key means a character that is not an ASCII digit.
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_CHUNKS = tuple({f"{n:03d}": sum(int(c) * w for c, w in zip(f"{n:03d}", _WEIGHTS[k:k + 3])) for n in range(1000)}
                for k in (0, 3, 6))
_CHECK_CHAR = tuple(str(r if r < 2 else 11 - r) for r in range(11))
REPEATED_DIGITS = frozenset(str(d) * 10 for d in range(10))
NATIONAL_ID_WEIGHTS = _WEIGHTS


def check_char_of_sum(total: int) -> str:
    """The check digit (a character) of nine digits whose sum weighted by NATIONAL_ID_WEIGHTS is
    `total`: for callers that move the sum a digit at a time (resolve.match.typo_variants)."""
    return _CHECK_CHAR[total % 11]


def _check_char(digits: str) -> str | None:
    """The check digit, as a character, of the first nine characters; None if one is no ASCII digit."""
    a, b, c = _CHUNKS[0].get(digits[:3]), _CHUNKS[1].get(digits[3:6]), _CHUNKS[2].get(digits[6:9])
    if a is None or b is None or c is None:
        return None
    return _CHECK_CHAR[(a + b + c) % 11]


def national_id_check_digit(first9: str) -> int:
    """Check digit of a national id from its first nine digits (any digit script)."""
    digits = to_latin_digits(str(first9))
    check = _check_char(digits) if len(digits) == 9 else None
    if check is None:
        raise NormalizeError("a national id check digit needs exactly nine digits",
                             "برای رقم کنترل کد ملی دقیقاً نه رقم لازم است", code="length")
    return int(check)


def national_id_problem(value: str) -> str | None:
    """Why ten ASCII characters are no national id ('length', 'repeated', 'check'), or None."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return "length"
    if value in REPEATED_DIGITS:
        return "repeated"
    return None if _check_char(value) == value[9] else "check"


def is_national_id(value: str) -> bool:
    """`national_id_problem(value) is None`, on the hot path: no normalization, ASCII only."""
    return len(value) == 10 and value not in REPEATED_DIGITS and _check_char(value) == value[9]


def parse_national_id(value) -> str:
    """کد ملی as 10 ASCII digits; 8 or 9 digits are left-padded (zeros lost in spreadsheets).

    Raises NormalizeError for a wrong length, letters, all-same digits or a bad check digit.
    """
    if value.__class__ is str and value.isascii() and value.isdigit() and is_national_id(value):
        return value  # how registries store it: what the rest returns, in a third of the time
    digits = _digits(value, "national id", "کد ملی")
    if len(digits) in (8, 9):
        digits = digits.zfill(10)
    if len(digits) != 10:
        raise NormalizeError(
            f"national id {_mask(digits)} has {len(digits)} digits; it needs 10",
            f"کد ملی {_mask(digits)} {len(digits)} رقم دارد؛ باید ۱۰ رقم باشد", code="length")
    if digits.count(digits[0]) == 10:
        raise NormalizeError(f"national id {_mask(digits)} repeats one digit; it is a placeholder",
                             f"کد ملی {_mask(digits)} از یک رقم تکراری است و معتبر نیست",
                             code="repeated")
    if _check_char(digits) != digits[9]:
        raise NormalizeError(
            f"national id {_mask(digits)} has a wrong check digit; re-type it from the card",
            f"رقم کنترل کد ملی {_mask(digits)} نادرست است؛ آن را از روی کارت دوباره وارد کنید",
            code="check_digit")
    return digits


def is_valid_national_id(value) -> bool:
    """Whether `parse_national_id` accepts the value (so 9 digits with a lost zero count)."""
    try:
        parse_national_id(value)
    except NormalizeError:
        return False
    return True


# --------------------------------------------------------------------------- mobile
# Iran's mobile and fixed-line national-number patterns, as phonenumbers' metadata for IR
# has them (9.0.43, the pinned version).  Copied, not read from the library at run time:
# importing phonenumbers and loading its IR metadata cost ~40 ms of every process that reads
# a phone number, a twentieth of a 1 % incremental sync.  `tests/test_normalize.py` fails
# when the installed phonenumbers says otherwise (copy its patterns again then).
IR_MOBILE_PATTERN = (r"9(?:(?:0[0-5]|[13]\d|2[0-3])\d\d|9(?:[0-46]\d\d|5(?:10|5\d)|8(?:[12]\d|3[0-2]|88)"
                     r"|9(?:[0-359]\d|69|77|8[7-9])))\d{5}")
IR_FIXED_LINE_PATTERN = (r"(?:1[137]|2[13-68]|3[1458]|4[145]|5[1468]|6[16]|7[1467]|8[13467])"
                         r"(?:[03-57]\d{7}|[16]\d{3}(?:\d{4})?|[289]\d{3}(?:\d(?:\d{3})?)?)"
                         r"|94(?:000[09]|(?:12\d|30[0-2])\d|2(?:[02689]0\d|121)|4(?:111|40\d))\d{4}")


@functools.lru_cache(maxsize=1)
def _ir_patterns() -> tuple[re.Pattern, re.Pattern]:
    """Iran's mobile and fixed-line national-number patterns (phonenumbers' metadata)."""
    return re.compile(IR_MOBILE_PATTERN), re.compile(IR_FIXED_LINE_PATTERN)


def _national_number(value, what: str, what_fa: str) -> tuple[str, str]:
    """(all digits, Iranian national number without 0/+98/0098) of a phone-like value."""
    plus = False
    if isinstance(value, str):
        value = to_latin_digits(value).strip()
        plus = value.startswith("+")
        value = value[1:] if plus else value
    digits = _digits(value, what, what_fa)
    national = digits
    if digits.startswith("0098"):
        national = digits[4:]
    elif digits.startswith("98") and len(digits) >= 12:
        national = digits[2:]
    elif plus:
        raise NormalizeError(f"{what} …{digits[-4:]} has a foreign country code; Iran's is +98",
                             f"{what_fa} …{digits[-4:]} پیش‌شماره کشور ایران (+98) ندارد",
                             code="country")
    return digits, national[1:] if national.startswith("0") else national


def parse_mobile(value) -> str:
    """Iranian mobile in E.164, `+989151234567`, from 0915…, 915…, +98…, 0098…, 98….

    The operator range is checked against phonenumbers' metadata; a landline or a number of
    the wrong length raises NormalizeError.
    """
    digits, national = _national_number(value, "mobile", "شماره همراه")
    mobile_re, fixed_re = _ir_patterns()
    if len(national) == 10 and national[0] == "9":
        if mobile_re.fullmatch(national):
            return "+98" + national
        raise NormalizeError(f"mobile 0{national[:3]}…{national[-4:]} is not in an Iranian "
                             "mobile range; check the operator prefix",
                             f"شماره همراه 0{national[:3]}…{national[-4:]} پیش‌شماره اپراتور "
                             "معتبری ندارد", code="range")
    if national and national[0] in "12345678" and fixed_re.fullmatch(national):
        raise NormalizeError(f"0{national[:2]}…{national[-4:]} is a landline, not a mobile; "
                             "put it in `phone`",
                             f"0{national[:2]}…{national[-4:]} تلفن ثابت است، نه همراه",
                             code="landline")
    raise NormalizeError(f"mobile …{digits[-4:]} has {len(digits)} digits; an Iranian mobile "
                         "is 09 and nine more digits",
                         f"شماره همراه …{digits[-4:]} {len(digits)} رقم دارد؛ همراه باید "
                         "۱۱ رقم و با ۰۹ شروع شود", code="length")


def is_valid_mobile(value) -> bool:
    """Whether `parse_mobile` accepts the value."""
    try:
        parse_mobile(value)
    except NormalizeError:
        return False
    return True


# --------------------------------------------------------------------------- landline
def parse_phone(value, default_area: str | None = None) -> str:
    """Iranian phone (landline or mobile) in E.164, e.g. 051-3800-1234 → `+985138001234`.

    An 8-digit local number needs `default_area` (the city code without 0, "51" for Mashhad);
    without it the number is refused rather than guessed.  A field that holds more than one
    number, or words around one («۰۹۱۵۱۲۳۴۵۶۷ - ۰۵۱۳۸۰۰۱۲۳۴»، «همراه: ۰۹۱۵…»، «… داخلی ۱۲»),
    reads as its mobile, else its first number (`phones_in`); the mapping files the rest.
    """
    try:
        return _parse_phone(value, default_area)
    except NormalizeError as exc:
        found = phones_in(value, default_area) if value.__class__ is str and exc.code in _SEVERAL else ()
        if not found:
            raise
        return next((n for n in found if n.startswith("+989")), found[0])


# What a field of several numbers, or of a number and words, fails as when read whole.
_SEVERAL = frozenset({"characters", "invalid", "length", "country"})
# Between two numbers of one field: anything but digits, '+' and what `_SEPARATORS` drops
# inside one number (a letter, a comma, a slash, a colon: «تلفن: …»، «…۱۲۳۴/۵»).
_BETWEEN = re.compile(rf"[^\d+{_INSIDE}{_MARKS}]+")
_GROUP = re.compile(r"\+?\d+")


def phones_in(value: str, default_area: str | None = None) -> list[str]:
    """Every number `parse_phone` reads in a field, in order (each once).  Digit groups
    between `_BETWEEN`'s marks are joined until they read as one number: «051 3800 1234 -
    0915 123 4567» is two numbers, «1403/08/14» none (a slash parts the groups), and
    a leftover short group (an extension, «…۱۲۳۴/۵»'s 5) nothing."""
    found: list[str] = []
    for chunk in _BETWEEN.split(to_latin_digits(value)):
        held = ""
        for group in _GROUP.findall(chunk):
            number = None
            for attempt in (held + group, group) if held else (group,):
                try:
                    number = _parse_phone(attempt, default_area)
                    break
                except NormalizeError:
                    pass
            if number is None:
                held = held + group if len(held + group) <= 14 else group  # no number is longer
                continue
            held = ""
            if number not in found:
                found.append(number)
    return found


def _parse_phone(value, default_area: str | None = None) -> str:
    mobile_re, fixed_re = _ir_patterns()
    if value.__class__ is str and len(value) == 11 and value.startswith("09") and value.isascii() \
            and value.isdigit() and mobile_re.fullmatch(national := value[1:]):
        return "+98" + national  # how city systems write a mobile: what the rest returns, in half the time
    digits, national = _national_number(value, "phone", "شماره تلفن")
    if len(national) == 8 and default_area and national[0] != "0":
        national = default_area.lstrip("0") + national
    if len(national) == 10 and (fixed_re.fullmatch(national) or mobile_re.fullmatch(national)):
        return "+98" + national
    if len(national) == 8:
        raise NormalizeError(f"phone …{digits[-4:]} has no city code; write it as 0XX and "
                             "eight digits, or give the source's city code in the contract "
                             "(transformLogic: \"mobile:51\")", f"تلفن …{digits[-4:]} کد شهر ندارد",
                             code="area_code")
    raise NormalizeError(f"phone …{digits[-4:]} is not an Iranian landline or mobile number",
                         f"تلفن …{digits[-4:]} شمارهٔ ثابت یا همراه ایران نیست", code="invalid")


# --------------------------------------------------------------------------- postal code
def parse_postal_code(value) -> str:
    """Iranian postal code (کد پستی) as 10 ASCII digits.

    Rule: the first five digits never use 0 or 2 (the post avoids the ۰/۲ look-alikes), and a
    code is not one repeated digit.  The stricter community regex (5th digit not 5, no 2 in
    the last five) is not enforced: it is not an official rule.
    """
    digits = _digits(value, "postal code", "کد پستی")
    if len(digits) != 10:
        raise NormalizeError(f"postal code {digits[:12]} has {len(digits)} digits; it needs 10",
                             f"کد پستی {digits[:12]} {len(digits)} رقم دارد؛ باید ۱۰ رقم باشد",
                             code="length")
    if digits.count(digits[0]) == 10:
        raise NormalizeError(f"postal code {digits} repeats one digit; it is a placeholder",
                             f"کد پستی {digits} از یک رقم تکراری است", code="repeated")
    if "0" in digits[:5] or "2" in digits[:5]:
        raise NormalizeError(f"postal code {digits} has 0 or 2 in its first five digits, "
                             "which Iranian codes never use; check for a typo",
                             f"کد پستی {digits} در پنج رقم اول ۰ یا ۲ دارد که در کدهای پستی "
                             "ایران به کار نمی‌رود", code="range")
    return digits


def is_valid_postal_code(value) -> bool:
    """Whether `parse_postal_code` accepts the value."""
    try:
        parse_postal_code(value)
    except NormalizeError:
        return False
    return True


# --------------------------------------------------------------------------- gender
_GENDERS = {match_key(k): v for k, v in {
    "مرد": "male", "آقا": "male", "آقای": "male", "مذکر": "male", "پسر": "male", "ذکور": "male",
    "m": "male", "male": "male", "man": "male", "1": "male",
    "زن": "female", "خانم": "female", "مونث": "female", "مؤنث": "female", "دختر": "female",
    "اناث": "female", "f": "female", "female": "female", "woman": "female", "2": "female",
    "نامشخص": None, "unknown": None, "u": None, "?": None, "-": None,
}.items()}
_GENDERS[""] = None     # '?' and '-' fold to the empty key


def parse_gender(value) -> str | None:
    """`male`/`female` from مرد/زن/آقا/خانم/M/F/male/female/1/2; None for empty or unknown."""
    if value is None or isinstance(value, bool):
        return None
    key = match_key(str(value))
    if key in _GENDERS:
        return _GENDERS[key]
    shown = str(value)[:20]
    if key == "0":
        # a system coding 0/1 (0 for a man in some, for a woman in others): its 1s were read as
        # male, right only for one of the two, so the contract must name the codes
        raise NormalizeError("gender '0' is no code the hub knows (1 is read as male, 2 as female); if the "
                             "source writes 0/1, name its codes in the property's valueMap, e.g. "
                             "{0: female, 1: male}", "جنسیت «0» کد شناخته‌ای نیست؛ کدها را در valueMap قرارداد بنویسید",
                             code="invalid")
    raise NormalizeError(f"gender {shown!r} is not one of male/female (مرد/زن, M/F, 1/2)",
                         f"جنسیت «{shown}» مرد یا زن نیست", code="invalid")


# --------------------------------------------------------------------------- a column at a time
# A sync reads a registry's ids, mobiles and postal codes a column at a time (ingest.columnar):
# a column written the way registries write them is read and judged here by C-level maps, with
# no Python call per value; any other column is read value by value by the functions above.
_SUM_CHECK = tuple(_CHECK_CHAR[total % 11] for total in range(9 * sum(_WEIGHTS) + 1))
_FIRST3, _MIDDLE3, _LAST3, _TENTH = itemgetter(slice(0, 3)), itemgetter(slice(3, 6)), itemgetter(slice(6, 9)), itemgetter(9)
_AFTER_FIRST = itemgetter(slice(1, None))
_STARTS_09 = methodcaller("startswith", "09")
_POSTAL = re.compile(r"[13-9]{5}[0-9]{5}")  # (explicit ranges: ASCII digits only)


def all_ascii_digits(values: list[str], length: int) -> bool:
    """Whether every value of a (non-empty) column is `length` ASCII digits, by one scan."""
    joined = "".join(values)
    return joined.isascii() and joined.isdigit() and min(map(len, values)) == length == max(map(len, values))


def are_national_ids(values: list[str]) -> bool:
    """`all(map(is_national_id, values))` for a column of text, the check digits summed by maps."""
    if not values:
        return True
    if not all_ascii_digits(values, 10) or not REPEATED_DIGITS.isdisjoint(values):
        return False
    sums = map(add, map(add, map(_CHUNKS[0].__getitem__, map(_FIRST3, values)),
                        map(_CHUNKS[1].__getitem__, map(_MIDDLE3, values))),
               map(_CHUNKS[2].__getitem__, map(_LAST3, values)))
    return list(map(_SUM_CHECK.__getitem__, sums)) == list(map(_TENTH, values))


def read_national_ids(values: list[str]) -> list[str] | None:
    """`parse_national_id` of each value of a column of text whose every value is a national id
    as registries store it (what that function returns unchanged); None for any other column."""
    return list(values) if are_national_ids(values) else None


def read_mobiles(values: list[str]) -> list[str] | None:
    """`parse_phone` of each value (with or without a default city code) of a column of text
    whose every value is a mobile written 09 and nine digits; None for any other column."""
    if not values:
        return []
    if not all_ascii_digits(values, 11) or sum(map(_STARTS_09, values)) != len(values):
        return None
    national = list(map(_AFTER_FIRST, values))
    if not all(map(_ir_patterns()[0].fullmatch, national)):
        return None
    return list(map("+98".__add__, national))


def read_postal_codes(values: list[str]) -> list[str] | None:
    """`parse_postal_code` of each value of a column of text whose every value is a valid code
    written as 10 ASCII digits (returned unchanged); None for any other column."""
    if all(map(_POSTAL.fullmatch, values)) and REPEATED_DIGITS.isdisjoint(values):
        return list(values)
    return None


# --------------------------------------------------------------------------- stand-ins
# What clerks type where a number is unknown: «ندارد», «-», «0», «0000000000», «0000/00/00».
_NO_NUMBER_WORDS = ("ندارد", "نداره", "نامشخص", "نامعلوم", "بدون شماره", "بدون کد", "بدون تلفن", "ثبت نشده",
                    "اعلام نشده", "null", "none", "nan", "n/a", "na", "nil", "unknown")
_FILLER_CHARS = "-–—_.*?؟/0۰٠ "


@functools.lru_cache(maxsize=1)
def _no_number_keys() -> frozenset[str]:
    return frozenset(map(match_key, _NO_NUMBER_WORDS))  # on first use: an import stays light


def no_number(value) -> bool:
    """Whether a value is a stand-in for no number at all (an id, phone, postal code or date
    nobody had): read as absent, not set aside as a number gone wrong."""
    if value.__class__ is not str:
        return value == 0 and value.__class__ is int
    text = value.strip()
    if not text:
        return False
    return not text.strip(_FILLER_CHARS) or (not text[0].isdigit() and match_key(text) in _no_number_keys())


# --------------------------------------------------------------------------- numbers in text
# How `names.split_numbers` hands on a number its label says is a national id («ک.م 9340…»).
NATIONAL_ID_LABEL = "کد ملی "
# The words a clerk labels a national id with: کد ملی، کدملی، شماره ملی، شناسه ملی, and «ک.م»,
# «ش.م» standing alone (`names.split_numbers` reads them in a name field too).
NATIONAL_ID_WORDS = r"(?:(?:کد|شماره|شناسه)\s*ملی|کدملی|(?<![^\s،,(])[کش]\s*\.?\s*م(?:لی)?\.?)"
_ID_IN_TEXT = re.compile(NATIONAL_ID_WORDS + r"\s*[:：]?\s*(\d[\d\s\-–]{7,14}\d)(?!\d)")


def national_id_in_text(text: str) -> str | None:
    """The national id a free text states with its label («…؛ کد ملی ۰۰۹۴۲۲۹۹۳۷۱»: an operator
    noting the caller's id in a 137 call's description), when it passes its check digit;
    None otherwise.  An id named with a qualifier («کد ملی مالک …») is someone else's."""
    for m in _ID_IN_TEXT.finditer(to_latin_digits(text)):
        try:
            return parse_national_id(m[1])
        except NormalizeError:
            continue
    return None


def contacts_in(numbers: tuple[str, ...]) -> dict[str, str]:
    """What numbers a clerk typed into a name field are («علی رضایی (۰۹۱۵…)»,
    `person_names.ParsedName.numbers`): a mobile, a landline with its city code, or a national
    id that passes its check digit, each as the contract's own readers write it.  Any other
    number (a date, a plaque) is no one's contact and is left out; the record as published
    still holds the field as written."""
    got: dict[str, str] = {}
    for number in numbers:
        if number.startswith(NATIONAL_ID_LABEL):  # the clerk said it is a national id
            try:
                got.setdefault("national_id", parse_national_id(number[len(NATIONAL_ID_LABEL):]))
            except NormalizeError:
                pass
            continue
        for field, read in (("mobile", parse_mobile), ("phone", parse_phone), ("national_id", parse_national_id)):
            try:
                value = read(number)
            except NormalizeError:
                continue
            if field == "phone" and value.startswith("+989"):
                break  # a mobile already refused by parse_mobile (outside every range)
            got.setdefault(field, value)
            break
    return got
