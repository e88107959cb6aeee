"""Clusters of a whole entity type at once: `clustering.cluster`'s result, with the connected
parts found in arrays (split from `munihub.resolve.vectorized`, which scores the pairs)."""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

import numpy as np

from munihub.resolve.levels import forked_map, shared
from munihub.resolve.match import Pair


def cluster(refs: Sequence[str], pairs: Sequence[Pair], threshold: float,
            decisions: Sequence[tuple[str, str, str]] = (),
            conflict: Callable[[str, str], bool] | None = None) -> dict[str, str]:
    """`clustering.cluster`, with the connected parts found in arrays (label propagation:
    each record takes the smallest position among its links, with pointer jumping) instead
    of ordering a million link tuples.  Order matters only inside a part where some link must
    be refused (two records in `conflict`, a steward's "no-match"); only those parts are
    handed to `clustering.cluster`, with their own links: parts never interact, so the
    result is the same."""
    from itertools import combinations

    from munihub.resolve import clustering

    ordered = sorted(set(refs))
    index = {r: i for i, r in enumerate(ordered)}
    links = [(p.left_ref, p.right_ref) for p in pairs if p.probability >= threshold]
    links += [(a, b) for a, b, verdict in decisions if verdict == "match"]
    ends = np.asarray([(index[a], index[b]) for a, b in links if a in index and b in index],
                      dtype=np.int64).reshape(-1, 2)
    label = _components(len(ordered), ends[:, 0], ends[:, 1])
    out = {r: ordered[label[index[r]]] for r in refs}
    forbidden = {(a, b) for a, b, verdict in decisions if verdict == "no-match"}
    if conflict is None and not forbidden:
        return out
    parts: dict[str, list[str]] = defaultdict(list)
    for r in ordered:
        parts[out[r]].append(r)
    refused = {min(a, b) for a, b in forbidden if a in out and b in out and out[a] == out[b]}
    suspect = {out[r] for r in refused}
    if hasattr(conflict, "many"):  # every member pair of every part tested in arrays
        suspect |= {ordered[k] for k in _conflicted(ordered, label, conflict)}
    else:
        suspect |= {key for key, members in parts.items() if len(members) > 1 and key not in suspect and
                    conflict is not None and any(conflict(a, b) for a, b in combinations(members, 2))}
    if not suspect:
        return out
    mine = [p for p in pairs if out.get(p.left_ref) in suspect and out.get(p.right_ref) in suspect]
    decided = [d for d in decisions if out.get(d[0]) in suspect and out.get(d[1]) in suspect]
    out.update(clustering.cluster([r for key in sorted(suspect) for r in parts[key]], mine, threshold,
                                  decided, conflict))
    return out


#: member pairs below which conflicts are tested in this process
PARALLEL_FROM = 200_000
#: members of the parts to re-cluster below which they are re-clustered here
RECLUSTER_FROM = 10_000


