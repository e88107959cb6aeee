"""Source record identity: which fields key a source's published rows, and moving the rows
keyed the former way when a contract starts naming its `recordId` (or changes it).

Without this, a source whose contract changed its identity would hold each record twice: the
row published under the former key (say the national id) beside the row the next load
publishes under the record id.  So the store remembers the identity each source's rows are
keyed by (`source_identity`, and `source_rows.keyed_by` per row).  While rows keyed the former
way remain, staging also gives every record its key under the former identity
(`staged_rows.former_key`) and the publish moves, in its own transaction, each former-key row
whose record it reads again:

- rekeyed: the row takes the record's new key (its lineage, first load and resolution
  membership kept; open set-aside values and steward decisions follow it), then the merge
  compares contents as for any row, so an unchanged record counts as unchanged;
- retired: when no single new key can inherit it (the former key had merged several records,
  or the new key is already published), the row moves whole to `retired_rows`, naming the
  keys its record now lives under.

A row whose record is never read again (an incremental source) stays where it is: it is no
duplicate, and it moves the day its record is read.  Nothing is deleted: every row is in
`source_rows` or `retired_rows`.  Rows published before the store recorded identities
(migration 0009) are checked against their own records: when every sampled key is made of
the record's own fields, those fields were the identity.  Only the most recent former
identity is followed: rows keyed two identity changes back stay (and stay counted in
`source_identity.former_rows`).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.contracts import Contract
from munihub.ingest.mapping import KEY_SEPARATOR, key_of

MENTION = "#person"  # the suffix of a row's person mention in resolution (munihub.resolve.records)
SAMPLE = 200  # rows read to infer the identity of rows published before migration 0009


def identity_of(contract: Contract) -> dict[str, Any]:
    """The identity a contract keys its rows by: its record id, else its primary key."""
    if contract.record_id:
        return {"by": "recordId", "fields": list(contract.record_id)}
    return {"by": "primaryKey", "fields": list(contract.key)}


def signature(identity: dict[str, Any]) -> str:
    """The identity as `source_rows.keyed_by` keeps it: `recordId:licence_no`."""
    return f"{identity['by']}:{'+'.join(identity['fields'])}"


def key_under(identity: dict[str, Any], record: dict, raw: dict) -> str | None:
    """A record's key under `identity` (None if a part is missing), as `mapping.source_key` makes it."""
    if identity["by"] == "recordId":
        return key_of(identity["fields"], raw, from_source=True)
    return key_of(identity["fields"], record, from_source=False)


