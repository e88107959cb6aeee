"""The blocking index kept in the store (table `match_keys`), for incremental resolution.

A full run writes every match record's keys: one per blocking key (entity type, rule,
values) and one per counted feature value (`cap_unless_exact`: how common a first name is).
An incremental run then builds, instead of a million-record index in memory, only the
neighbourhood its new records reach: `Neighbourhood.fetch` is the hook `match.grow_region`
calls before it looks at refs, and loads their features, former entities and blocks.  What
it loads equals what the in-memory index would hold there, so results equal a full run's.

Keys are 64-bit hashes (blake2b) so the table stays two narrow columns; members read back
are checked against their real blocking keys, so even a hash collision adds no pair.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Iterable

import sqlalchemy as sa

from munihub import store
from munihub.resolve.match import blocking_keys


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def block_id(entity_type: str, key: tuple) -> int:
    """The stored id of one blocking key (`match.blocking_keys` gives the tuples)."""
    return _hash("b\x1f" + entity_type + "\x1f" + "\x1f".join(map(str, key)))


def count_id(entity_type: str, name: str, value: str) -> int:
    """The stored id of one counted feature value."""
    return _hash("c\x1f" + entity_type + "\x1f" + name + "\x1f" + value)


def record_keys(entity_type: str, feats: dict, conf: dict) -> set[int]:
    keys = {block_id(entity_type, k) for k in blocking_keys(feats, conf)}
    keys.update(count_id(entity_type, n, feats[n]) for n in conf.get("cap_unless_exact", {}) if feats.get(n))
    return keys


def write_keys(conn, entity_type: str, feats: dict[str, dict], conf: dict,
               old: dict[str, dict] | None = None) -> None:
    """Store the keys of `feats` (ref -> features); `old` holds the features some of those
    refs had before, whose keys are removed first."""
    k = store.match_keys
    if old:
        store.bulk_delete(conn, k, ["key", "ref"],
                          sorted((key, ref) for ref, f in old.items() for key in record_keys(entity_type, f, conf)))
    for part in store.chunks(list(feats), 20_000):
        rows = sorted((key, ref) for ref in part for key in record_keys(entity_type, feats[ref], conf))
        store.bulk_insert(conn, k, ["key", "ref"], rows)


class _Giant:
    """A block too big to score (over `max_block`): only its size is known, as in a full run."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self):  # never scored; reaching here would be a bug
        raise RuntimeError("a giant block was iterated")


