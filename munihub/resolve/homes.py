"""Who lives where, as the roster reads it: the homes, streets and numbers of the person
groups a resolution step left (`partial.resolve_partials` decides with them).

- `Roster`: every group's homes (household keys: landlines, postal codes), its streets and
  alleys by surname, the numbers its named records own, and its birth dates.
- `touched`: the records whose parts the roster may read or move (a million registry rows
  with no caller on their numbers cost one pass, not a roster).
- `home_mates`: what an incremental region holding some records must also hold to decide as
  a full run does.

Plain functions and read-only indexes over clusters and features; deterministic (sorted keys).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Mapping

from munihub.resolve import namesakes

Feats = Mapping[str, dict]


def touched(clusters: Mapping[str, str], feats: Feats, roster: dict,
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
    groups = Groups(clusters, feats, roster)
    parts |= groups.households_of({key for key, _ in frontier})
    # the named people of a sought surname at a street and alley: a numberless record's own
    # (with the records seeking them), or its number's owner's (`Roster.around`); they are
    # weighed, their households not widened
    for key, place in placed:
        if groups.surnames[key] & calls.sought[place]:
            parts.add(key)
            parts |= calls.at[place]
    parts |= groups.named_at(_owners_alleys(groups, feats, roster, calls, owners))
    return {ref for key in parts for ref in groups.members[key]}


class Calls:
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


def _calls(clusters: Mapping[str, str], feats: Feats, roster: dict, mentions: Callable[[str], bool]) -> Calls:
    """The `Calls` of every mention, every record naming no first name and every record
    that may name half of a compound first name on record with its surname (`_halves`)."""
    first, last, numbers, keys = roster["first"], roster["last"], roster["numbers"], roster["households"]
    halves = _halves(clusters, feats, roster)
    out = Calls()
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
               calls: Calls) -> tuple[set[tuple], set[tuple], set[tuple]]:
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


class Groups:
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


def _owners_alleys(groups: Groups, feats: Feats, roster: dict, calls: Calls,
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


class Roster:
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
    from munihub.resolve.ids import typo_variants, valid_id

    out = set()
    for name in roster.get("ids", ()):
        value = f.get(name)
        if value:
            out.update({(name, value)} if valid_id(name, value) else {(name, v) for v in typo_variants(value)})
    return out
