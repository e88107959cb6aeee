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
mean (`_Roster.too_young`): a son born 2015 at the home is not «آقای رستمی» calling in 2024.

Deterministic (sorted keys); only clusters and features in, clusters out.  The full run
applies it to every cluster, the incremental run to a region widened by `home_mates`.
Settings: the type's `roster` (False: none; the person type's default is `PERSON_ROSTER`,
used when the type has the features it names).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Mapping

from munihub.resolve import namesakes, pooled
from munihub.resolve.model import is_half

# Feature names: first name, surname, father's name; personal values that tie a mention to
# its entity; numbers a person owns (their household is the caller's home); what names a
# household; what names a street and alley (only to widen an incremental region); trusted
# ids whose typos `pooled.join` follows to their one owner on record; the birth date, the
# mention's own date (its 137 call's), and the age under which a person on record is no
# caller on that date (a child on the registry: 12 full years, see `_Roster.too_young`).
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
    part = {ref: clusters[ref] for ref in _touched(clusters, feats, roster, mentions)}
    out = dict(clusters)
    if part:
        built = _Roster(part, feats, roster)
        moved = detach(part, feats, roster, mentions, matched, built, why)
        moved = attach(moved, feats, roster, conflict, refused, built if moved == part else None, why,
                       mentions)
        out.update(attach_named(moved, feats, roster, conflict, refused, why))
    # then evidence the records of a part give together (a name on one call, the mobile on
    # its follow-up): `pooled.join`; last, what a home's namesakes leave ambiguous
    out = pooled.join(out, feats, roster, conflict, refused, why)
    return namesakes.separate(out, feats, roster, conflict, matched, why)


def _touched(clusters: Mapping[str, str], feats: Feats, roster: dict,
             mentions: Callable[[str], bool]) -> set[str]:
    """The refs of the parts `detach` and `attach` may read or move: parts holding a caller (a
    mention, or a record with no first name) with a number that a person on record owns,
    and, closed over shared household keys, the parts of those owners; for a record with no
    first name and no number, the named parts at its own household (closed likewise); and
    the named parts of the surname sought at such a record's or an owner's street and alley.
    Empty when none of these is on record: nothing can move then."""
    calls = _calls(clusters, feats, roster, mentions)
    if not calls.at:
        return set()
    frontier, owners, placed = _answering(clusters, feats, roster, calls)
    parts = {caller for _, where in frontier for caller in calls.at[where]}
    if not parts and not placed:
        return set()
    groups = _Groups(clusters, feats, roster)
    parts |= groups.households_of({key for key, _ in frontier})
    # the named people of a sought surname at a street and alley: a numberless record's own
    # (with the records seeking them), or its number's owner's (`_Roster.around`); they are
    # weighed, their households not widened
    for key, place in placed:
        if groups.surnames[key] & calls.sought[place]:
            parts.add(key)
            parts |= calls.at[place]
    parts |= groups.named_at(_owners_alleys(groups, feats, roster, calls, owners))
    return {ref for key in parts for ref in groups.members[key]}


class _Calls:
    """Where the records that may move call from: `at` maps a number (or, for a record naming
    no first name, or half of one, and no number, a household key or a street and alley of
    its own) to the keys of the parts calling from it; `sought` a street and alley to the
    surnames such numberless records seek there; `unnamed` a number to the surnames of the
    records with no first name, or half of one, calling from it (their number's owner's
    street and alley is weighed for those surnames only)."""

    def __init__(self):
        self.at: dict[tuple, set[str]] = defaultdict(set)
        self.sought: dict[tuple, set[str]] = defaultdict(set)
        self.unnamed: dict[tuple, set[str]] = defaultdict(set)


