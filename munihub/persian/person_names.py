"""One-field person names as real exports write them, read into parts.

Callers' and payers' names arrive as one string: «آقای علی احمدی»، «احمدی، علی»، «احمدی - علی»،
«علی احمدی فرزند حسن»، «سیدمحمد موسوی»، «خانم کریمی»، «ناشناس».  `parse_name` returns the
first name, surname, father's name, titles and the seyyed flag, and how sure it is of the
order.  The order is decided from evidence, never from position alone: the first-name and
surname lists shipped in `munihub/persian/data/`, surname endings (-زاده، -پور، -ی …), the
separator (a comma or dash usually follows the surname), then position (first name first).
Placeholders (ناشناس، شهروند، بدون نام …) are no name at all.  Notes in brackets are read
(`_notes`): «احمدی (علی)» is a part of the name, «(فرزند حسن)»/«(پدر: حسن)» the father,
«(وکیل)» a word about the person, dropped.  A field naming several people or an agent signing
for the owner («علی احمدی و زهرا کریمی»، «مهدی و علی احمدی»، «شیما نوری به وکالت از رضا
نوری») is read as the one person it is about, as `owners` picks it (`by_agent` says an agent
signed); titles are taken off by `titles`.  A relative named instead of the caller
(«همسر علی کریمی»، «پسر حسن رضایی») names nobody but a gender (and a child's or sibling's
surname); a child named by the father alone («فرزند حسن رضایی») has his surname; an
organisation («شرکت …»، «تعاونی …») names no person.
"""
from __future__ import annotations

import functools
import re
from typing import NamedTuple

from munihub.persian.letters import normalize_text
from munihub.persian.names import (first_name_genders, known_names, latin_skeletons, lineage_stem, name_skeleton,
                                   split_numbers, title_gender)
from munihub.persian.owners import first_of_joint, first_of_several, owner_named
from munihub.persian.titles import SURNAME_TAILS as _TAILS, TITLE_HEADS as _TITLE_HEADS, strip_titles as _strip_titles, word_key as _key

# Between the parts of a one-field name: «احمدی، علی», «احمدی - علی», «احمدی/علی».
_SEPARATOR = re.compile(r"\s*[،,؛;\-–—/|]+\s*")
_HAS_SEPARATOR = re.compile(r"[،,؛;\-–—/|]")
_CHILD_OF = "فرزند|ولد|بنت"  # «… son/daughter of X»; «نام پدر: X», «پدر: X» name the father too
_FATHER = re.compile(rf"(?:^|\s)(?:(?:{_CHILD_OF})(?:\s*:\s*|\s+|$)|نام\s*پدر\s*:?\s*|پدر\s*:\s*)")
_FATHER_WORD = re.compile(f"{_CHILD_OF}|پدر")
# A note in brackets: «رضایی (علی)», «علی رضایی (فرزند حسن)», «… (پدر: حسن)», «… (وکیل)».
_NOTE = re.compile(r"[(\[]([^()\[\]]*)[)\]]?")
_FATHER_HEAD = re.compile(rf"(?:{_CHILD_OF}|نام\s*پدر|پدر)\s*:?\s*")  # (in brackets a colon is not needed)
# A relative named instead of the caller: «همسر علی کریمی», «مادر زهرا نوری», «پسر حسن
# رضایی», or after the caller's own name, «زهرا نوری همسر علی کریمی».  The name after the
# word is another person's; only a child's or a sibling's surname is the caller's too.  («پدر:
# حسن», with its colon, names the father, `_FATHER`.)
_RELATIVES = "همسر|عیال|مادر|خواهر|دختر|برادر|پسر|پدر"
_RELATIVE = re.compile(rf"(?:^|\s)({_RELATIVES})\s+(?!\s*:)(?=\S)")
_SAME_SURNAME = frozenset({"خواهر", "دختر", "برادر", "پسر", "پدر"})
_RELATIVE_TITLE = {"مادر": "خانم", "خواهر": "خانم", "دختر": "خانم", "برادر": "آقای", "پسر": "آقای",
                   "پدر": "آقای"}
_RELATIVE_WORD = re.compile(_RELATIVES)  # (a cheap test before `_RELATIVE`)
_CHILD_FIRST = re.compile(rf"({_CHILD_OF})\s+(?!\s*:)")
_CHILD_TITLE = {"ولد": "آقای", "بنت": "خانم"}
# A letter or digit that survives the match key (which drops hamza, ZWNJ and punctuation).
_LETTER = re.compile(r"[^\W_ء]")
UNSURE_BELOW = 0.7


