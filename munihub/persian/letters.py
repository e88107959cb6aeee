"""Persian letters, digits and invisible characters: display text and comparison keys.

Two levels on purpose.  `normalize_text` gives the canonical *display* form: it only
removes what a reader cannot see or what a keyboard got wrong (Arabic ي/ك, tatweel,
harakat, bidi marks, stray half-spaces), so stored names still read as their owners wrote
them.  `match_key` is deliberately lossy: it folds letters that are legitimately spelled two
ways (hamza forms, ة/ه, آ/ا) and drops spaces, half-spaces and punctuation, so «محمدرضا»,
«محمد رضا» and «محمد‌رضا» compare equal.  Every table and regex is built once at import:
these run on millions of records.
"""
from __future__ import annotations

import functools
import re
import unicodedata

from munihub.errors import MunihubError

ZWNJ = "\u200c"


class NormalizeError(MunihubError, ValueError):
    """A value could not be read as what its field says it is (id, mobile, date, …).

    `message` is English (also `str()`), `message_fa` Persian for stewards, `code` a short
    machine word (`empty`, `length`, `check_digit`, `range`, …).  Messages never carry a
    full national id.
    """

    def __init__(self, message: str, message_fa: str, *, code: str = "invalid"):
        self.message = message
        self.message_fa = message_fa
        self.code = code
        super().__init__(message)