def _calls(clusters: Mapping[str, str], feats: Feats, roster: dict, mentions: Callable[[str], bool]) -> _Calls:
    """The `_Calls` of every mention, every record naming no first name and every record
    that may name half of a compound first name on record with its surname (`_halves`)."""
    first, last, numbers, keys = roster["first"], roster["last"], roster["numbers"], roster["households"]
    halves = _halves(clusters, feats, roster)
    out = _Calls()
    for ref, key in clusters.items():
        f = feats.get(ref)
        if not f:
            continue
        seeking = not f.get(first) or (mentions(ref) and (f.get(last), f[first]) in halves)
        if f.get(first) and not mentions(ref):
            continue
        held = [(n, f[n]) for n in numbers if f.get(n)]
        if seeking:
            for number in held:
                out.unnamed[number].add(f.get(last))
        if not held and seeking and f.get(last):
            held = [(h, f[h]) for h in keys if f.get(h)]
            for p in roster.get("places", ()):
                if f.get(p):
                    out.sought[(p, f[p])].add(f[last])
                    out.at[(p, f[p])].add(key)
        for number in held:
            out.at[number].add(key)
    return out


def _halves(clusters: Mapping[str, str], feats: Feats, roster: dict) -> set[tuple[str, str]]:
    """(surname, first name) of the first names held in `clusters` that are half of a longer
    one held with the same surname (`model.is_half`: «علی» and «علیرضا» رحیمی): only those
    can join a person by `_half_of`."""
    first, last = roster["first"], roster["last"]
    held, halves = set(), set()
    for ref in clusters:
        f = feats.get(ref)
        if f and f.get(first) and f.get(last):
            held.add((f[last], f[first]))
    for surname, name in held:
        halves.update((surname, name[:i]) for i in range(3, len(name)))
        halves.update((surname, name[-i:]) for i in range(3, len(name)))
    return halves & held


def _answering(clusters: Mapping[str, str], feats: Feats, roster: dict,
               calls: _Calls) -> tuple[set[tuple], set[tuple], set[tuple]]:
    """The named parts holding what `calls` call from, as (key, number or household key)
    pairs; of those, the (key, number) pairs a record with no first name called from (their
    owners, whose street and alley is weighed); and the (key, street and alley) pairs of
    named parts at a numberless record's street and alley (weighed only if of a surname
    sought there)."""
    first, numbers, keys = roster["first"], roster["numbers"], roster["households"]
    places = roster.get("places", ())
    frontier, owners, placed = set(), set(), set()
    for ref, key in clusters.items():
        f = feats.get(ref)
        if not f or not f.get(first):
            continue
        for n in (*numbers, *keys, *places):
            where = (n, f.get(n))
            if where not in calls.at:
                continue
            if n in places:
                placed.add((key, where))
                continue
            frontier.add((key, where))
            if where in calls.unnamed:
                owners.add((key, where))
    return frontier, owners, placed


class _Groups:
    """The parts of `clusters`: their refs, surnames, and the refs holding each household key."""

    def __init__(self, clusters: Mapping[str, str], feats: Feats, roster: dict):
        self.clusters, self.feats, self.roster = clusters, feats, roster
        self.members: dict[str, list[str]] = defaultdict(list)
        self.by_key: dict[tuple, list[str]] = defaultdict(list)
        self.surnames: dict[str, set[str]] = defaultdict(set)
        for ref, key in clusters.items():
            self.members[key].append(ref)
            f = feats.get(ref)
            if f:
                if f.get(roster["last"]):
                    self.surnames[key].add(f[roster["last"]])
                for h in roster["households"]:
                    if f.get(h):
                        self.by_key[(h, f[h])].append(ref)

    def households_of(self, start: set[str]) -> set[str]:
        """`start` and every part sharing a household key with them, closed transitively."""
        keys = self.roster["households"]
        frontier, seen, closed = set(start), set(), set()
        while frontier:
            closed |= frontier
            found = {(h, f[h]) for key in frontier for ref in self.members[key]
                     if (f := self.feats.get(ref)) for h in keys if f.get(h)} - seen
            seen |= found
            frontier = {self.clusters[ref] for k in found for ref in self.by_key[k]} - closed
        return closed

    def named_at(self, sought: Mapping[tuple, set[str]]) -> set[str]:
        """The parts with a first name at a street and alley of `sought` and one of the
        surnames sought there."""
        if not sought:
            return set()
        first, places = self.roster["first"], self.roster.get("places", ())
        return {key for ref, key in self.clusters.items() if (f := self.feats.get(ref)) and f.get(first)
                and any((p, f.get(p)) in sought and self.surnames[key] & sought[(p, f[p])] for p in places)}


