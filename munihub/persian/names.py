"""Person names: honorific titles and name-comparison keys.

Titles (سید، حاج، دکتر، …) are attributes of a person, not part of the name: `split_title`
moves them out so «سید محمد» and «محمد» compare equal, and `name_key` adds a small table of
everyday short forms («ممد»→«محمد», «عبداله»→«عبدالله») on top of `match_key`; it also drops
the words after a first name that are no part of it («فاطمه‌سادات», «نرگس‌بیگم», «هانیه خانم»
key as «فاطمه», «نرگس», «هانیه»).  The lists of known first names and surnames shipped in
`data/` are read here (`known_names`).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

from munihub.persian.ids import NATIONAL_ID_LABEL, NATIONAL_ID_WORDS
from munihub.persian.letters import fold_key_letters, match_key, normalize_text

_NOT_KEY = re.compile(r"[\W_]+")
# A number written into a name field («علی رضایی (۰۹۱۵…)», «رضایی تلفن ۰۹۱۵-۱۲۳-۴۵۶۷»,
# «علی رضایی، همراه: ۰۹۱۵…»): a name has no digits, so a run of them (with the spaces, dashes
# and brackets numbers are written with, and the word that labels it) is no part of the name.
# Matched on normalized text, whose digits are Latin.
# A national id's label (کد ملی، کدملی، شماره ملی، شناسه ملی، and clerks' «ک.م», «ش.م») says
# what the number is: «زهرا جعفری ک.م 9340146247» holds an id, not the mobile its ten digits
# would read as.  Such a number is handed on as `NATIONAL_ID_LABEL` + its digits.
_NATIONAL_ID = rf"(?P<nid>{NATIONAL_ID_WORDS})"
_NUMBER_LABEL = r"(?:(?:" + _NATIONAL_ID + r"|شماره\s*(?:تلفن\s*همراه|تلفن|تماس|همراه|موبایل)?|تلفن\s*همراه" \
                r"|تلفن|تماس|همراه|موبایل|تل)\s*[:：]?\s*)?"
_NUMBER = re.compile(_NUMBER_LABEL + r"[(\[{]?\s*\+?(?P<number>\d(?:[\d\s\-–./]*\d)?)\s*[)\]}]?")
_KEY_NUMBER = re.compile(r"\d{5,}")
_EDGES = re.compile(r"^[\s،,؛;:\-–—/|]+|[\s،,؛;:\-–—/|]+$")


def split_numbers(text: str) -> tuple[str, tuple[str, ...]]:
    """Normalized name text without the numbers written into it, and those numbers (their
    digits and separators, a leading + kept).  A number is five digits or more (a phone, an
    id, a date): a stray digit or two stays, as it was written."""
    if not any(c.isdigit() for c in text):
        return text, ()
    numbers: list[str] = []

    def take(m: re.Match) -> str:
        number = m["number"]
        if sum(c.isdigit() for c in number) < 5:
            return m.group(0)
        if m["nid"]:
            numbers.append(NATIONAL_ID_LABEL + number)
        else:
            numbers.append(("+" if "+" in m.group(0)[:m.start("number") - m.start(0)] else "") + number)
        return " "

    rest = _NUMBER.sub(take, text)
    return (_EDGES.sub("", " ".join(rest.split())), tuple(numbers)) if numbers else (text, ())


# Canonical title -> spellings seen in registers (Persian, abbreviated, transliterated).
TITLES: dict[str, tuple[str, ...]] = {
    "سید": ("سید", "seyed", "seyyed", "sayed", "sayyed", "syed", "sayyid", "seid"),
    "سیده": ("سیده", "seyedeh", "seyyedeh", "sayedeh", "sayyedeh"),
    "حاج": ("حاج", "haj", "hajj", "haaj"),
    "حاجی": ("حاجی", "haji", "hajji"),
    "حاجیه": ("حاجیه", "حاجیه خانم", "hajieh", "hajiyeh"),
    "دکتر": ("دکتر", "د", "dr", "doctor"),
    "مهندس": ("مهندس", "مهن", "eng", "engr", "engineer", "mohandes"),
    "آقای": ("آقای", "جناب آقای", "جناب", "mr", "mister", "agha", "aghaye"),
    "خانم": ("خانم", "سرکار خانم", "سرکار", "mrs", "ms", "miss", "khanom"),
    "استاد": ("استاد", "پروفسور", "prof", "professor", "ostad"),
    "شهید": ("شهید",),
    "مرحوم": ("مرحوم", "مرحومه", "شادروان"),
    "کربلایی": ("کربلایی", "کربلائی", "کربلای"),
    "مشهدی": ("مشهدی", "مش"),
    "حجت‌الاسلام": ("حجت‌الاسلام", "حجت الاسلام", "حجه الاسلام"),
    "آیت‌الله": ("آیت‌الله", "آیت الله", "آیه الله"),
}
_TITLE_BY_KEY = {match_key(form): canon for canon, forms in TITLES.items() for form in forms}
_TITLE_WORDS = max(len(f.split()) for forms in TITLES.values() for f in forms)
_TITLE_FIRST_WORDS = {match_key(f.split()[0]) for forms in TITLES.values() for f in forms}

# Second halves of compound surnames written with a space («حاجی زاده»): the first word is
# then part of the surname, not a title.
_SURNAME_TAILS = {match_key(w) for w in ("زاده", "زادگان", "پور", "نژاد", "نیا", "فر", "وند",
                                         "لو", "راد", "کیا", "منش", "زاد", "ها")}

# First names commonly glued to «سید»/«سیده» («سیدمحمد»); only these are split off.
_FIRST_NAMES = ("محمد", "علی", "حسین", "حسن", "رضا", "مهدی", "جواد", "احمد", "مجتبی", "مصطفی",
                "مرتضی", "هادی", "جعفر", "عباس", "ابوالفضل", "محسن", "امیر", "سعید", "مجید",
                "حمید", "محمود", "کاظم", "باقر", "صادق", "هاشم", "یحیی", "فاطمه", "زهرا",
                "مریم", "معصومه", "زینب", "سمیه", "طاهره", "اعظم", "منصوره", "نرگس", "رقیه")
_GLUED_TITLE = re.compile("^(سیده|سید)\u200c?("
                          + "|".join(sorted(_FIRST_NAMES, key=len, reverse=True)) + ")")

# Everyday short forms and misspellings, compared on match-key tokens.
SHORT_FORMS: dict[str, str] = {
    "ممد": "محمد", "ممدرضا": "محمدرضا", "ممدعلی": "محمدعلی", "ممدحسین": "محمدحسین",
    "ممدجواد": "محمدجواد", "ممدمهدی": "محمدمهدی",
    "عبداله": "عبدالله", "عبدا": "عبدالله", "ابولفضل": "ابوالفضل", "ابالفضل": "ابوالفضل",
    "اسماعیل": "اسمعیل", "ابراهیم": "ابرهیم",
    "mohamad": "mohammad", "mohammed": "mohammad", "muhammad": "mohammad",
    "mohamed": "mohammad", "mohd": "mohammad", "mamad": "mohammad",
    "ali-reza": "alireza", "hossein": "hosein", "husain": "hosein", "hussein": "hosein",
}
_SHORT = {match_key(k): match_key(v) for k, v in SHORT_FORMS.items()}
# «نعمت‌اله», «روح اله» → «…الله» only after these stems («هاله» is a name of its own).
_ALLAH_STEMS = ("نعمت", "روح", "حبیب", "فتح", "سیف", "عزت", "ولی", "امان", "ذبیح", "فضل",
                "حجت", "قدرت", "رحمت", "خلیل", "کلیم", "نصرت", "شکر", "اسد", "ید", "عین",
                "نور", "حشمت", "هدایت", "عنایت", "رضوان", "خلق", "لطف", "ثنا", "سعد")
_ALLAH = re.compile("(" + "|".join(match_key(s) for s in _ALLAH_STEMS) + ")اله(?!ه)")


def _word_key(text: str) -> str:
    """`match_key` of text that is already normalized (skips normalizing it again)."""
    return _NOT_KEY.sub("", fold_key_letters(text))


def _data_text(name: str) -> str:
    """A data file shipped with munihub.persian (data/), whole."""
    return resources.files("munihub.persian").joinpath("data", name).read_text("utf-8")


def _read_list(name: str) -> frozenset[str]:
    return frozenset(_word_key(normalize_text(line) or "") for line in _data_text(name).splitlines()
                     if line.strip() and not line.startswith("#"))


@functools.lru_cache(maxsize=1)
def known_names() -> tuple[frozenset[str], frozenset[str]]:
    """(first-name keys, surname keys) of the lists shipped in `munihub/persian/data/`, read once."""
    return _read_list("first_names.txt"), _read_list("surnames.txt")


@functools.lru_cache(maxsize=1)
def first_name_genders() -> dict[str, str]:
    """The shipped first names given to one gender only, as written → "male" / "female" (the
    person schema's values): the `# gender:` sections of first_names.txt."""
    out, gender = {}, None
    for line in _data_text("first_names.txt").splitlines():
        if line.startswith("# gender:"):
            gender = line.partition(":")[2].strip()
        elif line.strip() and not line.startswith("#") and gender in {"male", "female"}:
            out[normalize_text(line.strip()) or line.strip()] = gender
    return out


def _title_at(words: list[str], i: int) -> tuple[str | None, int]:
    """The canonical title starting at words[i] and how many words it spans."""
    if _word_key(words[i].partition(".")[0]) not in _TITLE_FIRST_WORDS:
        return None, 0                                # the common case: no title at all
    for span in range(min(_TITLE_WORDS, len(words) - i), 0, -1):
        canon = _TITLE_BY_KEY.get(_word_key(" ".join(words[i:i + span])))
        if canon:
            return canon, span
    return None, 0


_TITLE_GENDER = {"آقای": "male", "حاج": "male", "حاجی": "male", "خانم": "female", "حاجیه": "female"}


def title_gender(title: str | None) -> str | None:
    """The gender a parsed title says («خانم» female, «آقای» male), None for «دکتر» and the like."""
    return _TITLE_GENDER.get(title.split()[0]) if title else None


def title_of(value: str) -> str | None:
    """The canonical title a value gives: its leading titles («حاج محمد» → «حاج»), or the whole
    value when it is only titles (a form's own title field: «سرکار خانم» → «خانم»), which
    `split_title` leaves as a name; None for a value that is no title («محمد»)."""
    text = normalize_text(value)
    if text is None:
        return None
    title, _ = _split_normalized(text)
    if title:
        return title
    words, found, i = text.split(), [], 0
    while i < len(words):
        canon, span = _title_at(words, i)
        if canon is None:
            return None
        found.append(canon)
        i += span
    return " ".join(dict.fromkeys(found)) or None


def split_title(name: str) -> tuple[str | None, str]:
    """(leading honorifics as one normalized title or None, the name without them).

    «سید دکتر محمد رضایی» → («سید دکتر», «محمد رضایی»).  The last word is never taken as a
    title, and «حاجی زاده» stays a surname, so a name is never emptied.
    """
    text = normalize_text(name)
    if text is None:
        return None, ""
    return _split_normalized(text)


def _split_normalized(text: str) -> tuple[str | None, str]:
    glued = _GLUED_TITLE.match(text)
    if glued:
        tail = text[glued.end():].split(" ", 1)[0]
        if not tail or len(tail) >= 3:                # «سیدمحمدی» is a surname: no split
            text = glued.group(1) + " " + text[glued.start(2):]
    words = text.split()
    titles: list[str] = []
    i = 0
    while i < len(words) - 1:
        head, dot, tail = words[i].partition(".")
        if dot and tail and _word_key(head) in _TITLE_BY_KEY:
            words[i:i + 1] = [head + ".", tail]        # «د.محمد»: abbreviation glued by a dot
        canon, span = _title_at(words, i)
        if canon is None or i + span >= len(words) or _word_key(words[i + span]) in _SURNAME_TAILS:
            break
        titles.append(canon)
        i += span
    if not titles:
        return None, text
    return " ".join(titles), " ".join(words[i:])


# Words after a woman's or a man's first name that are no part of it, for matching: «سادات»
# («فاطمه‌سادات», «مریم‌السادات») marks a seyyed's daughter, as «سید» before a man's name
# does, and a clerk drops it as readily; «بیگم» («زهرابیگم», «نرگس‌بیگم») is an old
# honorific a register keeps and a form leaves off.  Both go however written (spaced, with a
# half-space, glued).  A courtesy word a clerk writes after a name, «هانیه خانم», «حسین آقا»,
# goes only as a word of its own after a listed first name: «نورآقا», «خان‌آقا» («نور آقا») are
# given names.
_LINEAGE_ENDS = ("السادات", "سادات", "بیگم")     # (keys; «السادات» tried before «سادات»)
_COURTESY = frozenset(("خانم", "اقا"))             # (keys: «آقا» folds to «اقا»)
_SUFFIX_HINT = re.compile("سادات|بیگم|خانم|آقا|اقا")


def _is_first_name(key: str) -> bool:
    """Whether a key is a listed first name, or two of them written as one («علی‌اکبر»)."""
    first = known_names()[0]
    return key in first or any(key[:i] in first and key[i:] in first for i in range(2, len(key) - 1))


def lineage_stem(key: str) -> str:
    """A name word's key without the lineage words at its end (`_LINEAGE_ENDS`, stacked too:
    «سادات‌بیگم»): «فاطمهسادات» → «فاطمه», «ساداتبیگم» → "" (nothing but them), «هاشمی» as is."""
    while key.endswith(_LINEAGE_ENDS):
        key = key[:-len(next(e for e in _LINEAGE_ENDS if key.endswith(e)))]
    return key


def _without_suffixes(tokens: list[str]) -> list[str]:
    """Name-word keys without the lineage and courtesy words after a first name (`_LINEAGE_ENDS`,
    `_COURTESY`): «فاطمه‌سادات» and «فاطمه», «هانیه خانم» and «هانیه» then key alike."""
    out: list[str] = []
    for t in tokens:
        stem = lineage_stem(t)
        if out and (not stem or t in _COURTESY) and _is_first_name(out[-1]):
            continue  # a word of its own after a first name
        if stem != t and len(stem) > 1 and _is_first_name(stem):
            t = stem  # glued or with a half-space: «فاطمه‌سادات», «زهرابیگم»
        out.append(t)
    return out


def name_key(name: str | None) -> str:
    """Match key of a person's name: titles dropped, short forms expanded, then `match_key`.

    «حاج ممدرضا کریمي» and «محمد‌رضا کریمی» give the same key.  Short names are cached:
    a few thousand first names cover most of a city.
    """
    if isinstance(name, str) and len(name) <= _CACHE_LEN:
        return _cached_name_key(name)
    return _name_key(name)


_CACHE_LEN = 80


def _name_key(name: str | None) -> str:
    text = normalize_text(name)
    if text is None:
        return ""
    text = split_numbers(text)[0]
    _, rest = _split_normalized(text)
    tokens = [_SHORT.get(t, t) for t in (_NOT_KEY.sub("", w) for w in fold_key_letters(rest).split())]
    if _SUFFIX_HINT.search(rest):
        tokens = _without_suffixes(tokens)
    key = "".join(tokens)
    if any(c.isdigit() for c in key):  # short runs the parts joined into a number («0000:0»):
        key = _KEY_NUMBER.sub("", key)  # taken out too, so a key read again is the same key
    if "اله" in key:
        key = _ALLAH.sub(r"\1الله", key)
    return key if unicodedata.is_normalized("NFKC", key) else match_key(key)


_cached_name_key = functools.lru_cache(maxsize=1 << 17)(_name_key)


# --------------------------------------------------------------------------- across scripts
# A name key's consonant skeleton, the same for «حسین» and «Hossein», «رضایی» and «Rezaei»:
# Persian writes the long vowels and no short ones, Latin transliterations write both, so
# short vowels are dropped, the long i is «y» and the long u «v» on both sides (ی, i, ee, ei;
# و, ou, oo, u, v, w: محمود / Mahmoud is not محمد), a word's opening vowel is kept as «a»
# (احمد / Ahmad is not حامد / Hamed), and letters that sound alike share one sign (ث س ص,
# ذ ز ض ظ, ت ط, ح ه, غ ق / gh q).  Used only to compare a Latin name with a Persian one (a
# bank's «AGHAYI, Hossein» with the registry's «حسین آقایی»); within one script the keys
# themselves are compared.  A Latin name's last vowel is read as Persian writes it: a final
# «e» after a consonant is the silent «ه» (Fateme / فاطمه, Somaye / سمیه; so Hamide is
# حمیده, not حمید), a final «a» is «ا» or the «ی» read «a» (Morteza / مرتضی, Kobra / کبری:
# `latin_skeletons`).  Where the two scripts still write a name apart (ابوالفضل / Abolfazl,
# مؤمنی / Momeni), the skeletons differ and the names are not compared.
_PERSIAN_SOUNDS = str.maketrans({
    "ب": "b", "پ": "p", "ت": "t", "ط": "t", "ث": "s", "س": "s", "ص": "s", "ج": "j", "چ": "c", "ح": "h",
    "ه": "h", "خ": "x", "د": "d", "ذ": "z", "ز": "z", "ض": "z", "ظ": "z", "ر": "r", "ژ": "j", "ش": "S",
    "غ": "q", "ق": "q", "ف": "f", "ک": "k", "گ": "g", "ل": "l", "م": "m", "ن": "n", "ی": "y",
    "و": "v", "ا": None, "ع": None, "ء": None})
_PERSIAN_OPENING = frozenset("اع")  # (آ is folded to ا in keys)
# ژ is «zh» or «j» in Latin (Manijeh / منیژه); «ae» is the «ئ» of قائمی, رئیسی (Ghaemi, Raeisi).
_LATIN_SOUNDS = {"kh": "x", "sh": "S", "ch": "c", "zh": "j", "gh": "q", "ph": "f", "ou": "v", "oo": "v", "ee": "y",
                 "ei": "y", "ey": "y", "ai": "y", "ay": "y", "ae": "y", "i": "y", "y": "y", "a": "", "e": "",
                 "o": "", "u": "v", "w": "v", "c": "k", "x": "ks", "q": "q"}
_LATIN_SOUND = re.compile(r"kh|sh|ch|zh|gh|ph|ou|oo|ee|ei|ey|ai|ay|ae|[a-z]")
_LATIN_OPENING = {"a": "a", "e": "a", "o": "a", "i": "ay", "ee": "ay", "ei": "ay", "ey": "ay", "ai": "ay",
                  "ou": "av", "oo": "av", "u": "av"}
_RUNS = re.compile(r"(.)\1+")


@functools.lru_cache(maxsize=1 << 14)
def name_skeleton(key: str) -> str:
    """The consonant skeleton of a name key in either script (`name_key`'s output), "" for
    none: equal skeletons of a Latin and a Persian key are one name written two ways."""
    if not key:
        return ""
    if key[0].isascii():
        sounds = _LATIN_SOUND.findall(key.lower())
        opening = _LATIN_OPENING.get(sounds[0], "") if sounds else ""
        rest = sounds[1:] if opening else sounds
        text = opening + "".join(_LATIN_SOUNDS.get(g, g) for g in rest)
    elif key[0] in _PERSIAN_OPENING:  # the opening vowel, and its long vowel after it (ای, او)
        text = "a" + key[1:].translate(_PERSIAN_SOUNDS)
    else:
        text = key.translate(_PERSIAN_SOUNDS)
    return _RUNS.sub(r"\1", text)


def latin_skeletons(key: str) -> tuple[str, ...]:
    """The skeletons a name key may have in Persian: `name_skeleton`'s, with a Latin key's
    last vowel read as Persian writes it (a final «e» after a consonant as «ه», a final «a» as
    «ا» or «ی»)."""
    skeleton = name_skeleton(key)
    if not key[:1].isascii() or len(key) < 3 or key[-2] in "aeiou":
        return (skeleton,)
    if key[-1] == "e":
        return (skeleton + "h",)
    if key[-1] == "a" and not skeleton.endswith("y"):
        return (skeleton, skeleton + "y")
    return (skeleton,)


def two_scripts(a: str, b: str) -> bool:
    """Whether two name keys are written in two scripts (one Latin, one Persian)."""
    return a[:1].isascii() != b[:1].isascii()


def one_name_across_scripts(a: str, b: str) -> bool:
    """Whether a Latin and a Persian name key are one name (the Persian `name_skeleton`, of
    two sounds or more, among the Latin key's `latin_skeletons`)."""
    latin, persian = (a, b) if a[:1].isascii() else (b, a)
    skeleton = name_skeleton(persian)
    return len(skeleton) >= 2 and skeleton in latin_skeletons(latin)
