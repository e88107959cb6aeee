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