def _owners_alleys(groups: _Groups, feats: Feats, roster: dict, calls: _Calls,
                   owners: set[tuple]) -> dict[tuple, set[str]]:
    """The streets and alleys of the owners of numbers called from by records with no first
    name, each with the surnames sought there (those records' own, and a numberless record's
    sought at the same street and alley)."""
    places = roster.get("places", ())
    out: dict[tuple, set[str]] = {}
    for key, number in owners:
        for ref in groups.members[key]:
            f = feats.get(ref) or {}
            for p in places:
                if f.get(p):
                    place = (p, f[p])
                    if place not in out:
                        out[place] = set(calls.sought.get(place, ()))
                    out[place] |= calls.unnamed[number] - {None}
    return out


class _Roster:
    """The homes of every group: (home, surname) -> keys of groups with a named record there,
    (street and alley, surname) -> the same by street and alley, and number -> keys of the
    groups whose named records hold it."""

    def __init__(self, clusters: Mapping[str, str], feats: Feats, roster: dict):
        self.feats, self.roster = feats, roster
        self.groups: dict[str, list[str]] = defaultdict(list)
        for ref in sorted(clusters):
            self.groups[clusters[ref]].append(ref)
        first, last = roster["first"], roster["last"]
        self.people: dict[tuple, set[str]] = defaultdict(set)
        self.placed: dict[tuple, set[str]] = defaultdict(set)
        self.owners: dict[tuple, set[str]] = defaultdict(set)
        self.households: dict[str, set[tuple]] = defaultdict(set)
        born = roster.get("born")
        self.born: dict[str, set[str]] = {}
        for key, refs in self.groups.items():
            fs = [self.f(r) for r in refs]
            if not any(f.get(first) for f in fs):
                continue
            if born and any(f.get(born) for f in fs):
                self.born[key] = {f[born] for f in fs if f.get(born)}
            surnames = {f[last] for f in fs if f.get(last)}
            for f in fs:
                self.households[key] |= {(h, f[h]) for h in roster["households"] if f.get(h)}
                for p in roster.get("places", ()):
                    if f.get(p):
                        for s in surnames:
                            self.placed[((p, f[p]), s)].add(key)
                if f.get(first):
                    for n in roster["numbers"]:
                        if f.get(n):
                            self.owners[(n, f[n])].add(key)
        # One household however many keys name it: a landline and a postal code on one record,
        # or a person's records (a move joins two homes: more people to choose from, fewer
        # mentions decided).  Registry rows often lack the landline a brother's row gives.
        self.parent: dict[tuple, tuple] = {}
        for keys in self.households.values():
            for a, b in zip(sorted(keys), sorted(keys)[1:]):
                ra, rb = self.root(a), self.root(b)
                if ra != rb:
                    self.parent[max(ra, rb)] = min(ra, rb)
        for key, refs in self.groups.items():
            for ref in refs:
                f = self.f(ref)
                if f.get(last):
                    for home in self.households.get(key, ()):
                        self.people[(self.root(home), f[last])].add(key)

    def root(self, home: tuple) -> tuple:
        while home in self.parent:
            home = self.parent[home]
        return home

    def f(self, ref: str) -> dict:
        return self.feats.get(ref) or {}

    def dated(self, refs: Iterable[str]) -> str | None:
        """The earliest own date of the records `refs` (their 137 calls' `mentioned_on`),
        or None: the same in a full and an incremental run, never the clock's."""
        name = self.roster.get("dated")
        days = [d for r in refs if name and (d := self.f(r).get(name))]
        return min(days) if days else None

    def too_young(self, key: str, on: str | None) -> bool:
        """Whether the named group `key` was under `min_age` full years on the day `on` by a
        birth date one of its records gives: a son on the registry born 2015 made no call of
        2024, so he is no one a caller's partial name may mean at his home.  A group with no
        birth date on record, or a day not known, stays a candidate.  Twelve: younger
        children do not call the city's hotline or own its bills; a teenager may."""
        if on is None or key not in self.born:
            return False
        least = self.roster.get("min_age", 0)
        return any((age := namesakes.full_years(b, on)) is not None and age < least for b in self.born[key])

    def homes(self, refs: Iterable[str], but: str | None = None) -> set[tuple]:
        """The households of the people on record who own the numbers `refs` called from
        (but the group `but`).  Not the landline `refs` give: anyone at home (not all on
        record)."""
        fs = [self.f(r) for r in refs]
        out: set[tuple] = set()
        for f in fs:
            for n in self.roster["numbers"]:
                for owner in sorted(self.owners.get((n, f.get(n)), set()) - {but}):
                    out |= self.households[owner]
        return {self.root(home) for home in out}

    def at_home(self, refs: Iterable[str], surname: str, own: str | None = None) -> set[str]:
        """Keys of the named groups with `surname` in the households of `refs`, but `own`."""
        return {k for home in self.homes(refs) for k in self.people.get((home, surname), ())} - {own}

    def around(self, refs: Iterable[str], surname: str, numbered: bool, but: str | None = None) -> set[str]:
        """Keys of the named groups with `surname` who may be the partial group `refs`: with
        a number, those in its owners' households or at their streets and alleys (a member
        on record with neither landline nor postal code, a permit's, is still there); with
        none, those at the households `refs` name themselves (landline, postal code) or at
        their own street and alley.  `but`: a group whose owning the number names no home (the
        partial group itself, when it names someone: its own street and alley is no more
        than a number nobody else owns gives)."""
        fs = [self.f(r) for r in refs]
        if numbered:
            homes = self.homes(refs, but)
            fs = [self.f(ref) for f in fs for n in self.roster["numbers"]
                  for owner in self.owners.get((n, f.get(n)), set()) - {but} for ref in self.groups[owner]]
        else:
            homes = {self.root((h, f[h])) for f in fs for h in self.roster["households"] if f.get(h)}
        places = {(p, f[p]) for f in fs for p in self.roster.get("places", ()) if f.get(p)}
        return ({k for home in homes for k in self.people.get((home, surname), ())}
                | {k for place in places for k in self.placed.get((place, surname), ())})