class ParsedName(NamedTuple):
    """A one-field name in parts; `confidence` (0..1) is how sure the order is."""

    first: str | None = None
    last: str | None = None
    father: str | None = None
    title: str | None = None       # honorifics other than سید/سیده (آقای، حاج، دکتر …)
    seyyed: bool = False
    confidence: float = 0.0
    placeholder: bool = False       # the source wrote «ناشناس» or the like: nobody is named
    numbers: tuple[str, ...] = ()   # numbers written in the field, taken out of the name
    by_agent: bool = False          # an agent signed for the person named («… به وکالت از …»)

    @property
    def unsure(self) -> bool:
        """Whether the parts may be the other way round (or there was no evidence at all)."""
        return self.confidence < UNSURE_BELOW

    @property
    def full(self) -> str | None:
        """First name and surname in the usual order, without titles."""
        return " ".join(p for p in (self.first, self.last) if p) or None


_lists = known_names  # (first-name keys, surname keys) of the shipped lists


@functools.lru_cache(maxsize=1)
def _skeletons() -> tuple[frozenset[str], frozenset[str]]:
    """The consonant skeletons (`names.name_skeleton`, two sounds or more) of the shipped first
    names and surnames: a Latin word is a first name or a surname by the Persian names it can
    be written for («reza» رضا, «ahmadi» احمدی), as matching reads names across scripts."""
    first, last = _lists()
    return (frozenset(sk for k in first if len(sk := name_skeleton(k)) >= 2),
            frozenset(sk for k in last if len(sk := name_skeleton(k)) >= 2))


@functools.lru_cache(maxsize=1 << 14)
def _latin_kind(k: str) -> tuple[bool, bool]:
    """(a first name?, a surname?) of a Latin word, by its skeletons (`_skeletons`)."""
    first_sk, last_sk = _skeletons()
    # a final «a» may be written «ی» (`latin_skeletons`): «reza» could spell رضایی too, but
    # is a surname only as it sounds
    return any(sk in first_sk for sk in latin_skeletons(k)), name_skeleton(k) in last_sk


_PLACEHOLDERS = frozenset(_key(p) for p in (
    "ناشناس", "ناشناخته", "شهروند", "شهروند گرامی", "شهروند محترم", "بدون نام", "بی نام", "نامشخص",
    "نا مشخص", "نامعلوم", "مجهول", "ندارد", "تماس گیرنده", "مشترک", "unknown", "anonymous", "none",
    "null", "na", "n a", "nan", "test", "تست", "x", "xx", "xxx"))
_PLACEHOLDER_HEADS = frozenset(_key(p.split()[0]) for p in (
    "ناشناس", "ناشناخته", "شهروند", "بدون", "بی", "نامشخص", "نا", "نامعلوم", "مجهول", "ندارد", "تماس",
    "مشترک", "unknown", "anonymous", "none", "null", "na", "n", "nan", "test", "تست", "x", "xx", "xxx"))
# A payer or owner that is an organisation, not a citizen: «شرکت ساختمانی توس بنا»,
# «تعاونی مسکن فرهنگیان», «اداره کل راه و شهرسازی»: its name is kept as written, but it names
# no person to match (as a placeholder names nobody).
_ORGANISATIONS = frozenset(_key(w) for w in (
    "شرکت", "تعاونی", "موسسه", "مؤسسه", "سازمان", "اداره", "اداره‌کل", "بانک", "شهرداری", "انجمن",
    "هیئت", "هیات", "بنیاد", "صندوق", "کارخانه", "فروشگاه", "مجتمع", "دانشگاه", "بیمارستان",
    "مدرسه", "دبیرستان", "دبستان", "آموزشگاه", "مسجد", "حسینیه", "کانون", "اتحادیه", "ستاد", "وزارت",
    "دفتر", "شعبه", "company", "co", "ltd", "inc"))
_SURNAME_ENDS = ("زاده", "پور", "نژاد", "نیا", "فر", "زادگان", "وند", "لو", "مقدم", "منش", "راد", "کیا")
_SURNAME_STARTS = ("پور", "میر", "آل", "ال")
_ENDS_ALONE = frozenset(_SURNAME_ENDS)
# Endings that make a woman's first name of a first name, written as one word: «زهرابیگم»,
# «رقیه‌سادات» alone is her first name, not a surname (a lone word no list knows is read as a
# surname).  Matching keys drop them (`names.lineage_stem`); the name keeps them as written.
_FIRST_NAME_ENDS = ("بیگم", "السادات", "سادات")
# The same words written apart, «هانیه سادات باقری», «زهرا بیگم رضایی», belong to the first name
# before them (a woman's: «سادات» names a seyyed's daughter), never to the surname after.
_LINEAGE_HINT = re.compile("سادات|بیگم")
# Surname heads, likewise, in a name of two words: «پور زارع», «آل یاسین» (the family of یاسین),
# «میر کاظمی» are one surname, and «آقای میر علی» is Mr میرعلی (neither word is a name alone).
_HEADS = frozenset(("پور", "ال", "میر"))  # (keys: «آل» folds to «ال»)