class Neighbourhood:
    """One entity type's slot (`match` index shape) filled from the store on demand.

    `new` are the features of new or changed records (they win over stored ones), `old`
    the stored features those changed records had (their old keys no longer count)."""

    def __init__(self, conn, entity_type: str, conf: dict, new: dict[str, dict],
                 old: dict[str, dict]) -> None:
        self.conn, self.etype, self.conf = conn, entity_type, conf
        self.slot = {"blocks": {}, "features": dict(new), "sources": {r: r.split("|", 1)[0] for r in new},
                     "counts": defaultdict(Counter)}
        self.previous: dict[str, str] = {}
        self.members_of: dict[str, list[str]] = defaultdict(list)
        self._new, self._old = new, old
        self._seen: set[str] = set(new)   # refs whose stored features were asked for
        self._placed: set[str] = set()     # refs whose former entity was asked for
        self._entities: set[str] = set()   # entities whose members are loaded
        self._new_in: dict[tuple, list[str]] = defaultdict(list)
        self._delta: Counter = Counter()   # counted values: new records minus their old selves
        counted = conf.get("cap_unless_exact", {})
        for ref, f in new.items():
            for key in blocking_keys(f, conf):
                self._new_in[key].append(ref)
            for name in counted:
                if f.get(name):
                    self._delta[(name, f[name])] += 1
        self._old_in: Counter = Counter()  # blocks the changed records leave
        for f in old.values():
            for key in blocking_keys(f, conf):
                self._old_in[key] += 1
            for name in counted:
                if f.get(name):
                    self._delta[(name, f[name])] -= 1
        self._counted: set[tuple[str, str]] = set()
        self._keys: dict[str, frozenset] = {}

    def fetch(self, refs: set[str], blocks: bool) -> None:
        """The hook for `match.grow_region`: features and former entities of `refs`, and
        with `blocks` every block they are in, with its members' features and counts."""
        self._features(refs)
        self.former(refs)
        if blocks:
            self._blocks(refs)

    def _features(self, refs: Iterable[str]) -> None:
        todo = sorted(r for r in refs if r not in self._seen)
        self._seen.update(todo)
        feats, sources = self.slot["features"], self.slot["sources"]
        for ref, f in _by_ref(self.conn, todo, self.etype):
            feats[ref] = f
            sources[ref] = ref.split("|", 1)[0]

    def former(self, refs: Iterable[str]) -> None:
        """`previous` (ref -> entity id) for `refs`, and every member of those entities."""
        todo = sorted(r for r in refs if r not in self._placed)
        self._placed.update(todo)
        m = store.entity_members
        cols = (m.c.source, m.c.source_key, m.c.entity_id)
        for where in store.key_clauses(m, (tuple(r.split("|", 1)) for r in todo)):
            for s, k, e in self.conn.execute(sa.select(*cols).where(where)):
                self.previous[f"{s}|{k}"] = e
        eids = sorted({self.previous[r] for r in todo if r in self.previous} - self._entities)
        self._entities.update(eids)
        for part in store.chunks(eids):
            for s, k, e in self.conn.execute(sa.select(*cols).where(m.c.entity_id.in_(part))):
                ref = f"{s}|{k}"
                self.members_of[e].append(ref)
                self.previous[ref] = e
                self._placed.add(ref)

    def _stored(self, ids: list[int], refs: bool):
        k = store.match_keys
        for part in store.chunks(ids):
            if refs:
                yield from self.conn.execute(sa.select(k.c.key, k.c.ref).where(k.c.key.in_(part)))
            else:
                yield from self.conn.execute(sa.select(k.c.key, sa.func.count()).where(k.c.key.in_(part))
                                             .group_by(k.c.key))

    def _keys_of(self, ref: str) -> frozenset:
        """A loaded ref's blocking keys, computed once: a member of many blocks is checked
        once per block (459k checks over 170k refs on a 1M-record store)."""
        keys = self._keys.get(ref)
        if keys is None:
            keys = self._keys[ref] = frozenset(blocking_keys(self.slot["features"][ref], self.conf))
        return keys

    def _blocks(self, refs: Iterable[str]) -> None:
        feats, blocks = self.slot["features"], self.slot["blocks"]
        todo = {key for r in refs if r in feats for key in self._keys_of(r) if key not in blocks}
        wanted = {block_id(self.etype, key): key for key in todo}
        limit = self.conf.get("max_block", 2000)
        sizes = dict(self._stored(sorted(wanted), refs=False))
        # A block's size once the changed records left their old blocks and joined new ones;
        # over the cap it is never scored, so its members are not even read.
        for kid, n in sizes.items():
            key = wanted[kid]
            size = n - self._old_in.get(key, 0) + len(self._new_in.get(key, ()))
            if size > limit:
                blocks[key] = _Giant(size)
        members: dict[tuple, list[str]] = defaultdict(list)
        for kid, ref in self._stored(sorted(k for k in sizes if wanted[k] not in blocks), refs=True):
            if ref not in self._new:  # a changed record sits in the blocks of its new features
                members[wanted[kid]].append(ref)
        loaded = [key for key in wanted.values() if key not in blocks]
        self._features(r for key in loaded for r in members.get(key, ()))
        feats = self.slot["features"]
        for key in loaded:  # a 64-bit hash collision must not add a member: check the real keys
            found = [r for r in members.get(key, ()) if r in feats and key in self._keys_of(r)]
            blocks[key] = sorted(found) + self._new_in.get(key, [])
        self._counts()

    def _counts(self) -> None:
        """How often each counted value of the loaded records occurs in the whole type."""
        counted = self.conf.get("cap_unless_exact", {})
        todo = {(n, f[n]) for f in self.slot["features"].values() for n in counted if f.get(n)} - self._counted
        self._counted |= todo
        ids = {count_id(self.etype, n, v): (n, v) for n, v in todo}
        found = dict(self._stored(sorted(ids), refs=False))
        for kid, (n, v) in ids.items():
            self.slot["counts"][n][v] = found.get(kid, 0) + self._delta[(n, v)]


def _by_ref(conn, refs: list[str], entity_type: str):
    """(ref, features) of those refs stored with this type.  The type is checked here, not
    in SQL, so the planner always takes the primary key on ref (not the type's index)."""
    t = store.match_features
    for part in store.chunks(refs):
        for ref, etype, f in conn.execute(sa.select(t.c.ref, t.c.entity_type, t.c.features)
                                          .where(t.c.ref.in_(part))):
            if etype == entity_type:
                yield ref, f


def stored_features(conn, entity_type: str, refs: list[str]) -> dict[str, dict]:
    """The stored features of those refs that have them."""
    return dict(_by_ref(conn, sorted(refs), entity_type))


def taken_ids(conn, ids: Iterable[str]) -> set[str]:
    """Which of `ids` already name a stored entity."""
    e = store.entities
    out: set[str] = set()
    for part in store.chunks(sorted(ids)):
        out.update(conn.execute(sa.select(e.c.entity_id).where(e.c.entity_id.in_(part))).scalars())
    return out
