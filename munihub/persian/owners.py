"""Whom a field naming several people or an agent is about.

A deed or a bill names more than one person in its one name field: an agent signing for the owner
(«شیما نوری به وکالت از رضا نوری»، «… به نمایندگی از …»، «… به ولایت قهری از …», the owner
is after the words), owners sharing a surname written once («مهدی و علی احمدی»: مهدی احمدی),
or several people («علی احمدی و زهرا کریمی»، «آقای کریمی و شرکا»: the first).  These functions
pick that person out of the field; `person_names` parses the name picked.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from munihub.persian.names import known_names
from munihub.persian.titles import TITLE_HEADS, strip_titles, word_key

if TYPE_CHECKING:
    from munihub.persian.person_names import ParsedName

# Someone signing for the owner, as deeds and receipts write it: «زهرا احمدی به وکالت از محمد
# احمدی» (an attorney), «… به نمایندگی از …», «… به قیمومت از …» (a ward's guardian), «… به
# ولایت قهری از …» or «… ولی قهری …» (a minor's father), «… به وصایت از …» (an executor).  The
# record is about the person after the words; the one before only signs.  «از» is required: «X
# به نمایندگی Y» is X represented by Y (a company and its director), the other way round.
_AGENT = re.compile(r"(?:^|\s)(?:(?:(?:به|با)\s+(?:وکالت|نمایندگی)|وکالتا|به\s+(?:قیمومی?ت|وصایت|ولایت"
                    r"(?:\s+قهری)?))\s+از(?:\s+(?:طرف|سوی|جانب))?|ولی\s+قهری)(?:\s+|$)")
# Words between the agent's mark and the owner's name: «به ولایت قهری از فرزند صغیرش علی
# رضایی», «به وکالت از همسرم زهرا نوری», «به قیمومت از محجور …»: the name after them is the owner.
_OWNER_HEAD = re.compile(r"(?:(?:فرزندان|فرزند|همسر|پدر|مادر|برادر|خواهر|پسر|دختر)(?:ش|م)?\s+)?"
                         r"(?:(?:صغیر|محجور|مالک|موکل)(?:ش|م)?\s+)?(?:خود(?:ش|م)?\s+)?")


def owner_named(text: str) -> str | None:
    """The owner an agent signs for (`_AGENT`): «شیما نوری به وکالت از رضا نوری» names رضا نوری;
    None when the field has no agent's mark.  A field cut after the mark («… به وکالت از»)
    gives "": it names nobody (the agent before the mark is not the record's person)."""
    if " از" not in text and "قهری" not in text:  # (a cheap test before `_AGENT`: every form has one)
        return None
    mark = _AGENT.search(text)
    if mark is None:
        return None
    owner = text[mark.end():].strip()
    return owner[_OWNER_HEAD.match(owner).end():] or owner


def first_of_joint(text: str, parse: Callable[[str], ParsedName | None]) -> ParsedName | None:
    """The first of owners who share a surname written once, «مهدی و علی احمدی» (a joint deed:
    the permit carries the first owner's id): مهدی احمدی.  Only when the words on both sides of
    «و» are known first names and a surname follows; the father and seyyed are the brothers'
    own, the titles the first's.  None for any other field.  `parse` reads the name after «و»
    (`person_names` passes its reader: this module stays below it)."""
    head, tail = text.split(" و ", 1)
    words, keys, titles, seyyed = strip_titles(head.split())
    if len(words) != 1 or keys[0] not in known_names()[0]:
        return None
    other = parse(tail)
    if other is None or other.placeholder or not other.first or not other.last \
            or word_key(other.first.split()[0]) not in known_names()[0]:
        return None
    title = " ".join(dict.fromkeys(titles)) if titles else None
    return other._replace(first=words[0], title=title, seyyed=seyyed or other.seyyed)


def first_of_several(text: str) -> str:
    """The first person of a field naming several («علی رضایی و زهرا احمدی»، «آقای کریمی و
    شرکا»، «حسن نوری و همسر»: a joint bill or deed): the name before «و» when it has two words
    or more or a title; any other lone word before it is left as written (two first names
    sharing a surname, «علی و حسین رضایی», are `first_of_joint`'s)."""
    head = text.split(" و ", 1)[0]
    words = head.split()
    if len(words) >= 2 or (words and word_key(words[0]) in TITLE_HEADS):
        return head
    return text