@functools.lru_cache(maxsize=1 << 16)
def _first_score(keys: tuple[str, ...]) -> float:
    """Evidence that these words are a first name: +1 per known first name, −1 per surname-like."""
    first, last = _lists()
    score = 0.0
    for k in keys:
        if k in first:
            score += 1.0 if k not in last else 0.3
        elif _surname_like(k, last):
            score -= 1.0
        elif k.isascii() and k.isalpha() and len(k) >= 3 and any(_latin_kind(k)):
            is_first, is_last = _latin_kind(k)  # «Mohammad Reza Ahmadi»: reza is a first name
            score += (1.0 if not is_last else 0.3) if is_first else -1.0
        elif len(keys) == 1 and any(k[:i] in first and k[i:] in first for i in range(2, len(k) - 1)):
            score += 0.8  # a compound written as one word (محمدرضا)
        elif len(keys) == 1 and k.endswith(_FIRST_NAME_ENDS) and lineage_stem(k) in first:
            score += 0.8  # a woman's name with its old suffix (زهرابیگم, فاطمه‌السادات)
    return score / len(keys)


@functools.lru_cache(maxsize=1 << 16)
def _word_scores(k: str) -> tuple[float, float]:
    """(`_first_score`, `_last_score`) of one word, cached by the word itself: a string key is
    the cheapest look-up there is, and most names are two words scored one by one."""
    return _first_score((k,)), _last_score((k,))


def _surname_like(k: str, last: frozenset[str]) -> bool:
    return k in last or k.endswith(_SURNAME_ENDS) or (k.startswith(_SURNAME_STARTS) and len(k) > 5)


@functools.lru_cache(maxsize=1 << 16)
def _last_score(keys: tuple[str, ...]) -> float:
    """Evidence that these words are a surname: a known surname, a surname ending, or ی after
    a word that is not itself a first name (علی، مهدی end in ی too)."""
    first, last = _lists()
    joined = "".join(keys)
    if joined in last:
        return 1.0 if joined not in first else 0.3
    if joined in _ENDS_ALONE:
        return 0.2  # «زاده» alone is the tail of a surname split by a space, not a surname
    if len(keys) <= 2 and (joined.endswith(_SURNAME_ENDS) or (joined.startswith(_SURNAME_STARTS) and len(joined) > 5)):
        return 0.9  # «قاسم زاده», «پور محمد»: a compound surname split by a space
    return sum(_word_as_surname(k, first, last) for k in keys) / len(keys)


def _word_as_surname(k: str, first: frozenset[str], last: frozenset[str]) -> float:
    if k in last:
        return 1.0 if k not in first else 0.3
    if k in first:
        return -1.0
    if k.isascii() and k.isalpha() and len(k) >= 3 and any(_latin_kind(k)):
        is_first, is_last = _latin_kind(k)
        return (1.0 if not is_first else 0.3) if is_last else -1.0
    if k.endswith(_SURNAME_ENDS):
        return 0.9
    return 0.5 if k.endswith("ی") else 0.0


def _split(words: list[str], keys: tuple[str, ...], prefer_last_first: bool) -> tuple[list[str], list[str], float]:
    """(first-name words, surname words, confidence) of the words of a name (`keys`: their match keys)."""
    if len(words) == 1:
        f, s = _word_scores(keys[0])
        return (words, [], _confidence(f, s)) if f > s else ([], words, _confidence(s, f))
    as_written, reversed_ = (0.0, 0.6) if prefer_last_first else (0.4, 0.0)  # position: first name first
    if len(words) == 2 and (keys[1] in _TAILS or keys[0] in _HEADS):
        return [], words, 1.0  # «علی پور», «پور زارع», «آل یاسین», «میر کاظمی»: one surname
    if len(words) == 2:  # most names: the loop below with its one cut, from per-word scores
        (f0, l0), (f1, l1) = _word_scores(keys[0]), _word_scores(keys[1])
        best, other = f0 + l1 + as_written, f1 + l0 + reversed_
        if other > best:
            return words[1:], words[:1], _confidence(other, best)
        return words[:1], words[1:], _confidence(best, other)
    best = second = -9.0
    at, swapped = 1, False
    for k in range(1, len(words)):
        a, b = keys[:k], keys[k:]
        for score, swap in ((_first_score(a) + _last_score(b) + as_written, False),
                            (_first_score(b) + _last_score(a) + reversed_, True)):
            if score > best:
                best, second, at, swapped = score, best, k, swap
            elif score > second:
                second = score
    conf = _confidence(best, second)
    return (words[at:], words[:at], conf) if swapped else (words[:at], words[at:], conf)


