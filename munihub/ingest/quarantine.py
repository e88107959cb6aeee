"""Quarantine: list and show rejected records (with reasons, raw payload masked for display)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings
from munihub.errors import MunihubError


def list_quarantine(settings: Settings, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest quarantined records first, reasons summarised."""
    from munihub.pipeline import engine_for

    q = store.quarantine
    stmt = sa.select(q).order_by(q.c.id.desc()).limit(limit)
    if source:
        stmt = stmt.where(q.c.source == source)
    with engine_for(settings).connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{"id": r["id"], "source": r["source"], "position": r["position"], "status": r["status"],
             "reasons": "; ".join(f"{x['pointer']} {x['rule']}" for x in r["reasons"])} for r in rows]


def show_quarantine(settings: Settings, qid: int) -> dict[str, Any]:
    """One quarantined record, its masked raw payload and every reason in English and Persian."""
    from munihub.masking import mask_record
    from munihub.pipeline import engine_for

    with engine_for(settings).connect() as conn:
        row = conn.execute(sa.select(store.quarantine).where(store.quarantine.c.id == qid)).mappings().first()
    if row is None:
        raise MunihubError(f"no quarantined record {qid}", hint="`munihub quarantine list` shows the ids")
    out = dict(row)
    out["raw"] = mask_record(out["raw"])
    return out


def _decide(engine, ids: list[int], status: str, actor: str, note: str | None, replay_load_id: str | None = None) -> None:
    import datetime as dt

    with engine.begin() as conn:
        conn.execute(store.quarantine.update().where(store.quarantine.c.id.in_(ids)).values(
            status=status, decided_by=actor, decided_at=dt.datetime.now(dt.timezone.utc), note=note,
            replay_load_id=replay_load_id))


def dismiss(settings: Settings, ids: list[int], actor: str, why: str) -> int:
    """Mark quarantined records as dismissed, recording who and why; returns how many."""
    from munihub.pipeline import engine_for

    if not why.strip():
        raise MunihubError("a dismissal needs a reason", hint="pass --why \"…\"")
    engine = engine_for(settings)
    with engine.connect() as conn:
        found = [i for (i,) in conn.execute(sa.select(store.quarantine.c.id).where(
            store.quarantine.c.id.in_(ids), store.quarantine.c.status == "open"))]
    missing = sorted(set(ids) - set(found))
    if missing:
        raise MunihubError(f"no open quarantined record(s) {', '.join(map(str, missing))}",
                           hint="`munihub quarantine list` shows the open ones")
    _decide(engine, found, "dismissed", actor, why)
    return len(found)


def replay(settings: Settings, source: str, ids: list[int] | None = None, actor: str = "steward") -> dict[str, Any]:
    """Re-run open quarantined records of `source` through mapping, validation, checks and publish.

    Meant for after a contract or mapping fix.  Records that now pass are published in a new
    load; those still failing are quarantined again under that load with today's reasons.  The
    source's cursor does not move: a replay adds nothing the source has not already sent.
    """
    from munihub.connector import Batch
    from munihub.pipeline import (acquire_lease, begin_load, check_load, contract_for, engine_for, errors_of,
                                  mark_staged, publish_load, release_lease)
    from munihub.stage import stage_batches

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
    _decide(engine, [r.id for r in rows], "replayed", actor, f"replayed in load {load_id}", load_id)
    return {"source": contract.id, "load_id": load_id, "replayed": len(rows),
            "published": counts.staged, "still_quarantined": counts.quarantined,
            "rows_new": result["rows_new"], "rows_changed": result["rows_changed"]}