def _conflicted(ordered: list[str], label: np.ndarray, conflict, processes: int = 1) -> set[int]:
    """Labels (smallest positions) of the parts holding two members in conflict, every member
    pair tested at once by `conflict.many` (a `conflicts.TableConflicts`), blocks of pairs
    shared out to `processes` workers."""
    table = conflict.table
    pos = (np.arange(len(ordered)) if table.refs == ordered else
           np.asarray([table.position(r) for r in ordered], dtype=np.int64))
    order = np.argsort(label, kind="stable")
    key = label[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    groups, tasks, total = [], [], 0
    for size in np.unique(sizes[sizes > 1]).tolist():
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.triu_indices(size, 1)
        groups.append((members, i, j))
        total += len(members) * len(i)
        for block in np.array_split(np.arange(len(members)), max(1, len(members) * len(i) // 500_000)):
            if len(block):
                tasks.append((len(groups) - 1, int(block[0]), int(block[-1]) + 1))
    found = forked_map(_conflicted_block, tasks, processes if total >= PARALLEL_FROM else 1,
                       (conflict, groups, pos, label))
    return {int(k) for part in found for k in part.tolist()}


def _conflicted_block(task: tuple[int, int, int]) -> np.ndarray:
    """Labels of the parts of one block (parts of one size) holding a conflict."""
    conflict, groups, pos, label = shared()
    members, i, j = groups[task[0]]
    block = members[task[1]:task[2]]
    a, b = block[:, i].ravel(), block[:, j].ravel()
    return np.unique(label[a[conflict.many(pos[a], pos[b])]])


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per position, the smallest position of its connected part."""
    label = np.arange(n, dtype=np.int64)
    while True:
        low = np.minimum(label[left], label[right])
        before = label.copy()
        np.minimum.at(label, left, low)
        np.minimum.at(label, right, low)
        while True:  # pointer jumping: a label's label, until every chain is flat
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
        if np.array_equal(label, before):
            return label


def cluster_scored(scored: dict, threshold: float, decisions: Sequence[tuple[str, str, str]] = (),
                   conflict: Callable[[str, str], bool] | None = None, processes: int | None = None) -> np.ndarray:
    """`cluster` over the arrays of `vectorized.score_index` (every ref of `scored["refs"]`
    clustered): per position, the position of its cluster's smallest ref.  Only the parts
    holding a conflict or a refused steward link go through `clustering.cluster`, as `Pair`s;
    conflicts are tested and those parts re-clustered on `processes` cores (default: all)."""
    from munihub.resolve.vectorized import workers

    processes = processes or workers()
    refs = scored["refs"]
    strong = scored["probability"] >= threshold
    left, right = scored["left"][strong], scored["right"][strong]
    index: dict[str, int] = {}
    if decisions:
        index = {r: i for i, r in enumerate(refs)}
        linked = [(index[a], index[b]) for a, b, verdict in decisions
                  if verdict == "match" and a in index and b in index]
        if linked:
            left, right = np.r_[left, [a for a, _ in linked]], np.r_[right, [b for _, b in linked]]
    label = _components(len(refs), left, right)
    forbidden = [(index[a], index[b]) for a, b, verdict in decisions
                 if verdict == "no-match" and a in index and b in index]
    suspect = {int(label[a]) for a, b in forbidden if label[a] == label[b]}
    if hasattr(conflict, "many"):
        suspect |= _conflicted(refs, label, conflict, processes)
    elif conflict is not None:  # a plain test, one pair at a time (`cluster` does the same)
        suspect |= {int(k) for k in _multi(label) if _any_conflict(refs, label, int(k), conflict)}
    if not suspect:
        return label
    # parts never interact: the suspect ones are re-clustered in groups, one per worker
    keys = np.asarray(sorted(suspect), dtype=np.int64)
    _, counts = np.unique(label[np.isin(label, keys)], return_counts=True)
    cut = np.searchsorted(np.cumsum(counts), np.arange(1, processes) * counts.sum() / processes)
    groups = [g for g in np.split(keys, cut) if len(g)]
    parts = forked_map(_reclustered, groups, processes if counts.sum() >= RECLUSTER_FROM else 1,
                       (scored, strong, label, threshold, decisions, index, conflict))
    label = label.copy()
    for members, labels in parts:
        label[members] = labels
    return label


def _reclustered(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, their labels) of the parts labelled `keys`, re-clustered by
    `clustering.cluster` with their own links, decisions and conflicts."""
    from munihub.resolve import clustering
    from munihub.resolve.vectorized import pairs_of

    scored, strong, label, threshold, decisions, index, conflict = shared()
    refs = scored["refs"]
    inside = np.isin(label, keys)
    members = np.flatnonzero(inside)
    mine = pairs_of(scored, strong & inside[scored["left"]] & inside[scored["right"]])
    chosen = {refs[i] for i in members.tolist()}
    decided = [d for d in decisions if d[0] in chosen and d[1] in chosen]
    if hasattr(conflict, "among"):
        conflict = conflict.among(members.tolist())
    parts = clustering.cluster([refs[i] for i in members.tolist()], mine, threshold, decided, conflict)
    index = index or {refs[i]: i for i in members.tolist()}
    return members, np.asarray([index[parts[refs[i]]] for i in members.tolist()], dtype=label.dtype)


def _multi(label: np.ndarray) -> np.ndarray:
    keys, counts = np.unique(label, return_counts=True)
    return keys[counts > 1]


def _any_conflict(refs: list[str], label: np.ndarray, key: int, conflict) -> bool:
    from itertools import combinations

    members = [refs[i] for i in np.flatnonzero(label == key).tolist()]
    return any(conflict(a, b) for a, b in combinations(members, 2))


def first_rules(scored: dict, threshold: float) -> dict[str, str]:
    """`run._rules` over scored arrays: per ref, the rule of the first pair >= threshold
    naming it, pairs in (left ref, right ref) order."""
    refs, n = scored["refs"], len(scored["refs"])
    strong = np.flatnonzero(scored["probability"] >= threshold)
    left, right = scored["left"][strong], scored["right"][strong]
    order = np.argsort(left * n + right, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    first = np.full(n, len(order), dtype=np.int64)
    np.minimum.at(first, left, rank)
    np.minimum.at(first, right, rank)
    has = np.flatnonzero(first < len(order))
    rule_of = scored["rule"][strong][order]
    names = scored["rules"]
    return {refs[i]: names[k] for i, k in zip(has.tolist(), rule_of[first[has]].tolist())}


def entity_ids(refs: list[str], label: np.ndarray, previous: dict[str, str], entity_type: str,
               reserved: Sequence[str] = ()) -> dict[str, str]:
    """`clustering.assign_entity_ids` of the clusters `label` gives (`refs` sorted, label =
    position of the cluster's smallest ref): the same ids, claims counted in arrays."""
    ids, cluster = cluster_ids(refs, label, previous, entity_type, reserved)
    return dict(zip(refs, [ids[c] for c in cluster.tolist()]))


def cluster_ids(refs: list[str], label: np.ndarray, previous: dict[str, str], entity_type: str,
                reserved: Sequence[str] = ()) -> tuple[list[str], np.ndarray]:
    """`entity_ids` as arrays: (the id of each cluster, per position the index of its cluster
    in them), so a caller writing a million ids out needs no dict of them."""
    import hashlib

    from munihub.resolve.clustering import new_entity_id

    keys, cluster = np.unique(label, return_inverse=True)
    cluster = cluster.ravel()
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    if previous:
        before = [previous.get(r) for r in refs]
        olds = sorted({e for e in before if e is not None})
        code = {e: i for i, e in enumerate(olds)}
        old = np.fromiter((code[e] if e is not None else -1 for e in before), dtype=np.int64, count=len(refs))
        has = old >= 0
        claim, count = np.unique(np.stack([cluster[has], old[has]], axis=1), axis=0, return_counts=True)
        # best claim first: most former members, then smallest old id, then smallest ref
        for k in np.lexsort((claim[:, 0], claim[:, 1], -count)).tolist():
            c, o = int(claim[k, 0]), olds[int(claim[k, 1])]
            if c not in chosen and o not in taken:
                chosen[c] = o
                taken.add(o)
    used = taken | set(previous.values()) | set(reserved)
    # (hashing the new ids on forked workers cost more than it saved at 343k clusters: the
    # fork of a process holding a million records.)  `new_entity_id` unrolled for salt 0
    # (the usual case): its text and prefix made once, not once a cluster
    sha256 = hashlib.sha256
    head = new_entity_id(entity_type, "")[:-12], f"{entity_type}\x1f"
    ids = []
    for c, key in enumerate(keys.tolist()):
        if c not in chosen:
            eid = head[0] + sha256((head[1] + refs[key]).encode()).hexdigest()[:12]
            salt = 0
            while eid in used:
                salt += 1
                eid = new_entity_id(entity_type, refs[key], salt)
            chosen[c] = eid
            used.add(eid)
        ids.append(chosen[c])
    return ids, cluster
