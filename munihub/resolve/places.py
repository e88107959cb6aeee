"""Where a person lives, as comparison keys: the street and alley of an address, and its district.

Agencies write one home many ways: the registry «مشهد، بلوار وکیل‌آباد، کوچه ۱۲، پلاک ۵، واحد ۲»,
the 137 hotline a street field holding «بلوار وکیل آباد کوچه 12», a permit the same with its
postal code.  The street and alley are what they share, so `place_key` keeps just those,
with digits, letters, spaces and half-spaces folded, the street's kind («بلوار», «خیابان»,
«میدان», «چهارراه») and the word «شهید» dropped (one clerk writes «شهید قرنی», another «قرنی»).
An operator's shorthands read the same: «ک ۲۶» for «کوچه ۲۶», «نبش کوچه ۲۶» (its corner),
«بن‌بست ۳» (a dead-end alley), and Mashhad's «کوهسنگی ۲۶», an alley numbered off its street
with no «کوچه», or named by its street as the postal service writes it («خیابان سناباد، کوچه
سناباد ۲۴»: the province, county, city and quarter before the street are no part of the key).  A named alley is its whole name («کوچه شهید احمدی», «کوچه گلستان ۳»).  Alleys
nest: «وکیل‌آباد ۱۲، گلستان ۳» is alley «گلستان ۳» off alley 12 off Vakilabad, the key
`وکیلاباد/12/گلستان3`, the same as «وکیل آباد، کوچه ۱۲، کوچه گلستان ۳» and not «وکیل‌آباد ۱۲»
(two alleys never share a key: precision first).  A plaque («پلاک ۵», «پ ۵»), floor and unit
name one building or flat: many 137 calls do not give them, so they are not part of the key;
`home_key` adds the plaque where one is given, to tell a household's calls from its neighbours'.
A location given by a landmark alone («جنب مسجد الزهرا», «روبروی پارک ملت», «نرسیده به
چهارراه دانش») names no home: `place_key` is None and `landmark_key` gives the street and the
landmark, for 137 calls to compare within one district.  Plain functions, no store.
"""
from __future__ import annotations

import functools
import re
from typing import Any

# Words that start an alley: «کوچه», «ک ۲۶», «ک.26», «بن‌بست ۳», «کوچه بن‌بست ۳».  A lone «ک»
# or «پ» is an abbreviation after anything but a letter: typed without spaces, «،ک۲۶» and
# «طبرسی۲۷،پ۱۰۳» are an alley and a plaque too.
_NOT_AFTER_LETTER = r"(?<![^\W\d_])"
_ALLEY = rf"(?:(?:کوچه|كوچه)(?:\s*بن[\s\u200c]*بست)?|ک\.|{_NOT_AFTER_LETTER}ک(?=\s*\d)|بن[\s\u200c]*بست)"
# The building part ends the place: «پلاک ۵», «پ ۵», «طبقه ۲», «واحد ۳», the postal code.
_BUILDING = re.compile(rf"(?:پلاک|پلاك|{_NOT_AFTER_LETTER}پ\.?(?=\s*\d)|واحد|طبقه|کد\s*پستی)")
# A landmark runs from its word to the next comma: where on the street, not an alley.
_LANDMARK = re.compile(r"(?<!\S)(?:جنب|روبروی|روبه\s*روی|روبرو|مقابل|نرسیده\s*به|بعد\s*از|پشت|کنار)"
                       r"\s+([^،,؛;]*)")
# Where on the alley, a word before or after it («نبش کوچه ۲۶», «انتهای بن‌بست»): not a name.
# «کوچه اول» is an alley's name: «اول» and «سر» are positions only before «کوچه».
_POSITION = re.compile(rf"(?<!\S)(?:نبش|انتهای|ابتدای|انتها|(?:اول|سر)(?=\s*{_ALLEY}))(?=\s|$|{_ALLEY})")
# Segments part at a comma, a dash between spaces («مشهد - خیابان سناباد - کوچه ۲۴») and
# before an alley word.
_SEGMENT = re.compile(rf"\s*[،,؛;]+\s*|\s+[-–—]+\s+|\s*(?={_ALLEY})")
_ALLEY_HEAD = re.compile(rf"^{_ALLEY}\.?\s*")
# «امام رضا ۱۲», «سناباد 39»: Mashhad's alleys are numbered off their street, written without «کوچه».
_NUMBERED = re.compile(r"^(.*[^\d/\s])\s*(\d+(?:/\d+)?)$")
_STREET_KINDS = re.compile(r"^(?:بلوار|خیابان|خ\.?|بل\.?|میدان|م\.|چهارراه|چهار\s*راه|سه\s*راه|جاده|"
                           r"بزرگراه|کوی|شهرک)\s+")
_CITY = re.compile(r"^مشهد\s+(?=\S)")
_MARTYR = re.compile(r"(?<!\S)شهید(?=\s+\S)\s*")


def _text(address: Any) -> str | None:
    if isinstance(address, dict):
        alley = str(address.get("alley") or "").strip()
        if alley and not re.match(_ALLEY, alley):
            alley = f"کوچه {alley}"  # an alley field holding just «۱۴»
        parts = [address.get("street"), alley, address.get("detail")]
        return " ، ".join(str(p) for p in parts if p) or None
    return str(address) if address else None


def _name(words: str) -> str:
    """A street's or alley's name as a key: «شهید» and the street's kind dropped, letters folded."""
    from munihub.persian import match_key

    words = _STREET_KINDS.sub("", words.strip())
    return match_key(_MARTYR.sub("", words)) or ""


