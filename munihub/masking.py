"""Mask national ids, mobiles, landlines (and, for roles that may not see them, names of persons)
for display: only the last 3 (id) or 4 (mobile) digits stay; a name keeps its first letter.

Reports, previews and quarantine views show data to people who need to see *that* a value
is wrong, not the value itself.  Known personal fields are masked by name; every other text
is scanned for long digit runs (Latin, Persian or Arabic-Indic digits, with or without
spaces/dashes between groups), so an id sitting in a free-text field or a source key is
masked too.
"""
from __future__ import annotations

import re
from typing import Any

DIGITS = "0-9\u06f0-\u06f9\u0660-\u0669"
# 8+ digits with at most one space/dash/ZWNJ between them: ids (10), mobiles (10-14), ids
# that lost their leading zeros (8-9).  Dates (1403/08/14) have slashes and stay readable.
_RUN = re.compile(rf"\+?(?:[{DIGITS}][ \-\u200c\u00a0]?){{7,}}[{DIGITS}]")
_DIGIT = re.compile(rf"[{DIGITS}]")
# A date or timestamp (2024-01-03, 1403/08/14, 2024-01-03 09:00:00) is in clear, even though
# its digits with dashes look like a long run: Y-M-D with a 1-2 digit month and day only.
_DATE = re.compile(rf"(?<![{DIGITS}])[{DIGITS}]{{4}}([-/])[{DIGITS}]{{1,2}}\1[{DIGITS}]{{1,2}}"
                   rf"(?:[ T][{DIGITS}]{{1,2}}:[{DIGITS}]{{2}}(?::[{DIGITS}]{{2}}(?:\.[{DIGITS}]+)?)?)?(?![{DIGITS}])")
_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")

# Field names (shared schema and common source spellings) whose whole value is personal.
PERSONAL_KEYS = re.compile(r"national|melli|meli|mobile|phone|passport|(^|[_.])(nid|ssn|cell|tel|mob)($|[_.])",
                           re.I)
# Fields that hold a person's name (shared schema and common source spellings).  Agency,
# project and street names are not persons' names and stay readable.
PERSON_NAME_KEYS = re.compile(r"(^|[_.])(first|last|full|father|citizen|owner|payer|patient|person|mother)_?name$"
                              r"|^(fname|lname|family|surname|nam_?khanevadegi)$", re.I)
# Tracking numbers, references and codes identify a case, not a person: in clear.
CODE_KEYS = re.compile(r"tracking|reference|(^|[_.])(code|no|number|ref)$|_(code|id)$|^(permit_no|request_id|payment_id)$",
                       re.I)
# Money and measures are long numbers but not personal: leave them readable.
PLAIN_NUMBER_KEYS = re.compile(r"rial|amount|budget|spent|area|value|count|rows|floors|pct", re.I)


def _is_mobile(latin: str) -> bool:
    return bool(re.fullmatch(r"(\+?98|0098|0)?9\d{9}", latin))


def mask_value(value: Any) -> str:
    """A whole id or mobile masked: `0912345678` -> `*******678`, `09151234567` -> `*******4567`."""
    text = str(value)
    digits = _DIGIT.findall(text)
    if not digits:
        return "*" * len(text) if text else text
    latin = "".join(digits).translate(_TO_LATIN)
    keep = 4 if _is_mobile(latin) else 3
    keep = min(keep, max(len(digits) - 4, 0))  # short values: never show most of them
    return "*" * (len(digits) - keep) + "".join(digits[len(digits) - keep:])


def mask_text(text: str) -> str:
    """Free text with every long digit run (a possible id or mobile) masked."""
    if not isinstance(text, str) or not _DIGIT.search(text):
        return text
    out, at = [], 0
    for date in _DATE.finditer(text):  # dates stay readable; what lies between them is scanned
        out += [_RUN.sub(lambda m: mask_value(m.group(0)), text[at:date.start()]), date.group(0)]
        at = date.end()
    out.append(_RUN.sub(lambda m: mask_value(m.group(0)), text[at:]))
    return "".join(out)


def mask_name(value: Any) -> str:
    """A person's name with only its first letter left: `علی رضایی` -> `ع***`."""
    text = str(value).strip()
    return f"{text[0]}***" if text else text


def mask_record(record: Any, key: str = "", *, names: bool = False, scan_text: bool = True) -> Any:
    """A copy of a (nested) record with personal fields and long digit runs masked.

    `names=True` also masks persons' names: for people whose role may not see them (a
    workbench viewer); dates, amounts, tracking numbers and codes always stay in clear.
    `scan_text=False` masks only fields named as ids, mobiles and phones: for `source preview`,
    where an agency reads its own data and checks its own conversions.
    """
    if isinstance(record, dict):
        return {k: mask_record(v, str(k), names=names, scan_text=scan_text) for k, v in record.items()}
    if isinstance(record, (list, tuple)):
        return [mask_record(v, key, names=names, scan_text=scan_text) for v in record]
    if record is None or isinstance(record, bool):
        return record
    if names and key and PERSON_NAME_KEYS.search(key):
        return mask_name(record)
    if key and PERSONAL_KEYS.search(key):
        return mask_value(record)
    if not scan_text or (key and CODE_KEYS.search(key)):
        return record
    if isinstance(record, int) and len(str(abs(record))) >= 8 and not PLAIN_NUMBER_KEYS.search(key):
        return mask_value(record)  # an id stored as a number (leading zero lost)
    if isinstance(record, str):
        return mask_text(record)
    return record
