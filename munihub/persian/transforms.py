"""How one source value is read: every transform a contract's `transformLogic` may name.

Contracts check transform names (and parameters, `phone:51`) with `transform_problem`;
mapping applies them through `reader`.  Each takes the raw value and returns the
shared-schema value, or raises ValueError with a reason.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any


_PERSIAN = None


def _n():
    """munihub.persian, imported on first use (keeps `contracts lint` light) and then kept:
    an import statement per value cost a load's mapping a tenth of its time."""
    global _PERSIAN
    if _PERSIAN is None:
        from munihub import persian
        _PERSIAN = persian
    return _PERSIAN


# Thousands written with commas: «1,250,000» or «۱٬۲۵۰٬۰۰۰», each group three digits.  A comma
# anywhere else is a decimal comma, «120,5» (an area typed the European way): dropping it made
# 1205 of 120.5, so such a value is refused instead.
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")


def _number_text(value: Any) -> str:
    text = _n().to_latin_digits(str(value)).replace("٬", ",").strip()
    if "," in text:
        if not _GROUPED.fullmatch(text):
            raise ValueError(f"{text} has a comma that is not a thousands separator; write a decimal with a point")
        text = text.replace(",", "")
    return text


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number")
    if isinstance(value, int):
        return value
    text = _number_text(value)
    number = float(text)
    if number != int(number):
        raise ValueError(f"{text} is not a whole number")
    return int(number)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number")
    if isinstance(value, (int, float)):
        return value
    return float(_number_text(value).replace("٫", "."))


def _as_string(value: Any) -> str:
    """A value as text: a spreadsheet's whole number (9871416283.0) as its digits."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _boolean(value: Any) -> bool:
    text = _n().to_latin_digits(str(value)).strip().lower()
    if text in {"1", "true", "yes", "y", "بله", "آری", "درست"}:
        return True
    if text in {"0", "false", "no", "n", "خیر", "نه", "نادرست"}:
        return False
    raise ValueError(f"{value!r} is not yes/no")


def _person_name(value: str) -> str | None:
    """The name without its leading titles, except before a lone word: «سرکار خانم قوچانی»
    says a woman of the قوچانی, «قوچانی» anyone of them (matching reads the title's gender;
    name keys drop titles either way)."""
    title, rest = _n().split_title(_n().normalize_text(value) or "")
    return _n().normalize_text(f"{title} {rest}" if title and len(rest.split()) == 1 else rest)


# A city district however a system writes it: «۳», «3», «منطقه۳», «منطقهٔ ۳», «شهرداری منطقه 3»
# are «منطقه 3»; a named one, «ثامن» or «منطقه ثامن», is «منطقه ثامن».  A sub-district («ناحیه ۲»)
# is another unit, kept as written.
_DISTRICT = re.compile(r"(?:شهرداری\s*)?(?:منطقه\u200c?ی?ٔ?|region|district|zone)?\s*(.+)", re.I | re.S)


def _district(value: Any) -> str | None:
    """A district as the indicators group it (`_DISTRICT`): one value per district across
    every source, so a manager's dashboard shows «منطقه 3» once, not as «3», «۳» and «منطقه ۳»."""
    text = _n().normalize_text(value if value.__class__ is str else _as_string(value))
    if text is None or text.startswith("ناحیه"):
        return text
    rest = _DISTRICT.fullmatch(text)[1].strip()
    if rest.isdigit():
        return f"منطقه {int(rest)}" if int(rest) else text
    return f"منطقه {rest}"


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "text": lambda v: _n().normalize_text(v if v.__class__ is str else _as_string(v)),
    "district": _district,
    # a placeholder (ناشناس، بدون نام) is no name: the field stays empty, nothing is set aside
    "person_name": lambda v: None if _n().is_placeholder(str(v)) else _person_name(str(v)),
    "title": lambda v: _n().title_of(str(v)),
    "national_id": lambda v: _n().parse_national_id(v),
    # Both phone readers accept any Iranian number and mapping files a mobile under `mobile` and
    # a landline under `phone`, whichever column the source wrote it in (see PHONE_TRANSFORMS).
    "mobile": lambda v: _n().parse_phone(v),
    "phone": lambda v: _n().parse_phone(v),
    "postal_code": lambda v: _n().parse_postal_code(v),
    "date": lambda v: _n().parse_date(v),
    "datetime": lambda v: _n().parse_datetime(v),
    "gender": lambda v: _n().parse_gender(v),
    "digits": lambda v: _n().to_latin_digits(str(v)).strip(),
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "string": lambda v: v if v.__class__ is str else _as_string(v),
    "concat": lambda v: v,  # joining happens in map_record; the result is then normalized text
}

# Transforms that are exactly one munihub.persian function of the value (see TRANSFORMS).
DIRECT = {"national_id": "parse_national_id", "mobile": "parse_phone", "phone": "parse_phone",
          "postal_code": "parse_postal_code", "date": "parse_date", "datetime": "parse_datetime",
          "gender": "parse_gender"}

