"""Quarantine: list, show and dismiss rejected records (reasons kept, raw payload masked for display),
and the same for values set aside (a field's bad value kept out of a published record).

Replaying them after a fix composes several stages, so it lives in `munihub.pipeline.replay`.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings
from munihub.errors import MunihubError
from munihub.masking import mask_text
from munihub.store import engine_for


def list_quarantine(settings: Settings, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest quarantined records first, reasons summarised."""
    q = store.quarantine
    stmt = sa.select(q).order_by(q.c.id.desc()).limit(limit)
    if source:
        stmt = stmt.where(q.c.source == source)
    with engine_for(settings).connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{"id": r["id"], "source": r["source"], "record": _record_of(r), "position": mask_text(r["position"] or ""),
             "status": r["status"], "reasons": "; ".join(map(_said, r["reasons"]))} for r in rows]


def _record_of(row) -> str:
    """The record as its source names it: its key (masked: it can be a national id), else its place."""
    return mask_text(str(row["source_key"])) if row["source_key"] else f"at {mask_text(row['position'] or '?')}"


def _said(reason: dict) -> str:
    """One reason on one line: the field and what is wrong with it (masked)."""
    field = reason.get("field") or (reason.get("pointer") or "").strip("/").replace("/", ".") or "record"
    message = mask_text(str(reason.get("message") or reason.get("rule") or "?"))
    return message if message.startswith(f"{field}:") else f"{field}: {message}"


def first_problem(settings: Settings, load_id: str) -> str | None:
    """A load's first quarantined record as one line naming the source, the record and the
    field (`munihub sync` prints it), or None when the load quarantined nothing."""
    q = store.quarantine
    with engine_for(settings).connect() as conn:
        row = conn.execute(sa.select(q).where(q.c.load_id == load_id).order_by(q.c.id).limit(1)).mappings().first()
    if row is None:
        return None
    return f"{row['source']} record {_record_of(row)}: {_said((row['reasons'] or [{}])[0])}"


def show_quarantine(settings: Settings, qid: int, *, names: bool = False) -> dict[str, Any]:
    """One quarantined record, its masked raw payload and every reason in English and Persian.

    Masked by the one rule (`munihub.masking`): the source key and position too, since a
    source's key can be a national id; `names=True` also masks persons' names."""
    from munihub.masking import mask_record, mask_text
    with engine_for(settings).connect() as conn:
        row = conn.execute(sa.select(store.quarantine).where(store.quarantine.c.id == qid)).mappings().first()
    if row is None:
        raise MunihubError(f"no quarantined record {qid}", hint="`munihub quarantine list` shows the ids")
    out = dict(row)
    out["raw"] = mask_record(out["raw"], names=names)
    out["source_key"] = mask_text(str(out["source_key"] or ""))
    out["position"] = mask_text(str(out["position"] or ""))
    out["reasons"] = [{k: mask_text(v) if isinstance(v, str) else v for k, v in r.items()} for r in out["reasons"]]
    return out


def close_entries(engine, ids: list[int], status: str, actor: str, note: str | None,
                  replay_load_id: str | None = None) -> None:
    """Close open quarantine entries as `status` (dismissed, replayed), saying who, when and why."""
    import datetime as dt

    with engine.begin() as conn:
        conn.execute(store.quarantine.update().where(store.quarantine.c.id.in_(ids)).values(
            status=status, decided_by=actor, decided_at=dt.datetime.now(dt.timezone.utc), note=note,
            replay_load_id=replay_load_id))


def dismiss(settings: Settings, ids: list[int], actor: str, why: str) -> int:
    """Mark quarantined records as dismissed, recording who and why; returns how many."""
    engine = engine_for(settings)
    with engine.connect() as conn:
        found = _open_ids(conn, store.quarantine, ids, why, "quarantined record(s)", "quarantine list")
    close_entries(engine, found, "dismissed", actor, why)
    return len(found)


def _open_ids(conn, table, ids: list[int], why: str, what: str, command: str) -> list[int]:
    """The ids a steward may dismiss: all of them open, and a reason given (else a clear error)."""
    if not why.strip():
        raise MunihubError("a dismissal needs a reason", hint="pass --why \"…\"")
    found = [i for (i,) in conn.execute(sa.select(table.c.id).where(table.c.id.in_(ids), table.c.status == "open"))]
    missing = sorted(set(ids) - set(found))
    if missing:
        raise MunihubError(f"no open {what} {', '.join(map(str, missing))}",
                           hint=f"`munihub {command}` shows the open ones")
    return found


# ---------------------------------------------------------------- values set aside