@functools.lru_cache(maxsize=1)
def _male_keys() -> frozenset[str]:
    return frozenset(_key(n) for n, g in first_name_genders().items() if g == "male")


def _with_lineage(words: list[str], keys: tuple[str, ...]) -> tuple[list[str], tuple[str, ...]]:
    """Words and keys with a lineage word (`names.lineage_stem`) joined to the listed first name
    before it, not a man's: «هانیه سادات» is one word of the name, as «هانیه‌سادات» is."""
    first = _lists()[0]
    out_w, out_k = [words[0]], [keys[0]]
    for w, k in zip(words[1:], keys[1:]):
        if not lineage_stem(k) and out_k[-1] in first and out_k[-1] not in _male_keys():
            out_w[-1], out_k[-1] = f"{out_w[-1]} {w}", out_k[-1] + k
        else:
            out_w.append(w)
            out_k.append(k)
    return out_w, tuple(out_k)


def _notes(text: str) -> tuple[str, str | None]:
    """(the name without its bracketed notes, the father a note names).  A note of name words
    the lists know is another part of the name («رضایی (علی)»: as after a comma); a father's
    («(فرزند حسن)»، «(پدر: حسن)») is the father; any other («(وکیل)»، «(متوفی)») says something
    about the person, not their name, and is dropped.  An underscore parts words as a space."""
    father = None

    def note(m: re.Match) -> str:
        nonlocal father
        inner = m[1].strip(" :")
        head = _FATHER_HEAD.match(inner)
        if head:
            father = _text(_strip_titles(inner[head.end():].split())[0]) or father
            return " "
        first, last = _lists()
        keys = [_key(w) for w in inner.split()]
        if keys and all(k in first or k in last for k in keys):
            return " ، " + inner + " "
        return " "

    text = " ".join(_NOTE.sub(note, text.replace("_", " ")).split())
    return text.strip(" ،"), father


def _confidence(best: float, other: float) -> float:
    """Sure when the chosen reading beats the next by a clear margin and had evidence."""
    sure = 0.5 + (best - other) / 2
    sure = 1.0 if sure > 1.0 else 0.0 if sure < 0.0 else sure  # (max and min calls cost as much as the rest)
    return round(sure * (1.0 if best >= 1.0 else 0.8), 2)


def _text(words: list[str]) -> str | None:
    return " ".join(words) or None


def parse_name(value: str | None) -> ParsedName | None:
    """A one-field name in parts (None for no value); see the module docstring for the forms read."""
    if not isinstance(value, str) or len(value) > 200:
        return _parse(normalize_text(str(value))[:200]) if value is not None else None
    return _cached(value)


