"""How one source value is read: every transform a contract's `transformLogic` may name.

Contracts check transform names against `TRANSFORMS`; mapping applies them.  Each takes the
raw value and returns the shared-schema value, or raises ValueError with a reason.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _n():
    from munihub import persian  # lazy: keeps `contracts lint` light
    return persian


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number")
    if isinstance(value, int):
        return value
    text = _n().to_latin_digits(str(value)).replace(",", "").replace("٬", "").strip()
    number = float(text)
    if number != int(number):
        raise ValueError(f"{text} is not a whole number")
    return int(number)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number")
    if isinstance(value, (int, float)):
        return value
    return float(_n().to_latin_digits(str(value)).replace(",", "").replace("٬", "").replace("٫", ".").strip())


def _boolean(value: Any) -> bool:
    text = _n().to_latin_digits(str(value)).strip().lower()
    if text in {"1", "true", "yes", "y", "بله", "آری", "درست"}:
        return True
    if text in {"0", "false", "no", "n", "خیر", "نه", "نادرست"}:
        return False
    raise ValueError(f"{value!r} is not yes/no")


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "text": lambda v: _n().normalize_text(str(v)),
    "person_name": lambda v: _n().normalize_text(_n().split_title(_n().normalize_text(str(v)) or "")[1]),
    "title": lambda v: _n().split_title(_n().normalize_text(str(v)) or "")[0],
    "national_id": lambda v: _n().parse_national_id(v),
    "mobile": lambda v: _n().parse_mobile(v),
    "phone": lambda v: _n().parse_phone(v),
    "postal_code": lambda v: _n().parse_postal_code(v),
    "date": lambda v: _n().parse_date(v),
    "datetime": lambda v: _n().parse_datetime(v),
    "gender": lambda v: _n().parse_gender(v),
    "digits": lambda v: _n().to_latin_digits(str(v)).strip(),
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "string": lambda v: str(v),
    "concat": lambda v: v,  # joining happens in map_record; the result is then normalized text
}
