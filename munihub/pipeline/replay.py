"""Replay after a contract or mapping fix: quarantined records (map, validate, check, publish)
and values set aside (read the value again and, if it reads now, put it into its published row)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings
from munihub.contracts import contract_for
from munihub.ingest.connector import Batch
from munihub.ingest.loads import acquire_lease, begin_load, mark_staged, release_lease
from munihub.ingest.quarantine import close_entries, close_set_aside
from munihub.ingest.stage import stage_batches
from munihub.ingest.validate import errors_of
from munihub.pipeline.sync import check_load, publish_load
from munihub.store import engine_for


def replay(settings: Settings, source: str, ids: list[int] | None = None, actor: str = "steward") -> dict[str, Any]:
    """Re-run open quarantined records of `source` through mapping, validation, checks and publish.

    Meant for after a contract or mapping fix.  Records that now pass are published in a new
    load; those still failing are quarantined again under that load with today's reasons.  The
    source's cursor does not move: a replay adds nothing the source has not already sent.
    """
    contract = contract_for(source, settings)
    engine = engine_for(settings)
    q = store.quarantine
    stmt = sa.select(q.c.id, q.c.raw, q.c.position).where(q.c.source == contract.id, q.c.status == "open")
    if ids:
        stmt = stmt.where(q.c.id.in_(ids))
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(q.c.id)).all()
    if not rows:
        return {"source": contract.id, "replayed": 0, "published": 0, "still_quarantined": 0}
    acquire_lease(engine, contract.id, contract.timeout_seconds)
    load_id, cursor = begin_load(engine, contract, interval_start="replay", keep_cursor=True)
    try:
        batch = Batch(records=[r.raw for r in rows], cursor=cursor, where="replay",
                      positions=[f"replay of quarantine #{r.id} ({r.position})" for r in rows])
        counts = stage_batches(engine, contract, load_id, [batch], errors_of(contract, settings))
        mark_staged(engine, load_id)
        check_load(load_id, settings)
        result = publish_load(load_id, settings)
    finally:
        release_lease(engine, contract.id)
    close_entries(engine, [r.id for r in rows], "replayed", actor, f"replayed in load {load_id}", load_id)
    return {"source": contract.id, "load_id": load_id, "replayed": len(rows),
            "published": counts.staged, "still_quarantined": counts.quarantined,
            "rows_new": result["rows_new"], "rows_changed": result["rows_changed"]}


def _raw_of(f, value) -> dict:
    """The raw record a field reads `value` from (set aside as written: a dict for several fields)."""
    if f.sources:
        return dict(value or {})
    raw: dict = {}
    node, parts = raw, (f.source or "").split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return raw


def replay_set_aside(settings: Settings, source: str, ids: list[int] | None = None,
                     actor: str = "steward") -> dict[str, Any]:
    """Read open set-aside values of `source` again with today's contract; each that reads now
    is put into its published row (content hash and stamp renewed, so resolution sees it) and
    closed as replayed, in one transaction.  The rest stay open with their reasons."""
    from munihub.ingest.mapping import map_field, phone_field
    from munihub.persian.transforms import PHONE_TRANSFORMS
    from munihub.store import marks

    contract = contract_for(source, settings)
    check = errors_of(contract, settings)
    t, sr = store.set_aside, store.source_rows
    stmt = sa.select(t.c.id, t.c.source_key, t.c.field, t.c.value).where(t.c.source == contract.id,
                                                                           t.c.status == "open")
    if ids:
        stmt = stmt.where(t.c.id.in_(ids))
    fixed, still = 0, 0
    with engine_for(settings).begin() as conn:
        now = marks.stamp(conn, sr)
        for row in conn.execute(stmt.order_by(t.c.id)).all():
            f = contract.field(row.field)
            value, reason = map_field(f, _raw_of(f, row.value)) if f else (None, "field gone")
            current = conn.execute(sa.select(sr.c.record).where(sr.c.source == contract.id,
                                                                sr.c.source_key == row.source_key)).scalar()
            if reason or value is None or current is None:
                still += 1
                continue
            name = phone_field(f.name, value) if f.transform and \
                f.transform.partition(":")[0] in PHONE_TRANSFORMS else f.name
            record = _with(current, name, value)
            if record is None or check(record):  # a different value is there now, or the schema refuses it
                still += 1
                continue
            conn.execute(sr.update().where(sr.c.source == contract.id, sr.c.source_key == row.source_key)
                         .values(record=record, record_hash=store.record_hash(record), updated_at=now))
            close_set_aside(conn, [row.id], "replayed", actor, f"read as {name} with contract {contract.version}")
            fixed += 1
    return {"source": contract.id, "replayed": fixed, "still_set_aside": still}


def _with(record: dict, name: str, value: Any) -> dict | None:
    """A copy of `record` with `value` at `name`, or None if another value is already there."""
    import copy

    out = copy.deepcopy(record)
    node, parts = out, name.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if node.get(parts[-1]) not in (None, value):
        return None
    node[parts[-1]] = value
    return out
