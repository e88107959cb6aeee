"""Publish: make a checked load visible, in ONE transaction with its cursor and ledger row.

Source rows are upserted by (source, key) and only when their content hash changed; the
cursor moves by compare-and-set on its version, so of two concurrent runs of one source
only the first publishes and the second rolls back whole.  A crash anywhere before commit
leaves the store as it was; the re-run reads the same interval again.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from munihub.store import audit, marks
from munihub import store
from munihub.errors import ConcurrentRunError, StoreError
from munihub.ingest.identity import settle, signature
from munihub.ingest.loads import staged_keys_distinct
from munihub.ingest.mapping import KEYLESS
from munihub.ingest.quarantine import close_reread, close_set_aside_reread


def _upsert_for(conn):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _latest(load_id: str, distinct: bool = False):
    """The staged rows of a load with the last staged version of each key winning (a repeated
    key's earlier copies add nothing), selected in SQL: nothing is read back into Python.
    A window over one scan of the load: `seq IN (SELECT max(seq) … GROUP BY key)` was planned
    as a nested loop on a load the statistics had not seen, growing with the square of the load
    (1,000 of 100k rows changed: the merge's count took 128 ms, with the window 4 ms).
    With `distinct` (`loads.staged_keys_distinct`) every staged row wins: the load is read as it is, without
    the window's sort of whole records by key text (a 200k-row merge: 1.5-5 s less at load 3-4)."""
    s = store.staged_rows
    if distinct:
        return sa.select(s.c.source_key, s.c.record, s.c.record_hash).where(s.c.load_id == load_id)
    ranked = sa.select(s.c.source_key, s.c.record, s.c.record_hash,
                       sa.func.row_number().over(partition_by=s.c.source_key, order_by=s.c.seq.desc()).label("rank")
                       ).where(s.c.load_id == load_id).subquery()
    return sa.select(ranked.c.source_key, ranked.c.record, ranked.c.record_hash).where(ranked.c.rank == 1)


# What a publish writes of each staged row (`staged_as_source_rows`), in source_rows' order.
SOURCE_ROW_COLUMNS = ["source", "source_key", "entity_type", "record", "record_hash", "first_load_id", "load_id",
                      "updated_at", "keyed_by"]


def staged_as_source_rows(staged, source: str, load_id: str, entity_type: str, now, keyed_by: str | None) -> sa.Select:
    """`SOURCE_ROW_COLUMNS` of the rows of `staged` (staged_rows or a selection of its
    source_key, record and record_hash), for an INSERT … SELECT into source_rows: the merge's
    and `publish_ahead`'s, batch by batch."""
    t = store.source_rows
    return sa.select(sa.literal(source, t.c.source.type), staged.c.source_key,
                     sa.literal(entity_type, t.c.entity_type.type), staged.c.record, staged.c.record_hash,
                     sa.literal(load_id, t.c.load_id.type), sa.literal(load_id, t.c.load_id.type),
                     sa.literal(now, t.c.updated_at.type), sa.literal(keyed_by, t.c.keyed_by.type))


def has_rows(conn, source: str) -> bool:
    """Whether any row of `source` is published (one index probe)."""
    t = store.source_rows
    return conn.execute(sa.select(t.c.source_key).where(t.c.source == source).limit(1)).first() is not None


def _merge(conn, source: str, load_id: str, entity_type: str, now, keyed_by: str | None = None,
           staged_total: int = 0) -> tuple[dict[str, int], bool]:
    """Upsert the load's rows into source_rows as ONE statement, changing only rows whose hash
    differs: an unchanged row costs a hash comparison in SQL.  Replaced a Python loop of key
    look-ups, per-row inserts and one UPDATE per changed row (a quarter of a full sync's time).
    Returns the counts and whether a key may repeat in the load (`_keep_earlier`)."""
    t = store.source_rows
    distinct = staged_keys_distinct(conn, load_id)
    latest = _latest(load_id, distinct).subquery()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # the dedup's sort of a 200k-row load spilled 86 MB to disk at the default 4 MB
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    else:
        old = t.alias("old")
        found = conn.execute(
            sa.select(sa.func.count(), sa.func.count(old.c.source_key),
                      sa.func.sum(sa.case((old.c.record_hash != latest.c.record_hash, 1), else_=0)))
            .select_from(latest.outerjoin(old, sa.and_(old.c.source == source,
                                                       old.c.source_key == latest.c.source_key)))
        ).first()
    insert = _upsert_for(conn)
    rows = staged_as_source_rows(latest, source, load_id, entity_type, now, keyed_by
                                 ).where(sa.true())  # SQLite needs a WHERE before ON CONFLICT to parse INSERT … SELECT
    if postgres and distinct and not has_rows(conn, source):
        # A source's first load (distinct keys, no row of it yet): nothing to conflict with, so
        # a plain INSERT, counted by its rowcount, without the conflict arbiter and the RETURNING
        # the merge counts itself with (1M rows: 8.0 → 6.9 s).  A run of the same source that
        # published meanwhile makes a key collide: that run was first.
        try:
            new = conn.execute(sa.insert(t).from_select(SOURCE_ROW_COLUMNS, rows)).rowcount
        except sa.exc.IntegrityError as exc:
            raise _published_first(source) from exc
        return {"rows_new": new, "rows_changed": 0, "rows_unchanged": staged_total - new}, False
    stmt = insert(t).from_select(SOURCE_ROW_COLUMNS, rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.source, t.c.source_key],
        set_={"record": stmt.excluded.record, "record_hash": stmt.excluded.record_hash,
              "load_id": stmt.excluded.load_id, "updated_at": stmt.excluded.updated_at,
              "keyed_by": stmt.excluded.keyed_by},
        where=t.c.record_hash != stmt.excluded.record_hash)
    if postgres:
        # The merge counts what it wrote itself: a row it inserted carries this load as its
        # first load, a row it updated an earlier one (the count before it, a join of the
        # load to every row it names, cost a second pass over both: 1 of 7 s of a publish).
        merged = stmt.returning(t.c.first_load_id).cte("merged")
        new, written = conn.execute(sa.select(
            sa.func.count().filter(merged.c.first_load_id == load_id), sa.func.count()).select_from(merged)).first()
        new, changed = int(new), int(written) - int(new)
    else:
        conn.execute(stmt)
        new, changed = found[0] - found[1], int(found[2] or 0)
    # An earlier copy of a key repeated in the same load adds nothing: it counts as unchanged,
    # so rows_in = new + changed + unchanged + quarantined holds for every load.
    # SQLite counted the load's distinct keys (`found`): fewer than its rows, a key repeats
    repeated = not distinct if postgres else found[0] < staged_total
    return {"rows_new": new, "rows_changed": changed, "rows_unchanged": staged_total - new - changed}, repeated


def _keep_earlier(conn, source: str, load_id: str, entity_type: str, now, repeated: bool,
                  moved: bool) -> dict[str, int]:
    """Keep the load's earlier copies of a key it repeated with other values in
    `earlier_copies`, for person matching alone (the merge published the key's last copy),
    after dropping the kept copies of every key the load published again that it does not
    repeat the same way; with `moved` (identity settled rows), also those whose key no
    published row holds any more.  A copy loses when its hash differs from the key's last
    copy's (the row the merge published).  A load without repeated keys
    from a source that never had any costs one index probe.  The losing copies are few and
    read once (a 200k-row load repeating 1% of its keys, published again: the drop and the
    insert each computing them cost 0.55 s, read once 0.2 s)."""
    e, s, r = store.earlier_copies, store.staged_rows, store.source_rows
    # (the citizens of keyless rows, `_keep_held`, belong to no published key: never dropped here)
    had = set(conn.execute(sa.select(e.c.source_key, e.c.record_hash).where(
        e.c.source == source, e.c.source_key != KEYLESS)).all())
    losers = []
    if repeated:
        if conn.dialect.name == "postgresql":
            # The key's winning hash by a window over the load's keys and hashes, not by a join
            # to source_rows: the merge has just written those rows, and a join planned from
            # statistics that have not seen them was a nested loop over both (a 200k-row load:
            # 13 minutes).  SQLite looks rows up by their primary key whatever it knows, and
            # the join is cheaper there than the window's sort (0.2 against 0.35 s).
            ranked = sa.select(s.c.source_key, s.c.record_hash, s.c.seq,
                               sa.func.first_value(s.c.record_hash).over(partition_by=s.c.source_key,
                                                                         order_by=s.c.seq.desc()).label("winner")
                               ).where(s.c.load_id == load_id).subquery()
            lost = sa.select(ranked.c.source_key, ranked.c.record_hash, ranked.c.seq
                             ).where(ranked.c.record_hash != ranked.c.winner).subquery()
        else:
            lost = (sa.select(s.c.source_key, s.c.record_hash, s.c.seq)
                    .join_from(s, r, sa.and_(r.c.source == source, r.c.source_key == s.c.source_key))
                    .where(s.c.load_id == load_id, s.c.record_hash != r.c.record_hash)).subquery()
        # one copy of each content (its first), whole records read for those only
        losing = sa.select(lost.c.source_key, lost.c.record_hash, lost.c.seq,
                           sa.func.row_number().over(partition_by=(lost.c.source_key, lost.c.record_hash),
                                                     order_by=lost.c.seq).label("copy")).subquery()
        losers = conn.execute(sa.select(losing.c.source_key, losing.c.record_hash, s.c.record, s.c.position)
                              .join_from(losing, s, sa.and_(s.c.load_id == load_id, s.c.seq == losing.c.seq))
                              .where(losing.c.copy == 1)).all()
    keep = {(k, h) for k, h, _, _ in losers}
    dropped = 0
    if had:
        keys = sorted({k for k, _ in had})
        if len(keys) <= 5_000:  # which of the source's few copied keys the load published again
            again = {k for part in store.chunks(keys) for k in conn.execute(
                sa.select(s.c.source_key).where(s.c.load_id == load_id, s.c.source_key.in_(part)).distinct()).scalars()}
        else:
            again = set(conn.execute(sa.select(e.c.source_key).where(e.c.source == source, e.c.source_key.in_(
                sa.select(s.c.source_key).where(s.c.load_id == load_id))).distinct()).scalars())
        gone = {pair for pair in had if pair[0] in again and pair not in keep}
        if moved:  # rekeyed or retired rows: their former keys' copies belong to no row now
            held = {k for where in store.key_clauses(r, ((source, k) for k in keys))
                    for k in conn.execute(sa.select(r.c.source_key).where(where)).scalars()}
            gone |= {pair for pair in had if pair[0] not in held}
        for part in store.chunks(sorted(gone)):
            dropped += conn.execute(e.delete().where(
                e.c.source == source, sa.tuple_(e.c.source_key, e.c.record_hash).in_(part))).rowcount
    new = [{"source": source, "source_key": k, "record_hash": h, "entity_type": entity_type, "record": rec,
            "position": position, "load_id": load_id, "updated_at": now}
           for k, h, rec, position in losers if (k, h) not in had]
    if new:
        conn.execute(e.insert(), new)
    return {"copies_kept": len(new), "copies_dropped": dropped}


def _keep_held(conn, source: str, load_id: str, entity_type: str, now, held) -> int:
    """Keep in `earlier_copies`, for person matching alone, the citizen of each row of the load
    quarantined only for a value its contract requires (`held`: `stage.held_record` of the
    contract, (raw, stored reasons) -> (key, mapped record) or None), under the row's key
    (`mapping.KEYLESS` for an empty one) and its content hash: the row itself waits in
    quarantine as before, and the same row read again adds nothing.  A copy under a key is
    dropped as any earlier copy is, once a load publishes that key again (`_keep_earlier`):
    the key's own row names the citizen then.  Its rows are read back from the quarantine,
    as a replay reads them, and mapped again only when their stored reasons qualify; in the
    publish's transaction, so they appear with the load, stamped as its rows are, and a
    held or failed load keeps none.  Returns how many were added."""
    q, e = store.quarantine, store.earlier_copies
    rows = {}
    for position, raw, reasons in conn.execute(sa.select(q.c.position, q.c.raw, q.c.reasons).where(
            q.c.load_id == load_id, q.c.source == source).order_by(q.c.id)):
        found = held(raw, reasons)
        if found:
            key, record = found
            digest = store.record_hash(record)  # hashed and stored as staging does a record
            rows.setdefault((key, digest), {"source": source, "source_key": key, "record_hash": digest,
                                            "entity_type": entity_type,
                                            "record": json.loads(store.encode_json(record)),
                                            "position": position, "load_id": load_id, "updated_at": now})
    if not rows:
        return 0
    had = {(k, h) for part in store.chunks(sorted(rows)) for k, h in conn.execute(
        sa.select(e.c.source_key, e.c.record_hash).where(
            e.c.source == source, sa.tuple_(e.c.source_key, e.c.record_hash).in_(part)))}
    new = [r for pair, r in rows.items() if pair not in had]
    if new:
        conn.execute(e.insert(), new)
    return len(new)


def _published_first(source: str) -> ConcurrentRunError:
    """The refusal of a publish that another run of `source` overtook (a key or the cursor)."""
    return ConcurrentRunError("another run published this source first", where=source,
                              hint="nothing was published by this run; the next run continues from there")


def _advance_cursor(conn, source: str, cursor: Any, expected_version: int | None, load_id: str, now) -> None:
    t = store.cursors
    if expected_version is None:
        try:
            with conn.begin_nested():
                conn.execute(t.insert().values(source=source, cursor=cursor, version=1, load_id=load_id, updated_at=now))
        except sa.exc.IntegrityError as exc:
            raise _published_first(source) from exc
        return
    done = conn.execute(t.update().where(t.c.source == source, t.c.version == expected_version)
                        .values(cursor=cursor, version=t.c.version + 1, load_id=load_id, updated_at=now))
    if done.rowcount != 1:
        raise _published_first(source)


# source_rows' columns a publish analyzes: not record_hash, compared only for inequality (the
# merge's changed rows, resolution's unresolved ones), where a unique column's statistics say
# nothing; sampling its 64-character values was a third of the ANALYZE (200k rows: 0.24 →
# 0.16 s).
SOURCE_ROWS_STATISTICS = [c.name for c in store.source_rows.columns if c.name != "record_hash"]


def _drop_staged(conn, load_id: str, staged: int) -> bool:
    """Remove the load's `staged` rows inside its publish; True when staged_rows was emptied by
    TRUNCATE (PostgreSQL, a load large enough that a VACUUM would follow, its rows all the
    table holds and no other run holding it: `LOCK … NOWAIT` proves it), so nothing is left
    to vacuum.  A 1M-row load's DELETE and VACUUM took 0.33 + 0.61 s; the TRUNCATE commits or
    rolls back with the publish.  Otherwise (a small load, whose DELETE is cheaper than a new
    file; another sync staging or reading beside it; SQLite) the rows are deleted as before."""
    from munihub.store import stats

    s = store.staged_rows
    if conn.dialect.name == "postgresql" and staged >= stats.RECLAIM_MIN and not _others_staged(conn, load_id):
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("LOCK TABLE staged_rows IN ACCESS EXCLUSIVE MODE NOWAIT")
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "pgcode", None) != "55P03":  # lock_not_available: another run has it open
                raise
        else:
            if not _others_staged(conn, load_id):  # asked again under the lock: nobody can add rows now
                conn.exec_driver_sql("TRUNCATE staged_rows")
                return True
    conn.execute(s.delete().where(s.c.load_id == load_id))
    return False