def list_set_aside(settings: Settings, source: str | None = None, field: str | None = None,
                   limit: int = 50, *, names: bool = False) -> list[dict[str, Any]]:
    """Open set-aside values, newest first: record, field, rule and the masked raw value
    (and reason, which may quote it); `names` also masks persons' names (a viewer's view)."""
    from munihub.masking import mask_record, mask_text
    t = store.set_aside
    stmt = sa.select(t).where(t.c.status == "open").order_by(t.c.id.desc()).limit(limit)
    if source:
        stmt = stmt.where(t.c.source == source)
    if field:
        stmt = stmt.where(t.c.field == field)
    with engine_for(settings).connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{"id": r["id"], "source": r["source"], "record": mask_text(r["source_key"]), "field": r["field"],
             "rule": r["rule"], "value": mask_record(r["value"], r["field"], names=names),
             "reason": mask_text((r["reason"] or {}).get("message", "")),
             "reason_fa": mask_text((r["reason"] or {}).get("message_fa", ""))} for r in rows]


def count_set_aside(settings: Settings, source: str | None = None) -> list[dict[str, Any]]:
    """Open set-aside values counted per source, field and rule, most first."""
    t = store.set_aside
    n = sa.func.count().label("open")
    stmt = sa.select(t.c.source, t.c.field, t.c.rule, n).where(t.c.status == "open") \
        .group_by(t.c.source, t.c.field, t.c.rule).order_by(n.desc(), t.c.source, t.c.field)
    if source:
        stmt = stmt.where(t.c.source == source)
    with engine_for(settings).connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def close_set_aside(conn, ids: list[int], status: str, actor: str, note: str | None) -> None:
    """Close open set-aside values as `status` (dismissed, replayed), saying who, when and why."""
    import datetime as dt

    t = store.set_aside
    conn.execute(t.update().where(t.c.id.in_(ids), t.c.status == "open").values(
        status=status, decided_by=actor, decided_at=dt.datetime.now(dt.timezone.utc), note=note))


def dismiss_set_aside(settings: Settings, ids: list[int], actor: str, why: str) -> int:
    """Mark set-aside values as dismissed (they will never be fixed), recording who and why."""
    with engine_for(settings).begin() as conn:
        found = _open_ids(conn, store.set_aside, ids, why, "set-aside value(s)", "quarantine values")
        close_set_aside(conn, found, "dismissed", actor, why)
    return len(found)


def _raw_key(raw: Any, fields: list[str]) -> tuple | None:
    """The source's own key values in a raw payload (physical names, dots for nesting)."""
    values = []
    for path in fields:
        value = raw.get(path) if isinstance(raw, dict) and path in raw else raw  # «ش.پرونده»: one column
        for part in (path.split(".") if value is raw else ()):
            value = value.get(part) if isinstance(value, dict) else None
        values.append(None if value is None else str(value).strip())
    return tuple(values) if any(values) else None


def close_reread(conn, source: str, load_id: str, raw_key_fields: list[str] | None = None) -> int:
    """Close the open entries of records that load `load_id` read again (issue 19): published
    now, or quarantined again under this load.  One bad row is one open entry, however often
    the source sends it; the closed ones say which load superseded them.  A record whose key
    itself failed has no source key: its raw key fields (`raw_key_fields`) identify it.
    Runs on `conn`, inside the load's publish transaction: a run killed after its publish
    cannot leave the entries it read again open."""
    import datetime as dt

    q, s = store.quarantine, store.source_rows
    again = q.alias("again")
    quarantined = sa.select(again.c.source_key).where(again.c.load_id == load_id, again.c.source_key.isnot(None))
    # Published now: the entry's key has a row this load wrote, found by source_rows' primary key,
    # one look-up per open entry.  Selecting the rows of this load instead needed an index of
    # source_rows by load, which every published row paid for (a 200k-row load's INSERT 0.15 s,
    # migration 0013) and which nothing else read.
    published = sa.exists().where(s.c.source == source, s.c.source_key == q.c.source_key, s.c.load_id == load_id)
    closing = dict(status="superseded", decided_by="pipeline", decided_at=dt.datetime.now(dt.timezone.utc),
                   note=f"read again in load {load_id}")
    n = conn.execute(q.update().where(q.c.source == source, q.c.status == "open", q.c.load_id != load_id,
                                      sa.or_(published, q.c.source_key.in_(quarantined.scalar_subquery())))
                     .values(**closing)).rowcount
    if raw_key_fields:
        n += _close_keyless(conn, source, load_id, raw_key_fields, closing)
    return n


