"""Titles said before a Persian name, taken off its words: «آقای»، «حاج آقا»، «سرکار خانم»، «دکتر»،
«سید»/«سیده» (a flag, not a title), «ورثه مرحوم» (the heirs of the late X: the record names X).

`strip_titles` returns a name's words without them, with their match keys (`word_key`), for
`person_names` (one person's name) and `owners` (whom a field naming several people is about).
Words that are a title and a surname too («مشهدی»، «حاجی») are the surname where a title cannot
be: after the name, or alone after another title.
"""
from __future__ import annotations

import functools
import re

from munihub.persian.letters import fold_key_letters
from munihub.persian.names import TITLES, known_names

_NOT_KEY = re.compile(r"[\W_]+")
_SEYYED = {"سید": "سید", "سیده": "سیده"}

# Surname tails that are never a name of their own: «علی پور», «حسین زاده» are one surname
# written with a space (علی‌پور), not a first name and a surname.
SURNAME_TAILS = frozenset(("زاده", "پور"))
# Titles that are also surnames (a pilgrim's «مشهدی», «حاجی»): the surname when alone after a title
# («آقای مشهدی») or after a name («حسن مشهدی»), since a title comes before the name.
SURNAME_TITLES = frozenset(("مشهدی", "حاجی", "کربلایی"))


@functools.lru_cache(maxsize=1 << 16)
def word_key(word: str) -> str:
    """Match key of a word; cached, since a city's names are drawn from a few thousand words."""
    return _NOT_KEY.sub("", fold_key_letters(word))


# Every spelling of a title, by match key, plus the forms used with a name in speech.
_EXTRA_TITLES = {"آقا": "آقای", "اقا": "آقای", "حاج آقا": "حاج", "حاج خانم": "حاجیه", "جناب آقای": "آقای",
                 "سرکار خانم": "خانم", "بانو": "خانم", "آقای دکتر": "دکتر", "حاجیه خانم": "حاجیه",
                 # the heirs of the late X: the record names X
                 "ورثه": "مرحوم", "ورثه مرحوم": "مرحوم", "ورثه شادروان": "مرحوم", "وراث": "مرحوم"}
_TITLE = {word_key(form): canon for canon, forms in TITLES.items() for form in forms}
_TITLE.update({word_key(k): v for k, v in _EXTRA_TITLES.items()})
TITLE_HEADS = frozenset(word_key(f.split()[0]) for f in [*_EXTRA_TITLES, *(x for fs in TITLES.values() for x in fs)])
_TITLE_SPAN = max(len(f.split()) for f in [*_EXTRA_TITLES, *(x for fs in TITLES.values() for x in fs)])


def strip_titles(words: list[str]) -> tuple[list[str], tuple[str, ...], list[str], bool]:
    """(name words, their match keys, titles found anywhere, seyyed) of one part of a name."""
    keys = tuple(map(word_key, words))
    # The common case: no word starts a title and none starts with «سید» (tested on the joined
    # keys, a superset: a false alarm only costs the loop below, which then strips nothing).
    if TITLE_HEADS.isdisjoint(keys) and "سید" not in "".join(keys):
        return words, keys, [], False
    kept, titles, seyyed = _strip_found(words, keys)
    return kept, tuple(map(word_key, kept)), titles, seyyed


def _strip_found(words: list[str], keys: tuple[str, ...]) -> tuple[list[str], list[str], bool]:
    """(name words, titles, seyyed) of words among which a title or «سید…» may be."""
    first, _ = known_names()
    kept, titles, seyyed, i = [], [], False, 0
    while i < len(words):
        canon, span = None, 0
        if keys[i] in TITLE_HEADS:  # the common case: a word that starts no title
            for n in range(min(_TITLE_SPAN, len(words) - i), 0, -1):
                # the key of several words is their keys joined (the key drops spaces)
                canon = _TITLE.get("".join(keys[i:i + n]))
                if canon:
                    span = n
                    break
        nxt = keys[i + span] if canon and i + span < len(words) else ""
        # a title stands before a name: «مشهدی» after one at the end is the surname («حسن مشهدی»)
        after_name = kept and i + span == len(words) and canon in SURNAME_TITLES
        # «حاجی زاده», «حاج پور» are surnames; «آقای پورمحمد», «خانم پور زارع», «سیده پوریا» a
        # title and a name («پور…» starts many)
        tail = (canon in SURNAME_TITLES or canon == "حاج") and (nxt.startswith("زاد") or nxt in SURNAME_TAILS)
        if canon and not tail and not after_name:
            if canon in _SEYYED:
                seyyed = True
            else:
                titles.append(canon)
            i += span
            continue
        k = keys[i]
        # «سیدمهدی» is سید + مهدی, not سیده + هدی: the longer title only where the word has it
        glued = next((s for s in ("سیده", "سید") if k.startswith(s) and k[len(s):] in first), None)
        if glued:  # «سیدمحمد»: the title glued to a known first name (not «سیدی», a surname)
            seyyed = True
            kept.append(words[i][len(glued):].lstrip("\u200c"))
        else:
            kept.append(words[i])
        i += 1
    if not kept and titles and titles[-1] in SURNAME_TITLES:
        kept.append(titles.pop())  # «آقای مشهدی»: the last title-like word was the surname
    return kept, titles, seyyed