def _flat(record: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in record.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{name}."))
        elif value is not None:
            out[f"{prefix}{name}"] = str(value)
    return out


def infer_identity(rows: list[tuple[str, dict]]) -> dict[str, Any] | None:
    """The primary key that made these (key, record) rows' keys from the records' own fields,
    or None when no key is made of its record's fields (keyed by a record id the record lacks).
    Rows no field explains are passed over: a store can hold rows of both identities (the
    contract switched before the store recorded identities), and a row is only ever moved when
    a record read again claims it by its former key, so a looser guess moves nothing wrongly."""
    votes: dict[int, list[dict[str, int]]] = {}
    for key, record in rows:
        flat = _flat(record)
        here = [[f for f, v in flat.items() if v == part] for part in key.split(KEY_SEPARATOR)]
        if not all(here):
            continue
        tally = votes.setdefault(len(here), [{} for _ in here])
        for position, fields in zip(tally, here):
            for f in fields:
                position[f] = position.get(f, 0) + 1
    if not votes:
        return None
    parts = max(votes, key=lambda n: (sum(votes[n][0].values()), -n))
    return {"by": "primaryKey", "fields": [min(p, key=lambda f: (-p[f], f)) for p in votes[parts]]}


def _recorded(conn, source: str, current: dict[str, Any]) -> tuple[bool, dict | None]:
    """(whether the store records this source's identity, the former identity to follow)."""
    t = store.source_identity
    row = conn.execute(sa.select(t.c.identity, t.c.former).where(t.c.source == source)).first()
    if row is not None:
        return True, row.identity if row.identity != current else row.former
    r = store.source_rows
    sample = conn.execute(sa.select(r.c.source_key, r.c.record).where(r.c.source == source, r.c.keyed_by.is_(None))
                          .order_by(r.c.source_key).limit(SAMPLE)).all()
    inferred = infer_identity([tuple(x) for x in sample]) if sample else None
    return False, inferred if inferred != current else None


def former_identity(engine: sa.Engine, contract: Contract) -> dict[str, Any] | None:
    """The identity whose keys staging must also give this load's records (rows keyed by it
    remain in the store), or None: the common case, costing one primary-key look-up."""
    with engine.connect() as conn:
        return _recorded(conn, contract.id, identity_of(contract))[1]


def settle(conn, source: str, load_id: str, identity: dict[str, Any], now) -> dict[str, int]:
    """Inside the publish transaction, before the merge: move the former-key rows whose records
    this load read again (see the module doc), mark the rows this load keys as keyed by
    `identity`, and record the source's identity.  Returns rows_rekeyed and rows_retired."""
    moved = {"rows_rekeyed": 0, "rows_retired": 0}
    known, former = _recorded(conn, source, identity)
    if known and former is None:
        return moved  # the common case: nothing keyed another way remains
    current = signature(identity)
    remaining = 0
    if former is not None:
        moved = _move(conn, source, load_id, current, now)
        r, s = store.source_rows, store.staged_rows
        conn.execute(r.update().where(
            r.c.source == source, sa.or_(r.c.keyed_by.is_(None), r.c.keyed_by != current),
            r.c.source_key.in_(sa.select(s.c.source_key).where(s.c.load_id == load_id).scalar_subquery()))
            .values(keyed_by=current))
        # Counted before the merge: rows it inserts are keyed by `identity` anyway.
        remaining = conn.execute(sa.select(sa.func.count()).select_from(r).where(
            r.c.source == source, sa.or_(r.c.keyed_by.is_(None), r.c.keyed_by != current))).scalar()
    values = {"identity": identity, "former": former if remaining else None, "former_rows": remaining,
              "load_id": load_id, "updated_at": now}
    t = store.source_identity
    if known:
        conn.execute(t.update().where(t.c.source == source).values(**values))
    else:
        conn.execute(t.insert().values(source=source, **values))
    return moved


def _claims(conn, source: str, load_id: str) -> dict[str, dict[str, str]]:
    """former key -> {new key: content hash} of this load's records (the last copy of a key wins)."""
    s = store.staged_rows
    latest: dict[str, tuple[int, str | None, str]] = {}
    for key, former, digest, seq in conn.execute(sa.select(s.c.source_key, s.c.former_key, s.c.record_hash, s.c.seq)
                                                 .where(s.c.load_id == load_id, s.c.former_key.is_not(None))):
        if key not in latest or seq > latest[key][0]:
            latest[key] = (seq, former, digest)
    claims: dict[str, dict[str, str]] = {}
    for key, (_, former, digest) in latest.items():
        if former != key:
            claims.setdefault(former, {})[key] = digest
    return claims


def _also_new(conn, load_id: str, keys: list[str]) -> set[str]:
    """Which of `keys` this load also publishes as a record's new key."""
    s, out = store.staged_rows, set()
    for part in store.chunks(keys):
        out |= set(conn.execute(sa.select(s.c.source_key).where(s.c.load_id == load_id, s.c.source_key.in_(part))
                                .distinct()).scalars())
    return out


def _move(conn, source: str, load_id: str, current: str, now) -> dict[str, int]:
    r = store.source_rows
    claims = _claims(conn, source, load_id)
    old_rows = []
    for part in store.chunks(sorted(claims)):
        old_rows += conn.execute(sa.select(r).where(r.c.source == source, r.c.source_key.in_(part), sa.or_(
            r.c.keyed_by.is_(None), r.c.keyed_by != current))).mappings().all()
    # A former key that is also a new key of this load: a row keyed by the former identity is
    # retired (the merge puts the other record there); one keyed before identities were
    # recorded (NULL) may already be that record's own row, and is left to the merge.
    reused = _also_new(conn, load_id, [row["source_key"] for row in old_rows])
    old_rows = [row for row in old_rows if row["source_key"] not in reused or row["keyed_by"] is not None]
    wanted = sorted({k for row in old_rows for k in claims[row["source_key"]]})
    taken = set()
    for part in store.chunks(wanted):
        taken |= set(conn.execute(sa.select(r.c.source_key).where(r.c.source == source, r.c.source_key.in_(part)))
                     .scalars())
    rekey, retire = [], []
    for row in old_rows:
        mine = claims[row["source_key"]]
        free = [k for k in sorted(mine) if k not in taken]
        same = [k for k in free if mine[k] == row["record_hash"]]
        if row["source_key"] in reused:
            retire.append({**row, "replaced_by": sorted(mine), "retired_load_id": load_id, "retired_at": now,
                           "reason": "identity changed: its former key is another record's new key"})
        elif len(mine) == 1 and free:
            rekey.append((row["source_key"], free[0]))
        elif len(same) == 1:  # one of the records it had merged is the one it holds
            rekey.append((row["source_key"], same[0]))
        else:
            retire.append({**row, "replaced_by": sorted(mine), "retired_load_id": load_id, "retired_at": now,
                           "reason": "identity changed: the record is published under its new key"
                                     + (" beside a row already holding it" if len(mine) == 1 else
                                        "s, which one key had merged")})
    if rekey:
        _rekey(conn, source, rekey, current, now)
    if retire:
        t = store.retired_rows
        conn.execute(t.insert(), [{c.name: row.get(c.name) for c in t.columns} for row in retire])
        for part in store.chunks([row["source_key"] for row in retire]):
            conn.execute(r.delete().where(r.c.source == source, r.c.source_key.in_(part)))
    return {"rows_rekeyed": len(rekey), "rows_retired": len(retire)}


def _rekey(conn, source: str, pairs: list[tuple[str, str]], current: str, now) -> None:
    """Give rows their new keys, and carry what refers to them: resolution membership (so entity
    ids stay), open set-aside values (so they can be replayed) and steward decisions."""
    r, m, a, d = store.source_rows, store.entity_members, store.set_aside, store.match_decisions
    # A row's person mention is resolved as `key#person` (munihub.resolve.records.MENTION).
    both = pairs + [(old + MENTION, new + MENTION) for old, new in pairs]
    store.bulk_rekey(conn, r, source, pairs, keyed_by=current, updated_at=now)
    store.bulk_rekey(conn, m, source, both)
    store.bulk_rekey(conn, a, source, pairs, match={"status": "open"})
    refs = {f"{source}|{old}": f"{source}|{new}" for old, new in both}
    decided = []
    for part in store.chunks(sorted(refs)):
        decided += conn.execute(sa.select(d).where(sa.or_(d.c.left_ref.in_(part), d.c.right_ref.in_(part))))\
            .mappings().all()
    for row in {(x["left_ref"], x["right_ref"]): x for x in decided}.values():
        left, right = sorted((refs.get(row["left_ref"], row["left_ref"]), refs.get(row["right_ref"], row["right_ref"])))
        conn.execute(d.delete().where(d.c.left_ref == row["left_ref"], d.c.right_ref == row["right_ref"]))
        conn.execute(d.insert().values(**{**row, "left_ref": left, "right_ref": right}))