# --------------------------------------------------------------------------- digits
_DIGITS = {ord(c): str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")}
_DIGITS.update({ord(c): str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")})


def to_latin_digits(s: str) -> str:
    """Persian (۰-۹) and Arabic-Indic (٠-٩) digits to ASCII 0-9; everything else unchanged."""
    return s.translate(_DIGITS)


# --------------------------------------------------------------------------- display text
def _display_table() -> dict[int, str | None]:
    t: dict[int, str | None] = dict(_DIGITS)
    # Arabic and Urdu keyboards' look-alikes of Persian letters (not legitimate Persian spellings).
    for src, dst in (("ي", "ی"), ("ى", "ی"), ("ې", "ی"), ("ۍ", "ی"), ("ێ", "ی"), ("ے", "ی"),
                     ("ؠ", "ی"), ("ؽ", "ی"), ("ؾ", "ی"), ("ؿ", "ی"), ("ك", "ک"), ("ڪ", "ک"),
                     ("ګ", "گ"), ("ڬ", "ک"), ("ھ", "ه"), ("ہ", "ه"), ("ە", "ه")):
        t[ord(src)] = dst
    t[0x0640] = None                                   # tatweel (kashida): decoration only
    for cp in (*range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06EE), *range(0x0610, 0x061B)):
        if cp not in (0x06E5, 0x06E6):                 # small waw/yeh are letters, not marks
            t[cp] = None                               # harakat, shadda, sukun, Quranic marks
    for cp in (0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        t[cp] = None                                   # bidi controls: invisible, break equality
    # Invisible joiners typed where a half-space was meant (Word's optional hyphen, ZWSP, BOM).
    for cp in (0x00AD, 0x200B, 0x2060, 0xFEFF):
        t[cp] = ZWNJ
    for cp in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        t[cp] = " " if chr(cp).isspace() else None      # NUL and friends break PostgreSQL text
    for cp in range(0xD800, 0xE000):
        t[cp] = "\ufffd"                               # lone surrogates cannot be stored as UTF-8
    # Arabic presentation forms fold through NFKC, then through this same table (ﻙ → ك → ک).
    for cp in (*range(0xFB50, 0xFE00), *range(0xFE70, 0xFEFF)):
        ch = chr(cp)
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch:
            t[cp] = folded.translate(t)
    return t


def _char_class(codepoints) -> re.Pattern:
    """A regex matching any of `codepoints`: finds in C whether a translate is needed at all."""
    cps, parts, i = sorted(codepoints), [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\u{cps[i]:04x}" + (f"-\\u{cps[j]:04x}" if j > i else ""))
        i = j + 1
    return re.compile("[" + "".join(parts) + "]")


_DISPLAY = _display_table()
_NEEDS_DISPLAY = _char_class(_DISPLAY)
_ZWNJ_RUN = re.compile("\u200c{2,}")
# A half-space only means something between two letters of Arabic script.
_STRAY_ZWNJ = re.compile(r"(?<![\u0620-\u064A\u066E-\u06D3\u06D5\u06EE\u06EF\u06FA-\u06FF])\u200c"
                         r"|\u200c(?![\u0620-\u064A\u066E-\u06D3\u06D5\u06EE\u06EF\u06FA-\u06FF])")


# UTF-8 read as Latin-1 or Windows-1252 and stored again as UTF-8 («Ù…Ø­Ù…Ø¯» for «محمد»: a
# MySQL column declared latin1 holding a UTF-8 client's bytes): the lead byte of an Arabic-
# script letter (D8–DB) or of a half-space (E2) as its Latin letter, then a continuation byte
# as Latin-1's control or sign, or as Windows-1252's letter for 0x80–0x9F.
_CP1252_HIGH = "".join(bytes([b]).decode("cp1252", errors="ignore") for b in range(0x80, 0xA0))
_MOJIBAKE = re.compile("[\u00d8-\u00db\u00e2][\u0080-\u00bf" + re.escape(_CP1252_HIGH) + "]")
_FROM_CP1252 = {ch: bytes([b]) for b in range(0x80, 0xA0)
                for ch in [bytes([b]).decode("cp1252", errors="ignore")] if ch}


def _unmojibake(s: str) -> str:
    """The text `_MOJIBAKE` found, read back as the UTF-8 it was, when every character is one
    byte of it and the result is Arabic-script text; otherwise `s` as it was."""
    try:
        raw = b"".join(_FROM_CP1252[ch] if ch in _FROM_CP1252 else bytes([ord(ch)]) for ch in s)
        fixed = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # a character past one byte: not such text
        return s
    return fixed if any("\u0600" <= ch <= "\u06ff" for ch in fixed) else s


def normalize_text(s: str | None) -> str | None:
    """Canonical display/storage form of Persian text; None for None, empty or blank.

    Arabic ي ى→ی and ك→ک, tatweel, harakat and bidi marks removed, digits Latin, half-spaces
    unified to U+200C (none at word edges, never doubled), whitespace collapsed, NFKC.
    ة, hamza forms and آ are kept: they are real spellings (match_key folds them).
    """
    if s is None:
        return None
    if not isinstance(s, str):
        s = str(s)
    if _MOJIBAKE.search(s):  # double-encoded UTF-8, read back first
        s = _unmojibake(s)
    if _NEEDS_DISPLAY.search(s):                    # most clean names skip the slow translate
        s = s.translate(_DISPLAY)
        if _MOJIBAKE.search(s):  # the marks it removed stood between a double encoding's bytes
            fixed = _unmojibake(s)
            s = fixed.translate(_DISPLAY) if fixed != s else s
    if not unicodedata.is_normalized("NFKC", s):
        s = unicodedata.normalize("NFKC", s)
        if _NEEDS_DISPLAY.search(s):  # a presentation form NFKC made Arabic (ﻱ, 𞸩 → ي) is folded too
            s = unicodedata.normalize("NFKC", s.translate(_DISPLAY))
    if ZWNJ in s:
        s = _STRAY_ZWNJ.sub("", _ZWNJ_RUN.sub(ZWNJ, s))
    elif s.isprintable() and "  " not in s and s[:1] != " " and s[-1:] != " ":
        # Already NFKC, and its only whitespace is single inner spaces (every other whitespace
        # character is unprintable): the collapse below would give it back as it is.  Most
        # stored text is this; the split and join were half the time of a distinct column
        # such as addresses (~1.5 of 2.7 µs a value).
        return s or None
    s = " ".join(s.split())
    if not unicodedata.is_normalized("NFKC", s):    # removals can leave composable pairs
        s = " ".join(unicodedata.normalize("NFKC", s).split())
    return s or None


def read_texts(values: list[str]) -> list[str] | None:
    """`normalize_text` of each value of a column of text whose every value it returns as it is
    (no letter to fold, already NFKC, no half-space, single inner spaces: most stored text), by
    one scan of the column joined with spaces and a C-level map; None for any other column.
    Joined by single spaces, a value with an edge space, a double space or none at all shows
    as a double space or an edge space of the whole."""
    if not values:
        return []
    joined = " ".join(values)
    if (not joined or _NEEDS_DISPLAY.search(joined) or ZWNJ in joined or not joined.isprintable() or "  " in joined
            or _MOJIBAKE.search(joined)
            or joined[:1] == " " or joined[-1:] == " " or not all(map(_IS_NFKC, values))):
        return None
    return list(values)


_IS_NFKC = functools.partial(unicodedata.is_normalized, "NFKC")


# --------------------------------------------------------------------------- comparison keys
def _key_table() -> dict[int, str | None]:
    t: dict[int, str | None] = {}
    for src, dst in (("ة", "ه"), ("ۀ", "ه"), ("ۂ", "ه"), ("ۃ", "ه"), ("أ", "ا"), ("إ", "ا"),
                     ("ٱ", "ا"), ("آ", "ا"), ("ٲ", "ا"), ("ٳ", "ا"), ("ؤ", "و"), ("ئ", "ی"),
                     ("ء", None), ("\u200c", None), ("\u200d", None)):
        t[ord(src)] = dst
    return t


_KEY = _key_table()
_NEEDS_KEY = _char_class(_KEY)
_NOT_WORD = re.compile(r"[\W_]+")


def fold_key_letters(s: str) -> str:
    """Normalized text with the lossy letter folds of `match_key`, spaces kept (for tokens)."""
    return (s.translate(_KEY) if _NEEDS_KEY.search(s) else s).lower()


def match_key(s: str | None) -> str:
    """Aggressive comparison key: normalized, hamza/ة/آ folded, no spaces, half-spaces or
    punctuation, Latin lowercased.  '' when nothing is left.  Idempotent."""
    text = normalize_text(s)
    if text is None:
        return ""
    key = _NOT_WORD.sub("", fold_key_letters(text))
    if not unicodedata.is_normalized("NFKC", key):   # rare: lower() of exotic letters
        key = _NOT_WORD.sub("", unicodedata.normalize("NFKC", key).translate(_KEY).lower())
    return key