def _parse(text: str | None) -> ParsedName | None:
    if not text:
        return None
    text, numbers = split_numbers(text)  # (a stray digit or two stays in the name)
    if numbers:
        parsed = _parse(text) if text else None
        if parsed is None:  # only a number: nobody named, but the number is the caller's
            return ParsedName(placeholder=True, confidence=1.0, numbers=numbers)
        return parsed._replace(numbers=numbers)
    if _key(text.split(" ", 1)[0]) in _ORGANISATIONS:
        return ParsedName(placeholder=True, confidence=1.0)
    owner = owner_named(text)
    if owner is not None:  # an agent signed for the owner named after the agent's mark
        parsed = _parse(owner) if owner else None
        return (parsed or ParsedName(placeholder=True, confidence=1.0))._replace(by_agent=True)
    if " و " in text:
        joint = first_of_joint(text, _parse)
        if joint is not None:
            return joint
        text = first_of_several(text)
    noted = None
    if "(" in text or "[" in text or "_" in text:
        text, noted = _notes(text)
        if not text:
            return ParsedName(father=noted, confidence=0.0) if noted else ParsedName(placeholder=True, confidence=1.0)
    words = text.split()  # (normalize_text left single spaces)
    if len(text) <= 20 and (_key(words[0]) in _PLACEHOLDER_HEADS and _key(text) in _PLACEHOLDERS
                            or not _LETTER.search(text)):  # «ناشناس», or no letter at all («؟», «--»)
        return ParsedName(placeholder=True, confidence=1.0)
    child = _CHILD_FIRST.match(text)
    if child:  # «فرزند حسن رضایی»: a child of حسن رضایی, named by the father alone
        other = _parse(text[child.end():])
        if other is not None and other.last and other.first:
            return ParsedName(last=other.last, father=other.first, title=_CHILD_TITLE.get(child[1]),
                              seyyed=other.seyyed, confidence=1.0)
    relative = _RELATIVE.search(text) if _RELATIVE_WORD.search(text) else None
    if relative:
        own = text[:relative.start()].strip()
        if not own:
            return _relative_of(relative[1], text[relative.end():])
        text, words = own, own.split()
    father = noted
    mark = _FATHER.search(text) if _FATHER_WORD.search(text) else None
    if mark:
        father_words = _strip_titles(_SEPARATOR.sub(" ", text[mark.end():]).split())[0]
        father, text = _text(father_words), text[:mark.start()]
        words = text.split()
    if _HAS_SEPARATOR.search(text):
        titles, seyyed, groups, keys = [], False, [], []
        for part in _SEPARATOR.split(text):
            words, k, found, sey = _strip_titles(part.split())  # (an empty part gives no words)
            if len(words) > 1 and _LINEAGE_HINT.search(part):
                words, k = _with_lineage(words, k)
            titles += found
            seyyed = seyyed or sey
            if words:
                groups.append(words)
                keys.append(k)
    else:  # the common case: one part
        words, k, titles, seyyed = _strip_titles(words)
        if len(words) > 1 and _LINEAGE_HINT.search(text):
            words, k = _with_lineage(words, k)
        groups, keys = ([words], [k]) if words else ([], [])
    title = " ".join(dict.fromkeys(titles)) if titles else None
    if not groups:
        if father or title or seyyed:
            return ParsedName(father=father, title=title, seyyed=seyyed, confidence=0.0)
        return ParsedName(placeholder=True, confidence=1.0)  # only punctuation: nobody named
    if keys[0][0] in _PLACEHOLDER_HEADS and _key(" ".join(w for g in groups for w in g)) in _PLACEHOLDERS:
        return ParsedName(father=father, title=title, seyyed=seyyed, placeholder=True, confidence=1.0)
    if len(groups) >= 2:  # a separator: usually «surname، first name», but the lists decide
        a, b = groups[0], [w for g in groups[1:] for w in g]
        ka, kb = keys[0], tuple(k for ks in keys[1:] for k in ks)
        as_written = _first_score(ka) + _last_score(kb)
        reversed_ = _first_score(kb) + _last_score(ka) + 0.6
        if reversed_ >= as_written:
            first, last, conf = b, a, _confidence(reversed_, as_written)
        else:
            first, last, conf = a, b, _confidence(as_written, reversed_)
    else:
        first, last, conf = _split(groups[0], keys[0], prefer_last_first=False)
        if father and not first and len(last) == 1:
            # one word and the father («شکریه ولد نورآقا», «احمد فرزند محمود»: a person
            # registered without a surname, as Afghan nationals often are) is a given name,
            # unless the word is known as a surname only
            f, s_ = _word_scores(keys[0][0])
            if s_ <= f:
                first, last, conf = last, [], 1.0
    return ParsedName(" ".join(first) or None, " ".join(last) or None, father, title, seyyed, conf)


def _relative_of(word: str, named: str) -> ParsedName:
    """The caller a relative's name stands for («همسر علی کریمی»): nobody by name, a woman or
    a man as the word says, and the named person's surname for a child or a sibling."""
    other = _parse(named)
    last = other.last if other is not None and word in _SAME_SURNAME else None
    if word == "عیال":
        title = "خانم"
    elif word == "همسر":  # the spouse's gender by the title, or a first name given to one gender only
        spouse = other and (title_gender(other.title) or first_name_genders().get(other.first or ""))
        title = {"male": "خانم", "female": "آقای"}.get(spouse or "")
    else:
        title = _RELATIVE_TITLE[word]
    if last is None:
        return ParsedName(title=title, placeholder=True, confidence=1.0)
    return ParsedName(last=last, title=title, confidence=1.0)


_cached = functools.lru_cache(maxsize=1 << 17)(lambda value: _parse(normalize_text(value)))


def is_placeholder(value) -> bool:
    """Whether a name field holds a stand-in for nobody (ناشناس، شهروند، بدون نام …)."""
    if not isinstance(value, str):
        return False
    head = _key(value.strip().split(" ", 1)[0])
    if head not in _PLACEHOLDER_HEADS and head not in _TITLE_HEADS and _key(value):
        return False  # the common case: a real name word first («آقای ناشناس» is parsed)
    parsed = parse_name(value)
    return parsed is not None and parsed.placeholder
