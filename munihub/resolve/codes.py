"""Tracking codes a 137 call quotes in its description: which numbers there cite an earlier call.

Hotline text holds many long numbers that are no tracking code (a callback mobile, the
district office's landline, a postal code, a national id, a date as 14030814, a permit or
plaque number), and operators read a code out in digit groups («137-1234-5678», «۱۳۷ ۱۲۳۴
۵۶۷۸»).  `quoted_codes` reads the numbers of a description as codes by their shape
(`code_shape`: the length and first two digits of the source's codes) or a code label
(«کد رهگیری: …»), and drops what a pattern or another label says is something else, or what
the operator says stands apart from it («ثبت جداگانه از تماس …»).
`followups.group_followups` compares every candidate with the known codes;
`records.request_thread` keeps only those of a code's shape, for a call whose cited call may
be absent.  Plain functions, no store.
"""
from __future__ import annotations

import re
from typing import Any

# A number in the description, its digit groups joined by single dashes or spaces as a code
# is read out («137-1234-5678», «۱۳۷ ۱۲۳۴ ۵۶۷۸»); a run of 6+ digits is only a candidate code.
QUOTED_NUMBER = re.compile(r"(?<![\d/])\d+(?:[- ]\d+)*(?![\d/])")
# «کد رهگیری: …», «شماره پیگیری …», «درخواست شماره …»: the operator says the number is a code
CODE_LABEL = re.compile(r"(?:(?:کد|شماره)\s*(?:رهگیری|رهگيري|پیگیری|پيگيري)|درخواست\s*(?:شماره|ش\.?))"
                        r"(?:\s*قبلی)?\s*[:：.]?\s*$")
# «کد ملی …», «کد پستی …», «با شماره …», «تلفن …», «پلاک …», «تاریخ …»: the operator says what else it is
OTHER_LABEL = re.compile(r"(?:کد\s*(?:ملی|ملي|پستی|پستي)|شماره\s*(?:تماس|همراه|موبایل|تلفن|ملی|پروانه)|با\s*شماره|"
                         r"تلفن|موبایل|همراه|پلاک(?:\s*ثبتی)?|پروانه(?:\s*ساخت)?(?:\s*شماره)?|تاریخ)"
                         r"\s*[:：.]?\s*\(?$")
# «ثبت جداگانه از تماس …», «درخواست مجزا از …»: an operator splitting one call into two
# requests (another problem at the same place) quotes the first call's code, and says the
# new one stands apart: no follow-up of it
APART_LABEL = re.compile(r"(?:جداگانه|جدا\s*گانه|مجزا|مستقل)\s*(?:از)?\s*(?:تماس|درخواست|کد|شماره)?[^\d]{0,20}$")
# Numbers the pattern says are no tracking code: a mobile (09…, 9… without the zero, +98/0098),
# a landline with its area code (0…), a date as 14030814.
NOT_A_CODE = re.compile(r"(?:0|\+?98|0098)?9\d{9}|0\d{5,}|1[34]\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")


def code_shape(code: str) -> tuple[int, str]:
    """The shape of a tracking code: its length and its first two digits («137…» of 11 digits,
    «14…» of 10): a quoted number of another shape is a phone, postal code, id or date."""
    return len(code), code[:2]


def quoted_codes(text: Any, own: str | None = None, shapes: set | None = None,
                 not_codes: tuple = ()) -> list[str]:
    """The earlier tracking codes a description cites.  A number there is a code when it has
    the shape of the source's codes (`shapes`, learned from the codes in the data; else the
    call's own code's) or the operator labels it one («کد رهگیری: …»), and is not what the
    pattern or its label says is a mobile, landline, date, national id, postal code or permit
    (`NOT_A_CODE`, `OTHER_LABEL`), nor the code of a call this one was split from
    (`APART_LABEL`), nor one of the call's own numbers
    (`not_codes`: its mobile, phone, national id, compared on the last ten digits).  Digit
    groups joined by dashes or spaces are read as one number.  Without `own` and `shapes`,
    every candidate (the caller compares them with the known codes)."""
    from munihub.persian import to_latin_digits

    text = to_latin_digits(str(text or ""))
    shapes = set(shapes or ()) | ({code_shape(own)} if own else set())
    mine = {re.sub(r"\D", "", str(n))[-10:] for n in not_codes if n} - {""}
    out = []
    for m in QUOTED_NUMBER.finditer(text):
        before = text[max(0, m.start() - 30):m.start()]
        labelled = bool(CODE_LABEL.search(before))
        if (shapes and not labelled and OTHER_LABEL.search(before)) or APART_LABEL.search(before):
            continue
        joined = re.sub(r"\D", "", m.group())
        parts = [joined] + [p for p in re.split(r"[- ]", m.group()) if p != joined]
        for number in parts:
            if len(number) < 6 or number == own or number[-10:] in mine:
                continue
            if not shapes:
                out.append(number)
            elif (labelled or code_shape(number) in shapes) and not NOT_A_CODE.fullmatch(number):
                out.append(number)
                break  # the groups of a code that was read whole are no codes of their own
    return sorted(set(out))
