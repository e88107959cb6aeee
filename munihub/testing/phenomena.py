"""How real municipal exports write a citizen: labelled phenomena for the mention benchmark.

Written from what agencies' exports look like, independently of the hub's readers (nothing
here calls `munihub.persian`): a caller's name as one field in the forms hotlines and
payment systems use, the number a caller gave (a mobile, the household's landline with or
without its city code), placeholders instead of a name, and citizens registered twice in
one source.  Each function returns the value and the phenomenon it shows, so a benchmark
can report recall per phenomenon.

=======================  ======================================================================
phenomenon               what the export holds
=======================  ======================================================================
name_plain               «علی احمدی»
name_surname_first       «احمدی علی» (no separator)
name_comma               «احمدی، علی»
name_dash                «احمدی - علی»
name_title               a title before the name or between the parts (آقای، خانم، حاج آقا …)
name_father              «علی احمدی فرزند حسن»
seyyed_joined            «سیدعلی احمدی» (seyyed citizens only); seyyed_spaced «سید علی احمدی»
title_surname_only       «آقای احمدی», «خانم کریمی»
placeholder              «ناشناس», «شهروند», «بدون نام»
mobile                   the citizen's mobile
landline                 the household's landline with its city code, in the mobile column
short_local              the landline's 8 digits without the city code
no_phone                 no number at all
re_registration          the same citizen registered a second time under a new record id
=======================  ======================================================================
"""
from __future__ import annotations

import hashlib
import random

from munihub.testing.synthetic import Person

MALE_TITLES = ("آقای", "جناب آقای", "حاج آقا", "مهندس", "دکتر")
FEMALE_TITLES = ("خانم", "سرکار خانم", "حاجیه خانم", "دکتر")
PLACEHOLDERS = ("ناشناس", "شهروند", "بدون نام", "شهروند گرامی")
NAME_FORMS = ("name_plain", "name_surname_first", "name_comma", "name_dash", "name_title", "name_father",
              "seyyed_joined", "seyyed_spaced", "title_surname_only", "placeholder")
NAME_WEIGHTS = (30, 8, 10, 6, 14, 8, 0, 0, 8, 8)  # seyyed forms: drawn for seyyeds only (one_field_name)
PHONE_KINDS = ("mobile", "landline", "short_local", "no_phone")
PHONE_WEIGHTS = (60, 15, 10, 15)
AREA_CODE = "051"  # Mashhad


def _stable(person_id: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{person_id}".encode()).digest()[:8], "big")


def is_seyyed(person: Person) -> bool:
    """About one citizen in six is a seyyed, fixed per person (a property, not noise)."""
    return _stable(person.person_id, "seyyed") % 6 == 0


def landline_of(person: Person) -> str:
    """The household's 8-digit landline, fixed per person (Mashhad numbers start 3)."""
    return "3" + f"{_stable(person.person_id, 'landline') % 10_000_000:07d}"


def one_field_name(person: Person, rng: random.Random, form: str | None = None) -> tuple[str, str]:
    """(the name as one field, its phenomenon); `form` picks one, else drawn by NAME_WEIGHTS."""
    if form is None and is_seyyed(person) and rng.random() < 0.5:
        form = rng.choice(("seyyed_joined", "seyyed_spaced"))  # seyyeds often write it; else dropped
    form = form or rng.choices(NAME_FORMS, NAME_WEIGHTS)[0]
    first, last = person.first_name, person.last_name
    titles = MALE_TITLES if person.gender == "male" else FEMALE_TITLES
    seyyed = ("سید" if person.gender == "male" else "سیده")
    if form.startswith("seyyed") and not is_seyyed(person):
        form = "name_plain"  # only seyyeds write it; the others' plain names stand in
    if form == "name_plain":
        text = f"{first} {last}"
    elif form == "name_surname_first":
        text = f"{last} {first}"
    elif form == "name_comma":
        text = f"{last}{rng.choice(('، ', '،', ', '))}{first}"
    elif form == "name_dash":
        text = f"{last}{rng.choice((' - ', '-', ' _ '))}{first}"
    elif form == "name_title":
        title = rng.choice(titles)
        text = rng.choice((f"{title} {first} {last}", f"{last}، {title} {first}", f"{first} {last} {title}"))
    elif form == "name_father":
        text = f"{first} {last} فرزند {person.father_name}"
    elif form == "seyyed_joined":
        text = f"{seyyed}{first} {last}"
    elif form == "seyyed_spaced":
        text = f"{seyyed} {first} {last}"
    elif form == "title_surname_only":
        text = f"{rng.choice(titles)} {last}"
    elif form == "placeholder":
        text = rng.choice(PLACEHOLDERS)
    else:
        raise ValueError(f"unknown name form {form!r}; known: {', '.join(NAME_FORMS)}")
    return text, form


def caller_phone(person: Person, rng: random.Random, kind: str | None = None) -> tuple[str | None, str]:
    """(the number a caller gave as the export writes it, its phenomenon)."""
    kind = kind or rng.choices(PHONE_KINDS, PHONE_WEIGHTS)[0]
    local = landline_of(person)
    if kind == "mobile":
        return person.mobile, kind
    if kind == "landline":
        return rng.choice((f"{AREA_CODE}{local}", f"{AREA_CODE}-{local[:4]}-{local[4:]}", f"+9851{local}")), kind
    if kind == "short_local":
        return rng.choice((local, f"{local[:4]} {local[4:]}")), kind
    if kind == "no_phone":
        return None, kind
    raise ValueError(f"unknown phone kind {kind!r}; known: {', '.join(PHONE_KINDS)}")
