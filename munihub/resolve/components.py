"""Clusters of a whole entity type at once: `clustering.cluster`'s result, with the connected
parts found in arrays (split from `munihub.resolve.vectorized`, which scores the pairs)."""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

import numpy as np

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
        suspect |= _conflicted(ordered, label, conflict)
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


def _conflicted(ordered: list[str], label: np.ndarray, conflict) -> set[str]:
    """Keys (smallest refs) of the parts holding two members in conflict, every member pair
    tested at once by `conflict.many` (a `conflicts.TableConflicts`)."""
    table = conflict.table
    pos = (np.arange(len(ordered)) if table.refs == ordered else
           np.asarray([table.position(r) for r in ordered], dtype=np.int64))
    order = np.argsort(label, kind="stable")
    key = label[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    found: set[str] = set()
    for size in np.unique(sizes[sizes > 1]).tolist():
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.triu_indices(size, 1)
        for block in np.array_split(np.arange(len(members)), max(1, len(members) * len(i) // 2_000_000)):
            a, b = members[block][:, i].ravel(), members[block][:, j].ravel()
            hit = conflict.many(pos[a], pos[b])
            found.update(ordered[k] for k in np.unique(label[a[hit]]).tolist())
    return found


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
