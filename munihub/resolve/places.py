"""Where a person lives, as comparison keys: the street and alley of an address, and its district.

Agencies write one home many ways: the registry «مشهد، بلوار وکیل‌آباد، کوچه ۱۲، پلاک ۵، واحد ۲»,
the 137 hotline a street field holding «بلوار وکیل‌آباد کوچه 12», a permit the same with its
postal code.  The street and alley are what they share, so `place_key` keeps just those,
with digits, letters, spaces and half-spaces folded and the street's kind («بلوار», «خیابان»)
dropped (one clerk writes it, another does not).  An operator's shorthands read the same:
«ک ۲۶» for «کوچه ۲۶», «نبش کوچه ۲۶» (its corner), and Mashhad's «کوهسنگی ۲۶», an alley numbered
off its street with no «کوچه».  A named alley is its whole name («کوچه شهید احمدی», «کوچه گلستان ۳»).  A plaque and unit name one building or flat:
the 137 hotline never gives them, so they are not part of the key.  Plain functions, no store.
"""
from __future__ import annotations

import functools
import re
from typing import Any

# Words that start the part after the street: the alley, then the building.
_ALLEY = r"(?:کوچه|كوچه|ک\.|(?<!\S)ک(?=\s*\d)|بن\s*بست|بن‌بست)"  # «ک ۲۶»: a lone ک before the number
_AFTER_STREET = re.compile(rf"(?:{_ALLEY}|پلاک|پلاك|واحد|طبقه|کد\s*پستی)")
_ALLEY_NUMBER = re.compile(rf"{_ALLEY}\s*([^\s،,؛;]+)")
# An alley's name runs to the next comma or building word: «کوچه شهید احمدی» is not «کوچه شهید رضایی»
_ALLEY_END = re.compile(r"\s*(?:[،,؛;]|پلاک|پلاك|واحد|طبقه|کد\s*پستی|روبروی|روبه‌روی|جنب|انتهای|نبش)")
_SEGMENT = re.compile(r"\s*[،,؛;]+\s*")
# Where on the alley, written between the street and «کوچه» («خیابان کوهسنگی، نبش کوچه ۲۱»): not a street.
_POSITION = re.compile(r"(?:[\s،,؛;]*(?:نبش|روبروی|روبه‌روی|جنب|انتهای|ابتدای|اول|سر))+[\s،,؛;]*$")
# «امام رضا ۱۲», «سناباد 39»: Mashhad's alleys are numbered off their street, written without «کوچه».
_NUMBERED_STREET = re.compile(r"^(.*\D)\s*(\d+)$")
_STREET_KINDS = re.compile(r"^(?:بلوار|خیابان|خ\.?|بل\.?|میدان|جاده|بزرگراه|کوی|شهرک)\s+")


def _text(address: Any) -> str | None:
    if isinstance(address, dict):
        alley = str(address.get("alley") or "").strip()
        if alley and not re.match(_ALLEY, alley):
            alley = f"کوچه {alley}"  # an alley field holding just «۱۴»
        parts = [address.get("street"), alley, address.get("detail")]
        return " ، ".join(str(p) for p in parts if p) or None
    return str(address) if address else None


@functools.lru_cache(maxsize=1 << 16)
def _street_alley(text: str) -> str | None:
    from munihub.persian import match_key, normalize_text, to_latin_digits

    text = normalize_text(to_latin_digits(text)) or ""
    marker = _AFTER_STREET.search(text)
    alley = _ALLEY_NUMBER.search(text)
    head = text[:marker.start()] if marker else text
    if not (marker and alley):  # no «کوچه»: a street and its alley's number, or a street alone
        segments = [s for s in _SEGMENT.split(head) if s.strip()]
        numbered = _NUMBERED_STREET.match(segments[-1].strip()) if segments else None
        if not numbered:
            return None  # a street alone (hundreds of homes) names no place
        street, lane = numbered.group(1), numbered.group(2)
    else:
        segments = [s for s in _SEGMENT.split(_POSITION.sub("", head)) if s.strip()]
        if not segments:
            return None
        street, lane = segments[-1], _alley_name(text, alley)  # the city comes first, if at all
    street, lane = match_key(_STREET_KINDS.sub("", street.strip())), match_key(lane)
    return f"{street}/{lane}" if street and lane else None


def _alley_name(text: str, alley: re.Match) -> str:
    """The alley after «کوچه»: its number («کوچه ۱۲ روبروی پارک» is 12), else its name up to the
    next comma or building word, three words at most, a number ending it («گلستان ۳»)."""
    first = alley.group(1)
    if first[0].isdigit():
        return first  # «۱۲», «۱۲/۱»: the number as written
    start = alley.start(1)
    end = _ALLEY_END.search(text, start)
    words = text[start:end.start() if end else len(text)].split()[:3]
    for i, w in enumerate(words):
        if w[0].isdigit():
            return " ".join(words[:i + 1])
    return " ".join(words)


def place_key(address: Any) -> str | None:
    """`street/alley` of an address (a dict with street, alley or detail, or its text); None
    when either is missing.  «مشهد، بلوار توس، کوچه ۱۴، پلاک ۲» and «بلوار توس کوچه 14» agree."""
    text = _text(address)
    return _street_alley(text) if text else None


def district_key(address: Any) -> str | None:
    """The district of an address dict, digits and letters folded («منطقه ۳» and «3» agree)."""
    if not isinstance(address, dict) or not address.get("district"):
        return None
    from munihub.persian import match_key, to_latin_digits

    value = to_latin_digits(str(address["district"]))
    digits = re.findall(r"\d+", value)
    return str(int(digits[0])) if digits else (match_key(value) or None)
