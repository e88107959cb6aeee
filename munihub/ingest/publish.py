"""Publish: make a checked load visible, in ONE transaction with its cursor and ledger row.

Source rows are upserted by (source, key) and only when their content hash changed; the
cursor moves by compare-and-set on its version, so of two concurrent runs of one source
only the first publishes and the second rolls back whole.  A crash anywhere before commit
leaves the store as it was; the re-run reads the same interval again.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub.store import audit, marks
from munihub import store
from munihub.errors import ConcurrentRunError, StoreError
from munihub.ingest.quarantine import close_reread

CHUNK = 500


def _latest_staged(conn, load_id: str) -> tuple[dict[str, tuple[dict, str]], int]:
    """(key -> (record, hash) with the last staged version of each key winning, rows staged)."""
    rows = conn.execute(sa.select(store.staged_rows.c.source_key, store.staged_rows.c.record,
                                  store.staged_rows.c.record_hash)
                        .where(store.staged_rows.c.load_id == load_id).order_by(store.staged_rows.c.seq))
    latest, total = {}, 0
    for key, record, h in rows:
        latest[key] = (record, h)
        total += 1
    return latest, total


def _existing_hashes(conn, source: str, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    t = store.source_rows
    for chunk in store.chunks(keys, CHUNK):
        found.update(conn.execute(sa.select(t.c.source_key, t.c.record_hash)
                                  .where(t.c.source == source, t.c.source_key.in_(chunk))).all())
    return found


def _advance_cursor(conn, source: str, cursor: Any, expected_version: int | None, load_id: str, now) -> None:
    t = store.cursors
    if expected_version is None:
        try:
            with conn.begin_nested():
                conn.execute(t.insert().values(source=source, cursor=cursor, version=1, load_id=load_id, updated_at=now))
        except sa.exc.IntegrityError as exc:
            raise ConcurrentRunError("another run published this source first", where=source,
                                     hint="nothing was published by this run; the next run continues from there") from exc
        return
    done = conn.execute(t.update().where(t.c.source == source, t.c.version == expected_version)
                        .values(cursor=cursor, version=t.c.version + 1, load_id=load_id, updated_at=now))
    if done.rowcount != 1:
        raise ConcurrentRunError("another run published this source first", where=source,
                                 hint="nothing was published by this run; the next run continues from there")


def publish_staged(engine: sa.Engine, load_id: str, *, entity_type: str, crash_hook=None,
                   raw_key_fields: list[str] | None = None) -> dict[str, int]:
    """Publish load `load_id`: source rows + cursor + ledger in one transaction; returns counts.

    The same transaction closes the open quarantine entries of the records this load read again
    (`raw_key_fields` find those whose key itself failed)."""
    with engine.begin() as conn:
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
        staged, staged_total = _latest_staged(conn, load_id)
        existing = _existing_hashes(conn, source, list(staged))
        new_rows, changed = [], []
        for key, (record, h) in staged.items():
            if key not in existing:
                new_rows.append({"source": source, "source_key": key, "entity_type": entity_type, "record": record,
                                 "record_hash": h, "first_load_id": load_id, "load_id": load_id, "updated_at": now})
            elif existing[key] != h:
                changed.append({"k_source": source, "k_key": key, "record": record, "record_hash": h,
                                "load_id": load_id, "updated_at": now})
        t = store.source_rows
        if new_rows:
            conn.execute(t.insert(), new_rows)
        if crash_hook:
            crash_hook("inside-publish")
        if changed:
            conn.execute(t.update().where(t.c.source == sa.bindparam("k_source"),
                                          t.c.source_key == sa.bindparam("k_key"))
                         .values(record=sa.bindparam("record"), record_hash=sa.bindparam("record_hash"),
                                 load_id=sa.bindparam("load_id"), updated_at=sa.bindparam("updated_at")),
                         changed)
        _advance_cursor(conn, source, load["cursor_after"] if load["cursor_after"] is not None else load["cursor_before"],
                        load["cursor_version"], load_id, now)
        # An earlier copy of a key repeated in the same load adds nothing: it counts as unchanged,
        # so rows_in = new + changed + unchanged + quarantined holds for every load.
        counts = {"rows_new": len(new_rows), "rows_changed": len(changed),
                  "rows_unchanged": staged_total - len(new_rows) - len(changed)}
        conn.execute(store.loads.update().where(store.loads.c.load_id == load_id)
                     .values(status="published", finished_at=now, **counts))
        # The sync's audit entry commits with its data, or neither does.
        audit.append(conn, actor="pipeline", action="sync", target=source, outcome="published",
                     detail={"load_id": load_id, "rows_in": load["rows_in"],
                             "rows_quarantined": load["rows_quarantined"], **counts})
        close_reread(conn, source, load_id, raw_key_fields)  # one bad row is one open entry
        conn.execute(store.staged_rows.delete().where(store.staged_rows.c.load_id == load_id))
    return counts
