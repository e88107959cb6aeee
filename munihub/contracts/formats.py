"""Custom JSON Schema formats for normalized Iranian records, shared by both validation engines.

Records are normalized before validation (Latin digits, ISO dates, mobile `+989…`), so each
check accepts only the canonical form.  Every check takes any value and returns a bool;
non-strings pass, because `type` reports them (that is how `jsonschema` treats formats, and
`jsonschema_rs` only calls format checks on strings).  `munihub.persian` parses dirty
input, these only judge clean output; the national-id check digit is its one implementation.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from munihub.persian.ids import is_national_id as _is_national_id
from munihub.persian.ids import REPEATED_DIGITS, national_id_problem  # noqa: F401  (validate reads it here)
from munihub.persian.ids import all_ascii_digits, are_national_ids

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Seconds required, fraction and UTC offset optional: sources give Tehran local time without one.
_ISO_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?")
_JALALI = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})")
_MOBILE = re.compile(r"\+989[0-9]{9}")
_PHONE = re.compile(r"\+?[0-9][0-9 -]{2,22}[0-9]")
_PERIOD = re.compile(r"1[0-9]{3}(-(0[1-9]|1[0-2]|Q[1-4]))?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_date_from_iso = dt.date.fromisoformat  # C parser; the regex above already pinned the shape


def is_national_id(value: Any) -> bool:
    """10 ASCII digits, not all the same, check digit per the standard mod-11 rule."""
    return True if value.__class__ is not str else _is_national_id(value)


def is_mobile(value: Any) -> bool:
    """Canonical Iranian mobile: +989 followed by nine digits."""
    return value.__class__ is not str or _MOBILE.fullmatch(value) is not None


def is_postal_code(value: Any) -> bool:
    """10 ASCII digits, not all the same."""
    if value.__class__ is not str:
        return True
    return len(value) == 10 and value.isascii() and value.isdigit() and value.count(value[0]) != 10


def is_date(value: Any) -> bool:
    """A real Gregorian calendar day written YYYY-MM-DD (2024-02-30 fails)."""
    if value.__class__ is not str:
        return True
    if _ISO_DATE.fullmatch(value) is None:
        return False
    try:
        _date_from_iso(value)
    except ValueError:
        return False
    return True


def is_date_time(value: Any) -> bool:
    """YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM] naming a real instant (no 25:00, no Feb 30)."""
    if value.__class__ is not str:
        return True
    if _ISO_DATE_TIME.fullmatch(value) is None:
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_jalali_date(value: Any) -> bool:
    """A real Jalali day written YYYY/MM/DD (1403/12/30 exists, 1402/12/30 does not)."""
    if value.__class__ is not str:
        return True
    m = _JALALI.fullmatch(value)
    if m is None:
        return False
    import jdatetime  # lazy: only Jalali-format fields need it
    try:
        jdatetime.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def is_phone(value: Any) -> bool:
    """A landline as digits, optionally +, spaces or dashes between (4-24 characters)."""
    return value.__class__ is not str or _PHONE.fullmatch(value) is not None


def is_jalali_period(value: Any) -> bool:
    """A reporting period: Jalali year (1403), year-month (1403-08) or year-quarter (1403-Q2)."""
    return value.__class__ is not str or _PERIOD.fullmatch(value) is not None


def is_email(value: Any) -> bool:
    """local@domain.tld with no spaces; deliberately simple, the same in both engines."""
    return value.__class__ is not str or (len(value) <= 254 and _EMAIL.fullmatch(value) is not None)


def are_mobiles(values: list[str]) -> bool:
    """`all(map(is_mobile, values))` for a column of text, without a Python call per value."""
    return all(map(_MOBILE.fullmatch, values))


def are_postal_codes(values: list[str]) -> bool:
    """`all(map(is_postal_code, values))` for a column of text, without a Python call per value."""
    return not values or (all_ascii_digits(values, 10) and REPEATED_DIGITS.isdisjoint(values))


# A format's check asked of a whole column of text at once (value_checks.text_column_check),
# where a Python call per value was most of judging a column of ids, mobiles or postal codes.
COLUMN_FORMATS: dict[str, Callable[[list[str]], bool]] = {
    "ir-national-id": are_national_ids,
    "ir-mobile": are_mobiles,
    "ir-postal-code": are_postal_codes,
}


FORMATS: dict[str, Callable[[Any], bool]] = {
    "ir-national-id": is_national_id,
    "ir-mobile": is_mobile,
    "ir-postal-code": is_postal_code,
    "date": is_date,
    "date-time": is_date_time,
    "jalali-date": is_jalali_date,
    "jalali-period": is_jalali_period,
    "ir-phone": is_phone,
    "email": is_email,
}

# The formats draft 2020-12 names.  The hub checks only its own (`FORMATS`); every other one is
# an annotation, as the draft says by default, on both engines: the fast engine would otherwise
# check these itself and the reference would not, two verdicts on one value.
STANDARD_FORMATS = ("date", "date-time", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
                    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "uuid",
                    "json-pointer", "relative-json-pointer", "regex")


def _annotation(value: Any) -> bool:
    return True


FAST_FORMATS: dict[str, Callable[[Any], bool]] = {**dict.fromkeys(STANDARD_FORMATS, _annotation), **FORMATS}

# Formats that are exactly a regular expression (plus a short deny-list), written as JSON
# Schema keywords so the fast engine can check them natively in its `is_valid` pre-pass.
# Only used to decide valid/invalid; reasons always come from the real format checks, and
# the differential tests prove both give the same verdicts.  ASCII classes and `^…$` with no
# multiline flag mean the same in Rust's regex as `fullmatch` does in Python.
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"         # 0001-9999
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_GREGORIAN_DAY = (f"^(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
                  f"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP_YEAR}-02-29)$")
NATIVE_EQUIVALENTS: dict[str, dict] = {
    "date": {"pattern": _GREGORIAN_DAY},
    "ir-mobile": {"pattern": r"^\+989[0-9]{9}$"},
    "ir-postal-code": {"pattern": "^[0-9]{10}$", "not": {"enum": sorted(REPEATED_DIGITS)}},
    "ir-phone": {"pattern": r"^\+?[0-9][0-9 -]{2,22}[0-9]$"},
    "jalali-period": {"pattern": "^1[0-9]{3}(-(0[1-9]|1[0-2]|Q[1-4]))?$"},
}


def mask(value: Any) -> str:
    """All but the last four characters as '*', so messages never carry a whole id or mobile."""
    text = str(value)
    return "*" * max(len(text) - 4, 0) + text[-4:] if len(text) > 4 else "*" * len(text)
