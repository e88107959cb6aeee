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

Deterministic (sorted keys, numbers in order); clusters and features in, clusters out.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Callable, Mapping

POOLED = "pooled:name+number"
WHY = {POOLED: "joined a part giving the same whole name and number across its records"}


def join(clusters: dict[str, str], feats: Mapping[str, dict], roster: dict,
         conflict: Callable[[str, str], bool] | None = None, refused: set = frozenset(),
         why: dict[str, str] | None = None) -> dict[str, str]:
    """`clusters` (ref -> its part's smallest ref) with parts joined as the module says;
    `roster`: `partial.roster_settings` (its first, last and numbers features); `why` gets
    `POOLED` for each record of a part that joined another."""
    # A person's own number (the mobile) and the name may come from any records of a part.
    # A home's landline or postal code only with the whole name on the same record: each
    # member of a home has a first name of their own, so that pair is one person whatever
    # else differs (two 137 calls about problems in two streets); and an incremental region
    # holds the records of a surname at a landline (`partial.home_mates`), not what a
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
    for number in sorted(holders):
        keys = sorted(k for k in holders[number] if names.get(k))
        if len(keys) > 4:  # a number on many parts' records (an office's, a shop's) is nobody's
            continue
        for a, b in combinations(keys, 2):
            ra, rb = root(a), root(b)
            if ra == rb or not names[ra] & names[rb]:
                continue
            ms, mb = members[ra], members[rb]
            if any((x, y) in refused for x in ms for y in mb) or \
                    (conflict is not None and _apart(conflict, ms, mb)):
                continue
            small, big = sorted((ra, rb))
            parent[big] = small
            members[small] = ms + mb
            names[small] = names[ra] | names[rb]
            joined = True
    if not joined:
        return clusters
    out = {}
    for ref, key in clusters.items():
        to = root(key)
        out[ref] = min(members[to]) if to != key else key
        if to != key and why is not None:
            why[ref] = POOLED
    return out


def _apart(conflict: Callable[[str, str], bool], ms: list[str], mb: list[str]) -> bool:
    """Whether two parts hold records that can never be one (`clustering._apart`)."""
    parts = getattr(conflict, "parts", None)
    if parts is not None:
        return parts(set(ms), set(mb))
    return any(conflict(x, y) for x in ms for y in mb)
