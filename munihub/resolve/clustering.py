"""Clustering and stable ids: scored pairs and steward decisions into entities.

`cluster` joins pairs at or above the match threshold into connected parts (decisions
win); `assign_entity_ids` gives each part an id that survives re-runs.  Plain data, no store.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from munihub.resolve.match import Pair


def cluster(refs: Iterable[str], pairs: Iterable[Pair], threshold: float,
            decisions: Iterable[tuple[str, str, str]] = (),
            conflict: Callable[[str, str], bool] | None = None) -> dict[str, str]:
    """Connected components of pairs >= threshold, keyed by their smallest ref.

    Steward decisions win: "match" links are applied first; a "no-match" pair never ends up
    in one cluster, even through others.  Links are added strongest first (ties by refs) and
    a link that would join two parts holding a no-match pair is skipped, so a chain A-B-C
    with A/C "no-match" splits at its weakest link.  Order of input never matters.
    Only `refs` are clustered: pairs and decisions naming other refs (another entity type,
    a deleted row) are ignored.

    `conflict(a, b)`, if given, says two records cannot be one entity (two different
    national ids, birth dates or first names; with a `parts(ms, mb)` method it is asked about
    the two parts whole, so فاطمه and زهرا join a part holding فاطمه‌زهرا): a matcher link that
    would join two parts holding such a pair is skipped like a no-match, so a partial mention
    («آقای احمدی» and a household's mobile) that scores high with two people of one home joins
    only the stronger one.  Steward "match" links are never skipped, nor are shared trusted
    ids (rule `exact:…`) but for one test: with a `people(ms, mb)` method the conflict test
    says whether two parts hold two records that are two people even under one id
    (`conflicts.clearly_two`: another first name and another birth date or gender), and an
    id link that would join them is skipped, so a child's record carrying a parent's id
    joins no part of the parent's through a third record that has the id.
    A record whose strongest matcher links tie between conflicting records goes with a side
    holding twice the tied records of any rival, or with none (`_ties`): never by the order
    of refs.
    """
    parent = {r: r for r in refs}
    forbidden: dict[str, set[str]] = defaultdict(set)
    links = []
    by_id: set[tuple[str, str]] = set()  # links by a shared trusted id (`exact:…`)
    people = getattr(conflict, "people", None)
    for left, right, verdict in decisions:
        if left not in parent or right not in parent:
            continue
        if verdict == "no-match":
            forbidden[left].add(right), forbidden[right].add(left)
        elif verdict == "match":
            links.append((0, 0.0, min(left, right), max(left, right), False))
    for p in pairs:
        if p.probability >= threshold and p.left_ref in parent and p.right_ref in parent:
            # a shared valid trusted id is a match by rule: no conflict undoes it but `people`
            a, b = min(p.left_ref, p.right_ref), max(p.left_ref, p.right_ref)
            exact = p.rule.startswith("exact:")
            links.append((1, -p.probability, a, b, not exact))
            if exact and people is not None:
                by_id.add((a, b))
    if by_id and hasattr(conflict, "contested"):
        # an id shared by records it cannot settle alone (another first name: a renamed
        # person, or a child's record carrying a parent's id) links last, once every record
        # has joined where its own evidence puts it: the parts then say whether they are two
        # people (`people`), where a record without a birth date could not.  Among those
        # links, the ones between records most of the id's holders agree with go first: a
        # 137 call with the id and no first name joins the parent's many records, not the
        # child's one
        agree = _agreeing(by_id, conflict)
        links = [(2, -agree[x[2]] - agree[x[3]], *x[2:]) if x[0] == 1 and (x[2], x[3]) in by_id
                 and (agree[x[2]] < agree.get(("n", x[2]), 0) or agree[x[3]] < agree.get(("n", x[3]), 0))
                 else x for x in links]

    if conflict is not None:
        torn, losing = _ties(links, conflict)
        links = [x for x in links if not (x[4] and (x[2] in torn or x[3] in torn or (x[2], x[3]) in losing))]

    def find(r: str) -> str:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    size: dict[str, int] = {}  # per root, absent = 1
    members: dict[str, set[str]] = {}  # per root, only needed to honour "no-match" and conflicts
    for order, _, a, b, checked in sorted(links):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        small, big = (ra, rb) if size.get(ra, 1) <= size.get(rb, 1) else (rb, ra)
        if forbidden or conflict:
            ms, mb = members.pop(small, None) or {small}, members.get(big) or {big}
            if any(forbidden.get(m, set()) & mb for m in ms) or \
                    (checked and conflict and _apart(conflict, ms, mb)) or \
                    (order and (a, b) in by_id and people(ms, mb)):  # not a steward's link
                members[small] = ms
                continue
            members[big] = mb | ms
        parent[small] = big
        size[big] = size.get(big, 1) + size.pop(small, 1)
    key: dict[str, str] = {}
    roots = {r: find(r) for r in parent}
    for ref, root in roots.items():
        if root not in key or ref < key[root]:
            key[root] = ref
    return {r: key[root] for r, root in roots.items()}


def _agreeing(by_id: set[tuple[str, str]], conflict) -> dict:
    """Per record linked by a shared id: how many other holders of the id (the records its
    id links reach) it is not contested with (`conflicts.contested`), and under ("n", ref)
    how many other holders there are."""
    from itertools import combinations

    holders: dict[str, set[str]] = {}
    for a, b in sorted(by_id):  # the groups of records one id links
        group = holders.get(a, {a}) | holders.get(b, {b})
        for r in group:
            holders[r] = group
    agree: dict = {}
    for group in {id(g): g for g in holders.values()}.values():
        for r in group:
            agree[r], agree[("n", r)] = len(group) - 1, len(group) - 1
        for x, y in combinations(sorted(group), 2):
            if conflict.contested(x, y):
                agree[x] -= 1
                agree[y] -= 1
    return agree


def _apart(conflict: Callable[[str, str], bool], ms: set[str], mb: set[str]) -> bool:
    """Whether two parts hold records that can never be one: the parts' own test when the
    conflict test has one (`conflicts.FeatureConflicts.parts`: the halves of a compound name
    one part holds are not a conflict there), else every pair."""
    parts = getattr(conflict, "parts", None)
    if parts is not None:
        return parts(ms, mb)
    return any(conflict(x, y) for x in ms for y in mb)


def _ties(links: list[tuple], conflict: Callable[[str, str], bool]) -> tuple[set[str], set[tuple[str, str]]]:
    """Records whose strongest matcher links tie between records that can never be one
    (`conflict`), decided by the equal evidence itself, not by the order of refs: a side
    holding at least twice the tied records of any rival keeps the record (the rivals' tied
    links are returned as losing, `(min ref, max ref)`: the person who made three of a
    thread's calls, not the wife who made one, is its nameless caller); otherwise the record
    is torn and keeps only its sure links (a shared trusted id, a steward's "match").  A
    follow-up «آقای طاهری» whose 137 thread holds three calls of one twin and two of the
    other scores the same with each: it goes with neither."""
    from itertools import combinations

    best: dict[str, float] = {}
    tops: dict[str, list[str]] = defaultdict(list)
    sure: set[str] = set()
    for _, weakness, a, b, checked in links:
        if not checked:
            sure.update((a, b))
            continue
        for r, other in ((a, b), (b, a)):
            if weakness < best.get(r, 0.0):
                best[r], tops[r] = weakness, [other]
            elif weakness == best[r]:
                tops[r].append(other)
    torn, losing = set(), set()
    for r, others in sorted(tops.items()):
        # a tie at 1.0 is the rounding's: weights of 20 or 35 bits both round there, so it
        # says nothing of the evidence being the same (a mistyped id that passes its check
        # digit then "conflicts" with the person's own records)
        if r in sure or len(others) < 2 or best[r] <= -1.0:
            continue
        others = sorted(others)
        clash = {(x, y) for x, y in combinations(others, 2) if conflict(x, y)}
        if not clash:
            continue
        # the sides: tied records in a clash, each counted with those it can be one with (a
        # title and surname that fits both sides takes no side)
        sided = sorted({x for pair in clash for x in pair})
        support = {x: sum((min(x, y), max(x, y)) not in clash for y in sided) for x in sided}
        most = max(support.values())
        winners = [x for x in sided if support[x] == most]
        rivals = [x for x in sided if any((min(x, w), max(x, w)) in clash for w in winners)]
        if most < 2 * max(support[x] for x in rivals):  # winners clashing are each other's rivals
            torn.add(r)
            continue
        losing.update((min(r, x), max(r, x)) for x in rivals)
    return torn, losing


PREFIX = {"person": "P", "address": "A", "agency": "G", "service_request": "S",
          "permit": "T", "payment": "Y", "project": "J", "inter_agency_request": "I",
          "indicator": "K"}


def new_entity_id(entity_type: str, min_ref: str, salt: int = 0) -> str:
    """Deterministic id of a brand-new cluster: prefix + 12 hex of sha256(type, min ref)."""
    text = f"{entity_type}\x1f{min_ref}" + (f"\x1f{salt}" if salt else "")
    prefix = PREFIX.get(entity_type, entity_type[:1].upper() or "E")
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def assign_entity_ids(clusters: dict[str, str], previous: dict[str, str],
                      entity_type: str = "person", reserved: Iterable[str] = ()) -> dict[str, str]:
    """Stable entity ids: each old id goes to the cluster holding most of its former members
    (ties: smallest id, then smallest member ref); the rest get `new_entity_id`, skipping
    ids in use (`previous`'s, and `reserved`: ids held outside the refs given)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for ref, key in clusters.items():
        groups[key].append(ref)
    by_min = {min(refs): refs for refs in groups.values()}
    claims = []
    for lo, refs in by_min.items():
        for old, n in Counter(previous[r] for r in refs if r in previous).items():
            claims.append((-n, old, lo))
    taken, chosen = set(), {}
    for _, old, lo in sorted(claims):
        if lo not in chosen and old not in taken:
            chosen[lo] = old
            taken.add(old)
    used = taken | set(previous.values()) | set(reserved)
    for lo in sorted(by_min):
        if lo not in chosen:
            salt = 0
            while (eid := new_entity_id(entity_type, lo, salt)) in used:
                salt += 1
            chosen[lo] = eid
            used.add(eid)
    return {ref: chosen[lo] for lo, refs in by_min.items() for ref in refs}
