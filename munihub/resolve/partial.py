"""Partial person mentions decided by who lives at the home: a step after pair clustering.

A 137 caller who gives only «آقای رستمی», or the half «فاطمه» of «فاطمه‌زهرا», names no one
by pairs alone: the pair scores cap such mentions unless something personal agrees
(`cap_when_partial`).  What can tell is the *roster* of the home the call came from: the
people with that surname there, as the clusters hold them.  A mention's home is the
household (landlines, postal codes) of the named person on record whose mobile it called
from, with that person's street and alley (a member on record by a permit or a call alone
has neither landline nor postal code).  Its own street and alley (`places.place_key`) is
many homes, and the home's landline is anyone at home, on record or not (a child, a
guest): beside a number neither names a household's member.  A mention with no number at all (a landline or nothing: a bill's
subscriber by surname, a 137 caller on the home's phone) has only those: it is weighed
against everyone of its surname at its own landline's or postal code's household and its
street and alley, and joins only when exactly one named person there fits.

- `attach`: a group of records that names no first name (title + surname only) and one
  surname joins the one named entity of its household with that surname that nothing
  conflicts with (national id, birth date, the title's gender: `conflicts.conflict_of`; a
  steward's "no-match"), when there is exactly one.  Two brothers there: it stays alone.
  With no mobile its "household" is its own landline, postal code and street and alley.
  A group of mentions naming one first name that is half of a compound («علی میرزایی»)
  joins likewise the one entity of its home holding that compound («علیرضا میرزایی»,
  `HALF`): none when someone there holds the very name (a son «علی»: the pairs decide), or
  when the group gives a national id of its own (it names its person) or calls only from
  its own number (that names no home); the group's father and a child of a man of its
  name are never it.
- `attach_named`: a group giving one whole name (first name and surname) from a mobile
  another person on record owns joins the one group of the owner's household with that
  whole name that nothing conflicts with; a namesake son there, or a member whose first
  name the caller's is half of, and it stays alone.
- `detach`: a mention joined to an entity by its name alone (no id, birth date, mobile or
  137 thread shared with the entity's other records) leaves it when another entity of its
  home, same surname, holds the same first name or one it is half of and does not own the
  mention's number either: a «فاطمه» calling from a third member's mobile is فاطمه or her
  twin فاطمه‌زهرا, and the roster cannot say which, so it says neither.

In all of these a person on record under `min_age` (12) full years on the mention's own date
(its 137 call's, `records.MENTIONED_ON`) by a birth date of theirs is nobody the mention may
mean (`homes.Roster.too_young`): a son born 2015 at the home is not «آقای رستمی» calling in 2024.

Deterministic (sorted keys); only clusters and features in, clusters out.  The full run
applies it to every cluster, the incremental run to a region widened by `homes.home_mates`;
who lives where is read by `homes.Roster`.
Settings: the type's `roster` (False: none; the person type's default is `PERSON_ROSTER`,
used when the type has the features it names).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Mapping

from munihub.resolve import namesakes, pooled
from munihub.resolve.homes import Roster, touched
from munihub.resolve.model import is_half

# Feature names: first name, surname, father's name; personal values that tie a mention to
# its entity; numbers a person owns (their household is the caller's home); what names a
# household; what names a street and alley (only to widen an incremental region); trusted
# ids whose typos `pooled.join` follows to their one owner on record; the birth date, the
# mention's own date (its 137 call's), and the age under which a person on record is no
# caller on that date (a child on the registry: 12 full years, see `homes.Roster.too_young`).
PERSON_ROSTER = {"first": "first_key", "last": "last_key", "father": "father_key",
                 "personal": ["national_id", "birth_date", "mobile", "thread"],
                 "numbers": ["mobile"], "households": ["phone", "postal_code"], "places": ["place"],
                 "ids": ["national_id"], "born": "birth_date", "dated": "mentioned_on", "min_age": 12}

Feats = Mapping[str, dict]
# The rule a moved mention's membership is stored with (`entity_members.rule`), and what
# `munihub resolve explain` says of it: the pair scores did not put it where it is.
ATTACHED, HALF, DETACHED, NAMED = "roster:attach", "roster:half", "roster:detach", "roster:whole-name"
WHY = {ATTACHED: "joined the one named person of its surname in the household of its number's owner",
       HALF: "joined the one person of its home whose compound first name its own is half of",
       DETACHED: "left its entity: its name fits another person of its household as well",
       NAMED: "joined the one person of its whole name in the household of its number's owner",
       **pooled.WHY, **namesakes.WHY}


def roster_settings(entity_type: str, conf: dict) -> dict | None:
    """The roster settings of a type: `conf["roster"]` (False: none), else `PERSON_ROSTER` for
    persons whose features name a street and alley (the Persian defaults)."""
    roster = conf.get("roster")
    if roster is False:
        return None
    names = conf.get("features", {})
    if roster is None:
        if entity_type != "person" or not all(n in names for n in ("first_key", "last_key", "place")):
            return None
        roster = PERSON_ROSTER
    return {**PERSON_ROSTER, **roster}


def resolve_partials(clusters: dict[str, str], feats: Feats, roster: dict | None,
                     conflict: Callable[[str, str], bool] | None = None,
                     decisions: Iterable[tuple[str, str, str]] = (),
                     mentions: Callable[[str], bool] = lambda ref: ref.endswith("#person"),
                     why: dict[str, str] | None = None) -> dict[str, str]:
    """`clusters` (ref -> cluster key) after `detach`, `attach`, `attach_named`, then
    `pooled.join` (a name and a mobile the records of one part give together); a key stays
    its part's smallest ref.  `conflict(a, b)`: two records that can never be one
    (`conflicts.conflict_of`); steward `decisions` win (a "match" keeps a mention in, a
    "no-match" keeps it out); `mentions(ref)`: a record another system's row made (only
    those detach: a registry row is its own evidence).  `why`, if given, gets the rule of
    every record moved (`ATTACHED`, `HALF`, `DETACHED`, `NAMED`, `pooled.POOLED`, `pooled.POOLED_ID`)."""
    if roster is None:
        return clusters
    matched, refused = set(), set()
    for a, b, verdict in decisions:
        if verdict in ("match", "no-match"):
            (matched if verdict == "match" else refused).update({(a, b), (b, a)})
    # Only the parts a decision can touch go through the roster: the callers' parts and those
    # of every named person in their numbers' owners' households (a million registry rows
    # with no caller on their numbers cost one pass, not a roster).
    part = {ref: clusters[ref] for ref in touched(clusters, feats, roster, mentions)}
    out = dict(clusters)
    if part:
        built = Roster(part, feats, roster)
        moved = detach(part, feats, roster, mentions, matched, built, why)
        attached = attach(moved, feats, roster, conflict, refused, built if moved == part else None, why,
                          mentions)
        out.update(attach_named(attached, feats, roster, conflict, refused, why,
                                built if attached == part else None))
    # then evidence the records of a part give together (a name on one call, the mobile on
    # its follow-up): `pooled.join`; last, what a home's namesakes leave ambiguous
    out = pooled.join(out, feats, roster, conflict, refused, why)
    return namesakes.separate(out, feats, roster, conflict, matched, why)


def attach(clusters: dict[str, str], feats: Feats, roster: dict,
           conflict: Callable[[str, str], bool] | None = None, refused: set = frozenset(),
           built: Roster | None = None, why: dict[str, str] | None = None,
           mentions: Callable[[str], bool] = lambda ref: ref.endswith("#person")) -> dict[str, str]:
    """Join each group that names no first name to the unique compatible named entity of its
    home, and each group of mentions naming half of a compound first name to the one person
    of its home holding that compound (`_half_of`; see the module docstring); anything else
    is left as it is.  `built`: the roster of these very clusters, if made already; `why`
    gets `ATTACHED` (or `HALF`) for each record joined; `mentions(ref)`: a record another
    system's row made (a registry's row names its person whole)."""
    first, last = roster["first"], roster["last"]
    r = built or Roster(clusters, feats, roster)
    merged: dict[str, str] = {}
    halves: set[str] = set()
    for key, refs in sorted(r.groups.items()):
        fs = [r.f(ref) for ref in refs]
        if any(f.get(first) for f in fs):
            to = _half_of(key, refs, r, conflict, refused) if all(map(mentions, refs)) else None
            if to is not None:
                merged[key] = to
                halves.add(key)
            continue
        surnames = {f[last] for f in fs if f.get(last)}
        if len(surnames) != 1:
            continue
        # a number speaks for its owner's household and street and alley; without one, the
        # group's own home and street and alley are all it has (everyone of the surname there
        # is weighed)
        surname, numbered = surnames.pop(), any(f.get(n) for f in fs for n in roster["numbers"])
        fits, on = [], r.dated(refs)
        for k in sorted(r.around(refs, surname, numbered)):
            if not r.too_young(k, on) and _compatible(r.groups[k], refs, conflict) and \
                    not any((a, b) in refused for a in r.groups[k] for b in refs):
                fits.append(k)
                if len(fits) > 1:
                    break  # not one: nobody
        if len(fits) == 1:
            merged[key] = fits[0]
    if not merged:
        return clusters
    out = dict(clusters)
    joined: dict[str, list[str]] = defaultdict(list)
    for key in merged:
        to = key
        while to in merged:  # «آقای رحیمی» joins «علی رحیمی», who joins «علیرضا رحیمی»: one
            to = merged[to]  # entity (a chain ends: each step names a longer first name)
        joined[to].append(key)
        if why is not None:
            why.update(dict.fromkeys(r.groups[key], HALF if key in halves else ATTACHED))
    for to, keys in joined.items():
        refs = [ref for k in (to, *keys) for ref in r.groups[k]]
        for ref in refs:
            out[ref] = min(refs)
    return out


def _half_of(key: str, refs: list[str], r: Roster, conflict: Callable[[str, str], bool] | None,
             refused: set) -> str | None:
    """The key of the one named entity at the home of the group `refs` (`homes.Roster.around`) whose
    first name the group's one first name is the half of («علی» of «علیرضا», «فاطمه» of
    «فاطمه‌زهرا»), same surname, nothing conflicting, no steward's "no-match"; else None.
    None too when a person of the home holds that very name (a son «علی» beside his father
    «علیرضا»: the pairs decide).  A row stating a birth date names its person whole: the
    conflict test keeps it from a longer name (`conflicts.conflicting`).  The group's father
    and a child of a man of the group's name are not it («حسین» son of «امیرحسین» is not his
    father)."""
    roster = r.roster
    first, last, father = roster["first"], roster["last"], roster.get("father")
    fs = [r.f(ref) for ref in refs]
    names = {f[first] for f in fs if f.get(first)}
    surnames = {f[last] for f in fs if f.get(last)}
    if len(names) != 1 or len(surnames) != 1 or any(f.get(i) for f in fs for i in roster.get("ids", ())):
        return None
    name, surname = names.pop(), surnames.pop()
    fathers = {f[father] for f in fs if father and f.get(father)}
    numbered = any(f.get(n) for f in fs for n in roster["numbers"])
    fits, on = [], r.dated(refs)
    for k in sorted(r.around(refs, surname, numbered, but=key) - {key}):
        if r.too_young(k, on):  # a son «علی» of six on record is not the caller «علی»
            continue
        held = {r.f(x).get(first) for x in r.groups[k]} - {None, ""}
        if held & fathers or (father and name in {r.f(x).get(father) for x in r.groups[k]}):
            continue
        if not _compatible(r.groups[k], refs, conflict):
            continue
        if name in held:
            return None
        if any(len(n) > len(name) and is_half(name, n) for n in held) and \
                not any((a, b) in refused for a in r.groups[k] for b in refs):
            fits.append(k)
            if len(fits) > 1:
                return None
    return fits[0] if fits else None


def attach_named(clusters: dict[str, str], feats: Feats, roster: dict,
                 conflict: Callable[[str, str], bool] | None = None, refused: set = frozenset(),
                 why: dict[str, str] | None = None, built: Roster | None = None) -> dict[str, str]:
    """Join each group giving one whole name (first name and surname) from a mobile another
    person on record owns to the one group of its household with that whole name (the
    households of the number's owners, `homes.Roster.at_home`), when exactly one there fits
    (nothing conflicts, no steward "no-match").  A whole name alone is anyone's of that name
    in the city (the pair scores leave it apart: `docs/resolution.md`), but a caller on a
    home member's mobile is of that home, and a home holds one person of a whole name: the
    father and his namesake son, or two on record there, and it stays alone.  `why` gets
    `NAMED` for each record joined.  `built`: the roster of `clusters` when the
    caller has one (no group moved since it was built)."""
    first, last, numbers = roster["first"], roster["last"], roster["numbers"]
    r = built or Roster(clusters, feats, roster)
    merged: dict[str, str] = {}
    for key, refs in sorted(r.groups.items()):
        fs = [r.f(ref) for ref in refs]
        whole = {(f[first], f[last]) for f in fs if f.get(first) and f.get(last)}
        held = {(n, f[n]) for f in fs for n in numbers if f.get(n)}
        if len(whole) != 1 or not any(r.owners.get(number, set()) - {key} for number in held):
            continue
        (name, surname), fits, on = whole.pop(), [], r.dated(refs)
        # a member whose first name the caller's is half of may be the caller too (twins
        # فاطمه and فاطمه‌زهرا: `detach` took «فاطمه» on the father's mobile from both)
        for k in sorted(r.at_home(refs, surname, own=key)):
            if not r.too_young(k, on) and _same_or_half(name, r, r.groups[k]) and _compatible(r.groups[k], refs, conflict) and \
                    not any((a, b) in refused for a in r.groups[k] for b in refs):
                fits.append(k)
        if len(fits) == 1 and any(r.f(ref).get(first) == name for ref in r.groups[fits[0]]):
            merged[key] = fits[0]
    if not merged:
        return clusters
    # a joined group may itself be one that joins (two callers of one name, each on another
    # member's mobile): the joins taken together, and a chain whose ends conflict joins nobody
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        while k in parent:
            k = parent[k]
        return k

    for key, to in sorted(merged.items()):
        a, b = sorted((root(key), root(to)))
        if a != b:
            parent[b] = a
    together: dict[str, list[str]] = defaultdict(list)
    for k in sorted({*merged, *merged.values()}):
        together[root(k)].append(k)
    out = dict(clusters)
    for keys in together.values():
        if any(not _compatible(r.groups[a], r.groups[b], conflict)
               or any((x, y) in refused for x in r.groups[a] for y in r.groups[b])
               for i, a in enumerate(keys) for b in keys[i + 1:]):
            continue
        refs = [ref for k in keys for ref in r.groups[k]]
        for ref in refs:
            out[ref] = min(refs)
        if why is not None:
            why.update(dict.fromkeys((ref for k in keys if k in merged for ref in r.groups[k]), NAMED))
    return out


def _compatible(entity: list[str], partial: list[str], conflict: Callable[[str, str], bool] | None) -> bool:
    """No record pair in conflict (another national id, birth date, gender: the title's), the
    two parts' compound names read (`conflicts.between`: «رضا» beside «علیرضا» in an entity is
    no conflict for «علی»)."""
    if conflict is None:
        return True
    parts = getattr(conflict, "parts", None)
    if parts is not None:
        return not parts(entity, partial)
    return not any(conflict(a, b) for a in entity for b in partial)


def detach(clusters: dict[str, str], feats: Feats, roster: dict,
           mentions: Callable[[str], bool], matched: set = frozenset(),
           built: Roster | None = None, why: dict[str, str] | None = None) -> dict[str, str]:
    """Take out of its entity each mention tied to it by its name alone when another entity of
    its home, same surname, has that first name or one it is half of, and does not own the
    mention's number (a son «علی» on his father محمدعلی's mobile stays the son, as the pair
    scores decided).  `why` gets `DETACHED` for each record taken out."""
    first, last = roster["first"], roster["last"]
    r = built or Roster(clusters, feats, roster)
    out = dict(clusters)
    for key, refs in sorted(r.groups.items()):
        if len(refs) < 2:
            continue
        leaving = set()
        for ref in refs:
            f = r.f(ref)
            if not mentions(ref) or not f.get(first) or not f.get(last) or _tied(ref, refs, r) \
                    or any((ref, other) in matched for other in refs):
                continue
            on = r.dated([ref])
            if any(_same_or_half(f[first], r, r.groups[k]) and not _tied(ref, r.groups[k], r)
                   and not r.too_young(k, on) for k in sorted(r.at_home([ref], f[last], own=key))):
                leaving.add(ref)
        if leaving:
            rest = [ref for ref in refs if ref not in leaving]
            for ref in leaving:
                out[ref] = ref
                if why is not None:
                    why[ref] = DETACHED
            for ref in rest:
                out[ref] = min(rest)
    return out


def _tied(ref: str, refs: Iterable[str], r: Roster) -> bool:
    """Whether a record shares a personal value (id, birth date, mobile, thread) with another
    record of `refs`."""
    f, personal = r.f(ref), r.roster["personal"]
    mine = {(p, f[p]) for p in personal if f.get(p)}
    return any((p, r.f(other).get(p)) in mine for other in refs if other != ref for p in personal)


def _same_or_half(name: str, r: Roster, refs: list[str]) -> bool:
    """Whether `refs` hold the first name `name`, or a longer one it is half of."""
    names = {r.f(ref).get(r.roster["first"]) for ref in refs} - {None, ""}
    return any(n == name or (len(n) > len(name) and is_half(name, n)) for n in names)