def attach(clusters: dict[str, str], feats: Feats, roster: dict,
           conflict: Callable[[str, str], bool] | None = None, refused: set = frozenset(),
           built: _Roster | None = None, why: dict[str, str] | None = None,
           mentions: Callable[[str], bool] = lambda ref: ref.endswith("#person")) -> dict[str, str]:
    """Join each group that names no first name to the unique compatible named entity of its
    home, and each group of mentions naming half of a compound first name to the one person
    of its home holding that compound (`_half_of`; see the module docstring); anything else
    is left as it is.  `built`: the roster of these very clusters, if made already; `why`
    gets `ATTACHED` (or `HALF`) for each record joined; `mentions(ref)`: a record another
    system's row made (a registry's row names its person whole)."""
    first, last = roster["first"], roster["last"]
    r = built or _Roster(clusters, feats, roster)
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


def _half_of(key: str, refs: list[str], r: _Roster, conflict: Callable[[str, str], bool] | None,
             refused: set) -> str | None:
    """The key of the one named entity at the home of the group `refs` (`_Roster.around`) whose
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
                 why: dict[str, str] | None = None) -> dict[str, str]:
    """Join each group giving one whole name (first name and surname) from a mobile another
    person on record owns to the one group of its household with that whole name (the
    households of the number's owners, `_Roster.at_home`), when exactly one there fits
    (nothing conflicts, no steward "no-match").  A whole name alone is anyone's of that name
    in the city (the pair scores leave it apart: `docs/resolution.md`), but a caller on a
    home member's mobile is of that home, and a home holds one person of a whole name: the
    father and his namesake son, or two on record there, and it stays alone.  `why` gets
    `NAMED` for each record joined."""
    first, last, numbers = roster["first"], roster["last"], roster["numbers"]
    r = _Roster(clusters, feats, roster)
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
           built: _Roster | None = None, why: dict[str, str] | None = None) -> dict[str, str]:
    """Take out of its entity each mention tied to it by its name alone when another entity of
    its home, same surname, has that first name or one it is half of, and does not own the
    mention's number (a son «علی» on his father محمدعلی's mobile stays the son, as the pair
    scores decided).  `why` gets `DETACHED` for each record taken out."""
    first, last = roster["first"], roster["last"]
    r = built or _Roster(clusters, feats, roster)
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


def _tied(ref: str, refs: Iterable[str], r: _Roster) -> bool:
    """Whether a record shares a personal value (id, birth date, mobile, thread) with another
    record of `refs`."""
    f, personal = r.f(ref), r.roster["personal"]
    mine = {(p, f[p]) for p in personal if f.get(p)}
    return any((p, r.f(other).get(p)) in mine for other in refs if other != ref for p in personal)


def _same_or_half(name: str, r: _Roster, refs: list[str]) -> bool:
    """Whether `refs` hold the first name `name`, or a longer one it is half of."""
    names = {r.f(ref).get(r.roster["first"]) for ref in refs} - {None, ""}
    return any(n == name or (len(n) > len(name) and is_half(name, n)) for n in names)


def home_mates(refs: Iterable[str], feats: Feats, roster: dict | None) -> set[str]:
    """Records in `feats` that `resolve_partials` may weigh for `refs`: those with one's
    surname at one's household or street and alley (its own, or the household of a record
    sharing its number), those sharing its number, and those whose id is one's or a typo
    away from it (`pooled.join`'s mistyped ids).  An incremental region holding `refs`
    must hold these (and their parts) to decide as a full run does."""
    if roster is None:
        return set()
    last, homes, numbers = roster["last"], [*roster["households"], *roster["places"]], roster["numbers"]
    owners: dict[tuple, list[dict]] = defaultdict(list)
    for f in feats.values():
        for n in numbers:
            if f.get(n):
                owners[(n, f[n])].append(f)
    wanted, shared, near = set(), set(), set()
    for ref in refs:
        f = feats.get(ref) or {}
        mine = [(n, f[n]) for n in numbers if f.get(n)]
        shared.update(mine)
        if f.get(last):
            around = [f, *(o for number in mine for o in owners.get(number, ()))]
            wanted.update((h, o[h], f[last]) for o in around for h in homes if o.get(h))
        near.update(_near_ids(f, roster))
    return {ref for ref, f in feats.items()
            if any((n, f.get(n)) in shared for n in numbers)
            or (f.get(last) and any((h, f.get(h), f[last]) in wanted for h in homes))
            or (near and not near.isdisjoint(_near_ids(f, roster)))}


def _near_ids(f: dict, roster: dict) -> set[tuple]:
    """A record's valid ids, and for an id that fails its check the valid ones a typo away:
    two records sharing one are weighed together by `pooled.join` (a mistyped id's owner)."""
    from munihub.resolve.match import typo_variants, valid_id

    out = set()
    for name in roster.get("ids", ()):
        value = f.get(name)
        if value:
            out.update({(name, value)} if valid_id(name, value) else {(name, v) for v in typo_variants(value)})
    return out
