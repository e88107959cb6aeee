"""Headline figures per source for the terminal (`munihub status`)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings


def source_status(settings: Settings) -> list[dict[str, Any]]:
    """Last load of every source with its counts and whether it is stale."""
    from munihub.pipeline import check_freshness, engine_for

    engine = engine_for(settings)
    t = store.loads
    latest = sa.select(t.c.source, sa.func.max(t.c.started_at).label("started")).group_by(t.c.source).subquery()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).join(latest, sa.and_(t.c.source == latest.c.source,
                                                              t.c.started_at == latest.c.started)
                                      ).order_by(t.c.source)).mappings().all()
    stale = {s["source"] for s in check_freshness(settings)}
    return [{"source": r["source"], "status": r["status"], "rows_in": r["rows_in"],
             "published": (r["rows_new"] or 0) + (r["rows_changed"] or 0) + (r["rows_unchanged"] or 0),
             "quarantined": r["rows_quarantined"], "finished_at": str(r["finished_at"] or "")[:19],
             "stale": "yes" if r["source"] in stale else "no"} for r in rows]
