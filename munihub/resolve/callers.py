"""Unnamed 137 follow-ups from another person's mobile: a step after the roster's.

A follow-up call («مشکل هنوز برطرف نشده») joins its request's thread, and the pair scores
rank the thread above the mobile (a caller borrows a mobile more often than a thread is
wrong).  But a follow-up that gives no first name and calls from a mobile that another
person on record owns (a registry or bank row stating a national id or birth date beside
it) is told apart by nothing: the thread says whose request it is, the mobile who called,
and a household's members follow up each other's requests.  `apart` takes such a mention
out of its entity unless something personal (a national id, birth date, or the mobile
itself) ties it to another record there; it joins neither, as `namesakes.separate` leaves
a namesake's thin record.  A steward's "match" keeps it where it is.

Deterministic (sorted keys); only clusters and features in, clusters out.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Mapping

APART = "roster:caller-apart"
WHY = {APART: "left its entity: it names no first name and calls from a mobile another person on record owns"}


def apart(clusters: dict[str, str], feats: Mapping[str, dict], roster: dict,
          conflict: Callable[[str, str], bool] | None = None,
          mentions: Callable[[str], bool] = lambda ref: ref.endswith("#person"),
          matched: set = frozenset(), why: dict[str, str] | None = None) -> dict[str, str]:
    """`clusters` (ref -> its part's smallest ref) with such follow-ups taken out (see the
    module docstring); `roster`: `partial.roster_settings` (its first name, numbers and
    personal features); `matched`: steward "match" pairs, both ways; `why` gets `APART`."""
    first, numbers = roster["first"], roster["numbers"]
    stating = roster.get("stating", ("national_id", "birth_date"))
    tying = [p for p in roster["personal"] if p not in roster.get("threads", ("thread",))]
    f = lambda ref: feats.get(ref) or {}  # noqa: E731
    owners: dict[tuple, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ref, key in sorted(clusters.items()):
        g = f(ref)
        if any(g.get(s) for s in stating):
            for n in numbers:
                if g.get(n):
                    owners[(n, g[n])][key].append(ref)
    if not owners:
        return clusters
    groups: dict[str, list[str]] = defaultdict(list)
    for ref in sorted(clusters):
        groups[clusters[ref]].append(ref)
    leaving: dict[str, list[str]] = defaultdict(list)
    for key, refs in groups.items():
        if len(refs) < 2:
            continue
        held: dict[tuple, int] = defaultdict(int)
        for ref in refs:
            for p in tying:
                if f(ref).get(p):
                    held[(p, f(ref)[p])] += 1
        for ref in refs:
            g = f(ref)
            if not mentions(ref) or g.get(first) or any((ref, o) in matched for o in refs):
                continue
            # the owner must be someone it can be: «خانم رضایی» on her husband's mobile is not him
            if not any(k != key and not (conflict and any(conflict(ref, o) for o in owned))
                       for n in numbers if g.get(n) for k, owned in owners.get((n, g[n]), {}).items()):
                continue
            if any(held[(p, g[p])] > 1 for p in tying if g.get(p)):
                continue  # tied to a record of its entity by its own id, birth date or mobile
            leaving[key].append(ref)
    if not leaving:
        return clusters
    out = dict(clusters)
    for key, gone in leaving.items():
        rest = [ref for ref in groups[key] if ref not in set(gone)]
        for ref in rest:
            out[ref] = min(rest)
        for ref in gone:
            out[ref] = ref
            if why is not None:
                why[ref] = APART
    return out