PHONE_TRANSFORMS = frozenset({"mobile", "phone"})
# Readers of numbers, for which «ندارد» or «-» is no value at all (`ids.no_number`).
NUMBER_TRANSFORMS = frozenset({"national_id", "mobile", "phone", "postal_code", "date", "datetime"})
_AREA_CODE = re.compile(r"0?([1-8][0-9]{1,2})")


def _area_code(text: str) -> str:
    """An Iranian city code without its 0 ('51' for Mashhad), from `51` or `051`."""
    match = _AREA_CODE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a city code (two or three digits such as 51 or 021)")
    return match.group(1)


def _phone_in(area: str) -> Callable[[Any], str]:
    return lambda v: _n().parse_phone(v, default_area=area)


# A phone field longer than this may hold a second number (a mobile and a landline need 20
# characters with one separator): such values are read by `phones_read` as well.
SEVERAL_PHONES_FROM = 20


def phones_read(spec: str, value: Any) -> list[str]:
    """Every number a phone field's value holds (`ids.phones_in`), with the city code of its
    transform (`mobile:51`) for local numbers; [] for a value that is not text."""
    if value.__class__ is not str:
        return []
    _, _, param = str(spec).partition(":")
    return _n().phones_in(value, _area_code(param) if param else None)


def _date_options(text: str) -> tuple[int | None, bool | None]:
    """A date reader's parameter, comma-separated: the century two-digit years are read in (13
    or 14 Jalali, 19 or 20 Gregorian) and/or the order of a Gregorian date written year last
    that fits both (dmy: 04/11/2024 is 4 November; mdy: April 11)."""
    century = day_first = None
    for part in (p.strip().lower() for p in text.split(",")):
        if part in {"13", "14", "19", "20"} and century is None:
            century = int(part)
        elif part in {"dmy", "mdy"} and day_first is None:
            day_first = part == "dmy"
        else:
            raise ValueError(f"{part!r} is not a century for two-digit years (13 or 14 Jalali, 19 or 20 "
                             "Gregorian) nor an order of day and month (dmy or mdy)")
    return century, day_first


def _date_in(options: tuple) -> Callable[[Any], str]:
    return lambda v: _n().parse_date(v, *options)


def _datetime_in(options: tuple) -> Callable[[Any], str]:
    return lambda v: _n().parse_datetime(v, *options)


_DATE_PARAMETER = "the century of two-digit years (62/6/4 read as 1362/06/04 with 13) and/or the order of " \
                  "day and month (dmy, mdy)"

# Transforms that take a parameter after ':': what it is, how it is read, and the reader it makes.
PARAMETERS: dict[str, tuple[str, Callable[[str], Any], Callable[[Any], Callable]]] = {
    "mobile": ("the default city code for 8-digit local numbers", _area_code, _phone_in),
    "phone": ("the default city code for 8-digit local numbers", _area_code, _phone_in),
    "date": (_DATE_PARAMETER, _date_options, _date_in),
    "datetime": (_DATE_PARAMETER, _date_options, _datetime_in),
}


def transform_problem(spec: str) -> str | None:
    """Why a contract's transformLogic cannot be used (unknown name, bad parameter), or None."""
    name, sep, param = str(spec).partition(":")
    if name not in TRANSFORMS:
        return f"unknown transform {spec!r}; known: {', '.join(sorted(TRANSFORMS))}"
    if not sep:
        return None
    if name not in PARAMETERS:
        takes = ", ".join(f"{k}:<{what}>" for k, (what, *_) in sorted(PARAMETERS.items()))
        return f"transform {name!r} takes no parameter (got {param!r}); parameters exist for {takes}"
    try:
        PARAMETERS[name][1](param)
    except ValueError as exc:
        return f"transform {spec!r}: {exc}"
    return None


# The format (contracts.formats) every value such a reader returns has: a column it read is not
# judged by that format again (the national-id check digits were summed twice).
COLUMN_PROVES = {"national_id": "ir-national-id", "mobile": "ir-mobile", "phone": "ir-mobile",
                 "postal_code": "ir-postal-code"}


def column_reader(spec: str) -> Callable[[list], list | None] | None:
    """For a transformLogic such as `mobile:51`: the function reading a column of text as `reader(spec)`
    reads each value, or None where the column is read value by value (it has no such function, or
    says None itself).  The parameter does not matter: these columns hold no local number.
    Such a function reads the column when every value is in the form registries write it
    (munihub.persian.ids, letters) and returns None to have it read value by value otherwise."""
    from munihub.persian import ids, letters

    return {"national_id": ids.read_national_ids, "mobile": ids.read_mobiles, "phone": ids.read_mobiles,
            "postal_code": ids.read_postal_codes, "text": letters.read_texts}.get(spec.partition(":")[0])


@functools.lru_cache(maxsize=256)
def reader(spec: str) -> Callable[[Any], Any]:
    """The function that reads a value for a transformLogic such as `text` or `phone:51`
    (checked at contract load, so an unknown name here is a programming error)."""
    name, sep, param = spec.partition(":")
    if not sep:
        if name in DIRECT:  # the reader itself, not a lambda calling it: two calls less per value
            return getattr(_n(), DIRECT[name])
        return TRANSFORMS[name]
    _, parse, make = PARAMETERS[name]
    return make(parse(param))