def _others_staged(conn, load_id: str) -> bool:
    """Whether staged_rows holds rows of another load: two range look-ups in its key's index."""
    s = store.staged_rows
    return any(conn.execute(sa.select(sa.literal(1)).where(other).limit(1)).first() is not None
               for other in (s.c.load_id < load_id, s.c.load_id > load_id))


@contextlib.contextmanager
def _committing(conn):
    """A connection whose transaction is open (`publish_ahead`'s T): committed when the block
    ends, rolled back if it raises, closed either way (as `engine.begin()` does)."""
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def publish_staged(engine: sa.Engine, load_id: str, *, entity_type: str, raw_key_fields: list[str] | None = None,
                   identity: dict | None = None, crash_hook=None, early=None,
                   held: Callable[[Any, list], tuple[str, dict] | None] | None = None) -> dict[str, int]:
    """Publish load `load_id`: source rows + cursor + ledger + closing the quarantine entries of
    records it read again (`quarantine.close_reread`) in one transaction; returns counts.
    With the contract's `identity` (`identity.identity_of`), rows keyed by a former identity
    whose records this load read again are moved first, in the same transaction.
    With `early` (`publish_ahead.PublishAhead`) holding every staged row of the load already
    inserted into source_rows, the publish runs in its transaction without the merge.
    With `held` (`stage.held_record` of the contract), the citizens of its rows quarantined
    only for a value the contract requires (an empty key, an empty or unreadable required
    field) are kept for matching (`_keep_held`)."""
    ahead = early.take(engine, load_id) if early is not None else None
    with engine.begin() if ahead is None else _committing(ahead) as conn:
        now = marks.stamp(conn, store.source_rows)  # commit-ordered: see munihub.store.marks
        load = conn.execute(sa.select(store.loads).where(store.loads.c.load_id == load_id)
                            .with_for_update()).mappings().first()
        if load is None:
            raise StoreError(f"no load {load_id!r}", hint="run extract first")
        if load["status"] == "published":
            return {"rows_new": load["rows_new"], "rows_changed": load["rows_changed"],
                    "rows_unchanged": load["rows_unchanged"], "already": 1}
        if load["status"] not in {"staged", "checked"}:
            raise StoreError(f"load {load_id} is {load['status']}, not ready to publish", where=load["source"])
        source = load["source"]
        if ahead is not None:  # T settled the identity when it opened, and counted the rows it inserted
            moved, staged = early.moved, early.inserted
        else:
            moved = settle(conn, source, load_id, identity, now) if identity is not None else {}
            if crash_hook and any(moved.values()):
                crash_hook("after-rekey")
            s = store.staged_rows
            staged = conn.execute(sa.select(sa.func.count()).select_from(s).where(s.c.load_id == load_id)).scalar()
        if staged != (load["rows_in"] or 0) - (load["rows_quarantined"] or 0):
            # staged_rows is unlogged on PostgreSQL (migration 0011): a server crash or a
            # failover between staging and publish empties it.  Publishing what is left would
            # move the cursor past records never published; refused, the load is read again.
            raise StoreError(f"load {load_id} has {staged} staged rows but its ledger counts "
                             f"{load['rows_in'] - load['rows_quarantined']}", where=source,
                             hint="the staged rows were lost (a database restart?); run the sync again "
                                  "to read the same records again")
        if ahead is not None:  # every staged row inserted as staged, one each: all new, no key repeated
            counts, repeated = {"rows_new": staged, "rows_changed": 0, "rows_unchanged": 0}, False
        else:
            counts, repeated = _merge(conn, source, load_id, entity_type, now,
                                      signature(identity) if identity else None, staged_total=staged)
        copies = _keep_earlier(conn, source, load_id, entity_type, now, repeated, any(moved.values()))
        kept = _keep_held(conn, source, load_id, entity_type, now, held) \
            if held is not None and load["rows_quarantined"] else 0
        close_reread(conn, source, load_id, raw_key_fields)  # issue 19: one open entry per bad row
        aside = close_set_aside_reread(conn, source, load_id)  # and one per value set aside
        if crash_hook:
            crash_hook("inside-publish")
        _advance_cursor(conn, source, load["cursor_after"] if load["cursor_after"] is not None else load["cursor_before"],
                        load["cursor_version"], load_id, now)
        conn.execute(store.loads.update().where(store.loads.c.load_id == load_id)
                     .values(status="published", finished_at=now, **counts, **moved, **copies))
        # The sync's audit entry commits with its data, or neither does.
        audit.append(conn, actor="pipeline", action="sync", target=source, outcome="published",
                     detail={"load_id": load_id, "rows_in": load["rows_in"],
                             "rows_quarantined": load["rows_quarantined"], **counts,
                             **{k: v for k, v in {**moved, **copies, "citizens_kept": kept, **aside}.items() if v}})
        emptied = _drop_staged(conn, load_id, staged)
    store.keep_statistics(engine, store.source_rows, counts["rows_new"] + counts["rows_changed"],
                          columns=SOURCE_ROWS_STATISTICS)
    if not emptied:
        store.reclaim(engine, store.staged_rows, staged)  # the staged rows deleted above
    store.reclaim(engine, store.source_rows, counts["rows_changed"])  # an update leaves the old version dead
    return {**counts, **{k: v for k, v in {**moved, **copies, "citizens_kept": kept}.items() if v}}