def _street(words: str) -> str:
    """A street's name as a key: the city before it («مشهد کوهسنگی») dropped, then `_name`."""
    return _name(_CITY.sub("", words))


@functools.lru_cache(maxsize=1 << 16)
def _read(text: str) -> tuple[tuple[str, ...], str | None]:
    """The address as its path (street, alley, nested alleys…) and its landmark, if any."""
    from munihub.persian import normalize_text, to_latin_digits

    text = normalize_text(to_latin_digits(text)) or ""
    building = _BUILDING.search(text)
    text = text[:building.start()] if building else text
    landmarks = [m.group(1).strip() for m in _LANDMARK.finditer(text)]
    # whitespace runs collapsed: `_SEGMENT`'s `\s*` rescans a long run at every position
    # («نبش » repeated 3,000 times, every «نبش» taken out: 0.84 s; collapsed, 2 ms)
    text = " ".join(_POSITION.sub(" ", _LANDMARK.sub(" ", text)).split())
    path: list[str] = []
    plain: list[str] = []  # segments before the first alley: the city, then the street
    for seg in (s.strip(" -–—") for s in _SEGMENT.split(text)):
        if not seg:
            continue
        head = _ALLEY_HEAD.match(seg)
        if head:
            rest = seg[head.end():]
            lane = _alley_name(rest)
            if not lane:
                continue  # «انتهای بن‌بست»: the alley's end, no other alley
            if not path:
                if not plain:
                    return (), None  # an alley of no street
                path.append(_street(plain[-1]))
            off = _NUMBERED.match(rest)
            if off and _name(off.group(1)) == path[-1]:
                lane = [off.group(2)]  # «خیابان سناباد، کوچه سناباد ۲۴»: alley 24 off سناباد
            path += lane
            continue
        numbered = _NUMBERED.match(seg)
        if not path and numbered:  # «وکیل‌آباد ۱۲»: the street and its alley
            path += [_street(numbered.group(1)), numbered.group(2)]
        elif path:
            path.append(_name(seg))  # «…۱۲، گلستان ۳»: an alley off the alley before it
        else:
            plain.append(seg)
    path = [p for p in path if p]
    landmark = None
    if landmarks and landmarks[0] and len(path) < 2:
        street = _street(plain[-1]) if plain else (path[0] if path else "")
        landmark = f"{street}~{_name(landmarks[0])}"
    return (tuple(path) if len(path) >= 2 else ()), landmark


def _alley_name(rest: str) -> list[str]:
    """The alley after «کوچه»: its number («کوچه ۱۲» is 12; «کوچه ۱۲ گلستان ۳» nests «گلستان ۳»
    in it), else its name, three words at most, a number ending it («گلستان ۳»)."""
    words = rest.split()
    if not words:
        return []
    if words[0][0].isdigit():
        after = " ".join(words[1:])
        return [words[0]] + ([_name(after)] if re.search(r"\d", after) else [])
    for i, w in enumerate(words[:3]):
        if w[0].isdigit():
            return [_name(" ".join(words[:i + 1]))]
    return [_name(" ".join(words[:3]))]


def place_key(address: Any) -> str | None:
    """`street/alley` of an address (a dict with street, alley or detail, or its text), nested
    alleys after it (`street/alley/alley`); None when the street or alley is missing, a landmark
    alone included.  «مشهد، بلوار توس، کوچه ۱۴، پلاک ۲» and «بلوار توس کوچه 14» agree."""
    text = _text(address)
    path = _read(text)[0] if text else ()
    return "/".join(path) or None


# a plaque: «پلاک ۱۲», «پ ۱۲», «پ.۱۲», «،پ۱۰۳» (not «پ» ending a word), «پلاک ۱۲/۳»
_PLAQUE = re.compile(rf"(?:پلاک|پلاك|{_NOT_AFTER_LETTER}پ\.?)\s*(\d+(?:/\d+)?)")


def home_key(address: Any) -> str | None:
    """`street/alley#plaque` of an address that gives its street, alley and plaque: one
    building («خ توس ک ۴۸ پ ۳۷» and «مشهد، بلوار توس، توس ۴۸، پلاک ۳۷، واحد ۲» agree), to
    tell a household's calls from its neighbours' on the alley; None without a plaque."""
    from munihub.persian import normalize_text, to_latin_digits

    place = place_key(address)
    text = _text(address)
    plaque = _PLAQUE.search(normalize_text(to_latin_digits(text)) or "") if place and text else None
    return f"{place}#{plaque.group(1)}" if plaque else None


def landmark_key(address: Any) -> str | None:
    """`street~landmark` of a location named by a landmark and no alley («بلوار سجاد، جنب مسجد
    الزهرا»): for 137 calls to compare within one district, never a home for persons."""
    text = _text(address)
    return _read(text)[1] if text else None


_DISTRICT_WORD = re.compile(r"^\s*(?:شهرداری\s*)?(?:منطقه|منطقة)\u200c?ی?ٔ?\s*")


def district_key(address: Any) -> str | None:
    """The district of an address dict, digits and letters folded («منطقه ۳» and «3» agree, and
    «منطقه ثامن» and «ثامن»)."""
    if not isinstance(address, dict) or not address.get("district"):
        return None
    from munihub.persian import match_key, to_latin_digits

    value = to_latin_digits(str(address["district"]))
    digits = re.findall(r"\d+", value)
    # a named district with or without its word: «ثامن» and «منطقه ثامن» agree
    return str(int(digits[0])) if digits else (match_key(_DISTRICT_WORD.sub("", value)) or match_key(value) or None)
