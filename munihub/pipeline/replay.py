"""Replay quarantined records after a contract or mapping fix: map, validate, check, publish."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings
from munihub.contracts import contract_for
from munihub.ingest.connector import Batch
from munihub.ingest.loads import acquire_lease, begin_load, mark_staged, release_lease
from munihub.ingest.quarantine import close_entries
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
