"""Parts joined by evidence their records give together: a step after pair clustering.

Pairs are scored record by record, so evidence split over one person's records is never
added up: a nameless 137 call from a mobile and the named follow-up of the same request
(one part, by their thread) against a registry row with that name and mobile.  Neither
call alone is that person (the mobile alone is the home's, the name alone anyone's); the
part together is.  `join` joins two parts when a number a person owns (the mobile) is on
both and a whole name (first name and surname) is on both, and nothing conflicts between
them (`conflicts.conflict_of`: another id, birth date, gender, first name; a steward's
"no-match").  A household member calling from another's mobile gives their own name, so
the name keeps them apart; a nameless caller alone gives no name and joins nobody here.
A home's landline or postal code counts only beside the whole name on the same record.
And a part holding an id that fails its check joins the part holding the one valid id on
record a typo away from it (`_mistyped`), names or not.

Deterministic (sorted keys, numbers in order); clusters and features in, clusters out.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Callable, Mapping

POOLED, POOLED_ID = "pooled:name+number", "pooled:mistyped-id"
WHY = {POOLED: "joined a part giving the same whole name and number across its records",
       POOLED_ID: "joined the part holding the one valid national id a typo from one it gives"}


def join(clusters: dict[str, str], feats: Mapping[str, dict], roster: dict,
         conflict: Callable[[str, str], bool] | None = None, refused: set = frozenset(),
         why: dict[str, str] | None = None) -> dict[str, str]:
    """`clusters` (ref -> its part's smallest ref) with parts joined as the module says;
    `roster`: `partial.roster_settings` (its first, last, numbers, households and ids
    features); `why` gets the rule (`POOLED`, `POOLED_ID`) for each record of a part that
    joined another."""
    # A person's own number (the mobile) and the name may come from any records of a part.
    # A home's landline or postal code only with the whole name on the same record: each
    # member of a home has a first name of their own, so that pair is one person whatever
    # else differs (two 137 calls about problems in two streets); and an incremental region
    # holds the records of a surname at a landline (`homes.home_mates`), not what a
    # nameless call's landline would pull in through another record's name.
    first, last, numbers = roster["first"], roster["last"], roster["numbers"]
    groups: dict[str, list[str]] = defaultdict(list)
    for ref in sorted(clusters):
        groups[clusters[ref]].append(ref)
    names: dict[str, set[tuple]] = defaultdict(set)
    holders: dict[tuple, set[str]] = defaultdict(set)
    for key, refs in groups.items():
        for ref in refs:
            f = feats.get(ref) or {}
            if f.get(first) and f.get(last):
                names[key].add((f[first], f[last]))
            for n in numbers:
                if f.get(n):
                    holders[(n, f[n])].add(key)
            if f.get(first) and f.get(last):
                for h in roster["households"]:
                    if f.get(h):
                        holders[(h, f[h], f[first], f[last])].add(key)
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        while k in parent:
            k = parent[k]
        return k

    members = {k: list(refs) for k, refs in groups.items()}
    joined = False

    how: dict[str, str] = {}  # the rule that joined a part to another

    def unite(a: str, b: str, rule: str) -> None:
        nonlocal joined
        ra, rb = root(a), root(b)
        ms, mb = members[ra], members[rb]
        if ra == rb or any((x, y) in refused for x in ms for y in mb) or \
                (conflict is not None and _apart(conflict, ms, mb)):
            return
        small, big = sorted((ra, rb))
        parent[big] = small
        how[big] = rule
        members[small] = ms + mb
        names[small] = names[ra] | names[rb]
        joined = True

    for number in sorted(holders):
        keys = sorted(k for k in holders[number] if names.get(k))
        if len(keys) > 4:  # a number on many parts' records (an office's, a shop's) is nobody's
            continue
        for a, b in combinations(keys, 2):
            if names[root(a)] & names[root(b)]:
                unite(a, b, POOLED)
    for key, owner in _mistyped(groups, feats, roster.get("ids", ())):
        unite(key, owner, POOLED_ID)
    if not joined:
        return clusters
    out = {}
    for ref, key in clusters.items():
        to = root(key)
        out[ref] = min(members[to]) if to != key else key
        if to != key and why is not None:
            why[ref] = how[key]
    return out


def _mistyped(groups: Mapping[str, list[str]], feats: Mapping[str, dict], ids) -> list[tuple[str, str]]:
    """(part, part) pairs: a record of the first gives an id that fails its check (set aside at
    publish), and exactly one valid id on record is one typo from it, held by the second part
    alone.  A typo's valid neighbours are ten in a billion ids: the one on record is whose it
    is, even beside no name (a nameless 137 caller's only evidence)."""
    from munihub.resolve.ids import typo_variants, valid_id

    held: dict[tuple, set[str]] = defaultdict(set)
    wrong: list[tuple] = []
    for key, refs in groups.items():
        for ref in refs:
            f = feats.get(ref) or {}
            for name in ids:
                if f.get(name):
                    if valid_id(name, f[name]):
                        held[(name, f[name])].add(key)
                    else:
                        wrong.append((key, name, f[name]))
    out = []
    for key, name, value in sorted(wrong):
        owners = {(v, k) for v in typo_variants(value) for k in held.get((name, v), ())}
        if len(owners) == 1:
            out.append((key, owners.pop()[1]))
    return out


def _apart(conflict: Callable[[str, str], bool], ms: list[str], mb: list[str]) -> bool:
    """Whether two parts hold records that can never be one (`clustering._apart`)."""
    parts = getattr(conflict, "parts", None)
    if parts is not None:
        return parts(set(ms), set(mb))
    return any(conflict(x, y) for x in ms for y in mb)
