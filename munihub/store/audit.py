"""The tamper-evident audit log: append-only rows, each hash covering the previous row's hash.

`append` writes one entry inside the caller's transaction, so an audited action and its
entry commit or vanish together.  Writers are serialized (PostgreSQL: a transaction-scoped
advisory lock; SQLite: the database write lock, taken before the last row is read), and
`seq` is the primary key, so two writers can never fork the chain.  `verify` walks the
chain and names every edited, deleted or reordered entry.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa

from munihub.store import tables as store
from munihub.errors import StoreError

GENESIS = "0" * 64
_PG_LOCK = 724243  # advisory lock id of the audit writer (724242 is the migration lock)
__all__ = ["append", "verify", "entry_hash", "GENESIS"]


def _utc_text(ts: dt.datetime) -> str:
    """One spelling of a timestamp on every engine: SQLite returns it naive, PostgreSQL aware."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of the entry's content fields)."""
    content = {"seq": int(row["seq"]), "ts": _utc_text(row["ts"]), "actor": row["actor"],
               "action": row["action"], "target": row["target"], "outcome": row["outcome"],
               "detail": row["detail"]}
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + blob).encode("utf-8")).hexdigest()


def _lock_writer(conn: sa.Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    elif dialect == "sqlite":
        # A no-op write takes SQLite's write lock now, so the last row read below is still
        # the last row when we insert (a plain SELECT would not lock anything).
        conn.execute(sa.update(store.audit_log).where(store.audit_log.c.seq == -1)
                     .values(seq=store.audit_log.c.seq))


def append(conn: sa.Connection, actor: str, action: str, target: str | None, outcome: str,
           detail: dict[str, Any] | None = None) -> int:
    """Append one entry in the caller's transaction; returns its seq.  StoreError if it cannot."""
    t = store.audit_log
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))  # what the DB will give back
    try:
        _lock_writer(conn)
        query = sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)
        if conn.dialect.name not in ("postgresql", "sqlite"):
            query = query.with_for_update()
        last = conn.execute(query).first()
        seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
        row = {"seq": seq, "ts": dt.datetime.now(dt.timezone.utc), "actor": str(actor)[:200],
               "action": str(action)[:100], "target": None if target is None else str(target)[:500],
               "outcome": str(outcome)[:40], "detail": detail}
        conn.execute(t.insert().values(**row, prev_hash=prev, hash=entry_hash(prev, row)))
        return seq
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot write the audit entry {action} {target}: {exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0]}", where="audit_log",
                         hint="the action was refused; check the store is writable") from exc


def verify(engine: sa.Engine) -> list[str]:
    """Every problem in the chain, oldest first: edited, deleted or reordered entries.

    Deleting the newest entries leaves a shorter valid chain; compare `head(engine)` with
    a copy kept elsewhere to catch that.
    """
    t = store.audit_log
    problems: list[str] = []
    expected_seq, prev = 1, GENESIS
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.seq)).mappings()
        for row in rows:
            seq = row["seq"]
            if seq != expected_seq:
                gap = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
                problems.append(f"entry {gap} missing before entry {seq} (deleted or renumbered)")
            if row["prev_hash"] != prev:
                problems.append(f"entry {seq}: prev_hash does not match the entry before it "
                                "(an entry was deleted, inserted or reordered)")
            if entry_hash(row["prev_hash"], row) != row["hash"]:
                problems.append(f"entry {seq}: content does not match its hash (edited: "
                                f"{row['action']} {row['target']} by {row['actor']})")
            expected_seq, prev = seq + 1, row["hash"]
    return problems


def head(engine: sa.Engine) -> dict[str, Any]:
    """The newest entry's seq and hash: keep a copy elsewhere to detect a truncated tail."""
    t = store.audit_log
    with engine.connect() as conn:
        last = conn.execute(sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
    return {"seq": last.seq, "hash": last.hash} if last else {"seq": 0, "hash": GENESIS}
