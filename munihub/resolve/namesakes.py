"""Namesakes at one home: a step after the roster's (`partial.resolve_partials`).

A son named as his father («محمد موسوی», son of «محمد موسوی») lives at his father's home:
the same whole name, landline, postal code, street and alley.  The registry tells them
apart by their national ids and birth dates; a thin record (a culture centre member with
a name and an address, a water bill with a name, a landline and a postal code, a 137 call
from the home's phone) carries nothing that does, and the pair scores join it to whichever
of the two it happened to score higher with.  `separate` takes such a record out: when
two persons on record (parts holding national ids or birth dates that conflict) share a
whole name and a home (a landline, postal code, or street and alley one of their records
gives), a record of either part with that whole name at that home which shares nothing
personal (national id, birth date, mobile, 137 thread) with the part's records that state
who it is, is ambiguous and joins neither; it leaves with the records its own personal
values tie it to (the unnamed follow-ups of its 137 thread).  A record of the same source,
whole name and landline or postal code as a stating one stays with it: a water company's
monthly bills of one subscriber, one with his national id typed in.  Records leaving one part
stay together where they share a personal value, or a household key beside the same whole
name (a home's bills of one subscriber).  A steward's "match" keeps a record where it is.
The father need not be on record himself: a row naming its father by its own first name
beside a sibling's row at its home (same surname and father's name, born less than
`SIBLINGS` years apart) puts him there (`_sons_at_home`).  Without a sibling it does not: a
man named as his own father heads many homes (tried: it cost the heads' bills more than it
saved).

Deterministic (sorted keys); only clusters and features in, clusters out.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Callable, Mapping

SEPARATED = "roster:namesakes"
WHY = {SEPARATED: "left its entity: another person on record at its home has the same whole name, "
                  "and nothing personal on it says which of the two it is"}

Feats = Mapping[str, dict]
# brothers and sisters are born less than this many years apart; a father and his child more
SIBLINGS = 20


def separate(clusters: dict[str, str], feats: Feats, roster: dict,
             conflict: Callable[[str, str], bool] | None = None, matched: set = frozenset(),
             why: dict[str, str] | None = None) -> dict[str, str]:
    """`clusters` (ref -> its part's smallest ref) with the ambiguous records of namesakes at
    one home taken out (see the module docstring); `roster`: `partial.roster_settings`;
    `matched`: steward "match" pairs, both ways; `why` gets `SEPARATED` for each record
    taken out."""
    first, last, dated = roster["first"], roster["last"], roster.get("dated")
    stating = roster.get("stating", ("national_id", "birth_date"))
    homes = (*roster["households"], *roster.get("places", ()))
    groups: dict[str, list[str]] = defaultdict(list)
    for ref in sorted(clusters):
        groups[clusters[ref]].append(ref)
    f = lambda ref: feats.get(ref) or {}  # noqa: E731
    # persons on record by whole name and home: each part stating who it is
    at: dict[tuple, set[str]] = defaultdict(set)
    for key, refs in groups.items():
        if not any(f(r).get(s) for r in refs for s in stating):
            continue
        names = {(f(r)[first], f(r)[last]) for r in refs if f(r).get(first) and f(r).get(last)}
        where = {(h, f(r)[h]) for r in refs for h in homes if f(r).get(h)}
        for home in where:
            for name in names:
                at[(home, *name)].add(key)
    torn: dict[str, set[tuple]] = defaultdict(set)  # part -> (home, first, last) it shares
    for (home, fn, ln), persons in at.items():
        if len(persons) < 2:
            continue
        for a, b in combinations(sorted(persons), 2):
            if _distinct(groups[a], groups[b], f, stating, conflict):
                torn[a].add((home, fn, ln))
                torn[b].add((home, fn, ln))
    for key, home, fn, ln in _sons_at_home(groups, f, roster, homes):
        torn[key].add((home, fn, ln))
    if not torn:
        return clusters
    out = dict(clusters)
    for key in sorted(torn):
        refs = groups[key]
        leaving: set[str] = set()
        for part in _unstated(refs, f, stating, roster):
            if any((ref, other) in matched for ref in part for other in refs):
                continue  # a steward put it here
            on = min((d for r in part if dated and (d := f(r).get(dated))), default=None)
            for ref in part:
                g = f(ref)
                if g.get(first) and g.get(last) and any(
                        (home, g[first], g[last]) in torn[key] and
                        not _only_children(at[(home, g[first], g[last])] - {key}, groups, f, roster, on)
                        for home in ((h, g[h]) for h in homes if g.get(h))):
                    leaving.update(part)
                    break
        if not leaving:
            continue
        rest = [ref for ref in refs if ref not in leaving]
        for ref in rest:
            out[ref] = min(rest)
        for part in _together(sorted(leaving), f, roster):
            for ref in part:
                out[ref] = min(part)
                if why is not None:
                    why[ref] = SEPARATED
    return out


def _only_children(others: set[str], groups: Mapping[str, list[str]], f, roster: dict, on: str | None) -> bool:
    """Whether every other person of the name at the home was under the roster's `min_age` on
    the day `on` (a 137 call's own date): a little sister named as her elder sister made no
    call, so the call is not torn between them.  False with no day, or with no one else
    (a son named as his father, `_sons_at_home`, is no part of its own)."""
    born, least = roster.get("born"), roster.get("min_age", 0)
    if on is None or not born or not others:
        return False
    return all(any((age := full_years(f(r)[born], on)) is not None and age < least
                   for r in groups[k] if f(r).get(born)) for k in others)


def _sons_at_home(groups: Mapping[str, list[str]], f, roster: dict, homes) -> list[tuple]:
    """(part, home, first, last) for each registry-like row naming its father by its own first
    name beside a sibling at one of its homes: a row of its surname and father's name whose
    birth date is less than `SIBLINGS` years from its own.  The siblings show their father
    heads that home, and he has the row's whole name (a son takes his father's surname); a
    man named as his own father with no sibling there is a head whose father lives elsewhere."""
    first, last, father = roster["first"], roster["last"], roster.get("father", "father_key")
    rows: dict[tuple, list[tuple]] = defaultdict(list)
    for key, refs in groups.items():
        for r in refs:
            g = f(r)
            year = _year(g.get("birth_date"))
            if year and g.get(father) and g.get(last):
                for home in ((h, g[h]) for h in homes if g.get(h)):
                    rows[(home, g[last], g[father])].append((key, r, year, g.get(first)))
    out = []
    for (home, ln, fn), found in sorted(rows.items()):
        for key, ref, year, name in found:
            if name == fn and any(r != ref and k != key and abs(y - year) < SIBLINGS for k, r, y, _ in found):
                out.append((key, home, fn, ln))
    return out


def _year(date) -> int | None:
    try:
        return int(str(date)[:4])
    except (TypeError, ValueError):
        return None


def _distinct(a: list[str], b: list[str], f, stating, conflict) -> bool:
    """Whether two parts are two persons by what their records state (another national id or
    birth date), as the conflict test reads it."""
    sa = [r for r in a if any(f(r).get(s) for s in stating)]
    sb = [r for r in b if any(f(r).get(s) for s in stating)]
    if conflict is not None:
        return any(conflict(x, y) for x in sa for y in sb)
    return any(f(x).get(s) and f(y).get(s) and f(x)[s] != f(y)[s] for x in sa for y in sb for s in stating)


def _unstated(refs: list[str], f, stating, roster: dict) -> list[list[str]]:
    """The records of a part that do not say who it is, in the parts their personal values
    (mobile, thread …) tie them into: a record stating a national id or birth date says it,
    and so does one sharing a personal value with such a record, transitively, or one of
    the same source with the same whole name at the same landline or postal code (a water
    company's monthly bills of one subscriber: the source itself names him there)."""
    first, last = roster["first"], roster["last"]

    def keys(r: str) -> list[tuple]:
        g = f(r)
        out = [(p, g[p]) for p in roster["personal"] if g.get(p)]
        if g.get(first) and g.get(last):
            source = r.split("|", 1)[0]
            out += [(source, h, g[h], g[first], g[last]) for h in roster["households"] if g.get(h)]
        return out

    return [p for p in _linked(refs, keys) if not any(f(r).get(s) for r in p for s in stating)]


def _together(refs: list[str], f, roster: dict) -> list[list[str]]:
    """`refs` in parts: joined where they share a personal value, or a household key beside
    the same whole name."""
    first, last = roster["first"], roster["last"]

    def keys(r: str) -> list[tuple]:
        g = f(r)
        return [(p, g[p]) for p in roster["personal"] if g.get(p)] + \
            [(h, g[h], g[first], g[last]) for h in roster["households"] if g.get(h)]

    return _linked(refs, keys)


def _linked(refs: list[str], keys: Callable[[str], list[tuple]]) -> list[list[str]]:
    """`refs` in parts joined where their `keys` meet, transitively; each part sorted, the
    parts in the order of their smallest ref."""
    parent = {r: r for r in refs}

    def root(r: str) -> str:
        while parent[r] != r:
            r = parent[r]
        return r

    seen: dict[tuple, str] = {}
    for r in refs:
        for k in keys(r):
            if k in seen:
                a, b = root(seen[k]), root(r)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                seen[k] = r
    parts: dict[str, list[str]] = defaultdict(list)
    for r in refs:
        parts[root(r)].append(r)
    return [sorted(p) for _, p in sorted(parts.items())]


def full_years(born: str, on: str) -> int | None:
    """Full years from the ISO day `born` to the ISO day `on`, or None when either is no
    ISO day (a birth date on record in another shape tells no age)."""
    try:
        (y, m, d), (y2, m2, d2) = (tuple(int(p) for p in x[:10].split("-")) for x in (born, on))
    except ValueError:
        return None
    return y2 - y - ((m2, d2) < (m, d))