def close_set_aside_reread(conn, source: str, load_id: str) -> dict[str, int]:
    """Close as `superseded` the set-aside values that load `load_id` made stale or repeated, so
    one open entry stands for one unreadable value of a published row, however often the
    source sends it (the note says which case):
    - stale: an earlier load's open entry of a key this load published anew (a new or
      changed row now carries this load's id; its own entries, if any, are this load's);
    - repeated: this load's entry of a row it read again unchanged (the published row keeps
      its earlier load) whose field and value that load's entry already holds, open or
      dismissed (a steward's dismissal is not asked again).
    The entry a published row points to (source, key, the row's load: what matching reads,
    `resolve.records.set_aside_ids`) stays open, and so does the entry of a kept earlier copy
    (`earlier_copies`, by its load and position).  Only open entries change: a steward's
    decision is never overridden.  The ledger still counts every value as its load read it
    (`loads.values_set_aside`).  Two set-based UPDATEs on `conn`, inside the publish
    transaction: entries by the source's open ones, looked up by primary key and by
    `ix_set_aside_key` (migration 0015)."""
    import datetime as dt

    t, r, e = store.set_aside, store.source_rows, store.earlier_copies
    at = dt.datetime.now(dt.timezone.utc)
    row = sa.and_(r.c.source == source, r.c.source_key == t.c.source_key)
    copy = sa.exists().where(e.c.source == source, e.c.source_key == t.c.source_key,
                             e.c.load_id == t.c.load_id, e.c.position == t.c.position)
    superseded = conn.execute(t.update().where(
        t.c.source == source, t.c.status == "open", t.c.load_id != load_id,
        sa.exists().where(row, r.c.load_id == load_id), ~copy
    ).values(status="superseded", decided_by="pipeline", decided_at=at,
             note=f"published again in load {load_id}")).rowcount
    held = t.alias("held")
    same = sa.exists().where(held.c.source == source, held.c.source_key == t.c.source_key,
                             held.c.load_id == r.c.load_id, held.c.field == t.c.field,
                             held.c.value == t.c.value, held.c.status.in_(("open", "dismissed")))
    repeated = conn.execute(t.update().where(
        t.c.load_id == load_id, t.c.source == source, t.c.status == "open",
        sa.exists().where(row, r.c.load_id != load_id, same), ~copy
    ).values(status="superseded", decided_by="pipeline", decided_at=at,
             note="read again unchanged: the entry of the load its row was published in holds it")).rowcount
    return {"set_aside_superseded": superseded, "set_aside_repeated": repeated}


KEYLESS_PAGE = 5_000  # keyless entries read at a time when closing them


def _pages(conn, where) -> Iterator[list]:
    """(id, raw) of the quarantine entries matching `where`, a page at a time in id order; each
    page is read whole, so no cursor stays open while the caller writes."""
    q, last = store.quarantine, 0
    while True:
        page = conn.execute(sa.select(q.c.id, q.c.raw).where(where, q.c.id > last).order_by(q.c.id)
                            .limit(KEYLESS_PAGE)).all()
        if page:
            yield page
        if len(page) < KEYLESS_PAGE:
            return
        last = page[-1][0]


def _close_keyless(conn, source: str, load_id: str, fields: list[str], closing: dict) -> int:
    """Close the older open entries of records whose key itself failed that this load read again,
    matched by their raw key fields.  This load's raw keys go to a temporary table a page at a
    time and the older entries are looked up in it a page at a time: a load of millions of
    keyless records holds one page, where a set of every raw key grew with the load."""
    q = store.quarantine
    keyless = sa.and_(q.c.source == source, q.c.status == "open", q.c.source_key.is_(None))
    pages = _pages(conn, sa.and_(keyless, q.c.load_id == load_id))
    first = next(pages, None)
    if first is None:
        return 0  # the common case: no record of this load lacked its key
    conn.exec_driver_sql("CREATE TEMPORARY TABLE IF NOT EXISTS munihub_reread (raw_key TEXT)")
    conn.exec_driver_sql("DELETE FROM munihub_reread")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS munihub_reread_key ON munihub_reread (raw_key)")
    reread = sa.table("munihub_reread", sa.column("raw_key"))
    for page in itertools.chain([first], pages):
        keys = {_key_text(raw, fields) for _, raw in page} - {None}
        if keys:
            conn.execute(reread.insert(), [{"raw_key": k} for k in keys])
    n = 0
    for page in _pages(conn, sa.and_(keyless, q.c.load_id != load_id)):
        texts = {i: _key_text(raw, fields) for i, raw in page}
        wanted, seen = sorted(set(texts.values()) - {None}), set()
        for part in store.chunks(wanted):
            seen.update(conn.execute(sa.select(reread.c.raw_key).where(reread.c.raw_key.in_(part))).scalars())
        ids = [i for i, text in texts.items() if text in seen]
        for part in store.chunks(ids):
            n += conn.execute(q.update().where(q.c.id.in_(part)).values(**closing)).rowcount
    conn.exec_driver_sql("DROP TABLE munihub_reread")
    return n


def _key_text(raw: Any, fields: list[str]) -> str | None:
    key = _raw_key(raw, fields)
    return None if key is None else json.dumps(key, ensure_ascii=False)
